"""What a check found: one ``FunctionResult`` per function, one ``Check`` per returned
value and reference. Plain data, sent from the child process and shown by the CLI and GUI.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: ``Check.against``: what the value was compared with.
AGAINST = {
    "app": "the app's own implementation",
    "numeric": "central differences of your forward pass",
    "returns": "the homework's return format",
    "runs": "running at all",
}


@dataclass(frozen=True)
class Check:
    """One line of the checklist.

    ``value`` names the returned value (``"L"``, ``"grad_x1"``, ``"out"``, ``"W1"``...);
    for a comparison, ``rel_error`` is the largest max|a-b|/max(1e-8, |a|+|b|) over the
    points tried and ``inputs``/``expected``/``got`` are those of the worst point (arrays
    or floats). ``message`` explains a failure in one or a few lines (for an exception:
    the user's own traceback).
    """

    value: str
    against: str
    ok: bool
    message: str = ""
    rel_error: float | None = None
    threshold: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    expected: Any = None
    got: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class FunctionResult:
    """Every check of one function in one file. ``output`` is what it printed."""

    file: str
    function: str
    checks: tuple[Check, ...]
    output: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "function": self.function,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "output": self.output,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionResult:
        return cls(
            data["file"],
            data["function"],
            tuple(Check.from_dict(c) for c in data["checks"]),
            data.get("output", ""),
            data.get("note", ""),
        )


def failed(
    file: str, function: str, message: str, value: str = "", output: str = ""
) -> FunctionResult:
    """A function that could not be checked at all (did not import, run, or return)."""
    return FunctionResult(
        file, function, (Check(value or function, "runs", False, message),), output
    )


def jsonable(value: Any) -> Any:
    """``value`` with arrays as nested lists and nan/inf as the strings "nan", "inf", "-inf"."""
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
