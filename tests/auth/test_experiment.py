"""Notebook 12's security experiments: the probe matrix and the catalogue of refused calls."""

from __future__ import annotations

import asyncio
import time

import matplotlib

from labsvc import FakeClock
from labsvc.auth import ATTACKS, INVENTORY_SCOPES, denied_calls, plot_denials, probe_scopes
from labsvc.core import simtime

matplotlib.use("Agg")


def test_the_probe_of_the_real_table_matches_least_privilege():
    probe = simtime.run(probe_scopes(name="probe-ok"))
    assert len(probe) == 9
    assert ((probe["status"] < 400) == probe["should_pass"]).all()
    assert set(probe.loc[~probe["should_pass"], "reason"]) == {"insufficient_scope"}
    assert probe.attrs["route_scopes"] == INVENTORY_SCOPES


def test_a_route_without_its_scope_lets_every_valid_token_through():
    leaky = {**INVENTORY_SCOPES, "DELETE /stock/{sku}": ()}
    probe = simtime.run(probe_scopes(leaky, name="probe-leaky"))
    deletes = probe[probe["route"] == "DELETE /stock/{sku}"].set_index("client")["status"].to_dict()
    assert deletes == {"reporting": 200, "orders": 200, "ops": 200}


def test_every_attack_is_refused_with_its_own_reason_and_short_scopes_get_403():
    calls = simtime.run(denied_calls(FakeClock(start=time.time()), legitimate=3, name="attacks-test"))
    attacks = calls[calls["kind"].isin(ATTACKS)].set_index("kind")
    assert set(attacks.index) == set(ATTACKS)
    assert (attacks["status"] == 401).all()
    assert attacks["reason"].to_dict() == {k: reason for k, (_, reason) in ATTACKS.items()}
    short = calls[calls["kind"] == "short scope"]
    assert len(short) == 4 and (short["status"] == 403).all() and set(short["reason"]) == {"insufficient_scope"}
    allowed = calls[calls["kind"] == "allowed"]
    assert len(allowed) == 6 and (allowed["status"] == 200).all()
    fig = plot_denials(calls)
    assert "12 refused" in fig.axes[0].get_title() and "6 allowed" in fig.axes[0].get_title()


def test_key_rotation_accepts_the_old_key_until_it_is_retired():
    from labsvc.auth import key_rotation

    rows = simtime.run(key_rotation(FakeClock(start=1_700_000_000), name="rotation-test"))
    got = {(r["step"], r["token"]): (r["status"], r["reason"]) for r in rows.to_dict("records")}
    assert got == {("before rotation", "old"): (200, ""), ("just rotated", "old"): (200, ""),
                   ("just rotated", "new"): (200, ""), ("grace period", "old"): (200, ""),
                   ("grace period", "new"): (200, ""), ("retired", "old"): (401, "unknown_key"),
                   ("retired", "new"): (200, "")}
    assert rows["key"].tolist() == ["key 1", "key 1", "key 2", "key 1", "key 2", "key 1", "key 2"]
    assert rows["trusted_keys"].tolist()[2] == "key 1, key 2" and rows.iloc[-1]["trusted_keys"] == "key 2"
    kids = rows.attrs["kids"]
    assert set(kids) == {"key 1", "key 2"} and kids["key 1"] != kids["key 2"]   # two real, distinct kids
