"""Data in a microservice system: a database per service, composition, CQRS, sagas.

Each service owns its data and shares it only through its API (or its
events). This package runs the patterns that follow from that rule, each on
real FastAPI services with their own SQLite databases (SQLModel on
SQLAlchemy), on a :class:`labsvc.Network`:

- **database per service** (:mod:`._database`): :func:`service_database`
  gives a service its own database, opened in the app's lifespan (one per
  instance, in memory by default) and disposed on shutdown;
  :func:`data_service` builds a service around it, with SQL errors turned
  into 500 problem documents that name the error class;
- **the shared-database anti-pattern** (:mod:`._shared`):
  :func:`schema_change_experiment` ships a schema change in one service and
  shows it break the other at run time when they share a database, and not
  when each owns its own;
- **API composition** (:mod:`._composition`): a query across three services
  answered by calling their APIs, three ways (sequential, parallel,
  batched), measured in hops and latency by :func:`composition_experiment`;
- **CQRS** (:mod:`._cqrs`): an order service (commands) publishes events,
  directly or through a transactional outbox, and a query service projects
  them into its own read model with an idempotent consumer;
  :class:`CqrsShop` measures the read model's lag under open-loop load and
  its convergence, :func:`outbox_experiment` shows what a broker outage
  does to each way of publishing;
- **saga** (:mod:`._saga`): placing an order across orders, inventory and
  an external payment provider, orchestrated by the order service, with
  compensations, idempotency keys and recovery; :func:`saga_experiment`
  runs it under injected faults and :func:`check_invariants` checks what
  must always hold.

Choices:

- each service's code declares its tables on a base class with its own
  SQLAlchemy registry, so no two services share a table definition (and
  two services may both have an ``orders`` table, as they would);
- handlers are ``async def`` and run SQLite synchronously: a handler that
  does not ``await`` between reading and writing is one step of the event
  loop; conditional updates (``UPDATE ... WHERE available >= n``) and
  compare-and-set on status keep the logic right under real concurrency too;
- background loops (the outbox relay, the projector) are driven through HTTP
  endpoints by a :class:`Pump`, so every step is a hop in the call log and
  tests drive them one round at a time (:meth:`Pump.drain`) instead of
  sleeping;
- every experiment is seeded and returns DataFrames; plots are separate
  functions (:func:`plot_read_model_lag`, :func:`plot_saga_outcomes`,
  :func:`plot_composition`).
"""

from __future__ import annotations

from ._composition import (
    DELIVERY_STATUSES,
    STRATEGIES,
    CompositionResult,
    composition_experiment,
    composition_network,
    delivery_app,
    expected_hops,
    order_summary_app,
    seed_composition,
)
from ._cqrs import (
    EVENT_TYPES,
    ORDER_STATUSES,
    PUBLISH_MODES,
    Convergence,
    CqrsShop,
    OutboxResult,
    lag_summary,
    order_command_app,
    order_history_app,
    outbox_experiment,
)
from ._database import (
    IN_MEMORY,
    DatabaseNotOpenError,
    ServiceDatabase,
    data_service,
    describe_databases,
    install_database_errors,
    service_database,
)
from ._plots import plot_composition, plot_read_model_lag, plot_saga_outcomes
from ._pump import Pump, PumpError
from ._saga import (
    FINAL_STATES,
    OUTCOMES,
    PRODUCT_PRICES,
    SAGA_STEPS,
    SCENARIOS,
    SagaFaults,
    SagaResult,
    SagaShop,
    check_invariants,
    inventory_app,
    order_saga_app,
    outcome_of,
    payment_app,
    saga_experiment,
)
from ._shared import (
    CUSTOMER_NAMES,
    SCHEMA_DESIGNS,
    SchemaChangeResult,
    customers_app,
    orders_app,
    schema_change_experiment,
)

__all__ = [
    # database per service
    "IN_MEMORY", "ServiceDatabase", "DatabaseNotOpenError", "service_database", "data_service",
    "install_database_errors", "describe_databases",
    # shared database vs per service
    "SCHEMA_DESIGNS", "CUSTOMER_NAMES", "customers_app", "orders_app", "schema_change_experiment",
    "SchemaChangeResult",
    # API composition
    "STRATEGIES", "DELIVERY_STATUSES", "delivery_app", "order_summary_app", "composition_network",
    "seed_composition", "composition_experiment", "CompositionResult", "expected_hops",
    # CQRS
    "PUBLISH_MODES", "ORDER_STATUSES", "EVENT_TYPES", "order_command_app", "order_history_app", "CqrsShop",
    "Convergence", "lag_summary", "outbox_experiment", "OutboxResult", "Pump", "PumpError",
    # saga
    "SAGA_STEPS", "FINAL_STATES", "OUTCOMES", "PRODUCT_PRICES", "inventory_app", "payment_app", "order_saga_app",
    "SagaFaults", "SCENARIOS", "SagaShop", "SagaResult", "saga_experiment", "check_invariants", "outcome_of",
    # plots
    "plot_read_model_lag", "plot_saga_outcomes", "plot_composition",
]
