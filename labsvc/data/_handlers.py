"""What the data services' handlers share: their instance's database, get-or-404, id lists, whole tables.

Every service module here builds a new app per instance (``create_app``)
and keeps that instance's state on ``app.state``; its route handlers are
plain module functions that find the state through the request
(:func:`database_of`), so one handler serves every instance without sharing
data between them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import select

from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request

__all__ = ["database_of", "not_found", "get_or_404", "invalid", "id_list", "all_rows"]

Row = TypeVar("Row")


def database_of(request: Request) -> Any:
    """The database of the instance that received ``request`` (set by :func:`~labsvc.data.data_service`)."""
    return request.app.state.database


def not_found(what: str, key: Any, detail: str | None = None) -> Problem:
    """A 404 ``not-found`` problem: title ``"<What> not found"``, detail ``"no <what> with id <key>"`` by default."""
    return Problem(404, f"{what[:1].upper()}{what[1:]} not found", type=problem_type("not-found"),
                   detail=detail or f"no {what} with id {key}")


def get_or_404(session: Any, model: type[Row], key: Any, what: str, detail: str | None = None) -> Row:
    """The row of ``model`` with primary key ``key``, or a 404 problem naming ``what`` (see :func:`not_found`)."""
    row = session.get(model, key)
    if row is None:
        raise not_found(what, key, detail)
    return row


def invalid(field: str, message: str, kind: str, *, title: str = "Invalid request", named: str | None = None) -> Problem:
    """A 422 ``validation-error`` problem about one ``field`` (``"query.strategy"``), shaped like FastAPI's own 422s.

    ``named`` is how the detail names the field (default: ``field``).
    """
    return Problem(422, title, type=problem_type("validation-error"),
                   detail=f"fix these fields and send again: {named or field}",
                   errors=[{"field": field, "message": message, "type": kind}])


def id_list(text: str, field: str) -> list[int]:
    """Parse the comma-separated ids of query parameter ``field`` (``"1,2,3"``); a 422 problem if one is not a number."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise invalid(f"query.{field}", "a comma-separated list of ids, e.g. 1,2,3", "int_parsing", named=field) from None


def all_rows(db: Any, model: Any, order_by: Any) -> list[dict[str, Any]]:
    """Every row of ``model`` as a dict, sorted by ``order_by`` (an operator's or auditor's listing)."""
    with db.session() as s:
        return [r.model_dump() for r in s.exec(select(model).order_by(order_by)).all()]
