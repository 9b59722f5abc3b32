"""Korean figure and table texts for the Korean edition, applied when a figure or table is shown.

The Korean notebooks run the same code as the English ones, so every figure
and DataFrame they make carries English titles, axis labels, legend entries
and column names. :func:`labsvc.course.set_language` ``("ko")`` calls
:func:`install`, which wraps the IPython display formatter: a matplotlib
Figure is drawn with its texts translated (and put back right after, so a
figure drawn again later is unchanged), and a DataFrame, Series or Styler is
shown as a translated copy (the object keeps its English labels, so later
code such as ``df["availability"]`` still works). ``set_language("en")``
calls :func:`uninstall`.

How a text is translated (:func:`translate`):

1. a whole-string match in :data:`KO`, the catalogue (its terms follow
   docs/terminology.md: one Korean term per concept);
2. otherwise the first template of :data:`TEMPLATES` that matches the whole
   string: ``{}`` stands for a number or a name (a service, a strategy),
   which is kept as it is, or translated when it is itself a catalogue entry;
3. otherwise the text stays English.

Numbers, units (ms, s, %, MiB), service and instance names and code
identifiers stay as they are. In tables and legends, labels that are code
identifiers (``p50_ms``, ``greeting.message``, ``PLACED``) and the names in
:data:`NAMES` (services, which are also common words like "orders") are never
translated; tick labels (categories such as features or services) are not
translated either.

>>> translate("latency (ms)")
'지연 시간 (ms)'
>>> translate("round robin: 3 failed requests")
'라운드 로빈: 실패한 요청 3건'
>>> translate("p50_ms", table=True)
'p50_ms'
"""

from __future__ import annotations

import copy
import html
import re
from typing import Any

#: English -> Korean, whole strings. Terms follow docs/terminology.md (tests/test_display_terms.py checks it).
KO: dict[str, str] = {
    # axis labels and units
    "time (s)": "시간 (s)", "time (h)": "시간 (h)", "time (s, simulated)": "시간 (s, 시뮬레이션)",
    "latency (ms)": "지연 시간 (ms)", "p50 latency (ms)": "p50 지연 시간 (ms)", "p95 latency (ms)": "p95 지연 시간 (ms)",
    "request latency (ms)": "요청 지연 시간 (ms)", "user latency (ms)": "사용자 지연 시간 (ms)",
    "availability": "가용성", "availability (%)": "가용성 (%)", "calls": "호출 수", "requests": "요청 수",
    "errors": "오류", "errors (% 5xx)": "오류 (% 5xx)", "events": "이벤트 수", "messages": "메시지 수",
    "orders": "주문 수", "instances": "인스턴스 수", "desired instances": "원하는 인스턴스 수", "median (ms)": "중앙값 (ms)",
    "completion (ms)": "완료 시간 (ms)", "lag (ms)": "지연 (ms)", "hops per query": "조회당 홉 수",
    "burn rate": "번 레이트", "p95 (ms, from buckets)": "p95 (ms, 버킷에서 추정)", "requests / s": "요청 수 / s",
    "requests per second": "초당 요청 수", "share of requests (%)": "요청 비율 (%)", "memory (MiB)": "메모리 (MiB)",
    "calls per user request": "사용자 요청당 호출 수", "layer (users -> a -> b -> c)": "계층 (users -> a -> b -> c)",
    "backends per request (n)": "요청당 백엔드 수 (n)", "requests hitting a slow backend (%)": "느린 백엔드에 걸린 요청 (%)",
    "seconds since the load started": "부하 시작 후 경과 시간 (s)", "seconds after the crash": "크래시 후 경과 시간 (s)",
    "time since load start (s)": "부하 시작 후 경과 시간 (s)",
    "time since the experiment started (s)": "실험 시작 후 경과 시간 (s)",
    "ms since the trace started": "트레이스 시작 후 경과 시간 (ms)", "order placed at (s)": "주문 시각 (s)",
    "committed at (s since the load started)": "커밋 시각 (부하 시작 후 s)",
    "lag (ms): visible in the read model − committed": "지연 (ms): 조회 모델에 보인 시각 − 커밋 시각",
    "median ms from order to final state": "주문부터 최종 상태까지 중앙값 (ms)",
    "added latency per request (ms, log scale)": "요청당 추가 지연 시간 (ms, 로그 척도)",
    "duration (ms); dotted lines: bucket bounds (le)": "소요 시간 (ms); 점선: 버킷 경계 (le)",
    "error budget spent (%, bars stop at 1000); past the dashed line the SLO is missed":
        "소진한 오류 예산 (%, 막대는 1000에서 멈춤); 점선을 넘으면 SLO 미달",
    "Richardson maturity level": "리처드슨 성숙도 레벨",
    # titles
    "latency": "지연 시간", "calls between services": "서비스 간 호출", "who called whom, and how often": "누가 누구를 얼마나 자주 호출했나",
    "live load": "실시간 부하", "REST maturity level per API": "API별 REST 성숙도 레벨",
    "error budget spent per run": "실행별 소진한 오류 예산", "green: hypothesis held · red: it did not": "초록: 가설 유지 · 빨강: 유지 안 됨",
    "read-model lag": "조회 모델 지연", "how the orders ended": "주문의 최종 결과", "one composed query": "조합한 조회 한 번",
    "the saga both ways": "두 방식의 사가", "distribution": "분포", "over time": "시간에 따른 변화",
    "time to a final state": "최종 상태까지 걸린 시간", "runtime chattiness vs static coupling": "실행 시 호출 과다 대 정적 결합도",
    "client-side discovery": "클라이언트 측 디스커버리", "how long a crashed instance is handed out": "크래시한 인스턴스가 얼마나 오래 배정되나",
    "one slow instance, four balancers": "느린 인스턴스 하나, 밸런서 넷", "requests at the gateway": "게이트웨이에 도착한 요청",
    "latency a proxy hop adds": "프록시 홉 하나가 더하는 지연 시간", "when did each order complete?": "주문마다 언제 완료되었나?",
    "p95: buckets vs exact": "p95: 버킷 추정 대 정확한 값",
    "RED: rate, errors, duration": "RED: 요청률, 오류, 지연 시간",
    "RED: rate, errors, duration (red band: the incident)": "RED: 요청률, 오류, 지연 시간 (빨간 띠: 장애 구간)",
    "per container (dark: keeps a database on a volume)": "컨테이너별 (진한 색: 볼륨에 데이터베이스 보관)",
    "the same load ramp: a target (HPA) against threshold rules with breach and cool-down (CF)":
        "같은 부하 증가: 목표값 (HPA) 대 초과 지속 시간과 쿨다운이 있는 임계값 규칙 (CF)",
    "circuit breaker state": "서킷 브레이커 상태", "circuit breaker state while reviews hangs": "reviews가 멈춘 동안의 서킷 브레이커 상태",
    "one of three instances dies": "인스턴스 셋 중 하나가 죽는다",
    "calls per user request at each layer (c is failing)": "계층별 사용자 요청당 호출 수 (c가 실패 중)",
    "the tail grows with fan-out": "팬아웃이 커질수록 꼬리가 길어진다",
    "catalog with one call in twenty 40 ms slower": "호출 스무 번에 한 번 40 ms 느린 catalog",
    "median latency per feature, nothing broken": "기능별 지연 시간 중앙값, 장애 없음",
    "availability per feature while 'reviews' crashes and restarts": "'reviews'가 크래시 후 재시작하는 동안 기능별 가용성",
    "availability per feature while 'reviews' is redeployed": "'reviews'를 다시 배포하는 동안 기능별 가용성",
    "40 orders, one shared table vs two contexts": "주문 40건, 공유 테이블 하나 대 컨텍스트 둘",
    "300 searches per second against 1, 2, 3 search instances": "초당 검색 300건, search 인스턴스 1, 2, 3개",
    "95th percentile latency of the entry call (ms)": "진입 호출의 95번째 백분위 지연 시간 (ms)",
    "availability while search's host is down": "search의 호스트가 다운된 동안의 가용성",
    "mean hops per request in the call log, the entry call included": "호출 로그의 요청당 평균 홉 수 (진입 호출 포함)",
    "mean services touched per change": "변경 하나가 건드리는 평균 서비스 수", "contract-test checks per backend": "백엔드별 계약 테스트 검사",
    "40 orders through both styles, per fault scenario": "두 방식에 주문 40건, 장애 시나리오별",
    "how 100 orders ended, per fault scenario": "장애 시나리오별 주문 100건의 최종 결과",
    "orders + customer names + delivery status, 20 orders": "주문 + 고객 이름 + 배송 상태, 주문 20건",
    "receipts served by the orders service, with customers v1 and v2": "orders 서비스가 제공한 영수증 (customers v1과 v2)",
    "what the user waits for, and when the work is done": "사용자가 기다리는 것과 작업이 끝나는 시점",
    "who calls whom in the async flow": "비동기 흐름에서 누가 누구를 호출하나",
    "catalog-4 crashes: handed out until evicted and every cache refreshed": "catalog-4 크래시: 퇴출되고 모든 캐시가 새로 고침될 때까지 배정됨",
    "crash, self-preservation on: the dead instance is never evicted": "크래시, 자기 보호 모드 켜짐: 죽은 인스턴스가 퇴출되지 않는다",
    "partition, self-preservation off: healthy instances evicted one by one": "파티션, 자기 보호 모드 꺼짐: 건강한 인스턴스가 하나씩 퇴출된다",
    "admitted vs throttled at the gateway, every 100 ms": "게이트웨이에서 통과 대 스로틀링, 100 ms마다",
    "the inventory route's breaker": "inventory 라우트의 서킷 브레이커",
    "the checkout behind the first error line": "첫 오류 줄 뒤의 체크아웃", "one checkout: gateway, the saga's two steps": "체크아웃 한 번: 게이트웨이, 사가의 두 단계",
    "one page view and one checkout, hop by hop": "페이지 보기 한 번과 체크아웃 한 번, 홉별로",
    "url": "URL", "shipped": "출고", "oversold": "초과 판매", "search service": "search 서비스", "API name": "API 이름",
    "notebook": "노트북", "Partnership": "파트너십", "round robin": "라운드 로빈", "breakers": "서킷 브레이커", "breakers + retry": "서킷 브레이커 + 재시도",
    "blue-green": "블루-그린", "recreate": "재생성", "canary (bad v3)": "카나리 (bad v3)", "bus (inprocess)": "버스 (inprocess)",
    "one (inprocess)": "하나씩 (inprocess)", "sharp outage": "급격한 장애", "slow burn": "느린 소진", "good": "좋음", "bad": "나쁨",
    # legend entries and table labels
    "ok": "성공", "failed": "실패", "state": "상태", "rejected call": "거부된 호출", "reviews failing": "reviews 실패 중",
    "p50 (model)": "p50 (모델)", "p99 (model)": "p99 (모델)", "p99 (network run)": "p99 (네트워크 실행)", "network run": "네트워크 실행",
    "old value": "이전 값", "new value": "새 값", "repository changed": "저장소 변경", "refresh returned": "새로 고침 반환",
    "external": "외부", "load stops": "부하 중단", "mean": "평균", "self-preservation on": "자기 보호 모드 켜짐",
    "observations": "관측값", "long window": "긴 구간", "short window": "짧은 구간", "threshold": "임계값", "alert firing": "알림 발생",
    "desired": "원하는 수", "ready": "준비됨", "ready instances": "준비된 인스턴스", "rollout": "롤아웃",
    "requests per second (offered)": "초당 요청 수 (유입)", "completed": "완료", "async": "비동기", "sync": "동기",
    "cached": "캐시됨", "listed": "목록에 있음", "registered": "등록됨", "running": "실행 중", "served": "응답함",
    "core": "핵심", "supporting": "지원", "generic": "일반", "domain": "도메인", "integration": "통합", "persistence": "영속성",
    "embedded": "내장", "shared": "공유", "contexts": "컨텍스트", "per-service": "서비스별", "choreographed": "코레오그래피",
    "orchestrated": "오케스트레이션", "microservices": "마이크로서비스", "monolith": "모놀리식 애플리케이션",
    "balancer list refresh": "밸런서 목록 새로 고침", "client fetch": "클라이언트 조회", "eviction run": "퇴출 실행",
    "lease runs out": "임대 만료", "server response cache": "서버 응답 캐시", "approved": "승인", "cancelled": "취소",
    "stuck": "멈춤", "passed": "통과", "admitted": "통과", "throttled": "스로틀링됨", "before": "이전", "during": "진행 중",
    "recovery": "복구", "rollback": "롤백", "payment back": "payment 복구", "make sure payment is back": "payment 복구 확인",
    "guide: level 2 or more": "가이드: 레벨 2 이상", "naive": "단순", "budget + one layer": "예산 + 한 계층",
    # table headers (plain words; identifiers such as p50_ms stay as they are)
    "what": "항목", "value": "값", "service": "서비스", "instance": "인스턴스", "mode": "모드", "port": "포트",
    "fault": "장애", "outstanding": "미처리", "caller": "호출자", "callee": "피호출자", "route": "라우트", "status": "상태",
    "start": "시작", "duration": "소요 시간", "share": "비율", "feature": "기능", "modules": "모듈", "design": "설계",
    "method": "메서드", "message": "메시지", "fields": "필드", "line": "줄", "hops per request": "요청당 홉 수", "hop": "홉",
    "statuses": "상태 코드", "inprocess (simulated)": "inprocess (시뮬레이션)", "process (real)": "process (실제)",
    "downtime": "중단 시간", "accepted": "접수", "action": "동작", "actual": "실제", "agree": "일치", "amount": "금액",
    "answer": "답", "answered": "응답", "answered by": "응답한 곳", "arguments": "인자", "asks": "요청 내용", "at": "시각",
    "attempts": "시도", "attempts refused by the breaker": "서킷 브레이커가 거부한 시도", "auth": "인증", "balancer": "밸런서",
    "better": "더 나은 쪽", "breaker": "서킷 브레이커", "browser asks for": "브라우저가 요청하는 것", "call": "호출",
    "calls reaching reviews": "reviews에 도달한 호출", "canary": "카나리", "capability": "기능", "case": "경우",
    "changes": "변경", "check": "검사", "checks": "검사", "classes": "클래스", "clean shutdown": "정상 종료", "client": "클라이언트",
    "code codes": "코드의 상태 코드", "column": "열", "components": "구성 요소", "content type": "콘텐츠 유형",
    "context": "컨텍스트", "contract codes": "계약의 상태 코드", "converged": "수렴", "coverage": "포함 범위", "crash": "크래시",
    "crash, preserving": "크래시, 보호", "crashes": "크래시", "currency": "통화", "current": "현재", "database": "데이터베이스",
    "db.password as served": "제공된 db.password", "decorrelated": "비상관", "default": "기본값", "defined in": "정의된 곳",
    "degraded": "기능 저하", "department": "부서", "description": "설명", "detail": "상세", "deviations": "차이",
    "downstream": "다운스트림", "upstream": "업스트림", "edge path": "엣지 경로", "edges": "간선", "environment variable": "환경 변수",
    "equal": "같음", "error": "오류", "event": "이벤트", "every approved order reserved and paid": "승인된 주문은 모두 예약·결제됨",
    "every failed order compensated": "실패한 주문은 모두 보상됨", "examples": "예", "expected": "기대값", "field": "필드",
    "forwarded to": "전달 대상", "full": "전체", "function": "함수", "held": "유지", "holds": "유지", "hops": "홉 수",
    "hops per order": "주문당 홉 수", "hypermedia": "하이퍼미디어", "in code": "코드", "in contract": "계약",
    "in effect": "적용 값", "in the API": "API", "in the database": "데이터베이스", "journey": "여정", "kind": "종류",
    "latency threshold (ms)": "지연 시간 임계값 (ms)", "layer": "계층", "level": "레벨", "links": "링크",
    "losing a catalog instance": "catalog 인스턴스 하나 잃기", "meaning": "의미", "met": "충족", "metric": "메트릭",
    "missing": "누락", "module": "모듈", "name": "이름", "new": "새 값", "old": "이전 값", "no order lost": "유실된 주문 없음",
    "no payment without a reservation": "예약 없는 결제 없음", "note": "비고", "observation": "관찰", "open": "열림",
    "operation": "연산", "options": "선택지", "origin": "출처", "owner": "소유자", "owns": "소유", "pages without reviews": "리뷰 없는 페이지",
    "part": "부분", "partition, evicting": "파티션, 퇴출", "partition, preserving": "파티션, 보호", "path": "경로", "phantom": "유령",
    "phantom units": "유령 수량", "phase": "단계", "position": "위치", "prefix": "접두사", "price": "가격", "probe": "프로브",
    "process": "프로세스", "producer": "생산자", "product": "상품", "publish": "발행", "readers": "읽는 쪽", "reason": "이유",
    "recommendation": "권장", "recorded": "기록값", "redeliveries": "재전달", "rejected": "거부", "repository": "저장소",
    "request": "요청", "requested": "요청됨", "resources": "리소스", "retry": "재시도", "role": "역할", "rolling": "롤링",
    "same": "같음", "seconds": "초", "seed": "시드", "services": "서비스", "severity": "심각도", "side": "측",
    "source": "출처", "spans": "스팬 수", "stage": "단계", "status code": "상태 코드", "status codes": "상태 코드",
    "stock": "재고", "stock never oversold": "재고 초과 판매 없음", "strategy": "전략", "subdomain": "서브도메인",
    "tables": "테이블", "taken": "소요", "target": "목표", "team": "팀", "teams": "팀", "template": "템플릿", "title": "제목",
    "token": "토큰", "tolerance": "허용 범위", "total": "합계", "touched": "변경됨", "type": "유형", "uses": "사용",
    "utilisation": "활용도", "variant": "변형", "verbs": "동사", "version": "버전", "violations": "위반", "weight": "가중치",
    "when": "시점", "where": "위치", "why": "이유", "why hidden": "숨긴 이유", "workflow": "워크플로", "time": "시간",
    "a bad release of the catalog": "catalog의 잘못된 릴리스", "a slow catalog instance": "느린 catalog 인스턴스",
    "the gateway is cut off from one catalog instance": "게이트웨이가 catalog 인스턴스 하나와 끊김",
    "the payment provider goes down for 400 ms": "결제 제공자가 400 ms 동안 다운",
    "HTTPS (mutual TLS)": "HTTPS (상호 TLS)", "ICP published": "ICP 발표값", "IFN published": "IFN 발표값",
    "NED published": "NED 발표값", "SM published": "SM 발표값", "icp ours": "icp 우리 값", "ifn ours": "ifn 우리 값",
    "ned ours": "ned 우리 값", "sm ours": "sm 우리 값", "wait CF": "대기 CF", "wait k8s": "대기 k8s",
    "starting_at CF": "starting_at CF", "compensation": "보상", "invariant": "불변 조건", "run": "실행", "experiment": "실험",
    "outcome": "결과", "cohesion": "응집도", "modularity": "모듈성", "restarts": "재시작", "style": "방식",
    "deliveries": "전달 수", "charges": "결제 수", "consumer": "소비자", "notified": "알림", "redelivered": "재전달",
    "id": "ID", "key": "키", "rule": "규칙", "scenario": "시나리오", "step": "단계", "term": "용어", "policy": "정책",
    "setting": "설정", "exhausted": "소진", "runs": "실행 수", "result": "결과", "transport": "전송", "container": "컨테이너",
    "crashed": "멈춘 서비스", "units": "배포 단위 수", "merged": "병합한 서비스",
    "against": "대상", "decomposition": "서비스 분할", "failure": "장애", "observability": "관측 가능성", "budget": "예산",
    "backend": "백엔드", "counterexample": "반례", "difference": "차이", "distinct final states": "서로 다른 최종 상태 수",
    "bucket lower bound": "버킷 하한", "bucket upper bound": "버킷 상한", "exact p95 (call log)": "정확한 p95 (호출 로그)",
    "histogram_quantile p95": "histogram_quantile p95", "own tables": "자기 테이블", "tables shared with readers": "읽는 쪽과 공유하는 테이블",
    "open loop": "오픈 루프", "checkouts": "체크아웃 수", "changes one team ships alone (of 60)": "팀 하나가 혼자 배포하는 변경 (60건 중)",
    "dependencies on another service's tables": "다른 서비스 테이블에 대한 의존", "documents published": "발행한 문서 수",
    "median time in the gateway (µs)": "게이트웨이 안에서 걸린 시간 중앙값 (µs)",
    # header-like row labels of transposed summaries
    "requests sent": "보낸 요청", "answered 200": "200 응답", "calls web -> catalog": "web -> catalog 호출",
    "fastest web -> catalog (ms)": "가장 빠른 web -> catalog (ms)", "p50 users -> web (ms)": "p50 users -> web (ms)",
    "p99 users -> web (ms)": "p99 users -> web (ms)", "p99 - p50 (ms, jitter)": "p99 - p50 (ms, 지터)",
    "p50 beyond the fault (ms)": "장애 구간 밖 p50 (ms)", "access token readable on the wire": "전송 중 보이는 액세스 토큰",
    "secret readable on the wire": "전송 중 보이는 비밀 값", "request line readable (GET /greeting/prod)": "전송 중 보이는 요청 줄 (GET /greeting/prod)",
    "the client received": "클라이언트가 받은 것", "what the eavesdropper reads": "도청자가 읽는 것",
    "endpoint answers 500": "엔드포인트가 500 응답", "endpoint hangs": "엔드포인트 멈춤", "process exits": "프로세스 종료",
    "all at once": "한꺼번에", "declines and shortage": "거절과 재고 부족", "lost messages": "유실된 메시지", "no faults": "장애 없음",
    "payment errors": "결제 오류", "payment timeouts": "결제 타임아웃", "stock shortage": "재고 부족", "inventory down": "inventory 다운",
    "by layer": "계층별", "ground truth": "정답 분할", "communities (louvain)": "커뮤니티 (louvain)", "tracing": "추적",
    "tracing + metrics": "추적 + 메트릭", "metrics": "메트릭", "off": "끔", "verdict": "판정", "coarse + identity": "coarse + identity",
    "deviated": "벗어남", "not steady before the method": "방법 실행 전부터 정상 상태 아님",
    "aborted: an activity failed": "중단: 활동 하나가 실패",
}

#: Names kept as they are in tables and legends (services that are also words: "orders" is a service there).
NAMES = frozenset({"catalog", "orders", "inventory", "payment", "delivery", "customer", "notification", "search",
                   "storefront", "employee", "reviews", "web", "gateway", "users", "order", "sales", "shipping",
                   "carrier", "registry", "broker", "docker", "compose", "monolith-app"})

#: Templates for texts with a number or a name in them: ``{}`` in English, ``{0}``, ``{1}``... in Korean.
TEMPLATE_TEXTS: list[tuple[str, str]] = [
    ("{}: {#} failed requests", "{0}: 실패한 요청 {1}건"), ("{}: {#} failed", "{0}: 실패 {1}건"),
    ("{#} refused calls by reason ({} allowed)", "사유별 거부된 호출 {0}건 (허용 {1}건)"),
    ("{#} containers: {#} MiB of {#} MiB", "컨테이너 {0}개: {2} MiB 중 {1} MiB"),
    ("{}: {} restarts, running {} s of {} min", "{0}: 재시작 {1}회, {3} min 중 {2} s 실행"),
    ("HPA: target {} requests/s per instance, 15 s sync; scale-down waits 300 s",
     "HPA: 인스턴스당 목표 {0} 요청/s, 15 s 동기화; 축소는 300 s 대기"),
    ("every instance crashes at {} s, web-1 again at {} s; restarts (yellow) follow the back-off",
     "모든 인스턴스가 {0} s에 크래시, web-1은 {1} s에 다시; 재시작(노랑)은 백오프를 따른다"),
    ("minutes (simulated); the process dies {} s after every start", "분 (시뮬레이션); 프로세스는 시작할 때마다 {0} s 뒤 죽는다"),
    ("{}: user saw {} accepted, {} completed", "{0}: 사용자가 본 접수 {1}, 완료 {2}"),
    ("broker backlog ({} flow)", "브로커 적체 ({0} 흐름)"), ("{}: arrows go upstream → downstream", "{0}: 화살표는 업스트림 → 다운스트림"),
    ("{}: {#} services, red = crosses a service boundary", "{0}: 서비스 {1}개, 빨강 = 서비스 경계를 넘음"),
    ("trace {}…: {#} spans, {#} services", "트레이스 {0}…: 스팬 {1}개, 서비스 {2}개"),
    ("{} (↑ better)", "{0} (↑ 높을수록 좋음)"), ("{} (↓ better)", "{0} (↓ 낮을수록 좋음)"),
    ("{} (static, from the dependency graph)", "{0} (정적, 의존성 그래프 기준)"),
    ("{} (run time, from the call log)", "{0} (실행 시, 호출 로그 기준)"), ("{} (coarse → fine)", "{0} (거침 → 세밀)"),
    ("{}: page {}", "{0}: 호출 알림 {1}"),     ("{}: availability {}, p95 {}", "{0}: 가용성 {1}, p95 {2}"), ("{} load", "{0} 부하"),
    ("requests / {} s", "요청 수 / {0} s"), ("requests per {} ms", "{0} ms당 요청 수"), ("requests per {} s", "{0} s당 요청 수"),
    ("per {} s", "{0} s당"), ("time ({})", "시간 ({0})"), ("{} (%)", "{0} (%)"), ("{} down", "{0} 다운"), ("lost ({#})", "유실 ({0})"),
    ("waiting for {}", "{0} 대기"), ("lease alone {} s", "임대만 {0} s"), ("stacked bound {} s", "누적 상한 {0} s"),
    ("{} (slow)", "{0} (느림)"), ("exact p95 = {} ms", "정확한 p95 = {0} ms"), ("crash {}", "크래시 {0}"),
    ("restart {}", "재시작 {0}"), ("evicted {}", "퇴출 {0}"), ("partition {}", "파티션 {0}"), ("budget {} MiB", "예산 {0} MiB"),
    ("{} availability {}", "{0} 가용성 {1}"), ("{} latency < {} ms {}", "{0} 지연 시간 < {1} ms {2}"),
    ("{#} service", "{0} 서비스"), ("{#} services", "서비스 {0}개"), ("total of {#}", "총 {0}개"), ("{} · on", "{0} · 켬"),
    ("{} · off", "{0} · 끔"), ("communities {#}", "커뮤니티 {0}"),
    ("p{#} = {} ms", "p{0} = {1} ms"), ("histogram_quantile = {} ms", "histogram_quantile = {0} ms"),
    ("docker stats, {} UTC", "docker stats, {0} UTC"),
    ("{}: {}", "{0}: {1}"),  # last: "<title>: <verdict>" and the like, each side from the catalogue
]


__all__ = ["KO", "NAMES", "TEMPLATES", "translate", "translate_frame", "translate_styler", "translate_figure",
           "restore_figure", "install", "uninstall", "installed"]


def _compile(template: str) -> re.Pattern:
    """``"{}: {#} failed"`` -> a regex matching the whole string: ``{}`` any text, ``{#}`` a number."""
    pieces = re.split(r"(\{\}|\{#\})", template)
    regex = "".join("(.+?)" if p == "{}" else r"(\d[\d.,]*\+?)" if p == "{#}" else re.escape(p) for p in pieces)
    return re.compile("^" + regex + "$", re.S)


#: (pattern, Korean template) pairs, tried in order after the exact catalogue; ``{0}``... are the groups.
TEMPLATES: list[tuple[re.Pattern, str]] = [(_compile(en), ko) for en, ko in TEMPLATE_TEXTS]

_IDENTIFIER = re.compile(r"^(?:[A-Za-z0-9]+(?:[_.][A-Za-z0-9]+)+|[A-Z][A-Z0-9_]*|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*)$")


def _group(text: str) -> str:
    """A template's ``{}`` value: translated only when it is itself a catalogue entry (not a name)."""
    return KO.get(text, text) if text not in NAMES else text


def translate(text: Any, *, table: bool = False) -> Any:
    """``text`` in Korean (exact catalogue match, then a template), or unchanged.

    ``table=True`` is for table headers, index values and legend entries: code
    identifiers and service names there stay as they are. Anything that is not
    a string (a number, a tuple) is returned unchanged.
    """
    if not isinstance(text, str) or not text.strip():
        return text
    if table and (text in NAMES or _IDENTIFIER.match(text)):
        return text
    if text in KO:
        return KO[text]
    core = text.strip()  # annotations are padded with spaces: translate the words, keep the padding
    start = text.index(core)
    return text[:start] + _translate_core(core) + text[start + len(core):]


def _translate_core(text: str) -> str:
    """``text`` (no padding) from the catalogue, else from the first matching template, else unchanged."""
    if text in KO:
        return KO[text]
    for pattern, korean in TEMPLATES:
        match = pattern.match(text)
        if match:
            return korean.format(*(_group(g) for g in match.groups()))
    return text


def _translate_index(index, *, values: bool):
    """A copy of a pandas Index with translated names (and values, when ``values``)."""
    import pandas as pd

    names = [translate(n, table=True) for n in index.names]
    if values and isinstance(index, pd.MultiIndex):
        index = index.set_levels([_translate_index(level, values=True) for level in index.levels],
                                 verify_integrity=False)
    elif values and (index.dtype == object or pd.api.types.is_string_dtype(index.dtype)):
        index = pd.Index([translate(v, table=True) for v in index], dtype=index.dtype)
    index = index.copy()
    index.names = names
    return index


def translate_frame(frame):
    """A copy of a DataFrame or Series whose column labels, index values and axis names are translated.

    Only labels are translated, never the cells; ``frame`` itself is not changed.
    """
    import pandas as pd

    shown = frame.copy(deep=False)
    shown.index = _translate_index(frame.index, values=True)
    if isinstance(frame, pd.DataFrame):
        shown.columns = _translate_index(frame.columns, values=True)
    else:
        shown.name = translate(frame.name, table=True)
    return shown


def translate_styler(styler):
    """A copy of a pandas Styler whose header labels and axis names are shown translated.

    The copy keeps the original's data (so styles applied to columns by name
    still find them): the labels are translated by the copy's label formatters.
    """
    shown = copy.deepcopy(styler)
    try:
        for funcs, labels, axis in ((shown._display_funcs_columns, styler.columns, 1),
                                    (shown._display_funcs_index, styler.index, 0)):
            for position in range(len(labels)):
                for level in range(labels.nlevels):
                    key = (level, position) if axis == 1 else (position, level)
                    funcs[key] = _translating(funcs[key])
        for funcs, labels in ((shown._display_funcs_column_names, styler.columns),
                              (shown._display_funcs_index_names, styler.index)):
            for level in range(labels.nlevels):
                funcs[level] = _translating(funcs[level])
    except AttributeError:  # another pandas version keeps these elsewhere: show the labels as they are
        return styler
    return shown


def _translating(formatter):
    """A Styler label formatter that translates a string label before ``formatter`` formats it."""
    return lambda value: formatter(translate(value, table=True))


def _figure_texts(fig):
    """The Text artists of ``fig`` that carry words: titles, axis labels, legends, annotations (not ticks)."""
    from matplotlib.text import Text

    ticks = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((tick.label1, tick.label2))
            ticks.add(axis.offsetText)
    return [t for t in fig.findobj(Text) if t not in ticks and t.get_text()]


def translate_figure(fig) -> list[tuple[Any, str]]:
    """Put Korean into ``fig``'s titles, axis labels, legend entries and annotations.

    Returns what was changed as (Text, English) pairs for :func:`restore_figure`.
    Legend entries and annotations are treated like table labels (service
    names stay as they are).
    """
    legend_texts = set()
    for owner in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if owner is not None:
            legend_texts.update(owner.get_texts())
            legend_texts.add(owner.get_title())
    changed = []
    for text in _figure_texts(fig):
        english = text.get_text()
        korean = translate(english, table=text in legend_texts)
        if korean != english:
            changed.append((text, english))
            text.set_text(korean)
    return changed


def restore_figure(changed: list[tuple[Any, str]]) -> None:
    """Undo :func:`translate_figure`: every Text gets its English back."""
    for text, english in changed:
        text.set_text(english)


def _shell():
    """The running IPython shell, or None outside IPython (a script, a test run)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _korean_format(original):
    """Wrap a DisplayFormatter.format so that figures and tables are shown in Korean."""

    def format(obj, *args, **kwargs):
        from matplotlib.figure import Figure

        kind = type(obj).__name__
        module = type(obj).__module__
        if isinstance(obj, Figure):
            changed = translate_figure(obj)
            try:
                return original(obj, *args, **kwargs)
            finally:
                restore_figure(changed)
        if module.startswith("pandas") and kind in ("DataFrame", "Series"):
            return original(translate_frame(obj), *args, **kwargs)
        if module.startswith("pandas") and kind == "Styler":
            return original(translate_styler(obj), *args, **kwargs)
        if module == "labsvc.shop.stages" and kind == "ShopState":  # the shop each notebook starts from
            from labsvc.course.shop_terms import korean_shop

            return original(korean_shop(obj), *args, **kwargs)
        return _korean_table_headers(original(obj, *args, **kwargs))

    format._labsvc_korean = True
    format._labsvc_original = original
    return format


_PANDAS_TABLE = re.compile(r'<table[^>]*class="dataframe[^"]*"[^>]*>.*?</table>', re.S)
_TABLE_HEADER = re.compile(r"(<th[^>]*>)([^<]+)(</th>)")


def _korean_table_headers(result):
    """A pandas table inside another object's HTML (a rendered contract, a report): its headers in Korean."""
    data = result[0] if isinstance(result, tuple) else None
    page = data.get("text/html") if isinstance(data, dict) else None
    if isinstance(page, str) and "dataframe" in page:
        data["text/html"] = _PANDAS_TABLE.sub(lambda table: _TABLE_HEADER.sub(
            lambda th: th.group(1) + html.escape(translate(html.unescape(th.group(2)), table=True)) + th.group(3),
            table.group(0)), page)
    return result


def installed(shell=None) -> bool:
    """Whether the Korean display hook is on in ``shell`` (default: the running IPython)."""
    shell = shell or _shell()
    return shell is not None and getattr(shell.display_formatter.format, "_labsvc_korean", False)


def install(shell=None) -> bool:
    """Show figures and tables in Korean in ``shell`` (default: the running IPython); False outside IPython.

    Installing twice is harmless: the hook is added once.
    """
    shell = shell or _shell()
    if shell is None:
        return False
    if not installed(shell):
        formatter = shell.display_formatter
        formatter.format = _korean_format(formatter.format)
    return True


def uninstall(shell=None) -> bool:
    """Show figures and tables as they are again (undo :func:`install`); False when nothing was installed."""
    shell = shell or _shell()
    if not installed(shell):
        return False
    formatter = shell.display_formatter
    original = formatter.format._labsvc_original
    del formatter.format  # the wrapper was set on the instance: the class's method shows again
    if formatter.format != original:  # something else had wrapped it before us: put that back
        formatter.format = original
    return True
