"""The status of the response an ASGI app sends, seen on the way out (for spans and RED metrics)."""

from __future__ import annotations

from typing import Any

__all__ = ["StatusWatch"]


class StatusWatch:
    """Wraps an ASGI ``send``: passes every message on and keeps the response's status (0 until it starts)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Any) -> None:
        self.send = send
        self.status = 0

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)
