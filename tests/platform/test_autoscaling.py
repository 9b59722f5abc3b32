"""The platform's HPA scales real instances of an app under a load ramp (fake clock, metric per instance)."""

from __future__ import annotations

import asyncio

from labsvc.core.clock import FakeClock
from labsvc.core.network import Network
from labsvc.platform import Platform
from labsvc.core import simtime


def test_replicas_follow_a_load_ramp_up_fast_and_down_only_after_the_window():
    clock = FakeClock()

    def offered(t):              # requests per second offered to the app: ramp up, hold, drop
        return 20 if t < 60 else (200 if t < 300 else 20)

    def per_instance(app):       # what the HPA reads: load per ready instance
        return offered(clock.now()) / max(1, len(app.ready_pods()))

    async def scenario():
        net = Network(seed=9, name="hpa-ramp")
        platform = Platform(net, clock=clock)
        async with net:
            await platform.push({"name": "web", "app": "platapps:web_v1", "instances": 1})
            platform.autoscale("web", min_instances=1, max_instances=10, target=20, metric=per_instance)
            await platform.run_for(900, every=5)
            status = platform.status()
        return platform.timeline, platform.events, status
    timeline, events, status = simtime.run(scenario())
    at = lambda t: int(timeline[timeline.time <= t]["ready"].iloc[-1])  # noqa: E731
    assert at(55) == 1                                   # 20 rps against 20 per instance: one is enough
    assert at(120) == 10                                 # 200 rps needs 10, reached within a minute
    assert at(590) == 10                                 # the drop at 300 s: still 10 inside the 300 s window
    assert at(900) == 1                                  # then down to the minimum
    ups = events[events.reason == "Autoscaled"]["message"].tolist()
    assert ups[:2] == ["1 -> 5", "5 -> 10"]              # the larger of +100 % and +4 pods per 15 s
    first_down = events[(events.reason == "Autoscaled") & (events.time > 300)]["time"].min()
    assert first_down >= 600
    assert len(status) == 1 and status["state"].tolist() == ["Running"]
