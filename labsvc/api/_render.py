"""The contract as something a person reads: tables of operations and schemas.

:func:`render_contract` shows a contract inline in a notebook (HTML), the
way Swagger UI or Redoc would show it in a browser, but without a server:
the operations (method, path, parameters, body, responses) and every
schema with its fields, types and constraints. :func:`operations_table` and
:func:`schemas_table` return the same content as DataFrames.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from labsvc.api._contract import Operation, operations, resolve

__all__ = ["operations_table", "schemas_table", "render_contract", "ContractView", "describe_schema", "contract_vs_code"]

_CONSTRAINTS = [
    ("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"), ("exclusiveMaximum", "< {}"),
    ("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"), ("pattern", "matches {}"),
    ("enum", "one of {}"), ("const", "= {}"), ("default", "default {}"), ("format", "format {}"),
]
_METHOD_COLOURS = {"GET": "#2a9d8f", "POST": "#457b9d", "PUT": "#e9c46a", "PATCH": "#f4a261", "DELETE": "#e76f51"}


def _ref_name(schema: Any) -> str | None:
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        return schema["$ref"].rsplit("/", 1)[-1]
    return None


def describe_schema(contract: dict, schema: Any) -> str:
    """A short human description of a schema: ``Product``, ``array of Product``, ``integer ≥ 1, ≤ 100``."""
    name = _ref_name(schema)
    if name is not None:
        target, _ = resolve(contract, schema, "schema")
        # Named simple types read better with their constraints (Sku -> string matches ...).
        if isinstance(target, dict) and target.get("type") not in ("object", "array", None):
            return f"{name} ({describe_schema(contract, target)})"
        return name
    if not isinstance(schema, dict):
        return "any"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {describe_schema(contract, schema.get('items', {}))}"
    parts = [str(kind)]
    rules = [fmt.format(schema[k]) for k, fmt in _CONSTRAINTS if k in schema]
    return parts[0] + (" " + ", ".join(rules) if rules else "")


def _media_summary(contract: dict, media: dict[str, tuple[dict, str | None]]) -> str:
    parts = []
    for ctype, (m, _) in media.items():
        parts.append(f"{describe_schema(contract, m.get('schema', {}))} ({ctype})")
    return "; ".join(parts)


def _responses(contract: dict, op: Operation) -> str:
    out = []
    for code in sorted(op.responses):
        media = op.response_media(code)
        what = ", ".join(describe_schema(contract, m.get("schema", {})) for m, _ in media.values()) or "no body"
        out.append(f"{code} {what}")
    return "; ".join(out)


def operations_table(contract: dict) -> pd.DataFrame:
    """One row per operation: method, path, operationId, summary, parameters, request body, responses."""
    rows = []
    for op in operations(contract):
        params = ", ".join(
            f"{p['name']} ({p['in']}{', required' if p['required'] else ''}: {describe_schema(contract, p['schema'])})"
            for p in op.parameters
        )
        rows.append({
            "method": op.method, "path": op.path, "operation": op.operation_id, "summary": op.summary,
            "parameters": params, "request body": _media_summary(contract, op.body["media"]) if op.body else "",
            "responses": _responses(contract, op),
        })
    return pd.DataFrame(rows, columns=["method", "path", "operation", "summary", "parameters", "request body", "responses"])


def schemas_table(contract: dict) -> pd.DataFrame:
    """One row per field of each object schema in ``components/schemas`` (simple named types get one row)."""
    rows = []
    for name, schema in ((contract.get("components") or {}).get("schemas") or {}).items():
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not props:
            rows.append({"schema": name, "field": "", "type": describe_schema(contract, schema), "required": "",
                         "description": schema.get("description", "") if isinstance(schema, dict) else ""})
            continue
        required = set(schema.get("required", []))
        closed = schema.get("additionalProperties") is False
        for field, sub in props.items():
            rows.append({
                "schema": name + (" (closed)" if closed else ""), "field": field,
                "type": describe_schema(contract, sub), "required": "yes" if field in required else "",
                "description": sub.get("description", "") if isinstance(sub, dict) else "",
            })
    return pd.DataFrame(rows, columns=["schema", "field", "type", "required", "description"])


class ContractView:
    """A contract shown inline: title, operations and schemas (an HTML table in Jupyter)."""

    def __init__(self, contract: dict) -> None:
        self.contract = contract
        self.operations = operations_table(contract)
        self.schemas = schemas_table(contract)

    def _repr_html_(self) -> str:
        info = self.contract.get("info", {})
        e = html.escape
        head = (f"<h4 style='margin:4px 0'>{e(info.get('title', ''))} <small>v{e(str(info.get('version', '')))}"
                f" · OpenAPI {e(str(self.contract.get('openapi', '')))}</small></h4>")
        if info.get("summary"):
            head += f"<p style='margin:2px 0'>{e(info['summary'])}</p>"
        rows = []
        for r in self.operations.to_dict("records"):
            colour = _METHOD_COLOURS.get(r["method"], "#888")
            badge = (f"<span style='background:{colour};color:white;border-radius:3px;padding:1px 6px;"
                     f"font-family:monospace'>{e(r['method'])}</span>")
            rows.append(
                f"<tr><td>{badge}</td><td><code>{e(r['path'])}</code></td><td>{e(r['summary'])}</td>"
                f"<td>{e(r['parameters'])}</td><td>{e(r['request body'])}</td>"
                f"<td>{'<br>'.join(e(x) for x in r['responses'].split('; '))}</td></tr>"
            )
        ops = ("<table><thead><tr><th>method</th><th>path</th><th>summary</th><th>parameters</th>"
               "<th>request body</th><th>responses</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        schemas = self.schemas.to_html(index=False, escape=True, border=0)
        return (f"<div>{head}<b>Operations</b>{ops}<details><summary><b>Schemas</b> "
                f"({self.schemas['schema'].nunique()})</summary>{schemas}</details></div>")

    def __repr__(self) -> str:
        return f"<ContractView {self.contract.get('info', {}).get('title', '')!r}: {len(self.operations)} operations>"


def render_contract(contract: dict) -> ContractView:
    """Show ``contract`` inline in a notebook: operations, then schemas (click to open)."""
    return ContractView(contract)


def contract_vs_code(contract: dict, app: Any) -> pd.DataFrame:
    """The contract's operations next to those the code documents (FastAPI's generated OpenAPI).

    One row per ``METHOD /path`` found in either, with the status codes each
    side documents. FastAPI's automatic ``422 Validation Error`` is left out
    unless the contract has it too. A quick way to see whether the Swagger
    page the code serves still tells the truth the contract told.
    """
    code_doc = app.openapi() if hasattr(app, "openapi") else app
    infra = {"/health", "/ready"}

    def ops(doc: dict) -> dict[str, set[str]]:
        out = {}
        for path, item in (doc.get("paths") or {}).items():
            if path in infra:
                continue
            for method in ("get", "put", "post", "delete", "patch"):
                if isinstance(item.get(method), dict):
                    out[f"{method.upper()} {path}"] = set(map(str, item[method].get("responses", {})))
        return out

    mine, theirs = ops(contract), ops(code_doc)
    rows = []
    for key in list(mine) + [k for k in theirs if k not in mine]:
        a, b = mine.get(key), theirs.get(key)
        if a is not None and b is not None and "422" not in a:
            b = b - {"422"}
        rows.append({"operation": key, "in contract": a is not None, "in code": b is not None,
                     "contract codes": ", ".join(sorted(a or [])), "code codes": ", ".join(sorted(b or [])),
                     "same": a == b})
    return pd.DataFrame(rows, columns=["operation", "in contract", "in code", "contract codes", "code codes", "same"])
