"""labsvc.design.topology: a decomposition deployed as services makes the calls its plan predicts."""

from __future__ import annotations

import asyncio
import doctest
import json

import networkx as nx
import pandas as pd
import pytest

import labsvc.design.topology as topology
from labsvc import Network
from labsvc.design import (
    Decomposition,
    DecompositionError,
    load_monolith,
    load_shop,
    one_per_module,
    single_service,
)
from labsvc.design.topology import (
    TOPOLOGIES,
    CallPlan,
    PlannedCall,
    compare_runtime,
    default_entries,
    deploy,
    plot_chattiness_vs_coupling,
    plot_granularity,
    plot_runtime,
    request_table,
    runtime_metrics,
    service_names,
    summarize_requests,
)
from labsvc.core.errors import ConfigurationError
from labsvc.core import simtime


def run(coro):
    return simtime.run(coro)


@pytest.fixture
def shop():
    return load_shop()


@pytest.fixture
def tiny() -> nx.DiGraph:
    """Five modules; with threshold 2 the plan is worked out by hand below.

    web -> order (5), web -> catalog (3), order -> model (6), order -> stock (4),
    stock -> order (3, a cycle), catalog -> model (2), catalog -> stock (1, below the threshold)
    """
    g = nx.DiGraph()
    for u, v, w in [("web", "order", 5), ("web", "catalog", 3), ("order", "model", 6), ("order", "stock", 4),
                    ("stock", "order", 3), ("catalog", "model", 2), ("catalog", "stock", 1)]:
        g.add_edge(u, v, weight=w)
    g.nodes["web"]["layer"] = "web"
    return g


@pytest.fixture
def tiny_split() -> Decomposition:
    return Decomposition("split", {"web": "front", "order": "sales", "model": "sales", "catalog": "sales",
                                   "stock": "warehouse"})


# -- the plan, by hand -------------------------------------------------------------


def test_plan_calls_heavier_dependencies_first_and_drops_light_ones(tiny):
    plan = CallPlan.from_graph(tiny, threshold=2)
    assert plan.callees("web") == ("order", "catalog")
    assert plan.callees("order") == ("model", "stock")
    assert plan.callees("catalog") == ("model",)  # catalog -> stock (1) is below the threshold
    assert plan.callees("model") == ()


def test_walk_visits_each_module_once_and_ends_cycles(tiny):
    plan = CallPlan.from_graph(tiny, threshold=2)
    # web -> order -> model, order -> stock (stock -> order: visited), web -> catalog (catalog -> model: visited)
    assert plan.walk("web") == [PlannedCall("web", "order", 1), PlannedCall("order", "model", 2),
                                PlannedCall("order", "stock", 2), PlannedCall("web", "catalog", 1)]
    shallow = CallPlan.from_graph(tiny, threshold=2, max_depth=1)
    assert [(c.caller, c.callee) for c in shallow.walk("web")] == [("web", "order"), ("web", "catalog")]
    assert CallPlan.from_graph(tiny, threshold=2, max_depth=0).walk("web") == []


def test_expected_hops_count_the_entry_call_and_every_crossing_call(tiny, tiny_split):
    plan = CallPlan.from_graph(tiny, threshold=2)
    # crossing: web -> order (front -> sales), order -> stock (sales -> warehouse), web -> catalog
    assert plan.expected_hops(tiny_split, "web") == 4
    assert plan.expected_hops(single_service(tiny), "web") == 1
    assert plan.expected_hops(one_per_module(tiny), "web") == 5


def test_the_call_log_shows_exactly_the_hand_computed_calls(tiny, tiny_split):
    async def scenario():
        top = deploy(tiny_split, tiny, threshold=2, hop_latency=None, name="test-topology-tiny")
        async with top:
            r = await top.network.client("users").post(top.url("web"), json={})
            return r.json(), top.network.calls

    body, calls = run(scenario())
    assert body["visited"] == ["catalog", "model", "order", "stock", "web"]
    assert (body["local_calls"], body["remote_calls"]) == (0, 2)  # web's own calls: order and catalog
    assert list(zip(calls["caller"], calls["callee"], calls["path"])) == [
        ("users", "front", "/modules/web"),
        ("front", "sales", "/modules/order"),
        ("sales", "warehouse", "/modules/stock"),
        ("front", "sales", "/modules/catalog"),
    ]
    assert calls["trace_id"].nunique() == 1 and set(calls["status"]) == {200}


def test_measured_calls_per_request_equal_the_plan_on_a_workload(tiny, tiny_split):
    async def scenario():
        top = deploy(tiny_split, tiny, threshold=2, hop_latency=None, entries={"web": 1, "catalog": 1},
                     name="test-topology-tiny")
        async with top:
            await top.run(rate=200, requests=40, seed=3)
            return top.requests(), top.predicted(), top.summary()

    requests, predicted, summary = run(scenario())
    # by hand: web -> 4 hops; catalog -> catalog calls model (same service): 1 hop
    assert set(zip(predicted["entry"], predicted["hops"])) == {("web", 4), ("catalog", 1)}
    hops = requests.groupby("entry")["hops"].unique().map(list).to_dict()
    assert hops == {"web": [4], "catalog": [1]}
    assert summary["calls_per_request"] == summary["predicted_calls_per_request"] == predicted["hops"].mean()
    assert summary["requests"] == 40 and summary["availability"] == 1.0


def test_sampled_plans_walk_the_same_modules_for_a_request_in_every_decomposition(shop):
    plan = CallPlan.from_graph(shop.graph, saturation=10, seed=5)
    walks = {i: plan.walk("storefront.web", request=i) for i in range(20)}
    assert len({tuple(w) for w in walks.values()}) > 5  # requests differ...
    assert walks[7] == plan.walk("storefront.web", request=7)  # ...but each is reproducible

    async def scenario(d):
        top = deploy(d, shop.graph, plan=plan, hop_latency=None, entries=["storefront.web", "order.api"],
                     name="test-topology-sampled")
        async with top:
            await top.run(rate=200, requests=30, seed=5)
            return top.requests(), top.predicted()

    for d in (shop.decompositions["ddd"], shop.decompositions["nano"]):
        measured, predicted = run(scenario(d))
        assert list(measured.sort_values("start")["hops"]) == list(predicted["hops"]), d.name


# -- the shop: monolith, DDD, nano -------------------------------------------------------


def test_the_monolith_makes_one_hop_per_request(shop):
    row = run(runtime_metrics(shop.decompositions["monolith"], shop.graph, rate=200, requests=40, seed=1))
    assert row["services"] == 1
    assert row["calls_per_request"] == row["max_calls"] == 1.0
    assert row["availability"] == 1.0


def test_nano_services_make_more_calls_and_are_slower_than_the_ddd_split(shop):
    async def measure(name):
        top = deploy(shop.decompositions[name], shop.graph, seed=1, name="test-topology-shop")
        async with top:
            await top.run(rate=100, requests=100, seed=1)
            calls = top.network.calls
        return calls, top.summary(calls)

    ddd_calls, ddd = run(measure("ddd"))
    nano_calls, nano = run(measure("nano"))
    # the numbers come from the call log, not from the plan
    for calls, row in ((ddd_calls, ddd), (nano_calls, nano)):
        roots = calls[calls["caller"] == "users"]
        assert row["requests"] == len(roots) == 100
        assert row["calls_per_request"] == pytest.approx(len(calls) / len(roots))
        assert row["p95_ms"] == pytest.approx(roots["duration"].quantile(0.95) * 1000)
    assert nano["calls_per_request"] > 2 * ddd["calls_per_request"]
    assert nano["services_per_request"] > ddd["services_per_request"]
    assert nano["p95_ms"] > ddd["p95_ms"]
    assert nano["calls_per_request"] == nano["predicted_calls_per_request"]


def test_a_flaky_network_hurts_the_chattier_split_more(shop):
    async def measure(name):
        return await runtime_metrics(shop.decompositions[name], shop.graph, error_rate=0.03, hop_latency=None,
                                     rate=200, requests=150, seed=2)

    ddd, nano = run(measure("ddd")), run(measure("nano"))
    assert nano["availability"] < ddd["availability"] < 1.0


def test_compare_runtime_has_one_row_per_decomposition_in_order(shop):
    ds = {k: shop.decompositions[k] for k in ("monolith", "coarse")}
    table = run(compare_runtime(ds, shop.graph, rate=200, requests=30, hop_latency=None))
    assert list(table.index) == ["monolith", "coarse"]
    assert table.index.name == "decomposition"
    assert list(table.columns) == list(topology.RUNTIME_METRICS)
    assert table.loc["monolith", "calls_per_request"] == 1.0 < table.loc["coarse", "calls_per_request"]


def test_failures_are_problem_documents(tiny, tiny_split):
    async def scenario():
        top = deploy(tiny_split, tiny, threshold=2, name="test-topology-tiny")
        async with top:
            c = top.network.client("users")
            wrong = await c.post("http://front.svc/modules/order", json={})
            invalid = await c.post("http://front.svc/modules/web", json={"depth": -1})
            listed = await c.get("http://sales.svc/modules")
            await top.network.stop_instance("warehouse-1")
            down = await c.post(top.url("web"), json={})
            return wrong, invalid, listed, down

    wrong, invalid, listed, down = run(scenario())
    assert wrong.status_code == 404 and wrong.headers["content-type"] == "application/problem+json"
    assert "front does not host module 'order'" in wrong.json()["detail"]
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "body.depth"
    assert listed.json() == {"service": "sales", "modules": ["catalog", "model", "order"]}
    # front -> sales -> warehouse (down): sales answers 503, front 502
    assert down.status_code == 502 and down.json()["type"] == "urn:labsvc:problem:dependency-failed"


# -- names, entries, registry ----------------------------------------------------------


def test_service_names_are_valid_network_names_for_real_monoliths():
    pet = load_monolith("jpetstore")
    for d in (pet.ground_truth, one_per_module(pet.classes), pet.baseline("Bunch")):
        names = service_names(d.completed(pet.graph))
        assert len(set(names.values())) == len(names)
        top = deploy(d.completed(pet.graph), pet.graph, name="test-names")  # Network.add validates each name
        assert sorted(top.network.services) == sorted(names.values())
    assert service_names(pet.ground_truth)["Account service"] == "account-service"
    assert service_names(one_per_module(pet.classes))["org.mybatis.jpetstore.domain.Account"] == "account"
    assert set(service_names(pet.baseline("Bunch")).values()) == {"bunch-s0", "bunch-s1", "bunch-s2", "bunch-s3"}
    assert service_names(Decomposition("d", {"a": "x y", "b": "x-y", "c": "p.q", "d": "r.q"})) == {
        "p.q": "p-q", "r.q": "r-q", "x y": "x-y", "x-y": "x-y-n2"}


def test_default_entries_are_the_web_modules(shop, tiny):
    assert default_entries(shop.graph) == ("catalog.api", "customer.api", "delivery.api", "employee.api",
                                           "inventory.api", "order.api", "search.api", "storefront.web")
    no_layer = nx.DiGraph([("a", "b"), ("b", "c")])
    assert default_entries(no_layer) == ("a",)


def test_workload_entries_are_seeded_and_the_same_for_every_decomposition(shop):
    tops = [deploy(shop.decompositions[k], shop.graph, name="test-entries") for k in ("ddd", "nano")]
    first = [tops[0].entry_of(i, seed=4) for i in range(50)]
    assert first == [tops[1].entry_of(i, seed=4) for i in range(50)]
    assert first != [tops[0].entry_of(i, seed=5) for i in range(50)]
    assert set(first) <= set(default_entries(shop.graph))


def test_import_strings_name_app_factories_that_child_processes_can_load(tiny, tiny_split, tmp_path, monkeypatch):
    monkeypatch.setattr(topology.tempfile, "gettempdir", lambda: str(tmp_path))
    plan = CallPlan.from_graph(tiny, threshold=2)
    owners = {m: service_names(tiny_split)[s] for m, s in tiny_split.assignment.items()}
    key = TOPOLOGIES.register(owners, plan, persist=True)
    assert key == TOPOLOGIES.register(owners, plan)  # same configuration, same key
    saved = json.loads((tmp_path / "labsvc-topologies" / f"{key}.json").read_text())
    assert saved["owners"] == owners and CallPlan.from_dict(saved["plan"]) == plan
    fresh = topology._Registry()  # what a child process has: nothing in memory
    factory = getattr(getattr(fresh, key), "warehouse")
    app = factory()
    assert app.title.startswith("warehouse") and factory() is not app  # one app per instance
    spec = TOPOLOGIES.import_string(key, "warehouse")
    assert spec == f"labsvc.design.topology:TOPOLOGIES.{key}.warehouse"
    with pytest.raises(AttributeError, match="no service 'nowhere'"):
        getattr(getattr(fresh, key), "nowhere")
    with pytest.raises(AttributeError, match="no topology"):
        getattr(fresh, "t0000")


@pytest.mark.slow
def test_process_mode_makes_the_same_calls(shop):
    async def measure(mode):
        top = deploy(shop.decompositions["coarse"], shop.graph, hop_latency=None, mode=mode,
                     name=f"test-topology-{mode}")
        async with top:
            await top.run(rate=50, requests=20, seed=1)
            return top.summary()

    inprocess, process = run(measure("inprocess")), run(measure("process"))
    assert process["calls_per_request"] == inprocess["calls_per_request"] == inprocess["predicted_calls_per_request"]
    assert process["availability"] == 1.0


# -- bad input ---------------------------------------------------------------------------


def test_bad_plans_say_what_to_fix(tiny):
    with pytest.raises(ConfigurationError, match="threshold=-1"):
        CallPlan.from_graph(tiny, threshold=-1)
    with pytest.raises(ConfigurationError, match="max_depth"):
        CallPlan.from_graph(tiny, max_depth=-1)
    with pytest.raises(ConfigurationError, match="saturation=0"):
        CallPlan.from_graph(tiny, saturation=0)
    with pytest.raises(ConfigurationError, match="expected a networkx.DiGraph"):
        CallPlan.from_graph(nx.Graph())
    with pytest.raises(ConfigurationError, match="'nowhere' is not in the call plan"):
        CallPlan.from_graph(tiny).walk("nowhere")
    with pytest.raises(ConfigurationError, match="calls modules the plan does not have"):
        CallPlan({"a": (("b", 1.0),)})
    with pytest.raises(DecompositionError, match="does not assign"):
        CallPlan.from_graph(tiny).expected_hops(Decomposition("part", {"web": "x"}), "web")


def test_bad_deployments_say_what_to_fix(tiny, tiny_split, shop):
    with pytest.raises(ConfigurationError, match="expected a Decomposition"):
        deploy({"web": "x"}, tiny)
    with pytest.raises(DecompositionError, match="have no service"):
        deploy(Decomposition("part", {"web": "x"}), tiny)
    with pytest.raises(ConfigurationError, match="error_rate=2"):
        deploy(tiny_split, tiny, error_rate=2)
    with pytest.raises(ConfigurationError, match="not in the graph"):
        deploy(tiny_split, tiny, entries=["nowhere"])
    with pytest.raises(ConfigurationError, match="at least one entry"):
        deploy(tiny_split, tiny, entries=[])
    with pytest.raises(ConfigurationError, match="another graph"):
        deploy(tiny_split, tiny, plan=CallPlan.from_graph(shop.graph))
    with pytest.raises(ConfigurationError, match="latency"):
        deploy(tiny_split, tiny, hop_latency=[1])
    with pytest.raises(ConfigurationError, match="at least one decomposition"):
        run(compare_runtime([], tiny))
    with pytest.raises(ConfigurationError, match="repeated"):
        run(compare_runtime([tiny_split, tiny_split], tiny))
    with pytest.raises(ConfigurationError, match="missing columns"):
        request_table(pd.DataFrame({"caller": []}))
    with pytest.raises(ConfigurationError, match="send traffic first"):
        summarize_requests(request_table(Network().calls))


# -- plots and API -----------------------------------------------------------------------


def test_plots_return_figures_and_reject_missing_columns():
    static = pd.DataFrame({"icp": [0.0, 1.0]}, index=pd.Index(["mono", "nano"], name="decomposition"))
    runtime = pd.DataFrame({"calls_per_request": [1.0, 9.0], "p95_ms": [2.0, 30.0]}, index=static.index)
    assert len(plot_runtime(runtime).axes) == 2
    fig = plot_chattiness_vs_coupling(static, runtime)
    assert [t.get_text() for t in fig.axes[0].texts] == ["mono", "nano"]
    with pytest.raises(ConfigurationError, match="no column 'sm'"):
        plot_chattiness_vs_coupling(static, runtime, x="sm")
    with pytest.raises(ConfigurationError, match="none of"):
        plot_runtime(runtime, metrics=["nothing"])


def test_granularity_plot_has_one_panel_per_metric_in_order_of_services():
    frame = pd.DataFrame({"services": [37, 1, 10], "calls_per_request": [15.0, 1.0, 6.0],
                          "p95_ms": [80.0, 4.0, 25.0], "services_per_change": [2.9, 1.0, 1.4]},
                         index=["nano", "monolith", "ddd"])
    fig = plot_granularity(frame, metrics=("calls_per_request", "p95_ms", "services_per_change"))
    assert len(fig.axes) == 3
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 10, 37]
    assert fig.axes[2].get_title() == "mean services touched per change"
    with pytest.raises(ConfigurationError, match="need column"):
        plot_granularity(frame, x="nothing")


def test_a_run_sends_what_it_is_told_and_starts_a_fresh_measurement(tiny, tiny_split):
    async def scenario():
        top = deploy(tiny_split, tiny, threshold=2, hop_latency=None, name="test-topology-tiny")
        async with top:
            await top.network.client("users").post(top.url("web"), json={})
            by_duration = await top.run(rate=100, duration="0.2s")
            after_duration = len(top.requests())
            default = await top.run(rate=400)
            return len(by_duration.df), after_duration, len(default.df), len(top.requests())

    by_duration, after_duration, default, logged = run(scenario())
    assert by_duration == after_duration == 20  # the earlier manual request is not counted
    assert default == logged == topology.DEFAULT_REQUESTS


def test_exported_names():
    assert set(topology.__all__) == {
        "DEFAULT_THRESHOLD", "DEFAULT_MAX_DEPTH", "DEFAULT_HOP_LATENCY", "DEFAULT_RATE", "DEFAULT_REQUESTS",
        "RUNTIME_METRICS", "TOPOLOGIES", "PlannedCall", "CallPlan", "service_names", "default_entries",
        "module_app", "Topology", "deploy", "request_table", "summarize_requests", "runtime_metrics",
        "compare_runtime", "plot_runtime", "plot_granularity", "plot_chattiness_vs_coupling",
    }


def test_public_api_is_documented_and_its_examples_run():
    for name in topology.__all__:
        obj = getattr(topology, name)
        if callable(obj) and not isinstance(obj, topology._Registry):
            assert obj.__doc__ and obj.__doc__.strip(), name
    result = doctest.testmod(topology, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 5
