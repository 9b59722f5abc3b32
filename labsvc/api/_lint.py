"""A small teaching lint for REST API contracts: the rules a reviewer applies to an OpenAPI document.

:func:`lint` reads an OpenAPI 3.x document (or a FastAPI app or app
factory, whose generated document it reads) and returns one row per
violation: the rule, its severity, where (``GET /products``, ``info``), a
message that says what is wrong and how to fix it, and the source of the
rule. :func:`lint_rules` lists the rules, :func:`findings_table` shows either
table with its text wrapped. Each rule is small:

==================  ========================================================  ==================================
rule                checks                                                    source
==================  ========================================================  ==================================
naming.plural       a segment naming a collection is a plural noun            Zalando, "MUST pluralize resource names"
naming.verb-free    no action words (get, create, do...) in paths             Zalando, "MUST keep URLs verb-free"
naming.kebab-case   path segments are lowercase, words joined by hyphens      Zalando, "MUST use kebab-case for path segments"
naming.item-param   a path parameter follows its collection (/products/{sku}) Zalando, "MUST identify resources and sub-resources via path segments"
method.no-body      GET, HEAD and DELETE take no request body                 RFC 9110 §9.3.1, §9.3.2, §9.3.5
method.safe-get     a GET does not create or change anything                  RFC 9110 §9.2.1
method.post-201     a POST on a collection answers 201 Created                RFC 9110 §9.3.3, §15.3.2
method.location     ...and documents the Location of the new resource         RFC 9110 §15.3.2, §10.2.2
status.success      every operation documents its success (2xx) code          Zalando, "MUST specify success and error responses"
status.client-error every operation documents a 4xx; item operations a 404    the same, and RFC 9110 §15.5
status.no-error-2xx no error travels inside a 2xx answer                      RFC 9110 §15.3
problem.media-type  4xx/5xx answers are application/problem+json              RFC 9457 §3, §6.1; Zalando, "MUST use problem JSON"
paging.collection   a GET on a collection takes a page size and a position    Zalando, "MUST support pagination"
version.info        the document carries info.version                         OpenAPI 3.1 Info Object
version.scheme      clients see the major version: a /v1 path prefix          Microsoft REST API Guidelines §12.1
                    (in paths or servers) or an api-version query parameter
==================  ========================================================  ==================================

Choices: the lint reads only the document (no requests), so it judges what
is promised, not what is sent (:func:`contract_test` does that). Plurals
are a heuristic (ends in "s", or a known plural such as "people"), as in
other linters. FastAPI documents its automatic 422 as ``application/json``
even when the service (every labsvc service) answers with a problem
document, so that generated entry (``Validation Error`` with
``HTTPValidationError``) is not judged by ``problem.media-type``. For
versioning the guidelines disagree (Zalando prefers media-type versioning
and avoids URL versioning); this lint follows Microsoft's, which accepts a
path segment or a query parameter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd

from labsvc.api._contract import resolve
from labsvc.api._maturity import ACTION_WORDS

__all__ = ["RULES", "lint", "lint_rules", "findings_table", "bad_contract"]

_ZALANDO = "Zalando RESTful API Guidelines"
#: rule id -> (severity, what it asks, source).
RULES: dict[str, tuple[str, str, str]] = {
    "naming.plural": ("warning", "a segment naming a collection is a plural noun",
                      f"{_ZALANDO}: MUST pluralize resource names"),
    "naming.verb-free": ("error", "paths name things, never actions (no get, create, delete, do...)",
                         f"{_ZALANDO}: MUST keep URLs verb-free"),
    "naming.kebab-case": ("error", "path segments are lowercase words joined by hyphens",
                          f"{_ZALANDO}: MUST use kebab-case for path segments"),
    "naming.item-param": ("error", "a path parameter identifies an item of the collection before it",
                          f"{_ZALANDO}: MUST identify resources and sub-resources via path segments"),
    "method.no-body": ("error", "GET, HEAD and DELETE take no request body",
                       "RFC 9110 §9.3.1, §9.3.2, §9.3.5"),
    "method.safe-get": ("error", "a GET is safe: it does not create or change anything",
                        "RFC 9110 §9.2.1 (safe methods)"),
    "method.post-201": ("error", "a POST that creates a collection member answers 201 Created",
                        "RFC 9110 §9.3.3, §15.3.2"),
    "method.location": ("warning", "a 201 documents the Location header of the new resource",
                        "RFC 9110 §15.3.2, §10.2.2"),
    "status.success": ("error", "every operation documents its success (2xx) status code",
                       f"{_ZALANDO}: MUST specify success and error responses"),
    "status.client-error": ("error", "every operation documents its 4xx answers; item operations a 404",
                            f"{_ZALANDO}: MUST specify success and error responses; RFC 9110 §15.5"),
    "status.no-error-2xx": ("error", "errors are 4xx/5xx answers, never a 2xx carrying an error",
                            "RFC 9110 §15.3 (2xx means success)"),
    "problem.media-type": ("error", "4xx and 5xx answers are problem documents (application/problem+json)",
                           f"RFC 9457 §3, §6.1; {_ZALANDO}: MUST use problem JSON"),
    "paging.collection": ("error", "a GET on a collection takes a page size (limit) and a position (offset or cursor)",
                          f"{_ZALANDO}: MUST support pagination"),
    "version.info": ("error", "the document states its version in info.version",
                     "OpenAPI 3.1, Info Object (version is required)"),
    "version.scheme": ("warning", "clients see the major version: a /v1 path prefix or an api-version parameter",
                       "Microsoft REST API Guidelines §12.1 (versioning formats)"),
    "doc.operations": ("error", "the document has operations to review", "OpenAPI 3.1, Paths Object"),
}

_METHODS = ("get", "head", "put", "post", "patch", "delete", "options")
_INFRA = {"/health", "/ready", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}
_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_VERSION = re.compile(r"^v\d+(?:\.\d+)?$")
_PLURALS = {"people", "children", "men", "women", "data", "media", "criteria", "feet", "teeth", "mice", "geese"}
_SIZE = {"limit", "page_size", "per_page", "size", "page-size", "max_results"}
_POSITION = {"offset", "cursor", "page", "after", "before", "page_token", "starting_after", "skip"}
_CHANGE_WORDS = {"create", "add", "insert", "update", "delete", "remove", "set", "save", "modify", "change", "make",
                 "cancel"}
_COLUMNS = ["rule", "severity", "where", "message", "source"]


def lint_rules() -> pd.DataFrame:
    """Every rule :func:`lint` applies: id, severity, what it asks, and its source."""
    rows = [{"rule": r, "severity": s, "asks": what, "source": src} for r, (s, what, src) in RULES.items()]
    return pd.DataFrame(rows)


def findings_table(table: pd.DataFrame, uuid: str = "lint"):
    """``table`` (from :func:`lint` or :func:`lint_rules`) as a pandas Styler whose text columns wrap (no ``...``).

    ``uuid`` fixes the Styler's HTML ids, so re-running the cell shows the same output.
    """
    def wrap(px: int) -> dict[str, str]:
        return {"white-space": "normal", "max-width": f"{px}px", "text-align": "left"}

    widths = {"where": 200, "message": 520, "asks": 420, "source": 260}
    styler = table.style.set_uuid(uuid).hide(axis="index")
    for column, px in widths.items():
        if column in table.columns:
            styler = styler.set_properties(subset=[column], **wrap(px))
    return styler


def _document(target: Any) -> dict:
    if isinstance(target, dict):
        return target
    from fastapi import FastAPI

    app = target if isinstance(target, FastAPI) else (target() if callable(target) else None)
    if not isinstance(app, FastAPI):
        raise TypeError(f"lint takes an OpenAPI document (dict), a FastAPI app or a function returning one; "
                        f"got {target!r}. For your app factory: lint(my_catalog) or lint(my_catalog().openapi())")
    return app.openapi()


def _operations(doc: dict) -> list[tuple[str, str, dict, list[dict]]]:
    """(METHOD, path, operation, parameters) of every operation outside the probes and docs."""
    ops = []
    for path, item in (doc.get("paths") or {}).items():
        if path in _INFRA:
            continue
        item, _ = resolve(doc, item, "path")
        shared = item.get("parameters") or []
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                params = [resolve(doc, p, "parameter")[0] for p in [*shared, *(op.get("parameters") or [])]]
                ops.append((method.upper(), path, op, params))
    return ops


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/") if s]


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _resource_segments(path: str) -> list[str]:
    """The path's segments without a leading version prefix (``/v1``)."""
    segs = _segments(path)
    return segs[1:] if segs and _VERSION.match(segs[0]) else segs


def _is_action(segment: str) -> bool:
    words = _words(segment)
    return bool(words) and (words[0] in ACTION_WORDS or any(w in _CHANGE_WORDS for w in words))


def _is_collection(path: str) -> bool:
    """The path ends in a collection name (``/products``), not in an item or an action."""
    segs = _resource_segments(path)
    return bool(segs) and not _is_param(segs[-1]) and not any(_is_action(s) for s in segs)


def _is_item(path: str) -> bool:
    segs = _resource_segments(path)
    return bool(segs) and _is_param(segs[-1])


def _words(segment: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", segment)
    return [w for w in re.split(r"[\s_\-.]+", spaced.lower()) if w]


def _responses(doc: dict, op: dict) -> dict[str, dict]:
    return {str(code): resolve(doc, resp, "response")[0] for code, resp in (op.get("responses") or {}).items()}


def _codes(responses: dict[str, dict]) -> set[int]:
    return {int(c) for c in responses if c.isdigit()}


def _fastapi_validation(resp: dict) -> bool:
    """FastAPI's generated 422 entry (the service itself may answer with a problem document)."""
    schema = ((resp.get("content") or {}).get("application/json") or {}).get("schema") or {}
    return resp.get("description") == "Validation Error" and "HTTPValidationError" in str(schema.get("$ref", ""))


def _finding(rule: str, where: str, message: str) -> dict:
    severity, _, source = RULES[rule]
    return {"rule": rule, "severity": severity, "where": where, "message": message, "source": source}


def _naming(doc: dict, ops: list) -> Iterator[dict]:
    for path in sorted({p for _, p, _, _ in ops}):
        segs = _resource_segments(path)
        for i, seg in enumerate(segs):
            if _is_param(seg):
                if i == 0 or _is_param(segs[i - 1]):
                    yield _finding("naming.item-param", f"path {path}",
                                   f"{seg} does not follow a collection: put the collection it belongs to before it "
                                   f"(/products/{{sku}}, not /{{sku}} or /{{a}}/{{b}})")
                continue
            words = _words(seg)
            if _is_action(seg):
                yield _finding("naming.verb-free", f"path {path}",
                               f"'{seg}' names an action: name the resource and let the HTTP method say what "
                               f"happens (GET /products, POST /products, DELETE /products/{{sku}})")
            if not _KEBAB.match(seg):
                yield _finding("naming.kebab-case", f"path {path}",
                               f"'{seg}' is not kebab-case: write it as '{'-'.join(words)}' (lowercase, hyphens)")
            names_collection = i == 0 or (i + 1 < len(segs) and _is_param(segs[i + 1]))
            last = words[-1] if words else seg
            if names_collection and not (last.endswith("s") or last in _PLURALS):
                yield _finding("naming.plural", f"path {path}",
                               f"'{seg}' names a collection: use the plural ('{seg}s' or the right plural)")


def _methods(doc: dict, ops: list) -> Iterator[dict]:
    for method, path, op, _ in ops:
        where = f"{method} {path}"
        codes = _codes(_responses(doc, op))
        if method in ("GET", "HEAD", "DELETE") and op.get("requestBody"):
            yield _finding("method.no-body", where,
                           f"{method} has a request body, which has no defined meaning in HTTP and may be rejected "
                           f"on the way: send the inputs as path or query parameters")
        if method == "GET":
            said = _words(str(op.get("operationId", ""))) + _words(str(op.get("summary", "")))
            if 201 in codes or (said and said[0] in _CHANGE_WORDS):
                yield _finding("method.safe-get", where,
                               "this GET creates or changes something, but GET must be safe (clients, caches and "
                               "crawlers repeat it freely): use POST to create, PATCH/PUT to change, DELETE to remove")
        if method == "POST" and _is_collection(path):
            responses = _responses(doc, op)
            if 201 not in codes:
                success = ", ".join(str(c) for c in sorted(codes) if 200 <= c < 300) or "none"
                yield _finding("method.post-201", where,
                               f"a POST on the collection creates a member, but its documented success is {success}: "
                               f"answer 201 Created (FastAPI: status_code=201)")
            elif not any(h.lower() == "location" for h in (responses["201"].get("headers") or {})):
                yield _finding("method.location", where,
                               "the 201 does not document a Location header: say where the new resource lives "
                               "(headers: {Location: ...}, e.g. /products/NEW-001)")


def _statuses(doc: dict, ops: list) -> Iterator[dict]:
    for method, path, op, _ in ops:
        where = f"{method} {path}"
        responses = _responses(doc, op)
        codes = _codes(responses)
        if not any(200 <= c < 300 for c in codes):
            yield _finding("status.success", where,
                           f"no 2xx answer documented ({sorted(codes) or 'no responses'}): document the success "
                           f"code (200, 201 or 204)")
        if _is_item(path) and 404 not in codes:
            yield _finding("status.client-error", where,
                           "an operation on one item does not document 404: document what an unknown "
                           "id gets (FastAPI: responses={404: {...}})")
        elif not any(400 <= c < 500 for c in codes):
            yield _finding("status.client-error", where,
                           "no 4xx answer documented: say how a client's mistake is answered (400, 404, 409, 422)")
        for code, resp in responses.items():
            if not (code.isdigit() and 200 <= int(code) < 300):
                continue
            content = resp.get("content") or {}
            props = {}
            for media in content.values():
                schema, _ = resolve(doc, (media or {}).get("schema") or {}, "schema")
                props |= schema.get("properties") or {} if isinstance(schema, dict) else {}
            if "application/problem+json" in content or {"error", "errors"} & set(props):
                yield _finding("status.no-error-2xx", f"{where} → {code}",
                               f"the {code} answer can carry an error: answer errors with a 4xx/5xx problem "
                               f"document, so clients, caches and monitors see the failure")


def _problems(doc: dict, ops: list) -> Iterator[dict]:
    for method, path, op, _ in ops:
        for code, resp in _responses(doc, op).items():
            if not (code.isdigit() and int(code) >= 400) or _fastapi_validation(resp):
                continue
            content = resp.get("content") or {}
            if "application/problem+json" not in content:
                found = ", ".join(content) or "no body"
                yield _finding("problem.media-type", f"{method} {path} → {code}",
                               f"the {code} answer is documented as {found}: make it an RFC 9457 problem document "
                               f"(content: application/problem+json with type, title, status, detail)")


def _paging(doc: dict, ops: list) -> Iterator[dict]:
    for method, path, op, params in ops:
        if method != "GET" or not _is_collection(path):
            continue
        query = {str(p.get("name", "")).lower() for p in params if p.get("in") == "query"}
        size, position = query & _SIZE, query & _POSITION
        if size and position:
            continue
        if not size and not position:
            message = "a collection answered whole: take a page size (limit) and a position (offset or cursor)"
        else:
            message = (f"only {sorted(size or position)[0]}: clients cannot reach the next page; "
                       f"add {'offset or cursor' if size else 'limit'}")
        yield _finding("paging.collection", f"{method} {path}", message)


def _versioning(doc: dict, ops: list) -> Iterator[dict]:
    version = (doc.get("info") or {}).get("version")
    if not isinstance(version, str) or not version.strip():
        yield _finding("version.info", "info", "info.version is missing: state the document's version, e.g. '1.0.0'")
    servers = [str(s.get("url", "")) for s in doc.get("servers") or [] if isinstance(s, dict)]
    in_servers = any(_VERSION.match(s.rstrip("/").rsplit("/", 1)[-1]) for s in servers)
    in_paths = bool(ops) and all(_segments(p)[:1] and _VERSION.match(_segments(p)[0]) for _, p, _, _ in ops)
    in_query = bool(ops) and all(any(p.get("in") == "query" and p.get("name") == "api-version" for p in params)
                                 for _, _, _, params in ops)
    if ops and not (in_servers or in_paths or in_query):
        yield _finding("version.scheme", "paths",
                       "clients cannot tell which major version they call: prefix the paths (or the server URL) "
                       "with /v1, or take an api-version query parameter, before a breaking change needs a v2")


def lint(target: Any) -> pd.DataFrame:
    """The rule violations of an OpenAPI document, FastAPI app or app factory: one row each (empty when clean).

    >>> lint(load_contract("catalog"))["rule"].tolist()          # doctest: +SKIP
    ['paging.collection', 'version.scheme']
    """
    doc = _document(target)
    ops = _operations(doc)
    rows: list[dict] = []
    if not ops:
        rows.append(_finding("doc.operations", "paths",
                             "no operations besides /health and /ready: add the API's routes, then lint again"))
    for rule_set in (_naming, _methods, _statuses, _problems, _paging, _versioning):
        rows.extend(rule_set(doc, ops))
    return pd.DataFrame(rows, columns=_COLUMNS)


_BAD = {
    "openapi": "3.1.0",
    "info": {"title": "Orders API (needs review)"},
    "paths": {
        "/getOrders": {"get": {"responses": {"200": {"description": "all orders, no paging"}}}},
        "/order/{id}": {
            "get": {"responses": {"200": {"description": "the order, or {error: ...} if unknown", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "id": {"type": "string"}, "error": {"type": "string"}}}}}}}},
        },
        "/order_items": {"post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                                  "responses": {"200": {"description": "created"},
                                                "400": {"description": "bad item", "content": {
                                                    "application/json": {"schema": {"type": "object"}}}}}}},
        "/customers": {"get": {"summary": "Customers matching a filter sent in the body",
                               "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                               "responses": {"200": {"description": "every match"},
                                             "400": {"description": "bad filter",
                                                     "content": {"application/problem+json": {}}}}}},
        "/orders/{id}/cancel": {"get": {"operationId": "cancelOrder", "summary": "Cancel an order",
                                        "responses": {"200": {"description": "cancelled"}}}},
    },
}


def bad_contract() -> dict:
    """A small orders API that breaks most rules on purpose (a fresh copy each call), for :func:`lint` to review."""
    return copy.deepcopy(_BAD)
