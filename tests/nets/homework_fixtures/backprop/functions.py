"""A correct solution of the seed's Task 1, written the way the homework asks.

Test fixture for ``backprop-explorer check``: one line per edge, copies summed.
"""

import numpy as np


def f1(x1, w1, x2, w2, b, y):
    # Forward pass
    a1 = x1 * w1
    a2 = x2 * w2
    a = a1 + a2
    y_hat = a + b
    d = y_hat - y
    L = d**2

    # Backward pass
    grad_L = 1.0
    grad_d = grad_L * 2 * d
    grad_y_hat = grad_d
    grad_y = -grad_d
    grad_a = grad_y_hat
    grad_b = grad_y_hat
    grad_a1 = grad_a
    grad_a2 = grad_a
    grad_x1 = grad_a1 * w1
    grad_w1 = grad_a1 * x1
    grad_x2 = grad_a2 * w2
    grad_w2 = grad_a2 * x2

    grads = (grad_x1, grad_w1, grad_x2, grad_w2, grad_b, grad_y)
    return L, grads


def f2(x):
    # Forward pass
    d = 2 * x
    e = np.exp(d)
    e1 = e
    e2 = e
    t = e1 - 1
    b = e2 + 1
    y = t / b

    # Backward pass
    grad_y = 1.0
    grad_t = grad_y / b
    grad_b = -grad_y * t / (b * b)
    grad_e1 = grad_t
    grad_e2 = grad_b
    grad_e = grad_e1 + grad_e2
    grad_d = grad_e * e
    grad_x = grad_d * 2

    return y, (grad_x,)


def f3(s1, s2, y):
    assert y == 1 or y == 2
    # Forward pass
    e1 = np.exp(s1)
    e2 = np.exp(s2)
    d = e1 + e2
    p1 = e1 / d
    p2 = e2 / d
    if y == 1:
        p = p1
    else:
        p = p2
    L = -np.log(p)

    # Backward pass
    grad_p = -1 / p
    grad_p1 = grad_p if y == 1 else 0.0
    grad_p2 = grad_p if y == 2 else 0.0
    grad_e1 = grad_p1 / d
    grad_e2 = grad_p2 / d
    grad_d = -grad_p1 * e1 / (d * d) - grad_p2 * e2 / (d * d)
    grad_e1 = grad_e1 + grad_d
    grad_e2 = grad_e2 + grad_d
    grad_s1 = grad_e1 * e1
    grad_s2 = grad_e2 * e2

    return L, (grad_s1, grad_s2)


def f4(a, b, c):
    # My own graph: L = log(1 + exp(a * b)) * c + sqrt(c)
    # Forward pass
    m = a * b
    e = np.exp(m)
    s = e + 1
    g = np.log(s)
    c1 = c
    c2 = c
    h = g * c1
    r = np.sqrt(c2)
    L = h + r

    # Backward pass
    grad_h = 1.0
    grad_r = 1.0
    grad_c2 = grad_r * 0.5 / r
    grad_g = grad_h * c1
    grad_c1 = grad_h * g
    grad_c = grad_c1 + grad_c2
    grad_s = grad_g / s
    grad_e = grad_s
    grad_m = grad_e * e
    grad_a = grad_m * b
    grad_b = grad_m * a

    return L, (grad_a, grad_b, grad_c)
