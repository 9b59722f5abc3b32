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
