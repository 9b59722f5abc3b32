"""A recorded run of ``make compose-test``, read without Docker (notebook 13, section 7).

``make compose-test`` (``docker/compose_test.py``) runs the capstone's export
(:mod:`labsvc.capstone.export`) for real under Docker Compose: ten containers
from one image, with restart policies, health checks and a volume per
database. With ``--record datasets/compose_run`` it leaves
``compose_run_<YYYY-MM-DDTHHMMZ>.json`` (the run as data) and ``.txt`` (what
it printed) there; ``datasets/compose_run/README.md`` describes every key.
This module reads the JSON, so a notebook can show the run on a machine
without Docker:

- :func:`recorded_runs`: the recordings in a folder, oldest first;
- :func:`load_compose_run`: one recording (the newest by default) as a
  :class:`ComposeRun`, with its checks, resources, crashes and the payment
  pause (containers beside the in-process notebook) as DataFrames;
- :func:`plot_memory`: each container's memory, and their sum against the
  budget.

A file that is missing, is not JSON or lacks what a recording holds raises
:class:`ComposeRunError`, which says which file and what is wrong.

>>> run = load_compose_run()                       # doctest: +SKIP
>>> run.held, run.total_mib < run.budget_mib       # doctest: +SKIP
(True, True)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from labsvc.core.errors import ConfigurationError

__all__ = ["ComposeRun", "ComposeRunError", "RUNS_FOLDER", "recorded_runs", "load_compose_run", "plot_memory"]

#: The recordings' folder, under the course's datasets folder (``$LABSVC_DATASETS`` or ``datasets/``).
RUNS_FOLDER = "compose_run"
_NAME = re.compile(r"^compose_run_(\d{4}-\d{2}-\d{2}T\d{4}Z)\.json$")
_REQUIRED = ("date", "checks", "resources", "pause")
_JOURNEYS = ("browse", "checkout", "history")


class ComposeRunError(ConfigurationError):
    """A recorded compose-test run that cannot be read: missing, not JSON, or not shaped like a recording."""


def _default_folder() -> Path:
    from labsvc.design.datasets import datasets_dir  # the one place that knows where the datasets are

    return datasets_dir() / RUNS_FOLDER


def recorded_runs(folder: str | Path | None = None) -> list[Path]:
    """The recordings, ``compose_run_<stamp>.json``, in ``folder`` (default ``datasets/compose_run/``), oldest first."""
    folder = _default_folder() if folder is None else Path(folder)
    if not folder.is_dir():
        raise ComposeRunError(f"no folder {str(folder)!r} of recorded compose-test runs")
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def _resolve(path: str | Path | None) -> Path:
    if path is None or Path(path).is_dir():
        runs = recorded_runs(path)
        if not runs:
            where = _default_folder() if path is None else Path(path)
            raise ComposeRunError(f"no recorded run (compose_run_<stamp>.json) in {str(where)!r}; "
                                  "'make compose-test COMPOSE_TEST_ARGS=\"--record datasets/compose_run\"' "
                                  "records one (it needs a Docker engine)")
        return runs[-1]
    path = Path(path)
    if not path.is_file() and path.parent == Path("."):  # a bare file name: look in the recordings' folder
        candidate = _default_folder() / path.name
        if candidate.is_file():
            return candidate
    if not path.is_file():
        raise ComposeRunError(f"no recorded run at {str(path)!r}; the recordings are "
                              f"compose_run_<stamp>.json files in datasets/{RUNS_FOLDER}/")
    return path


@dataclass(frozen=True)
class ComposeRun:
    """One recorded ``make compose-test`` run: where and when, what it checked and what it measured.

    The tables are DataFrames:

    - ``checks``: ``check``, ``held``, ``detail``, one row per check, in the run's order;
    - ``resources``: per container (the index), ``memory_mib`` and ``cpu_percent`` from one
      ``docker stats --no-stream`` sample, ``budget_pct`` (share of ``budget_mib``) and
      ``keeps_data`` (the container has a database on a volume); largest memory first;
    - ``crashes``: per container killed with ``kill -9``: its ``pid``, ``restarts``,
      ``back_after_s`` (until healthy again), the share of each journey served meanwhile
      (``browse_pct``, ``checkout_pct``, ``history_pct``), and the orders placed before the
      crash (``orders_before``) still there afterwards, unchanged (``orders_kept``);
    - ``pause_comparison``: the payment service paused ``pause_s`` seconds while ``checkouts``
      checkouts arrive ``spacing_s`` apart: per ``when`` (``answered``: what users got;
      ``final``: after ``/sagas/recover``) and ``outcome``, the count in the ``notebook`` (the
      in-process capstone under ``net.pause``, on simulated time) and under ``compose`` (the
      real containers, ``docker pause``), and whether they ``agree``.
    """

    path: Path
    date: datetime
    machine: str
    cpus: int | None
    memory_gib: float | None
    docker_engine: str
    docker_client: str
    compose: str
    base_image: dict[str, Any]
    up_to_healthy_s: float | None
    wall_time_s: float | None
    budget_mib: float
    total_mib: float
    cpu_total_percent: float
    pause_s: float
    checkouts: int
    spacing_s: float
    chaos: dict[str, Any]
    checks: pd.DataFrame
    resources: pd.DataFrame
    crashes: pd.DataFrame
    pause_comparison: pd.DataFrame
    data: dict[str, Any] = field(repr=False, compare=False)

    @property
    def held(self) -> bool:
        """Whether every check of the run held."""
        return bool(self.checks["held"].all())

    @property
    def failed(self) -> list[str]:
        """The checks that did not hold (empty when the run passed)."""
        return self.checks.loc[~self.checks["held"], "check"].tolist()

    def facts(self) -> pd.Series:
        """The run's headline figures as short texts (name -> text), the ones the notebook's prose quotes."""
        res, crashes, pause = self.resources, self.crashes, self.pause_comparison
        final = pause[pause["when"] == "final"].set_index("outcome")["compose"]
        facts = {
            "date": f"{self.date:%Y-%m-%d %H:%M} UTC",
            "machine": _short_machine(self.machine),
            "cpus": f"{self.cpus}" if self.cpus is not None else "?",
            "memory": f"{self.memory_gib:g} GiB" if self.memory_gib is not None else "?",
            "docker": f"Docker Engine {self.docker_engine}",
            "compose": self.compose,
            "checks": f"{int(self.checks['held'].sum())} / {len(self.checks)}",
            "containers": f"{len(res)}",
            "up_to_healthy": _seconds(self.up_to_healthy_s),
            "total_memory": f"{self.total_mib:.0f} MiB",
            "budget_share": f"{100 * self.total_mib / self.budget_mib:.0f} %",
            "data_memory": _span(res.loc[res["keeps_data"], "memory_mib"]),
            "other_memory": _span(res.loc[~res["keeps_data"], "memory_mib"]),
            "busiest": f"{res['cpu_percent'].idxmax()} {res['cpu_percent'].max():.1f} %",
        }
        for name, row in crashes.iterrows():
            key = name.replace("-", "_")
            facts[f"back_{key}"] = _seconds(row["back_after_s"])
            facts[f"checkout_during_{key}"] = f"{row['checkout_pct']:.0f} %"
            facts[f"kept_{key}"] = f"{row['orders_kept']} / {row['orders_before']}"
        facts.update({
            "pause": f"{self.pause_s:g} s",
            "pause_checkouts": f"{self.checkouts}",
            "pause_spacing": f"{self.spacing_s:g} s",
            "pause_approved": f"{final.get('APPROVED', 0)}",
            "pause_cancelled": f"{sum(v for k, v in final.items() if k.startswith('CANCELLED'))}",
            "chaos": f"{self.chaos.get('status', '?')}, deviated {self.chaos.get('deviated', '?')}",
            "wall_time": _seconds(self.wall_time_s, "{:.0f} s"),
        })
        return pd.Series(facts, name="recorded", dtype=object)

    def checks_table(self, check_width_px: int = 320, detail_width_px: int = 600):
        """``checks`` as a pandas Styler whose text columns wrap (no ``...``), so the table fits a 1280 px page.

        Its HTML is the same on every call (a fixed ``uuid``), so a re-run of the cell shows the same output.
        """
        def wrap(px: int) -> dict[str, str]:
            return {"white-space": "normal", "max-width": f"{px}px", "text-align": "left"}

        # a fixed uuid: the Styler's HTML ids would otherwise change on every run of the cell
        return (self.checks.style.set_uuid("compose-run-checks").hide(axis="index")
                .set_properties(subset=["check"], **wrap(check_width_px))
                .set_properties(subset=["detail"], **wrap(detail_width_px)))

    def resource_table(self) -> pd.DataFrame:
        """``resources`` with a total row: memory (MiB), CPU (%) and share of the budget (%), rounded."""
        table = self.resources.copy()
        table["keeps_data"] = table["keeps_data"].map({True: "yes", False: ""})
        total = pd.DataFrame({"memory_mib": [self.total_mib], "cpu_percent": [self.cpu_total_percent],
                              "budget_pct": [100 * self.total_mib / self.budget_mib], "keeps_data": [""]},
                             index=[f"total of {len(table)}"])
        table = pd.concat([table, total])
        table.index.name = "container"
        return table.round({"memory_mib": 1, "cpu_percent": 1, "budget_pct": 1})


def _short_machine(uname: str) -> str:
    """``uname -a`` without the build date: kernel name, release and architecture."""
    parts = uname.split()
    if len(parts) >= 3 and parts[0] == "Linux":
        arch = next((p for p in parts if p in ("x86_64", "aarch64", "arm64")), "")
        return " ".join(p for p in (parts[0], parts[2], arch) if p)
    return uname


def _seconds(value: float | None, fmt: str = "{:.1f} s") -> str:
    return "?" if value is None else fmt.format(value)


def _span(values: pd.Series) -> str:
    return f"{values.min():.0f}-{values.max():.0f} MiB" if len(values) else "-"


def _fail(path: Path, what: str) -> ComposeRunError:
    return ComposeRunError(f"{str(path)!r} is not a recorded compose-test run: {what}")


def _checks(path: Path, rows: Any) -> pd.DataFrame:
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise _fail(path, "'checks' should be a non-empty list of {check, held, detail}")
    missing = {"check", "held", "detail"} - set().union(*(r.keys() for r in rows))
    if missing:
        raise _fail(path, f"its checks lack {sorted(missing)}")
    table = pd.DataFrame(rows, columns=["check", "held", "detail"])
    table["held"] = table["held"].astype(bool)
    return table


def _resources(path: Path, res: Any) -> tuple[pd.DataFrame, float, float, float]:
    if not isinstance(res, dict) or not isinstance(res.get("rows"), list) or not res["rows"]:
        raise _fail(path, "'resources' should hold 'rows' of {service, memory_mib, cpu_percent}")
    try:
        table = pd.DataFrame(res["rows"])[["service", "memory_mib", "cpu_percent"]]
    except KeyError as exc:
        raise _fail(path, f"its resource rows lack {exc}") from None
    table = table.rename(columns={"service": "container"}).set_index("container").astype(float)
    budget = float(res.get("budget_mib", 2048))
    total = float(res.get("total_mib", table["memory_mib"].sum()))
    cpu = float(res.get("cpu_total_percent", table["cpu_percent"].sum()))
    table["budget_pct"] = 100 * table["memory_mib"] / budget
    table["keeps_data"] = [_keeps_data(name) for name in table.index]
    return table.sort_values("memory_mib", ascending=False), budget, total, cpu


def _keeps_data(container: str) -> bool:
    from labsvc.capstone.export import SERVICES  # name: (instances, keeps data, starts after)

    service = container if container in SERVICES else container.rsplit("-", 1)[0]
    return bool(SERVICES.get(service, (0, False))[1])


def _crashes(data: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for key in sorted(k for k in data if k.startswith("crash_")):
        c, name = data[key], key.removeprefix("crash_")
        kept = data.get(f"orders_kept_{name}", {})
        served = c.get("served_during", {})
        rows.append({"container": name, "pid": c.get("pid"), "restarts": c.get("restarts"),
                     "back_after_s": c.get("back_after_s"), "requests": c.get("requests"),
                     **{f"{j}_pct": 100 * served[j] if j in served else None for j in _JOURNEYS},
                     "orders_before": kept.get("placed_before"), "orders_kept": kept.get("still_there")})
    columns = ["pid", "restarts", "back_after_s", "requests", *(f"{j}_pct" for j in _JOURNEYS),
               "orders_before", "orders_kept"]
    if not rows:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="container"))
    table = pd.DataFrame(rows).set_index("container")[columns]
    counts = ["pid", "restarts", "requests", "orders_before", "orders_kept", *(f"{j}_pct" for j in _JOURNEYS)]
    table = table.round({"back_after_s": 1, **{f"{j}_pct": 0 for j in _JOURNEYS}})
    return table.astype({c: "Int64" for c in counts})


def _pause(path: Path, pause: Any) -> pd.DataFrame:
    if not isinstance(pause, dict) or not isinstance(pause.get("rows"), list) or not pause["rows"]:
        raise _fail(path, "'pause' should hold 'rows' of {when, outcome, notebook, compose}")
    try:
        table = pd.DataFrame(pause["rows"])[["when", "outcome", "notebook", "compose"]]
    except KeyError as exc:
        raise _fail(path, f"its pause rows lack {exc}") from None
    table["agree"] = table["notebook"] == table["compose"]
    return table


def load_compose_run(path: str | Path | None = None) -> ComposeRun:
    """Read a recorded ``make compose-test`` run; no Docker needed.

    ``path``: ``None`` for the newest recording in ``datasets/compose_run/`` (newest by the UTC
    stamp in its name), a folder for the newest one in it, or a file (a bare name such as
    ``"compose_run_2026-12-07T0514Z.json"`` is looked up in ``datasets/compose_run/``).
    Raises :class:`ComposeRunError` when the file is missing, is not JSON, or lacks what a
    recording holds.
    """
    path = _resolve(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not JSON ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeRunError(f"cannot read {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise _fail(path, f"a JSON object was expected, found {type(data).__name__}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise _fail(path, f"it lacks {missing} (see datasets/{RUNS_FOLDER}/README.md for the keys)")
    try:
        date = datetime.fromisoformat(str(data["date"]))
    except ValueError:
        raise _fail(path, f"its date {data['date']!r} is not an ISO 8601 date and time") from None
    resources, budget, total, cpu = _resources(path, data["resources"])
    pause = data["pause"]
    return ComposeRun(
        path=path, date=date, machine=str(data.get("machine", "?")), cpus=data.get("cpus"),
        memory_gib=data.get("memory_gib"), docker_engine=str(data.get("docker_engine", "?")),
        docker_client=str(data.get("docker_client", "?")), compose=str(data.get("compose", "?")),
        base_image=dict(data.get("base_image") or {}), up_to_healthy_s=data.get("up_to_healthy_s"),
        wall_time_s=data.get("wall_time_s"), budget_mib=budget, total_mib=total, cpu_total_percent=cpu,
        pause_s=float(pause.get("seconds", float("nan"))) if isinstance(pause, dict) else float("nan"),
        checkouts=int(pause.get("checkouts", 0)) if isinstance(pause, dict) else 0,
        spacing_s=float(pause.get("spacing_s", float("nan"))) if isinstance(pause, dict) else float("nan"),
        chaos=dict(data.get("chaos_run") or {}), checks=_checks(path, data["checks"]), resources=resources,
        crashes=_crashes(data), pause_comparison=_pause(path, pause), data=data,
    )


def plot_memory(run: ComposeRun) -> Figure:
    """Each container's memory (MiB, data-keeping ones darker), and their sum against the budget."""
    res = run.resources.sort_values("memory_mib")
    colors = ["#264653" if keeps else "#2a9d8f" for keeps in res["keeps_data"]]
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    per, whole = fig.subplots(1, 2, width_ratios=[3, 2])
    per.barh(res.index, res["memory_mib"], color=colors)
    per.set_xlabel("memory (MiB)")
    per.set_title("per container (dark: keeps a database on a volume)", fontsize=9)
    left = 0.0
    for name, mib, color in zip(res.index, res["memory_mib"], colors):
        whole.barh([""], [mib], left=left, color=color, edgecolor="white", linewidth=0.5)
        left += mib
    whole.axvline(run.budget_mib, color="#e76f51", linestyle="--")
    whole.text(run.budget_mib, 0, f"budget {run.budget_mib:.0f} MiB ", ha="right", va="center", fontsize=8,
               color="#e76f51")
    whole.set_yticks([])
    whole.set_xlim(0, run.budget_mib * 1.05)
    whole.set_xlabel("memory (MiB)")
    whole.set_title(f"{len(res)} containers: {run.total_mib:.0f} MiB of {run.budget_mib:.0f} MiB", fontsize=9)
    fig.suptitle(f"docker stats, {run.date:%Y-%m-%d %H:%M} UTC", fontsize=10)
    return fig
