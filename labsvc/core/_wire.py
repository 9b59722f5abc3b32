"""What the network puts on the wire: header names, the ASGI version, the responses callers get.

Shared by the in-process transport (:mod:`labsvc.core.network`) and process mode
(:mod:`labsvc.core.process`); :mod:`labsvc.core.network` re-exports every name here.
"""

from __future__ import annotations

import httpx
from httpx import ByteStream

from labsvc.core.client import Outbound

__all__ = ["INSTANCE_HEADER", "ROUTE_HEADER", "ASGI_VERSION", "NetworkResponse", "build_response"]

INSTANCE_HEADER = "x-labsvc-instance"  # which instance answered (set by the network)
ROUTE_HEADER = "x-labsvc-route"  # route template matched by the app (process mode)

ASGI_VERSION = {"version": "3.0", "spec_version": "2.3"}


class NetworkResponse(httpx.Response):
    """An ``httpx.Response`` whose ``request`` is built only when asked for.

    Parsing the URL into an ``httpx.Request`` costs as much as a small
    handler, and most callers never look at it.
    """

    _labsvc_out: Outbound | None = None

    @property
    def request(self) -> httpx.Request:
        if self._request is None and self._labsvc_out is not None:
            out = self._labsvc_out
            self._request = httpx.Request(out.method, out.url)
        return super().request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value

    def raise_for_status(self) -> "NetworkResponse":
        self.request  # noqa: B018 - httpx reads the private field, so build it first
        return super().raise_for_status()


def build_response(status: int, headers: list, body: bytes, out: Outbound) -> httpx.Response:
    """The ``httpx.Response`` a caller gets: the same one ``httpx.Response(status, headers=..., content=body)`` builds.

    The body is already whole, so it is set as read content directly instead
    of being streamed through httpx's decoders and chunkers (a third of an
    in-process hop's own cost). A body with a ``content-encoding`` (gzip, ...)
    still goes the long way, so httpx decodes it exactly as before.
    """
    has_length = False
    for name, _ in headers:
        name = name.lower()
        if name == b"content-encoding":
            response = NetworkResponse(status, headers=headers, content=body)
            response._labsvc_out = out
            return response
        if name == b"content-length":
            has_length = True
    if not has_length:  # what httpx adds for content=bytes
        headers = [*headers, (b"Content-Length", str(len(body)).encode())]
    response = NetworkResponse(status, headers=headers, stream=ByteStream(body))
    response._content = body
    response._num_bytes_downloaded = 0  # as httpx leaves it after reading content=
    response.is_stream_consumed = True
    response.is_closed = True
    response._labsvc_out = out
    return response
