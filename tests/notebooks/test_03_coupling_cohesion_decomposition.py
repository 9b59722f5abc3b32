"""Notebook 03 measures coupling statically and at run time, and its exercise solutions pass their checks."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/03_coupling_cohesion_decomposition.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_static_metrics_rank_the_shop_splits(tb):
    icp = tb.value("static['icp'].to_dict()")
    assert icp["monolith"] == 0.0 and icp["nano"] == 1.0
    assert icp["ddd"] < icp["layered"] and icp["coarse"] < icp["ddd"]
    per_change = tb.value("static['services_per_change'].to_dict()")
    assert per_change["ddd"] < per_change["layered"] < per_change["nano"]
    spread = tb.value("spread.to_dict()")
    assert spread["monolith"]["1 service"] == 60
    assert spread["ddd"]["1 service"] > spread["layered"]["1 service"]


def test_the_ddd_split_reads_three_foreign_tables(tb):
    rows = tb.value("foreign_table_access(shop.graph, candidates['ddd'])[['service', 'owner']].values.tolist()")
    assert sorted(map(tuple, rows)) == [("delivery", "order"), ("notification", "customer"), ("search", "catalog")]
    assert tb.value("len(foreign_table_access(shop.graph, candidates['layered']))") == 12


def test_jpetstore_ground_truth_and_published_baselines_are_scored(tb):
    pet = tb.value("pet_static['icp'].to_dict()")
    real = {k: v for k, v in pet.items() if k not in ("monolith",)}
    assert min(real, key=real.get) == "ground truth"
    assert {"Bunch (USB)", "MEM (USB)", "Mono2Micro (USB)", "Study [2] (USB)"} <= set(pet)
    coverage = tb.value("coverage.to_dict()")
    assert coverage["Bunch (USB)"] == 1.0 and coverage["MEM (USB)"] < 1.0


def test_published_and_static_numbers_differ_for_the_same_partition(tb):
    side = tb.value("mono2micro_side_by_side(load_monolith('daytrader'), ks=[3, 5, 7]).to_dict('index')")
    for row in side.values():
        assert abs(row["NED published"] - row["ned ours"]) < 0.02  # sizes only: they agree
        assert abs(row["ICP published"] - row["icp ours"]) > 0.1  # runtime traces vs static references


def test_runtime_hops_follow_the_cut_and_nano_is_slowest(tb):
    assert tb.value("len(peek.network.calls)") == tb.value("peek.expected_hops('storefront.web')")
    rt = tb.value("runtime.to_dict('index')")
    assert rt["monolith"]["calls_per_request"] == 1.0
    assert rt["nano"]["calls_per_request"] > 2 * rt["ddd"]["calls_per_request"] > 2 * rt["coarse"]["calls_per_request"]
    assert rt["nano"]["p95_ms"] > rt["ddd"]["p95_ms"] > rt["monolith"]["p95_ms"]
    for row in rt.values():
        assert row["calls_per_request"] == row["predicted_calls_per_request"]
        assert row["availability"] == 1.0 and row["requests"] == 60
    pet = tb.value("pet_runtime['calls_per_request'].to_dict()")
    assert pet["monolith"] == 1.0 < pet["ground truth"] < pet["by layer"] < pet["nano"]


def test_unanswered_exercises_say_what_to_do(tb):
    assert tb.value("bool(check('03.most-services', ..., changes=shop.changes, decomposition=candidates['ddd']))") is False


def test_solutions_pass_their_checks(tb):
    tb.inject("""
        ddd = shop.decompositions["ddd"]
        proposal = (ddd.merge(["catalog", "search", "storefront"], into="catalog", name="merged")
                       .merge(["customer", "notification"], into="customer"))
        ok1 = bool(check("03.beat-baseline", proposal, graph=shop.graph, changes=shop.changes, baseline=ddd))
        wrong1 = bool(check("03.beat-baseline", ddd.renamed("same"), graph=shop.graph, changes=shop.changes, baseline=ddd))
        coarse1 = bool(check("03.beat-baseline", shop.decompositions["coarse"], graph=shop.graph,
                             changes=shop.changes, baseline=ddd))
        impact = change_impact(shop.changes, ddd)
        answer = impact.sort_values("services", ascending=False)["change_id"].iloc[0]
        ok2 = bool(check("03.most-services", answer, changes=shop.changes, decomposition=ddd))
        wrong2 = bool(check("03.most-services", "CH-001", changes=shop.changes, decomposition=ddd))
    """)
    assert tb.ref("ok1") is True and tb.ref("wrong1") is False and tb.ref("coarse1") is False
    assert tb.ref("ok2") is True and tb.ref("wrong2") is False


def test_the_tiny_example_scores_what_the_prose_counts_by_hand(tb):
    scores = tb.value("tiny_scores.round(4).to_dict('index')")
    good, bad = scores["good"], scores["bad"]
    assert (good["icp"], bad["icp"]) == (0.3, 1.0)  # 3 of 10 cross; all 10 cross
    assert (good["ifn"], bad["ifn"]) == (0.5, 1.5)
    assert (good["cohesion"], bad["cohesion"]) == (0.75, 0.0)
    assert (good["modularity"], bad["modularity"]) == (0.195, -0.5)
    assert (good["sm"], bad["sm"]) == (0.0, -0.75)
    assert good["ned"] == bad["ned"] == 1.0 and good["largest_share"] == 0.5
    assert (good["services_per_change"], bad["services_per_change"]) == (1.3333, 1.6667)
    assert tb.value("non_extreme_distribution(three_one, low=2, high=3)") == 0.25
    bcp = {d: round(tb.value(f"business_context_purity({d}, use_cases)"), 3) for d in ("good", "bad")}
    assert bcp == {"good": 0.693, "bad": 0.896}  # ln 2; (ln 2 + ln 3) / 2


def test_the_coupling_prediction_is_checked_against_the_scores(tb):
    tb.inject("""
        unmade = check("03.predict-coupling", static, prediction=...)
        right = check("03.predict-coupling", static, prediction="ddd")
        wrong = check("03.predict-coupling", static, prediction="layered")
        other = check("03.predict-coupling", static, prediction="nano")
        no_table = check("03.predict-coupling", None, prediction="ddd")
    """)
    assert tb.value("bool(unmade)") is False and "no prediction was made" in tb.value("unmade.message")
    assert tb.value("bool(right)") is True
    assert tb.value("bool(wrong)") is False and "82%" in tb.value("wrong.message") and "20%" in tb.value("wrong.message")
    assert tb.value("bool(other)") is False and "'nano'" in tb.value("other.message")
    assert tb.value("bool(no_table)") is False


def test_the_hops_exercise_starts_above_target_and_refuses_a_cut_of_seven(tb):
    tb.inject("""
        ddd = shop.decompositions["ddd"]
        cuts = {"start": ddd,
                "solution": ddd.merge(["customer", "notification"], into="customer").merge(["order", "delivery"],
                                                                                         into="order"),
                "heaviest": ddd.merge(["order", "catalog"], into="order").merge(["search", "storefront"], into="search"),
                "seven": ddd.merge(["customer", "notification", "order"], into="customer").merge(["catalog", "search"],
                                                                                               into="catalog")}
        hop_runs = {k: await runtime_metrics(d, shop.graph, **RUN) for k, d in cuts.items()}
        hop_checks = {k: check("03.fewer-hops", hop_runs[k], decomposition=cuts[k]) for k in cuts}
    """)
    start = tb.value("float(hop_runs['start']['calls_per_request'])")
    assert start == tb.value("float(runtime.loc['ddd', 'calls_per_request'])") > 5.2  # section 6's ddd run
    assert tb.value("hop_checks['start'].ok") is False
    assert f"{start - 5.2:.2f} above the target of 5.2" in tb.value("hop_checks['start'].message")
    assert tb.value("float(hop_runs['solution']['calls_per_request'])") <= 5.2
    assert tb.value("hop_checks['solution'].ok") is True
    # the pairs heaviest in the code miss: weight is not how often requests cross a pair
    assert tb.value("hop_checks['heaviest'].ok") is False
    assert tb.value("hop_checks['seven'].ok") is False and "refused: 7 services" in tb.value("hop_checks['seven'].message")
    wrong_split = tb.value("check('03.fewer-hops', hop_runs['solution'], decomposition=cuts['seven']).message")
    assert "pass the split that was measured" in wrong_split


def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
