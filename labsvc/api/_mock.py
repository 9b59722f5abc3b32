"""A mock server generated from the contract, for the front end's mock test.

:func:`mock_app` turns an OpenAPI 3.1 contract into a running service
before any backend code exists. Like Stoplight Prism (the usual tool for
this step), it:

- answers every documented operation with the **example** the contract
  gives for its success response (``Prefer: code=404`` or
  ``Prefer: example=<name>`` picks another documented response, so the
  front end can try its error screens too);
- **rejects requests that break the contract**: an unknown path is a 404
  problem document, an undocumented method a 405 (with ``Allow``), and
  parameters or a body that break their JSON Schema a 422 problem document
  whose ``errors`` name each field (``body.price``, ``query.limit``), the same
  shape the real labsvc service answers with.

It keeps no state: a ``POST`` does not make a later ``GET`` find anything.
That is the point of a mock (the front end's logic is tested against the
contract, not against a second implementation of the backend).

>>> app = mock_app(load_contract("catalog"))                  # doctest: +SKIP
>>> net.add("catalog", app)                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from labsvc.core.problems import PROBLEM_JSON, problem, problem_response, problem_type
from labsvc.core.service import create_service
from labsvc.api._contract import JSON, Operation, SchemaChecker, media_example, operations, success_code, validate_contract

__all__ = ["mock_app", "parse_prefer", "coerce_parameter"]

_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def parse_prefer(value: str | None) -> dict[str, str]:
    """``Prefer: code=404, example=empty`` -> ``{"code": "404", "example": "empty"}`` (RFC 7240 preferences)."""
    out: dict[str, str] = {}
    for part in re.split(r"[,;]", value or ""):
        key, _, val = part.strip().partition("=")
        if key and val:
            out[key.strip().lower()] = val.strip().strip('"')
    return out


def coerce_parameter(raw: Any, schema: dict) -> Any:
    """Turn a parameter's text into the JSON type its schema asks for ("20" -> 20), when it can.

    Text that does not convert stays text, so the schema check that follows
    reports the field with the schema's own message.
    """
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(raw, list):
        item = schema.get("items", {}) if isinstance(schema, dict) else {}
        return [coerce_parameter(r, item) for r in raw]
    if not isinstance(raw, str):
        return raw
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    if kind == "number":
        try:
            return float(raw) if not re.fullmatch(r"[+-]?\d+", raw) else int(raw)
        except ValueError:
            return raw
    if kind == "boolean" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def mock_app(contract: dict, *, name: str | None = None) -> FastAPI:
    """A FastAPI app that serves the contract's examples and enforces its schemas.

    ``/openapi.json`` and ``/docs`` of the mock show the contract itself;
    ``/health`` and ``/ready`` are there as on every labsvc service.
    ``app.state.mock_log`` lists what the mock answered (operation, status,
    example), for tests that want to know which example a client saw.
    """
    validate_contract(contract)
    info = contract.get("info", {})
    service = name or re.sub(r"[^a-z0-9]+", "-", str(info.get("title", "api")).lower()).strip("-") + "-mock"
    app = create_service(service, title=f"{info.get('title', 'API')} (mock)", version=str(info.get("version", "0")),
                         description="Generated from the contract: serves its examples, rejects what breaks it.")
    app.openapi = lambda: contract  # the mock documents exactly the contract
    app.state.mock_log = []
    checker = SchemaChecker(contract)
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations(contract):
        by_path.setdefault(op.path, {})[op.method] = op
    for path, ops in by_path.items():
        app.add_api_route(path, _handler(contract, checker, path, ops, app), methods=_ALL_METHODS,
                          include_in_schema=False, name=f"mock {path}")
    return app


def _handler(contract: dict, checker: SchemaChecker, path: str, ops: dict[str, Operation], app: FastAPI):
    allowed = ", ".join(sorted(ops))

    async def serve(request: Request) -> Response:
        op = ops.get(request.method)
        if op is None:
            return problem_response(
                405, detail=f"the contract has no {request.method} {path}; it documents {allowed}",
                instance=request.url.path, headers={"Allow": allowed},
            )
        errors = _parameter_errors(op, checker, request)
        early = None
        if op.body is not None:
            early, body_errors = await _body_errors(op, checker, request)
            errors += body_errors
        if early is not None:
            return early
        if errors:
            fields = ", ".join(e["field"] for e in errors)
            return problem_response(
                422, "Invalid request", type=problem_type("validation-error"),
                detail=f"fix these fields and send again: {fields}", instance=request.url.path,
                errors=[{"field": e["field"], "message": e["message"], "type": e["kind"]} for e in errors],
            )
        return _answer(contract, op, request, app)

    return serve


def _parameter_errors(op: Operation, checker: SchemaChecker, request: Request) -> list[dict]:
    errors: list[dict] = []
    for p in op.parameters:
        where, name, schema = p["in"], p["name"], p["schema"]
        schema_ptr = p["schema_pointer"]
        resolved = checker.schema(schema_ptr) if schema_ptr else {}
        if where == "path":
            raw = request.path_params.get(name)
        elif where == "query":
            values = request.query_params.getlist(name)
            raw = (values if resolved.get("type") == "array" else values[-1]) if values else None
        elif where == "header":
            raw = request.headers.get(name)
        elif where == "cookie":
            raw = request.cookies.get(name)
        else:
            continue
        if raw is None:
            if p["required"]:
                errors.append({"field": f"{where}.{name}", "message": "required parameter is missing", "kind": "missing"})
            continue
        if schema_ptr:
            errors += checker.errors(schema_ptr, coerce_parameter(raw, resolved), f"{where}.{name}")
    return errors


async def _body_errors(op: Operation, checker: SchemaChecker, request: Request) -> tuple[Response | None, list[dict]]:
    media = op.body["media"]
    raw = await request.body()
    if not raw:
        if op.body["required"]:
            return None, [{"field": "body", "message": "a request body is required", "kind": "missing"}]
        return None, []
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in media:
        return problem_response(
            415, detail=f"the contract accepts {', '.join(media)} for {op.key}, not {ctype or 'no content type'}",
            instance=request.url.path,
        ), []
    _, schema_ptr = media[ctype]
    if not (ctype == JSON or ctype.endswith("+json")):
        return None, []
    try:
        body = json.loads(raw)
    except ValueError as exc:
        return None, [{"field": "body", "message": f"not valid JSON: {exc}", "kind": "json"}]
    return None, (checker.errors(schema_ptr, body, "body") if schema_ptr else [])


def _answer(contract: dict, op: Operation, request: Request, app: FastAPI) -> Response:
    prefer = parse_prefer(request.headers.get("prefer"))
    code = prefer.get("code") or success_code(op) or sorted(op.responses)[0]
    if code not in op.responses:
        return problem_response(
            400, "Preference not in the contract", type=problem_type("mock-preference"),
            detail=f"the contract documents {sorted(op.responses)} for {op.key}, not {code}",
            instance=request.url.path,
        )
    response = op.responses[code]
    headers = {}
    for hname, spec in (response.get("headers") or {}).items():
        value = spec.get("example", (spec.get("schema") or {}).get("examples", [None])[0])
        if value is not None:
            headers[hname] = str(value)
    applied = [f"code={code}"] if "code" in prefer else []
    media = op.response_media(code)
    log = {"operation": op.key, "status": int(code), "example": ""}
    if not media or code == "204":
        app.state.mock_log.append(log)
        return Response(status_code=int(code), headers=headers or None)
    ctype = JSON if JSON in media else (PROBLEM_JSON if PROBLEM_JSON in media else next(iter(media)))
    media_obj, schema_ptr = media[ctype]
    name = prefer.get("example")
    body = media_example(contract, media_obj, schema_ptr, name=name) if name else ...
    if body is ...:
        body = media_example(contract, media_obj, schema_ptr)
    else:
        applied.append(f"example={name}")
        log["example"] = name
    if body is ... and ctype == PROBLEM_JSON:
        body = problem(int(code), detail="an example answer from the contract's mock")
    if body is ...:
        body = None
    if isinstance(body, dict) and ctype == PROBLEM_JSON:
        body = {**body, "instance": request.url.path}
    if applied:
        headers["Preference-Applied"] = ", ".join(applied)
    app.state.mock_log.append(log)
    return JSONResponse(body, status_code=int(code), media_type=ctype, headers=headers or None)
