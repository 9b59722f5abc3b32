"""Checkers for notebook 09 (API gateway)."""

from __future__ import annotations

from typing import Any

from ..clock import FakeClock
from ..course import Feedback, exercise
from ..gateway import Aggregation, TokenBucket
from ..security import REASONS, TokenVerifier

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
        return Feedback(False, "give the capacity as a whole number of at least 1")
    got = admitted(answer)
    if got != WANTED:
        more_or_less = "larger" if got < WANTED else "smaller"
        return Feedback(False, f"capacity {answer} admits {got} of the 30 requests, not {WANTED}; "
                               f"try a {more_or_less} capacity")
    return Feedback(True, f"capacity {answer} admits exactly {WANTED}: the burst of {answer} at the start, "
                          f"then the refill of {REFILL_RATE:g} tokens per second for the rest of the 3 s.")


@exercise("09.why-rejected")
def why_rejected(answer: Any, token: str, verifier: TokenVerifier) -> Feedback:
    if not isinstance(verifier, TokenVerifier):
        return Feedback(False, "pass the gateway's verifier: check(..., token=mystery, verifier=verifier)")
    truth = verifier.explain(token)
    if truth["accepted"]:
        return Feedback(False, "this token is accepted by the verifier you passed; pass the mystery token")
    if answer not in REASONS:
        return Feedback(False, f"answer with one of the reason codes: {sorted(REASONS)}")
    if answer != truth["reason"]:
        return Feedback(False, "send the token through the gateway and read the 'reason' member of the 401 problem "
                               "document (its claims look fine: the problem is elsewhere)")
    return Feedback(True, f"{truth['reason']}: {truth['detail']}. Its claims were fine; only the signature "
                          f"shows it was not signed with the key this gateway trusts.")


@exercise("09.partial-page")
def partial_page(answer: Any, page: dict) -> Feedback:
    if not isinstance(answer, Aggregation):
        return Feedback(False, "answer with your Aggregation object (the one you gave the gateway)")
    stock = answer.parts.get("stock")
    if stock is None or stock.service != "inventory":
        return Feedback(False, "keep a part named 'stock' that calls the inventory service")
    if not stock.optional:
        return Feedback(False, "a required part that fails fails the whole page: make 'stock' optional")
    product = answer.parts.get("product")
    if product is None or product.optional:
        return Feedback(False, "keep 'product' (catalog) required: a page without its product makes no sense")
    if not isinstance(page, dict) or "partial" not in page:
        return Feedback(False, "pass the JSON body of the page you fetched while inventory was down: page=r.json()")
    if not page["partial"] or "stock" not in page.get("missing", []):
        return Feedback(False, "fetch the page while inventory is down (net.fault('inventory', down=True)); "
                               "the page you passed is complete")
    if not page.get("product"):
        return Feedback(False, "the page has no product: was the catalog down too?")
    return Feedback(True, f"the page still shows the product, with stock = {page['stock']!r} and "
                          f"'partial': true, so the front end can say 'availability unknown' instead of failing.")
