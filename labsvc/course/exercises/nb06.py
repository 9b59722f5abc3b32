"""Checkers for notebook 06 (data per service, CQRS, sagas)."""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd

from labsvc.course import Feedback, exercise
from labsvc.course.exercises._explore import judge_exploration
from labsvc.data import SAGA_STEPS, expected_hops


def _size(total: float) -> str:
    return "large" if total >= 100 else "small"


@exercise("06.read-model-field")
def read_model_field(answer: Any, orders: Any = None) -> Feedback:
    """``answer``: the read model's rows (``await cqrs.views()``); ``orders``: the command side's (``await cqrs.orders()``)."""
    views = pd.DataFrame(answer) if not isinstance(answer, pd.DataFrame) else answer
    if orders is None:
        return Feedback(False, "pass the command side's orders too: check(..., views, orders=await cqrs.orders())",
                        ko="명령 쪽의 주문도 넘겨주세요: check(..., views, orders=await cqrs.orders())")
    orders = pd.DataFrame(orders) if not isinstance(orders, pd.DataFrame) else orders
    if views.empty or "visible_at" not in views.columns or "order_id" not in views.columns:
        return Feedback(False, "pass the read model's rows: views = await cqrs.views()",
                        ko="읽기 모델의 행을 넘겨주세요: views = await cqrs.views()")
    if "size" not in views.columns:
        return Feedback(False, "the read model has no 'size' field yet: redeploy it with "
                               "await cqrs.redeploy_read_model(fields={'size': size}), then read the views again",
                        ko="읽기 모델에 아직 'size' 필드가 없습니다. "
                           "await cqrs.redeploy_read_model(fields={'size': size})로 다시 배포한 뒤 뷰를 다시 읽으세요")
    if orders.empty:
        return Feedback(False, "the command side has no orders: place some first",
                        ko="명령 쪽에 주문이 없습니다. 먼저 주문을 몇 건 넣으세요")
    by_id = views.set_index("order_id")
    missing = sorted(set(orders["id"]) - set(by_id.index))
    if missing:
        return Feedback(False, f"{len(missing)} order(s) are not in the read model yet (e.g. {missing[:3]}): "
                               f"await cqrs.converge() before reading the views",
                        ko=f"주문 {len(missing)}건이 아직 읽기 모델에 없습니다(예: {missing[:3]}). "
                           f"뷰를 읽기 전에 await cqrs.converge()를 실행하세요")
    wrong = [int(o) for o, t in zip(orders["id"], orders["total"]) if by_id.loc[o, "size"] != _size(t)]
    if wrong:
        o = wrong[0]
        total = float(orders.set_index("id").loc[o, "total"])
        return Feedback(False, f"order {o} has total {total:.2f} and size {by_id.loc[o, 'size']!r}; "
                               f"it should be {_size(total)!r} (large from 100 on)",
                        ko=f"주문 {o}의 total은 {total:.2f}인데 size가 {by_id.loc[o, 'size']!r}입니다. "
                           f"{_size(total)!r}여야 합니다(100 이상이면 large)")
    return Feedback(True, f"all {len(orders)} orders carry the new field. The command side never changed: a read "
                          f"model is shaped for its queries, and can be rebuilt from the events whenever that shape changes.",
                    ko=f"주문 {len(orders)}건 모두 새 필드를 갖고 있습니다. 명령 쪽은 전혀 바뀌지 않았습니다. 읽기 모델은 "
                       f"자신이 답할 조회에 맞춰 만들어지고, 그 모양이 바뀌면 언제든 이벤트로부터 다시 만들 수 있습니다.")


@exercise("06.compensations")
def compensations(answer: Any, log: Any = None) -> Feedback:
    """``answer``: ``{step: compensation}`` for the steps that have one; ``log``: a saga run's log."""
    if log is None or not isinstance(log, pd.DataFrame) or "step" not in log.columns:
        return Feedback(False, "pass the saga log of a run: check(..., answer, log=saga_runs['all at once'].log)",
                        ko="한 실행의 사가 로그를 넘겨주세요: check(..., answer, log=saga_runs['all at once'].log)")
    if not isinstance(answer, dict):
        return Feedback(False, "answer with a dict {step: compensation}, e.g. {'reserve_stock': '...'}",
                        ko="{단계: 보상 트랜잭션} 형태의 dict로 답하세요. 예: {'reserve_stock': '...'}")
    truth = {s: c for s, c in zip(SAGA_STEPS["step"], SAGA_STEPS["compensation"]) if isinstance(c, str)}
    seen = set(log.loc[log["kind"] == "compensation", "step"])
    absent = sorted(set(truth.values()) - seen)
    if absent:
        return Feedback(False, f"this log never ran {absent}: pass the log of a run with faults of every kind "
                               f"(e.g. the 'all at once' scenario)",
                        ko=f"이 로그에서는 {absent}이(가) 한 번도 실행되지 않았습니다. 모든 종류의 장애가 일어난 실행의 로그를 "
                           f"넘겨주세요(예: 'all at once' 시나리오)")
    answer = {k: v for k, v in answer.items() if v is not None}
    unknown = sorted(set(answer) - set(SAGA_STEPS["step"]))
    if unknown:
        return Feedback(False, f"{unknown} are not steps; the steps are {list(SAGA_STEPS['step'])}",
                        ko=f"{unknown}은(는) 단계가 아닙니다. 단계는 {list(SAGA_STEPS['step'])}입니다")
    for step, compensation in truth.items():
        if answer.get(step) != compensation:
            # Point at an order in the learner's log where the step succeeded and was undone.
            done = log[(log["step"] == step) & (log["outcome"] == "ok")]["order_id"]
            undone = log[(log["kind"] == "compensation") & (log["order_id"].isin(done))]
            example = undone["order_id"].iloc[0] if len(undone) else None
            trail = (", ".join(f"{r.step} ({r.outcome})" for r in log[log["order_id"] == example].itertuples())
                     if example is not None else "")
            return Feedback(False, f"look again at '{step}': in order {example} the log reads {trail}"
                            if example is not None else f"look again at '{step}'",
                            ko=f"'{step}'을(를) 다시 보세요. 주문 {example}의 로그는 다음과 같습니다: {trail}"
                            if example is not None else f"'{step}'을(를) 다시 보세요")
    extra = sorted(set(answer) - set(truth))
    if extra:
        return Feedback(False, f"{extra} need no compensation: nothing runs after the last step",
                        ko=f"{extra}에는 보상 트랜잭션이 필요 없습니다. 마지막 단계 뒤에는 아무것도 실행되지 않으니까요")
    return Feedback(True, "each compensation undoes one step, and they run in reverse order: refund, then release, "
                          "then cancel. approve_order needs none: once it runs, the saga succeeded.",
                    ko="보상 트랜잭션은 각각 한 단계를 되돌리고, 역순으로 실행됩니다. 환불, 재고 해제, 그다음 취소입니다. "
                       "approve_order에는 필요 없습니다. 이 단계가 실행되면 사가는 이미 성공한 것입니다.")


@exercise("06.composition-hops")
def composition_hops(answer: Any, result: Any = None) -> Feedback:
    """``answer``: a function ``hops(n)`` for the sequential strategy; ``result``: a composition experiment."""
    if not callable(answer) or len(inspect.signature(answer).parameters) != 1:
        return Feedback(False, "answer with a function of the number of orders, e.g. def hops(n): return ...",
                        ko="주문 수를 받는 함수로 답하세요. 예: def hops(n): return ...")
    if result is None or not hasattr(result, "table") or not hasattr(result, "answers"):
        return Feedback(False, "pass the experiment: check(..., hops, result=composition)",
                        ko="실험 결과를 넘겨주세요: check(..., hops, result=composition)")
    table = result.table
    row = table[(table["strategy"] == "sequential") & (table["delivery"] == "up")]
    if row.empty:
        return Feedback(False, "the experiment has no sequential run with the delivery service up",
                        ko="이 실험에는 delivery 서비스가 살아 있는 상태의 sequential 실행이 없습니다")
    n = len(result.answers.get("sequential", []))
    measured = int(row["hops"].iloc[0])
    try:
        value = answer(n)
        if value is None or value is ...:
            return Feedback(False, "hops(n) returns nothing yet: replace the ... with your formula",
                        ko="hops(n)이 아직 아무것도 반환하지 않습니다. ... 자리에 공식을 넣으세요")
        predicted = int(value)
    except Exception as exc:  # noqa: BLE001 - report the learner's error, do not crash
        return Feedback(False, f"hops({n}) raised {type(exc).__name__}: {exc}",
                        ko=f"hops({n})에서 {type(exc).__name__} 예외가 발생했습니다: {exc}")
    if predicted != measured:
        return Feedback(False, f"for {n} orders you predict {predicted} hops, the call log measured {measured}. "
                               f"Count: your request to the composer, its call to orders, then two calls per order",
                        ko=f"주문 {n}건에 대해 홉 {predicted}개를 예상했지만, 호출 로그에서 측정된 값은 {measured}개입니다. "
                           f"composer로 보낸 요청, composer가 orders를 부르는 호출, 그리고 주문마다 호출 두 개를 세어 보세요")
    for k in (1, 5, 50, 200):
        if int(answer(k)) != expected_hops("sequential", k):
            return Feedback(False, f"right for {n} orders, but hops({k}) = {answer(k)}: is the formula linear in n?",
                        ko=f"주문 {n}건에는 맞지만 hops({k}) = {answer(k)}입니다. 공식이 n에 대해 선형인가요?")
    return Feedback(True, f"2n + 2: {measured} hops for {n} orders, and growing with every order, while the batched "
                          f"composition stays at 4 and the read model answers in 1.",
                    ko=f"2n + 2: 주문 {n}건에 홉 {measured}개이고 주문이 늘 때마다 커집니다. 반면 배치 방식 조합은 4개에 "
                       f"머무르고 읽기 모델은 1개로 답합니다.")


@exercise("06.explore-saga")
def explore_saga(answer: Any, result: Any = None) -> Feedback:
    """``answer``: the length of the shortest counterexample's script, or None; ``result``: the Exploration."""
    wrong, truth = judge_exploration(answer, result, "check(..., answer, result=retried)")
    if wrong is not None:
        return wrong
    cx = result.counterexample
    if truth is None:
        return Feedback(True, f"no violation in {result.runs} runs, the whole bounded space, and yet the missing "
                              f"release is still in the code. The retry asks payment again with the same order id "
                              f"and gets the recorded charge, so one crash never makes the charge fail. Two crashes "
                              f"would: clean within the bound says nothing beyond it.",
                        ko=f"실행 {result.runs}번, 한정된 공간 전체에서 위반이 없었습니다. 그런데도 재고 해제가 빠진 "
                           f"버그는 코드에 그대로 있습니다. 재시도는 같은 주문 id로 payment에 다시 묻고 기록된 결제를 "
                           f"돌려받으므로, 크래시 한 번으로는 결제 단계가 실패하지 않습니다. 크래시 두 번이면 "
                           f"실패합니다. 한계 안에서 깨끗하다는 것은 한계 밖에 대해 아무것도 말해 주지 않습니다.")
    return Feedback(True, f"{truth} choice(s): script {cx.script}, found in {result.runs} runs. Breadth-first, no "
                          f"shorter script breaks an invariant.",
                    ko=f"선택 {truth}개입니다. 스크립트 {cx.script}, 실행 {result.runs}번 만에 찾았습니다. 너비 우선 "
                       f"탐색이므로 이보다 짧은 스크립트로는 불변식이 깨지지 않습니다.")


@exercise("06.saga-styles")
def saga_styles(answer: Any, result: Any = None) -> Feedback:
    """``answer``: ``{"orchestrated": n, "choreographed": m}``, orders each style cancelled; ``result``: the run."""
    runs = getattr(result, "runs", None)
    if not isinstance(runs, dict) or set(runs) != {"orchestrated", "choreographed"}:
        return Feedback(False, "pass the run too: check(..., answer, result=longer), with longer = await "
                               "saga_styles_experiment(StyleFaults(payment_down=(0.1, 0.9)), ...)",
                        ko="실행 결과도 넘겨주세요: check(..., answer, result=longer). longer = await "
                           "saga_styles_experiment(StyleFaults(payment_down=(0.1, 0.9)), ...)")
    if not isinstance(answer, dict) or set(answer) != {"orchestrated", "choreographed"}:
        return Feedback(False, 'answer with a dict of two counts: {"orchestrated": ..., "choreographed": ...}',
                        ko='두 개의 개수를 담은 dict로 답하세요: {"orchestrated": ..., "choreographed": ...}')
    truth = {s: int((r.orders["status"] == "CANCELLED").sum()) for s, r in runs.items()}
    for style in ("orchestrated", "choreographed"):
        given = answer[style]
        if isinstance(given, bool) or not isinstance(given, int):
            return Feedback(False, f"{style}: give a whole number of orders, not {given!r}",
                            ko=f"{style}: 주문 수를 정수로 주세요({given!r}가 아니라)")
        if given != truth[style]:
            return Feedback(False, f"{style}: {given} is not what the run shows. Count the orders with status "
                                   f"CANCELLED in result.runs[{style!r}].orders (and look at their reason)",
                            ko=f"{style}: {given}은 실행 결과와 다릅니다. result.runs[{style!r}].orders에서 status가 "
                               f"CANCELLED인 주문을 세어 보세요(reason도 보세요)")
    reasons = runs["orchestrated"].orders["reason"].value_counts()
    unavailable = int(reasons.get("payment_unavailable", 0))
    waiting = int(runs["orchestrated"].unfinished_at_load_end)
    late = int(runs["choreographed"].unfinished_at_load_end)
    return Feedback(True, f"{truth['orchestrated']} against {truth['choreographed']}. The orchestrator calls payment "
                          f"and, when its retries get no answer, gives up: {unavailable} order(s) cancelled as "
                          f"payment_unavailable. Their refunds needed payment too, so {waiting} were still "
                          f"COMPENSATING when the last order was placed, until the recovery pass. In the choreography "
                          f"nobody waits for an answer: StockReserved waited at the broker until payment came back, "
                          f"and those orders were approved, later ({late} were not final when the last order was "
                          f"placed).",
                    ko=f"{truth['orchestrated']} 대 {truth['choreographed']}입니다. 오케스트레이터는 payment를 호출하고, "
                       f"재시도가 모두 응답을 받지 못하면 포기합니다. 주문 {unavailable}건이 payment_unavailable로 "
                       f"취소되었습니다. 그 환불도 payment가 있어야 하므로, 마지막 주문이 들어간 시점에 {waiting}건이 "
                       f"복구 실행(recovery pass) 전까지 COMPENSATING 상태였습니다. 코레오그래피에서는 아무도 응답을 "
                       f"기다리지 않습니다. StockReserved는 payment가 돌아올 때까지 브로커에서 기다렸고, 그 주문들은 "
                       f"늦게나마 승인되었습니다(마지막 주문이 들어간 시점에 {late}건이 아직 끝나지 않았습니다).")


@exercise("06.predict-schema")
def predict_schema(answer: Any) -> Feedback:
    """``answer``: section 2's runs (``schema``, one per design); the guess, in percent, was recorded with ``predict``.

    The question: what share of receipt requests does the orders service
    serve after customers version 2 shipped, in the shared-database design?
    """
    from labsvc.course import is_number
    from labsvc.course.predictions import judge_prediction

    shared = answer.get("shared") if isinstance(answer, dict) else answer
    if not hasattr(shared, "summary") or getattr(shared, "design", None) != "shared":
        return Feedback(False, "pass the runs of section 2: check('06.predict-schema', schema)",
                        ko="2절의 실행 결과를 넘겨주세요: check('06.predict-schema', schema)")
    table = shared.summary()
    row = table[(table["phase"] == "v2") & (table["service"] == "orders")]
    if row.empty:
        return Feedback(False, "this run has no receipt requests after customers v2 shipped: pass schema from section 2",
                        ko="이 실행에는 customers v2 배포 뒤의 영수증 요청이 없습니다. 2절의 schema를 넘겨주세요")
    served, total = int(row["ok"].iloc[0]), int(row["requests"].iloc[0])
    errors = str(row["error_class"].iloc[0]) or "no error"
    pct = 100 * served / total
    actual = int(pct) if float(pct).is_integer() else round(float(pct), 1)

    def share_like(guess: Any) -> bool:
        return isinstance(guess, float) and 0 < guess <= 1

    def right(guess: Any, measured: Any) -> bool:
        return is_number(guess) and not share_like(guess) and abs(float(guess) - measured) <= 5

    def explain(guess: Any, measured: Any) -> tuple[str, str]:
        if not is_number(guess):
            return ("A percentage is a number from 0 to 100, e.g. percent=50.",
                    "백분율은 0에서 100 사이의 숫자입니다. 예: percent=50.")
        if share_like(guess):
            return ("This looks like a share between 0 and 1; the question asks for a percentage (0 to 100).",
                    "0과 1 사이의 비율로 보입니다. 이 문제는 백분율(0에서 100)을 묻습니다.")
        return (f"After customers v2 shipped, the orders service served {served} of {total} receipts ({errors}). "
                f"It reads the customers table itself, and the migration took away the column its SQL joins; the "
                f"customers API kept its contract, but the orders service never went through it.",
                f"customers v2가 배포된 뒤 orders 서비스는 영수증 {total}건 중 {served}건을 내주었습니다({errors}). "
                f"orders 서비스는 customers 테이블을 직접 읽는데, 마이그레이션이 그 SQL이 조인하는 컬럼을 없앴습니다. "
                f"customers API는 계약을 지켰지만, orders 서비스는 그 API를 거치지 않았습니다.")

    return judge_prediction("06.predict-schema", actual, right=right, explain=explain, unit="percent")


#: Exercise 5's target and constraints: the share of orders approved, the retry budget and the longest timeout.
TIMEOUT_TARGET_PCT = 99.0
TIMEOUT_MAX_ATTEMPTS = 3
TIMEOUT_MAX_MS = 1000.0
_TRIAL_COLUMNS = {"scenario", "timeout_ms", "attempts", "orders", "approved", "payment_unavailable", "approved_pct",
                  "p99_ms", "invariants_held"}


@exercise("06.saga-timeout")
def saga_timeout(answer: Any) -> Feedback:
    """``answer``: the row of ``saga_settings_trial(...)``. Target: >= 99 % approved, <= 3 attempts, timeout <= 1 s."""
    if not isinstance(answer, pd.DataFrame) or not _TRIAL_COLUMNS <= set(answer.columns) or len(answer) != 1:
        return Feedback(False, "pass the trial: check('06.saga-timeout', trial), with "
                               "trial = await saga_settings_trial(timeout=timeout, attempts=attempts, ...)",
                        ko="시험 결과를 넘겨주세요: check('06.saga-timeout', trial). "
                           "trial = await saga_settings_trial(timeout=timeout, attempts=attempts, ...)")
    row = answer.iloc[0]
    if row["scenario"] != "payment timeouts" or int(row["orders"]) < 100:
        return Feedback(False, f"the target is set for 100 orders of the 'payment timeouts' scenario; this trial ran "
                               f"{int(row['orders'])} of {row['scenario']!r}",
                        ko=f"목표는 'payment timeouts' 시나리오의 주문 100건에 대한 것입니다. 이 시험은 "
                           f"{row['scenario']!r}의 주문 {int(row['orders'])}건을 실행했습니다")
    attempts, timeout_ms = int(row["attempts"]), float(row["timeout_ms"])
    if attempts > TIMEOUT_MAX_ATTEMPTS:
        return Feedback(False, f"{attempts} attempts per step breaks the constraint (at most {TIMEOUT_MAX_ATTEMPTS}): "
                               f"every retry is one more request to a provider that is already in trouble. Keep "
                               f"attempts at {TIMEOUT_MAX_ATTEMPTS} and change the other decision",
                        ko=f"단계마다 {attempts}번 시도는 제약(최대 {TIMEOUT_MAX_ATTEMPTS}번)을 어깁니다. 재시도 한 번은 "
                           f"이미 곤란한 결제 대행사에 보내는 요청 하나가 더 늘어나는 것입니다. attempts는 "
                           f"{TIMEOUT_MAX_ATTEMPTS}로 두고 다른 결정을 바꾸세요")
    if timeout_ms > TIMEOUT_MAX_MS:
        unit = (" A bare number is seconds: this looks like milliseconds written without a unit; write '300ms' or "
                "0.3." if timeout_ms >= 10_000 else "")
        unit_ko = (" 단위 없는 숫자는 초입니다. 단위 없이 쓴 밀리초로 보입니다. '300ms' 또는 0.3으로 쓰세요."
                   if timeout_ms >= 10_000 else "")
        return Feedback(False, f"a timeout of {timeout_ms / 1000:g} s breaks the constraint (at most 1 s): the client "
                               f"waits for the saga inside its request.{unit}",
                        ko=f"타임아웃 {timeout_ms / 1000:g}초는 제약(최대 1초)을 어깁니다. 클라이언트는 요청 안에서 사가가 "
                           f"끝나기를 기다립니다.{unit_ko}")
    held = str(row["invariants_held"])
    done, of = (int(x) for x in held.split("/"))
    if done != of:
        return Feedback(False, f"only {held} invariants held: a saga that approves more orders but leaves the services "
                               f"inconsistent has not reached the target",
                        ko=f"불변식이 {held}만 지켜졌습니다. 주문을 더 많이 승인해도 서비스들의 데이터가 어긋나면 목표에 "
                           f"이른 것이 아닙니다")
    pct, lost, p99 = float(row["approved_pct"]), int(row["payment_unavailable"]), float(row["p99_ms"])
    if pct < TIMEOUT_TARGET_PCT:
        return Feedback(False, f"{pct:g} % of the orders approved ({lost} cancelled as payment_unavailable): "
                               f"{TIMEOUT_TARGET_PCT - pct:g} percentage points short of the {TIMEOUT_TARGET_PCT:g} % "
                               f"target. What does a {timeout_ms:g} ms timeout do to a charge answered 250 ms late, when "
                               f"the order's other tries met network errors?",
                        ko=f"주문의 {pct:g} %가 승인되었습니다(payment_unavailable로 취소 {lost}건). 목표 "
                           f"{TIMEOUT_TARGET_PCT:g} %에 {TIMEOUT_TARGET_PCT - pct:g}%p 모자랍니다. 다른 시도가 네트워크 "
                           f"오류를 만난 주문에서, {timeout_ms:g} ms 타임아웃은 250 ms 늦게 오는 결제 응답을 어떻게 "
                           f"만들까요?")
    return Feedback(True, f"{pct:g} % approved with {attempts} attempts and a {timeout_ms:g} ms timeout, every invariant "
                          f"held. A timeout longer than the provider's slow answers waits for them instead of counting "
                          f"them as failed tries, so the tries are spent only on the real errors. The price is latency: the slowest "
                          f"1 % of orders took {p99:g} ms, and every caller above the saga waits that long too.",
                    ko=f"시도 {attempts}번, 타임아웃 {timeout_ms:g} ms로 주문의 {pct:g} %가 승인되었고 불변식도 모두 "
                       f"지켜졌습니다. 결제 대행사의 느린 응답보다 긴 타임아웃은 그 응답을 실패한 시도로 세지 않고 "
                       f"기다려 주므로, 시도는 진짜 오류에만 쓰입니다. 대가는 지연 시간입니다. 가장 느린 1 %의 주문이 "
                       f"{p99:g} ms 걸렸고, 사가를 부르는 모든 호출자도 그만큼 기다립니다.")
