"""The public API of labsvc.api changes only on purpose."""

import subprocess
import sys

import labsvc.api

EXPECTED = [
    "CONTRACTS_DIR", "CatalogDatabase", "CatalogSettings", "ContractError", "ContractView", "DEMO_PRODUCTS",
    "DEVIATIONS", "EXAMPLE_APIS", "ForwardedPrefixMiddleware", "LEVELS", "LeakyProduct", "Maturity", "NewProduct",
    "Operation", "PriceChange", "Product", "ProductRow", "RULES", "RenamedPriceProduct", "SKU_PATTERN", "SchemaChecker",
    "Screen", "Storefront", "bad_contract", "catalog_backend", "contract_summary", "contract_test", "contract_vs_code",
    "deviating_backend_app", "docs_through_proxy", "dto_exposure", "example_products", "failures", "field_errors",
    "findings_table", "frontend_test", "install_forwarded_prefix", "jupyter_base_url", "level0_app", "level1_app",
    "level2_app", "level3_app", "lint", "lint_rules", "load_contract", "maturity_table", "mock_app", "operations",
    "operations_table", "plot_maturity", "proxy_root_path", "render_contract", "rest_maturity", "run_sync",
    "schemas_table", "settings_table", "start_without_config", "swagger_url", "validate_contract",
]


def test_exported_names_are_the_documented_ones():
    # that each resolves and has a docstring: tests/platform/test_exported_names.py
    assert sorted(labsvc.api.__all__) == sorted(EXPECTED)


def test_serving_the_backend_does_not_import_the_heavy_parts():
    code = ("import sys; from labsvc.api import catalog_backend; catalog_backend(); "
            "print(sorted(m for m in ('jsonschema', 'pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
