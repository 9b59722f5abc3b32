"""Notebook 12 refreshes configuration live, refuses bad tokens by reason, rotates keys, and its solutions pass."""

import pytest

pytestmark = pytest.mark.slow
# tb: notebooks/12_configuration_and_security.ipynb after two passes in one kernel (tests/notebooks/conftest.py)


def test_the_server_outranks_the_environment_until_the_repository_allows_an_override(tb):
    assert tb.value("precedence('greeting', 'prod')") == ["greeting-prod", "application-prod", "greeting",
                                                          "application"]
    # By default the server's value wins, and /config reports the operator's variable as ignored.
    assert tb.value("served['message'].tolist()") == ["hello.", "hello.", "good day."]
    assert tb.value("pinned_config['ignored_environment']") == {"greeting.message": "GREETING_MESSAGE"}
    origin = dict(tb.value("origins[['key', 'origin']].values.tolist()"))
    assert origin["greeting.message"] == "main:greeting-prod"
    assert origin["logging.level"] == "main:application-prod" and origin["greeting.punctuation"] == "main:application"
    assert dict(tb.value("origins[['key', 'value']].values.tolist()"))["db.password"] == "******"
    # Once greeting-prod grants the override, a refresh lets the environment win.
    assert sorted(tb.value("changed")) == ["greeting.message", "spring.cloud.config.allow-override",
                                           "spring.cloud.config.override-system-properties"]
    assert tb.value("served_after") == "pinned by the operator."
    assert tb.value("granted['ignored_environment']") == {}
    after = {row["key"]: row["origin"] for row in tb.value("granted['properties']")}
    assert after["greeting.message"] == "environment:GREETING_MESSAGE"
    assert after["logging.level"] == "main:application-prod"


def test_secrets_are_encrypted_unless_the_token_grants_decrypt(tb):
    assert tb.value("password(anonymous)").startswith("{cipher}")
    assert tb.value("password(authorized)") == "pa55-w0rd"


def test_only_tls_hides_an_authorised_answer_on_the_wire(tb):
    assert tb.value("wire['the client received'].tolist()") == ["pa55-w0rd", "pa55-w0rd"]
    assert tb.value("wire['secret readable on the wire'].tolist()") == [True, False]
    assert tb.value("wire['access token readable on the wire'].tolist()") == [True, False]


def test_a_bus_refresh_reaches_every_instance_and_a_refresh_one_instance(tb):
    assert tb.value("one.failures") == 0 and tb.value("bus.failures") == 0
    assert tb.value("bus.reached_every_instance") is True
    assert tb.value("one.final['new'].tolist()") == [True, False, False]
    assert tb.value("len(bus.responses)") == 144


def test_tokens_are_rfc_9068_and_the_gateway_relays_them(tb):
    assert tb.value("header['typ']") == "at+jwt"
    assert set(tb.value("sorted(claims)")) == {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"}
    assert tb.value("[r.status_code for r in results.values()]") == [201, 200, 403, 401]


def test_every_attack_is_a_401_and_short_scopes_403(tb):
    rows = tb.value("calls[['kind', 'status', 'reason']].values.tolist()")
    attacks = [r for r in rows if r[0] not in ("allowed", "short scope")]
    assert len(attacks) == 8 and all(status == 401 for _, status, _ in attacks)
    assert {reason for kind, _, reason in rows if kind == "short scope"} == {"insufficient_scope"}
    assert all(status == 200 for kind, status, _ in rows if kind == "allowed")


def test_the_old_key_works_until_retired(tb):
    statuses = tb.value("rotation[rotation['token'] == 'old']['status'].tolist()")
    assert statuses == [200, 200, 200, 401]


def test_mutual_tls_refuses_a_client_without_a_certificate(tb):
    seen = tb.value("seen")
    assert seen["through the network"] == 200 and seen["with the client certificate"] == 200
    assert seen["without a certificate"] in ("RemoteProtocolError", "ReadError", "ConnectError")


def test_the_solutions_pass_their_checks(tb):
    tb.inject("""
env = repo.environment("greeting", "prod,eu")
answer = next(s["source"]["greeting.message"] for s in env["propertySources"] if "greeting.message" in s["source"])
r1 = check("12.precedence", answer)
answer = {**leaky, "DELETE /stock/{sku}": ("stock:admin",)}
probe = await probe_scopes(answer)
r2 = check("12.route-scope", answer, probe=probe)
run = await refresh_under_load(method="bus", name="nb12-ex3")
r3 = check("12.reach-every-instance", run)
wrong = check("12.route-scope", leaky, probe=await probe_scopes(leaky))
""")
    assert tb.value("[r1.ok, r2.ok, r3.ok]") == [True, True, True]
    assert tb.value("wrong.ok") is False and "stock:admin" in tb.value("wrong.message")


def test_the_prediction_is_judged_against_the_measured_share(tb):
    tb.inject("""
from labsvc.course.predictions import forget
forget("12.predict-stale-share")
none_yet = check("12.predict-stale-share", one)
predict("12.predict-stale-share", percent=0.67)
as_share = check("12.predict-stale-share", one)
predict("12.predict-stale-share", percent=67)
right = check("12.predict-stale-share", one)
wrong_run = check("12.predict-stale-share", bus)
forget("12.predict-stale-share")
""")
    assert tb.value("none_yet.ok") is False and "no prediction" in tb.value("none_yet.message")
    assert tb.value("as_share.ok") is False and "percentage" in tb.value("as_share.message")
    assert tb.value("right.ok") is True
    assert tb.value("wrong_run.ok") is False and "one" in tb.value("wrong_run.message")
    measured = tb.value("100 * (1 - one.phases().set_index('phase').loc['after', 'share_new'])")
    assert 57 <= measured <= 77          # two of three instances were never refreshed


def test_the_token_lifetime_exercise_starts_too_long_and_refuses_a_too_short_lifetime(tb):
    tb.inject("""
start = check("12.token-lifetime", await stolen_token(ttl=300))
solved = check("12.token-lifetime", await stolen_token(ttl=120))
too_short = check("12.token-lifetime", await stolen_token(ttl=60))
too_short_run = check("12.token-lifetime", await stolen_token(ttl=120, minutes=10))
""")
    assert tb.value("start.ok") is False and "missed by 150 s" in tb.value("start.message")
    assert tb.value("solved.ok") is True
    assert tb.value("too_short.ok") is False and "refused" in tb.value("too_short.message")
    assert "120 tokens an hour" in tb.value("too_short.message")
    assert tb.value("too_short_run.ok") is False
    assert "keep the exercise's 30" in tb.value("too_short_run.message")

def test_every_exercise_runs_again_after_run_all(exercise_replay):
    # last in this file: it runs every exercise (placeholder, then solution) in the notebook's kernel after Run All
    assert not exercise_replay, "\n".join(exercise_replay)
