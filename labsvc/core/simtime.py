"""Simulated time: an event loop whose clock moves only when the simulation has nothing else to do.

A :class:`SimLoop` is an ordinary asyncio event loop (timers, tasks,
``asyncio.sleep``, ``asyncio.timeout`` all work) with two differences:

- its :meth:`~SimLoop.time` is virtual: it starts at 0 and advances only when
  every task is waiting on a timer, and then it jumps straight to the
  earliest timer. A 300 s autoscaler window or a 90 s registry lease costs
  no wall time at all; the same program gives the same times on any
  machine, busy or idle;
- it advances only while somebody *drives* it (awaits the simulation).
  Between two notebook cells nothing is awaited, so the simulated world
  stands still: heartbeats, scrapers and autoscalers do not race ahead
  while the learner reads.

The selector does the work, as ``looptime`` does for tests: asyncio asks
it to wait up to the next timer; it returns at once and moves the clock
instead (:class:`VirtualSelector`).

Work that would leave the loop runs inline instead: FastAPI's sync
endpoints and dependencies (run on anyio's worker threads on a real loop)
and ``loop.run_in_executor``, so no thread decides when a result comes back.
``time.sleep`` inside the simulation raises :class:`SimulationBlockedError`
naming the call: it would stall every service at once without moving the
clock.

A notebook's cells run on the kernel's own loop, which must keep real time
(ipykernel's and the widgets' timers live there). So the simulation runs
on its own loop in a thread of its own (:class:`SimRunner`, one per
process: all simulated networks share one clock), and :func:`on_sim`
carries a coroutine over and its result back. The kernel's loop waits on
an ordinary future meanwhile.

Scheduling is deterministic: the loop runs ready callbacks in the order
they became ready, and ties between timers due at the same instant are
broken by the order they were scheduled. A steered network hands the
order of same-instant deliveries to a chooser (:mod:`labsvc.core.choice`):
the selector lets one waiting delivery in whenever the loop is quiet,
before it moves the clock. Nothing else here reads a real
clock; work that would (a thread pool, a blocking call) is the caller's
to keep out of the simulation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import heapq
import inspect
import itertools
import selectors
import threading
import time
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

__all__ = ["now", "now_ns", "call_in", "DEFAULT_TIME", "experiment", "network_methods", "on_sim_loop", "SimulationBlockedError", "SimLoop", "VirtualSelector", "SimRunner", "runner", "on_sim", "in_simulation", "simulated", "follows_network",
           "run", "BUSY"]

T = TypeVar("T")

#: The time an in-process network gets when it names none: "simulated", or "real" inside an
#: experiment run with ``time="real"`` (:func:`experiment`). Process mode is always real.
DEFAULT_TIME: contextvars.ContextVar[str] = contextvars.ContextVar("labsvc_default_time", default="simulated")


class SimulationBlockedError(RuntimeError):
    """A blocking call (``time.sleep``) was made on simulated time, where it would stall every service."""


class VirtualSelector(selectors.BaseSelector):
    """A selector that moves its loop's clock instead of waiting for a timer.

    Real file objects (the loop's self-pipe, which wakes it when another
    thread hands it work) are still watched by a real selector.
    """

    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: SimLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        loop = self.loop
        choices = getattr(loop, "choices", None)
        if choices is not None and loop.drivers > 0 and choices.release():  # type: ignore[union-attr]
            return []  # quiet at this instant, a delivery waits at a door: let one in (labsvc.core.choice)
        if loop is not None and loop.real_holds:  # a real-time network runs here: the clock is the wall clock
            return self._real.select(timeout)
        if loop is not None and len(self._real.get_map()) > 1:
            # Real I/O is open besides the loop's own wake-up pipe (a subprocess, a socket): what it waits
            # for happens in real time, so the clock keeps to the wall clock while it is open.
            started = time.monotonic()
            ready = self._real.select(timeout)
            elapsed = time.monotonic() - started
            loop.advance(elapsed if timeout is None else min(timeout, elapsed) if ready else timeout)
            return ready
        if loop is not None and loop.drivers > 0 and timeout is not None:
            pace = loop.pace
            if pace:  # paced to the wall clock (live demos): wait, then move by what passed
                started = time.monotonic()
                ready = self._real.select(timeout / pace)
                loop.advance(min(timeout, (time.monotonic() - started) * pace) if ready else timeout)
                return ready
            loop.advance(timeout)  # nothing to do until the next timer: be there now
            return []
        # Nobody drives the simulation (between cells), or nothing is
        # scheduled at all: wait for work from another thread, in real time.
        return self._real.select(None if loop is None or loop.drivers == 0 else timeout)


class _OrderedTimer(asyncio.TimerHandle):
    """A timer ordered by (time, the order it was set): same-instant timers fire first in, first out."""

    __slots__ = ("_seq",)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, _OrderedTimer):
            return (self._when, self._seq) < (other._when, other._seq)
        return super().__lt__(other)


class SimLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on simulated time (see the module docstring).

    ``drivers`` counts the coroutines that drive the simulation (they were
    handed over by :func:`on_sim` or :func:`run`); time moves only while
    it is above zero. ``pace`` (None: as fast as it can) paces the clock to
    the wall clock: 1.0 is one simulated second per real second.
    """

    def __init__(self) -> None:
        selector = VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self.drivers = 0
        self.pace: float | None = None
        self.real_holds = 0  # real-time networks running here: time then moves with the wall clock
        self._anchor = 0.0  # the wall-clock reading when the first hold began
        self._last_ns = 0
        self._epoch_ns = 0  # simulated time taken back by rebase(): timestamps keep counting up across it
        self._timer_seq = itertools.count()
        _install_guards()

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> asyncio.Future:
        """Run ``func`` inline: a thread would decide when its result arrives, and time would move meanwhile.

        While a real-time network runs here (``real_holds``), threads are real again.
        """
        if self.real_holds:
            return super().run_in_executor(executor, func, *args)
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, as an executor would
            future.set_exception(exc)
        return future

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any,
                context: contextvars.Context | None = None) -> asyncio.TimerHandle:
        """Schedule ``callback`` at ``when``; timers due at the same instant fire in the order they were set.

        The loop's clock keeps running from one experiment to the next, so
        the same schedule starts from another time each run, and float sums
        such as ``t + 0.044 + 0.002`` and ``t + 0.046`` may land one unit in
        the last place apart or not, depending on ``t``. Times are therefore
        whole nanoseconds (``when`` is rounded), and timers due at one instant
        keep the order they were set in (asyncio's heap orders by time only,
        and what else it holds would decide): a rerun interleaves the same way.
        """
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        due = round(when, 9)
        if due <= self._now < when:  # asked for a moment less than a nanosecond ahead: the next nanosecond,
            due = round(self._now + 1e-9, 9)  # or a wait for it (``while loop.time() < deadline``) would spin
        timer = _OrderedTimer(due, callback, args, self, context)
        timer._seq = next(self._timer_seq)
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer

    def time(self) -> float:
        if self.real_holds:
            return self._now + (time.monotonic() - self._anchor)
        return self._now

    def hold_real_time(self) -> None:
        """A real-time network starts here: from now on the clock moves with the wall clock."""
        if not self.real_holds:
            self._anchor = time.monotonic()
        self.real_holds += 1

    def release_real_time(self) -> None:
        """A real-time network stopped; with none left, the clock is simulated again (it keeps what passed)."""
        if self.real_holds == 1:
            self._now += time.monotonic() - self._anchor
        self.real_holds = max(0, self.real_holds - 1)

    def time_ns(self) -> int:
        """Nanoseconds since the epoch on this loop's clock, strictly increasing between calls.

        Many timestamps fall on one simulated instant (a call and the calls it
        makes); each read then adds a nanosecond, so they keep the order they
        were taken in (a parent span starts before its children).
        """
        stamp = _SIM_EPOCH_NS + self._epoch_ns + int(round(self.time() * 1e9))
        self._last_ns = max(stamp, self._last_ns + 1)
        return self._last_ns

    def rebase(self) -> float:
        """Take the clock back to 0, every timer with it; the seconds taken back (timestamps keep counting up).

        An experiment that starts when nothing else runs here starts at 0,
        so its float sums (``t + lease``) round the same way every run, and a
        rerun in the same kernel gives the same numbers as the first run.
        """
        offset = self._now
        if offset <= 0 or self.real_holds:
            return 0.0
        for timer in self._scheduled:
            timer._when = round(timer._when - offset, 9)
        heapq.heapify(self._scheduled)
        self._now = 0.0
        self._epoch_ns += int(round(offset * 1e9))
        return offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never back)."""
        if seconds > 0:
            self._now = round(self._now + seconds, 9)  # on the nanosecond grid the timers are on (call_at)

    async def drive(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` here, letting time move while it is pending."""
        self.drivers += 1
        try:
            return await awaitable
        finally:
            self.drivers -= 1


_guards_installed = False


def _install_guards() -> None:
    """Inline anyio's worker threads and refuse ``time.sleep`` while on simulated time (process-wide, once)."""
    global _guards_installed
    if _guards_installed:
        return
    _guards_installed = True
    import anyio.to_thread

    threaded = anyio.to_thread.run_sync

    async def run_sync(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if in_simulation():  # a sync FastAPI endpoint, a dependency, a file response...
            return func(*args)
        return await threaded(func, *args, **kwargs)

    anyio.to_thread.run_sync = run_sync
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if in_simulation() and seconds > 0:
            raise SimulationBlockedError(
                f"time.sleep({seconds!r}) blocks the whole simulation and does not move its clock; in a service "
                f"write 'await asyncio.sleep({seconds!r})' (an async endpoint), or run this network with "
                f"time='real'"
            )
        real_sleep(seconds)

    time.sleep = sleep


def on_sim_loop() -> bool:
    """Whether the running event loop (if any) is a :class:`SimLoop` (work for a simulated network runs here)."""
    try:
        return isinstance(asyncio.get_running_loop(), SimLoop)
    except RuntimeError:
        return False


def call_in(loop: asyncio.AbstractEventLoop, fn: Callable[[], T], timeout: float = 30.0) -> T:
    """``fn()`` run by ``loop`` (in its own thread), waiting for the result; directly if ``loop`` runs here."""
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is loop or not loop.is_running():
        return fn()
    done: concurrent.futures.Future = concurrent.futures.Future()

    def call() -> None:
        try:
            done.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            done.set_exception(exc)

    loop.call_soon_threadsafe(call)
    return done.result(timeout)


def now() -> float:
    """Seconds for measuring durations: the simulation's clock on a :class:`SimLoop`, else ``time.perf_counter()``."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return time.perf_counter()
    return loop.time() if isinstance(loop, SimLoop) and not loop.real_holds else time.perf_counter()


def now_ns() -> int:
    """Nanoseconds since the epoch for timestamps (spans): the wall clock, moved by simulated time on a SimLoop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return time.time_ns()
    if isinstance(loop, SimLoop) and not loop.real_holds:
        return loop.time_ns()
    return time.time_ns()


_SIM_EPOCH_NS = time.time_ns()  # simulated timestamps count from the moment labsvc was loaded


def in_simulation() -> bool:
    """Whether the running event loop (if any) is on simulated time (and no real-time network holds it)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return isinstance(loop, SimLoop) and not loop.real_holds


class SimRunner:
    """A :class:`SimLoop` running forever in a daemon thread; :meth:`submit` hands it coroutines."""

    def __init__(self) -> None:
        self.loop = SimLoop()
        self._thread = threading.Thread(target=self._run, name="labsvc-simulation", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future:
        """Run ``coro`` on the simulation (driving its clock) and return a thread-safe future of its result."""
        return asyncio.run_coroutine_threadsafe(self.loop.drive(coro), self.loop)

    def now(self) -> float:
        return self.loop.time()


_runner: SimRunner | None = None
_runner_lock = threading.Lock()


def runner() -> SimRunner:
    """The process's simulation (started on first use)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = SimRunner()
        return _runner


async def on_sim(coro: Coroutine[Any, Any, T]) -> T:
    """``await coro`` on simulated time, from any loop.

    Already on the simulation: awaited as it is. From another loop (a
    notebook cell): run on the process's :class:`SimRunner` while this loop
    waits; cancelling the wait (interrupting the kernel) cancels it there.
    """
    if on_sim_loop():
        return await coro
    future = runner().submit(coro)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.cancel()
        raise


def simulated(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Coroutine[Any, Any, T]]:
    """Decorate an async function so that it always runs on simulated time (see :func:`on_sim`)."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        return await on_sim(fn(*args, **kwargs))

    return wrapper


def follows_network(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Coroutine[Any, Any, T]]:
    """Decorate an async function whose first argument is a network (or has one as ``.network``):
    when that network is on simulated time, the function runs there (see :func:`on_sim`)."""

    @functools.wraps(fn)
    async def wrapper(first: Any, *args: Any, **kwargs: Any) -> T:
        net = getattr(first, "network", None) or getattr(first, "net", None) or first
        if getattr(net, "simulated", False) and not on_sim_loop():
            return await on_sim(fn(first, *args, **kwargs))
        return await fn(first, *args, **kwargs)

    return wrapper


#: Functions that say whether something simulated is running now (a started network registers one):
#: an experiment started from a cell then shares the clock, and does not take it back to 0.
BUSY: list[Callable[[], bool]] = []


async def _from_zero(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    if isinstance(loop, SimLoop) and loop.drivers == 1 and not any(busy() for busy in BUSY):
        loop.rebase()  # nothing else is simulated: this experiment starts at 0, as in a fresh kernel
    return await coro


def experiment(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Coroutine[Any, Any, T]]:
    """Decorate a lab's experiment: it runs wholly on simulated time, unless called with ``time="real"``.

    Every network the experiment builds without naming a time gets the one
    the experiment runs on; with ``time="real"`` it runs on the caller's
    loop and its networks on the wall clock (to measure what things really
    cost on this machine: serialization, a proxy's overhead). Called from a
    cell while nothing else simulated runs, it starts the clock at 0
    (:meth:`SimLoop.rebase`): run again, it gives the same numbers.
    """

    @functools.wraps(fn)
    async def wrapper(*args: Any, time: str | None = None, **kwargs: Any) -> T:
        chosen = time or ("real" if kwargs.get("mode") == "process" else DEFAULT_TIME.get())
        if chosen not in ("simulated", "real"):
            raise ValueError(f"time={time!r} is not known; use 'simulated' or 'real'")
        token = DEFAULT_TIME.set(chosen)
        try:
            if chosen == "simulated":
                coro = fn(*args, **kwargs)
                return await (coro if on_sim_loop() else on_sim(_from_zero(coro)))
            return await fn(*args, **kwargs)
        finally:
            DEFAULT_TIME.reset(token)

    return wrapper


def network_methods(cls: type) -> type:
    """Class decorator: every public async method (and ``async with``) follows the instance's network.

    For a lab object that owns a network as ``.net`` or ``.network``: on
    simulated time its methods run there when called from a notebook cell.
    """
    for name, value in list(vars(cls).items()):
        if (not name.startswith("_") or name in ("__aenter__", "__aexit__")) and inspect.iscoroutinefunction(value):
            setattr(cls, name, follows_network(value))
    return cls


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` on a fresh :class:`SimLoop` of this thread (scripts and tests)."""
    loop = SimLoop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(loop.drive(coro))
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(loop.drive(asyncio.gather(*pending, return_exceptions=True)))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
