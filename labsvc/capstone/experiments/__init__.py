"""The capstone's chaos experiments, as Chaos Toolkit files beside this module.

Each ``<name>.yaml`` holds a method and its rollbacks; the steady-state
hypothesis they all test is in ``_hypothesis.yaml`` (users are served in
every journey, browsing stays fast), so one definition of "steady" serves
every experiment. :func:`load` gives a complete experiment, :func:`write`
saves one as a file a learner can edit and load again.

>>> sorted(NAMES)
['bad_deploy', 'instance_crash', 'partition', 'payment_down', 'slow_dependency']
>>> load("instance_crash").title
'losing a catalog instance'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ...chaos import Experiment, load_experiment

__all__ = ["NAMES", "spec", "load", "write"]

_HERE = resources.files(__name__)
NAMES = tuple(sorted(p.name[:-5] for p in _HERE.iterdir() if p.name.endswith(".yaml") and not p.name.startswith("_")))
#: What the runner passes to the capstone's own actions (see :mod:`labsvc.capstone.actions`).
EXTRAS = ("system",)


def spec(name: str) -> dict[str, Any]:
    """The experiment ``name`` as a dict, with the shared hypothesis filled in."""
    if name not in NAMES:
        raise KeyError(f"no capstone experiment {name!r}; experiments: {', '.join(NAMES)}")
    raw = yaml.safe_load((_HERE / f"{name}.yaml").read_text(encoding="utf-8"))
    raw.setdefault("steady-state-hypothesis", yaml.safe_load((_HERE / "_hypothesis.yaml").read_text(encoding="utf-8")))
    return raw


def load(name: str) -> Experiment:
    """The experiment ``name``, checked and ready for :func:`labsvc.chaos.run_experiment`."""
    return load_experiment(spec(name), injected=EXTRAS)


def write(name: str, path: str | Path) -> Path:
    """Save the complete experiment ``name`` as YAML at ``path`` (to edit and load with ``load_experiment``)."""
    path = Path(path)
    path.write_text(yaml.safe_dump(spec(name), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
