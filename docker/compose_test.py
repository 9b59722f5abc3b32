"""make compose-test: the capstone's export, run for real under Docker Compose and checked end to end.

Where a Docker engine runs, or can be started here (as root, ``dockerd``):

1. the base image: ``BASE_IMAGE`` if given, else a local ``python:3.11-slim``,
   else the local Debian one ``docker/base-image.sh`` builds (and caches);
2. the wheelhouse: every wheel the services need, downloaded once with pip
   on this machine and cached; the image installs from it without an index;
3. the export (:func:`labsvc.capstone.export.write`) is built, brought up
   under a project name of its own, and every container's health check is
   polled with ``docker inspect`` until all are healthy;
4. through the gateway's port on 127.0.0.1 only: the capstone's journeys;
   a crash of one catalog and of the order service (``kill -9`` of the
   container's main process: ``docker kill``/``stop`` would count as a
   manual stop, which no restart policy undoes), with the orders placed
   before it counted afterwards; ``docker pause`` of the payment container,
   set beside the notebook's capstone under the same fault; each
   container's memory and CPU against a 2 GB budget; the capstone's
   ``instance_crash`` experiment with the real ``chaos run``, its journal
   checked;
5. ``down -v`` at the end, also on failure, and a check that no container,
   network, volume or image tag of the test is left.

It prints a summary and exits 0 only if every check held. Where no Docker
engine can run it prints one line and exits 0 having checked nothing. Every
failure is one line saying what and what to do. ``--record DIR`` also saves
the run (summary, resource table, comparison) as JSON and text in ``DIR``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import checks  # noqa: E402
import ctl  # noqa: E402

BUDGET_MIB = 2048          # what Docker Desktop gave its VM by default for years
PAUSE_SECONDS, CHECKOUTS, SPACING = 3.0, 16, 0.25   # checkouts before, during and just after the pause
HEALTH_DEADLINE = 180.0
SERVICES = 10


def say(message: str) -> None:
    print(f"compose-test: {message}", flush=True)


class Run:
    """One run: its checks as rows (check, held, detail), and what is recorded."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.rows: list[tuple[str, bool, str]] = []
        self.data: dict[str, Any] = {}

    def check(self, name: str, held: bool, detail: str) -> None:
        self.rows.append((name, bool(held), detail))
        say(f"{'held' if held else 'FAILED'}: {name}: {detail}")

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def gateway_port() -> int:
    given = os.environ.get("LABSVC_GATEWAY_PORT")
    if not given:
        return ctl.free_port()
    if not given.isdigit() or not 0 < int(given) < 65536:
        raise ctl.Failed(f"LABSVC_GATEWAY_PORT={given!r} is not a port number")
    if not ctl.port_is_free(int(given)):
        raise ctl.Failed(f"port {given} on 127.0.0.1 is taken by another program: stop it, or choose a free "
                         f"port with LABSVC_GATEWAY_PORT=<port> (unset, the test picks one)")
    return int(given)


def system_checks(run: Run, compose: ctl.Compose, port: int, work: Path) -> None:
    start = time.monotonic()
    compose("up", "-d", timeout=300, what="compose up")
    containers = ctl.wait_healthy(compose, SERVICES, HEALTH_DEADLINE)
    run.data["up_to_healthy_s"] = round(time.monotonic() - start, 1)
    run.check(f"{SERVICES} containers up and healthy", True,
              f"{time.monotonic() - start:.0f} s from 'up' to every health check passing")
    users = checks.Users(f"http://127.0.0.1:{port}")
    try:
        # The instances register themselves with the registry; the gateway sees them within seconds.
        checks._poll(lambda: all(users.send(j)[0] for j in ("browse", "history")), 30, every=1.0)
        j = checks.journeys(users, containers)
        run.data["journeys"] = j
        run.check("journeys: browse, checkout, history", j["held"],
                  f"order {j['order']} {j['status']}: reserved={j['reserved']}, paid={j['paid']}, "
                  f"delivery={j['delivery']}, in history={j['in_history']}")
        for _ in range(10):
            users.send("checkout")
        for service in ("catalog-1", "orders"):
            placed = dict(users.orders)
            c = checks.crash(users, compose, service)
            run.data[f"crash_{service}"] = {k: v for k, v in c.items() if k != "orders_before"}
            run.check(f"kill -9 {service}: restarted by its policy", c["held"],
                      f"SIGKILL to PID {c['pid']}, restarts +{c['restarts']}, healthy again after "
                      f"{c['back_after_s'] or float('nan'):.1f} s; served while it was down: "
                      + ", ".join(f"{k} {v:.0%}" for k, v in c["served_during"].items()))
            kept = checks.orders_kept(users, placed)
            run.data[f"orders_kept_{service}"] = kept
            run.check(f"no order lost ({service} crash)", kept["held"],
                      f"{kept['still_there']} of {kept['placed_before']} orders placed before are there, "
                      f"unchanged; approved ones in history: {kept['approved_in_history']}")
        res = checks.resources(compose)
        total = sum(r["memory_mib"] for r in res)
        run.data["resources"] = {"rows": res, "total_mib": round(total, 1), "budget_mib": BUDGET_MIB,
                                 "cpu_total_percent": round(sum(r["cpu_percent"] for r in res), 2)}
        run.check("fits a 2 GB budget", total <= BUDGET_MIB, f"{total:.0f} MiB for {len(res)} containers")
        notebook = checks.pause_notebook(PAUSE_SECONDS, CHECKOUTS, SPACING)
        real = checks.pause_compose(users, compose, PAUSE_SECONDS, CHECKOUTS, SPACING)
        rows = checks.side_by_side(notebook, real)
        run.data["pause"] = {"seconds": PAUSE_SECONDS, "checkouts": CHECKOUTS, "spacing_s": SPACING,
                             "rows": [dict(zip(("when", "outcome", "notebook", "compose"), r)) for r in rows],
                             "recover_compose": real["recover"], "recover_notebook": notebook["recover"]}
        # What the notebook predicts: the saga retries the charge, then compensates; every checkout's order
        # ends approved or cancelled (stock released, charge refunded), none is lost, no money or stock
        # goes astray, and the final states are of the same kinds. What users were answered may differ:
        # it is printed beside (a frozen container's kernel queues the requests the notebook's pause drops).
        decided = all(k.startswith(("APPROVED", "CANCELLED")) for k in real["final"])
        same = set(notebook["final"]) == set(real["final"])
        complete = real["orders"] == real["checkouts"] == notebook["orders"]
        run.check(f"docker pause payment {PAUSE_SECONDS:g} s: saga as the notebook predicts",
                  decided and same and complete and real["mismatches"] == 0 == notebook["mismatches"],
                  f"final, notebook {dict(notebook['final'])} / compose {dict(real['final'])}; "
                  f"orders {notebook['orders']} / {real['orders']}; money or stock astray: "
                  f"{notebook['mismatches']} / {real['mismatches']}")
        chaos = checks.chaos_run(work / "chaos", users.url, compose)
        run.data["chaos_run"] = chaos
        run.check("chaos run instance_crash (kill -9 catalog-1)", chaos["held"],
                  f"validate {'ok' if chaos['validate'] else 'FAILED'}, status {chaos['status']}, "
                  f"deviated {chaos['deviated']}, steady before {chaos['before_met']}, after {chaos['after_met']}")
        run.data["chaos_journal"] = json.loads(Path(chaos["journal"]).read_text())
    finally:
        users.close()


def print_summary(run: Run) -> list[str]:
    lines = ["", "summary", f"{'check':<58} {'result':<7} detail", "-" * 110]
    lines += [f"{name:<58} {'held' if held else 'FAILED':<7} {detail}" for name, held, detail in run.rows]
    res = run.data.get("resources")
    if res:
        lines += ["", f"{'container':<12} {'memory MiB':>10} {'CPU %':>7}", "-" * 31]
        lines += [f"{r['service']:<12} {r['memory_mib']:>10.1f} {r['cpu_percent']:>7.2f}" for r in res["rows"]]
        share = 100 * res["total_mib"] / res["budget_mib"]
        lines += ["-" * 31, f"{'total':<12} {res['total_mib']:>10.1f} {res['cpu_total_percent']:>7.2f}",
                  f"budget {res['budget_mib']} MiB: {share:.0f} % used"]
    pause = run.data.get("pause")
    if pause:
        lines += ["", f"payment paused {pause['seconds']:g} s, {pause['checkouts']} checkouts "
                      f"{pause['spacing_s']:g} s apart: what each became",
                  f"{'when':<9} {'outcome':<40} {'notebook':>8} {'compose':>8}", "-" * 68]
        lines += [f"{r['when']:<9} {r['outcome']:<40} {r['notebook']:>8} {r['compose']:>8}" for r in pause["rows"]]
    held = sum(h for _, h, _ in run.rows)
    lines += ["", f"wall time {run.elapsed():.0f} s", f"compose-test: {held} passed, {len(run.rows) - held} failed"]
    print("\n".join(lines), flush=True)
    return lines


def record(run: Run, folder: Path, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    today = dt.datetime.now(dt.timezone.utc)
    uname = ctl.run(["uname", "-a"], check=False, timeout=10).stdout.strip() or " ".join(platform.uname())
    data = {"date": today.isoformat(timespec="seconds"), "machine": uname, "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1), **run.data,
            "checks": [{"check": n, "held": h, "detail": d} for n, h, d in run.rows],
            "wall_time_s": round(run.elapsed(), 1)}
    data.get("chaos_run", {}).pop("journal", None)  # a path in the removed work folder; the journal is chaos_journal
    stem = f"compose_run_{today:%Y-%m-%dT%H%MZ}"
    header = [f"make compose-test, {data['date']}", f"machine: {uname} ({os.cpu_count()} CPUs, "
              f"{data['memory_gib']} GiB)", f"docker engine {data.get('docker_engine')}, client "
              f"{data.get('docker_client')}; {data.get('compose')}"]
    (folder / f"{stem}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (folder / f"{stem}.txt").write_text("\n".join(header + lines).strip() + "\n")
    say(f"recorded in {folder / stem}.json and .txt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", type=Path, help="save the run as JSON and text in this folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (export, journal) for a look")
    parser.add_argument("--break", dest="breaks", choices=("app", "build"),
                        help="show the bad-input handling: an app that cannot be imported, a failing build")
    args = parser.parse_args(argv)
    run = Run()
    engine = ctl.Engine()
    try:
        engine.ensure()
    except ctl.Skipped as why:
        say(f"skipped, nothing checked: {why}")
        return 0
    project = f"labsvcct{os.getpid()}"
    tag = f"labsvc-compose-test:{project}"
    images_before = ctl.image_ids()
    work = Path(tempfile.mkdtemp(prefix="labsvc-compose-test-"))
    compose = None
    try:
        run.data.update(ctl.Engine.versions())
        port = gateway_port()
        from labsvc.capstone import export

        files = export.write(work / "export", image=tag)
        compose = ctl.Compose(project, files["docker-compose.yml"], {"LABSVC_GATEWAY_PORT": str(port)})
        run.data.update(compose=f"{' '.join(compose.base)} {compose.version}", project=project)
        say(f"engine {run.data['docker_engine']}, {' '.join(compose.base)} {compose.version}; gateway on "
            f"127.0.0.1:{port}")
        start = time.monotonic()
        base, how = ctl.base_image()
        run.data["base_image"] = {"image": base, "how": how, "seconds": round(time.monotonic() - start, 1)}
        run.check("base image", True, f"{base}: {how} ({time.monotonic() - start:.0f} s)")
        start = time.monotonic()
        wheels, how = ctl.wheelhouse(files["requirements.txt"], ctl.image_python(base))
        ctl.stage_context(work / "context", work / "export", wheels)
        if args.breaks == "build":
            with open(work / "context" / "requirements.txt", "a") as fh:
                fh.write("labsvc-no-such-package==0.0.1\n")
        run.check("wheelhouse", True, f"{len(list(wheels.glob('*.whl')))} wheels, {how} ({time.monotonic() - start:.0f} s)")
        seconds = ctl.build(tag, files["Dockerfile"], work / "context", base)
        run.check("image built from the wheelhouse", True, f"{tag} in {seconds:.0f} s")
        if args.breaks == "app":
            text = files["docker-compose.yml"].read_text().replace("labsvc.capstone.services:catalog",
                                                                    "labsvc.capstone.services:no_such_app", 1)
            files["docker-compose.yml"].write_text(text)
        system_checks(run, compose, port, work)
    except ctl.Failed as exc:
        run.check("the run", False, str(exc))
    except KeyboardInterrupt:
        run.check("the run", False, "interrupted")
    finally:
        if compose is not None:
            say("down -v")
            compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=300, check=False)
        ctl.run(["docker", "rmi", "-f", tag], check=False, timeout=120)
        built = ctl.untagged(ctl.image_ids() - images_before)  # the build's stage images; the base image stays
        ctl.remove_images(built)
        left = ctl.leftovers(project, tag, built)
        run.check("nothing of the test left (containers, networks, volumes, image tag)", not left,
                  ", ".join(left) or f"project {project} and {tag} are gone")
        engine.stop()
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    lines = print_summary(run)
    if args.record:
        record(run, args.record, lines)
    return 0 if all(held for _, held, _ in run.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
