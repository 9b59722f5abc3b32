"""Service-to-service security: OAuth 2.0 client credentials with JWT access tokens, and mutual TLS.

A service calling another proves who it is with an **access token** it got
from a **token service** (the authorization server), and the called service
(the **resource server**) checks the token and the **scopes** it grants on
every route. One module per idea:

- :mod:`~labsvc.auth.jwt_tokens`: :class:`TokenIssuer` and
  :class:`TokenVerifier`, JWTs checked as RFC 8725 asks (pinned algorithm,
  required claims, a reason for every refusal: :class:`TokenRejected`,
  :data:`REASONS`, :func:`www_authenticate`), and the forged tokens
  notebooks show being refused; its helpers are ``_jwt_reasons``,
  ``_jwt_keys`` and ``_jwt_forge``;
- ``_keys``: :class:`KeyRing`, RSA signing keys with a ``kid``, published as
  JWKS; rotation (new key signs, old key verifies until retired);
- ``_tokens``: :class:`AccessTokenIssuer`, JWT access tokens in the RFC 9068
  profile (``typ: at+jwt``; ``iss sub aud exp iat jti client_id scope``);
- ``_token_service``: :func:`token_service`, ``POST /oauth2/token`` for the
  client credentials grant (RFC 6749 4.4) with HTTP Basic client
  authentication and RFC 6749 5.2 errors, and ``/.well-known/jwks.json``;
- ``_resource``: :class:`ResourceServer`, a FastAPI dependency that verifies
  tokens against the cached JWKS (PyJWT ``PyJWKSet``, checked by
  :class:`TokenVerifier` on an injectable clock) and answers
  401 ``invalid_token`` or 403 ``insufficient_scope`` problem documents;
- ``_client``: :class:`TokenClient`, the caller's cached token;
- ``_demo``: the auth / inventory / orders services of notebook 12, and
  :func:`create_app`, the token service a learner serves alone (a fresh app
  per call);
- :mod:`~labsvc.auth.lab`: :func:`probe_scopes` (who may call which route),
  :func:`denied_calls` (attacks and short scopes, counted by reason) and
  :func:`key_rotation` (an old key accepted until it is retired);
- :mod:`~labsvc.auth.plots`: :func:`plot_denials` (imports matplotlib on
  first use).

**Mutual TLS** (process mode): :class:`CertificateAuthority` and
:func:`probe_tls` come from :mod:`labsvc.core.tls`, where the network that
uses them lives; they are exported here too, so this chapter holds both ways
a service proves who it is.

**Token relay**: :class:`labsvc.gateway.Gateway` forwards the caller's
``Authorization`` header unchanged to the service behind a route, so the
service checks the caller's own token (as Spring Cloud Gateway's
``TokenRelay`` filter does).
"""

from __future__ import annotations

from labsvc.auth._client import DEFAULT_TOKEN_URL, TokenClient, TokenRequestError
from labsvc.auth._demo import (
    DEMO_CLIENTS,
    DEMO_SECRETS,
    INVENTORY_SCOPES,
    create_app,
    demo_token_service,
    inventory_app,
    orders_app,
)
from labsvc.auth._keys import KEY_STATES, KeyRing, SigningKey
from labsvc.auth._resource import DEFAULT_JWKS_URL, DENIAL_COLUMNS, KeysUnavailable, ResourceServer
from labsvc.auth._token_service import ADMIN_SCOPE, TOKEN_ERRORS, OAuthClient, basic_auth, token_service
from labsvc.auth._tokens import (
    ACCESS_TOKEN_CLAIMS,
    ACCESS_TOKEN_TYPE,
    DEFAULT_TOKEN_ISSUER,
    DEFAULT_TOKEN_TTL,
    TOKEN_PARTS,
    AccessTokenIssuer,
    scope_list,
    token_anatomy,
)
from labsvc.auth.jwt_tokens import REASONS, TokenIssuer, TokenRejected, TokenVerifier, www_authenticate
from labsvc.auth.lab import ATTACKS, PROBE_CLIENTS, denied_calls, key_rotation, least_privilege, probe_scopes
from labsvc.core.tls import ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY, CertificateAuthority, probe_tls

__all__ = [  # noqa: F822 - plot_denials is imported lazily by __getattr__
    "KeyRing", "SigningKey", "KEY_STATES",
    "AccessTokenIssuer", "ACCESS_TOKEN_TYPE", "ACCESS_TOKEN_CLAIMS", "DEFAULT_TOKEN_ISSUER", "DEFAULT_TOKEN_TTL",
    "scope_list", "token_anatomy", "TOKEN_PARTS",
    "OAuthClient", "token_service", "basic_auth", "TOKEN_ERRORS", "ADMIN_SCOPE",
    "ResourceServer", "KeysUnavailable", "DEFAULT_JWKS_URL", "DENIAL_COLUMNS",
    "TokenClient", "TokenRequestError", "DEFAULT_TOKEN_URL",
    "probe_scopes", "denied_calls", "key_rotation", "plot_denials", "ATTACKS", "PROBE_CLIENTS", "least_privilege",
    "DEMO_SECRETS", "DEMO_CLIENTS", "INVENTORY_SCOPES", "demo_token_service", "inventory_app", "orders_app",
    "create_app",
    "TokenIssuer", "TokenVerifier", "TokenRejected", "REASONS", "www_authenticate",
    "CertificateAuthority", "probe_tls", "ENV_TLS_CERT", "ENV_TLS_KEY", "ENV_TLS_CA",
]

_PLOTS = ("plot_denials",)


def __getattr__(name: str):
    # matplotlib is slow to import, and services that only check tokens never draw.
    if name in _PLOTS:
        from labsvc.auth import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
