"""The seed homework's graphs f1-f4 written by hand, the seed's way.

Each function runs a forward pass, then a backward pass with one line per edge (fan-out
gradients summed, as for the seed's copies), and returns ``(L, grads)`` with ``grads``
in argument order. They are an independent check on the engine: the tests compare
them with the built-in graphs in ``assets/graphs``.
"""

from __future__ import annotations

import math


def f1(w: float, x: float, b: float, y: float) -> tuple[float, tuple[float, float, float, float]]:
    """Squared error of a 1-D linear model: y_hat = w*x + b, d = y_hat - y, L = d^2."""
    # Forward pass
    wx = w * x
    y_hat = wx + b
    d = y_hat - y
    L = d**2

    # Backward pass
    grad_L = 1.0
    grad_d = grad_L * 2.0 * d
    grad_y_hat = grad_d * 1.0
    grad_y = grad_d * -1.0
    grad_wx = grad_y_hat * 1.0
    grad_b = grad_y_hat * 1.0
    grad_w = grad_wx * x
    grad_x = grad_wx * w
    return L, (grad_w, grad_x, grad_b, grad_y)


def f2(x: float) -> tuple[float, tuple[float]]:
    """tanh built from exp: d = 2x, e = exp(d), t = e - 1, b = e + 1, y = t / b."""
    # Forward pass
    d = 2.0 * x
    e = math.exp(d)
    e1 = e  # copy: e feeds both t and b
    e2 = e
    t = e1 - 1.0
    b = e2 + 1.0
    y = t / b

    # Backward pass
    grad_y = 1.0
    grad_t = grad_y / b
    grad_b = grad_y * (-t / (b * b))
    grad_e1 = grad_t * 1.0
    grad_e2 = grad_b * 1.0
    grad_e = grad_e1 + grad_e2  # sum grads for copies
    grad_d = grad_e * e
    grad_x = grad_d * 2.0
    return y, (grad_x,)


def f3(s1: float, s2: float, y: int) -> tuple[float, tuple[float, float]]:
    """Two-class softmax cross-entropy: p = softmax(s1, s2)[y], L = -log(p), y in {1, 2}.

    y gets no gradient, so ``grads`` is (dL/ds1, dL/ds2).
    """
    if y not in (1, 2):
        raise ValueError(f"y must be 1 or 2, got {y!r}")
    # Forward pass
    e1 = math.exp(s1)
    e2 = math.exp(s2)
    d = e1 + e2
    p1 = e1 / d
    p2 = e2 / d
    p = p1 if y == 1 else p2
    log_p = math.log(p)
    L = -log_p

    # Backward pass
    grad_L = 1.0
    grad_log_p = grad_L * -1.0
    grad_p = grad_log_p / p
    grad_p1 = grad_p if y == 1 else 0.0
    grad_p2 = grad_p if y == 2 else 0.0
    grad_e1_from_p1 = grad_p1 / d
    grad_d_from_p1 = grad_p1 * (-e1 / (d * d))
    grad_e2_from_p2 = grad_p2 / d
    grad_d_from_p2 = grad_p2 * (-e2 / (d * d))
    grad_d = grad_d_from_p1 + grad_d_from_p2  # sum grads for copies of d
    grad_e1_from_d = grad_d * 1.0
    grad_e2_from_d = grad_d * 1.0
    grad_e1 = grad_e1_from_p1 + grad_e1_from_d  # sum grads for copies of e1
    grad_e2 = grad_e2_from_p2 + grad_e2_from_d  # sum grads for copies of e2
    grad_s1 = grad_e1 * e1
    grad_s2 = grad_e2 * e2
    return L, (grad_s1, grad_s2)


def f4(
    w1: float, x1: float, w2: float, x2: float, b: float, y: float
) -> tuple[float, tuple[float, float, float, float, float, float]]:
    """A tiny neuron with a squared-error loss (7 operators):
    z1 = w1*x1, z2 = w2*x2, s = z1 + z2, z = s + b, p = sigmoid(z), d = p - y, L = d^2."""
    # Forward pass
    z1 = w1 * x1
    z2 = w2 * x2
    s = z1 + z2
    z = s + b
    p = 1.0 / (1.0 + math.exp(-z))
    d = p - y
    L = d**2

    # Backward pass
    grad_L = 1.0
    grad_d = grad_L * 2.0 * d
    grad_p = grad_d * 1.0
    grad_y = grad_d * -1.0
    grad_z = grad_p * p * (1.0 - p)
    grad_s = grad_z * 1.0
    grad_b = grad_z * 1.0
    grad_z1 = grad_s * 1.0
    grad_z2 = grad_s * 1.0
    grad_w1 = grad_z1 * x1
    grad_x1 = grad_z1 * w1
    grad_w2 = grad_z2 * x2
    grad_x2 = grad_z2 * w2
    return L, (grad_w1, grad_x1, grad_w2, grad_x2, grad_b, grad_y)
