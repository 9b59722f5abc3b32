"""Data in a microservice system: a database per service, composition, CQRS, sagas.

Each service owns its data and shares it only through its API (or its
events). This package runs the patterns that follow from that rule, each on
real FastAPI services with their own SQLite databases (SQLModel on
SQLAlchemy), on a :class:`labsvc.Network`.

**The services** are one small module each. Every one has a ``Settings``
(its knobs), ``create_app(settings=None)`` (a new app, so every instance
has its own database) and ``app`` (one app with the default settings), so
any of them can be read on its own and served on its own
(``python -m labsvc serve labsvc.data.inventory:create_app``):

- :mod:`.customers` and :mod:`.orders`: the shared-database lesson (the
  customers service ships a schema change; the orders service reads customer
  names from a shared table, or from the customers API);
- :mod:`.delivery` and :mod:`.order_summary`: API composition (the composer
  joins what orders, customers and delivery answer);
- :mod:`.order_command` and :mod:`.order_history`: CQRS (commands and their
  events, directly or through a transactional outbox; a read model projected
  from them by an idempotent consumer);
- :mod:`.saga_orchestrator`, :mod:`.inventory` and :mod:`.payment`: the
  place-order saga, its participants and its compensations.

The older factory names (:func:`customers_app`, :func:`order_saga_app`, ...)
are the same services: each calls ``create_app(Settings(...))``.

**The building blocks** (:mod:`._database`): :func:`service_database`
gives a service its own database, opened in the app's lifespan (one per
instance, in memory by default) and disposed on shutdown;
:func:`data_service` builds a service around it, with SQL errors turned
into 500 problem documents that name the error class. A :class:`Pump`
drives the background loops (the outbox relay, the projector).

**Notebook 06's experiments** (:mod:`.lab`): :func:`schema_change_experiment`,
:func:`composition_experiment`, :class:`CqrsShop` with
:func:`outbox_experiment`, and :func:`saga_experiment` with
:func:`check_invariants`; their plots are in :mod:`.plots`.

Choices:

- each service's code declares its tables on a base class with its own
  SQLAlchemy registry, so no two services share a table definition (and
  two services may both have an ``orders`` table, as they would);
- a service module's handlers are plain functions on an ``APIRouter``;
  what belongs to one instance (its database, its consumer, its saga state)
  lives on that instance's ``app.state``, so instances never share memory
  and a crashed instance loses what it held in memory;
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

from labsvc.data._database import (
    IN_MEMORY,
    DatabaseNotOpenError,
    ServiceDatabase,
    data_service,
    describe_databases,
    install_database_errors,
    service_database,
)
from labsvc.data._order_events import EVENT_TYPES, ORDER_STATUSES
from labsvc.data._pump import Pump, PumpError
from labsvc.data.customers import customers_app
from labsvc.data.delivery import DELIVERY_STATUSES, delivery_app
from labsvc.data.inventory import PRODUCT_PRICES, inventory_app
from labsvc.data.lab import (
    CUSTOMER_NAMES,
    OUTCOMES,
    SCENARIOS,
    CompositionResult,
    Convergence,
    CqrsShop,
    OutboxResult,
    SagaFaults,
    SagaResult,
    SagaShop,
    SchemaChangeResult,
    check_invariants,
    composition_experiment,
    composition_network,
    expected_hops,
    lag_summary,
    outbox_experiment,
    outcome_of,
    saga_experiment,
    schema_change_experiment,
    seed_composition,
)
from labsvc.data.order_command import PUBLISH_MODES, order_command_app
from labsvc.data.order_history import order_history_app
from labsvc.data.order_summary import STRATEGIES, order_summary_app
from labsvc.data.orders import SCHEMA_DESIGNS, orders_app
from labsvc.data.payment import payment_app
from labsvc.data.plots import plot_composition, plot_read_model_lag, plot_saga_outcomes
from labsvc.data.saga_orchestrator import FINAL_STATES, SAGA_STEPS, order_saga_app

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
