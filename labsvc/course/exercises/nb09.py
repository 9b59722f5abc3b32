"""Checkers for notebook 09 (API gateway)."""

from __future__ import annotations

from typing import Any

from labsvc.core.clock import FakeClock
from labsvc.course import Feedback, exercise
from labsvc.gateway import Aggregation, TokenBucket
from labsvc.auth.jwt_tokens import REASONS, TokenVerifier
from labsvc.course.predictions import judge_prediction, recorded

# Exercise 1: one client sends a request every 100 ms for 3 s; the bucket refills 4 tokens per second.
ARRIVALS = [i * 0.1 for i in range(30)]
REFILL_RATE = 4.0
WANTED = 20


def admitted(capacity: int, refill_rate: float = REFILL_RATE, arrivals: list[float] = ARRIVALS) -> int:
    """How many of ``arrivals`` (seconds) a token bucket of ``capacity`` admits."""
    clock = FakeClock()
    bucket = TokenBucket(capacity, refill_rate, clock=clock)
    count = 0
    for t in arrivals:
        clock.set(t)
        count += bucket.try_acquire()
    return count


@exercise("09.rate-limit")
def rate_limit(answer: Any) -> Feedback:
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 1:
        return Feedback(False, "give the capacity as a whole number of at least 1",
                        ko="capacity는 1 이상의 정수로 답하세요")
    got = admitted(answer)
    if got != WANTED:
        more_or_less = "larger" if got < WANTED else "smaller"
        return Feedback(False, f"capacity {answer} admits {got} of the 30 requests, not {WANTED}; "
                               f"try a {more_or_less} capacity",
                        ko=f"capacity {answer}은(는) 요청 30개 중 {WANTED}개가 아니라 {got}개를 통과시킵니다. "
                           f"capacity를 {'늘려' if got < WANTED else '줄여'} 보세요")
    return Feedback(True, f"capacity {answer} admits exactly {WANTED}: the burst of {answer} at the start, "
                          f"then the refill of {REFILL_RATE:g} tokens per second for the rest of the 3 s.",
                    ko=f"capacity {answer}은(는) 정확히 {WANTED}개를 통과시킵니다. 처음에 {answer}개가 한꺼번에(burst) "
                       f"통과하고, 3초의 나머지 동안은 초당 {REFILL_RATE:g}개씩 채워지는 토큰만큼 통과합니다.")


@exercise("09.why-rejected")
def why_rejected(answer: Any, token: str, verifier: TokenVerifier) -> Feedback:
    if not isinstance(verifier, TokenVerifier):
        return Feedback(False, "pass the gateway's verifier: check(..., token=mystery, verifier=verifier)",
                        ko="게이트웨이의 검증기를 넘겨주세요: check(..., token=mystery, verifier=verifier)")
    truth = verifier.explain(token)
    if truth["accepted"]:
        return Feedback(False, "this token is accepted by the verifier you passed; pass the mystery token",
                        ko="넘겨준 검증기는 이 토큰을 받아들입니다. mystery 토큰을 넘겨주세요")
    if answer not in REASONS:
        return Feedback(False, f"answer with one of the reason codes: {sorted(REASONS)}",
                        ko=f"이유 코드 중 하나로 답하세요: {sorted(REASONS)}")
    if answer != truth["reason"]:
        return Feedback(False, "send the token through the gateway and read the 'reason' member of the 401 problem "
                               "document (its claims look fine: the problem is elsewhere)",
                        ko="토큰을 게이트웨이로 보내고 401 problem document의 'reason' 멤버를 읽으세요"
                           "(클레임은 멀쩡해 보입니다. 문제는 다른 데 있습니다)")
    return Feedback(True, f"{truth['reason']}: {truth['detail']}. Its claims were fine; only the signature "
                          f"shows it was not signed with the key this gateway trusts.",
                    ko=f"{truth['reason']}: {truth['detail']}. 클레임에는 문제가 없었습니다. 이 게이트웨이가 신뢰하는 키로 "
                       f"서명되지 않았다는 사실은 서명만이 보여 줍니다.")


@exercise("09.partial-page")
def partial_page(answer: Any, page: dict) -> Feedback:
    if not isinstance(answer, Aggregation):
        return Feedback(False, "answer with your Aggregation object (the one you gave the gateway)",
                        ko="직접 만든 Aggregation 객체(게이트웨이에 넘긴 것)로 답하세요")
    stock = answer.parts.get("stock")
    if stock is None or stock.service != "inventory":
        return Feedback(False, "keep a part named 'stock' that calls the inventory service",
                        ko="inventory 서비스를 호출하는 'stock' 파트를 그대로 두세요")
    if not stock.optional:
        return Feedback(False, "a required part that fails fails the whole page: make 'stock' optional",
                        ko="필수 파트가 실패하면 페이지 전체가 실패합니다. 'stock'을 선택(optional) 파트로 만드세요")
    product = answer.parts.get("product")
    if product is None or product.optional:
        return Feedback(False, "keep 'product' (catalog) required: a page without its product makes no sense",
                        ko="'product'(catalog)는 필수로 두세요. 상품 정보 없는 상품 페이지는 의미가 없습니다")
    if not isinstance(page, dict) or "partial" not in page:
        return Feedback(False, "pass the JSON body of the page you fetched while inventory was down: page=r.json()",
                        ko="inventory가 내려가 있는 동안 가져온 페이지의 JSON 본문을 넘겨주세요: page=r.json()")
    if not page["partial"] or "stock" not in page.get("missing", []):
        return Feedback(False, "fetch the page while inventory is down (net.fault('inventory', down=True)); "
                               "the page you passed is complete",
                        ko="inventory가 내려가 있는 동안(net.fault('inventory', down=True)) 페이지를 가져오세요. "
                           "넘겨준 페이지는 완전한 페이지입니다")
    if not page.get("product"):
        return Feedback(False, "the page has no product: was the catalog down too?",
                        ko="페이지에 상품 정보가 없습니다. catalog도 내려가 있었나요?")
    return Feedback(True, f"the page still shows the product, with stock = {page['stock']!r} and "
                          f"'partial': true, so the front end can say 'availability unknown' instead of failing.",
                    ko=f"페이지에는 여전히 상품 정보가 나오고, stock = {page['stock']!r}과 'partial': true가 붙어 있습니다. "
                       f"그래서 프런트엔드는 실패하는 대신 '재고 확인 불가'라고 보여 줄 수 있습니다.")


# Exercise 4: the prediction made before the product page ran (three parts, 20 ms each, called concurrently).
@exercise("09.predict-page")
def predict_page(answer: Any) -> Feedback:
    """``answer`` is ``page_ms``: how long the page took, in milliseconds, on the network's clock."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer <= 0:
        return Feedback(False, "pass the measured page time in milliseconds: check(\"09.predict-page\", page_ms)",
                        ko="측정한 페이지 시간(밀리초)을 넘겨주세요: check(\"09.predict-page\", page_ms)")
    actual = round(float(answer), 1)
    guess = recorded("09.predict-page")
    value = guess.value.get("ms") if guess is not None and isinstance(guess.value, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1 and actual > 5:
        return Feedback(False, f"{float(value):g} looks like seconds; the question asks for milliseconds",
                        ko=f"{float(value):g}은(는) 초 단위로 보입니다. 이 문제는 밀리초(ms)로 묻습니다")

    def right(g: Any, a: float) -> bool:
        return isinstance(g, (int, float)) and not isinstance(g, bool) and abs(float(g) - a) <= max(5.0, 0.25 * a)

    def explain(g: Any, a: float) -> tuple[str, str]:
        return (f"The gateway sent the three calls at once, so the page waited for the slowest of them, about one "
                f"service's 20 ms (plus the hops), not 3 x 20 = 60 ms as three calls in a row would.",
                f"게이트웨이는 세 호출을 동시에 보냈으므로, 페이지는 그중 가장 느린 호출 하나, 즉 서비스 하나의 20 ms(와 "
                f"홉 비용)만큼만 기다렸습니다. 차례로 호출했다면 3 x 20 = 60 ms가 걸렸을 것입니다.")

    return judge_prediction("09.predict-page", actual, right=right, explain=explain, unit="ms")


# Exercise 5: the app's page load (a burst of 30) must pass whole; a scraper flooding at 100/s for 2 s must get
# at most 60 requests through; and a client's sustained rate must stay at least 10 per second.
BURST_TARGET = 1.0
FLOOD_MAX = 60
MIN_REFILL = 10.0


@exercise("09.burst-and-flood")
def burst_and_flood_target(answer: Any) -> Feedback:
    """``answer`` is the :class:`~labsvc.gateway.lab.BurstTrial` that ``burst_and_flood(...)`` returned."""
    needed = ("capacity", "refill_rate", "burst_requests", "burst_admitted", "flood_admitted")
    if any(not hasattr(answer, name) for name in needed):
        return Feedback(False, "pass the result of the experiment: trial = await burst_and_flood(capacity, "
                               "refill_rate), then check(\"09.burst-and-flood\", trial)",
                        ko="실험 결과를 넘겨주세요: trial = await burst_and_flood(capacity, refill_rate) 다음에 "
                           "check(\"09.burst-and-flood\", trial)")
    refill = float(answer.refill_rate)
    if refill < MIN_REFILL:
        return Feedback(False, f"refill_rate {refill:g}/s breaks the rule: every client keeps a sustained rate of "
                               f"at least {MIN_REFILL:g} requests per second; change the capacity, not only the refill",
                        ko=f"refill_rate {refill:g}/s는 조건을 어깁니다. 모든 클라이언트는 초당 {MIN_REFILL:g}개 이상의 "
                           f"지속 속도를 유지해야 합니다. refill만이 아니라 capacity를 바꿔 보세요")
    share = answer.burst_admitted / answer.burst_requests if answer.burst_requests else 0.0
    flood = int(answer.flood_admitted)
    misses_en, misses_ko = [], []
    if share < BURST_TARGET:
        short = int(answer.burst_requests) - int(answer.burst_admitted)
        misses_en.append(f"the page load got {int(answer.burst_admitted)} of its {int(answer.burst_requests)} "
                         f"requests through ({share:.0%}): {short} short of all of them")
        misses_ko.append(f"페이지 로드는 요청 {int(answer.burst_requests)}개 중 {int(answer.burst_admitted)}개만 "
                         f"통과했습니다({share:.0%}). 전부 통과하려면 {short}개가 모자랍니다")
    if flood > FLOOD_MAX:
        misses_en.append(f"the scraper got {flood} requests through, {flood - FLOOD_MAX} more than the "
                         f"{FLOOD_MAX} allowed")
        misses_ko.append(f"스크레이퍼는 요청 {flood}개를 통과시켰습니다. 허용치 {FLOOD_MAX}개보다 "
                         f"{flood - FLOOD_MAX}개 많습니다")
    if misses_en:
        missed_en, missed_ko = "; ".join(misses_en), "; ".join(misses_ko)
        return Feedback(False, f"capacity {int(answer.capacity)}, refill_rate {refill:g}/s: {missed_en}. Capacity "
                               f"is the burst a client may send at once; the refill rate is what it gets per second "
                               f"after that",
                        ko=f"capacity {int(answer.capacity)}, refill_rate {refill:g}/s: {missed_ko}. capacity는 "
                           f"클라이언트가 한 번에 보낼 수 있는 burst이고, refill rate는 그 뒤 초마다 받는 양입니다")
    return Feedback(True, f"capacity {int(answer.capacity)}, refill_rate {refill:g}/s: the whole page load passed "
                          f"and the scraper got only {flood} of its requests through. A large bucket absorbs a "
                          f"legitimate burst; a modest refill rate caps what a flood can take over time.",
                    ko=f"capacity {int(answer.capacity)}, refill_rate {refill:g}/s: 페이지 로드는 모두 통과했고 "
                       f"스크레이퍼는 요청 {flood}개만 통과했습니다. 큰 버킷은 정당한 burst를 받아 주고, 적당한 refill "
                       f"rate는 폭주(flood)가 시간이 지나며 가져갈 수 있는 양을 제한합니다.")
