"""The contract test: does a running API do what its contract says?

:func:`contract_test` derives the checks from the contract alone, so the
backend team cannot drift away from what the front end was built against:

1. **each operation, called with the contract's examples** (a ``POST``
   first, so later calls use what it created): the status is the documented
   success code, the content type is the documented one, the body validates
   against the schema; missing required fields, fields the contract does not
   know (a DTO leaking an internal id), and other schema breaks are reported
   separately, and required response headers (``Location``) are present;
2. **each documented error, provoked**: an unknown resource (404), a
   duplicate (409), an invalid body or parameter (422); the answer must be
   that status, as ``application/problem+json``, a valid problem document
   whose ``status`` member matches, and a 422 must name the broken field;
3. **outside the contract**: an unknown path answers a 404 problem and an
   undocumented method a 405 problem.

Provoked errors carry ``Prefer: code=<status>``: a mock built from the
contract (:func:`~labsvc.api.mock_app`) honours it, a real service ignores it.

The result is a DataFrame with one row per check: ``operation``, ``case``,
``check``, ``expected``, ``actual``, ``ok``.
"""

from __future__ import annotations

import itertools
import json
import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import httpx
import pandas as pd

from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import PROBLEM_JSON
from labsvc.api._contract import JSON, Operation, SchemaChecker, media_example, operations, path_regex, success_code

__all__ = ["contract_test", "contract_summary", "failures", "REPORT_COLUMNS", "missing_value", "invalid_value"]

REPORT_COLUMNS = ["operation", "case", "check", "expected", "actual", "ok"]
_METHOD_ORDER = {"POST": 0, "GET": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
_counter = itertools.count(1)

Send = Callable[..., Awaitable[httpx.Response]]


def missing_value(value: Any) -> Any:
    """A value of the same shape that surely names nothing: ``"BEA-001"`` -> ``"ZZZ-999"``, ``42`` -> ``999999999``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return 999_999_999
    text = str(value)
    return re.sub(r"[0-9]", "9", re.sub(r"[a-z]", "z", re.sub(r"[A-Z]", "Z", text)))


def invalid_value(schema: dict) -> Any:
    """A value of the wrong JSON type for ``schema`` (text for numbers, a number for text)."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind in ("integer", "number", "boolean", "object", "array"):
        return "not-a-" + kind
    return 12345


@asynccontextmanager
async def _sender(target: Any, net: Any, caller: str, timeout: float) -> AsyncIterator[Send]:
    """A ``send(method, path, ...)`` function reaching ``target`` (an app, a network URL or a real URL)."""
    if isinstance(target, str):
        base = target.rstrip("/")
        if net is not None:
            client = net.client(caller, timeout=timeout)

            async def send(method: str, path: str, **kw: Any) -> httpx.Response:
                return await client.request(method, base + path, **kw)

            yield send
            return
        if not base.startswith(("http://", "https://")):
            raise ConfigurationError(f"target {target!r}: give an app, a URL such as 'http://127.0.0.1:8000', "
                                     f"or a network URL such as 'http://catalog.svc' together with net=")
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=timeout) as http:

            async def send(method: str, path: str, **kw: Any) -> httpx.Response:
                return await http.request(method, path, **kw)

            yield send
        return
    from labsvc.core.network import Network

    private = Network(seed=0, name=f"contract-test-{next(_counter)}")
    private.add("api", target)
    async with private:
        client = private.client(caller, timeout=timeout)

        async def send(method: str, path: str, **kw: Any) -> httpx.Response:
            return await client.request(method, "http://api.svc" + path, **kw)

        yield send


async def contract_test(
    contract: dict,
    target: Any,
    *,
    net: Any = None,
    caller: str = "contract-test",
    timeout: float = 5.0,
) -> pd.DataFrame:
    """Check that ``target`` honours ``contract``; one row per check (``ok`` False = a deviation).

    ``target`` is a FastAPI/ASGI app or an app factory (run on a private
    in-process network for the test), a URL on ``net`` such as
    ``"http://catalog.svc"``, or a real URL such as ``"http://127.0.0.1:8000"``.
    The test creates, changes and deletes one resource of its own; point it
    at a test instance, not at data you care about.
    """
    async with _sender(target, net, caller, timeout) as send:
        run = _Run(contract, send)
        await run.all()
    return pd.DataFrame(run.rows, columns=REPORT_COLUMNS)


def failures(report: pd.DataFrame) -> pd.DataFrame:
    """Only the failed checks of a contract-test report."""
    return report[~report["ok"]].reset_index(drop=True)


def contract_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Per operation: how many checks ran, how many failed, and which."""
    rows = []
    for op, group in report.groupby("operation", sort=False):
        bad = group[~group["ok"]]
        rows.append({
            "operation": op, "checks": len(group), "passed": int(group["ok"].sum()), "failed": len(bad),
            "deviations": "; ".join(f"{r.case}: {r.check} ({r.actual})" for r in bad.itertuples()),
        })
    return pd.DataFrame(rows, columns=["operation", "checks", "passed", "failed", "deviations"])


class _Run:
    """One run of the contract test: the requests, what was learnt on the way, and the rows."""

    def __init__(self, contract: dict, send: Send) -> None:
        self.contract = contract
        self.send = send
        self.checker = SchemaChecker(contract)
        self.ops = operations(contract)
        self.rows: list[dict] = []
        self.values: dict[str, Any] = {}  # path parameter values, learnt from examples and created resources
        for op in self.ops:
            for p in op.path_params:
                if p["example"] is not None:
                    self.values.setdefault(p["name"], p["example"])

    def add(self, op: str, case: str, check: str, expected: Any, actual: Any, ok: bool) -> None:
        """Record one check."""
        self.rows.append({"operation": op, "case": case, "check": check, "expected": str(expected),
                          "actual": str(actual), "ok": bool(ok)})

    async def all(self) -> None:
        """Every operation (creations first, deletions last), then requests outside the contract."""
        ordered = sorted(self.ops, key=lambda o: (len(o.path_params), _METHOD_ORDER.get(o.method, 9), o.path))
        for op in ordered:
            await self.operation(op)
        await self.outside()

    # ------------------------------------------------------------ requests
    def _path(self, op: Operation, override: dict | None = None) -> str:
        values = {**self.values, **(override or {})}

        def fill(m: re.Match) -> str:
            name = m.group(1)
            return quote(str(values.get(name, "x")), safe="")

        return re.sub(r"\{([^}/]+)\}", fill, op.path)

    def _query(self, op: Operation) -> dict:
        return {p["name"]: p["example"] for p in op.parameters if p["in"] == "query" and p["example"] is not None}

    def _body(self, op: Operation) -> Any:
        if op.body is None or JSON not in op.body["media"]:
            return ...
        media, ptr = op.body["media"][JSON]
        return media_example(self.contract, media, ptr)

    async def _call(self, op: Operation, *, path: str | None = None, params: dict | None = None, body: Any = ...,
                    prefer: str | None = None) -> httpx.Response | None:
        headers = {"accept": f"{JSON}, {PROBLEM_JSON}"}
        if prefer:
            headers["prefer"] = prefer
        kw: dict[str, Any] = {"params": params or None, "headers": headers}
        if body is not ...:
            kw["json"] = body
        try:
            return await self.send(op.method, path or self._path(op), **kw)
        except httpx.HTTPError as exc:
            self.add(op.key, "request", "answered", "a response", f"{type(exc).__name__}: {exc}", False)
            return None

    # ------------------------------------------------------------ one operation
    async def operation(self, op: Operation) -> None:
        """The example request of ``op``, then each documented error provoked."""
        code = success_code(op)
        if code is not None:
            body = self._body(op)
            r = await self._call(op, params=self._query(op), body=body)
            if r is not None:
                self.response(op, "example request", r, code)
                if r.is_success and op.method == "POST":
                    self._learn(r)
                if int(code) < 300 and op.method == "POST" and "409" in op.responses and body is not ...:
                    dup = await self._call(op, params=self._query(op), body=body, prefer="code=409")
                    if dup is not None:
                        self.response(op, "duplicate", dup, "409")
        if "422" in op.responses:
            await self.invalid(op)
        if "404" in op.responses and op.path_params:
            name = op.path_params[-1]["name"]
            unknown = missing_value(self.values.get(name, "x"))
            r = await self._call(op, path=self._path(op, {name: unknown}), params=self._query(op), body=self._body(op),
                                 prefer="code=404")
            if r is not None:
                self.response(op, f"unknown {name} {unknown}", r, "404")

    def _learn(self, r: httpx.Response) -> None:
        try:
            doc = r.json()
        except ValueError:
            return
        if isinstance(doc, dict):
            for op in self.ops:
                for p in op.path_params:
                    if p["name"] in doc and isinstance(doc[p["name"]], (str, int)):
                        self.values[p["name"]] = doc[p["name"]]

    async def invalid(self, op: Operation) -> None:
        """Provoke a 422: break the first required body field, else a constrained query or path parameter."""
        body = self._body(op)
        path, params = None, self._query(op)
        field = None
        if isinstance(body, dict) and op.body and JSON in op.body["media"]:
            schema = self.checker.schema(op.body["media"][JSON][1])
            props = schema.get("properties") or {}
            name = next((n for n in schema.get("required", []) if n in props), None) or next(iter(props), None)
            if name is not None:
                body = {**body, name: invalid_value(self._deref(props[name]))}
                field = name
        if field is None:
            for p in op.parameters:
                if p["in"] not in ("query", "path") or not p["schema_pointer"]:
                    continue
                schema = self.checker.schema(p["schema_pointer"])
                bad = invalid_value(schema)
                if not self.checker.errors(p["schema_pointer"], bad if schema.get("type") != "string" else "~bad value~"):
                    continue  # nothing this parameter refuses
                if p["in"] == "query":
                    params = {**params, p["name"]: bad}
                else:
                    bad = "~bad value~" if schema.get("type") == "string" else bad
                    path = self._path(op, {p["name"]: bad})
                field = p["name"]
                break
        if field is None:
            return
        r = await self._call(op, path=path, params=params, body=body, prefer="code=422")
        if r is None:
            return
        self.response(op, f"invalid {field}", r, "422")
        doc = _json_or_none(r)
        named = isinstance(doc, dict) and (
            any(str(e.get("field", "")).split(".")[-1] == field for e in doc.get("errors") or [] if isinstance(e, dict))
            or field in str(doc.get("detail", ""))
        )
        self.add(op.key, f"invalid {field}", "names the field", field, _named(doc) or "no field named", named)

    def _deref(self, schema: dict) -> dict:
        from labsvc.api._contract import resolve

        return resolve(self.contract, schema, "schema")[0]

    # ------------------------------------------------------------ one response
    def response(self, op: Operation, case: str, r: httpx.Response, expected: str) -> None:
        """Rows for one response: status, content type, headers, fields, schema, problem document."""
        key = op.key
        self.add(key, case, "status", expected, r.status_code, str(r.status_code) == expected)
        documented = op.response_media(expected)
        status_key = str(r.status_code) if str(r.status_code) in op.responses else expected
        media = op.response_media(status_key) if str(r.status_code) in op.responses else documented
        ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if not documented:
            self.add(key, case, "content type", "no body", ctype or "no body", not r.content)
        else:
            self.add(key, case, "content type", " or ".join(documented), ctype or "none", ctype in documented)
        spec = op.responses.get(expected, {})
        for hname, h in (spec.get("headers") or {}).items():
            if h.get("required"):
                value = r.headers.get(hname)
                self.add(key, case, f"header {hname}", "present", value or "missing", value is not None)
        if not media:
            return
        doc = _json_or_none(r)
        if doc is None:
            self.add(key, case, "body is JSON", "JSON", (r.text[:60] or "empty"), False)
            return
        schema_ptr = media.get(ctype, next(iter(media.values())))[1]
        if schema_ptr is None:
            return
        errors = self.checker.errors(schema_ptr, doc, "body")
        missing = _fields(e["field"] for e in errors if e["kind"] == "missing")
        extra = _fields(e["field"] for e in errors if e["kind"] == "unexpected")
        other = _fields(f"{e['field']}: {_clip(e['message'])}" for e in errors if e["kind"] not in ("missing", "unexpected"))
        self.add(key, case, "required fields", "all present", "missing " + ", ".join(_short(missing)) if missing else "all present", not missing)
        self.add(key, case, "undocumented fields", "none", ", ".join(_short(extra)) if extra else "none", not extra)
        self.add(key, case, "schema", "valid", "; ".join(_short(other)) if other else "valid", not other)
        if r.status_code >= 400 or expected.startswith(("4", "5")):
            status = doc.get("status") if isinstance(doc, dict) else None
            self.add(key, case, "problem status member", r.status_code, status, status == r.status_code)

    # ------------------------------------------------------------ outside the contract
    async def outside(self) -> None:
        """An unknown path must be a 404 problem, an undocumented method a 405 problem."""
        templates = [path_regex(op.path) for op in self.ops]
        unknown = "/not-in-the-contract/zzz-999"
        if not any(t.match(unknown) for t in templates):
            r = await self._send_raw("GET", unknown, "outside the contract")
            if r is not None:
                self._problem_rows("GET " + unknown, "unknown path", r, 404)
        by_path: dict[str, set] = {}
        for op in self.ops:
            by_path.setdefault(op.path, set()).add(op.method)
        path, methods = next(iter(by_path.items()))
        method = next((m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in methods), None)
        if method is not None:
            concrete = re.sub(r"\{([^}/]+)\}", lambda m: quote(str(self.values.get(m.group(1), "x")), safe=""), path)
            r = await self._send_raw(method, concrete, "outside the contract")
            if r is not None:
                self._problem_rows(f"{method} {path}", "undocumented method", r, 405)

    async def _send_raw(self, method: str, path: str, case: str) -> httpx.Response | None:
        try:
            return await self.send(method, path, headers={"accept": f"{JSON}, {PROBLEM_JSON}"})
        except httpx.HTTPError as exc:
            self.add(f"{method} {path}", case, "answered", "a response", type(exc).__name__, False)
            return None

    def _problem_rows(self, key: str, case: str, r: httpx.Response, expected: int) -> None:
        self.add(key, case, "status", expected, r.status_code, r.status_code == expected)
        ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
        self.add(key, case, "content type", PROBLEM_JSON, ctype or "none", ctype == PROBLEM_JSON)
        doc = _json_or_none(r)
        status = doc.get("status") if isinstance(doc, dict) else None
        self.add(key, case, "problem status member", r.status_code, status, status == r.status_code)


def _json_or_none(r: httpx.Response) -> Any:
    try:
        return json.loads(r.content) if r.content else None
    except ValueError:
        return None


def _named(doc: Any) -> str:
    if not isinstance(doc, dict):
        return ""
    fields = [str(e.get("field", "")) for e in doc.get("errors") or [] if isinstance(e, dict)]
    return ", ".join(fields) or str(doc.get("detail", ""))[:60]


def _short(items: list[str], limit: int = 4) -> list[str]:
    return items if len(items) <= limit else [*items[:limit], f"... {len(items) - limit} more"]


def _fields(names: Any) -> list[str]:
    """Field paths with list positions folded (``body.items.0.price`` -> ``body.items[].price``), each once."""
    out: list[str] = []
    for name in names:
        folded = re.sub(r"\.\d+(?=\.|$|:)", "[]", name)
        if folded not in out:
            out.append(folded)
    return out


def _clip(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
