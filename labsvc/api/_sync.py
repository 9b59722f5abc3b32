"""Run a coroutine to completion from plain (synchronous) code, even inside Jupyter.

A notebook's kernel already runs an event loop, so ``asyncio.run`` refuses
to start a second one in the same thread. Checkers and the maturity checker
are synchronous functions that need to start a small private network;
they run it on a fresh event loop in a helper thread and wait for it.
Nothing is shared with the caller's loop: the private network is created,
used and stopped inside the thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

__all__ = ["run_sync"]


def run_sync(make: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    """Await ``make()`` and return its result; on a helper thread if this thread's loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(make))
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(_as_coroutine(make))
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="labsvc-run-sync", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"gave up after {timeout:g} s waiting for {make!r}")
    if "error" in box:
        raise box["error"]
    return box.get("value")


async def _as_coroutine(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()
