"""The capstone's chaos experiments, as Chaos Toolkit files beside this module.

Each ``<name>.yaml`` is a complete Chaos Toolkit experiment (``chaos
validate`` accepts every one): the steady-state hypothesis they all test
(users are served in every journey, browsing stays fast; the same block in
every file, which a test keeps equal), a method and its rollbacks. Every
activity names its module: the built-in faults of
:mod:`labsvc.chaos.activities`, the capstone's own :mod:`~labsvc.capstone.actions`
and :mod:`~labsvc.capstone.probes`, whose probes measure the notebook's
traffic, or under ``chaos run`` send a sample through the gateway at
``LABSVC_GATEWAY_URL``. :func:`load` gives a checked experiment,
:func:`write` saves one as a file a learner can edit and load again.

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

from labsvc.chaos import Experiment, load_experiment

__all__ = ["NAMES", "path", "spec", "load", "write"]

_HERE = resources.files(__name__)
NAMES = tuple(sorted(p.name[:-5] for p in _HERE.iterdir() if p.name.endswith(".yaml") and not p.name.startswith("_")))
#: What the runner passes to the capstone's own actions (see :mod:`labsvc.capstone.actions`).
EXTRAS = ("system",)


def path(name: str) -> Path:
    """The file of experiment ``name`` (to give ``chaos validate`` or ``chaos run``)."""
    if name not in NAMES:
        raise KeyError(f"no capstone experiment {name!r}; experiments: {', '.join(NAMES)}")
    return Path(str(_HERE / f"{name}.yaml"))


def spec(name: str) -> dict[str, Any]:
    """The experiment ``name`` as a dict, as its file has it."""
    return yaml.safe_load(path(name).read_text(encoding="utf-8"))


def load(name: str) -> Experiment:
    """The experiment ``name``, checked and ready for :func:`labsvc.chaos.run_experiment`."""
    return load_experiment(spec(name), injected=EXTRAS)


def write(name: str, path: str | Path) -> Path:
    """Save the complete experiment ``name`` as YAML at ``path`` (to edit and load with ``load_experiment``)."""
    path = Path(path)
    path.write_text(yaml.safe_dump(spec(name), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
