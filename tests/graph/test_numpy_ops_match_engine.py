"""The numpy op table (grids, batched gradient checks) follows the engine's IEEE rules."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from graph.ops import OPS
from graph.surface import NUMPY_FORWARD

SPECIAL = [-0.0, 0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1e308, -1e308, 5e-324, -5e-324]
SPECIAL += [math.inf, -math.inf, math.nan]


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _arity(name: str) -> int:
    return len(OPS[name].ports)


@pytest.mark.parametrize("name", sorted(n for n in NUMPY_FORWARD if n not in ("choose", "powc")))
def test_each_op_gives_the_engine_value_and_sign_at_special_points(name: str) -> None:
    spec, fn = OPS[name], NUMPY_FORWARD[name]
    for args in itertools.product(SPECIAL, repeat=_arity(name)):
        engine = float(spec.forward(*args))
        with np.errstate(all="ignore"):
            grid = float(np.asarray(fn(*[np.array([a]) for a in args])).ravel()[0])
        assert _same(grid, engine), (name, args, grid, engine)


@pytest.mark.parametrize("exponent", [0.5, -0.5, 2.0, 3.0, -1.0, 1e-300])
def test_a_constant_power_of_minus_infinity_matches_the_engine(exponent: float) -> None:
    engine = OPS["powc"].forward(-math.inf, exponent=exponent)
    grid = float(NUMPY_FORWARD["powc"](np.array([-math.inf]), exponent=exponent)[0])
    assert _same(grid, engine)
