"""A saga for placing an order: local transactions in three services, undone by compensations.

No transaction spans the order, inventory and payment databases. The saga
runs one local transaction per service and, when a later step fails, runs
*compensating* transactions that undo the earlier ones:

================  ==========  ==================================  ==================
step              service     action                              compensation
================  ==========  ==================================  ==================
create_order      orders      insert the order as PENDING         cancel_order
reserve_stock     inventory   ``POST /reservations``              release_stock
charge_payment    payment     ``POST /charges`` (external)        refund_payment
approve_order     orders      mark the order APPROVED             (none: last step)
================  ==========  ==================================  ==================

The saga is **orchestrated**: the order service holds the sequence, calls
each participant over HTTP and decides what to compensate (in a
*choreographed* saga each service would react to the others' events
instead). What makes it safe under faults:

- every call carries the order id as its idempotency key, so a step or a
  compensation can be retried after a timeout or an error without doing it
  twice; a compensation that arrives *before* its action (the request timed
  out and was still on its way) leaves a tombstone that makes the late
  action refuse;
- a timeout is an unknown outcome, not a failure: the step may have
  happened (a payment provider that charged and answered too late), so the
  saga retries it, and if it still cannot tell, compensates it (a refund of
  a charge that never happened is a no-op);
- each state change of the order is a compare-and-set on its status, and
  compensations still to do are stored with the order, so a saga cut short
  (a participant down, an instance restarted) is finished later by
  ``POST /sagas/recover``.

:func:`saga_experiment` places many concurrent orders under injected
faults; :func:`check_invariants` checks what must hold however they ended.
"""

from __future__ import annotations

from ._saga_experiment import (
    OUTCOMES,
    SCENARIOS,
    SagaFaults,
    SagaResult,
    SagaShop,
    check_invariants,
    outcome_of,
    saga_experiment,
)
from ._saga_orchestrator import FINAL_STATES, SAGA_STEPS, order_saga_app
from ._saga_participants import PRODUCT_PRICES, inventory_app, payment_app

__all__ = [
    "SAGA_STEPS", "FINAL_STATES", "OUTCOMES", "PRODUCT_PRICES", "inventory_app", "payment_app", "order_saga_app",
    "SagaFaults", "SCENARIOS", "SagaShop", "SagaResult", "saga_experiment", "check_invariants", "outcome_of",
]
