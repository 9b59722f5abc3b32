"""The circuit breaker's states, the transitions allowed between them, and their errors.

:class:`State` and :data:`ALLOWED_TRANSITIONS` mirror resilience4j's
``CircuitBreaker.State`` and ``StateTransition``; :class:`CallNotPermitted`
is its ``CallNotPermittedException``.
"""

from __future__ import annotations

import enum

from labsvc.core.errors import LabsvcError


class State(enum.StrEnum):
    """The states of a circuit breaker (compare with strings: ``state == "OPEN"``)."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"
    DISABLED = "DISABLED"
    FORCED_OPEN = "FORCED_OPEN"


_C, _O, _H, _D, _F = State.CLOSED, State.OPEN, State.HALF_OPEN, State.DISABLED, State.FORCED_OPEN

#: Every (from, to) pair the breaker may take, as resilience4j's StateTransition.
#: Same-state pairs are allowed but silent (they restart the state: fresh
#: metrics, a new wait). The one missing pair is CLOSED -> HALF_OPEN: a
#: half-open trial only makes sense after the breaker has been open.
ALLOWED_TRANSITIONS: frozenset[tuple[State, State]] = frozenset({
    (_C, _C), (_C, _O), (_C, _D), (_C, _F),
    (_H, _H), (_H, _C), (_H, _O), (_H, _D), (_H, _F),
    (_O, _O), (_O, _C), (_O, _H), (_O, _D), (_O, _F),
    (_F, _F), (_F, _C), (_F, _O), (_F, _D), (_F, _H),
    (_D, _D), (_D, _C), (_D, _O), (_D, _F), (_D, _H),
})  # fmt: skip


class CallNotPermitted(LabsvcError, RuntimeError):
    """The breaker is OPEN, FORCED_OPEN, or HALF_OPEN with no trial calls left.

    ``name`` and ``state`` say which breaker refused; ``retry_after`` is the
    number of seconds until an OPEN breaker lets a trial call through
    (``None`` when it cannot tell).
    """

    def __init__(self, name: str, state: State, retry_after: float | None = None) -> None:
        state = State(state)
        self.name, self.state, self.retry_after = name, state, retry_after
        if state is State.OPEN and retry_after is not None:
            why = f"is OPEN and permits no calls for another {retry_after:g} s"
        elif state is State.HALF_OPEN:
            why = "is HALF_OPEN and all its trial calls are taken"
        else:
            why = f"is {state} and permits no calls until transition_to_closed_state() is called"
        super().__init__(f"circuit breaker {name!r} {why}; fail fast or use a fallback")


class IllegalStateTransition(LabsvcError, RuntimeError):
    """A transition that is not in :data:`ALLOWED_TRANSITIONS` was asked for."""

    def __init__(self, name: str, from_state: State, to_state: State) -> None:
        self.name, self.from_state, self.to_state = name, from_state, to_state
        allowed = sorted(str(to) for frm, to in ALLOWED_TRANSITIONS if frm is from_state and to is not frm)
        super().__init__(
            f"circuit breaker {name!r} cannot go from {from_state} to {to_state}; "
            f"from {from_state} it can go to {', '.join(allowed)}"
            + (" (HALF_OPEN follows OPEN: open it first)" if to_state is State.HALF_OPEN else "")
        )
