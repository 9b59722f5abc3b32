"""labsvc.auth holds the chapter: the JWT issuer and verifier, mutual TLS, a token service per call, lazy plots."""

import doctest
import importlib
import subprocess
import sys

import pytest

import labsvc.auth as auth


def test_jwt_and_mtls_names_are_the_same_objects_as_at_their_homes():
    from labsvc.auth import jwt_tokens
    from labsvc.core import tls

    for name in ("TokenIssuer", "TokenVerifier", "TokenRejected", "REASONS", "www_authenticate"):
        assert getattr(auth, name) is getattr(jwt_tokens, name), name
    for name in tls.__all__:
        assert getattr(auth, name) is getattr(tls, name), name


def test_jwt_tokens_keeps_every_public_name_after_the_split():
    from labsvc.auth import jwt_tokens

    for name in jwt_tokens.__all__:
        assert getattr(jwt_tokens, name) is not None, name


def test_create_app_makes_a_token_service_with_its_own_keys_on_every_call():
    first, second = auth.create_app({"key_size": 1024}), auth.create_app({"key_size": 1024})
    assert first is not second
    assert first.state.keys is not second.state.keys
    assert first.state.keys.active_kid != second.state.keys.active_kid


def test_importing_the_chapter_does_not_import_matplotlib():
    code = ("import sys, labsvc.auth, labsvc.config, labsvc.gateway; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert callable(auth.plot_denials)  # still there, loaded on first use


@pytest.mark.parametrize("name", ["labsvc.auth.jwt_tokens", "labsvc.auth._jwt_reasons", "labsvc.auth._jwt_keys",
                                  "labsvc.auth._jwt_forge"])
def test_jwt_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
