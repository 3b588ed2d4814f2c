"""Search spaces: which hyperparameters a study varies, and over what.

A space is a tuple of ranges, one per hyperparameter (a field of the trainer's
configuration): ``FloatRange`` (linear or log), ``IntRange`` (linear or log) or
``Choices`` (a list of values). ``SPACE.json`` holds one object per name::

    {"learning_rate": {"low": 1e-4, "high": 1e-1, "log": true},
     "hidden_dim": {"type": "int", "low": 32, "high": 512, "log": true},
     "batch_size": {"choices": [64, 128, 256]}}

``type`` is ``float``, ``int`` or ``choice``; without it, ``choices`` makes a choice and
two whole-number bounds an integer range. The grid sampler needs finite values: a range
gives ``grid`` points (default 3), spaced as the range is.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nets.errors import ConfigError
from nets.fileio import read_regular, shown

#: A SPACE.json larger than this is not a search space.
MAX_SPACE_BYTES = 1 << 20
DEFAULT_GRID_POINTS = 3


@dataclass(frozen=True)
class _Span:
    """What a float and an integer range share: the bounds, the scale and the grid."""

    name: str
    low: float
    high: float
    log: bool = False
    grid: int = DEFAULT_GRID_POINTS

    def spaced(self) -> list[float]:
        """``grid`` points from ``low`` to ``high``, spaced as the range is."""
        n = max(self.grid, 1)
        if n == 1:
            return [self.low]
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            return [float(math.exp(a + (b - a) * i / (n - 1))) for i in range(n)]
        return [self.low + (self.high - self.low) * i / (n - 1) for i in range(n)]


@dataclass(frozen=True)
class FloatRange(_Span):
    def describe(self) -> str:
        return f"{self.name}: {self.low:g} to {self.high:g}{' (log)' if self.log else ''}"

    def grid_values(self) -> list[float]:
        return self.spaced()


@dataclass(frozen=True)
class IntRange(_Span):
    low: int
    high: int

    def describe(self) -> str:
        return f"{self.name}: {self.low} to {self.high} (whole{', log' if self.log else ''})"

    def grid_values(self) -> list[int]:
        return sorted({min(self.high, max(self.low, round(v))) for v in self.spaced()})


@dataclass(frozen=True)
class Choices:
    name: str
    options: tuple[Any, ...]

    def describe(self) -> str:
        return f"{self.name}: one of {', '.join(str(o) for o in self.options)}"

    def grid_values(self) -> list[Any]:
        return list(self.options)


Range = FloatRange | IntRange | Choices
SearchSpace = tuple[Range, ...]


def check_range(r: Range, allowed: Sequence[str] | None = None) -> Range:
    """``r`` if it is a usable range (of a known field when ``allowed`` is given), else
    ConfigError naming the hyperparameter."""
    if allowed is not None and r.name not in allowed:
        raise ConfigError(
            f"{r.name!r} is not a hyperparameter that can be searched: use {', '.join(allowed)}"
        )
    if isinstance(r, Choices):
        if not r.options:
            raise ConfigError(f"{r.name}: the list of choices is empty")
        for o in r.options:
            if not isinstance(o, (int, float, str, bool)) or (
                isinstance(o, float) and not math.isfinite(o)
            ):
                raise ConfigError(f"{r.name}: choice {o!r} is not a number, string or boolean")
        return r
    kind = int if isinstance(r, IntRange) else float
    for bound in (r.low, r.high):
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise ConfigError(f"{r.name}: the bounds must be numbers, got {bound!r}")
        if not math.isfinite(bound) or (kind is int and bound != int(bound)):
            raise ConfigError(f"{r.name}: the bounds must be finite {kind.__name__}s")
    if r.low > r.high:
        raise ConfigError(f"{r.name}: the low end {r.low:g} is above the high end {r.high:g}")
    if r.log and r.low <= 0:
        raise ConfigError(f"{r.name}: a log range needs a low end above 0, got {r.low:g}")
    if isinstance(r.grid, bool) or not isinstance(r.grid, int) or not 1 <= r.grid <= 100:
        raise ConfigError(f"{r.name}: grid must be a whole number from 1 to 100")
    return r


def check_space(space: Sequence[Range], allowed: Sequence[str] | None = None) -> SearchSpace:
    """The space as a tuple, every range checked; ConfigError when empty or doubled."""
    if not space:
        raise ConfigError("the search space is empty: give at least one hyperparameter a range")
    names = [r.name for r in space]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"the search space names {', '.join(doubled)} twice")
    return tuple(check_range(r, allowed) for r in space)


def suggest(trial: Any, space: Sequence[Range]) -> dict[str, Any]:
    """The trial's values for every range (``optuna.Trial.suggest_*``)."""
    values: dict[str, Any] = {}
    for r in space:
        if isinstance(r, FloatRange):
            values[r.name] = trial.suggest_float(r.name, r.low, r.high, log=r.log)
        elif isinstance(r, IntRange):
            values[r.name] = trial.suggest_int(r.name, int(r.low), int(r.high), log=r.log)
        else:
            values[r.name] = trial.suggest_categorical(r.name, list(r.options))
    return values


def grid(space: Sequence[Range]) -> dict[str, list[Any]]:
    """The grid sampler's search space: every range's finite values."""
    return {r.name: r.grid_values() for r in space}


# ---------------------------------------------------------------------------- JSON


def range_to_json(r: Range) -> dict[str, Any]:
    if isinstance(r, Choices):
        return {"type": "choice", "choices": list(r.options)}
    out: dict[str, Any] = {
        "type": "int" if isinstance(r, IntRange) else "float",
        "low": r.low,
        "high": r.high,
        "log": r.log,
    }
    if r.grid != DEFAULT_GRID_POINTS:
        out["grid"] = r.grid
    return out


def space_to_json(space: Sequence[Range]) -> dict[str, Any]:
    return {r.name: range_to_json(r) for r in space}


def range_from_json(name: str, spec: Any) -> Range:
    """One range from its JSON object; ConfigError naming the hyperparameter."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{name}: expected an object with low/high or choices")
    unknown = set(spec) - {"type", "low", "high", "log", "choices", "grid"}
    if unknown:
        raise ConfigError(f"{name}: unknown key {sorted(unknown)[0]!r}")
    kind = spec.get("type")
    if kind is None:
        if "choices" in spec:
            kind = "choice"
        elif all(
            isinstance(spec.get(k), int) and not isinstance(spec.get(k), bool)
            for k in ("low", "high")
        ):
            kind = "int"
        else:
            kind = "float"
    if kind == "choice":
        options = spec.get("choices")
        if not isinstance(options, list):
            raise ConfigError(f"{name}: choices must be a list")
        return Choices(name, tuple(options))
    if kind not in ("int", "float"):
        raise ConfigError(f"{name}: type must be float, int or choice, got {kind!r}")
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{name}: a range needs low and high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{name}: log must be true or false")
    grid_n = spec.get("grid", DEFAULT_GRID_POINTS)
    low, high = spec["low"], spec["high"]
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise ConfigError(f"{name}: the bounds must be numbers, got {bound!r}")
    if kind == "int":
        if low != int(low) or high != int(high):
            raise ConfigError(f"{name}: an integer range needs whole-number bounds")
        return IntRange(name, int(low), int(high), log, grid_n)
    return FloatRange(name, float(low), float(high), log, grid_n)


def space_from_json(data: Any, allowed: Sequence[str] | None = None) -> SearchSpace:
    if not isinstance(data, Mapping):
        raise ConfigError("a search space is a JSON object: one range per hyperparameter")
    return check_space([range_from_json(str(k), v) for k, v in data.items()], allowed)


def load_space(path: str | os.PathLike[str], allowed: Sequence[str] | None = None) -> SearchSpace:
    """Read SPACE.json; ConfigError with one line naming the file for anything wrong."""
    raw = read_regular(path, ConfigError, "search space file", MAX_SPACE_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigError(f"{shown(path)} is not a JSON search space{where}") from None
    try:
        return space_from_json(data, allowed)
    except ConfigError as exc:
        raise ConfigError(f"{shown(path)}: {exc}") from None
