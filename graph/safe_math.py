"""Scalar arithmetic that follows IEEE-754 instead of raising, as numpy would: ``1/0`` is
``inf``, ``log(-1)`` is ``nan``, ``exp(1000)`` is ``inf``. The op table's forward and
local-derivative rules (:mod:`graph.ops`) are written with these."""

from __future__ import annotations

import math

INF = math.inf
NAN = math.nan


def safe_div(a: float, b: float) -> float:
    """``a / b`` with ``x/0 = ±inf`` and ``0/0 = nan`` instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def or_zero(x: float | None) -> float:
    """``x`` as a float, 0.0 for None. Unlike ``x or 0.0`` it keeps ``-0.0``, whose sign
    decides ``1/x`` (``-inf``)."""
    return 0.0 if x is None else float(x)


def _is_odd_integer(x: float) -> bool:
    return math.isfinite(x) and x == int(x) and int(x) % 2 == 1


def safe_pow(a: float, b: float) -> float:
    """``a ** b`` for real results only: overflow gives ±inf, a negative base with a
    non-integer exponent gives nan, ``0 ** negative`` gives inf (``-inf`` for ``-0.0``
    and an odd exponent)."""
    if a < 0 and math.isfinite(b) and b != int(b):
        return NAN  # math.pow(-inf, 0.5) is inf, but the rule (and numpy) say nan
    try:
        return math.pow(a, b)
    except OverflowError:
        return -INF if a < 0 and _is_odd_integer(b) else INF
    except ValueError:
        if a == 0:
            return math.copysign(INF, a) if _is_odd_integer(b) else INF
        return NAN


def safe_exp(x: float) -> float:
    """``e ** x`` with overflow giving ``inf``."""
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def safe_log(x: float) -> float:
    """Natural log: ``log(0) = -inf``, ``log(negative) = nan``."""
    if x > 0:
        return math.log(x)
    if x == 0:
        return -INF
    return NAN


def safe_sqrt(x: float) -> float:
    """Square root: ``sqrt(negative) = nan``."""
    return math.sqrt(x) if x >= 0 else NAN


def stable_sigmoid(x: float) -> float:
    """``1 / (1 + e^-x)`` computed without overflow for either sign of x."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = safe_exp(x)  # x < 0 or nan
    return e / (1.0 + e)
