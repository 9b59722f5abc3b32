"""The config client in a service: fetched at start, 12-factor overrides, POST /refresh, profiles and labels."""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.auth import DEMO_SECRETS, TokenClient
from labsvc.config import ConfigClient, ConfigSnapshot, env_name, greeting_app, override_policy
from labsvc.core.errors import ConfigurationError
from labsvc.core import simtime

MODES = ["inprocess", pytest.param("process", marks=pytest.mark.slow)]


def topology(mode: str, greeting, instances: int = 2, name: str = "cfg") -> Network:
    net = Network(seed=5, mode=mode, name=f"{name}-{mode}")
    net.add("auth", "labsvc.auth:demo_token_service")
    net.add("broker", "labsvc.messaging:broker_service")
    net.add("config", "labsvc.config:demo_config_server")
    net.add("greeting", greeting, instances=instances)
    return net


async def ops_headers(client) -> dict:
    return await TokenClient("ops", DEMO_SECRETS["ops"], scope="config:write", resource="config").headers(client)


def test_env_names_follow_relaxed_binding():
    assert env_name("greeting.message") == "GREETING_MESSAGE"
    assert env_name("db.pool-size") == "DB_POOLSIZE"


def test_profiles_labels_and_the_environment_decide_what_an_instance_serves():
    async def scenario():
        net = Network(seed=5, name="cfg-profiles")
        net.add("auth", "labsvc.auth:demo_token_service")
        net.add("config", "labsvc.config:demo_config_server")
        net.add("plain", lambda: greeting_app(bus=False))
        net.add("prod", lambda: greeting_app(profiles="prod", bus=False))
        net.add("prodeu", lambda: greeting_app(profiles="prod,eu", bus=False))
        net.add("release", lambda: greeting_app(label="release-1", bus=False))
        net.add("pinned", lambda: greeting_app(profiles="prod", environ={"GREETING_MESSAGE": "pinned by ops"},
                                               bus=False))
        net.add("envprofile", lambda: greeting_app(environ={"LABSVC_PROFILES_ACTIVE": "eu"}, bus=False))
        async with net:
            c = net.client("tester")
            out = {s: (await c.get(f"http://{s}.svc/greeting")).json()["message"]
                   for s in ["plain", "prod", "prodeu", "release", "pinned", "envprofile"]}
            shown = (await c.get("http://pinned.svc/config")).json()
            return out, shown

    out, shown = simtime.run(scenario())
    assert out == {"plain": "hello.", "prod": "good day.", "prodeu": "guten Tag.", "release": "hello, release 1!",
                   "pinned": "good day.", "envprofile": "guten Tag."}
    # release-1 has no shared 'application' source: the punctuation falls back to the service's default
    props = {p["key"]: p for p in shown["properties"]}
    # the repository grants no override, so the server's value beats the environment (Spring's default)
    assert props["greeting.message"]["origin"] == "main:greeting-prod"
    assert shown["ignored_environment"] == {"greeting.message": "GREETING_MESSAGE"}
    assert props["greeting.punctuation"]["origin"] == "main:application"
    assert props["db.password"]["value"] == "******"  # masked, and encrypted anyway
    assert props["logging.level"] == {"key": "logging.level", "value": "WARN", "origin": "main:application-prod"}


def test_remote_properties_win_over_the_environment_unless_the_repository_allows_overrides():
    """Spring Cloud Config: remote sources come first; allowOverride plus overrideSystemProperties=false or
    overrideNone=true, set in the repository (not on the client), lets the environment win."""
    environ = {"GREETING_MESSAGE": "from env", "GREETING_COLOR": "red"}
    client = ConfigClient("greeting", environ=environ, defaults={"greeting.color": "blue"}, bus=False)
    served = {"greeting.message": "from server"}
    snap = client._build(served, {"greeting.message": "main:greeting"}, "1")
    assert snap["greeting.message"] == "from server" and dict(snap.ignored) == {"greeting.message": "GREETING_MESSAGE"}
    assert snap["greeting.color"] == "red"          # a key the server does not send: the environment beats the default
    asking_on_the_client = ConfigClient("greeting", environ={**environ, "SPRING_CLOUD_CONFIG_ALLOWOVERRIDE": "true"},
                                        bus=False)._build(served, {}, "1")
    assert asking_on_the_client["greeting.message"] == "from server"
    only_allow = {**served, "spring.cloud.config.allow-override": True}
    assert client._build(only_allow, {}, "1")["greeting.message"] == "from server"   # overrideSystemProperties: true
    for grant in ({"spring.cloud.config.override-system-properties": False}, {"spring.cloud.config.overrideNone": "true"}):
        snap = client._build({**only_allow, **grant}, {}, "1")
        assert snap["greeting.message"] == "from env" and snap.origins["greeting.message"] == "environment:GREETING_MESSAGE"
        assert dict(snap.ignored) == {}
    assert client._build({**served, **{"spring.cloud.config.override-none": True}}, {}, "1")["greeting.message"] \
        == "from server"   # without allow-override the finer settings do nothing
    assert override_policy({})["environment_wins"] is False
    with pytest.raises(ConfigurationError, match="must be true or false"):
        override_policy({"spring.cloud.config.allowOverride": "sometimes"})


def test_the_repository_grants_an_override_and_a_refresh_applies_it():
    async def scenario():
        net = Network(seed=5, name="cfg-grant")
        net.add("auth", "labsvc.auth:demo_token_service")
        net.add("config", "labsvc.config:demo_config_server")
        net.add("pinned", lambda: greeting_app(profiles="prod", environ={"GREETING_MESSAGE": "pinned by ops"},
                                               bus=False))
        async with net:
            c = net.client("tester")
            before = (await c.get("http://pinned.svc/greeting")).json()["message"]
            grant = {"spring": {"cloud": {"config": {"allow-override": True, "override-system-properties": False}}}}
            refused = await c.patch("http://config.svc/repository/main/greeting-prod", json=grant)
            commit = await c.patch("http://config.svc/repository/main/greeting-prod", json=grant,
                                   headers=await ops_headers(c))
            await c.post("http://pinned.svc/refresh")
            after = (await c.get("http://pinned.svc/greeting")).json()["message"]
            env = (await c.get("http://config.svc/greeting/prod")).json()
            return before, refused.status_code, commit.json(), after, env

    before, refused, commit, after, env = simtime.run(scenario())
    assert (before, refused, after) == ("good day.", 401, "pinned by ops.")
    assert commit == {"label": "main", "source": "greeting-prod", "version": 6}   # five sources put, then this change
    prod = next(s["source"] for s in env["propertySources"] if s["name"] == "main:greeting-prod")
    assert prod["greeting.message"] == "good day" and prod["db.password"].startswith("{cipher}")  # the rest is kept
    assert prod["spring.cloud.config.allow-override"] is True


def test_a_snapshot_is_immutable_and_one_refresh_swaps_it_whole():
    client = ConfigClient("greeting", environ={}, bus=False)
    before = client.snapshot()
    assert isinstance(before, ConfigSnapshot) and before.version == "none"
    with pytest.raises(TypeError):
        before.values["x"] = 1  # type: ignore[index]
    with pytest.raises(KeyError, match="no property 'nope'"):
        before["nope"]


@pytest.mark.parametrize("mode", MODES)
def test_refresh_endpoint_changes_one_instance_and_the_bus_changes_all_without_a_restart(mode):
    async def scenario():
        net = topology(mode, "labsvc.config:greeting_app", instances=3, name="cfg-refresh")
        async with net:
            c = net.client("tester", timeout=10.0)
            ops = await ops_headers(c)
            pids = {i.name: (i.process.pid if i.process else id(i.app)) for i in net.service("greeting").instances}
            starts = {i.name: i.starts for i in net.service("greeting").instances}

            async def served():
                return {n: (await c.get(f"http://{n}.svc/greeting")).json()["message"] for n in sorted(pids)}

            before = await served()
            await c.put("http://config.svc/repository/main/greeting",
                        json={"greeting.message": "changed", "greeting.delay-ms": 0}, headers=ops)
            unchanged = await served()
            one = (await c.post("http://greeting-2.svc/refresh")).json()
            after_one = await served()
            await c.put("http://config.svc/repository/main/greeting",
                        json={"greeting.message": "everywhere", "greeting.delay-ms": 0}, headers=ops)
            await c.post("http://config.svc/bus/refresh", json={"destination": "greeting"}, headers=ops)
            # The bus is asynchronous: wait (bounded) until every instance has applied the event.
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                after_bus = await served()
                if set(after_bus.values()) == {"everywhere."} or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.02)
            same = {i.name: (i.process.pid if i.process else id(i.app)) for i in net.service("greeting").instances}
            restarts = {i.name: i.starts for i in net.service("greeting").instances}
            shown = (await c.get("http://greeting-1.svc/config")).json()
            return before, unchanged, one, after_one, after_bus, pids == same, starts == restarts, shown

    before, unchanged, one, after_one, after_bus, same_pids, no_restart, shown = simtime.run(scenario())
    assert set(before.values()) == {"hello."} and unchanged == before
    assert one["changed"] == ["greeting.delay-ms", "greeting.message"] and one["instance"] == "greeting-2"
    assert after_one == {"greeting-1": "hello.", "greeting-2": "changed.", "greeting-3": "hello."}
    assert after_bus == {n: "everywhere." for n in before}
    assert same_pids and no_restart
    assert [r["trigger"] for r in shown["refreshes"]] == ["start", "bus"]


def test_without_a_config_server_the_service_starts_on_its_defaults_unless_fail_fast():
    from labsvc.core.asgi import LifespanError

    async def scenario(fail_fast: bool):
        net = Network(seed=5, name=f"cfg-no-server-{fail_fast}")
        net.add("greeting", lambda: greeting_app(bus=False, environ={"GREETING_PUNCTUATION": "?"}) if not fail_fast
                else _fail_fast_greeting())
        async with net:
            c = net.client("tester")
            return (await c.get("http://greeting.svc/greeting")).json(), (await c.get("http://greeting.svc/config")).json()

    body, shown = simtime.run(scenario(False))
    assert body["message"] == "hello (built-in default)?" and body["version"] == "none"
    assert [r["trigger"] for r in shown["refreshes"]] == ["start-without-server"]
    assert "no service or instance answers at 'config.svc'" in shown["refreshes"][0]["changed"][0]
    with pytest.raises(LifespanError, match=r"ConfigUnavailable: .*fail_fast=True"):
        simtime.run(scenario(True))


def _fail_fast_greeting():
    app = greeting_app(bus=False)
    app.state.config.fail_fast = True
    return app


def test_served_alone_the_service_runs_on_its_defaults():
    import httpx

    from labsvc.core.asgi import Lifespan

    async def scenario():
        app = greeting_app(environ={})
        lifespan = Lifespan(app)
        await lifespan.startup()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://greeting") as h:
                return (await h.get("/greeting")).json()
        finally:
            await lifespan.shutdown()

    assert simtime.run(scenario())["message"] == "hello (built-in default)!"
