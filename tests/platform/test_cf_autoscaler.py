"""The App Autoscaler's rules: a breach must last breach_duration_secs, a scaling starts a cool-down."""

import asyncio

import pytest

from labsvc.platform import AppAutoscaler, PolicyError, AutoscalerPolicy, AutoscalerRule, app_autoscaler_experiment


def policy(**rule):
    base = {"metric_type": "throughput", "threshold": 10, "operator": ">", "adjustment": "+1",
            "breach_duration_secs": 60, "cool_down_secs": 120}
    base.update(rule)
    return AutoscalerPolicy.from_dict({"instance_min_count": 1, "instance_max_count": 5, "scaling_rules": [base]})


def test_a_rule_fires_only_after_the_metric_breached_for_the_whole_breach_duration():
    s = AppAutoscaler(policy())
    assert [s.observe(t, {"throughput": 20}, 1) for t in (0, 30, 59)] == [1, 1, 1]
    assert s.observe(60, {"throughput": 20}, 1) == 2


def test_a_break_in_the_breach_starts_the_duration_over():
    s = AppAutoscaler(policy())
    s.observe(0, {"throughput": 20}, 1)
    s.observe(40, {"throughput": 5}, 1)          # back under the threshold
    assert s.observe(70, {"throughput": 20}, 1) == 1
    assert s.observe(129, {"throughput": 20}, 1) == 1
    assert s.observe(130, {"throughput": 20}, 1) == 2


def test_nothing_scales_during_the_cool_down_and_a_lasting_breach_fires_right_after():
    s = AppAutoscaler(policy())
    assert s.observe(0, {"throughput": 20}, 1) == 1
    assert s.observe(60, {"throughput": 20}, 1) == 2           # cool-down until 180
    assert s.observe(120, {"throughput": 20}, 2) == 2
    assert "cooling down until 180 s" in s.history.iloc[-1]["reason"]
    assert s.observe(180, {"throughput": 20}, 2) == 3


def test_adjustments_and_bounds():
    assert policy(adjustment="+2").scaling_rules[0].apply(3) == 5
    assert policy(adjustment="-50%", operator="<").scaling_rules[0].apply(5) == 3
    assert policy(adjustment="+100%").scaling_rules[0].apply(3) == 6
    s = AppAutoscaler(policy(adjustment="+3", breach_duration_secs=0))
    assert s.observe(0, {"throughput": 99}, 4) == 5                 # instance_max_count
    down = AppAutoscaler(policy(adjustment="-2", operator="<", breach_duration_secs=0))
    assert down.observe(0, {"throughput": 1}, 2) == 1               # instance_min_count


def test_scaling_out_wins_when_both_directions_fire():
    p = AutoscalerPolicy.from_dict({"instance_min_count": 1, "instance_max_count": 9, "scaling_rules": [
        {"metric_type": "cpu", "threshold": 10, "operator": "<", "adjustment": "-1", "breach_duration_secs": 0,
         "cool_down_secs": 0},
        {"metric_type": "throughput", "threshold": 10, "operator": ">", "adjustment": "+2", "breach_duration_secs": 0,
         "cool_down_secs": 0}]})
    assert AppAutoscaler(p).observe(0, {"cpu": 1, "throughput": 50}, 3) == 5


@pytest.mark.parametrize("changes, message", [
    ({"operator": "=>"}, r"operator='=>': use one of"),
    ({"adjustment": "2"}, r"adjustment='2': a signed change"),
    ({"adjustment": "+0"}, r"adjustment='\+0'"),
    ({"breach_duration_secs": -1}, r"breach_duration_secs=-1"),
    ({"threshold": "high"}, r"threshold='high' must be a number"),
    ({"metric_type": "rps per instance"}, r"metric_type="),
])
def test_a_wrong_rule_is_refused_naming_the_field(changes, message):
    with pytest.raises(PolicyError, match=message):
        policy(**changes)


def test_a_wrong_policy_is_refused():
    with pytest.raises(PolicyError, match="1 <= min <= max"):
        AutoscalerPolicy.from_dict({"instance_min_count": 3, "instance_max_count": 2,
                                 "scaling_rules": policy().scaling_rules})
    with pytest.raises(PolicyError, match="at least one rule"):
        AutoscalerPolicy.from_dict({"instance_min_count": 1, "instance_max_count": 2, "scaling_rules": []})
    with pytest.raises(PolicyError, match=r"scaling_rules\[0\]: .*unexpected keyword"):
        AutoscalerPolicy.from_dict({"instance_min_count": 1, "instance_max_count": 2,
                                 "scaling_rules": [{"metric": "cpu"}]})
    with pytest.raises(PolicyError, match="no value for metric 'throughput'"):
        AppAutoscaler(policy()).observe(0, {"cpu": 1}, 1)
    assert isinstance(AutoscalerRule("cpu", 80, ">", "+1", 0, 0), AutoscalerRule)


def test_the_policy_table_has_one_row_per_rule_with_the_bounds():
    t = policy().table()
    assert t.to_dict("records") == [{"instance_min_count": 1, "instance_max_count": 5, "metric_type": "throughput",
                                     "threshold": 10, "operator": ">", "adjustment": "+1",
                                     "breach_duration_secs": 60, "cool_down_secs": 120}]


def test_on_the_load_ramp_the_rules_scale_out_after_the_breach_and_back_in_after_theirs():
    run = asyncio.run(app_autoscaler_experiment())
    h = run.history
    out = h[h.desired > h.current].iloc[0]
    # load rises at 60 s; the first sample above 5 is at 75 s, so the +2 rule fires 60 s later
    assert out["time"] == pytest.approx(135, abs=0.01) and out["desired"] == 3
    assert h[(h.time > out["time"]) & (h.time < out["time"] + 60)]["reason"].str.startswith("cooling down").all()
    down = h[h.desired < h.current].iloc[0]
    assert down["desired"] == 2 and down["reason"].startswith("throughput < 2 for 120 s")
    assert h.desired.max() == 3


def test_the_figure_draws_both_autoscalers_on_one_time_axis():
    from labsvc.platform.lab import autoscale_experiment, plot_autoscalers

    hpa = asyncio.run(autoscale_experiment())
    rules = asyncio.run(app_autoscaler_experiment())
    fig = plot_autoscalers(hpa, rules)
    counts = fig.axes[1]
    assert [line.get_label() for line in counts.get_lines()] == ["HPA (Kubernetes)", "App Autoscaler (Cloud Foundry)"]
    assert [max(line.get_ydata()) for line in counts.get_lines()] == [6, 3]
