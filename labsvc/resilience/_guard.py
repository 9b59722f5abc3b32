"""What every resilience pattern shares: a guard around a call, and stacks of guards.

A :class:`Guard` wraps a call: ``await guard.call(fn, *args, **kwargs)`` or
``guard.decorate(fn)``. The five patterns (:class:`~labsvc.resilience.Timeout`,
:class:`~labsvc.resilience.Retry`, :class:`~labsvc.resilience.CircuitBreaker`,
:class:`~labsvc.resilience.Bulkhead`, :class:`~labsvc.resilience.Fallback`)
are guards; each writes only :meth:`Guard._execute`, what it does around one
call, and inherits ``call`` and ``decorate`` from here.

:func:`stack` composes guards into one, outermost first, so that
``stack(a, b, c).call(fn)`` is ``a.call(b.call, c.call, fn)``.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable
from functools import partial, wraps
from typing import Any

from labsvc.core.errors import ConfigurationError

__all__ = ["Guard", "Stack", "stack"]

#: A call with its arguments already bound: ``await attempt()`` makes the call.
Attempt = Callable[[], Awaitable[Any]]


async def _invoke(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)``, awaited when it returns an awaitable (so sync functions work too)."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class Guard(abc.ABC):
    """A resilience pattern wrapped around a call (resilience4j calls these decorators).

    Use a guard with ``await guard.call(fn, *args, **kwargs)`` (``fn`` may be
    sync or async) or ``@guard.decorate``; combine guards with :func:`stack`.
    A subclass writes one method, :meth:`_execute`; a made-up example that
    counts calls:

    >>> import asyncio
    >>> class Counted(Guard):
    ...     def __init__(self):
    ...         self.calls = 0
    ...     async def _execute(self, attempt):
    ...         self.calls += 1
    ...         return await attempt()
    >>> counted = Counted()
    >>> asyncio.run(counted.call(max, 2, 3)), counted.calls
    (3, 1)
    """

    async def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` (sync or async) through this guard.

        Returns what the call returns, or what the guard makes of it; the
        class docstring says what this guard does around the call.
        """
        return await self._execute(partial(_invoke, fn, args, kwargs))

    @abc.abstractmethod
    async def _execute(self, attempt: Attempt) -> Any:
        """Run ``await attempt()`` under this guard and return the result.

        ``attempt`` takes no arguments; each ``await attempt()`` makes the
        call afresh, so a guard may make it more than once (a retry) or not
        at all (an open breaker, a full bulkhead).
        """

    def decorate(self, fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """Wrap ``fn`` so every call goes through :meth:`call` (the wrapper is async)."""

        @wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await self.call(fn, *args, **kwargs)

        return wrapper


class Stack(Guard):
    """Guards applied to one call, outermost first; made by :func:`stack`.

    ``guards`` is the tuple of guards, outermost first (a stack given to
    :func:`stack` is flattened into it).
    """

    def __init__(self, *guards: Guard) -> None:
        flat: list[Guard] = []
        for position, guard in enumerate(guards, start=1):
            if not isinstance(guard, Guard):
                raise ConfigurationError(_not_a_guard(position, guard))
            flat.extend(guard.guards if isinstance(guard, Stack) else (guard,))
        if not flat:
            raise ConfigurationError(
                "stack() needs at least one guard, outermost first, e.g. "
                "stack(Fallback(...), Retry(...), CircuitBreaker(...), Timeout('200ms'))"
            )
        for i, guard in enumerate(flat):
            for j in range(i + 1, len(flat)):
                if flat[j] is guard:
                    raise ConfigurationError(
                        f"{guard!r} is in the stack twice (places {i + 1} and {j + 1}, outermost first); a guard "
                        f"wraps a call once (the same one twice would count or limit every call twice): "
                        f"make a second {type(guard).__name__}(...) if you want two layers"
                    )
        self._guards = tuple(flat)

    @property
    def guards(self) -> tuple[Guard, ...]:
        """The guards, outermost first."""
        return self._guards

    async def _execute(self, attempt: Attempt) -> Any:
        # Build a.call(b.call, c.call, attempt) from the inside out.
        call: Attempt = attempt
        for guard in reversed(self._guards):
            call = partial(guard.call, call)
        return await call()

    def __repr__(self) -> str:
        return f"stack({', '.join(repr(g) for g in self._guards)})"


def stack(*guards: Guard) -> Stack:
    """Compose guards into one guard, applied in the order given, outermost first.

    ``stack(a, b, c).call(fn)`` runs ``a.call(b.call, c.call, fn)``: ``a``
    sees the outcome of everything inside it, ``c`` only the call itself.
    The order is the caller's choice because it changes what happens (a
    retry outside a breaker has each attempt judged by the breaker and sees
    :class:`~labsvc.resilience.CallNotPermitted` once it opens; a retry inside
    it has the breaker judge only the last attempt), so ``stack`` never
    reorders. The usual order is resilience4j's Spring Boot default,
    ``Retry(CircuitBreaker(RateLimiter(TimeLimiter(Bulkhead(function)))))``,
    with the fallback outermost:

        ``stack(Fallback(...), Retry(...), CircuitBreaker(...), Timeout(...), Bulkhead(...))``

    (resilience4j's functional ``Decorators.ofSupplier(...).withX()...``
    builder lists the same chain the other way round, innermost first.)
    Raises :class:`~labsvc.core.errors.ConfigurationError` for no guards, an
    argument that is not a guard, or the same guard twice; a stack given as
    an argument is flattened into the new one.

    >>> import asyncio, httpx
    >>> from labsvc.core.clock import FakeClock
    >>> from labsvc.resilience import CircuitBreaker, Fallback, Retry, Timeout
    >>> clock = FakeClock()
    >>> breaker = CircuitBreaker("reviews", clock=clock, minimum_number_of_calls=2, sliding_window_size=2)
    >>> guard = stack(Fallback("no reviews"), Retry(max_attempts=3, base=0.1, jitter="none", clock=clock),
    ...               breaker, Timeout("1s", clock=clock))
    >>> calls = []
    >>> async def reviews():
    ...     calls.append(clock.now())
    ...     raise httpx.ConnectError("reviews is down")
    >>> asyncio.run(guard.call(reviews))
    'no reviews'
    >>> calls, breaker.state       # the third attempt found the breaker open
    ([0.0, 0.1], <State.OPEN: 'OPEN'>)
    """
    return Stack(*guards)


def _not_a_guard(position: int, value: Any) -> str:
    what = f"stack() argument {position} is {value!r}, not a guard"
    if isinstance(value, type) and issubclass(value, Guard):
        return f"{what}: it is the class {value.__name__}; make one first, e.g. {value.__name__}(...)"
    if isinstance(value, list | tuple):
        return f"{what}: pass the guards as separate arguments, stack(*guards)"
    if getattr(value, "__name__", None) in ("timeout", "with_timeout"):
        return f"{what}: use the guard Timeout(seconds), not the {value.__name__}() function"
    if callable(value):
        return (f"{what}: to guard a function, give it to the stack instead, "
                f"stack(...).decorate(fn) or await stack(...).call(fn)")
    return (f"{what}; a guard is a Fallback, Retry, CircuitBreaker, Timeout, Bulkhead or another "
            f"labsvc.resilience.Guard")
