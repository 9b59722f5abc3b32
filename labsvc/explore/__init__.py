"""Let the machine search for the failure: systematic exploration of small message-driven workflows.

A learner's workflow (real labsvc services on a simulated network) runs
over and over; each run the network chooses differently where it may
(the order of same-instant deliveries, and within a fault budget a
duplicate, a lost reply or a crash right after the work), and the
learner's invariants are checked after each run. See :mod:`._explorer`
for the model, :mod:`labsvc.core.choice` for the choice points it steers.
"""

from labsvc.core.choice import Budget
from labsvc.explore._explorer import Exploration, ExplorationError, Run, Workflow, explore, replay

__all__ = ["Workflow", "Run", "Exploration", "ExplorationError", "Budget", "explore", "replay"]
