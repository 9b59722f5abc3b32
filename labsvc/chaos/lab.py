"""Notebook 14's chaos entry points: load an experiment, run it under users' traffic, draw the evidence.

The capstone notebook breaks the order system on purpose. What it uses of
chaos, directly or through :func:`labsvc.capstone.run_chaos`:

- :func:`load_experiment`: read and check an experiment in Chaos Toolkit's
  format (the notebook loads its own variant of ``bad_deploy``, with a
  rolling update instead of a canary);
- :func:`run_experiment` with a :class:`Traffic`: the steady-state check,
  the method, the rollbacks, under an open loop of users (what
  ``run_chaos`` calls on a started order system); it returns a
  :class:`~labsvc.chaos.ChaosReport`;
- :func:`plot_report` (what ``report.plot()`` draws) and
  :func:`plot_verdicts` (one bar per experiment, coloured by verdict).

The order system, its experiments and its SLOs belong to the capstone
(:mod:`labsvc.capstone`); the runner and its format live in
:mod:`labsvc.chaos`, and every name here is importable from there too.
"""

from __future__ import annotations

from labsvc.chaos._format import load_experiment
from labsvc.chaos._runner import Traffic, run_experiment
from labsvc.chaos.plots import plot_report, plot_verdicts

__all__ = ["load_experiment", "run_experiment", "Traffic", "plot_report", "plot_verdicts"]
