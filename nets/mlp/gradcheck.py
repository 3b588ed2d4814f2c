"""The seed's driver checks: numeric gradient checks of every layer and both classifiers,
and the softmax stability check. Shared by ``mlp gradcheck`` and the GUI's check panel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nets.mlp.classifiers import Classifier, LinearClassifier, TwoLayerNet
from nets.mlp.layers import (
    fc_backward,
    fc_forward,
    l2_loss,
    l2_regularization,
    relu_backward,
    relu_forward,
    softmax_loss,
)

LAYER_THRESHOLD = 1e-9
CLASSIFIER_THRESHOLD = 1e-10
STABILITY_THRESHOLD = 1e-9


@dataclass(frozen=True)
class GradcheckResult:
    """One row of the check table: the largest relative error against its threshold."""

    name: str
    max_rel_error: float
    threshold: float
    passed: bool
    group: str = "layer"  # "layer", "classifier" or "stability"


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1e-8, |a| + |b|) over all elements (0 for empty arrays)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numeric_gradient(f: Callable[[], Any], x: np.ndarray, h: float = 1e-2) -> np.ndarray:
    """d f() / dx by the sixth-order central difference, perturbing x in place.

    (45 (f(x+h) - f(x-h)) - 9 (f(x+2h) - f(x-2h)) + (f(x+3h) - f(x-3h))) / 60h has an
    O(h^6) truncation error, so a fairly large h keeps round-off small as well: errors
    near 1e-12 in float64. Differences are taken pairwise first, so a function that does
    not depend on an element gets exactly 0. Inputs of kinked functions (ReLU) must stay
    more than 3h away from the kink.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        diffs = []
        for step in (1, 2, 3):
            x[i] = old + step * h
            plus = f()
            x[i] = old - step * h
            diffs.append(plus - f())
        x[i] = old
        grad[i] = (45 * diffs[0] - 9 * diffs[1] + diffs[2]) / (60 * h)
    return grad


def _array_check(
    forward: Callable[[], np.ndarray], x: np.ndarray, grad_out: np.ndarray, analytic: np.ndarray
) -> float:
    """Check analytic = d(sum(forward() * grad_out))/dx."""
    numeric = numeric_gradient(lambda: float(np.sum(forward() * grad_out)), x)
    return rel_error(numeric, analytic)


def _layer_checks(rng: np.random.Generator) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((5, 3))
    b = rng.standard_normal(3)
    grad_out = rng.standard_normal((4, 3))
    _, cache = fc_forward(x, w, b)
    gx, gw, gb = fc_backward(grad_out, cache)
    assert gx is not None  # need_grad_x is on by default
    out.append(
        ("fc_backward grad_x", _array_check(lambda: fc_forward(x, w, b)[0], x, grad_out, gx))
    )
    out.append(
        ("fc_backward grad_w", _array_check(lambda: fc_forward(x, w, b)[0], w, grad_out, gw))
    )
    out.append(
        ("fc_backward grad_b", _array_check(lambda: fc_forward(x, w, b)[0], b, grad_out, gb))
    )

    # Keep ReLU inputs away from the kink at 0, where no derivative exists.
    xr = rng.standard_normal((4, 5))
    xr += np.sign(xr) * 0.1  # the stencil reaches 3h = 0.03 either side
    grad_r = rng.standard_normal((4, 5))
    _, rcache = relu_forward(xr)
    grx = relu_backward(grad_r, rcache)
    out.append(("relu_backward", _array_check(lambda: relu_forward(xr)[0], xr, grad_r, grx)))

    scores = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, size=6)
    _, gs = softmax_loss(scores, labels)
    num = numeric_gradient(lambda: softmax_loss(scores, labels)[0], scores)
    out.append(("softmax_loss", rel_error(num, gs)))

    pred, target = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    _, gp = l2_loss(pred, target)
    out.append(("l2_loss", rel_error(numeric_gradient(lambda: l2_loss(pred, target)[0], pred), gp)))

    wr = rng.standard_normal((5, 3))
    _, gwr = l2_regularization(wr, 0.3)
    num = numeric_gradient(lambda: l2_regularization(wr, 0.3)[0], wr)
    out.append(("l2_regularization", rel_error(num, gwr)))
    return out


def _classifier_checks(model: Classifier, rng: np.random.Generator) -> list[tuple[str, float]]:
    X = rng.standard_normal((3, model.input_dim))
    if isinstance(model, TwoLayerNet):
        # Every hidden pre-activation must stay clear of ReLU's kink while the stencil moves
        # a weight by up to 3h: redraw the inputs until it does (deterministic per seed).
        p = model.parameters()
        for _ in range(1000):
            pre = X @ p["W1"] + p["b1"]
            if np.min(np.abs(pre)) > 0.2:
                break
            X = rng.standard_normal((3, model.input_dim))
    y = rng.integers(0, model.num_classes, size=3)
    scores, cache = model.forward(X)
    _, grad_scores = softmax_loss(scores, y)
    grads = model.backward(grad_scores, cache)

    # The numeric side runs the same forward pass in extended precision (80-bit long
    # double on x86), so its round-off stays far below the 1e-10 threshold even for
    # the smallest gradient entries.
    params = model.parameters()
    saved = dict(params)
    wide = {k: v.astype(np.longdouble) for k, v in saved.items()}
    X_wide = X.astype(np.longdouble)

    def loss() -> float:
        s = model.forward(X_wide)[0]
        m = s.max(axis=1, keepdims=True)
        return np.mean(np.log(np.exp(s - m).sum(axis=1)) + m[:, 0] - s[np.arange(len(y)), y])

    name = type(model).__name__
    out = []
    try:
        params.update(wide)
        for k in saved:
            numeric = numeric_gradient(loss, wide[k], h=1e-3)
            out.append((f"{name} {k}", rel_error(numeric, grads[k])))
    finally:
        params.update(saved)
    return out


def _stability_checks() -> list[tuple[str, float]]:
    """Softmax loss on huge scores: finite, and equal to an exact log-sum-exp reference."""
    out = []
    for magnitude, dtype in ((1e4, np.float64), (1e4, np.float32), (1e30, np.float64)):
        scores = np.array([[magnitude, 0.0, -magnitude], [-magnitude, 0.5, magnitude]], dtype=dtype)
        labels = np.array([0, 1])
        loss, grad = softmax_loss(scores, labels)
        ref = 0.0
        for row, label in zip(scores.astype(np.float64), labels, strict=True):
            m = max(row)
            ref += m + math.log(sum(math.exp(v - m) for v in row)) - row[label]
        ref /= len(labels)
        finite = math.isfinite(loss) and bool(np.all(np.isfinite(grad)))
        err = float(abs(loss - ref) / max(1e-8, abs(loss) + abs(ref))) if finite else math.inf
        out.append((f"softmax_loss with scores of {magnitude:g} ({np.dtype(dtype).name})", err))
    return out


def run_gradchecks(seed: int = 0) -> list[GradcheckResult]:
    """Run every check (well under a second) and return one result per row."""
    rng = np.random.default_rng(seed)
    results = [
        GradcheckResult(name, err, LAYER_THRESHOLD, err < LAYER_THRESHOLD, "layer")
        for name, err in _layer_checks(rng)
    ]
    models: list[Classifier] = [
        LinearClassifier(5, 4, weight_scale=1.0, dtype=np.float64, seed=seed),
        TwoLayerNet(5, 4, hidden_dim=6, weight_scale=0.5, dtype=np.float64, seed=seed),
    ]
    for model in models:
        results += [
            GradcheckResult(
                name, err, CLASSIFIER_THRESHOLD, err < CLASSIFIER_THRESHOLD, "classifier"
            )
            for name, err in _classifier_checks(model, rng)
        ]
    results += [
        GradcheckResult(name, err, STABILITY_THRESHOLD, err < STABILITY_THRESHOLD, "stability")
        for name, err in _stability_checks()
    ]
    return results
