"""Checkers for notebook 10 (resilience)."""

from __future__ import annotations

import math

import pandas as pd

from ..course import Feedback, exercise


@exercise("10.breaker-states")
def breaker_states(answer, events: pd.DataFrame) -> Feedback:
    if not isinstance(events, pd.DataFrame) or "kind" not in events:
        return Feedback(False, "pass the breaker's events DataFrame: check(..., events=with_breaker.events)")
    changes = events[events["kind"] == "state_transition"]
    if changes.empty:
        return Feedback(False, "this breaker never changed state; pass the events of the run with a breaker")
    truth = [changes["from_state"].iloc[0], *changes["to_state"]]
    if not isinstance(answer, (list, tuple)) or [str(s) for s in answer] != truth:
        return Feedback(False, "start with the first row's from_state, then list every to_state of the rows whose "
                               "kind is 'state_transition'")
    return Feedback(True, f"{len(truth) - 1} transitions: each HALF_OPEN -> OPEN is a trial that found reviews still "
                          f"failing; the last HALF_OPEN -> CLOSED found it healthy.")


@exercise("10.amplification")
def amplification(answer, result) -> Feedback:
    calls, user_requests = getattr(result, "calls", None), getattr(result, "user_requests", None)
    if not isinstance(calls, pd.DataFrame) or not user_requests:
        return Feedback(False, "pass the result of retry_storm('naive', ...): check(..., result=naive)")
    if getattr(result, "policy", None) != "naive":
        return Feedback(False, f"this is the {result.policy!r} storm; run retry_storm('naive', ...) and pass that")
    truth = int((calls["callee"] == "c").sum()) / user_requests
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isclose(answer, truth):
        return Feedback(False, "count the rows of result.calls whose callee is 'c' and divide by the number of "
                               "user requests (result.user_requests)")
    return Feedback(True, f"{truth:g} calls to c per user request: 3 attempts at each of three layers, 3 x 3 x 3.")


# The question's numbers: one answer in 200 is slow, and a request waits for 50 backends.
FANOUT_P_SLOW = 0.005
FANOUT_N = 50


@exercise("10.fanout")
def fanout(answer) -> Feedback:
    truth = 1 - (1 - FANOUT_P_SLOW) ** FANOUT_N
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isclose(answer, truth,
                                                                                             abs_tol=0.005):
        return Feedback(False, "a request is fast only if all 50 backends are fast: what is the chance of that, "
                               "and of its opposite?")
    return Feedback(True, f"{truth:.1%} of requests meet at least one slow backend, although each backend is slow "
                          f"only {FANOUT_P_SLOW:.1%} of the time.")
