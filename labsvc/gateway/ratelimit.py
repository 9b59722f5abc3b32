"""Rate limiting with token buckets, one bucket per client.

A **token bucket** holds at most ``capacity`` tokens and gains
``refill_rate`` tokens per second. A request takes one token; when none is
left it is **throttled** (HTTP 429 with ``Retry-After``). So a client may
send a burst of up to ``capacity`` requests at once, and ``refill_rate``
requests per second on average after that. Envoy's local rate limit, Kong's
and Spring Cloud Gateway's ``RequestRateLimiter`` (``burstCapacity`` and
``replenishRate``) all work this way.

The bucket refills lazily: it remembers when it was last looked at and adds
``elapsed * refill_rate`` tokens then, so there is no timer to run, and on a
:class:`~labsvc.core.clock.FakeClock` the arithmetic is exact.

>>> from labsvc.core.clock import FakeClock
>>> clock = FakeClock()
>>> bucket = TokenBucket(capacity=3, refill_rate=2, clock=clock)
>>> [bucket.try_acquire() for _ in range(4)]
[True, True, True, False]
>>> bucket.retry_after()
0.5
>>> clock.advance(0.5); bucket.try_acquire()
True
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError

__all__ = ["TokenBucket", "RateLimit", "RateLimiter", "Decision", "parse_rate"]

# Floating-point refills (0.1 s * 10/s) can land a hair under a whole token;
# anything closer than this counts as the whole token.
_EPSILON = 1e-9
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_RATE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*/\s*([a-z]+)\s*")


def parse_rate(value: float | int | str, *, name: str = "refill_rate") -> float:
    """Tokens per second from ``20``, ``"20/s"``, ``"600/min"`` or ``"1000/h"``.

    >>> parse_rate("600/min")
    10.0
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"{name} must be a number per second or a string like '20/s', not a bool")
    if isinstance(value, (int, float)):
        rate = float(value)
    elif isinstance(value, str):
        match = _RATE.fullmatch(value.lower())
        if match is None or match.group(2) not in _PER:
            raise ConfigurationError(f"{name}={value!r} is not a rate; write e.g. 20, '20/s', '600/min' or '1000/h'")
        rate = float(match.group(1)) / _PER[match.group(2)]
    else:
        raise ConfigurationError(f"{name} must be a number per second or a string like '20/s', got {type(value).__name__}")
    if not math.isfinite(rate) or rate < 0:
        raise ConfigurationError(f"{name}={value!r} must be zero or more tokens per second")
    return rate


class TokenBucket:
    """One bucket: ``capacity`` tokens at most, ``refill_rate`` tokens per second.

    It starts full (``tokens`` to start otherwise). ``refill_rate`` may be
    0: the bucket then allows ``capacity`` requests in all.
    """

    def __init__(self, capacity: int, refill_rate: float | str, *, clock: Clock | None = None,
                 tokens: float | None = None) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigurationError(
                f"capacity={capacity!r} must be a whole number of at least 1 (the largest burst allowed)"
            )
        self.capacity = capacity
        self.refill_rate = parse_rate(refill_rate)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        start = float(capacity) if tokens is None else float(tokens)
        if not 0 <= start <= capacity:
            raise ConfigurationError(f"tokens={tokens!r} must be between 0 and capacity={capacity}")
        self._tokens = start
        self._last = self.clock.now()
        self.admitted = 0
        self.throttled = 0

    def _refill(self) -> float:
        now = self.clock.now()
        if now > self._last:
            self._tokens = min(float(self.capacity), self._tokens + (now - self._last) * self.refill_rate)
            self._last = now
        return self._tokens

    @property
    def tokens(self) -> float:
        """Tokens in the bucket right now."""
        return self._refill()

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens if there are that many (True), else take none (False)."""
        if n > self.capacity:
            raise ConfigurationError(f"cannot take {n} tokens from a bucket of capacity {self.capacity}")
        if self._refill() + _EPSILON >= n:
            self._tokens = max(0.0, self._tokens - n)
            self.admitted += 1
            return True
        self.throttled += 1
        return False

    def retry_after(self, n: int = 1) -> float:
        """Seconds until ``n`` tokens are there (0 if they are now; inf if it never refills)."""
        missing = n - self._refill()
        if missing <= _EPSILON:
            return 0.0
        return math.inf if self.refill_rate == 0 else missing / self.refill_rate

    def __repr__(self) -> str:
        return f"TokenBucket(capacity={self.capacity}, refill_rate={self.refill_rate:g}/s, tokens={self.tokens:.2f})"


@dataclass(frozen=True)
class RateLimit:
    """A rate limit per client: each client gets its own :class:`TokenBucket`.

    ``capacity`` is the burst a client may send at once, ``refill_rate`` the
    sustained rate (per second, or a string such as ``"600/min"``).
    ``key(request, claims) -> str`` names the client (default: the verified
    ``sub``, else the API key header, else the calling instance).

    >>> RateLimit(capacity=10, refill_rate="5/s").refill_rate
    5.0
    """

    capacity: int
    refill_rate: float | str
    key: Callable[[Any, dict | None], str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "refill_rate", parse_rate(self.refill_rate))
        TokenBucket(self.capacity, self.refill_rate, clock=MonotonicClock())  # validates capacity


@dataclass(frozen=True)
class Decision:
    """What the limiter decided for one request."""

    allowed: bool
    client: str
    remaining: float
    retry_after: float

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` is whole seconds (RFC 9110); round up, at least 1."""
        if math.isinf(self.retry_after):
            return "3600"
        return str(max(1, math.ceil(self.retry_after - _EPSILON)))


class RateLimiter:
    """The buckets of one :class:`RateLimit`, one per client, created on first use.

    At most ``max_clients`` buckets are kept; the least recently seen client
    is forgotten first (it comes back with a full bucket, the usual trade
    of an in-memory limiter).

    >>> from labsvc.core.clock import FakeClock
    >>> limiter = RateLimiter(RateLimit(capacity=2, refill_rate=1), clock=FakeClock())
    >>> [limiter.decide("alice").allowed for _ in range(3)], limiter.decide("bob").allowed
    ([True, True, False], True)
    """

    def __init__(self, limit: RateLimit, *, clock: Clock | None = None, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, client: str) -> TokenBucket:
        """The bucket of ``client`` (a new, full one if unknown)."""
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket(self.limit.capacity, self.limit.refill_rate, clock=self.clock)
            self._buckets[client] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket

    def decide(self, client: str) -> Decision:
        """Take a token for ``client`` if one is there."""
        bucket = self.bucket(client)
        allowed = bucket.try_acquire()
        return Decision(allowed, client, bucket._tokens, 0.0 if allowed else bucket.retry_after())

    @property
    def clients(self) -> list[str]:
        return list(self._buckets)

    def reset(self) -> None:
        """Forget every bucket (every client starts full again)."""
        self._buckets.clear()

    def __repr__(self) -> str:
        return f"RateLimiter(capacity={self.limit.capacity}, refill_rate={self.limit.refill_rate:g}/s, clients={len(self._buckets)})"
