"""Checkers for notebook 05 (API first).

Each checker recomputes the truth by running the learner's answer: the
maturity checker on their app, the contract test on a backend that uses
their DTO, the leaky backend itself, the mock with their request body.
"""

from __future__ import annotations

import inspect

from ..course import Feedback, exercise


@exercise("05.level-2")
def level_two(answer) -> Feedback:
    """The learner's app (or app factory) reaches REST maturity level 2 or more, still serving /products."""
    from ..api import EXAMPLE_APIS, rest_maturity

    if answer in EXAMPLE_APIS.values():
        return Feedback(False, "that is one of the course's example APIs; write your own factory (my_catalog)")
    try:
        verdict = rest_maturity(answer)
    except TypeError as exc:
        return Feedback(False, f"pass your app factory, e.g. check('05.level-2', my_catalog) ({exc})")
    except Exception as exc:  # the learner's app failed to start or to answer
        return Feedback(False, f"your app did not run: {type(exc).__name__}: {exc}")
    if verdict.level < 2:
        return Feedback(False, f"level {verdict.level}: {verdict.why}")
    if not any(p.startswith("/products") for p in verdict.paths):
        return Feedback(False, "keep the products resource: the API should still offer /products and /products/{sku}")
    return Feedback(True, f"level {verdict.level}: {verdict.reasons['verbs']}; {verdict.reasons['status codes']}.")


@exercise("05.fix-deviation")
def fix_deviation(answer) -> Feedback:
    """A backend that sends products as the learner's DTO passes the whole contract test."""
    from pydantic import BaseModel

    from ..api import CatalogSettings, catalog_backend, contract_test, failures, load_contract, run_sync

    if not (inspect.isclass(answer) and issubclass(answer, BaseModel)):
        return Feedback(False, "answer with your DTO class (a pydantic BaseModel), e.g. check('05.fix-deviation', MyProduct)")
    if not answer.model_config.get("from_attributes"):
        return Feedback(False, "the backend builds the DTO from a table row: keep model_config = ConfigDict(from_attributes=True)")
    try:
        app = catalog_backend(CatalogSettings(), product_dto=answer)
        report = run_sync(lambda: contract_test(load_contract("catalog"), app))
    except Exception as exc:
        return Feedback(False, f"the backend could not use your DTO: {type(exc).__name__}: {exc}")
    bad = failures(report)
    if len(bad):
        first = bad.iloc[0]
        return Feedback(False, f"{len(bad)} checks still fail, e.g. {first['operation']} {first['case']}: "
                               f"{first['check']} is {first['actual']} (expected {first['expected']})")
    return Feedback(True, f"all {len(report)} contract checks pass: the DTO is what the front end was promised.")


@exercise("05.leaked-fields")
def leaked_fields(answer) -> Feedback:
    """The fields the leaky DTO sends that the contract does not know."""
    from ..api import contract_test, deviating_backend_app, load_contract, run_sync

    if isinstance(answer, str):
        answer = {answer}
    try:
        answer = {str(a) for a in answer}
    except TypeError:
        return Feedback(False, "answer with a set of field names, e.g. {'name'}")
    report = run_sync(lambda: contract_test(load_contract("catalog"), deviating_backend_app("leaky-dto")))
    rows = report[(report["check"] == "undocumented fields") & ~report["ok"]]
    leaked = {f.split(".")[-1] for actual in rows["actual"] for f in actual.split(", ")}
    if answer == leaked:
        return Feedback(True, f"{sorted(leaked)}: the row id, the cost price and the supplier stay inside the catalog.")
    if answer < leaked:
        return Feedback(False, f"{len(leaked) - len(answer)} more: look at every 'undocumented fields' row")
    return Feedback(False, "read the 'actual' column of the failing 'undocumented fields' rows (the last part of each path)")


@exercise("05.mock-rejects")
def mock_rejects(answer) -> Feedback:
    """A body whose price is a number the mock still rejects, naming body.price."""
    from ..api import load_contract, mock_app, run_sync
    from ..network import Network

    if not isinstance(answer, dict):
        return Feedback(False, "answer with the JSON body you sent, as a dict: {'sku': ..., 'name': ..., 'price': ...}")
    price = answer.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return Feedback(False, "make price a number: the exercise is about the contract's limits, not its types")

    async def send():
        net = Network(name="nb05-check-mock")
        net.add("catalog", mock_app(load_contract("catalog")))
        async with net:
            return await net.client("check").post("http://catalog.svc/products", json=answer)

    r = run_sync(send)
    if r.status_code != 422:
        return Feedback(False, f"the mock accepted it ({r.status_code}); look at Price in the schemas table")
    errors = r.json().get("errors", [])
    fields = sorted({e["field"] for e in errors})
    if fields != ["body.price"]:
        return Feedback(False, f"the mock named {fields}; keep sku and name valid, break only the price")
    return Feedback(True, f"422 naming body.price: {errors[0]['message']}. The front end learns this before any backend exists.")
