"""``make compose-test`` where Docker is absent: one line, exit 0, nothing checked; and its small parsers."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "compose_test.py"
sys.path.insert(0, str(SCRIPT.parent))

import checks  # noqa: E402


def run_script(path: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


def test_without_a_docker_command_it_says_so_in_one_line_and_exits_0(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = run_script(str(empty), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "compose-test: skipped, nothing checked: no docker command on this machine "
        "(apt-get install -y docker.io docker-compose)"]


def test_with_a_client_but_no_engine_it_says_so_and_exits_0(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    docker = bin_ / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    proc = run_script(str(bin_), tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("compose-test: skipped, nothing checked: ")
    assert "dockerd" in lines[0]


def test_docker_stats_sizes_are_read_in_mebibytes():
    assert checks._mib("512KiB") == 0.5
    assert checks._mib("67.1MiB") == 67.1
    assert checks._mib("1.5GiB") == 1536.0


def test_money_or_stock_astray_is_counted_per_order():
    charges = [{"order_id": 1, "status": "CAPTURED"}, {"order_id": 2, "status": "REFUNDED"},
               {"order_id": 3, "status": "CAPTURED"}]
    stock = [{"order_id": 1, "status": "RESERVED"}, {"order_id": 2, "status": "RELEASED"},
             {"order_id": 3, "status": "RELEASED"}]
    assert checks._mismatches({1: "APPROVED", 2: "CANCELLED"}, charges, stock) == 0
    assert checks._mismatches({3: "CANCELLED"}, charges, stock) == 1     # charged, but the order was cancelled
    assert checks._mismatches({4: "COMPENSATING"}, charges, stock) == 1  # not final


def test_the_pause_comparison_lists_every_outcome_of_either_side():
    notebook = {"answered": Counter({"APPROVED": 10, "CANCELLED (payment_unavailable)": 6}),
                "final": Counter({"APPROVED": 10, "CANCELLED (payment_unavailable)": 6}), "orders": 16,
                "mismatches": 0}
    compose = {"answered": Counter({"APPROVED": 10, "HTTP 504": 2, "CANCELLED (payment_unavailable)": 4}),
               "final": Counter({"APPROVED": 10, "CANCELLED (payment_unavailable)": 6}), "orders": 16,
               "mismatches": 0}
    rows = checks.side_by_side(notebook, compose)
    assert ("answered", "HTTP 504", 0, 2) in rows and ("final", "APPROVED", 10, 10) in rows
    assert rows[-2:] == [("final", "orders the checkouts created", 16, 16),
                         ("final", "money or stock disagrees with the order", 0, 0)]


def test_make_has_the_target_and_ci_runs_it_after_make_test():
    assert "\ncompose-test: install\n\t$(BIN)/python docker/compose_test.py" in (ROOT / "Makefile").read_text()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci.index("make compose-test") > ci.index("make test")
