"""A correct solution of the seed's Task 2 (the modular backprop API), plain numpy."""

import numpy as np


def fc_forward(x, w, b):
    out = x.dot(w) + b
    cache = (x, w, b)
    return out, cache


def fc_backward(grad_out, cache):
    x, w, b = cache
    grad_x = grad_out.dot(w.T)
    grad_w = x.T.dot(grad_out)
    grad_b = np.sum(grad_out, axis=0)
    return grad_x, grad_w, grad_b


def relu_forward(x):
    out = np.maximum(x, 0)
    cache = x
    return out, cache


def relu_backward(grad_out, cache):
    x = cache
    grad_x = grad_out * (x > 0)
    return grad_x


def l2_loss(x, y):
    N = x.shape[0]
    diff = x - y
    loss = 0.5 * np.sum(diff * diff) / N
    grad = diff / N
    return loss, grad


def softmax_loss(x, y):
    N = x.shape[0]
    shifted = x - np.max(x, axis=1, keepdims=True)
    exps = np.exp(shifted)
    probs = exps / np.sum(exps, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(exps, axis=1, keepdims=True))
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    grad = probs.copy()
    grad[np.arange(N), y] -= 1
    grad /= N
    return loss, grad


def l2_regularization(w, reg):
    loss = 0.5 * reg * np.sum(w * w)
    grad_w = reg * w
    return loss, grad_w
