"""Notebook 06's experiments: each runs the data services on a network of its own and returns DataFrames.

- :func:`schema_change_experiment`: the shared-database anti-pattern. Ship
  version 2 of the customers service (a column split in two) and watch the
  orders service's receipts fail when both share a database, and not when
  each owns its own (:mod:`._lab_schema`);
- :func:`composition_experiment`: a query across three services answered by
  the API composer three ways (sequential, parallel, batched), measured in
  hops and latency, and with the delivery service down
  (:mod:`._lab_composition`);
- :class:`CqrsShop`: the CQRS command side, a broker and the read model,
  with the pumps that move events; it measures the read model's lag
  (:func:`lag_summary`) and whether it converges. :func:`outbox_experiment`
  takes the broker down in the middle of a run, with a transactional outbox
  and with direct publishing (:mod:`._lab_cqrs`);
- :func:`saga_experiment`: many concurrent orders through the place-order
  saga under injected faults (:data:`SCENARIOS`), then recovery, then
  :func:`check_invariants` on every service's data (:mod:`._lab_saga`);
- :func:`saga_styles_experiment`: the same orders through the orchestrated
  saga and through a choreographed one on the broker (:class:`ChoreoShop`,
  services in :mod:`._choreo_services`), under the same faults
  (:data:`STYLE_SCENARIOS`), measured side by side (:mod:`._lab_choreography`);
  :func:`service_tables` lists each running service's own tables;
- :func:`saga_settings_trial`: one saga scenario with the orchestrator's
  timeout and retry budget chosen by the caller, as one tidy row.

The services they run are the package's service modules
(:mod:`labsvc.data.customers`, :mod:`~labsvc.data.orders`,
:mod:`~labsvc.data.delivery`, :mod:`~labsvc.data.order_summary`,
:mod:`~labsvc.data.order_command`, :mod:`~labsvc.data.order_history`,
:mod:`~labsvc.data.saga_orchestrator`, :mod:`~labsvc.data.inventory`,
:mod:`~labsvc.data.payment`); the plots are in :mod:`labsvc.data.plots`.
"""

from __future__ import annotations

import pandas as pd

from labsvc.core.clock import parse_duration
from labsvc.data._lab_choreography import (
    STYLE_SCENARIOS,
    STYLES,
    ChoreoShop,
    SagaStylesResult,
    StyleFaults,
    StyleRun,
    order_body,
    saga_styles_experiment,
    service_tables,
)
from labsvc.data._choreo_services import SAGA_TOPIC
from labsvc.data._lab_composition import (
    CompositionResult,
    composition_experiment,
    composition_network,
    expected_hops,
    seed_composition,
)
from labsvc.data._lab_cqrs import Convergence, CqrsShop, OutboxResult, lag_summary, outbox_experiment
from labsvc.data._lab_saga import (
    OUTCOMES,
    SCENARIOS,
    SagaFaults,
    SagaResult,
    SagaShop,
    check_invariants,
    outcome_of,
    saga_experiment,
)
from labsvc.data._lab_saga_explore import choreographed_saga_workflow, exploration_table, saga_workflow
from labsvc.data._lab_schema import SchemaChangeResult, schema_change_experiment
from labsvc.data._lab_seed import CUSTOMER_NAMES

__all__ = [
    # the shared-database anti-pattern
    "CUSTOMER_NAMES", "schema_change_experiment", "SchemaChangeResult",
    # API composition
    "composition_network", "seed_composition", "composition_experiment", "CompositionResult", "expected_hops",
    # CQRS
    "CqrsShop", "Convergence", "lag_summary", "outbox_experiment", "OutboxResult",
    # saga
    "OUTCOMES", "SagaFaults", "SCENARIOS", "SagaShop", "SagaResult", "saga_experiment", "check_invariants",
    "outcome_of",
    # the saga under the explorer
    "saga_workflow", "choreographed_saga_workflow", "exploration_table",
    # the saga both ways
    "STYLES", "StyleFaults", "STYLE_SCENARIOS", "ChoreoShop", "StyleRun", "SagaStylesResult", "saga_styles_experiment",
    "service_tables", "order_body", "SAGA_TOPIC",
    # the saga's timeout and retry budget
    "saga_settings_trial",
]


async def saga_settings_trial(scenario: str = "payment timeouts", *, timeout: float | str = "50ms", attempts: int = 3,
                              orders: int = 100, concurrency: int = 10, seed: int = 0,
                              name: str | None = None) -> pd.DataFrame:
    """Run :func:`saga_experiment` with the orchestrator's ``timeout`` per call and ``attempts`` per step.

    One row: the settings (``scenario``, ``timeout_ms``, ``attempts``) and
    what they gave: ``orders``, ``approved``, ``payment_unavailable`` (orders
    cancelled because no try got an answer from payment), ``approved_pct``,
    ``p99_ms`` (the 99th percentile of the clients' order requests) and
    ``invariants_held`` (e.g. ``"5/5"``).

    >>> await saga_settings_trial(timeout="300ms", attempts=3, seed=6)   # doctest: +SKIP
    """
    seconds = parse_duration(timeout, name="timeout")
    result = await saga_experiment(scenario, orders=orders, concurrency=concurrency, seed=seed,
                                   name=name or f"saga-settings-{seed}", timeout=seconds, attempts=attempts)
    outcome = result.orders["outcome"]
    approved = int((outcome == "approved").sum())
    held = result.invariants["holds"]
    return pd.DataFrame([{
        "scenario": scenario, "timeout_ms": round(seconds * 1000, 3), "attempts": int(attempts),
        "orders": int(len(result.orders)), "approved": approved,
        "payment_unavailable": int((outcome == "payment_unavailable").sum()),
        "approved_pct": round(100 * approved / max(len(result.orders), 1), 2),
        "p99_ms": round(result.run.percentile(99) * 1000, 1),
        "invariants_held": f"{int(held.sum())}/{len(held)}",
    }])
