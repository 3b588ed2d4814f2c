"""Real Internals events from a few SGD steps of a small numpy net (no data files)."""

from __future__ import annotations

import numpy as np

from nets.internals.numpy_probe import MlpInternals
from nets.mlp.optim import SGD
from nets.mlp.train import training_step
from nets.training import Internals


def sgd_samples(
    model, X: np.ndarray, y: np.ndarray, steps: int, every: int, lr: float = 0.1
) -> list[Internals]:
    """Plain SGD steps with the tracker wired as the trainer wires it; the samples."""
    tracker = MlpInternals(model, every)
    opt = SGD(model.parameters(), lr)
    events = []
    for step in range(1, steps + 1):
        probe = tracker.before_step(step, 1, X)
        _, grads = training_step(model, X, y, 0.0, reuse_buffers=True, probe=probe)
        tracker.before_update(model.parameters(), grads)
        opt.step(grads)
        event = tracker.after_update(model.parameters())
        if event is not None:
            events.append(event)
    return events
