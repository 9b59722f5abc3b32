"""Checkers for notebook 07 (sync and async communication)."""

from __future__ import annotations

import math

from labsvc.course import Feedback, exercise, is_number
from labsvc.course.exercises._explore import judge_exploration
from labsvc.course.predictions import judge_prediction

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


# -- prediction: how long the unluckiest asynchronous order waited during the outage ---------

def _async_outage(result):
    """The asynchronous run of section 3's outage in ``result`` (the dict or the run itself), or None."""
    run = result.get("async") if isinstance(result, dict) else result
    ok = getattr(run, "style", None) == "async" and getattr(run, "down", None) == "payment" and hasattr(run, "orders")
    return run if ok else None


@exercise("07.predict-outage-wait")
def predict_outage_wait(answer) -> Feedback:
    """``answer``: the outage runs of section 3 (``outage``); the guess is the one recorded with ``predict``."""
    run = _async_outage(answer)
    if run is None:
        return Feedback(False, "pass the outage runs of section 3: check('07.predict-outage-wait', outage)",
                        ko="3절의 장애 실행 결과를 넘겨주세요: check('07.predict-outage-wait', outage)")
    done = run.orders.loc[run.orders["completed"], "completion_latency"]
    measured = round(float(done.max()) * 1000, 1)
    down, back = run.window
    outage_ms = round((float(back) - float(down)) * 1000) if down is not None and back is not None else math.nan

    def right(guess, actual):
        return is_number(guess) and abs(float(guess) - actual) <= 0.2 * actual

    def explain(guess, actual):
        why = (f"An order placed just after payment went down waited in the broker until payment came back "
               f"({outage_ms:g} ms later), then went through in a few ms: with the broker the outage turned into "
               f"delay, not into failed orders.")
        why_ko = (f"payment가 멈춘 직후에 들어온 주문은 payment가 돌아올 때까지({outage_ms:g} ms 뒤) 브로커에서 "
                  f"기다렸다가 몇 ms 만에 처리되었습니다. 브로커가 있으면 장애는 실패한 주문이 아니라 지연이 됩니다.")
        if not is_number(guess):
            return ("The guess should be a number of milliseconds. " + why,
                    "예측은 밀리초 단위의 숫자여야 합니다. " + why_ko)
        if 0 < guess < 10 <= actual:
            return ("This looks like seconds; the question asks for milliseconds. " + why,
                    "초 단위로 적은 것 같습니다. 이 문제는 밀리초 단위로 묻습니다. " + why_ko)
        off = abs(float(guess) - actual)
        return (f"Off by {off:.0f} ms. {why}", f"{off:.0f} ms 차이입니다. {why_ko}")

    return judge_prediction("07.predict-outage-wait", measured, right=right, explain=explain, unit="ms")


# -- change and observe: a delivery limit that fits lost acks --------------------------------

#: The target of "07.delivery-limit": with this share of acks lost, no paid order is dead-lettered
#: while the poison order still is, after at most POISON_LIMIT deliveries.
LOST_ACKS = 0.5
POISON_LIMIT = 8


@exercise("07.delivery-limit")
def delivery_limit(answer) -> Feedback:
    """``answer``: the table ``delivery_limit_trial(...)`` returned."""
    needed = {"order_id", "poison", "deliveries", "dead_lettered", "delivery_count", "max_deliveries", "lost_acks"}
    if not hasattr(answer, "columns") or not needed <= set(answer.columns) or answer.empty:
        return Feedback(False, "pass the table delivery_limit_trial(...) returned: check('07.delivery-limit', trial)",
                        ko="delivery_limit_trial(...)가 돌려준 표를 넘겨주세요: check('07.delivery-limit', trial)")
    lost, limit = float(answer["lost_acks"].iloc[0]), int(answer["max_deliveries"].iloc[0])
    if not math.isclose(lost, LOST_ACKS):
        return Feedback(False, f"this trial lost {lost:.0%} of the acks; the exercise is about {LOST_ACKS:.0%}: keep "
                               f"lost_acks={LOST_ACKS} and change max_deliveries",
                        ko=f"이 실행은 ack의 {lost:.0%}를 잃었습니다. 이 연습은 {LOST_ACKS:.0%}를 다룹니다. "
                           f"lost_acks={LOST_ACKS}는 그대로 두고 max_deliveries를 바꾸세요")
    poison = answer[answer["poison"]]
    if poison.empty or not bool(poison["dead_lettered"].all()):
        return Feedback(False, "the poison order never reached the dead letters: it must still end there",
                        ko="독이 든 주문(poison)이 데드 레터에 닿지 않았습니다. 그 주문은 여전히 그곳으로 가야 합니다")
    poison_deliveries = int(poison["delivery_count"].max())
    if poison_deliveries > POISON_LIMIT:
        return Feedback(False, f"refused: the poison order was handed to payment {poison_deliveries} times, the target "
                               f"allows at most {POISON_LIMIT}. Each extra delivery is work that cannot succeed, and "
                               f"with keyed ordering it holds up that customer's later orders. Lower max_deliveries",
                        ko=f"인정할 수 없습니다. 독이 든 주문이 payment에 {poison_deliveries}번 전달되었는데, 목표는 "
                           f"최대 {POISON_LIMIT}번입니다. 전달이 늘 때마다 성공할 수 없는 일을 다시 하고, 키 순서를 "
                           f"지키는 큐에서는 그 고객의 다음 주문까지 붙잡습니다. max_deliveries를 줄이세요")
    paid = answer[~answer["poison"] & answer["dead_lettered"]]
    if len(paid):
        ids = ", ".join(str(int(i)) for i in paid["order_id"])
        return Feedback(False, f"max_deliveries={limit}: {len(paid)} paid order(s) ({ids}) ended in the dead letters "
                               f"although they were charged: every ack of theirs was lost {limit} times in a row. "
                               f"Target: 0, missed by {len(paid)}",
                        ko=f"max_deliveries={limit}: 결제까지 끝난 주문 {len(paid)}건({ids})이 데드 레터로 갔습니다. "
                           f"ack를 {limit}번 연달아 잃었기 때문입니다. 목표는 0건이고, {len(paid)}건 모자랍니다")
    good = int((~answer["poison"]).sum())
    expected = good * LOST_ACKS ** limit
    return Feedback(True, f"max_deliveries={limit}: no paid order in the dead letters, and the poison order was "
                          f"dead-lettered after {poison_deliveries} deliveries. A paid order lands there only if all "
                          f"{limit} of its acks are lost, a chance of {LOST_ACKS:g}^{limit} each: about "
                          f"{expected:.2f} of these {good} orders on average. A higher limit buys fewer false dead "
                          f"letters with more deliveries of the poison.",
                    ko=f"max_deliveries={limit}: 결제된 주문은 데드 레터에 하나도 없고, 독이 든 주문은 "
                       f"{poison_deliveries}번 전달된 뒤 데드 레터로 갔습니다. 결제된 주문이 그곳에 가려면 ack {limit}번을 "
                       f"모두 잃어야 하며, 그 확률은 주문마다 {LOST_ACKS:g}^{limit}입니다. 이 {good}건 중 평균 "
                       f"{expected:.2f}건입니다. 한도를 높이면 잘못된 데드 레터는 줄지만, 독이 든 메시지는 더 많이 "
                       f"전달됩니다.")
