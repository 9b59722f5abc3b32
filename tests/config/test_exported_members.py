"""labsvc.config's public names change only on purpose, and each has a docstring."""

import labsvc.config as config

EXPECTED = [
    "BUS_TOPIC", "CIPHER_PREFIX", "ConfigCipher", "ConfigClient", "ConfigRepository", "ConfigSnapshot",
    "ConfigUnavailable", "DECRYPT_SCOPE", "DEFAULT_CONFIG_URL", "DEFAULT_LABEL", "DEFAULT_PROFILE", "GREETING_DEFAULTS",
    "MASK", "OVERRIDE_KEYS", "PROFILES_ENV", "REFRESH_METHODS", "RefreshRun", "SHARED_APPLICATION", "WRITE_SCOPE", "config_server", "create_app",
    "demo_config_server", "demo_repository", "env_name", "flatten", "greeting_app", "is_cipher", "plot_refresh",
    "precedence", "refresh_under_load", "resolve", "override_policy", "eavesdrop", "wire_views", "WireCapture",
]


def test_exported_names_are_the_documented_ones():
    assert sorted(config.__all__) == sorted(EXPECTED)


def test_every_exported_callable_has_a_docstring():
    for name in config.__all__:
        value = getattr(config, name)
        if callable(value):
            assert value.__doc__, f"labsvc.config.{name} has no docstring"
