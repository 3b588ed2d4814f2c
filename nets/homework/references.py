"""The app's own f1-f3 (the seed's Task 1 graphs), as the checker's reference values.

They compute what the built-in graphs ``assets/graphs/f2.json`` and ``f3.json`` compute
(the tests compare them); f1 is the homework's two-input version,
``L = (x1*w1 + x2*w2 + b - y)^2``. Each returns ``(L, grads)`` with the grads in argument
order, as the homework's functions must.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def f1(
    x1: float, w1: float, x2: float, w2: float, b: float, y: float
) -> tuple[float, tuple[float, ...]]:
    """Squared error of a linear model with two inputs; grads for all six inputs."""
    d = x1 * w1 + x2 * w2 + b - y
    g = 2.0 * d
    return d * d, (g * w1, g * x1, g * w2, g * x2, g, -g)


def f2(x: float) -> tuple[float, tuple[float]]:
    """tanh(x) (the graph builds it from exp(2x)); grad 1 - tanh^2."""
    t = math.tanh(x)
    return t, (1.0 - t * t,)


def f3(s1: float, s2: float, y: int) -> tuple[float, tuple[float, float]]:
    """Two-class softmax cross-entropy, L = -log p_y with y in {1, 2}; grads for s1, s2."""
    m = max(s1, s2)
    log_sum = m + math.log(math.exp(s1 - m) + math.exp(s2 - m))
    p1 = math.exp(s1 - log_sum)
    p2 = math.exp(s2 - log_sum)
    chosen = s1 if y == 1 else s2
    return log_sum - chosen, (p1 - (y == 1), p2 - (y == 2))


#: Each takes the function's inputs and returns (L, grads).
REFERENCES: dict[str, Callable[..., tuple[float, tuple[float, ...]]]] = {
    "f1": f1,
    "f2": f2,
    "f3": f3,
}
