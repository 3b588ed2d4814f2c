"""Comparing a user's returned values with a reference, keeping the worst point.

``Tally`` collects one comparison per (value, reference, point) and keeps, for every
(value, reference), the worst point: that point's inputs, expected and got, and its
relative error become one ``Check``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nets.homework.results import Check
from nets.mlp.gradcheck import rel_error


class BadReturn(Exception):
    """The user's function returned something of the wrong form (message says what)."""


def _plain(value: Any) -> Any:
    """Floats for scalars, float64 arrays otherwise (what a Check stores)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iub":
        array = array.astype(np.float64)
    return array.item() if array.ndim == 0 else array


def _describe(value: Any) -> str:
    if value is None:
        return "None (not implemented yet?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def compare(
    value: str,
    against: str,
    expected: Any,
    got: Any,
    threshold: float,
    inputs: dict[str, Any],
) -> Check:
    """One comparison of ``got`` with ``expected`` as a Check (same shapes, finite, close)."""
    exp = np.asarray(expected, dtype=np.float64)
    plain_inputs = {k: _plain(v) for k, v in inputs.items()}
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return Check(
            value,
            against,
            False,
            f"{value} is {_describe(got)}, not a number or an array",
            threshold=threshold,
            inputs=plain_inputs,
            expected=_plain(exp),
        )
    if arr.shape != exp.shape:
        if arr.size == exp.size == 1:
            arr = arr.reshape(exp.shape)
        else:
            return Check(
                value,
                against,
                False,
                f"{value} has shape {arr.shape}; expected {exp.shape}",
                threshold=threshold,
                inputs=plain_inputs,
                expected=_plain(exp),
                got=_plain(arr),
            )
    if not np.all(np.isfinite(arr)) and np.all(np.isfinite(exp)):
        err = math.inf
        message = f"{value} holds nan or inf"
    else:
        err = rel_error(exp, arr)
        message = ""
    ok = err < threshold
    return Check(
        value,
        against,
        ok,
        message,
        rel_error=err,
        threshold=threshold,
        inputs=plain_inputs,
        expected=_plain(exp),
        got=_plain(arr),
    )


def _badness(check: Check) -> tuple[int, float]:
    err = check.rel_error
    return (0 if check.ok else 1, math.inf if err is None or math.isnan(err) else err)


class Tally:
    """The worst point of every (value, reference) comparison, in first-seen order."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._worst: dict[tuple[str, str], Check] = {}
        self.extra: list[Check] = []

    def compare(
        self,
        value: str,
        against: str,
        expected: Any,
        got: Any,
        inputs: dict[str, Any],
        threshold: float | None = None,
    ) -> Check:
        check = compare(value, against, expected, got, threshold or self.threshold, inputs)
        key = (value, against)
        old = self._worst.get(key)
        if old is None or _badness(check) > _badness(old):
            self._worst[key] = check
        return check

    def add(self, check: Check) -> None:
        self.extra.append(check)

    def explain(self, value: str, against: str, message: str) -> None:
        """Add a hint to a failing check (kept when it has no message of its own)."""
        key = (value, against)
        check = self._worst.get(key)
        if check is not None and not check.ok and not check.message:
            self._worst[key] = Check(**{**check.__dict__, "message": message})

    def get(self, value: str, against: str) -> Check | None:
        return self._worst.get((value, against))

    def checks(self) -> list[Check]:
        return [*self.extra, *self._worst.values()]


def unpack_pair(result: Any, what: str, second: str) -> tuple[Any, Any]:
    """``result`` as a pair, or BadReturn saying what the homework wants instead."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise BadReturn(f"{what} should return ({second}); it returned {_describe(result)}")
    return result[0], result[1]


def unpack_sequence(values: Any, names: Sequence[str], what: str) -> list[Any]:
    """``values`` as a sequence of ``len(names)`` items, or BadReturn."""
    if not isinstance(values, tuple | list) or len(values) != len(names):
        count = f"{len(values)} items" if isinstance(values, tuple | list) else _describe(values)
        raise BadReturn(
            f"{what} should return ({', '.join(names)}): {len(names)} items, got {count}"
        )
    return list(values)
