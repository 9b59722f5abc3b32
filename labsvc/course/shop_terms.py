"""The shop's summary (``labsvc.shop.at("nbNN")``) in Korean, for the Korean edition's display hook.

:mod:`labsvc.course.display_terms` shows a :class:`~labsvc.shop.ShopState` through
:func:`korean_shop` when the language is "ko": its title, the aspect each
notebook added, one line of what the shop has of it, and what this notebook
adds, all in Korean (terms from docs/terminology.md). The English object is
not changed.

>>> from labsvc.shop import at
>>> korean_title(at("nb07"))
'노트북 07 시작 시점의 쇼핑몰'
>>> korean_line("38 endpoints in 6 services")
'서비스 6개에 엔드포인트 38개'
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["ASPECTS", "ADDS", "korean_title", "korean_line", "korean_shop", "KoreanShop"]

#: Each notebook's aspect of the shop, in Korean.
ASPECTS = {
    "contexts": "경계 컨텍스트", "modules": "모듈", "services": "서비스", "api": "API 계약", "data": "데이터",
    "events": "이벤트", "discovery": "서비스 디스커버리", "gateway": "API 게이트웨이", "resilience": "회복성",
    "observability": "관측 가능성", "configuration": "구성", "deployment": "배포", "chaos": "카오스 실험",
}
#: What each notebook adds (labsvc.shop.STAGES), in Korean.
ADDS = {
    "nb02": "경계 컨텍스트: catalog, inventory, order, delivery. 결제와 택배는 외부 서비스를 씁니다",
    "nb03": "컨텍스트마다의 모듈을 컨텍스트 경계를 따라 나눈 것(DDD 분할)",
    "nb04": "컨텍스트마다 서비스 하나: catalog, inventory, orders, delivery, 그리고 결제 서비스",
    "nb05": "서비스마다 HTTP 계약(OpenAPI 문서)",
    "nb06": "서비스별 데이터베이스, 주문 사가, 주문 내역 조회 모델(CQRS)",
    "nb07": "브로커 위의 주문 이벤트: 아웃박스 릴레이와 컨슈머 그룹 둘",
    "nb08": "레지스트리, 그리고 로드 밸런서 뒤의 catalog 인스턴스 두 개",
    "nb09": "사용자를 위한 단일 진입점: 게이트웨이의 라우트",
    "nb10": "게이트웨이의 타임아웃, 재시도, 서킷 브레이커와 사가의 재시도",
    "nb11": "모든 요청의 트레이스와 모든 인스턴스의 RED 지표",
    "nb12": "서비스마다의 설정을 한곳에 두고 환경에서 읽기",
    "nb13": "컨테이너: Compose 파일, Kubernetes와 Cloud Foundry 매니페스트",
    "nb14": "사용자 트래픽 아래에서 SLO로 판정하는 실험",
}
#: One line of what the shop has of an aspect (stages.py's one-liners), as regex -> Korean.
_LINES = [
    (r"(\d+) of ours \((.+)\), (\d+) bought in \((.+)\)", r"우리 것 \1개(\2), 외부 \3개(\4)"),
    (r"(\d+) modules in (\d+) contexts", r"컨텍스트 \2개에 모듈 \1개"),
    (r"(\d+) endpoints in (\d+) services", r"서비스 \2개에 엔드포인트 \1개"),
    (r"(\d+) databases, one per service that keeps data", r"데이터베이스 \1개, 데이터를 가진 서비스마다 하나"),
    (r"registry \((.+)\); catalog ×(\d+)", r"레지스트리(\1); catalog ×\2"),
    (r"gateway: timeout (\S+), (\d+) tries, a breaker per route; saga: (\d+) tries per step",
     r"게이트웨이: 타임아웃 \1, 시도 \2번, 라우트마다 서킷 브레이커; 사가: 단계마다 시도 \3번"),
    (r"traces and RED metrics on (\d+) services", r"서비스 \1개에 트레이스와 RED 지표"),
    (r"settings of (\d+) services", r"서비스 \1개의 설정"),
    (r"(\d+) containers", r"컨테이너 \1개"),
    (r"(\d+) experiments", r"실험 \1개"),
]


def korean_title(state: Any) -> str:
    """The title of a shop state in Korean: at the start of a notebook, or after notebook 14."""
    where = (f"노트북 {state.next.notebook[2:]} 시작 시점의 쇼핑몰" if state.next is not None
             else "노트북 14를 마친 뒤의 쇼핑몰")
    merged = f" (병합: {', '.join(' + '.join(g) for g in state.merged)})" if state.merged else ""
    return where + merged


def korean_line(line: str) -> str:
    """One summary line in Korean; a line of names only (services, routes, events) stays as it is."""
    for pattern, korean in _LINES:
        if re.fullmatch(pattern, line):
            return re.sub(pattern, korean, line)
    return line


class KoreanShop:
    """What a notebook shows for a shop state when the language is Korean (the state itself is unchanged)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def _rows(self) -> list[tuple[str, str, str]]:
        summary = self.state.summary()
        return [(notebook, ASPECTS.get(row["aspect"], row["aspect"]), korean_line(row["the shop has"]))
                for notebook, row in summary.iterrows()]

    def __repr__(self) -> str:
        lines = [korean_title(self.state)]
        lines += [f"  {nb} {aspect}: {has}" for nb, aspect, has in self._rows()] or ["  아직 만든 것이 없습니다"]
        if self.state.next is not None:
            lines.append(f"이 노트북이 더하는 것: {ADDS[self.state.next.notebook]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(nb)}</th><td>{html.escape(aspect)}</td><td>{html.escape(has)}</td></tr>"
                       for nb, aspect, has in self._rows())
        table = (f'<table class="dataframe"><thead><tr><th>노트북</th><th>항목</th><th>쇼핑몰이 가진 것</th></tr></thead>'
                 f"<tbody>{rows}</tbody></table>" if rows else "<p>아직 만든 것이 없습니다.</p>")
        adds = (f"<p><b>이 노트북이 더하는 것:</b> {html.escape(ADDS[self.state.next.notebook])}</p>"
                if self.state.next is not None else "")
        return f"<p><b>{html.escape(korean_title(self.state))}</b></p>{table}{adds}"


def korean_shop(state: Any) -> KoreanShop:
    """A shop state to display in Korean."""
    return KoreanShop(state)
