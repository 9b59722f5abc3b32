"""The public API of labsvc.data changes only on purpose (httpx's exported-members test)."""

import labsvc.data

EXPECTED = {
    "IN_MEMORY", "ServiceDatabase", "DatabaseNotOpenError", "service_database", "data_service",
    "install_database_errors", "describe_databases",
    "SCHEMA_DESIGNS", "CUSTOMER_NAMES", "customers_app", "orders_app", "schema_change_experiment", "SchemaChangeResult",
    "STRATEGIES", "DELIVERY_STATUSES", "delivery_app", "order_summary_app", "composition_network", "seed_composition",
    "composition_experiment", "CompositionResult", "expected_hops",
    "PUBLISH_MODES", "ORDER_STATUSES", "EVENT_TYPES", "order_command_app", "order_history_app", "CqrsShop",
    "Convergence", "lag_summary", "outbox_experiment", "OutboxResult", "Pump", "PumpError",
    "SAGA_STEPS", "FINAL_STATES", "OUTCOMES", "PRODUCT_PRICES", "inventory_app", "payment_app", "order_saga_app",
    "SagaFaults", "SCENARIOS", "SagaShop", "SagaResult", "saga_experiment", "check_invariants", "outcome_of",
    "plot_read_model_lag", "plot_saga_outcomes", "plot_composition",
}


def test_exported_members():
    assert set(labsvc.data.__all__) == EXPECTED
    assert len(labsvc.data.__all__) == len(EXPECTED)
    for name in labsvc.data.__all__:
        member = getattr(labsvc.data, name)
        if callable(member) and not isinstance(member, type(labsvc.data)):
            assert getattr(member, "__doc__", None), f"{name} has no docstring"
