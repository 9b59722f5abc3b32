"""Provider functions of the tests' own, named by ``module`` in experiment files."""

calls: list[str] = []


def reading(value: float) -> float:
    """A probe that returns the number it is given."""
    return value


def record(what: str) -> str:
    calls.append(what)
    return what


def explode(why: str = "boom") -> None:
    calls.append("explode")
    raise RuntimeError(why)


def at_least(value, minimum: float) -> bool:
    """A tolerance probe: the value must be at least ``minimum``."""
    return value >= minimum


level = {"now": 1.0}


def constant(number: float) -> float:
    """A probe whose value is fixed by the experiment."""
    return number


def current_level() -> float:
    """A probe reading a value that the actions below change."""
    return level["now"]


def set_level(to: float) -> float:
    level["now"] = to
    calls.append(f"level={to}")
    return to


def deploy(shop, version: str) -> str:
    """An action that needs an object the runner is given as an extra."""
    shop.append(version)
    return version
