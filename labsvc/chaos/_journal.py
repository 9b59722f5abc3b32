"""The run as a Chaos Toolkit journal: the ``journal.json`` that ``chaos run`` writes, from labsvc's runner.

A journal has the experiment as it was given, when it ran, its ``status``
and ``deviated``, the hypothesis checks in ``steady_states`` (``before``,
``after``) and one entry per activity in ``run`` and ``rollbacks``: the
activity as written, its ``output``, ``status`` (``succeeded`` / ``failed``),
``start``, ``end`` and ``duration``, and for a hypothesis probe
``tolerance_met``. ``chaos report`` and other tools that read Chaos
Toolkit's journals read this one too.

How labsvc's run maps onto it:

- labsvc's ``before`` check is ``steady_states.before``; its ``during`` check
  (made while the method's effects are in place) is ``steady_states.after``,
  where Chaos Toolkit makes the same check after the method;
- ``status`` and ``deviated`` follow chaostoolkit-lib 1.44: an experiment
  whose steady state was not met before the method, or deviated after it, is
  ``completed`` (``failed`` when a hypothesis probe raised); one whose method
  stopped at a failing activity is ``aborted``;
- what Chaos Toolkit has no place for (the ``recovery`` check after the
  rollbacks, the windows, the users' traffic per phase) is in
  ``extensions``, under the name ``labsvc``.
"""

from __future__ import annotations

import json
import math
import platform
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = ["JournalRecorder", "plain"]


def plain(value: Any) -> Any:
    """``value`` as plain JSON: NaN and infinities become None, NumPy numbers Python ones, the rest strings."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy / pandas scalars
    if callable(item):
        try:
            return plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def _raw(source: dict, where: str) -> dict:
    """The activity as written in the experiment, found by its place (``steady-state-hypothesis.probes[2]``)."""
    node: Any = source
    for part in where.split("."):
        name, _, index = part.partition("[")
        node = node.get(name, {}) if isinstance(node, dict) else {}
        if index:
            k = int(index.rstrip("]"))
            node = node[k] if isinstance(node, list) and k < len(node) else {}
    return dict(node) if isinstance(node, dict) else {}


class JournalRecorder:
    """Collects one run's entries as the runner goes; :meth:`journal` assembles the document."""

    def __init__(self, source: dict) -> None:
        self.source = source
        self.started = datetime.now(timezone.utc)
        self.runs: list[dict] = []
        self.rollbacks: list[dict] = []
        self.checks: dict[str, list[dict]] = {}

    def _at(self, seconds: float) -> str:
        return (self.started + timedelta(seconds=float(seconds))).isoformat()

    def entry(self, where: str, start: float, end: float, status: str, output: Any = None, error: str = "",
              tolerance_met: bool | None = None) -> dict:
        """One activity's entry: ``start`` and ``end`` in seconds since the run began."""
        row: dict[str, Any] = {"activity": _raw(self.source, where), "output": plain(output),
                               "start": self._at(start), "status": status, "end": self._at(end),
                               "duration": round(max(0.0, end - start), 6)}
        if error:
            row["exception"] = [error]
        if tolerance_met is not None:
            row["tolerance_met"] = bool(tolerance_met)
        return row

    def activity(self, phase: str, where: str, start: float, end: float, status: str, output: Any, error: str) -> None:
        (self.rollbacks if phase == "rollback" else self.runs).append(
            self.entry(where, start, end, status, output, error))

    def probe(self, phase: str, where: str, start: float, end: float, value: Any, met: bool, error: str) -> None:
        self.checks.setdefault(phase, []).append(
            self.entry(where, start, end, "failed" if error else "succeeded", value, error, tolerance_met=met))

    def _state(self, phase: str) -> dict | None:
        probes = self.checks.get(phase)
        if probes is None:
            return None
        return {"steady_state_met": all(p.get("tolerance_met") for p in probes), "probes": probes}

    def journal(self, status: str, deviated: bool, end: float, extension: dict[str, Any]) -> dict:
        """The journal of a run that ended ``end`` seconds after it began (labsvc's ``status``)."""
        before, after = self._state("before"), self._state("during")
        raised = any(p["status"] == "failed" for p in (before or {}).get("probes", []) + (after or {}).get("probes", []))
        if status != "aborted":
            status = "failed" if raised else "completed"
        from labsvc import __version__

        return {
            "chaoslib-version": None,  # written by labsvc's runner, not by chaostoolkit-lib
            "platform": platform.platform(), "node": platform.node(),
            "experiment": self.source, "start": self.started.isoformat(), "status": status,
            "deviated": bool(deviated),
            "steady_states": {"before": before, "after": after, "during": []},
            "run": self.runs, "rollbacks": self.rollbacks, "end": self._at(end), "duration": round(end, 6),
            "extensions": [{"name": "labsvc", "runner": f"labsvc.chaos.run_experiment (labsvc {__version__})",
                            "recovery": self._state("recovery"), **plain(extension)}],
        }


def write_journal(journal: dict, path: str | Path) -> Path:
    """Save ``journal`` as JSON at ``path`` (the file ``chaos run --journal-path`` would write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(journal, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path
