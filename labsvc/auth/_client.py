"""The calling service's side: get a client-credentials token, keep it until it nearly expires.

>>> tokens = TokenClient("orders", "orders-secret-0123456789", scope="stock:read", resource="inventory")
>>> tokens                                                   # doctest: +ELLIPSIS
TokenClient(client_id='orders', scope='stock:read', resource='inventory', ...)

``await tokens.token(client)`` posts ``grant_type=client_credentials`` to the
token service with HTTP Basic client authentication (RFC 6749 4.4.2), keeps
the answer, and asks again only when fewer than ``renew_before`` seconds of
its ``expires_in`` are left. ``await tokens.headers(client)`` is the
``Authorization`` header for the next call.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from labsvc.core.errors import LabsvcError
from labsvc.core.clock import WallClock
from labsvc.auth._token_service import basic_auth

__all__ = ["TokenClient", "TokenRequestError", "DEFAULT_TOKEN_URL"]

DEFAULT_TOKEN_URL = "http://auth.svc/oauth2/token"


class TokenRequestError(LabsvcError):
    """The token service refused: ``error`` is the RFC 6749 5.2 code, ``status`` the HTTP status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(f"the token service answered {status} {error}: {description}")


class TokenClient:
    """Client credentials for one client id, one scope string and one audience (``resource``)."""

    def __init__(self, client_id: str, secret: str, *, scope: str | None = None, resource: str | None = None,
                 token_url: str = DEFAULT_TOKEN_URL, renew_before: float = 30.0, clock: Any = None) -> None:
        self.client_id, self._secret = client_id, secret
        self.scope, self.resource, self.token_url = scope, resource, token_url
        self.renew_before = float(renew_before)
        self.clock = clock if clock is not None else WallClock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.requests = 0

    async def token(self, client: Any) -> str:
        """A valid access token, from the cache or a new one from the token service via ``client``."""
        if self._token is not None and self.clock.now() < self._expires_at - self.renew_before:
            return self._token
        form = {"grant_type": "client_credentials"}
        if self.scope is not None:
            form["scope"] = self.scope
        if self.resource is not None:
            form["resource"] = self.resource
        self.requests += 1
        response = await client.post(self.token_url, content=urlencode(form).encode(), headers={
            "content-type": "application/x-www-form-urlencoded",
            "authorization": basic_auth(self.client_id, self._secret)})
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise TokenRequestError(response.status_code, body.get("error", "unknown"),
                                    body.get("error_description", response.text[:200]))
        body = response.json()
        self._token = body["access_token"]
        self._expires_at = self.clock.now() + float(body.get("expires_in", 0))
        return self._token

    async def headers(self, client: Any) -> dict[str, str]:
        """``{"authorization": "Bearer <token>"}`` for the next call."""
        return {"authorization": f"Bearer {await self.token(client)}"}

    def forget(self) -> None:
        """Drop the cached token (the next call asks for a new one)."""
        self._token, self._expires_at = None, 0.0

    def __repr__(self) -> str:
        return (f"TokenClient(client_id={self.client_id!r}, scope={self.scope!r}, resource={self.resource!r}, "
                f"token_url={self.token_url!r})")
