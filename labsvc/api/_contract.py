"""The contract: an OpenAPI 3.1 document, read, checked and walked.

A contract is a plain ``dict`` holding an OpenAPI 3.1 document (as loaded
from ``labsvc/api/contracts/<name>.json``). This module gives the rest of
:mod:`labsvc.api` what it needs from one:

- :func:`load_contract` and :func:`validate_contract` (is it an OpenAPI 3.1
  document, do its ``$ref`` resolve, are its schemas valid JSON Schema, do
  its examples obey their own schemas?);
- :func:`operations`: every operation with its parameters, body and
  responses, references already followed;
- :class:`SchemaChecker`: validation of a value against any schema in the
  document with ``jsonschema`` (OpenAPI 3.1 schemas *are* JSON Schema
  2020-12), and :func:`field_errors`, which turns jsonschema's errors into
  ``{"field": "body.price", "message": ...}`` the way labsvc services name
  fields in their 422 problem documents.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from labsvc.core.errors import LabsvcError

__all__ = [
    "CONTRACTS_DIR", "HTTP_METHODS", "ContractError", "Operation", "SchemaChecker", "load_contract",
    "validate_contract", "operations", "resolve", "field_errors", "media_example", "success_code",
    "pointer_escape", "path_regex",
]

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON = "application/json"
_CONTRACT_URI = "urn:labsvc:contract"


class ContractError(LabsvcError, ValueError):
    """The contract is not a usable OpenAPI 3.1 document (the message lists every problem found)."""


def pointer_escape(token: str) -> str:
    """Escape one JSON Pointer token (RFC 6901): ``/products/{sku}`` -> ``~1products~1{sku}``."""
    return token.replace("~", "~0").replace("/", "~1")


def _pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    for raw in pointer.lstrip("/").split("/") if pointer not in ("", "/") else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        else:
            node = node[token]
    return node


def resolve(contract: dict, obj: Any, pointer: str) -> tuple[Any, str]:
    """Follow local ``$ref`` chains: the object and the JSON Pointer it really lives at."""
    seen = set()
    while isinstance(obj, dict) and isinstance(obj.get("$ref"), str):
        ref = obj["$ref"]
        if not ref.startswith("#"):
            raise ContractError(f"{pointer}: only local references ('#/components/...') are supported, got {ref!r}")
        if ref in seen:
            raise ContractError(f"{pointer}: the reference {ref!r} loops")
        seen.add(ref)
        pointer = ref[1:]
        try:
            obj = _pointer_get(contract, pointer)
        except (KeyError, IndexError, ValueError):
            raise ContractError(f"the reference {ref!r} points at nothing in the contract") from None
    return obj, pointer


def load_contract(name_or_path: str | Path = "catalog") -> dict:
    """Read a contract: a name from ``labsvc/api/contracts/`` (``"catalog"``) or a path to a JSON file.

    The document is validated (:func:`validate_contract`) and a fresh copy is
    returned each time, so changing it in a notebook cannot change another.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = CONTRACTS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in CONTRACTS_DIR.glob("*.json"))
        raise ContractError(f"no contract at {path}; the course's contracts are {known}, or pass a path to a .json file")
    try:
        contract = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path.name} is not valid JSON: {exc}") from None
    validate_contract(contract)
    return contract


@dataclass
class Operation:
    """One operation of the contract, with every ``$ref`` already followed."""

    method: str  # upper case: "GET"
    path: str  # template: "/products/{sku}"
    operation_id: str
    summary: str
    pointer: str  # JSON Pointer of the operation object in the contract
    parameters: list[dict] = field(default_factory=list)  # each: name, in, required, schema, schema_pointer, example
    body: dict | None = None  # required, media {content type: (media object, schema pointer)}
    responses: dict[str, dict] = field(default_factory=dict)  # code -> response object (+ "pointer")

    @property
    def key(self) -> str:
        """``"GET /products/{sku}"``."""
        return f"{self.method} {self.path}"

    @property
    def path_params(self) -> list[dict]:
        """The parameters that fill the path template."""
        return [p for p in self.parameters if p["in"] == "path"]

    def response_media(self, code: int | str) -> dict[str, tuple[dict, str | None]]:
        """``{content type: (media object, schema pointer)}`` documented for ``code`` (may be empty)."""
        response = self.responses.get(str(code))
        if response is None:
            return {}
        out = {}
        for ctype, media in (response.get("content") or {}).items():
            schema_ptr = f"{response['pointer']}/content/{pointer_escape(ctype)}/schema" if "schema" in media else None
            out[ctype] = (media, schema_ptr)
        return out


def operations(contract: dict) -> list[Operation]:
    """Every operation of ``contract`` in document order."""
    ops = []
    for path, item in (contract.get("paths") or {}).items():
        item_ptr = f"/paths/{pointer_escape(path)}"
        item, item_ptr = resolve(contract, item, item_ptr)
        shared = _parameters(contract, item.get("parameters") or [], f"{item_ptr}/parameters")
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_ptr = f"{item_ptr}/{method}"
            own = _parameters(contract, op.get("parameters") or [], f"{op_ptr}/parameters")
            merged = {(p["in"], p["name"]): p for p in shared}
            merged.update({(p["in"], p["name"]): p for p in own})  # operation-level wins (OpenAPI rule)
            body = None
            if "requestBody" in op:
                rb, rb_ptr = resolve(contract, op["requestBody"], f"{op_ptr}/requestBody")
                media = {}
                for ctype, m in (rb.get("content") or {}).items():
                    media[ctype] = (m, f"{rb_ptr}/content/{pointer_escape(ctype)}/schema" if "schema" in m else None)
                body = {"required": bool(rb.get("required", False)), "media": media}
            responses = {}
            for code, resp in (op.get("responses") or {}).items():
                r, r_ptr = resolve(contract, resp, f"{op_ptr}/responses/{pointer_escape(str(code))}")
                responses[str(code)] = {**r, "pointer": r_ptr}
            ops.append(Operation(
                method=method.upper(), path=path, operation_id=op.get("operationId", f"{method} {path}"),
                summary=op.get("summary", ""), pointer=op_ptr, parameters=list(merged.values()),
                body=body, responses=responses,
            ))
    return ops


def _parameters(contract: dict, params: list, base: str) -> list[dict]:
    out = []
    for i, raw in enumerate(params):
        p, ptr = resolve(contract, raw, f"{base}/{i}")
        schema_ptr = f"{ptr}/schema" if "schema" in p else None
        out.append({
            "name": p.get("name"), "in": p.get("in"), "required": bool(p.get("required", p.get("in") == "path")),
            "schema": p.get("schema", {}), "schema_pointer": schema_ptr, "example": p.get("example"),
            "description": p.get("description", ""),
        })
    return out


def success_code(op: Operation) -> str | None:
    """The lowest documented 2xx status of ``op`` (the one a normal call answers), or None."""
    codes = sorted(c for c in op.responses if c.isdigit() and 200 <= int(c) < 300)
    return codes[0] if codes else None


def media_example(contract: dict, media: dict, schema_pointer: str | None = None, name: str | None = None) -> Any:
    """An example for a media type or parameter: ``example``, a named one from ``examples``, or the schema's.

    Returns ``...`` (Ellipsis) when the contract has none.
    """
    if name is None and "example" in media:
        return copy.deepcopy(media["example"])
    examples = media.get("examples") or {}
    if isinstance(examples, dict) and examples:
        chosen = examples.get(name) if name is not None else next(iter(examples.values()))
        if chosen is not None:
            ex, _ = resolve(contract, chosen, "examples")
            if "value" in ex:
                return copy.deepcopy(ex["value"])
    if name is not None:
        return ...
    if schema_pointer is not None:
        schema, _ = resolve(contract, _pointer_get(contract, schema_pointer), schema_pointer)
        return example_from_schema(contract, schema)
    return ...


def example_from_schema(contract: dict, schema: Any, depth: int = 0) -> Any:
    """A value built from a schema's ``examples``/``default``/``const``, property by property (``...`` if none)."""
    schema, _ = resolve(contract, schema, "schema")
    if not isinstance(schema, dict) or depth > 8:
        return ...
    for key in ("const", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        out = {}
        for name, sub in (schema.get("properties") or {}).items():
            value = example_from_schema(contract, sub, depth + 1)
            if value is not ...:
                out[name] = value
        return out
    if kind == "array":
        item = example_from_schema(contract, schema.get("items", {}), depth + 1)
        return [] if item is ... else [item]
    return ...


def path_regex(template: str) -> re.Pattern:
    """A regex that matches the concrete paths of a path template (``{x}`` = one segment)."""
    parts = re.split(r"(\{[^}/]+\})", template)
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


class SchemaChecker:
    """Validates values against the schemas of one contract (``$ref`` resolved through a registry)."""

    def __init__(self, contract: dict) -> None:
        self.contract = contract
        resource = Resource.from_contents(contract, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(_CONTRACT_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, schema_pointer: str) -> Draft202012Validator:
        """A jsonschema validator for the schema at ``schema_pointer`` (cached)."""
        v = self._validators.get(schema_pointer)
        if v is None:
            v = Draft202012Validator(
                {"$ref": f"{_CONTRACT_URI}#{schema_pointer}"}, registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            self._validators[schema_pointer] = v
        return v

    def errors(self, schema_pointer: str, instance: Any, location: str = "body") -> list[dict]:
        """``instance`` checked against the schema at ``schema_pointer``: a list of field errors (empty = valid)."""
        return field_errors(self.validator(schema_pointer), instance, location)

    def schema(self, schema_pointer: str) -> dict:
        """The schema at ``schema_pointer``, references followed."""
        schema, _ = resolve(self.contract, _pointer_get(self.contract, schema_pointer), schema_pointer)
        return schema


def field_errors(validator: Draft202012Validator, instance: Any, location: str = "body") -> list[dict]:
    """jsonschema's errors as ``{"field", "message", "kind"}`` rows, one per field.

    ``kind`` is ``"missing"`` for a required member that is absent,
    ``"unexpected"`` for a member the schema does not allow, otherwise the
    JSON Schema keyword that failed (``"type"``, ``"pattern"``, ...).
    """
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for err in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        where = [location, *[str(p) for p in err.absolute_path]]
        if err.validator == "required" and isinstance(err.instance, dict):
            for name in err.validator_value:
                if name not in err.instance:
                    out.append({"field": ".".join([*where, name]), "message": "required field is missing",
                                "kind": "missing"})
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = set((err.schema.get("properties") or {}))
            patterns = list((err.schema.get("patternProperties") or {}))
            for name in err.instance:
                if name not in known and not any(re.search(p, name) for p in patterns):
                    out.append({"field": ".".join([*where, name]), "message": "field is not in the contract",
                                "kind": "unexpected"})
        else:
            out.append({"field": ".".join(where), "message": err.message, "kind": str(err.validator)})
    unique = []
    for e in out:  # jsonschema reports a missing member once per member of 'required': keep one row each
        if (e["field"], e["kind"]) not in seen:
            seen.add((e["field"], e["kind"]))
            unique.append(e)
    return unique


def _walk_schemas(contract: dict) -> Iterator[tuple[str, Any]]:
    """Every schema object of the contract with its pointer (components, parameters, bodies, responses)."""
    for name, schema in ((contract.get("components") or {}).get("schemas") or {}).items():
        yield f"/components/schemas/{pointer_escape(name)}", schema
    for op in operations(contract):
        for p in op.parameters:
            if p["schema_pointer"]:
                yield p["schema_pointer"], p["schema"]
        for media, ptr in (op.body or {}).get("media", {}).values():
            if ptr:
                yield ptr, media["schema"]
        for code in op.responses:
            for media, ptr in op.response_media(code).values():
                if ptr:
                    yield ptr, media["schema"]


def validate_contract(contract: Any) -> None:
    """Raise :class:`ContractError` listing everything that makes ``contract`` unusable.

    Checks: an OpenAPI 3.1 document with ``info`` and ``paths``; every
    operation has responses and a unique ``operationId``; every ``{param}``
    of a path template is declared as a path parameter; every ``$ref``
    resolves; every schema is valid JSON Schema 2020-12; and every example
    obeys its own schema (a contract whose examples break it would mislead
    the front end that builds against the mock).
    """
    problems: list[str] = []
    if not isinstance(contract, dict):
        raise ContractError(f"a contract is a dict holding an OpenAPI document, got {type(contract).__name__}")
    version = str(contract.get("openapi", ""))
    if not version.startswith("3.1"):
        problems.append(f"'openapi' must be 3.1.x (JSON Schema 2020-12 schemas), got {version or 'nothing'!r}")
    info = contract.get("info")
    if not isinstance(info, dict) or not info.get("title") or not info.get("version"):
        problems.append("'info' needs a 'title' and a 'version'")
    if not isinstance(contract.get("paths"), dict) or not contract["paths"]:
        problems.append("'paths' must name at least one path")
        raise ContractError("; ".join(problems))
    dangling = list(_dangling_refs(contract, contract, ""))
    if dangling:
        raise ContractError("the contract has problems: " + "; ".join([*problems, *dangling]))
    try:
        ops = operations(contract)
    except ContractError as exc:
        raise ContractError("; ".join([*problems, str(exc)])) from None
    seen: dict[str, str] = {}
    for op in ops:
        if not op.path.startswith("/"):
            problems.append(f"path {op.path!r} must start with '/'")
        if not op.responses:
            problems.append(f"{op.key} documents no responses")
        if op.operation_id in seen:
            problems.append(f"operationId {op.operation_id!r} is used by {seen[op.operation_id]} and {op.key}")
        seen[op.operation_id] = op.key
        declared = {p["name"] for p in op.path_params}
        for name in re.findall(r"\{([^}/]+)\}", op.path):
            if name not in declared:
                problems.append(f"{op.key}: path parameter {name!r} is not declared in 'parameters'")
    checker = SchemaChecker(contract)
    pointers = []
    for ptr, schema in _walk_schemas(contract):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            problems.append(f"{ptr}: not a valid JSON Schema ({exc.message})")
            continue
        pointers.append(ptr)
    for ptr in pointers:
        try:
            list(checker.validator(ptr).iter_errors(None))  # resolves every $ref reachable from here
        except Exception as exc:  # referencing.exceptions.Unresolvable and friends
            problems.append(f"{ptr}: {type(exc).__name__}: {str(exc)[:200]}")
    if not problems:
        problems += _example_problems(contract, checker, ops)
    if problems:
        raise ContractError("the contract has problems: " + "; ".join(problems))


def _dangling_refs(contract: dict, node: Any, where: str) -> Iterator[str]:
    """Every local ``$ref`` that points at nothing, with where it is."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                _pointer_get(contract, ref[1:]) if ref.startswith("#") else None
            except (KeyError, IndexError, ValueError, TypeError):
                yield f"{where or '/'}: the reference {ref!r} points at nothing in the contract"
        for key, value in node.items():
            yield from _dangling_refs(contract, value, f"{where}/{pointer_escape(str(key))}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _dangling_refs(contract, value, f"{where}/{i}")


def _example_problems(contract: dict, checker: SchemaChecker, ops: list[Operation]) -> list[str]:
    problems = []

    def check(where: str, ptr: str | None, value: Any) -> None:
        if ptr is None or value is ...:
            return
        for e in checker.errors(ptr, value, "example"):
            problems.append(f"{where}: the example breaks its schema at {e['field']} ({e['message']})")

    for op in ops:
        for p in op.parameters:
            if p["example"] is not None:
                check(f"{op.key} parameter {p['name']}", p["schema_pointer"], p["example"])
        for ctype, (media, ptr) in (op.body or {}).get("media", {}).items():
            check(f"{op.key} request {ctype}", ptr, media_example(contract, media))
        for code in op.responses:
            for ctype, (media, ptr) in op.response_media(code).items():
                if "example" in media or "examples" in media:
                    check(f"{op.key} response {code} {ctype}", ptr, media_example(contract, media))
    return problems
