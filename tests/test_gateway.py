"""The API gateway routes, authenticates, limits, composes and protects, and says so in problem documents.

Each test builds a small network (an echo service shows what the gateway
forwarded), sends requests through ``http://gateway.svc`` and asserts on
the answers, the call log and the gateway's metrics. Rate limiters and
breakers run on a FakeClock; JWT times on a FakeClock started at a real
Unix time.
"""

from __future__ import annotations

import asyncio

import pytest

from labsvc import Network
from labsvc.core.clock import FakeClock
from labsvc.discovery import DiscoveryClient, ServiceRegistry
from labsvc.core.errors import ConfigurationError
from labsvc.gateway import (
    Aggregation,
    Gateway,
    Part,
    RateLimit,
    RateLimiter,
    Route,
    TokenBucket,
    admissions_over_time,
    echo_app,
    gateway_app,
    measure_paths,
    parse_rate,
    upstream_breaker,
    upstream_retry,
)
from labsvc.core.problems import PROBLEM_JSON
from labsvc.resilience import State
from labsvc.auth.jwt_tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, TokenIssuer, hs256_token, unsigned_token
from labsvc.shop.services import catalog_app, inventory_app, reviews_app
from labsvc.core import simtime

T0 = 1_700_000_000
GW = "http://gateway.svc"


@pytest.fixture(scope="module")
def rsa_key():
    return TokenIssuer("RS256")._signing_key


@pytest.fixture
def jwt_clock():
    return FakeClock(start=T0)


@pytest.fixture
def issuer(rsa_key, jwt_clock):
    return TokenIssuer("RS256", private_key=rsa_key, clock=jwt_clock)


def network(name: str, gateway, **services) -> Network:
    net = Network(seed=3, name=f"test-gateway-{name}")
    for service, app in services.items():
        instances = 1
        if isinstance(app, tuple):
            app, instances = app
        net.add(service, app, instances=instances)
    net.add("gateway", gateway.app if isinstance(gateway, Gateway) else gateway)
    return net


def run(net: Network, scenario):
    async def main():
        async with net:
            return await scenario(net.client("web"))

    return simtime.run(main())


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


def hops(net: Network, callee: str):
    calls = net.calls
    return calls[(calls["caller"] == "gateway") & (calls["callee"] == callee)]


def assert_problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    doc = r.json()
    assert doc["status"] == status and doc["type"] == f"urn:labsvc:problem:{slug}"
    return doc


# ----------------------------------------------------------------- routing

def test_routes_by_prefix_strip_it_and_keep_the_query():
    gw = Gateway([Route("/api", "echo"), Route("/api/orders", "orders")])
    net = network("routing", gw, echo=echo_app("echo"), orders=echo_app("orders"))

    async def scenario(web):
        return [await web.get(f"{GW}/api/things/7?color=red&size=2"), await web.post(f"{GW}/api/orders/1", json={"n": 1}),
                await web.get(f"{GW}/api")]

    things, order, root = run(net, scenario)
    assert things.status_code == 200
    assert things.json()["service"] == "echo" and things.json()["path"] == "/things/7"
    assert things.json()["query"] == "color=red&size=2"
    assert things.headers["x-upstream-instance"] == "echo-1"
    assert order.json()["service"] == "orders" and order.json()["path"] == "/1"  # longest prefix wins
    assert order.json()["method"] == "POST" and order.json()["body"] == '{"n": 1}'
    assert root.json()["path"] == "/"
    forwarded = things.json()["headers"]
    assert forwarded["x-forwarded-prefix"] == "/api" and forwarded["x-forwarded-for"] == "web"
    # Each request made two hops, the second one by the gateway.
    assert list(net.calls["caller"]) == ["web", "gateway"] * 3
    assert list(hops(net, "echo")["route"]) == ["/{path:path}", "/{path:path}"]


def test_unknown_paths_and_methods_get_problem_documents():
    gw = Gateway([Route("/catalog", "catalog", methods=("GET",))])
    net = network("unknown", gw, catalog=catalog_app)

    async def scenario(web):
        return await web.get(f"{GW}/nothing/here"), await web.delete(f"{GW}/catalog/products/1")

    missing, wrong_method = run(net, scenario)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(PROBLEM_JSON)
    assert missing.json()["detail"].startswith("no route matches GET /nothing/here")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"].startswith(PROBLEM_JSON)
    assert hops(net, "catalog").empty


def test_upstream_errors_are_relayed_unchanged():
    net = network("relay", gateway_app({"/catalog": "catalog"}), catalog=catalog_app)
    r = run(net, lambda web: web.get(f"{GW}/catalog/products/99"))
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM_JSON)
    assert r.json()["title"] == "Unknown product"


def test_a_route_to_a_service_that_is_not_on_the_network_is_a_bad_gateway():
    net = network("nowhere", gateway_app({"/ghost": "ghost"}), catalog=catalog_app)
    doc = assert_problem(run(net, lambda web: web.get(f"{GW}/ghost/x")), 502, "bad-gateway")
    assert "ghost" in doc["detail"]


def test_gateway_app_exposes_its_gateway_and_routes():
    app = gateway_app({"/catalog": "catalog"}, rate_limit=RateLimit(10, 5))
    net = network("describe", app, catalog=catalog_app)
    r = run(net, lambda web: web.get(f"{GW}/gateway/routes"))
    assert r.json() == [{"prefix": "/catalog", "service": "catalog", "auth": False, "rate_limit": "10 burst, 5/s",
                         "timeout_s": None, "breaker": "", "retry_attempts": 1}]
    assert app.state.gateway.routes[0].service == "catalog"


@pytest.mark.parametrize("kwargs, match", [
    ({"routes": {"catalog": "catalog"}}, "must start with '/'"),
    ({"routes": {"/catalog/": "catalog"}}, "trailing slash"),
    ({"routes": {"/health": "catalog"}}, "taken by the gateway"),
    ({"routes": {"/catalog": "Catalog!"}}, "not a service name"),
    ({"routes": [Route("/a", "x"), Route("/a", "y")]}, "share the prefix"),
    ({"routes": {"/a": "x"}, "auth": "secret"}, "TokenVerifier"),
    ({"routes": {"/a": "x"}, "balancer": "fastest"}, "unknown balancer"),
    ({"routes": {"/a": "x"}, "discovery": object()}, "ServiceRegistry"),
])
def test_bad_configuration_is_refused_with_a_clear_message(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        Gateway(**kwargs)


def test_an_aggregation_part_must_use_the_parameters_its_path_defines():
    with pytest.raises(ConfigurationError, match="does not define"):
        Aggregation("/pages/{id}", {"product": Part("catalog", "/products/{product_id}")})


# ----------------------------------------------------------------- authentication

@pytest.fixture
def auth_net(issuer):
    gw = Gateway([Route("/profile", "profile"), Route("/public", "profile", auth=False)], auth=issuer.verifier())
    return gw, network("auth", gw, profile=echo_app("profile"))


def test_a_valid_token_passes_and_its_claims_reach_the_service(auth_net, issuer):
    gw, net = auth_net
    token = issuer.issue("alice", claims={"scope": "profile:read"})

    async def scenario(web):
        return await web.get(f"{GW}/profile/me", headers={**bearer(token), "x-user": "root"})

    r = run(net, scenario)
    assert r.status_code == 200
    seen = r.json()["headers"]
    assert seen["x-user"] == "alice"  # the verified subject, not the spoofed header
    assert seen["authorization"] == f"Bearer {token}"
    assert gw.metrics()[["client", "outcome", "status"]].to_dict("records") == [
        {"client": "alice", "outcome": "admitted", "status": 200}]


def test_forwarded_claims_are_configurable(issuer):
    gw = Gateway({"/p": "profile"}, auth=issuer.verifier(), forward_claims={"sub": "x-user", "roles": "x-roles"})
    net = network("claims", gw, profile=echo_app("profile"))
    token = issuer.issue("alice", claims={"roles": ["admin", "dev"]})
    seen = run(net, lambda web: web.get(f"{GW}/p/x", headers=bearer(token))).json()["headers"]
    assert seen["x-user"] == "alice" and seen["x-roles"] == '["admin", "dev"]'


def test_a_public_route_needs_no_token_and_still_strips_spoofed_identity(auth_net):
    _, net = auth_net
    r = run(net, lambda web: web.get(f"{GW}/public/info", headers={"x-user": "root"}))
    assert r.status_code == 200 and "x-user" not in r.json()["headers"]


def test_a_request_without_a_token_gets_401_with_a_bare_bearer_challenge(auth_net):
    gw, net = auth_net
    r = run(net, lambda web: web.get(f"{GW}/profile/me"))
    doc = assert_problem(r, 401, "missing-token")
    assert r.headers["www-authenticate"] == 'Bearer realm="labsvc"'
    assert doc["reason"] == "missing_token" and doc["instance"] == "/profile/me"
    assert hops(net, "profile").empty
    assert gw.metrics()[["client", "outcome"]].to_dict("records") == [{"client": "web", "outcome": "rejected"}]


def rejection_cases(issuer, clock):
    forged_claims = {"iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE, "sub": "admin", "exp": int(clock.now()) + 600}
    return {
        "alg none": (unsigned_token(forged_claims), "alg_not_allowed"),
        "RS256 public key as HS256 secret": (hs256_token(forged_claims, issuer.public_key_pem), "alg_not_allowed"),
        "expired": (issuer.issue("alice", issued_at=clock.now() - 3600), "expired"),
        "wrong audience": (issuer.issue("alice", audience="billing"), "wrong_audience"),
        "missing exp": (issuer.issue("alice", omit=["exp"]), "missing_claim"),
    }


def test_the_five_classic_bad_tokens_get_401_invalid_token_and_never_reach_the_service(auth_net, issuer, jwt_clock):
    gw, net = auth_net
    cases = rejection_cases(issuer, jwt_clock)

    async def scenario(web):
        return {name: await web.get(f"{GW}/profile/me", headers=bearer(token)) for name, (token, _) in cases.items()}

    answers = run(net, scenario)
    for name, (_, expected) in cases.items():
        r = answers[name]
        doc = assert_problem(r, 401, "invalid-token")
        assert doc["reason"] == expected, name
        assert doc["detail"], name
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="labsvc", error="invalid_token"'), name
        assert "error_description=" in challenge
    assert hops(net, "profile").empty
    assert (gw.metrics()["outcome"] == "rejected").sum() == 5


def test_a_token_expires_while_the_gateway_runs(auth_net, issuer, jwt_clock):
    _, net = auth_net
    token = issuer.issue("alice", ttl="1min")

    async def scenario(web):
        before = await web.get(f"{GW}/profile/me", headers=bearer(token))
        jwt_clock.advance(60)
        after = await web.get(f"{GW}/profile/me", headers=bearer(token))
        return before, after

    before, after = run(net, scenario)
    assert before.status_code == 200
    assert assert_problem(after, 401, "invalid-token")["reason"] == "expired"


# ----------------------------------------------------------------- rate limiting

def test_token_bucket_admits_its_capacity_then_the_refill_rate():
    clock = FakeClock()
    bucket = TokenBucket(capacity=5, refill_rate=2, clock=clock)
    assert [bucket.try_acquire() for _ in range(7)] == [True] * 5 + [False] * 2
    assert bucket.retry_after() == 0.5
    clock.advance(0.25)
    assert not bucket.try_acquire()
    clock.advance(0.25)
    assert bucket.try_acquire() and not bucket.try_acquire()
    clock.advance(100)  # never more than capacity
    assert bucket.tokens == 5
    assert (bucket.admitted, bucket.throttled) == (6, 4)


def test_token_bucket_is_exact_over_many_small_fake_clock_steps():
    clock = FakeClock()
    bucket = TokenBucket(capacity=1, refill_rate=10, clock=clock)
    admitted = 0
    for _ in range(1000):  # 1 s in 1 ms steps: one token refills every 100 steps
        admitted += bucket.try_acquire()
        clock.advance(0.001)
    # The full bucket's token at 0 s, then one at 0.1 s, 0.2 s ... 0.9 s, although
    # summing 0.001 a hundred times lands a hair under 0.1.
    assert admitted == 10


def test_token_bucket_without_refill_allows_capacity_in_all():
    clock = FakeClock()
    bucket = TokenBucket(3, 0, clock=clock)
    clock.advance(1000)
    assert sum(bucket.try_acquire() for _ in range(10)) == 3
    assert bucket.retry_after() == float("inf")


def test_rates_and_bad_settings():
    assert parse_rate("600/min") == 10.0 and parse_rate("2/s") == 2.0 and parse_rate(3) == 3.0
    with pytest.raises(ConfigurationError):
        parse_rate("fast")
    with pytest.raises(ConfigurationError):
        TokenBucket(0, 1)
    with pytest.raises(ConfigurationError):
        RateLimit(capacity=2.5, refill_rate=1)


def test_rate_limiter_keeps_one_bucket_per_client_and_forgets_the_oldest():
    limiter = RateLimiter(RateLimit(2, 1), clock=FakeClock(), max_clients=2)
    assert [limiter.decide("a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.decide("b").allowed
    limiter.decide("c")  # a is the least recently seen: forgotten
    assert limiter.clients == ["b", "c"]
    assert limiter.decide("a").allowed  # back with a full bucket


def test_gateway_throttles_each_client_with_429_and_retry_after(issuer):
    clock = FakeClock()
    gw = Gateway({"/p": "profile"}, auth=issuer.verifier(), rate_limit=RateLimit(capacity=3, refill_rate=2), clock=clock)
    net = network("ratelimit", gw, profile=echo_app("profile"))
    alice, bob = bearer(issuer.issue("alice")), bearer(issuer.issue("bob"))

    async def scenario(web):
        first = [await web.get(f"{GW}/p/x", headers=alice) for _ in range(5)]
        other = await web.get(f"{GW}/p/x", headers=bob)
        clock.advance(0.5)
        refilled = [await web.get(f"{GW}/p/x", headers=alice) for _ in range(2)]
        return first, other, refilled

    first, other, refilled = run(net, scenario)
    assert [r.status_code for r in first] == [200, 200, 200, 429, 429]
    doc = assert_problem(first[3], 429, "rate-limited")
    assert first[3].headers["retry-after"] == "1"  # 0.5 s rounded up to whole seconds
    assert doc["client"] == "alice" and doc["retry_after"] == 0.5
    assert other.status_code == 200  # bob has his own bucket
    assert [r.status_code for r in refilled] == [200, 429]
    assert len(hops(net, "profile")) == 5  # throttled requests never reach the service
    summary = gw.summary().set_index("client")
    assert summary.loc["alice", ["requests", "admitted", "throttled", "rejected"]].tolist() == [7, 4, 3, 0]
    assert summary.loc["bob", ["admitted", "throttled"]].tolist() == [1, 0]


def test_api_key_names_the_client_when_there_is_no_token():
    clock = FakeClock()
    gw = Gateway({"/p": "profile"}, rate_limit=RateLimit(1, 1), api_keys={"k-1": "mobile", "k-2": "web-app"}, clock=clock)
    net = network("apikey", gw, profile=echo_app("profile"))

    async def scenario(web):
        return [(await web.get(f"{GW}/p/x", headers={"x-api-key": k})).status_code for k in ("k-1", "k-1", "k-2")]

    assert run(net, scenario) == [200, 429, 200]
    assert gw.summary(by="client").set_index("client")["throttled"].to_dict() == {"mobile": 1, "web-app": 0}


def test_a_bucket_that_never_refills_still_answers_a_valid_problem():
    gw = Gateway({"/p": "profile"}, rate_limit=RateLimit(1, 0), clock=FakeClock())
    net = network("no-refill", gw, profile=echo_app("profile"))

    async def scenario(web):
        return [await web.get(f"{GW}/p/x") for _ in range(2)]

    ok, refused = run(net, scenario)
    assert ok.status_code == 200
    doc = assert_problem(refused, 429, "rate-limited")
    assert doc["retry_after"] is None and "never refills" in doc["detail"]
    assert refused.headers["retry-after"] == "3600"


def test_a_route_can_bring_its_own_rate_limit():
    clock = FakeClock()
    gw = Gateway([Route("/slow", "profile", rate_limit=RateLimit(1, 1)), Route("/fast", "profile")],
                 rate_limit=RateLimit(100, 100), clock=clock)
    net = network("route-limit", gw, profile=echo_app("profile"))

    async def scenario(web):
        return [(await web.get(f"{GW}{p}/x")).status_code for p in ("/slow", "/slow", "/fast", "/fast")]

    assert run(net, scenario) == [200, 429, 200, 200]


def test_admissions_over_time_bins_the_metrics():
    clock = FakeClock()
    gw = Gateway({"/p": "profile"}, rate_limit=RateLimit(2, 10), clock=clock)
    net = network("bins", gw, profile=echo_app("profile"))

    async def scenario(web):
        for _ in range(4):  # 4 requests every 50 ms: 2 admitted at first, then 1 refill per 100 ms
            for _ in range(4):
                await web.get(f"{GW}/p/x")
            clock.advance(0.05)

    run(net, scenario)
    table = admissions_over_time(gw.metrics(), "100ms")
    assert table.to_dict("list") == {"admitted": [2, 1], "throttled": [6, 7]}


# ----------------------------------------------------------------- discovery

def test_routing_through_discovery_never_uses_an_evicted_or_down_instance():
    clock = FakeClock()
    registry = ServiceRegistry(clock, self_preservation=False, gradual_eviction=False)
    for i in (1, 2, 3):
        registry.register("catalog", f"catalog-{i}", f"http://catalog-{i}.svc")
    discovery = DiscoveryClient(registry, clock=clock, refresh_interval=30)
    gw = Gateway({"/catalog": "catalog"}, discovery=discovery, clock=clock)
    net = network("discovery", gw, catalog=(catalog_app, 3))

    async def scenario(web):
        async def burst(n):
            for _ in range(n):
                assert (await web.get(f"{GW}/catalog/products/1")).status_code == 200

        await burst(6)
        before = set(hops(net, "catalog")["instance"])
        await net.stop_instance("catalog-3")  # it dies: no more heartbeats
        registry.set_status("catalog", "catalog-2", "OUT_OF_SERVICE")
        for _ in range(4):  # 120 s: catalog-1 and -2 keep renewing, catalog-3 expires and is evicted
            clock.advance(30)
            registry.heartbeat("catalog", "catalog-1")
            registry.heartbeat("catalog", "catalog-2")
            registry.tick()
        net.reset_calls()
        await burst(6)
        return before

    before = run(net, scenario)
    assert before == {"catalog-1", "catalog-2", "catalog-3"}
    assert set(registry.events.query("event == 'evicted'")["instance"]) == {"catalog-3"}
    assert set(hops(net, "catalog")["instance"]) == {"catalog-1"}


def test_a_stale_discovery_cache_is_covered_by_a_retry():
    clock = FakeClock()
    registry = ServiceRegistry(clock)
    for i in (1, 2):
        registry.register("catalog", f"catalog-{i}", f"http://catalog-{i}.svc")
    retry = upstream_retry(3, clock=clock)
    gw = Gateway([Route("/catalog", "catalog", retry=retry)], discovery=DiscoveryClient(registry, clock=clock),
                 clock=clock)
    net = network("stale", gw, catalog=(catalog_app, 2))

    async def scenario(web):
        await web.get(f"{GW}/catalog/products/1")  # fills the cache
        await net.stop_instance("catalog-2")  # the cache still lists it
        return [(await web.get(f"{GW}/catalog/products/1")).status_code for _ in range(4)]

    assert run(net, scenario) == [200] * 4
    failed = hops(net, "catalog").query("error == 'InstanceDownError'")
    # Round robin keeps offering the dead instance every other time: each
    # request pays one failed attempt until the cache refreshes.
    assert len(failed) == 4 and set(failed["instance"]) == {"catalog-2"}
    assert retry.stats()["retries"] == 4


@pytest.mark.parametrize("other_instance", [False, True])
def test_a_retry_can_be_sent_to_an_instance_the_request_has_not_tried(other_instance):
    clock = FakeClock()
    registry = ServiceRegistry(clock)
    for i in (1, 2, 3):
        registry.register("catalog", f"catalog-{i}", f"http://catalog-{i}.svc")
    gw = Gateway([Route("/catalog", "catalog", retry=upstream_retry(3, clock=clock))], discovery=registry,
                 clock=clock, balancer="random", seed=4, retry_other_instance=other_instance)
    net = network(f"other-{other_instance}", gw, catalog=(catalog_app, 3))

    async def scenario(web):
        await net.stop_instance("catalog-1")
        await net.stop_instance("catalog-2")
        return [(await web.get(f"{GW}/catalog/products/1")).status_code for _ in range(10)]

    statuses = run(net, scenario)
    attempts = hops(net, "catalog")
    per_request = attempts.groupby("trace_id", sort=False)["instance"].apply(list)
    if other_instance:
        # Never the same dead instance twice in one request: every request reaches catalog-3 in 3 tries.
        assert statuses == [200] * 10
        assert all(len(set(tried)) == len(tried) and tried[-1] == "catalog-3" for tried in per_request)
    else:
        # A random pick may offer the same dead instance again: some requests pay for it, some fail.
        assert any(len(set(tried)) < len(tried) for tried in per_request)


def test_no_up_instance_in_discovery_is_503():
    registry = ServiceRegistry(FakeClock())
    registry.register("catalog", "catalog-1", "http://catalog-1.svc", status="DOWN")
    gw = Gateway({"/catalog": "catalog"}, discovery=registry)
    net = network("no-instance", gw, catalog=catalog_app)
    assert_problem(run(net, lambda web: web.get(f"{GW}/catalog/products/1")), 503, "no-instance")
    assert hops(net, "catalog").empty


# ----------------------------------------------------------------- resilience per route

def test_the_breaker_opens_after_upstream_failures_and_the_gateway_answers_503():
    clock = FakeClock()
    breaker = upstream_breaker("inventory", clock=clock, wait_duration_in_open_state="5s")
    gw = Gateway([Route("/inventory", "inventory", breaker=breaker)], clock=clock)
    net = network("breaker", gw, inventory=inventory_app)

    async def scenario(web):
        net.fault("inventory", error_rate=1.0)
        failing = [await web.get(f"{GW}/inventory/stock/1") for _ in range(5)]
        opened = [await web.get(f"{GW}/inventory/stock/1") for _ in range(3)]
        calls_while_open = len(hops(net, "inventory"))
        net.clear_faults()
        clock.advance(5.1)
        recovered = [await web.get(f"{GW}/inventory/stock/1") for _ in range(3)]
        return failing, opened, calls_while_open, recovered

    failing, opened, calls_while_open, recovered = run(net, scenario)
    assert [r.status_code for r in failing] == [503] * 5
    assert all(r.json()["type"] == "urn:labsvc:problem:injected-fault" for r in failing)  # relayed from upstream
    for r in opened:
        doc = assert_problem(r, 503, "circuit-open")
        assert doc["service"] == "inventory" and "OPEN" in doc["detail"]
        assert r.headers["retry-after"] == "5"
    assert calls_while_open == 5  # the open breaker kept the gateway off the service
    assert [r.status_code for r in recovered] == [200] * 3
    assert list(breaker.transitions["to_state"]) == ["OPEN", "HALF_OPEN", "CLOSED"]
    assert breaker.state is State.CLOSED
    assert gw.summary().loc[0, "upstream_errors"] == 8


def test_a_down_service_is_a_bad_gateway_until_the_breaker_opens():
    clock = FakeClock()
    breaker = upstream_breaker("catalog", clock=clock, minimum_number_of_calls=2, sliding_window_size=2)
    gw = Gateway([Route("/catalog", "catalog", breaker=breaker)], clock=clock)
    net = network("down", gw, catalog=catalog_app)

    async def scenario(web):
        net.fault("catalog", down=True)
        return [await web.get(f"{GW}/catalog/products/1") for _ in range(3)]

    answers = run(net, scenario)
    assert [r.json()["type"].rsplit(":", 1)[1] for r in answers] == ["bad-gateway", "bad-gateway", "circuit-open"]
    assert [r.status_code for r in answers] == [502, 502, 503]


def test_a_route_timeout_answers_504_and_the_call_log_shows_the_timeout():
    gw = Gateway([Route("/inventory", "inventory", timeout="30ms")])
    net = network("timeout", gw, inventory=inventory_app)

    async def scenario(web):
        net.fault("inventory", hang=True)
        return await web.get(f"{GW}/inventory/stock/1")

    doc = assert_problem(run(net, scenario), 504, "upstream-timeout")
    assert "0.03 s" in doc["detail"]
    assert list(hops(net, "inventory")["error"]) == ["ReadTimeout"]


def test_retries_are_for_idempotent_methods_only():
    clock = FakeClock()
    retry = upstream_retry(2, clock=clock)
    gw = Gateway([Route("/e", "echo", retry=retry)], clock=clock)
    net = network("retry", gw, echo=(lambda: echo_app("echo"), 2))

    async def scenario(web):
        net.fault("echo-1", down=True)
        get = [(await web.get(f"{GW}/e/x")).status_code for _ in range(2)]
        post = [(await web.post(f"{GW}/e/x", json={})).status_code for _ in range(2)]
        return get, post

    get, post = run(net, scenario)
    assert get == [200, 200]
    assert sorted(post) == [200, 502]  # the POST that hit echo-1 was not retried
    assert retry.stats()["calls"] == 2


# ----------------------------------------------------------------- aggregation (backend for frontend)

PAGE = Aggregation("/pages/products/{product_id}", {
    "product": Part("catalog", "/products/{product_id}"),
    "stock": Part("inventory", "/stock/{product_id}"),
    "reviews": Part("reviews", "/reviews/{product_id}", optional=True, fallback=[]),
})


def shop_network(name: str, gw: Gateway) -> Network:
    return network(name, gw, catalog=catalog_app, inventory=inventory_app, reviews=reviews_app)


def test_aggregation_composes_the_services_concurrently():
    gw = Gateway({"/catalog": "catalog"}, aggregations=[PAGE])
    net = shop_network("bff", gw)

    async def scenario(web):
        for service in ("catalog", "inventory", "reviews"):
            net.fault(service, latency="20ms")
        return await web.get(f"{GW}/pages/products/2")

    r = run(net, scenario)
    body = r.json()
    assert r.status_code == 200
    assert body["product"]["id"] == 2 and body["stock"]["available"] > 0 and len(body["reviews"]) == 3
    assert body["partial"] is False and body["missing"] == [] and body["errors"] == {}
    parts = net.calls[net.calls["caller"] == "gateway"]
    assert set(parts["callee"]) == {"catalog", "inventory", "reviews"}
    assert parts["start"].max() < (parts["start"] + parts["duration"]).min()  # all three were in flight together
    assert parts["trace_id"].nunique() == 1  # one trace for the whole page


def test_aggregation_serves_a_partial_page_when_an_optional_part_fails():
    gw = Gateway({}, aggregations=[PAGE])
    net = shop_network("bff-partial", gw)

    async def scenario(web):
        net.fault("reviews", down=True)
        return await web.get(f"{GW}/pages/products/3")

    body = run(net, scenario).json()
    assert body["product"]["id"] == 3 and body["reviews"] == []
    assert body["partial"] is True and body["missing"] == ["reviews"]
    assert body["errors"]["reviews"]["status"] == 502


def test_aggregation_fails_with_the_required_part_problem():
    gw = Gateway({}, aggregations=[PAGE])
    net = shop_network("bff-required", gw)

    async def scenario(web):
        unknown = await web.get(f"{GW}/pages/products/99")
        net.fault("inventory", down=True)
        down = await web.get(f"{GW}/pages/products/1")
        return unknown, down

    unknown, down = run(net, scenario)
    assert unknown.status_code == 404 and unknown.json()["part"] == "product"
    doc = assert_problem(down, 502, "bad-gateway")
    assert doc["part"] == "stock" and "/stock/1" in doc["detail"]


def test_aggregation_parts_use_the_route_breaker_of_their_service():
    clock = FakeClock()
    breaker = upstream_breaker("reviews", clock=clock, minimum_number_of_calls=2, sliding_window_size=2)
    gw = Gateway([Route("/reviews", "reviews", breaker=breaker)], aggregations=[PAGE], clock=clock)
    net = shop_network("bff-breaker", gw)

    async def scenario(web):
        net.fault("reviews", error_rate=1.0)
        return [(await web.get(f"{GW}/pages/products/1")).json() for _ in range(4)]

    pages = run(net, scenario)
    assert all(p["partial"] for p in pages)
    assert [p["errors"]["reviews"]["status"] for p in pages] == [503, 503, 503, 503]
    assert [p["errors"]["reviews"]["title"] for p in pages][2:] == ["Circuit open", "Circuit open"]
    assert len(hops(net, "reviews")) == 2


# ----------------------------------------------------------------- metrics and measurement

def test_metrics_have_one_row_per_request():
    clock = FakeClock()
    gw = Gateway({"/catalog": "catalog"}, clock=clock)
    net = network("metrics", gw, catalog=catalog_app)

    async def scenario(web):
        await web.get(f"{GW}/catalog/products/1")
        await web.get(f"{GW}/catalog/products/99")

    run(net, scenario)
    df = gw.metrics()
    assert list(df.columns) == ["time", "route", "client", "method", "path", "outcome", "status", "problem", "latency"]
    assert df[["route", "path", "outcome", "status"]].to_dict("records") == [
        {"route": "/catalog", "path": "/catalog/products/1", "outcome": "admitted", "status": 200},
        {"route": "/catalog", "path": "/catalog/products/99", "outcome": "admitted", "status": 404},
    ]
    gw.reset_metrics()
    assert gw.metrics().empty and list(gw.summary().columns)[-4:] == ["admitted", "throttled", "rejected", "upstream_errors"]


def test_measure_paths_compares_a_direct_hop_with_the_gateway_hop():
    net = network("measure", gateway_app({"/catalog": "catalog"}), catalog=catalog_app)

    async def scenario(web):
        return await measure_paths(net, {"direct": "http://catalog.svc/products/1",
                                         "gateway": "http://gateway.svc/catalog/products/1"},
                                   requests=40, rounds=2, warmup=2)

    df = run(net, scenario)
    assert list(df["variant"]) == ["direct", "gateway"] and list(df["requests"]) == [40, 40]
    assert df.loc[0, "x_first"] == 1.0 and df.loc[1, "x_first"] > 1.0  # a gateway adds a hop
    calls = net.calls
    assert len(calls[calls["caller"] == "gateway"]) == 42


def test_shop_with_gateway_runs_on_simulated_time_unless_asked_for_the_wall_clock():
    from labsvc.gateway import shop_with_gateway

    assert shop_with_gateway(Gateway({"/catalog": "catalog"}), name="test-gateway-sim").simulated
    real = shop_with_gateway(Gateway({"/catalog": "catalog"}), name="test-gateway-real", time="real")
    assert not real.simulated

    async def main():  # a real-time network runs on the caller's own loop
        async with real:
            return await measure_paths(real, {"direct": "http://catalog.svc/products/1",
                                              "gateway": "http://gateway.svc/catalog/products/1"},
                                       requests=20, rounds=2, warmup=2)

    df = asyncio.run(main())
    assert list(df["requests"]) == [20, 20] and (df["mean_us"] > 0).all()


# -- the package's layout: factories, the chapter's lab module, old paths -------------------------------


def test_create_app_makes_a_fresh_gateway_on_every_call():
    from labsvc.gateway import create_app

    settings = {"routes": {"/catalog": "catalog"}, "rate_limit": RateLimit(10, 5)}
    first, second = create_app(settings), create_app(settings)
    assert first is not second and first.state.gateway is not second.state.gateway
    assert first.state.gateway.limiter is not second.state.gateway.limiter  # no shared buckets
    assert [r.prefix for r in first.state.gateway.routes] == ["/catalog"]
    assert create_app().state.gateway.routes == []  # no settings: a gateway without routes
    assert gateway_app({"/catalog": "catalog"}).state.gateway.describe().equals(
        create_app({"routes": {"/catalog": "catalog"}}).state.gateway.describe())


def test_the_old_demo_and_overhead_paths_warn_and_give_the_lab_functions():
    import importlib

    from labsvc.gateway import lab

    for old, name in (("labsvc.gateway.demo", "shop_with_gateway"), ("labsvc.gateway.overhead", "measure_paths")):
        module = importlib.import_module(old)
        with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} moved to labsvc\.gateway\.lab\.{name}"):
            assert getattr(module, name) is getattr(lab, name)


@pytest.mark.parametrize("name", ["labsvc.gateway.app", "labsvc.gateway.lab", "labsvc.gateway.plots"])
def test_gateway_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
