"""The capstone's own chaos actions: what only the order system can do (deploy a release).

An experiment names them with ``module: labsvc.capstone.actions``; the
runner passes ``system`` (the :class:`~labsvc.capstone.OrderSystem`) when
``run_experiment(..., extras={"system": system})`` is given it. ``system``
has a default so that Chaos Toolkit's validator can bind the activity's
``arguments`` to the signature.
"""

from __future__ import annotations

from typing import Any

from labsvc.core.errors import ConfigurationError

__all__ = ["deploy"]


async def deploy(system: Any = None, *, version: str, strategy: str = "rolling", share: float = 0.1) -> list[str]:
    """Deploy catalog release ``version`` with ``strategy``.

    ``rolling``: every instance; ``canary``: one instance, which the gateway
    sends ``share`` of the catalog's traffic (10 % by default).
    """
    if system is None:
        raise ConfigurationError(
            "deploy() redeploys the notebook's OrderSystem, and none was given: run the experiment with "
            "labsvc.capstone.run_chaos; on a real platform deploy the release there (a new image tag, "
            "then 'docker compose up -d catalog-1' or 'kubectl rollout')")
    return await system.deploy(version, strategy=strategy, share=share)
