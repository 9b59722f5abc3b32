"""The READMEs' examples run as they are written (each marked ``<!-- example: NAME -->`` above its code block)."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", re.S)


def examples(readme: str) -> dict[str, str]:
    """Every marked example of ``readme`` by name."""
    return dict(_BLOCK.findall((ROOT / readme).read_text(encoding="utf-8")))


def run_example(code: str) -> tuple[dict, str]:
    """Run ``code`` as a notebook cell would (top-level ``await`` allowed); its namespace and what it printed."""
    namespace: dict = {}
    compiled = compile(code, "<README example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = eval(compiled, namespace)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return namespace, out.getvalue()


@pytest.mark.parametrize("readme", ["README.md", "README.ko.md"])
def test_the_service_to_service_example_runs_and_prints_what_its_comments_say(readme):
    code = examples(readme)["service-calls-service"]
    ns, printed = run_example(code)
    lines = printed.splitlines()
    assert lines[0] == "200 {'id': 7, 'available': 3}"
    assert lines[1] == "502 Inventory unreachable"
    assert ns["refused"].headers["content-type"].startswith("application/problem+json")
    calls = ns["net"].calls
    first = calls[calls["trace_id"] == calls["trace_id"].iloc[0]]
    assert list(zip(first["caller"], first["callee"])) == [("web", "orders"), ("orders", "inventory")]
    assert set(calls.loc[calls["callee"] == "inventory", "status"]) == {200, 0}  # answered, then refused


def test_both_readmes_show_the_same_code():
    strip = lambda code: re.sub(r"  #.*", "", code)  # noqa: E731 - comments are translated
    assert strip(examples("README.md")["service-calls-service"]) == strip(examples("README.ko.md")["service-calls-service"])
