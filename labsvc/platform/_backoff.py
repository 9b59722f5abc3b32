"""Restart back-offs: how long a platform waits before restarting an instance that keeps crashing.

Two platforms, two rules, one interface (:meth:`next_delay` when the
instance fails, :meth:`started` when it runs again):

- :class:`CrashLoopBackOff`, Kubernetes' kubelet (docs, "Pod Lifecycle",
  container restarts): a failed container is restarted after 10 s, then
  20 s, 40 s ... doubling up to 5 minutes; once it has run for 10 minutes
  without failing, the back-off starts over.
- :class:`CloudFoundryBackOff`, Cloud Foundry's Diego (docs, "App container
  lifecycle", crash events; ``bbs`` ``models/restart_calculator.go``): the
  first three crashes are restarted at once; then it waits 30 s, doubling
  each restart up to 16 minutes (reached at the ninth restart), and after the
  200th restart it stops trying (:meth:`next_delay` returns ``None``). An
  instance that had been running for more than 5 minutes when it crashed
  starts its crash count over (``bbs`` ``CrashResetTimeout``).

>>> from labsvc.core.clock import FakeClock
>>> b = CrashLoopBackOff(clock=FakeClock())
>>> [b.next_delay() for _ in range(7)]
[10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
>>> cf = CloudFoundryBackOff(clock=FakeClock())
>>> [cf.next_delay() for _ in range(10)]
[0.0, 0.0, 0.0, 30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 960.0]
"""

from __future__ import annotations

from typing import Protocol

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.errors import ConfigurationError

__all__ = ["RestartBackOff", "CrashLoopBackOff", "CloudFoundryBackOff", "INITIAL_BACKOFF", "MAX_BACKOFF",
           "RESET_AFTER", "CF_IMMEDIATE_RESTARTS", "CF_MIN_BACKOFF", "CF_MAX_BACKOFF", "CF_MAX_RESTARTS",
           "CF_RESET_AFTER"]

INITIAL_BACKOFF = 10.0   # seconds before the first restart
MAX_BACKOFF = 300.0      # the cap: 5 minutes
RESET_AFTER = 600.0      # a container that ran this long without failing starts over at 10 s

CF_IMMEDIATE_RESTARTS = 3    # Diego restarts the first three crashes at once
CF_MIN_BACKOFF = 30.0        # then waits 30 s ...
CF_MAX_BACKOFF = 960.0       # ... doubling up to 16 minutes
CF_MAX_RESTARTS = 200        # and gives up after the 200th restart
CF_RESET_AFTER = 300.0       # an instance that ran more than 5 minutes before it crashed starts its count over


class RestartBackOff(Protocol):
    """What the platform's kubelet asks of a back-off (one per instance)."""

    failures: int

    def started(self) -> None:
        """The instance runs again."""

    def next_delay(self) -> float | None:
        """The instance failed: seconds to wait before restarting it, or ``None``: never restart it."""


class _BackOff:
    def __init__(self, clock: Clock | None) -> None:
        self.clock = clock or MonotonicClock()
        self.failures = 0
        self._running_since: float | None = None

    def started(self) -> None:
        """The instance is running again (its healthy stretch starts now)."""
        self._running_since = self.clock.now()

    def _ran_for(self) -> float | None:
        ran = None if self._running_since is None else self.clock.now() - self._running_since
        self._running_since = None
        return ran


class CrashLoopBackOff(_BackOff):
    """Kubernetes' restart back-off of one container (see the module docstring).

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
        super().__init__(clock)
        self.initial = float(initial)
        self.cap = float(cap)
        self.reset_after = float(reset_after)

    def next_delay(self) -> float:
        """The container failed: seconds to wait before restarting it."""
        ran = self._ran_for()
        if ran is not None and ran >= self.reset_after:
            self.failures = 0
        delay = min(self.cap, self.initial * 2 ** self.failures)
        self.failures += 1
        return delay

    def __repr__(self) -> str:
        return f"CrashLoopBackOff(failures={self.failures}, next={min(self.cap, self.initial * 2 ** self.failures):g}s)"


class CloudFoundryBackOff(_BackOff):
    """Cloud Foundry's crash restarts of one app instance (see the module docstring).

    ``failures`` counts the crashes in a row (Diego's crash count).
    :meth:`next_delay` returns 0 for the first ``immediate`` crashes, then
    ``minimum`` doubling up to ``cap``, and ``None`` once ``max_restarts``
    restarts have been made (the instance stays crashed).
    """

    def __init__(self, *, immediate: int = CF_IMMEDIATE_RESTARTS, minimum: float = CF_MIN_BACKOFF,
                 cap: float = CF_MAX_BACKOFF, max_restarts: int = CF_MAX_RESTARTS,
                 reset_after: float = CF_RESET_AFTER, clock: Clock | None = None) -> None:
        if immediate < 0 or minimum <= 0 or cap < minimum or max_restarts < 1:
            raise ConfigurationError(f"immediate={immediate!r}, minimum={minimum!r}, cap={cap!r}, "
                                     f"max_restarts={max_restarts!r}: need immediate >= 0, 0 < minimum <= cap, "
                                     f"max_restarts >= 1 (Cloud Foundry: 3, 30, 960, 200)")
        super().__init__(clock)
        self.immediate = int(immediate)
        self.minimum = float(minimum)
        self.cap = float(cap)
        self.max_restarts = int(max_restarts)
        self.reset_after = float(reset_after)

    def next_delay(self) -> float | None:
        """The instance crashed: 0 (restart now), a wait in seconds, or ``None`` (give up)."""
        ran = self._ran_for()
        if ran is not None and ran > self.reset_after:
            self.failures = 0
        self.failures += 1
        if self.failures > self.max_restarts:
            return None
        if self.failures <= self.immediate:
            return 0.0
        return min(self.cap, self.minimum * 2 ** (self.failures - self.immediate - 1))

    def __repr__(self) -> str:
        return f"CloudFoundryBackOff(crashes={self.failures})"
