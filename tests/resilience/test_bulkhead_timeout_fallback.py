"""Timeouts, bulkheads and fallbacks, driven by asyncio events and a fake clock."""

from __future__ import annotations

import asyncio
import warnings

import httpx
import pytest

from labsvc.core.clock import FakeClock
from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.resilience import (
    Bulkhead,
    BulkheadFull,
    CallNotPermitted,
    CallTimeoutError,
    CircuitBreaker,
    Fallback,
    ResultRecordedAsFailure,
    Timeout,
    is_server_error,
    timeout,
    with_timeout,
)
from labsvc.core import simtime


async def let_others_run(times: int = 5) -> None:
    """Yield to the event loop a few times (no time passes)."""
    for _ in range(times):
        await asyncio.sleep(0)


# --- timeout ----------------------------------------------------------------------


def test_real_timeout_names_its_limit():
    async def main():
        never = asyncio.Event()
        await with_timeout(never.wait(), 0.05)

    with pytest.raises(CallTimeoutError, match=r"within 0\.05 s") as info:
        simtime.run(main())
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, LabsvcError)
    assert info.value.seconds == 0.05


def test_fast_call_returns_its_value():
    async def answer():
        return 42

    assert simtime.run(with_timeout(answer(), "1s")) == 42


def test_fake_clock_call_that_outruns_the_deadline_times_out():
    clock = FakeClock()

    async def slow():
        await clock.sleep(10)
        return "late"

    async def quick():
        await clock.sleep(3)
        return "on time"

    with pytest.raises(CallTimeoutError, match="within 5 s"):
        simtime.run(with_timeout(slow(), 5, clock=clock))
    assert simtime.run(with_timeout(quick(), 5, clock=clock)) == "on time"


def test_fake_clock_blocked_call_times_out_when_the_clock_passes_the_deadline():
    clock = FakeClock()

    async def main():
        never = asyncio.Event()
        task = asyncio.create_task(with_timeout(never.wait(), 5, clock=clock))
        await let_others_run()
        clock.advance(4)
        await let_others_run()
        assert not task.done()
        clock.advance(2)
        with pytest.raises(CallTimeoutError):
            await task

    simtime.run(main())


def test_timeout_context_manager_and_inner_timeouts_pass_through():
    async def main():
        async with timeout(5):
            raise TimeoutError("the callee's own timeout")

    with pytest.raises(TimeoutError, match="callee's own") as info:
        simtime.run(main())
    assert not isinstance(info.value, CallTimeoutError)


def test_bad_timeout_is_a_configuration_error_and_closes_the_coroutine():
    async def answer():
        return 42

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would fail the test
        with pytest.raises(ConfigurationError, match="timeout"):
            simtime.run(with_timeout(answer(), -1))


def test_timeout_object_counts_calls_and_timeouts():
    clock = FakeClock()
    limit = Timeout("1s", clock=clock)

    async def main():
        assert await limit.call(clock.sleep, 0.5) is None
        with pytest.raises(CallTimeoutError):
            await limit.call(clock.sleep, 2)

    simtime.run(main())
    assert (limit.calls, limit.timeouts) == (2, 1)


# --- bulkhead ------------------------------------------------------------------------


def test_full_bulkhead_rejects_at_once_by_default():
    bulkhead = Bulkhead("payments", max_concurrent_calls=2)

    async def main():
        release = asyncio.Event()
        holders = [asyncio.create_task(bulkhead.call(release.wait)) for _ in range(2)]
        await let_others_run()
        assert bulkhead.in_flight == 2
        with pytest.raises(BulkheadFull, match="max_concurrent_calls=2") as info:
            await bulkhead.call(release.wait)
        assert isinstance(info.value, LabsvcError)
        release.set()
        await asyncio.gather(*holders)
        assert await bulkhead.call(lambda: "room again") == "room again"

    simtime.run(main())
    assert bulkhead.stats() == {"admitted": 3, "rejected": 1, "in_flight": 0, "waiting": 0, "max_in_flight": 2}


def test_waiting_call_gets_the_slot_when_one_frees():
    clock = FakeClock()
    bulkhead = Bulkhead("payments", max_concurrent_calls=1, max_wait_duration="5s", clock=clock)

    async def main():
        release = asyncio.Event()
        holder = asyncio.create_task(bulkhead.call(release.wait))
        await let_others_run()
        waiter = asyncio.create_task(bulkhead.call(lambda: "served"))
        await let_others_run()
        assert bulkhead.waiting == 1
        assert not waiter.done()
        release.set()
        assert await waiter == "served"
        await holder

    simtime.run(main())
    assert (bulkhead.admitted, bulkhead.rejected, bulkhead.in_flight) == (2, 0, 0)


def test_waiting_call_is_rejected_after_max_wait_without_leaking_a_slot():
    clock = FakeClock()
    bulkhead = Bulkhead("payments", max_concurrent_calls=1, max_wait_duration="5s", clock=clock)

    async def main():
        release = asyncio.Event()
        holder = asyncio.create_task(bulkhead.call(release.wait))
        await let_others_run()
        waiter = asyncio.create_task(bulkhead.call(lambda: "served"))
        await let_others_run()
        clock.advance(6)
        with pytest.raises(BulkheadFull, match="max_wait_duration=5 s"):
            await waiter
        release.set()
        await holder

    simtime.run(main())
    assert bulkhead.available == 1
    assert (bulkhead.admitted, bulkhead.rejected, bulkhead.waiting) == (1, 1, 0)


def test_bulkhead_frees_the_slot_when_the_call_fails():
    bulkhead = Bulkhead(max_concurrent_calls=1)

    async def broken():
        raise OSError("down")

    async def main():
        for _ in range(3):
            with pytest.raises(OSError):
                await bulkhead.call(broken)

    simtime.run(main())
    assert (bulkhead.admitted, bulkhead.rejected, bulkhead.in_flight) == (3, 0, 0)


def test_bulkhead_caps_concurrency():
    bulkhead = Bulkhead(max_concurrent_calls=3, max_wait_duration=60, clock=FakeClock())

    async def work():
        await let_others_run(3)
        return bulkhead.in_flight

    async def main():
        return await asyncio.gather(*(bulkhead.call(work) for _ in range(10)))

    seen = simtime.run(main())
    assert max(seen) == 3
    assert bulkhead.max_in_flight == 3
    assert (bulkhead.admitted, bulkhead.rejected) == (10, 0)


def test_bad_bulkhead_settings():
    with pytest.raises(ConfigurationError, match="max_concurrent_calls"):
        Bulkhead(max_concurrent_calls=0)
    with pytest.raises(ConfigurationError, match="max_wait_duration"):
        Bulkhead(max_wait_duration="soon")


# --- fallback --------------------------------------------------------------------------


def test_falls_back_to_a_value_when_the_breaker_is_open():
    breaker = CircuitBreaker("recommendations", clock=FakeClock())
    breaker.transition_to_forced_open_state()
    fallback = Fallback(["bestsellers"])

    async def recommend():
        return await breaker.call(lambda: ["personal picks"])

    assert simtime.run(fallback.call(recommend)) == ["bestsellers"]
    assert fallback.fell_back == 1
    events = fallback.events
    assert events["fell_back"].tolist() == [True]
    assert events["reason"].iloc[0].startswith("CallNotPermitted")


def test_falls_back_to_a_function_of_the_error():
    bulkhead = Bulkhead(max_concurrent_calls=1)

    async def degraded(exc):
        return f"degraded: {type(exc).__name__}"

    fallback = Fallback(degraded)

    async def main():
        release = asyncio.Event()
        holder = asyncio.create_task(bulkhead.call(release.wait))
        await let_others_run()
        answer = await fallback.call(bulkhead.call, release.wait)
        release.set()
        await holder
        return answer

    assert simtime.run(main()) == "degraded: BulkheadFull"


def test_falls_back_on_timeouts_and_httpx_errors_only():
    clock = FakeClock()
    fallback = Fallback("cached")

    async def slow():
        await clock.sleep(2)

    async def refused():
        raise httpx.ConnectError("connection refused")

    async def bug():
        raise KeyError("a bug, not an outage")

    async def main():
        assert await fallback.call(with_timeout, slow(), 1, clock=clock) == "cached"
        assert await fallback.call(refused) == "cached"
        with pytest.raises(KeyError):
            await fallback.call(bug)
        assert await fallback.call(lambda: "fresh") == "fresh"

    simtime.run(main())
    assert (fallback.calls, fallback.fell_back) == (4, 2)
    assert fallback.events["fell_back"].tolist() == [True, True, False]  # the bug raised: no row


def test_falls_back_on_server_error_results():
    seen = []

    def from_cache(exc):
        seen.append(exc)
        return "cached"

    fallback = Fallback(from_cache, on_result=is_server_error)

    async def get():
        return httpx.Response(503)

    assert simtime.run(fallback.call(get)) == "cached"
    assert isinstance(seen[0], ResultRecordedAsFailure)
    assert seen[0].result.status_code == 503


def test_fallback_decorate():
    fallback = Fallback(0, on=(CallNotPermitted,))

    @fallback.decorate
    async def count():
        raise CallNotPermitted("stock", "OPEN", 1.0)

    assert simtime.run(count()) == 0
