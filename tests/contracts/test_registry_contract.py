"""The registry contract (:class:`~labsvc.discovery.RegistryBackend`), run against every backend.

Each test takes ``registry_rig`` (``conftest.py``) and runs twice: on the
in-memory registry and on the registry service over HTTP. Timers are
Eureka's (90 s leases, eviction every 60 s from the registry's start);
self-preservation and gradual eviction are off unless a test switches them
on. Time is a FakeClock.
"""

from __future__ import annotations

import inspect
from dataclasses import replace

import pytest

from labsvc.core.errors import ConfigurationError, UnknownInstanceError
from labsvc.discovery import InstanceStatus, RegistryBackend

S = "catalog"


def url(instance: str) -> str:
    return f"http://{instance}.svc"


def names(infos) -> list[str]:
    return [i.instance for i in infos]


def test_the_backend_has_every_method_of_the_protocol_with_the_same_signature(registry_rig):
    methods = [name for name, value in vars(RegistryBackend).items() if inspect.iscoroutinefunction(value)]
    assert sorted(methods) == ["cancel", "heartbeat", "lookup", "register", "renew", "set_status", "snapshot", "status"]

    async def scenario(registry, clock):
        assert isinstance(registry, RegistryBackend)
        for name in methods:
            assert inspect.iscoroutinefunction(getattr(registry, name)), name
            assert inspect.signature(getattr(type(registry), name)) == inspect.signature(
                getattr(RegistryBackend, name)), name

    registry_rig.run(scenario)


def test_register_starts_a_lease_and_lists_the_instance(registry_rig):
    async def scenario(registry, clock):
        clock.advance(5)
        info = await registry.register(S, "catalog-1", url("catalog-1"), {"zone": "a"})
        return info, await registry.lookup(S)

    info, found = registry_rig.run(scenario)
    assert (info.service, info.instance, info.url, info.metadata, info.status) == (
        S, "catalog-1", url("catalog-1"), {"zone": "a"}, InstanceStatus.UP)
    assert (info.registered_at, info.last_renewal, info.lease_duration, info.expires_at) == (5, 5, 90, 95)
    assert found == [info]


def test_registering_again_keeps_registered_at_and_renews_the_lease(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        clock.advance(20)
        again = await registry.register(S, "catalog-1", "http://catalog-1.new.svc")
        return again, await registry.lookup(S), await registry.status()

    again, found, status = registry_rig.run(scenario)
    assert (again.registered_at, again.last_renewal, again.url) == (0, 20, "http://catalog-1.new.svc")
    assert found == [again] and status["instances"] == 1


def test_a_heartbeat_renews_the_lease_and_renew_is_the_same_call(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        clock.advance(30)
        beat = await registry.heartbeat(S, "catalog-1")
        clock.advance(30)
        renewed = await registry.renew(S, "catalog-1")
        return beat, renewed

    beat, renewed = registry_rig.run(scenario)
    assert (beat.registered_at, beat.last_renewal, beat.expires_at) == (0, 30, 120)
    assert (renewed.last_renewal, renewed.expires_at) == (60, 150)


def test_calls_about_an_unknown_instance_tell_it_to_register_again(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        with pytest.raises(UnknownInstanceError, match="register it again"):
            await registry.heartbeat(S, "catalog-9")
        with pytest.raises(UnknownInstanceError):
            await registry.renew("orders", "orders-1")
        with pytest.raises(UnknownInstanceError):
            await registry.cancel(S, "catalog-9")
        with pytest.raises(UnknownInstanceError):
            await registry.set_status(S, "catalog-9", InstanceStatus.DOWN)
        return await registry.lookup(S)

    assert names(registry_rig.run(scenario)) == ["catalog-1"]


def test_cancel_deregisters_at_once(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        await registry.register(S, "catalog-2", url("catalog-2"))
        cancelled = await registry.cancel(S, "catalog-1")
        found = await registry.lookup(S)
        with pytest.raises(UnknownInstanceError):
            await registry.heartbeat(S, "catalog-1")   # a cancelled instance must register again
        return cancelled, found, await registry.status()

    cancelled, found, status = registry_rig.run(scenario)
    assert cancelled is None
    assert names(found) == ["catalog-2"] and status["instances"] == 1


def test_an_expired_lease_stays_listed_until_the_eviction_run_removes_it(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        clock.advance(60)
        at_60 = await registry.lookup(S)               # the run due at 60: nothing expired yet
        clock.advance(35)
        at_95 = await registry.lookup(S)               # expired at 90, next run at 120: still listed
        clock.advance(26)
        at_121 = await registry.lookup(S)              # the run due at 120 has evicted it
        with pytest.raises(UnknownInstanceError):
            await registry.heartbeat(S, "catalog-1")
        return at_60, at_95, at_121, await registry.status()

    at_60, at_95, at_121, status = registry_rig.run(scenario)
    assert names(at_60) == ["catalog-1"]
    assert names(at_95) == ["catalog-1"] and at_95[0].expires_at == 90
    assert at_121 == [] and status["instances"] == 0


def test_heartbeats_keep_an_instance_registered_while_a_silent_one_is_evicted(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        await registry.register(S, "catalog-2", url("catalog-2"))   # never sends a heartbeat
        for _ in range(3):
            clock.advance(30)
            await registry.heartbeat(S, "catalog-1")
        clock.advance(31)                              # t=121
        return await registry.lookup(S), await registry.snapshot()

    found, snapshot = registry_rig.run(scenario)
    assert names(found) == ["catalog-1"] and found[0].last_renewal == 90
    assert {s: names(v) for s, v in snapshot.items()} == {S: ["catalog-1"]}


def test_an_instance_may_register_with_a_lease_of_its_own(registry_rig):
    async def scenario(registry, clock):
        short = await registry.register(S, "catalog-1", url("catalog-1"), lease_duration=10)
        await registry.register(S, "catalog-2", url("catalog-2"))
        clock.advance(61)                              # the run due at 60: catalog-1 expired at 10
        return short, await registry.lookup(S)

    short, found = registry_rig.run(scenario)
    assert (short.lease_duration, short.expires_at) == (10, 10)
    assert names(found) == ["catalog-2"]


def test_a_status_other_than_up_takes_an_instance_out_of_rotation(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        await registry.register(S, "catalog-2", url("catalog-2"), status="STARTING")
        out = await registry.set_status(S, "catalog-1", InstanceStatus.OUT_OF_SERVICE)
        none_up = await registry.lookup(S), await registry.snapshot()
        up = await registry.set_status(S, "catalog-2", "UP")
        with pytest.raises(ConfigurationError):
            await registry.set_status(S, "catalog-1", "MAYBE")
        return out, none_up, up, await registry.lookup(S), await registry.status()

    out, (found, snapshot), up, later, status = registry_rig.run(scenario)
    assert out.status is InstanceStatus.OUT_OF_SERVICE and up.status is InstanceStatus.UP
    assert found == [] and snapshot == {S: []}        # registered, but none UP
    assert names(later) == ["catalog-2"] and status["instances"] == 2


def test_lookup_lists_up_instances_by_name_and_snapshot_lists_every_service(registry_rig):
    async def scenario(registry, clock):
        for service, instance in [(S, "catalog-2"), ("orders", "orders-1"), (S, "catalog-1")]:
            await registry.register(service, instance, url(instance))
        return await registry.lookup(S), await registry.lookup("payments"), await registry.snapshot()

    found, nothing, snapshot = registry_rig.run(scenario)
    assert names(found) == ["catalog-1", "catalog-2"] and nothing == []
    assert {s: names(v) for s, v in snapshot.items()} == {S: ["catalog-1", "catalog-2"], "orders": ["orders-1"]}


def test_every_instance_handed_out_is_a_copy(registry_rig):
    async def scenario(registry, clock):
        info = await registry.register(S, "catalog-1", url("catalog-1"), {"zone": "a"})
        info.metadata["zone"] = "b"                    # a caller scribbling on what it got
        [found] = await registry.lookup(S)
        found.metadata["zone"] = "c"
        return await registry.snapshot()

    assert registry_rig.run(scenario)[S][0].metadata == {"zone": "a"}


def test_status_counts_renewals_per_whole_minute(registry_rig):
    async def scenario(registry, clock):
        await registry.register(S, "catalog-1", url("catalog-1"))
        for _ in range(2):
            clock.advance(20)
            await registry.heartbeat(S, "catalog-1")
        during = await registry.status()               # t=40
        clock.advance(21)
        after = await registry.status()                # t=61: the first minute has ended
        return during, after

    during, after = registry_rig.run(scenario)
    assert (during["renewals_this_minute"], during["renewals_last_minute"], during["instances"]) == (2, 0, 1)
    assert (after["renewals_this_minute"], after["renewals_last_minute"]) == (0, 2)
    assert after["expected_renewals_per_minute"] == 2 and after["self_preservation_enabled"] is False


def test_self_preservation_stops_eviction_when_renewals_collapse(registry_rig):
    async def scenario(registry, clock):
        for k in range(1, 5):
            await registry.register(S, f"catalog-{k}", url(f"catalog-{k}"))
        clock.advance(60)
        await registry.lookup(S)
        clock.advance(61)                              # t=121: every lease expired, nobody renewed
        return await registry.lookup(S), await registry.status()

    found, status = registry_rig.run(scenario, replace(registry_rig.default, self_preservation=True))
    assert len(found) == 4                             # a network problem, not mass death: keep them
    assert status["self_preservation"] is True and status["renewals_last_minute"] == 0


def test_gradual_eviction_removes_only_a_few_instances_per_run(registry_rig):
    async def scenario(registry, clock):
        for k in range(1, 5):
            await registry.register(S, f"catalog-{k}", url(f"catalog-{k}"))
        clock.advance(60)
        await registry.lookup(S)
        clock.advance(61)
        after_one_run = await registry.lookup(S)       # t=121: at most 4 - int(4 * 0.85) = 1 evicted
        clock.advance(60)
        after_two_runs = await registry.lookup(S)      # t=181
        return after_one_run, after_two_runs

    one, two = registry_rig.run(scenario, replace(registry_rig.default, gradual_eviction=True))
    assert (len(one), len(two)) == (3, 2)


def test_invalid_registrations_are_refused(registry_rig):
    async def scenario(registry, clock):
        with pytest.raises(ConfigurationError, match="url"):
            await registry.register(S, "catalog-1", "ftp://catalog-1")
        with pytest.raises(ConfigurationError):
            await registry.register(S, "catalog-1", url("catalog-1"), status="MAYBE")
        return await registry.lookup(S), await registry.status()

    found, status = registry_rig.run(scenario)
    assert found == [] and status["instances"] == 0
