"""Layer sampling for the numpy networks (``nets.mlp``).

The classifiers call a probe from inside ``forward`` and ``backward`` (see
``nets.mlp.classifiers.Probe``); the trainer passes one only while internals are on, so
the normal path pays one ``is not None`` test per layer. On unsampled steps the probe only
notes which ReLU units fired (one ``any`` over the batch); on sampled steps it records
everything the recorder wants.

    tracker = MlpInternals(model, every=50)
    probe = tracker.before_step(step, epoch, X_batch)
    loss, grads = training_step(model, X_batch, y_batch, reg, probe=probe)
    tracker.before_update(model.parameters(), grads)
    optimizer.step(grads)
    event = tracker.after_update(model.parameters())   # an Internals on sampled steps
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from nets.internals.recorder import DEFAULT_EVERY, InternalsRecorder, is_sampled
from nets.training import Internals


class _Probe:
    """The object the classifiers call (``nets.mlp.classifiers.Probe``)."""

    def __init__(self, recorder: InternalsRecorder) -> None:
        self.recorder = recorder
        self.full = False

    def activation(self, layer: str, kind: str, out: np.ndarray) -> None:
        if kind == "relu" and not self.recorder.all_active(layer):
            self.recorder.activity(layer, np.asarray(out.any(axis=0)))
        if self.full:
            self.recorder.observe_activation(layer, out)

    def gradient(self, layer: str, grad: np.ndarray) -> None:
        if self.full:
            self.recorder.observe_gradient(layer, grad)


class MlpInternals:
    """Samples every layer of a numpy classifier every ``every`` steps."""

    def __init__(self, model: Any, every: int = DEFAULT_EVERY) -> None:
        self.table = model.layer_table()
        self.recorder = InternalsRecorder([(n, k) for n, k, _ in self.table], every)
        self.probe = _Probe(self.recorder)

    @property
    def every(self) -> int:
        return self.recorder.every

    @property
    def sampling(self) -> bool:
        """True between ``before_step`` of a sampled step and its ``after_update``."""
        return self.probe.full

    def before_step(self, step: int, epoch: int, X_batch: np.ndarray) -> _Probe:
        """Call before the forward pass of ``step`` (from 1); returns the probe to pass."""
        self.recorder.count_batch()
        self.probe.full = is_sampled(step, self.every)
        if self.probe.full:
            self.recorder.begin(step, epoch)
            self.recorder.observe_input(X_batch)
        return self.probe

    def before_update(
        self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """Parameters and their gradients (as the optimizer will use them)."""
        if not self.probe.full:
            return
        for name, _, roles in self.table:
            for role, key in roles.items():
                self.recorder.observe_parameter(name, role, params[key], grads.get(key))

    def after_update(self, params: Mapping[str, np.ndarray]) -> Internals | None:
        """The Internals event of a sampled step (None on other steps)."""
        if not self.probe.full:
            return None
        for name, _, roles in self.table:
            for role, key in roles.items():
                self.recorder.observe_update(name, role, params[key])
        self.probe.full = False
        return self.recorder.finish()

    def diagnose(
        self,
        step: int,
        epoch: int,
        X_batch: np.ndarray,
        run_step: Callable[[_Probe], tuple[float, Mapping[str, np.ndarray]]],
        params: Mapping[str, np.ndarray],
    ) -> Internals:
        """Re-run a step whose loss was not finite with every layer recorded, to say where
        the NaN or inf first appeared. ``run_step(probe)`` repeats the forward and backward
        pass with the weights that produced it and returns (loss, grads)."""
        self.recorder.begin(step, epoch)
        self.recorder.observe_input(X_batch)
        self.probe.full = True
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                _, grads = run_step(self.probe)
                for name, _, roles in self.table:
                    for role, key in roles.items():
                        self.recorder.observe_parameter(name, role, params[key], grads.get(key))
        finally:
            self.probe.full = False
        return self.recorder.finish()
