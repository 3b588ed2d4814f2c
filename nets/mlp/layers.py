"""The seed's modular backprop API: forward/backward pairs and losses, in numpy.

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream
gradient and that cache and returns the downstream gradients. Loss functions return
``(loss, grad)``. Everything works in whatever float dtype it is given: float64 for
gradient checks, float32 for speed (results keep the inputs' dtype; losses are Python
floats). The keyword-only ``out``/``inplace`` options let the trainer reuse buffers in its
hot loop; the defaults allocate fresh arrays and never touch their inputs. Inside the
trainer the big GEMMs are split across cores (``nets.mlp.parallel``); elsewhere they are
plain ``np.dot`` calls.
"""

from __future__ import annotations

import numpy as np

from nets.mlp import parallel


def fc_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, out: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Fully-connected layer: out = x @ w + b.

    Args:
        x: (N, Din) inputs. w: (Din, Dout) weights. b: (Dout,) biases.
        out: optional (N, Dout) buffer for the result (same dtype).
    Returns:
        out: (N, Dout); cache: (x, w) for ``fc_backward``.
    """
    if out is None:
        out = np.empty((x.shape[0], w.shape[1]), dtype=np.result_type(x, w))
    out = parallel.dot(x, w, out)
    out += b
    return out, (x, w)


def fc_backward(
    grad_out: np.ndarray,
    cache: tuple[np.ndarray, np.ndarray],
    *,
    need_grad_x: bool = True,
    out_grad_w: np.ndarray | None = None,
    out_grad_x: np.ndarray | None = None,
    grad_w_beta: float = 0.0,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward pass of ``fc_forward``.

    Args:
        grad_out: (N, Dout) upstream gradient dL/dout. cache: (x, w) from the forward pass.
        need_grad_x: False skips dL/dx (the first layer of a network never needs it:
            that saves a third of the layer's work) and returns None in its place.
        out_grad_w, out_grad_x: optional buffers, (Din, Dout) and (N, Din).
        grad_w_beta: with ``out_grad_w``, add the weight gradient to beta times what that
            buffer holds (momentum SGD's velocity update, done by the GEMM itself) instead
            of overwriting it.
    Returns:
        grad_x: (N, Din) or None; grad_w: (Din, Dout), or beta * out_grad_w + it;
        grad_b: (Dout,).
    """
    x, w = cache
    if out_grad_w is None:
        if grad_w_beta:
            raise ValueError("grad_w_beta needs the out_grad_w buffer it scales")
        out_grad_w = np.empty((x.shape[1], grad_out.shape[1]), dtype=np.result_type(x, grad_out))
    grad_w = parallel.dot_tn(x, grad_out, out_grad_w, beta=grad_w_beta)
    grad_b = grad_out.sum(axis=0)
    grad_x = np.dot(grad_out, w.T, out=out_grad_x) if need_grad_x else None
    return grad_x, grad_w, grad_b


def relu_forward(x: np.ndarray, *, inplace: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """ReLU: out = max(0, x) elementwise, any shape.

    The cache is the output, which is positive exactly where the input is, so ``inplace``
    (overwrite ``x``) loses nothing the backward pass needs.
    """
    out = np.maximum(x, 0, out=x if inplace else None)
    return out, out


def relu_backward(grad_out: np.ndarray, cache: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Backward pass of ``relu_forward``: grad_x = grad_out where the input was > 0, else 0.

    grad_out and cache have the same shape; ``inplace`` overwrites grad_out.
    """
    if inplace:
        grad_out *= cache > 0
        return grad_out
    return np.where(cache > 0, grad_out, np.zeros((), dtype=grad_out.dtype))


def l2_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error: L = 1/(2N) * sum((x - y)^2).

    x, y: (N, D). Returns the loss and grad_x = (x - y) / N, shape (N, D).
    """
    n = x.shape[0]
    diff = x - y
    loss = 0.5 * float(np.vdot(diff, diff)) / n
    return loss, diff / n


def softmax_loss(
    x: np.ndarray, y: np.ndarray, *, out_grad: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy averaged over the batch, stable for huge scores.

    L = -1/N * sum_i log(p[i, y_i]) with p[i, c] = exp(x[i, c] - M_i) / sum_j exp(x[i, j] - M_i)
    and M_i = max_c x[i, c], so nothing exponentiated exceeds 0 (scores of 1e4 and more
    stay finite).

    Args:
        x: (N, C) scores. y: (N,) integer labels in [0, C).
        out_grad: optional (N, C) buffer for the gradient.
    Returns:
        loss (float) and grad_x: (N, C) = (p - onehot(y)) / N.
    """
    n = x.shape[0]
    rows = np.arange(n)
    shifted = np.subtract(x, x.max(axis=1, keepdims=True), out=out_grad)
    picked = shifted[rows, y]  # a copy: shifted is overwritten below
    # The row maximum contributes exp(0) = 1, so every sum is >= 1 and its log is finite.
    probs = np.exp(shifted, out=shifted)
    sums = probs.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - picked))
    probs /= sums
    probs[rows, y] -= 1
    probs /= n
    return loss, probs


def l2_regularization(w: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """L2 penalty: L = reg/2 * sum(w^2), grad_w = reg * w (same shape as w)."""
    flat = w.reshape(-1)
    return 0.5 * reg * float(np.dot(flat, flat)), reg * w


__all__ = [
    "fc_backward",
    "fc_forward",
    "l2_loss",
    "l2_regularization",
    "relu_backward",
    "relu_forward",
    "softmax_loss",
]
