"""One round of an idempotent consumer: pull events from the broker, apply each once, acknowledge.

The order-history read model (CQRS) and the delivery service both consume
order events this way, each in its own consumer group, through a
``POST .../poll`` endpoint that a :class:`~labsvc.data.Pump` drives.
"""

from __future__ import annotations

from typing import Any, Callable

import httpx
from pydantic import BaseModel, Field as PydanticField

from labsvc.core.errors import LabsvcError
from labsvc.messaging import HttpBrokerClient, IdempotentConsumer
from labsvc.core.problems import Problem, problem_type
from labsvc.core.service import Request, http, instance_name

__all__ = ["PollBody", "consume_round"]


class PollBody(BaseModel):
    """The body of a ``poll`` endpoint."""

    max: int = PydanticField(default=50, ge=1, le=1000, description="most events to take in this round")
    wait: float = PydanticField(default=0.0, ge=0, le=30, description="seconds to wait for a first event")
    lease: float = PydanticField(default=5.0, gt=0, description="seconds before an unacked event comes back")


async def consume_round(request: Request, body: PollBody | None, *, topic: str, group: str,
                        consumer: IdempotentConsumer, apply: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Pull up to ``body.max`` events of ``topic`` for ``group`` and ``apply`` each payload once.

    Answers ``{"pulled", "applied", "duplicates"}``; a broker that cannot be
    reached is a 503 problem document (what was not acknowledged comes back
    after its lease).
    """
    body = body or PollBody()
    broker = HttpBrokerClient(http(request), "http://broker.svc")
    applied = duplicates = 0
    try:
        deliveries = await broker.pull(topic, group, consumer=instance_name(request), max=body.max,
                                       lease=body.lease, wait=body.wait)
        for d in deliveries:
            if await consumer.ahandle(d, lambda m: apply(m.payload)):
                applied += 1
            else:
                duplicates += 1
    except (httpx.HTTPError, LabsvcError) as exc:
        raise Problem(503, "Broker unavailable", type=problem_type("dependency-unavailable"),
                      detail=f"applied {applied} event(s), then: {type(exc).__name__}; unacknowledged "
                             f"events come back after their lease") from None
    return {"pulled": len(deliveries), "applied": applied, "duplicates": duplicates}
