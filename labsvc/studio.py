"""Studio: small ipywidgets panels to break a running network by hand.

Made for live demos: an instructor moves a slider, clicks "send traffic",
and the room sees the effect in a table, while the network keeps the
numbers in its call log.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .network import Network

__all__ = ["fault_panel"]


def fault_panel(net: Network, target: str, url: str | None = None, *, requests: int = 50, rate: float = 100.0):
    """Sliders for latency and error rate on ``target``, and a button that sends traffic.

    Returns an ``ipywidgets.VBox``; display it as the last expression of a cell.
    """
    import ipywidgets as w

    from .load import open_loop

    net._fault_holder(target)  # unknown names fail now, with the list of known ones
    url = url or f"http://{target}.svc/health"
    latency = w.IntSlider(value=0, min=0, max=200, step=10, description="latency ms")
    errors = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="error rate")
    button = w.Button(description=f"send {requests} requests", button_style="primary")
    out = w.Output()

    def apply(_: Any = None) -> None:
        net.clear_faults(target)
        net.fault(target, latency=latency.value / 1000 if latency.value else None, error_rate=errors.value)

    async def send() -> None:
        run = await open_loop(net, f"GET {url}", rate=rate, requests=requests, caller="studio", progress=False)
        out.clear_output()
        with out:
            print(run)

    def click(_: Any) -> None:
        apply()
        asyncio.ensure_future(send())

    latency.observe(apply, names="value")
    errors.observe(apply, names="value")
    button.on_click(click)
    return w.VBox([w.HTML(f"<b>Faults on {target}</b>"), latency, errors, button, out])
