"""What ``make compose-test`` checks on the running system, every request through the gateway on 127.0.0.1.

Each check returns plain data (dicts and lists) for the summary and the
recorded run. Every request loop here is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

from ctl import Compose, Failed, run, state

JOURNEYS = ("browse", "checkout", "history")
BUSINESS_REASONS = ("payment_declined", "out_of_stock")


class Users:
    """Users of the system: the capstone's three journeys, sent to the gateway's published port."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0, trust_env=False)
        self.orders: dict[int, str] = {}  # every order placed: id -> status answered
        self.i = 0

    def close(self) -> None:
        self.http.close()

    def send(self, journey: str, timeout: float = 5.0) -> tuple[bool, Any]:
        """One request of ``journey``; (served, what came back). A checkout must end in a decision."""
        self.i += 1
        customer = 1 + self.i % 20
        try:
            if journey == "browse":
                r = self.http.get(f"/catalog/products/{1 + self.i % 10}", timeout=timeout)
                return r.status_code == 200, r.status_code
            if journey == "checkout":
                r = self.http.post("/orders/orders", json={"customer_id": customer, "product_id": 1 + self.i % 5,
                                                           "quantity": 1}, timeout=timeout)
                if r.status_code != 201:
                    return False, r.status_code
                order = r.json()
                self.orders[order["id"]] = order["status"]
                return (order["status"] == "APPROVED"
                        or (order["status"] == "CANCELLED" and order.get("reason") in BUSINESS_REASONS)), order
            r = self.http.get("/history/order-views", params={"customer_id": customer}, timeout=timeout)
            return r.status_code == 200, r.status_code
        except httpx.HTTPError as exc:
            return False, type(exc).__name__


def _exec_get(container: str, path: str) -> tuple[int, Any]:
    """GET a path of a service from inside its own container (for what the gateway does not route)."""
    code = ("import json, urllib.request, urllib.error\n"
            "try:\n"
            f"    r = urllib.request.urlopen('http://127.0.0.1:8000{path}', timeout=5); print(r.status); print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); print(e.read().decode())\n")
    out = run(["docker", "exec", container, "python", "-c", code], timeout=60, check=False).stdout.splitlines()
    if not out:
        return 0, None
    body = "\n".join(out[1:])
    try:
        return int(out[0]), json.loads(body)
    except ValueError:
        return int(out[0]) if out[0].isdigit() else 0, body


def _poll(fn, deadline: float, every: float = 0.5):
    end = time.monotonic() + deadline
    while True:
        value = fn()
        if value or time.monotonic() >= end:
            return value
        time.sleep(every)


def journeys(users: Users, containers: dict[str, str]) -> dict[str, Any]:
    """Browse, check out, read the history: the order is paid, reserved, given a delivery and visible in history."""
    browse_ok, status = users.send("browse")
    ok, order = users.send("checkout")
    if not isinstance(order, dict):
        raise Failed(f"checkout through the gateway answered {order}, not an order")
    oid = order["id"]
    log = users.http.get("/orders/sagas/log", params={"order_id": oid}).json()
    steps = {row["step"]: row["outcome"] for row in log if row["kind"] == "action"}
    customer = order["customer_id"]
    in_history = _poll(lambda: any(v["order_id"] == oid for v in users.http.get(
        "/history/order-views", params={"customer_id": customer}).json()), 30)
    delivery = _poll(lambda: (lambda r: r[1] if r[0] == 200 else None)(
        _exec_get(containers["delivery"], f"/deliveries/{oid}")), 30)
    reservation = next((r for r in _exec_get(containers["inventory"], "/reservations")[1] or []
                        if r.get("order_id") == oid), None)
    charge = next((c for c in _exec_get(containers["payment"], "/charges")[1] or [] if c.get("order_id") == oid), None)
    facts = {"browse": status, "order": oid, "status": order["status"], "reserved": steps.get("reserve_stock"),
             "paid": steps.get("charge_payment"), "reservation": reservation, "charge": charge,
             "delivery": (delivery or {}).get("status"), "in_history": bool(in_history)}
    facts["held"] = bool(browse_ok and ok and order["status"] == "APPROVED" and facts["reserved"] == "ok"
                         and facts["paid"] == "ok" and reservation and charge and facts["delivery"] and in_history)
    return facts


def crash(users: Users, compose: Compose, service: str, deadline: float = 120.0) -> dict[str, Any]:
    """Kill the main process of ``service``'s container (kill -9, as a real crash) under traffic; until it is back."""
    if os.geteuid() != 0:
        raise Failed("killing a container's main process needs root (run make compose-test as root)")
    cid = compose.containers()[service]
    before = state(cid)
    orders_before = dict(users.orders)
    t0 = time.monotonic()
    os.kill(before["pid"], 9)
    seen: list[tuple[float, str, bool]] = []
    back_at = None
    k = 0
    end = t0 + deadline
    while time.monotonic() < end:
        journey = JOURNEYS[k % 3]
        k += 1
        ok, _ = users.send(journey, timeout=5.0)
        seen.append((time.monotonic() - t0, journey, ok))
        if back_at is None and k % 3 == 0:
            st = state(cid)
            if st["restarts"] > before["restarts"] and st["status"] == "running" and st["health"] == "healthy":
                back_at = time.monotonic() - t0
        if back_at is not None and time.monotonic() - t0 > back_at + 3.0:
            break
        time.sleep(0.1)
    after = state(cid)
    tail = [ok for t, _, ok in seen if back_at is not None and t >= back_at]
    by_journey = {j: round(sum(ok for _, jj, ok in seen if jj == j) / max(1, sum(jj == j for _, jj, _ in seen)), 3)
                  for j in JOURNEYS}
    return {"service": service, "pid": before["pid"], "restarts": after["restarts"] - before["restarts"],
            "back_after_s": back_at, "requests": len(seen), "served_during": by_journey,
            "served_after_back": all(tail) if tail else False, "orders_before": orders_before,
            "held": bool(back_at is not None and after["restarts"] > before["restarts"] and tail and all(tail))}


def orders_kept(users: Users, placed: dict[int, str]) -> dict[str, Any]:
    """Every order placed before the crash is still there, in the state it was answered with, and in history."""
    listed = {o["id"]: o["status"] for o in users.http.get("/orders/orders").json()}
    missing = sorted(set(placed) - set(listed))
    changed = sorted(oid for oid, st in placed.items() if oid in listed and listed[oid] != st)
    approved = [oid for oid, st in placed.items() if st == "APPROVED"]

    def history_has_all() -> bool:
        views = []
        for customer in range(1, 21):
            views += users.http.get("/history/order-views", params={"customer_id": customer}).json()
        return set(approved) <= {v["order_id"] for v in views}

    in_history = bool(_poll(history_has_all, 30, every=1.0))
    return {"placed_before": len(placed), "still_there": len(placed) - len(missing), "missing": missing,
            "changed": changed, "approved_in_history": in_history,
            "held": not missing and not changed and in_history}


# ------------------------------------------------------------------ the payment pause, both worlds
def _outcome(status: int, body: Any) -> str:
    if status == 201 and isinstance(body, dict):
        return body["status"] + (f" ({body['reason']})" if body.get("reason") else "")
    return f"HTTP {status}" if status else str(body)


def _schedule(checkouts: int, spacing: float) -> list[tuple[float, dict]]:
    return [(k * spacing, {"customer_id": 1 + k % 20, "product_id": 1 + k % 5, "quantity": 1})
            for k in range(checkouts)]


def _mismatches(final: dict[int, str], charges: list, reservations: list) -> int:
    """Orders whose money or stock disagrees with their final state (a charge kept for a cancelled order, ...)."""
    charge = {c["order_id"]: c["status"] for c in charges or []}
    held = {r["order_id"]: r["status"] for r in reservations or []}
    bad = 0
    for oid, status in final.items():
        if status == "APPROVED":
            bad += charge.get(oid) != "CAPTURED" or held.get(oid) != "RESERVED"
        elif status == "CANCELLED":
            bad += charge.get(oid) == "CAPTURED" or held.get(oid) == "RESERVED"
        else:
            bad += 1  # not final
    return bad


def _summary(answers: list[tuple[int, Any]], orders: list[dict], recovered: Any, charges: list,
             reservations: list) -> dict[str, Any]:
    """What users were answered, and what became of every order the checkouts created (after recovery)."""
    final = {o["id"]: o["status"] for o in orders}
    return {"answered": Counter(_outcome(s, b) for s, b in answers),
            "final": Counter(_outcome(201, o) for o in orders), "recover": recovered,
            "mismatches": _mismatches(final, charges, reservations), "orders": len(orders),
            "checkouts": len(answers)}


def pause_compose(users: Users, compose: Compose, seconds: float, checkouts: int, spacing: float) -> dict[str, Any]:
    """``docker pause`` the payment container for ``seconds`` while checkouts arrive; what each one became."""
    containers = compose.containers()
    cid = containers["payment"]
    plan = _schedule(checkouts, spacing)
    last = max((o["id"] for o in users.http.get("/orders/orders").json()), default=0)

    def checkout(when: float, body: dict, t0: float) -> tuple[int, Any]:
        time.sleep(max(0.0, t0 + when - time.monotonic()))
        try:
            r = users.http.post("/orders/orders", json=body, timeout=15.0)
            return r.status_code, r.json()
        except httpx.HTTPError as exc:
            return 0, type(exc).__name__

    run(["docker", "pause", cid], timeout=30, what="docker pause payment")
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=checkouts) as pool:
            futures = [pool.submit(checkout, when, body, t0) for when, body in plan]
            time.sleep(max(0.0, t0 + seconds - time.monotonic()))
            run(["docker", "unpause", cid], timeout=30, what="docker unpause payment")
            answers = [f.result() for f in futures]
    finally:
        run(["docker", "unpause", cid], timeout=30, check=False)
    # A checkout the gateway gave up on (504) goes on in the order service: wait for its saga to end.
    time.sleep(3.0)
    recovered = users.http.post("/orders/sagas/recover", timeout=30).json()
    orders = [o for o in users.http.get("/orders/orders").json() if o["id"] > last]
    return _summary(answers, orders, recovered, _exec_get(containers["payment"], "/charges")[1],
                    _exec_get(containers["inventory"], "/reservations")[1])


def pause_notebook(seconds: float, checkouts: int, spacing: float) -> dict[str, Any]:
    """The same fault in the notebook's capstone: ``net.pause("payment", seconds)`` under the same checkouts.

    The scenario runs on the network's own clock (simulated time, as in the
    notebook), so the checkouts' spacing and the pause are measured alike.
    """
    from labsvc.capstone import RESILIENCE_ON, OrderSystem
    from labsvc.core.simtime import follows_network

    @follows_network
    async def scenario(system: Any) -> dict[str, Any]:
        net = system.net
        client = net.client("users", timeout=15.0)
        t0 = net.now()

        async def checkout(when: float, body: dict) -> tuple[int, Any]:
            await asyncio.sleep(max(0.0, when - (net.now() - t0)))
            try:
                r = await client.post("http://gateway.svc/orders/orders", json=body)
                return r.status_code, r.json()
            except httpx.HTTPError as exc:
                return 0, type(exc).__name__

        net.pause("payment", seconds)
        answers = await asyncio.gather(*(checkout(w, b) for w, b in _schedule(checkouts, spacing)))
        await asyncio.sleep(3.0)
        recovered = (await client.post("http://orders.svc/sagas/recover")).json()
        orders = (await client.get("http://orders.svc/orders")).json()
        return _summary(answers, orders, recovered, (await client.get("http://payment.svc/charges")).json(),
                        (await client.get("http://inventory.svc/reservations")).json())

    async def main() -> dict[str, Any]:
        system = OrderSystem(RESILIENCE_ON, name="compose-test-pause")
        async with system:
            return await scenario(system)

    return asyncio.run(main())


def side_by_side(notebook: dict, compose: dict) -> list[tuple[str, str, int, int]]:
    """(when, outcome, notebook count, compose count): as answered, then final after ``/sagas/recover``."""
    rows = []
    for when in ("answered", "final"):
        kinds = sorted(set(notebook[when]) | set(compose[when]))
        rows += [(when, kind, notebook[when].get(kind, 0), compose[when].get(kind, 0)) for kind in kinds]
    rows.append(("final", "orders the checkouts created", notebook["orders"], compose["orders"]))
    rows.append(("final", "money or stock disagrees with the order", notebook["mismatches"], compose["mismatches"]))
    return rows


# ------------------------------------------------------------------ resources
def _mib(text: str) -> float:
    value = text.strip()
    for unit, factor in (("GiB", 1024.0), ("MiB", 1.0), ("KiB", 1 / 1024), ("GB", 1000 ** 3 / 1024 ** 2),
                         ("MB", 1000 ** 2 / 1024 ** 2), ("kB", 1000 / 1024 ** 2), ("B", 1 / 1024 ** 2)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    return float(value or 0)


def resources(compose: Compose) -> list[dict[str, Any]]:
    """Each container's memory (MiB) and CPU (%) from one ``docker stats --no-stream`` sample."""
    containers = compose.containers()
    by_id = {cid: svc for svc, cid in containers.items()}
    out = run(["docker", "stats", "--no-stream", "--format", "{{.ID}}|{{.MemUsage}}|{{.CPUPerc}}", *containers.values()],
              timeout=60, what="docker stats").stdout
    rows = []
    for line in out.splitlines():
        cid, mem, cpu = line.split("|")
        svc = next((s for c, s in by_id.items() if c.startswith(cid) or cid.startswith(c)), cid)
        rows.append({"service": svc, "memory_mib": round(_mib(mem.split("/")[0]), 1),
                     "cpu_percent": round(float(cpu.strip().rstrip("%") or 0), 2)})
    return sorted(rows, key=lambda r: r["service"])


# ------------------------------------------------------------------ the real chaos run
ACTIONS = '''"""Actions of make compose-test's chaos run (a Chaos Toolkit extension module)."""
import subprocess, time


def wait_healthy(container: str, timeout: float = 90.0) -> str:
    """Wait until the container runs again and its health check passes (the restart policy brings it back)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", container],
                             capture_output=True, text=True, timeout=30).stdout.split()
        if out[:2] == ["running", "healthy"]:
            return "healthy"
        time.sleep(1.0)
    raise RuntimeError(f"{container} is not healthy after {timeout} s")
'''


def chaos_run(folder: Path, gateway_url: str, compose: Compose) -> dict[str, Any]:
    """Run the capstone's instance_crash experiment with the real ``chaos run``: kill -9 of catalog-1's process."""
    from labsvc.capstone import experiments

    cid = compose.containers()["catalog-1"]
    pid = state(cid)["pid"]
    spec = experiments.spec("instance_crash")
    spec["title"] += " (for real: Docker Compose)"
    spec["method"] = [{"type": "action", "name": "crash catalog-1",
                       "provider": {"type": "process", "path": "kill", "arguments": ["-9", str(pid)]},
                       "pauses": {"after": 2}}]
    spec["rollbacks"] = [{"type": "action", "name": "catalog-1 is back (its restart policy)",
                          "provider": {"type": "python", "module": "composeactions", "func": "wait_healthy",
                                       "arguments": {"container": cid, "timeout": 90}}}]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "composeactions.py").write_text(ACTIONS)
    path = folder / "instance_crash.compose.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    journal = folder / "journal.json"
    chaos = Path(sys.executable).with_name("chaos")
    env = {"LABSVC_GATEWAY_URL": gateway_url,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH", "")]))}
    validate = run([str(chaos), "--no-log-file", "validate", str(path)], timeout=120, check=False, env=env)
    proc = run([str(chaos), "--no-log-file", "run", str(path), "--journal-path", str(journal)], timeout=300,
               check=False, env=env, cwd=str(folder))
    if not journal.exists():
        raise Failed(f"chaos run wrote no journal: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    j = json.loads(journal.read_text())
    before = (j["steady_states"].get("before") or {}).get("steady_state_met")
    after = (j["steady_states"].get("after") or {}).get("steady_state_met")
    probes = {p["activity"]["name"]: p["output"] for p in (j["steady_states"].get("after") or {}).get("probes", [])}
    return {"validate": validate.returncode == 0, "status": j["status"], "deviated": j["deviated"],
            "before_met": before, "after_met": after, "after_probes": probes,
            "rollback": [r["status"] for r in j.get("rollbacks", [])], "journal": str(journal),
            "held": bool(validate.returncode == 0 and j["status"] == "completed" and not j["deviated"]
                         and before and after)}
