"""labsvc.auth's public names change only on purpose, and each has a docstring."""

import labsvc.auth as auth

EXPECTED = [
    "ACCESS_TOKEN_CLAIMS", "ACCESS_TOKEN_TYPE", "ADMIN_SCOPE", "ATTACKS", "AccessTokenIssuer", "DEFAULT_JWKS_URL",
    "DEFAULT_TOKEN_ISSUER", "DEFAULT_TOKEN_TTL", "DEFAULT_TOKEN_URL", "DEMO_CLIENTS", "DEMO_SECRETS", "DENIAL_COLUMNS",
    "INVENTORY_SCOPES", "KEY_STATES", "KeyRing", "KeysUnavailable", "OAuthClient", "PROBE_CLIENTS", "ResourceServer", "SigningKey",
    "TOKEN_ERRORS", "TokenClient", "TokenRequestError", "basic_auth", "demo_token_service", "denied_calls",
    "inventory_app", "key_rotation", "least_privilege", "orders_app", "plot_denials", "probe_scopes", "scope_list", "token_anatomy", "TOKEN_PARTS",
    "token_service", "create_app",
    # the JWT issuer and verifier other chapters use (labsvc.auth.jwt_tokens)
    "TokenIssuer", "TokenVerifier", "TokenRejected", "REASONS", "www_authenticate",
    # mutual TLS (labsvc.core.tls)
    "CertificateAuthority", "probe_tls", "ENV_TLS_CERT", "ENV_TLS_KEY", "ENV_TLS_CA",
]


def test_exported_names_are_the_documented_ones():
    assert sorted(auth.__all__) == sorted(EXPECTED)


def test_every_exported_callable_has_a_docstring():
    for name in auth.__all__:
        value = getattr(auth, name)
        if callable(value):
            assert value.__doc__, f"labsvc.auth.{name} has no docstring"
