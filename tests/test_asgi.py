"""``await_within``: the hop's timeout, armed only once the call waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from labsvc.core.asgi import await_within
from labsvc.core import simtime


def run(coro):
    return simtime.run(coro)


def test_a_call_that_never_waits_returns_its_value_without_a_timer():
    async def quick():
        return 42

    async def main():
        loop = asyncio.get_running_loop()
        before = len(loop._scheduled)  # noqa: SLF001 - the loop's timer heap
        value = await await_within(quick(), 5.0, time.perf_counter())
        return value, len(loop._scheduled) - before  # noqa: SLF001

    assert run(main()) == (42, 0)


def test_a_call_that_waits_past_its_timeout_raises_timeout_error():
    async def hang(done: list):
        try:
            await asyncio.sleep(3600)
        finally:
            done.append("cleaned up")

    async def main():
        done: list = []
        with pytest.raises(TimeoutError):
            await await_within(hang(done), 0.01, time.perf_counter())
        return done

    assert run(main()) == ["cleaned up"]


def test_a_call_that_waits_and_answers_in_time_returns_its_value():
    async def slow():
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        return "answer"

    assert run(await_within(slow(), 5.0, time.perf_counter())) == "answer"


def test_time_spent_before_the_call_counts_against_its_timeout():
    async def waits_a_little():
        await asyncio.sleep(0.2)

    async def main():
        started = time.perf_counter() - 10.0  # the hop began 10 s ago
        with pytest.raises(TimeoutError):
            await await_within(waits_a_little(), 1.0, started)

    run(main())


def test_errors_inside_the_call_pass_through_unchanged():
    async def broken():
        await asyncio.sleep(0)
        raise KeyError("x")

    async def broken_at_once():
        raise ValueError("y")

    with pytest.raises(KeyError):
        run(await_within(broken(), 5.0, time.perf_counter()))
    with pytest.raises(ValueError):
        run(await_within(broken_at_once(), 5.0, time.perf_counter()))


def test_a_cancellation_from_outside_is_a_cancellation_not_a_timeout():
    seen: list = []

    async def hang():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    async def main():
        task = asyncio.ensure_future(await_within(hang(), 60.0, time.perf_counter()))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert seen == ["cancelled inside"]


def test_a_call_may_handle_a_cancellation_and_carry_on_waiting():
    async def stubborn():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # waits again while handling it
            return "handled"

    async def main():
        task = asyncio.ensure_future(await_within(stubborn(), 60.0, time.perf_counter()))
        await asyncio.sleep(0.01)
        task.cancel()
        return await task

    assert run(main()) == "handled"
