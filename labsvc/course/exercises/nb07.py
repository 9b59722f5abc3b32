"""Checkers for notebook 07 (sync and async communication)."""

from __future__ import annotations

import math

from labsvc.course import Feedback, exercise
from labsvc.course.exercises._explore import judge_exploration

STYLES = ("sync", "async")


def _outage_runs(results, down: str) -> Feedback | None:
    """Why ``results`` is not a pair of outage runs of ``down`` (None if it is)."""
    if not isinstance(results, dict) or set(results) != set(STYLES):
        return Feedback(False, "pass the dict compare_styles(...) returned: {'sync': ..., 'async': ...}",
                        ko="compare_styles(...)가 돌려준 dict를 넘겨주세요: {'sync': ..., 'async': ...}")
    for style, r in results.items():
        if getattr(r, "style", None) != style or not hasattr(r, "orders"):
            return Feedback(False, "pass the dict compare_styles(...) returned, unchanged",
                            ko="compare_styles(...)가 돌려준 dict를 바꾸지 말고 그대로 넘겨주세요")
        if r.down != down:
            return Feedback(False, f"the {style} run had {r.down or 'no service'} down; run it with down={down!r}",
                            ko=f"{style} 실행에서 멈춘 서비스는 {r.down or '없음'}입니다. down={down!r}로 실행하세요")
    return None


@exercise("07.lost-orders")
def lost_orders(answer, results) -> Feedback:
    why = _outage_runs(results, "payment")
    if why:
        return why
    truth = {style: r.lost for style, r in results.items()}
    if not isinstance(answer, dict) or set(answer) != set(STYLES):
        return Feedback(False, "answer with a dict: {'sync': <orders lost>, 'async': <orders lost>}",
                        ko="dict로 답하세요: {'sync': <잃은 주문 수>, 'async': <잃은 주문 수>}")
    if any(answer[s] != truth[s] for s in STYLES):
        return Feedback(False, "count, for each style, the orders whose 'completed' column is False "
                               "in outage[style].orders",
                        ko="방식마다 outage[style].orders에서 'completed' 열이 False인 주문을 세어 보세요")
    return Feedback(True, f"sync lost {truth['sync']} orders, async {truth['async']}: the broker kept the orders "
                          f"placed during the outage until payment came back.",
                    ko=f"sync는 주문 {truth['sync']}건, async는 {truth['async']}건을 잃었습니다. 브로커가 장애 중에 들어온 "
                       f"주문을 payment가 돌아올 때까지 보관했습니다.")


@exercise("07.notification-down")
def notification_down(answer, results) -> Feedback:
    why = _outage_runs(results, "notification")
    if why:
        return why
    truth = {style: float(r.orders["accepted"].mean()) for style, r in results.items()}
    if not isinstance(answer, dict) or set(answer) != set(STYLES):
        return Feedback(False, "answer with a dict: {'sync': <share accepted>, 'async': <share accepted>}",
                        ko="dict로 답하세요: {'sync': <접수 비율>, 'async': <접수 비율>}")
    try:
        close = all(math.isclose(float(answer[s]), truth[s], abs_tol=1e-6) for s in STYLES)
    except (TypeError, ValueError):
        close = False
    if not close:
        return Feedback(False, "take the mean of the 'accepted' column of each run's orders table",
                        ko="각 실행의 orders 표에서 'accepted' 열의 평균을 구하세요")
    return Feedback(True, f"accepted: sync {truth['sync']:.0%}, async {truth['async']:.0%}. The synchronous chain is "
                          f"only as available as its last link, even one that is not needed to take the order; "
                          f"and payment charged cards for orders the user saw fail.",
                    ko=f"접수율: sync {truth['sync']:.0%}, async {truth['async']:.0%}. 동기 체인의 가용성은 마지막 고리를 "
                       f"넘지 못합니다. 주문을 받는 데 필요하지도 않은 고리라도 마찬가지입니다. 게다가 payment는 "
                       f"사용자가 실패했다고 본 주문까지 카드를 결제했습니다.")


@exercise("07.double-charges")
def double_charges(answer, result) -> Feedback:
    if getattr(result, "consumer", None) != "naive":
        return Feedback(False, "pass the result of delivery_experiment(idempotent=False, ...)",
                        ko="delivery_experiment(idempotent=False, ...)의 결과를 넘겨주세요")
    truth = int((result.ledger.groupby("order_id").size() > 1).sum())
    if isinstance(answer, bool) or not isinstance(answer, int) or answer != truth:
        return Feedback(False, "group result.ledger by order_id and count the orders with more than one charge",
                        ko="result.ledger를 order_id로 묶고, 결제가 두 번 이상인 주문을 세어 보세요")
    return Feedback(True, f"{truth} orders were charged more than once: each lost acknowledgement brought a message "
                          f"back, and a consumer that does not remember what it did does it again.",
                    ko=f"주문 {truth}건이 두 번 이상 결제되었습니다. ack를 잃을 때마다 메시지가 다시 돌아왔고, 자기가 한 일을 "
                       f"기억하지 못하는 소비자는 같은 일을 또 했습니다.")


@exercise("07.explore-steps")
def explore_steps(answer, result) -> Feedback:
    """``answer``: the length of the shortest counterexample's script, or None; ``result``: the Exploration."""
    wrong, truth = judge_exploration(answer, result, "check(..., result=lost_reply)")
    if wrong is not None:
        return wrong
    cx = result.counterexample
    if truth is None:
        return Feedback(True, f"no double charge in {result.runs} runs, the whole bounded space. A lost reply leaves "
                              f"payment running with its memory: the retry is a duplicate the consumer remembers "
                              f"and skips. Only a crash makes it forget.",
                        ko=f"실행 {result.runs}번, 한정된 공간 전체에서 이중 결제가 없었습니다. 응답을 잃어도 "
                           f"payment는 메모리를 가진 채 살아 있습니다. 재시도는 소비자가 기억하는 중복이라 건너뜁니다. "
                           f"잊게 만드는 것은 크래시뿐입니다.")
    return Feedback(True, f"{truth} choice(s): script {cx.script}, found in {result.runs} runs. Breadth-first, no "
                          f"shorter script breaks an invariant.",
                    ko=f"선택 {truth}개입니다. 스크립트 {cx.script}, 실행 {result.runs}번 만에 찾았습니다. 너비 우선 "
                       f"탐색이므로 이보다 짧은 스크립트로는 불변식이 깨지지 않습니다.")
