"""Secrets in the configuration: stored and served encrypted, as ``{cipher}...`` values.

A password in a config repository must not be readable by whoever can read
the repository, nor by every service that fetches its configuration. As in
Spring Cloud Config, a secret is stored as ``"{cipher}<ciphertext>"``; the
config server holds the key (:class:`ConfigCipher`, Fernet: AES-128-CBC with
an HMAC-SHA256 tag, from ``cryptography``) and

- answers a client that is not authorized with the ciphertext as stored
  (never the clear text),
- decrypts it only for a client whose access token grants ``config:decrypt``.

That gate is this course's own design. Spring Cloud Config decrypts
``{cipher}`` values on the server for every client by default
(``spring.cloud.config.server.encrypt.enabled=true``) and serves the clear
text; with ``encrypt.enabled=false`` it serves the ciphertext and each client
decrypts with a key of its own. In every case the encryption protects the
secret at rest (in the repository); on the wire an authorised answer is
clear text inside the HTTP body, which only TLS protects
(:mod:`labsvc.config.wire` shows both).

>>> cipher = ConfigCipher()
>>> stored = cipher.encrypt("s3cret")
>>> stored.startswith("{cipher}") and "s3cret" not in stored
True
>>> cipher.decrypt(stored)
's3cret'
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from labsvc.core.errors import ConfigurationError

__all__ = ["ConfigCipher", "CIPHER_PREFIX", "is_cipher", "MASK"]

CIPHER_PREFIX = "{cipher}"
MASK = "******"


def is_cipher(value: Any) -> bool:
    """Whether ``value`` is an encrypted ``{cipher}...`` string."""
    return isinstance(value, str) and value.startswith(CIPHER_PREFIX)


class ConfigCipher:
    """The config server's symmetric key: encrypts and decrypts ``{cipher}`` values.

    ``key`` is a Fernet key (``Fernet.generate_key()``); a new one is made
    when none is given.
    """

    def __init__(self, key: bytes | str | None = None) -> None:
        try:
            self._fernet = Fernet(key if key is not None else Fernet.generate_key())
        except (ValueError, TypeError):
            raise ConfigurationError("key must be a Fernet key: 32 url-safe base64-encoded bytes "
                                     "(cryptography.fernet.Fernet.generate_key())") from None

    def encrypt(self, plaintext: str) -> str:
        """``"{cipher}<token>"`` for ``plaintext``."""
        if not isinstance(plaintext, str):
            raise ConfigurationError(f"only strings are encrypted, got {type(plaintext).__name__}")
        return CIPHER_PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, value: str) -> str:
        """The clear text of a ``{cipher}`` value (``ConfigurationError`` if it is not one of this key's)."""
        if not is_cipher(value):
            raise ConfigurationError(f"{value!r} is not an encrypted value; those start with {CIPHER_PREFIX!r}")
        try:
            return self._fernet.decrypt(value[len(CIPHER_PREFIX):].encode()).decode()
        except InvalidToken:
            raise ConfigurationError("this {cipher} value was not encrypted with this server's key, or was altered") from None

    def decrypt_all(self, source: dict[str, Any]) -> dict[str, Any]:
        """``source`` with every ``{cipher}`` value decrypted."""
        return {k: self.decrypt(v) if is_cipher(v) else v for k, v in source.items()}

    def __repr__(self) -> str:
        return "ConfigCipher(key=<hidden>)"
