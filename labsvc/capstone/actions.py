"""The capstone's own chaos actions: what only the order system can do (deploy a release).

An experiment names them with ``module: labsvc.capstone.actions``; the
runner passes ``system`` (the :class:`~labsvc.capstone.OrderSystem`) when
``run_experiment(..., extras={"system": system})`` is given it.
"""

from __future__ import annotations

__all__ = ["deploy"]


async def deploy(system, version: str, strategy: str = "rolling") -> list[str]:
    """Deploy catalog release ``version`` with ``strategy`` (``rolling``: every instance; ``canary``: one)."""
    return await system.deploy(version, strategy=strategy)
