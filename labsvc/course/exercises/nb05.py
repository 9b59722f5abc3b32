"""Checkers for notebook 05 (API first).

Each checker recomputes the truth by running the learner's answer: the
maturity checker on their app, the contract test on a backend that uses
their DTO, the leaky backend itself, the mock with their request body,
the REST lint on their app's OpenAPI document.
"""

from __future__ import annotations

import inspect

from labsvc.course import Feedback, exercise


@exercise("05.level-2")
def level_two(answer) -> Feedback:
    """The learner's app (or app factory) reaches REST maturity level 2 or more, still serving /products."""
    from labsvc.api import EXAMPLE_APIS, rest_maturity

    if answer in EXAMPLE_APIS.values():
        return Feedback(False, "that is one of the course's example APIs; write your own factory (my_catalog)",
                        ko="그건 코스에 있는 예제 API 중 하나입니다. 직접 만든 팩토리(my_catalog)를 넘기세요")
    try:
        verdict = rest_maturity(answer)
    except TypeError as exc:
        return Feedback(False, f"pass your app factory, e.g. check('05.level-2', my_catalog) ({exc})",
                        ko=f"앱 팩토리를 넘기세요. 예: check('05.level-2', my_catalog) ({exc})")
    except Exception as exc:  # the learner's app failed to start or to answer
        return Feedback(False, f"your app did not run: {type(exc).__name__}: {exc}",
                        ko=f"앱이 실행되지 않았습니다: {type(exc).__name__}: {exc}")
    if verdict.level < 2:
        return Feedback(False, f"level {verdict.level}: {verdict.why}",
                        ko=f"레벨 {verdict.level}: {verdict.why}")
    if not any(p.startswith("/products") for p in verdict.paths):
        return Feedback(False, "keep the products resource: the API should still offer /products and /products/{sku}",
                        ko="products 리소스는 그대로 두세요. API는 여전히 /products와 /products/{sku}를 제공해야 합니다")
    return Feedback(True, f"level {verdict.level}: {verdict.reasons['verbs']}; {verdict.reasons['status codes']}.",
                    ko=f"레벨 {verdict.level}: {verdict.reasons['verbs']}; {verdict.reasons['status codes']}.")


@exercise("05.fix-deviation")
def fix_deviation(answer) -> Feedback:
    """A backend that sends products as the learner's DTO passes the whole contract test."""
    from pydantic import BaseModel

    from labsvc.api import CatalogSettings, catalog_backend, contract_test, failures, load_contract, run_sync

    if not (inspect.isclass(answer) and issubclass(answer, BaseModel)):
        return Feedback(False, "answer with your DTO class (a pydantic BaseModel), e.g. check('05.fix-deviation', MyProduct)",
                        ko="DTO 클래스(pydantic BaseModel)로 답하세요. 예: check('05.fix-deviation', MyProduct)")
    if not answer.model_config.get("from_attributes"):
        return Feedback(False, "the backend builds the DTO from a table row: keep model_config = ConfigDict(from_attributes=True)",
                        ko="백엔드는 테이블 행에서 DTO를 만듭니다. model_config = ConfigDict(from_attributes=True)는 그대로 두세요")
    try:
        app = catalog_backend(CatalogSettings(), product_dto=answer)
        report = run_sync(lambda: contract_test(load_contract("catalog"), app))
    except Exception as exc:
        return Feedback(False, f"the backend could not use your DTO: {type(exc).__name__}: {exc}",
                        ko=f"백엔드가 이 DTO를 쓰지 못했습니다: {type(exc).__name__}: {exc}")
    bad = failures(report)
    if len(bad):
        first = bad.iloc[0]
        return Feedback(False, f"{len(bad)} checks still fail, e.g. {first['operation']} {first['case']}: "
                               f"{first['check']} is {first['actual']} (expected {first['expected']})",
                        ko=f"아직 {len(bad)}개 검사가 실패합니다. 예: {first['operation']} {first['case']}: {first['check']}의 값이 {first['actual']}입니다(기대값 {first['expected']})")
    return Feedback(True, f"all {len(report)} contract checks pass: the DTO is what the front end was promised.",
                    ko=f"계약 검사 {len(report)}개가 모두 통과합니다. 이 DTO가 바로 프런트엔드에 약속한 모양입니다.")


@exercise("05.leaked-fields")
def leaked_fields(answer) -> Feedback:
    """The fields the leaky DTO sends that the contract does not know."""
    from labsvc.api import contract_test, deviating_backend_app, load_contract, run_sync

    if isinstance(answer, str):
        answer = {answer}
    try:
        answer = {str(a) for a in answer}
    except TypeError:
        return Feedback(False, "answer with a set of field names, e.g. {'name'}",
                        ko="필드 이름의 집합으로 답하세요. 예: {'name'}")
    report = run_sync(lambda: contract_test(load_contract("catalog"), deviating_backend_app("leaky-dto")))
    rows = report[(report["check"] == "undocumented fields") & ~report["ok"]]
    leaked = {f.split(".")[-1] for actual in rows["actual"] for f in actual.split(", ")}
    if answer == leaked:
        return Feedback(True, f"{sorted(leaked)}: the row id, the cost price and the supplier stay inside the catalog.",
                        ko=f"{sorted(leaked)}: 행 id, 원가, 공급업체는 카탈로그 안에 머물러야 합니다.")
    if answer < leaked:
        return Feedback(False, f"{len(leaked) - len(answer)} more: look at every 'undocumented fields' row",
                        ko=f"{len(leaked) - len(answer)}개 더 있습니다. 'undocumented fields' 행을 모두 보세요")
    return Feedback(False, "read the 'actual' column of the failing 'undocumented fields' rows (the last part of each path)",
                    ko="실패한 'undocumented fields' 행의 'actual' 열(각 경로의 마지막 부분)을 읽으세요")


@exercise("05.mock-rejects")
def mock_rejects(answer) -> Feedback:
    """A body whose price is a number the mock still rejects, naming body.price."""
    from labsvc.api import load_contract, mock_app, run_sync
    from labsvc.core.network import Network

    if not isinstance(answer, dict):
        return Feedback(False, "answer with the JSON body you sent, as a dict: {'sku': ..., 'name': ..., 'price': ...}",
                        ko="보낸 JSON 본문을 dict로 답하세요: {'sku': ..., 'name': ..., 'price': ...}")
    price = answer.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return Feedback(False, "make price a number: the exercise is about the contract's limits, not its types",
                        ko="price는 숫자로 두세요. 이 문제는 계약의 타입이 아니라 값의 제한에 관한 것입니다")

    async def send():
        net = Network(name="nb05-check-mock")
        net.add("catalog", mock_app(load_contract("catalog")))
        async with net:
            return await net.client("check").post("http://catalog.svc/products", json=answer)

    r = run_sync(send)
    if r.status_code != 422:
        return Feedback(False, f"the mock accepted it ({r.status_code}); look at Price in the schemas table",
                        ko=f"목이 이 본문을 받아들였습니다({r.status_code}). 스키마 표에서 Price를 보세요")
    errors = r.json().get("errors", [])
    fields = sorted({e["field"] for e in errors})
    if fields != ["body.price"]:
        return Feedback(False, f"the mock named {fields}; keep sku and name valid, break only the price",
                        ko=f"목이 짚은 필드는 {fields}입니다. sku와 name은 올바르게 두고 price만 어기세요")
    return Feedback(True, f"422 naming body.price: {errors[0]['message']}. The front end learns this before any backend exists.",
                    ko=f"body.price를 짚은 422: {errors[0]['message']}. 프런트엔드는 백엔드가 생기기도 전에 이것을 알게 됩니다.")


def _exercise_one_routes(doc: dict) -> list[str]:
    """Which of exercise 1's four operations (under any prefix such as /v1) the document lacks."""
    have = set()
    for path, item in (doc.get("paths") or {}).items():
        segs = [s for s in path.strip("/").split("/") if s]
        for method in item:
            if segs and segs[-1] == "products":
                have.add(f"{method.upper()} /products")
            elif len(segs) >= 2 and segs[-2] == "products" and segs[-1].startswith("{"):
                have.add(f"{method.upper()} /products/{{sku}}")
    wanted = ["GET /products", "POST /products", "GET /products/{sku}", "DELETE /products/{sku}"]
    return [op for op in wanted if op not in have]


@exercise("05.lint-clean")
def lint_clean(answer) -> Feedback:
    """The learner's catalog keeps exercise 1's operations and the REST lint finds no error in its OpenAPI document."""
    from fastapi import FastAPI

    from labsvc.api import lint

    try:
        app = answer if isinstance(answer, FastAPI) else (answer() if callable(answer) else None)
    except Exception as exc:  # the learner's factory failed
        return Feedback(False, f"your app factory did not run: {type(exc).__name__}: {exc}",
                        ko=f"앱 팩토리가 실행되지 않았습니다: {type(exc).__name__}: {exc}")
    if not isinstance(app, FastAPI):
        return Feedback(False, "pass your app factory, e.g. check('05.lint-clean', my_clean_catalog)",
                        ko="앱 팩토리를 넘기세요. 예: check('05.lint-clean', my_clean_catalog)")
    try:
        doc = app.openapi()
        findings = lint(doc)
    except Exception as exc:  # FastAPI could not describe the learner's routes
        return Feedback(False, f"FastAPI could not write your app's OpenAPI document: {type(exc).__name__}: {exc}",
                        ko=f"FastAPI가 앱의 OpenAPI 문서를 만들지 못했습니다: {type(exc).__name__}: {exc}")
    if "doc.operations" in set(findings["rule"]):
        return Feedback(False, "your catalog has no routes yet: copy the routes of your my_catalog (exercise 1, or its "
                               "solution) into my_clean_catalog, run lint(my_clean_catalog), and fix what it reports",
                        ko="카탈로그에 아직 라우트가 없습니다. 연습 문제 1의 my_catalog(또는 그 풀이)의 라우트를 "
                           "my_clean_catalog에 옮긴 다음, lint(my_clean_catalog)를 실행하고 보고된 것을 고치세요")
    missing = _exercise_one_routes(doc)
    if missing:
        return Feedback(False, f"keep exercise 1's operations; missing: {', '.join(missing)}",
                        ko=f"연습 문제 1의 오퍼레이션은 그대로 두세요. 빠진 것: {', '.join(missing)}")
    errors = findings[findings["severity"] == "error"]
    if len(errors):
        first = errors.iloc[0]
        return Feedback(False, f"{len(errors)} errors left, e.g. {first['rule']} at {first['where']}: {first['message']}",
                        ko=f"아직 오류가 {len(errors)}개 남았습니다. 예: {first['where']}의 {first['rule']}: {first['message']}")
    warnings = sorted(set(findings["rule"]))
    left = f"; warnings to decide with your reviewer: {', '.join(warnings)}" if warnings else ""
    ko_left = f". 리뷰어와 함께 정할 경고: {', '.join(warnings)}" if warnings else ""
    return Feedback(True, f"no rule errors: every operation documents its success and its 4xx, errors are problem "
                          f"documents, the collection is paged{left}.",
                    ko=f"규칙 오류가 없습니다. 모든 오퍼레이션이 성공 코드와 4xx를 문서화하고, 오류는 문제 상세이며, "
                       f"컬렉션은 페이지로 나뉩니다{ko_left}.")


_CRITERIA = ("resources", "verbs", "status codes", "hypermedia")


@exercise("05.predict-maturity")
def predict_maturity(answer) -> Feedback:
    """``answer`` is section 5's maturity table; the guess (a level, 0-3) was recorded with ``predict(...)``."""
    import pandas as pd

    from labsvc.course import is_number
    from labsvc.course.predictions import judge_prediction

    if not isinstance(answer, pd.DataFrame) or "catalog backend" not in set(answer.get("api", [])):
        return Feedback(False, "pass the maturity table of section 5: check('05.predict-maturity', maturity)",
                        ko="5절의 성숙도 표를 넘겨 주세요: check('05.predict-maturity', maturity)")
    row = answer.set_index("api").loc["catalog backend"]
    level = int(row["level"])
    held = [c for c in _CRITERIA if bool(row[c])]
    stop = next((c for c in _CRITERIA if not bool(row[c])), None)

    def whole_level(guess) -> bool:
        return is_number(guess) and float(guess).is_integer() and 0 <= guess <= 3

    def right(guess, actual) -> bool:
        return whole_level(guess) and int(guess) == actual

    def explain(guess, actual):
        if not whole_level(guess):
            return ("A maturity level is a whole number from 0 to 3, e.g. level=1.",
                    "성숙도 레벨은 0에서 3 사이의 정수입니다. 예: level=1.")
        why = f" It stops there on {row['why']}." if stop else ""
        why_ko = f" {stop} 기준에서 멈춥니다: {row['why']}." if stop else ""
        return (f"The probes found these criteria met: {', '.join(held)}.{why}",
                f"탐침 요청으로 확인된 기준: {', '.join(held)}.{why_ko}")

    return judge_prediction("05.predict-maturity", level, right=right, explain=explain, unit="level")
