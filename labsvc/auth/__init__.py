"""Service-to-service security: OAuth 2.0 client credentials with JWT access tokens.

A service calling another proves who it is with an **access token** it got
from a **token service** (the authorization server), and the called service
(the **resource server**) checks the token and the **scopes** it grants on
every route. One module per idea:

- ``_keys``: :class:`KeyRing`, RSA signing keys with a ``kid``, published as
  JWKS; rotation (new key signs, old key verifies until retired);
- ``_tokens``: :class:`AccessTokenIssuer`, JWT access tokens in the RFC 9068
  profile (``typ: at+jwt``; ``iss sub aud exp iat jti client_id scope``);
- ``_token_service``: :func:`token_service`, ``POST /oauth2/token`` for the
  client credentials grant (RFC 6749 4.4) with HTTP Basic client
  authentication and RFC 6749 5.2 errors, and ``/.well-known/jwks.json``;
- ``_resource``: :class:`ResourceServer`, a FastAPI dependency that verifies
  tokens against the cached JWKS (PyJWT ``PyJWKSet``, checked by
  :class:`labsvc.security.TokenVerifier` on an injectable clock) and answers
  401 ``invalid_token`` or 403 ``insufficient_scope`` problem documents;
- ``_client``: :class:`TokenClient`, the caller's cached token;
- ``_demo``: the auth / inventory / orders services of notebook 12;
- ``_experiment``: :func:`probe_scopes` (who may call which route) 
  :func:`denied_calls` (attacks and short scopes, counted by reason) and
  :func:`key_rotation` (an old key accepted until it is retired).

**Token relay**: :class:`labsvc.gateway.Gateway` forwards the caller's
``Authorization`` header unchanged to the service behind a route, so the
service checks the caller's own token (as Spring Cloud Gateway's
``TokenRelay`` filter does).
"""

from __future__ import annotations

from ._client import DEFAULT_TOKEN_URL, TokenClient, TokenRequestError
from ._experiment import (
    ATTACKS,
    PROBE_CLIENTS,
    denied_calls,
    key_rotation,
    least_privilege,
    plot_denials,
    probe_scopes,
)
from ._demo import DEMO_CLIENTS, DEMO_SECRETS, INVENTORY_SCOPES, demo_token_service, inventory_app, orders_app
from ._keys import KEY_STATES, KeyRing, SigningKey
from ._resource import DEFAULT_JWKS_URL, DENIAL_COLUMNS, KeysUnavailable, ResourceServer
from ._token_service import ADMIN_SCOPE, TOKEN_ERRORS, OAuthClient, basic_auth, token_service
from ._tokens import (
    ACCESS_TOKEN_CLAIMS,
    ACCESS_TOKEN_TYPE,
    DEFAULT_TOKEN_ISSUER,
    DEFAULT_TOKEN_TTL,
    AccessTokenIssuer,
    scope_list,
)

__all__ = [
    "KeyRing", "SigningKey", "KEY_STATES",
    "AccessTokenIssuer", "ACCESS_TOKEN_TYPE", "ACCESS_TOKEN_CLAIMS", "DEFAULT_TOKEN_ISSUER", "DEFAULT_TOKEN_TTL",
    "scope_list",
    "OAuthClient", "token_service", "basic_auth", "TOKEN_ERRORS", "ADMIN_SCOPE",
    "ResourceServer", "KeysUnavailable", "DEFAULT_JWKS_URL", "DENIAL_COLUMNS",
    "TokenClient", "TokenRequestError", "DEFAULT_TOKEN_URL",
    "probe_scopes", "denied_calls", "key_rotation", "plot_denials", "ATTACKS", "PROBE_CLIENTS", "least_privilege",
    "DEMO_SECRETS", "DEMO_CLIENTS", "INVENTORY_SCOPES", "demo_token_service", "inventory_app", "orders_app",
]
