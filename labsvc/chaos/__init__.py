"""Chaos experiments: a steady-state hypothesis, tested by breaking the system on purpose.

An experiment is written in Chaos Toolkit's format (JSON or YAML): what
"steady" means (probes with tolerances), the method that disturbs the system
(actions such as crashing an instance or slowing a dependency), and the
rollbacks that undo it. :func:`run_experiment` runs it against a started
:class:`labsvc.Network` while an open loop of users sends traffic, and
returns a :class:`ChaosReport`: the verdict (did the hypothesis hold?) and
the evidence as DataFrames: every probe's value against its tolerance, every
activity, every user request.

>>> experiment = load_experiment({                                # doctest: +SKIP
...     "title": "catalog survives losing an instance",
...     "steady-state-hypothesis": {"title": "users are served", "probes": [
...         {"type": "probe", "name": "availability", "tolerance": [0.99, 1.0],
...          "provider": {"type": "python", "func": "availability"}}]},
...     "method": [{"type": "action", "name": "crash catalog-1",
...                 "provider": {"type": "python", "func": "crash", "arguments": {"target": "catalog-1"}}}],
...     "rollbacks": [{"type": "action", "name": "start catalog-1",
...                    "provider": {"type": "python", "func": "start_instance",
...                                 "arguments": {"instance": "catalog-1"}}}]})
>>> report = await run_experiment(experiment, net, Traffic("GET http://catalog.svc/products", rate=50))  # doctest: +SKIP
>>> report.verdict, report.probes                                 # doctest: +SKIP

The built-in actions and probes are in :mod:`labsvc.chaos.activities`; the
format and its checks in :mod:`labsvc.chaos._format`; the order of a run in
:mod:`labsvc.chaos._runner`; the run as a Chaos Toolkit journal
(``report.journal``, ``report.write_journal("journal.json")``) in
:mod:`labsvc.chaos._journal`; the figures in :mod:`labsvc.chaos.plots`; what
notebook 14 uses, gathered, in :mod:`labsvc.chaos.lab`.
"""

from labsvc.chaos._format import Activity, Experiment, ExperimentError, Provider, load_experiment, ROLLBACK_STRATEGIES
from labsvc.chaos._report import ChaosReport
from labsvc.chaos._runner import Traffic, run_experiment
from labsvc.chaos._tolerance import within_tolerance
from labsvc.chaos.plots import plot_report, plot_verdicts

__all__ = ["load_experiment", "run_experiment", "Traffic", "ChaosReport", "Experiment", "Activity", "Provider",
           "ExperimentError", "ROLLBACK_STRATEGIES", "within_tolerance", "plot_report", "plot_verdicts"]
