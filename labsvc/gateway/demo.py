"""The shop's services behind a gateway: the topology notebook 09 experiments on.

>>> from labsvc.gateway import Gateway
>>> net = shop_with_gateway(Gateway({"/catalog": "catalog"}), name="demo-doc")
>>> sorted(net.services)
['catalog', 'gateway', 'inventory', 'profile', 'reviews']
"""

from __future__ import annotations

from typing import Any

from ..network import Network
from ..shop.services import catalog_app, inventory_app, reviews_app
from .app import Gateway
from .echo import echo_app

__all__ = ["shop_with_gateway"]


def shop_with_gateway(gateway: Gateway | Any, *, name: str = "gateway-shop", seed: int = 0,
                      catalog_instances: int = 2, profile: bool = True) -> Network:
    """A network with ``catalog`` (``catalog_instances`` instances), ``inventory``,
    ``reviews``, a ``profile`` echo service (shows what the gateway forwarded)
    and ``gateway`` (a :class:`Gateway` or its app). Not started yet."""
    net = Network(seed=seed, name=name)
    net.add("catalog", catalog_app, instances=catalog_instances)
    net.add("inventory", inventory_app)
    net.add("reviews", reviews_app)
    if profile:
        net.add("profile", echo_app("profile"))
    net.add("gateway", gateway.app if isinstance(gateway, Gateway) else gateway)
    return net
