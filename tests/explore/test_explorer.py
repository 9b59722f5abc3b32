"""The explorer is systematic: it visits every run of the bounded space once, finds the seeded bug by its
shortest counterexample, proves the fixed version clean within the bound, and replays a run exactly."""

import asyncio

import pytest

from labsvc.core import simtime
from labsvc.core.errors import ConfigurationError
from labsvc.core.network import Network
from labsvc.core.service import create_service
from labsvc.explore import Budget, ExplorationError, Workflow, explore, replay


# -- a toy: three independent messages to one sink ------------------------------------------------------------
def sink_app(received):
    app = create_service("sink")

    @app.post("/msg/{m}")
    async def msg(m: str):
        received.append(m)
        return {"got": m}

    return app


def toy(received):
    def build():
        received.clear()
        net = Network(seed=1, name="explore-toy")
        net.add("sink", lambda: sink_app(received))
        return net

    async def drive(net):
        await asyncio.gather(*(net.client(f"p{m}").post(f"http://sink.svc/msg/{m}") for m in "abc"))

    return Workflow(build, drive, {"every message arrives": lambda net: set(received) == set("abc")},
                    state=lambda net: tuple(received), settle="1s", name="toy")


def test_the_toy_space_is_walked_exactly_once_per_run():
    """3 messages ready at once: 3! orders; at most one duplicate each: 2**3 ways. 48 runs, all distinct."""
    received = []
    result = simtime.run(explore(toy(received), budget=Budget(duplicate=3), max_runs=1000))
    assert result.exhausted and result.counterexample is None
    assert result.runs == 6 * 2 ** 3 == 48
    assert result.distinct_states == 48  # each run delivers a different sequence


def test_the_budget_bounds_the_space():
    received = []
    assert simtime.run(explore(toy(received))).runs == 6  # no faults: only the orders
    assert simtime.run(explore(toy(received), budget=Budget(duplicate=1))).runs == 6 * (1 + 3)  # none, or one of 3


def test_depth_first_covers_the_same_space():
    received = []
    result = simtime.run(explore(toy(received), budget=Budget(duplicate=1), strategy="dfs"))
    assert result.runs == 24 and result.exhausted


# -- a seeded bug: dedupe in memory, charges in the database --------------------------------------------------
def payment_app(ledger, durable):
    app = create_service("payment")
    seen = set()  # the in-memory dedupe record: a crash forgets it

    @app.post("/charge/{order}")
    async def charge(order: str):
        applied = ledger["applied"] if durable else seen
        if order not in applied:
            applied.add(order)
            ledger["charges"].append(order)
        return {"charged": order}

    return app


def checkout(durable):
    ledger = {}

    def build():
        ledger.update(charges=[], applied=set())  # the service's database: it survives a crash
        net = Network(seed=3, name="explore-pay")
        net.add("payment", lambda: payment_app(ledger, durable))
        return net

    async def drive(net):
        client = net.client("order")
        for _ in range(3):  # an at-least-once caller: retry until an answer comes back
            try:
                await client.post("http://payment.svc/charge/o-1")
                return
            except Exception:  # noqa: BLE001 - any failure means: try again
                await net.run_for("100ms")

    def charged_once(net):
        return ledger["charges"].count("o-1") == 1

    return Workflow(build, drive, {"o-1 charged exactly once": charged_once},
                    state=lambda net: tuple(ledger["charges"]), settle="1s", name="checkout")


def test_the_explorer_finds_the_crash_that_double_charges_with_the_shortest_script():
    budget = Budget(lose_reply=1, crash_after=1)
    result = simtime.run(explore(checkout(durable=False), budget=budget))
    cx = result.counterexample
    assert cx is not None and cx.violated == ["o-1 charged exactly once"]
    assert cx.script == [2]  # one choice: crash right after the first charge (a lost reply alone is harmless)
    assert cx.choices[0].taken == "crash-after"
    again = simtime.run(replay(checkout(durable=False), cx.script, budget=budget))
    assert again.violated == cx.violated
    assert again.calls.drop(columns=[]).equals(cx.calls)
    # the call log names the fault the chooser picked, and the sequence diagram draws it
    assert list(again.calls["fault"]) == ["crash", ""]
    from labsvc.observability import sequence_diagram

    text = sequence_diagram(again.calls, trace=0).mermaid
    assert "crashed after the work, before answering, then restarted" in text


def test_a_lost_reply_is_named_in_the_call_log():
    budget = Budget(lose_reply=1)
    result = simtime.run(explore(checkout(durable=False), budget=budget))
    lost = next(s for s in ([1], [2]) if "lose-reply" in
                [c.taken for c in simtime.run(replay(checkout(durable=False), s, budget=budget)).choices])
    run = simtime.run(replay(checkout(durable=False), lost, budget=budget))
    assert result.exhausted and "lost-reply" in set(run.calls["fault"])


def test_a_durable_dedupe_is_clean_within_the_bound():
    result = simtime.run(explore(checkout(durable=True), budget=Budget(lose_reply=1, crash_after=1)))
    assert result.counterexample is None and result.exhausted
    assert result.runs >= 5
    assert "no invariant was violated" in result.summary()


# -- bad input --------------------------------------------------------------------------------------------------
def test_an_unbounded_budget_is_refused():
    with pytest.raises(ConfigurationError, match="unbounded"):
        Budget(duplicate=10**6)


def test_an_invariant_that_raises_is_named():
    received = []
    wf = toy(received)
    wf.invariants = {"broken check": lambda net: 1 / 0}
    with pytest.raises(ExplorationError, match="invariant 'broken check' raised ZeroDivisionError"):
        simtime.run(explore(wf))


def test_a_workflow_that_never_settles_hits_the_step_bound():
    def pinger_app():
        app = create_service("ping")

        @app.get("/")
        async def ping():
            return {}

        return app

    def build():
        net = Network(seed=1, name="explore-busy")
        net.add("ping", pinger_app)
        return net

    async def drive(net):
        async def pinger(who):
            client = net.client(who)
            while True:
                await client.get("http://ping.svc/")
                await asyncio.sleep(0.01)
        for who in ("a", "b"):
            net.spawn(pinger(who))

    wf = Workflow(build, drive, {"true": lambda net: True}, settle="2s", name="busy")
    with pytest.raises(ExplorationError, match="over the bound of 50"):
        simtime.run(explore(wf, max_steps=50))


def test_a_workflow_needs_an_invariant():
    with pytest.raises(ConfigurationError, match="at least one invariant"):
        Workflow(lambda: None, None, {})
