"""A pump: the small scheduler that keeps calling one endpoint (a relay, a projector).

Real systems run an outbox relay or a read-model projector as a loop inside
the service or next to it (a sidecar, a scheduled job). Here the loop lives
outside the service and drives it through an HTTP endpoint, so every step
is a hop in the call log and tests can run it one round at a time
(:meth:`Pump.once`, :meth:`Pump.drain`) instead of waiting on a background
task.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import httpx

from labsvc.core.clock import Clock, MonotonicClock, parse_duration
from labsvc.core.errors import ConfigurationError, NetworkStateError

__all__ = ["Pump", "PumpError"]


class PumpError(RuntimeError):
    """One round of a pump failed (the endpoint answered an error or could not be reached)."""


class Pump:
    """Call ``POST url`` with ``body`` over and over, as ``caller``.

    ``start()`` runs the loop in the background: a round that fails is
    counted in ``errors`` and followed by a pause of ``backoff`` (on
    ``clock``); a round that did nothing is followed by ``idle`` unless the
    endpoint itself waits (a long poll). ``stop()`` ends it. The loop also
    ends when its network stops.

    ``done(answer)`` says whether a round's JSON answer means "nothing left
    to do"; :meth:`drain` runs rounds until it does.
    """

    def __init__(
        self,
        net: Any,
        url: str,
        *,
        caller: str,
        body: dict[str, Any] | None = None,
        done: Callable[[dict[str, Any]], bool],
        backoff: float | str = "20ms",
        idle: float | str = 0.0,
        timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.net = net
        self.url = url
        self.caller = caller
        self.body = dict(body or {})
        self.done = done
        self.backoff = parse_duration(backoff, name="backoff")
        self.idle = parse_duration(idle, name="idle")
        self.timeout = timeout
        self.clock: Clock = clock or MonotonicClock()
        self.rounds = 0
        self.errors = 0
        self.last_error = ""
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        """True while the background loop runs."""
        return self._task is not None and not self._task.done()

    async def once(self, **overrides: Any) -> dict[str, Any]:
        """One round; returns the endpoint's JSON answer or raises :class:`PumpError`."""
        self.rounds += 1
        try:
            r = await self.net.client(self.caller, timeout=self.timeout).post(self.url, json={**self.body, **overrides})
        except httpx.HTTPError as exc:
            self.errors += 1
            self.last_error = type(exc).__name__
            raise PumpError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if r.status_code >= 400:
            self.errors += 1
            doc = r.json() if r.headers.get("content-type", "").endswith("json") else {}
            self.last_error = f"{r.status_code} {doc.get('title', '')}".strip()
            raise PumpError(f"{self.url} answered {r.status_code}: {doc.get('detail', r.text)}")
        return r.json()

    async def drain(self, *, max_rounds: int = 10_000, **overrides: Any) -> int:
        """Run rounds until one says there is nothing left; returns how many rounds did work.

        Raises :class:`PumpError` at the first failing round, and
        :class:`ConfigurationError` if ``max_rounds`` is reached (a pump that
        never runs dry is a bug, not something to wait out).
        """
        for n in range(max_rounds):
            if self.done(await self.once(**overrides)):
                return n
        raise ConfigurationError(f"{self.url} still had work after {max_rounds} rounds")

    def start(self) -> None:
        """Run the loop in the background (idempotent)."""
        if self.running:
            return
        spawn = getattr(self.net, "spawn", None)  # a Network runs it on its own loop; a service alone, here
        name = f"pump {self.url}"
        self._task = spawn(self._loop(), name=name) if spawn else asyncio.get_running_loop().create_task(
            self._loop(), name=name)

    async def stop(self) -> None:
        """Stop the loop and wait for it to end (idempotent)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping must not fail
            pass

    async def _loop(self) -> None:
        while True:
            # A round may never suspend (an in-process hop, a fake clock's sleep):
            # give the other tasks a turn every time.
            await asyncio.sleep(0)
            try:
                answer = await self.once()
            except NetworkStateError:
                return  # the network was stopped (or replaced by a re-run): nothing left to drive
            except Exception as exc:  # noqa: BLE001 - a pump outlives any failing round
                if not isinstance(exc, PumpError):
                    self.errors += 1
                    self.last_error = type(exc).__name__
                if not self.net.started:
                    return
                await self.clock.sleep(self.backoff)
                continue
            if self.idle and self.done(answer):
                await self.clock.sleep(self.idle)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Pump {self.url} {state} rounds={self.rounds} errors={self.errors}>"
