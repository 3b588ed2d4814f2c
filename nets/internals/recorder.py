"""Turns per-layer observations of one sampled step into an ``Internals`` event.

Both networks feed the same recorder: the numpy net through the probe its classifiers
call (``nets.internals.numpy_probe``), the CNN through torch hooks
(``nets.internals.torch_probe``). Between samples only ReLU unit activity is gathered
(a boolean per unit per batch) so that ``dead_fraction`` covers every batch since the last
sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nets.internals import stats
from nets.training import DEFAULT_EVERY, Internals

#: Layer kinds, in the names ``fc``, ``conv``, ``bn`` and ``relu`` numbered per kind.
KINDS = ("linear", "conv", "batchnorm", "relu")
_PREFIX = {"linear": "fc", "conv": "conv", "batchnorm": "bn", "relu": "relu"}


def layer_names(kinds: Sequence[str]) -> list[str]:
    """Names for layers of these kinds in forward order: fc1, relu1, fc2..."""
    counts = dict.fromkeys(KINDS, 0)
    names = []
    for kind in kinds:
        counts[kind] += 1
        names.append(f"{_PREFIX[kind]}{counts[kind]}")
    return names


def is_sampled(step: int, every: int) -> bool:
    """Steps 1, every, 2*every... are sampled (step 1 shows where training started)."""
    return step == 1 or step % every == 0


class InternalsRecorder:
    """Collects one sampled step's observations, layer by layer.

    ``layers`` is [(name, kind)] in forward order. Call ``begin`` at a sampled step, the
    ``observe_*`` methods as the values pass, then ``finish`` for the event. ``activity``
    may be called on every step.
    """

    def __init__(self, layers: Sequence[tuple[str, str]], every: int = DEFAULT_EVERY) -> None:
        if every < 1:
            raise ValueError("internals must be sampled every 1 or more steps")
        self.every = int(every)
        self.layers = list(layers)
        self._kind = dict(self.layers)
        self._edges: dict[tuple[str, str], np.ndarray] = {}
        self._active: dict[str, np.ndarray] = {}
        self._batches = 0
        self._current: dict[str, dict] | None = None
        self._step = 0
        self._epoch = 0
        self._input = (float("nan"), float("nan"))
        self._before: dict[tuple[str, str], np.ndarray] = {}

    # -- every step ------------------------------------------------------------------

    def activity(self, layer: str, active: np.ndarray) -> None:
        """Units of a ReLU that were positive somewhere in this batch: bool (units,)."""
        seen = self._active.get(layer)
        if seen is None or seen.shape != active.shape:
            self._active[layer] = active.copy()
        else:
            seen |= active

    def all_active(self, layer: str) -> bool:
        """True once every unit of ``layer`` was positive since the last sample: the
        probes then skip its per-step activity pass (nothing could change until then)."""
        seen = self._active.get(layer)
        return seen is not None and bool(seen.all())

    def count_batch(self) -> None:
        self._batches += 1

    # -- sampled steps ---------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self._current is not None

    def begin(self, step: int, epoch: int) -> None:
        self._current = {name: {"kind": kind} for name, kind in self.layers}
        self._step, self._epoch = step, epoch
        self._before.clear()

    def observe_input(self, x: np.ndarray) -> None:
        mean, std, _ = stats.moments(x)
        self._input = (mean, std)

    def _hist(self, layer: str, what: str, values: np.ndarray, nonnegative: bool) -> None:
        key = (layer, what)
        edges = self._edges.get(key)
        if edges is None:
            edges = self._edges[key] = stats.choose_edges(values, nonnegative=nonnegative)
        entry = self._entry(layer)
        entry[f"{what}_hist"] = stats.histogram(values, edges)
        entry[f"{what}_edges"] = edges

    def _entry(self, layer: str) -> dict:
        assert self._current is not None, "begin() a sampled step first"
        return self._current[layer]

    def observe_activation(self, layer: str, out: np.ndarray) -> None:
        """The layer's output for this batch (any shape, batch first)."""
        entry = self._entry(layer)
        mean, std, finite = stats.moments(out)
        entry.update(act_mean=mean, act_std=std, act_finite=finite)
        entry["act_zero_fraction"] = stats.zero_fraction(out)
        self._hist(layer, "act", out, nonnegative=self._kind[layer] == "relu")

    def observe_gradient(self, layer: str, grad: np.ndarray) -> None:
        """dL/d(output) of the layer for this batch, the output's shape."""
        entry = self._entry(layer)
        mean, std, finite = stats.moments(grad)
        entry.update(grad_mean=mean, grad_std=std, grad_finite=finite)
        entry["grad_norm"] = stats.norm(grad)
        self._hist(layer, "grad", grad, nonnegative=False)

    def observe_parameter(
        self, layer: str, role: str, value: np.ndarray, grad: np.ndarray | None
    ) -> None:
        """A parameter (``role`` weight or bias) and its gradient, before the update."""
        entry = self._entry(layer)
        entry[f"{role}_norm"] = stats.norm(value)
        if grad is not None:
            entry[f"{role}_grad_norm"] = stats.norm(grad)
        entry[f"{role}_finite"] = bool(np.isfinite(entry[f"{role}_norm"]))
        if role == "weight":
            self._hist(layer, "weight", value, nonnegative=False)
        self._before[(layer, role)] = np.array(value, copy=True)

    def observe_update(self, layer: str, role: str, value: np.ndarray) -> None:
        """The same parameter after the optimizer step: ||new - old|| / ||new||."""
        before = self._before.pop((layer, role), None)
        if before is None:
            return
        entry = self._entry(layer)
        np.subtract(before, value, out=before)
        size = stats.norm(value)
        entry[f"{role}_update_ratio"] = stats.norm(before) / size if size > 0 else float("nan")

    def observe_running_stats(self, layer: str, mean: np.ndarray, var: np.ndarray) -> None:
        """A BatchNorm layer's running mean and variance, (channels,) each."""
        entry = self._entry(layer)
        entry["running_mean"] = np.array(mean, dtype=np.float64)
        entry["running_var"] = np.array(var, dtype=np.float64)

    def finish(self) -> Internals:
        """The event for the sampled step; restarts the dead-unit window."""
        assert self._current is not None, "begin() a sampled step first"
        layers = self._current
        for name, active in self._active.items():
            if name in layers:
                layers[name]["dead_fraction"] = 1.0 - float(np.mean(active))
                layers[name]["dead_window"] = max(self._batches, 1)
        self._active.clear()
        self._batches = 0
        self._current = None
        self._before.clear()
        return Internals(
            step=self._step,
            epoch=self._epoch,
            layers=layers,
            every=self.every,
            input_mean=self._input[0],
            input_std=self._input[1],
            non_finite=first_non_finite(layers),
        )


def first_non_finite(layers: dict[str, dict]) -> tuple[str, str] | None:
    """Where a NaN or inf first appeared: a parameter (forward order) causes everything
    after it, then activations in forward order, then gradients from the last layer back."""
    for name, entry in layers.items():
        for role in ("weight", "bias"):
            if entry.get(f"{role}_finite") is False:
                return name, role
    for name, entry in layers.items():
        if entry.get("act_finite") is False:
            return name, "activation"
    for name, entry in reversed(layers.items()):
        if entry.get("grad_finite") is False or not np.isfinite(entry.get("weight_grad_norm", 0.0)):
            return name, "gradient"
    return None
