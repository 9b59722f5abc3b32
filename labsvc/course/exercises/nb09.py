"""Checkers for notebook 09 (API gateway)."""

from __future__ import annotations

from typing import Any

from labsvc.core.clock import FakeClock
from labsvc.course import Feedback, exercise
from labsvc.gateway import Aggregation, TokenBucket
from labsvc.auth.jwt_tokens import REASONS, TokenVerifier

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
