"""One run's sampled layer internals as growing arrays for the Inside view (no Qt).

Fed with ``nets.training.Internals`` events (``add``); the view reads the stacked
histograms (samples x bins) and the per-layer series on its timer. Appending is O(1)
amortised: the histogram stacks double their capacity when full.
"""

from __future__ import annotations

import math

import numpy as np

from gui.training.series import GrowingArray
from nets.training import Internals

#: The histogrammed quantities: key prefix in the event -> what the view calls them.
QUANTITIES = {"act": "Activations", "grad": "Gradients", "weight": "Weights"}
#: The per-layer numbers kept as series.
SCALARS = ("weight_update_ratio", "weight_grad_norm", "dead_fraction", "act_mean", "act_std")


class _Stack:
    """A growing (samples, bins) float64 array of histogram counts."""

    def __init__(self, bins: int) -> None:
        self._data = np.zeros((16, bins))
        self.size = 0

    def append(self, counts: np.ndarray) -> None:
        if self.size == len(self._data):
            grown = np.zeros((2 * len(self._data), self._data.shape[1]))
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size] = counts
        self.size += 1

    def view(self) -> np.ndarray:
        return self._data[: self.size]


class InternalsSeries:
    """Everything the Inside view draws for one run.

    ``steps`` (S,) the sampled steps; ``layers`` names in forward order with ``kinds``;
    ``scalar(layer, key)`` a (S,) series (NaN where a sample lacked it); ``stack(layer,
    what)`` the (S, bins) histogram counts with ``edges(layer, what)`` (bins + 1,);
    ``version`` grows with every sample.
    """

    def __init__(self) -> None:
        self.steps = GrowingArray()
        self.layers: list[str] = []
        self.kinds: dict[str, str] = {}
        self._scalars: dict[tuple[str, str], GrowingArray] = {}
        self._stacks: dict[tuple[str, str], _Stack] = {}
        self._stack_steps: dict[tuple[str, str], GrowingArray] = {}
        self._edges: dict[tuple[str, str], np.ndarray] = {}
        self.dead: dict[str, float] = {}
        self.non_finite: tuple[int, str, str] | None = None
        self.version = 0

    def add(self, event: Internals) -> None:
        self.steps.append(float(event.step))
        for name, entry in event.layers.items():
            if name not in self.kinds:
                self.layers.append(name)
                self.kinds[name] = str(entry.get("kind", ""))
            for key in SCALARS:
                series = self._scalars.setdefault((name, key), GrowingArray())
                # Layers first seen late get NaN for the samples before.
                while len(series) < len(self.steps) - 1:
                    series.append(math.nan)
                value = entry.get(key)
                series.append(float(value) if value is not None else math.nan)
            if "dead_fraction" in entry:
                self.dead[name] = float(entry["dead_fraction"])
            for what in QUANTITIES:
                counts = entry.get(f"{what}_hist")
                edges = entry.get(f"{what}_edges")
                if counts is None or edges is None:
                    continue
                key = (name, what)
                stack = self._stacks.get(key)
                if stack is None:
                    stack = self._stacks[key] = _Stack(len(counts))
                    self._edges[key] = np.asarray(edges, dtype=np.float64)
                    self._stack_steps[key] = GrowingArray()
                stack.append(np.asarray(counts, dtype=np.float64))
                self._stack_steps[key].append(float(event.step))
        if event.non_finite is not None and self.non_finite is None:
            self.non_finite = (event.step, *event.non_finite)
        self.version += 1

    def __len__(self) -> int:
        return len(self.steps)

    def scalar(self, layer: str, key: str) -> np.ndarray:
        series = self._scalars.get((layer, key))
        if series is None:
            return np.full(len(self.steps), math.nan)
        out = np.full(len(self.steps), math.nan)
        out[: len(series)] = series.view()
        return out

    def has(self, layer: str, what: str) -> bool:
        return (layer, what) in self._stacks

    def stack(self, layer: str, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps (S,), counts (S, bins), edges (bins + 1,)); empty arrays if never sampled."""
        key = (layer, what)
        if key not in self._stacks:
            return np.empty(0), np.empty((0, 0)), np.empty(0)
        return self._stack_steps[key].view(), self._stacks[key].view(), self._edges[key]

    def samples_of(self, layer: str, what: str) -> int:
        """How many samples the (layer, what) histogram stack holds (0: none)."""
        stack = self._stacks.get((layer, what))
        return 0 if stack is None else stack.size

    def nearest_sample(self, step: float) -> int:
        """Index of the sample closest to ``step`` (-1 when there is none)."""
        steps = self.steps.view()
        if steps.size == 0 or not math.isfinite(step):
            return -1
        return int(np.argmin(np.abs(steps - step)))


def density(counts: np.ndarray) -> np.ndarray:
    """Each row of counts (S, bins) as a fraction of its total, on a sqrt scale so that
    thin tails stay visible beside a tall peak (values in [0, 1])."""
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(totals > 0, counts / totals, 0.0)
    return np.sqrt(frac)
