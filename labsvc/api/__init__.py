"""API first: the contract before the code, and everything that keeps the code honest to it.

The order a learner meets it in (notebook 05, guide: API 설계 관점, REST API
정의, 설계 원칙 3) API 통합):

1. **the contract**: an OpenAPI 3.1 document written before any code,
   :func:`load_contract` (``labsvc/api/contracts/catalog.json``), shown inline
   with :func:`render_contract`;
2. **the mock**: :func:`mock_app` serves the contract's examples and rejects
   requests that break it (404/405/422 problem documents naming the field);
   the front end (:class:`Storefront`) passes its :func:`frontend_test`
   against it before the backend exists;
3. **the backend**: :func:`catalog_backend`, FastAPI + SQLModel over its own
   SQLite database, answering with DTOs (:class:`Product`) that keep the
   internal row id, cost price and supplier code inside;
4. **the contract test**: :func:`contract_test` checks a running API against
   the contract and names each deviation; :func:`deviating_backend_app`
   breaks it on purpose (:data:`DEVIATIONS`);
5. **REST maturity**: :func:`rest_maturity` says which Richardson level
   (0-3) an API reaches and why; :data:`EXAMPLE_APIS` has one per level;
   **REST API rules**: :func:`lint` reviews a contract (naming, methods,
   status codes, problem details, pagination, versioning), each rule with
   its source (:func:`lint_rules`, shown by :func:`findings_table`);
   :func:`bad_contract` breaks most of them;
6. **zero configuration**: :func:`start_without_config` starts the backend
   with an empty environment; :func:`swagger_url` opens its Swagger UI
   through jupyter-server-proxy in process mode.

The notebook's experiments are in :mod:`labsvc.api.lab`, its figure in
:mod:`labsvc.api.plots`; every name is importable from here.

Choices:

- The contract is a **JSON document** in ``contracts/``, not a Python dict:
  it is the artefact the front-end and back-end teams share, readable by any
  tool in any language (Swagger UI, Prism, code generators), and reviewed
  in diffs; JSON rather than YAML because Python reads it with no extra
  dependency (PyYAML is only a test dependency here).
- OpenAPI 3.1 schemas are JSON Schema 2020-12, so one validator
  (``jsonschema``) serves the mock, the contract test and the contract's
  own self-check (its examples must obey its schemas).
- Field names in 422 problem documents follow the labsvc services
  (``body.price``, ``query.limit``, ``path.sku``), so mock and backend answer
  alike and the front end handles both the same way.
- The mock is stateless (like Prism's static mode); ``Prefer: code=404``
  selects another documented response for the front end's error screens.
- The maturity checker reads the OpenAPI document, and for an app also
  probes it with safe GETs on a private in-process network, because
  documentation can hide what the running API does (a 200 carrying an error).
"""

from __future__ import annotations

from labsvc.core.lazy import lazy_exports

# Names are imported lazily (as in ``labsvc``): ``python -m labsvc serve
# labsvc.api:catalog_backend`` then imports FastAPI and SQLModel only, not
# jsonschema, pandas or matplotlib, and starts in well under a second.
_EXPORTS = {
    "_backend": [
        "DEMO_PRODUCTS", "DEVIATIONS", "SKU_PATTERN", "CatalogDatabase", "CatalogSettings", "LeakyProduct",
        "NewProduct", "PriceChange", "Product", "ProductRow", "RenamedPriceProduct", "catalog_backend",
        "deviating_backend_app", "dto_exposure", "install_forwarded_prefix", "settings_table",
    ],
    "_contract": [
        "CONTRACTS_DIR", "ContractError", "Operation", "SchemaChecker", "field_errors", "load_contract",
        "operations", "validate_contract",
    ],
    "_contract_test": ["contract_summary", "contract_test", "failures"],
    "_examples": ["EXAMPLE_APIS", "example_products", "level0_app", "level1_app", "level2_app", "level3_app"],
    "_frontend": ["Screen", "Storefront", "frontend_test"],
    "_lint": ["RULES", "bad_contract", "findings_table", "lint", "lint_rules"],
    "_maturity": ["LEVELS", "Maturity", "rest_maturity"],
    "_mock": ["mock_app"],
    "_render": ["ContractView", "contract_vs_code", "operations_table", "render_contract", "schemas_table"],
    "_swagger": ["ForwardedPrefixMiddleware", "docs_through_proxy", "jupyter_base_url", "proxy_root_path", "swagger_url"],
    "_sync": ["run_sync"],
    "lab": ["maturity_table", "start_without_config"],
    "plots": ["plot_maturity"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
