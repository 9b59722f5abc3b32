"""CrashLoopBackOff: how long the platform waits before restarting a container that keeps failing.

Kubernetes' kubelet restarts a failed container after 10 s, then 20 s,
40 s ... doubling up to 5 minutes, and forgets the back-off once the
container has run for 10 minutes (twice the cap) without failing.

>>> from labsvc.clock import FakeClock
>>> b = CrashLoopBackOff(clock=FakeClock())
>>> [b.next_delay() for _ in range(7)]
[10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
"""

from __future__ import annotations

from ..clock import Clock, MonotonicClock
from ..errors import ConfigurationError

__all__ = ["CrashLoopBackOff", "INITIAL_BACKOFF", "MAX_BACKOFF", "RESET_AFTER"]

INITIAL_BACKOFF = 10.0   # seconds before the first restart
MAX_BACKOFF = 300.0      # the cap: 5 minutes
RESET_AFTER = 600.0      # a container that ran this long without failing starts over at 10 s


class CrashLoopBackOff:
    """The restart back-off of one container (one instance).

    :meth:`next_delay` is asked each time the container fails: it returns
    the wait before the restart and doubles the next one. :meth:`started`
    is told when the container runs again; if it then ran for
    ``reset_after`` seconds before the next failure, the back-off starts
    over at ``initial``.
    """

    def __init__(self, *, initial: float = INITIAL_BACKOFF, cap: float = MAX_BACKOFF,
                 reset_after: float = RESET_AFTER, clock: Clock | None = None) -> None:
        if initial <= 0 or cap < initial:
            raise ConfigurationError(f"initial={initial!r}, cap={cap!r}: need 0 < initial <= cap (e.g. 10 and 300)")
        self.initial = float(initial)
        self.cap = float(cap)
        self.reset_after = float(reset_after)
        self.clock = clock or MonotonicClock()
        self.failures = 0
        self._running_since: float | None = None

    def started(self) -> None:
        """The container is running again (its healthy stretch starts now)."""
        self._running_since = self.clock.now()

    def next_delay(self) -> float:
        """The container failed: seconds to wait before restarting it."""
        now = self.clock.now()
        if self._running_since is not None and now - self._running_since >= self.reset_after:
            self.failures = 0
        self._running_since = None
        delay = min(self.cap, self.initial * 2 ** self.failures)
        self.failures += 1
        return delay

    def __repr__(self) -> str:
        return f"CrashLoopBackOff(failures={self.failures}, next={min(self.cap, self.initial * 2 ** self.failures):g}s)"
