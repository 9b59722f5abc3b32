"""The lean in-process transport: call an ASGI app directly, run its lifespan.

This is what makes an in-process hop cheap. A request becomes one ASGI
``http`` scope, the body is handed over in one ``receive`` message and the
response is collected from ``send`` messages; no sockets, no threads, no
extra tasks. The ASGI lifespan protocol (``startup`` / ``shutdown``) is run
when an instance starts and stops, the way uvicorn runs it, so FastAPI
``lifespan`` handlers open and close their resources as they would in
production. (httpx's own ``ASGITransport`` skips the lifespan.)

:func:`await_within` is the hop's timeout: most in-process calls finish
without ever waiting, so the timer is armed only when the call first waits.
"""

from __future__ import annotations

import asyncio
import time
import types
from typing import Any, Callable, Coroutine

__all__ = ["ASGIResponse", "call_asgi", "await_within", "Lifespan", "LifespanError"]

ASGIApp = Callable[..., Any]


class LifespanError(RuntimeError):
    """The app reported ``lifespan.startup.failed`` or ``shutdown.failed``."""


class ASGIResponse:
    """Status, raw headers, body and any exception raised by the app."""

    __slots__ = ("status", "headers", "body", "exception")

    def __init__(self, status: int, headers: list, body: bytes, exception: BaseException | None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.exception = exception


_ASGI = {"version": "3.0", "spec_version": "2.3"}


async def call_asgi(app: ASGIApp, scope: dict, body: bytes = b"", work: float = 0.0) -> ASGIResponse:
    """Send one HTTP request into ``app`` and collect the whole response.

    ``work`` (seconds) is the time the app takes to produce its answer on
    simulated time, where running the handler itself costs none: the
    response leaves that much later, so whatever wraps the app (a server
    span, RED metrics) measures it.

    ``scope`` must be a complete ASGI ``http`` scope. When the app raises
    after it started a response (Starlette's error middleware answers 500 and
    re-raises), the response stands and the exception is kept, the way a
    server logs it; when it raises before, the answer is a bare 500.
    """
    status = 0
    headers: list = []
    chunks: list[bytes] = []
    body_sent = False
    done: asyncio.Event | None = None

    async def receive() -> dict:
        nonlocal body_sent, done
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # After the body, a well-behaved server only reports a disconnect,
        # which happens once the response is complete.
        if done is None:
            done = asyncio.Event()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status, headers, work
        kind = message["type"]
        if kind == "http.response.start":
            if work > 0:
                await asyncio.sleep(work)
                work = 0.0
            status = message["status"]
            headers = message.get("headers", [])
        elif kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)

    error: BaseException | None = None
    try:
        await app(scope, receive, send)
    except Exception as exc:  # the app crashed: a real server would answer 500
        error = exc
    finally:
        if done is not None:
            done.set()
    if status == 0:
        return ASGIResponse(500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error", error)
    return ASGIResponse(status, headers, b"".join(chunks) if len(chunks) != 1 else chunks[0], error)


async def await_within(coro: Coroutine, timeout: float, started: float,
                       clock: Callable[[], float] = time.perf_counter) -> Any:
    """``await coro``, raising ``TimeoutError`` once ``timeout`` seconds have passed since ``started``.

    ``started`` is a reading of ``clock`` (the network's: real or simulated). The same as
    ``async with asyncio.timeout(...): await coro``, except that the timer
    (a scheduled handle, a cancellation to undo) is armed only if ``coro``
    waits: a call that completes in one go cannot be interrupted by a timer
    anyway, since none can fire until it waits. When it does wait, the time
    already spent counts against ``timeout``.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration as done:
        return done.value
    async with asyncio.timeout(timeout - (clock() - started)):
        return await _resume(coro, waiting_on)


@types.coroutine
def _resume(coro: Coroutine, waiting_on: Any):
    # Hand the task what ``coro`` is waiting on, then carry on as ``await coro``
    # would: an exception thrown in while waiting (a cancellation, the timeout)
    # is raised inside ``coro`` where it waits.
    while True:
        try:
            yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        return (yield from coro)


class Lifespan:
    """Runs an app's ASGI lifespan: ``await startup()`` then ``await shutdown()``.

    Apps that do not speak the lifespan protocol (they raise on the
    ``lifespan`` scope) are accepted, as uvicorn's ``lifespan="auto"`` does.
    ``state`` is the lifespan state dict that is copied into every request
    scope, as the ASGI spec describes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict = {}
        self.supported = True
        self._receive: asyncio.Queue | None = None
        self._sent: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    async def startup(self) -> None:
        self._receive = asyncio.Queue()
        self._sent = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": _ASGI, "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        await self._receive.put({"type": "lifespan.startup"})
        message = await self._sent.get()
        if message["type"] == "lifespan.startup.failed":
            raise LifespanError(f"the app failed to start: {message.get('message', '')}")
        if message["type"] == "_unsupported":
            self.supported = False

    async def _run(self, scope: dict) -> None:
        assert self._receive is not None and self._sent is not None
        try:
            await self.app(scope, self._receive.get, self._sent.put)
        except BaseException as exc:  # noqa: BLE001 - reported through the queue
            await self._sent.put({"type": "_unsupported", "error": exc})
            if not isinstance(exc, Exception):
                raise

    def abort(self) -> None:
        """End the lifespan without a shutdown message: the process crashed.

        The app's shutdown code does not run (a killed process cleans up
        nothing), so what it would have undone on a clean stop stays undone.
        """
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    async def shutdown(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        if not self.supported or task.done():
            return
        assert self._receive is not None and self._sent is not None
        await self._receive.put({"type": "lifespan.shutdown"})
        message = await self._sent.get()
        try:
            await asyncio.wait_for(task, timeout=10)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - shutdown must finish
            task.cancel()
        if message["type"] == "lifespan.shutdown.failed":
            raise LifespanError(f"the app failed to shut down: {message.get('message', '')}")
