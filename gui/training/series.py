"""Growing metric arrays for live plots: preallocated, grown by doubling, no Qt.

Worker items only append here (O(1) amortised); the plots read ``view()`` slices on
their redraw timer. Values are stored as given, NaN and inf included: a plot decides
how to draw them, and the CSV export keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where arrays are made: not for a tab's first frame
    import numpy as np


class GrowingArray:
    """A 1-D float64 array with amortised O(1) ``append``.

    ``view()`` returns the filled part, shape ``(len,)``; it is a view, valid until the
    next append that has to grow the buffer.
    """

    def __init__(self, capacity: int = 256) -> None:
        import numpy as np

        self._data = np.empty(max(1, int(capacity)), dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        return int(self._data.shape[0])

    def append(self, value: float) -> None:
        if self._size == self._data.shape[0]:
            import numpy as np

            grown = np.empty(self._data.shape[0] * 2, dtype=np.float64)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size] = value
        self._size += 1

    def view(self) -> np.ndarray:
        return self._data[: self._size]

    def clear(self) -> None:
        self._size = 0


class RunMetrics:
    """Everything a run reports, as growing arrays.

    Steps: ``step_x`` (iteration, shape (S,)), ``loss`` (S,), ``lr`` (S,).
    Epochs: ``epoch`` (E,), ``epoch_iter`` (iteration at the epoch's end, E,),
    ``train_acc`` (E,), ``val_acc`` (E,) in [0, 1] (NaN when not measured).

    ``version`` increases with every change; ``step_version`` with every change of the
    step series and ``epoch_version`` of the epoch series, so that a plot of one kind
    redraws only when its own series changed (the accuracy plot redrew, and repainted,
    on every delivery of steps while its points changed once an epoch).
    """

    def __init__(self) -> None:
        self.step_x = GrowingArray()
        self.loss = GrowingArray()
        self.lr = GrowingArray()
        self.epoch = GrowingArray(16)
        self.epoch_iter = GrowingArray(16)
        self.train_acc = GrowingArray(16)
        self.val_acc = GrowingArray(16)
        self.step_version = 0
        self.epoch_version = 0

    def add_step(self, iteration: float, loss: float, lr: float = math.nan) -> None:
        self.step_x.append(iteration)
        self.loss.append(loss)
        self.lr.append(lr)
        self.step_version += 1

    def add_epoch(
        self,
        epoch: float,
        train_acc: float,
        val_acc: float,
        iteration: float = math.nan,
    ) -> None:
        self.epoch.append(epoch)
        self.epoch_iter.append(iteration)
        self.train_acc.append(train_acc)
        self.val_acc.append(val_acc)
        self.epoch_version += 1

    def clear(self) -> None:
        for array in (self.step_x, self.loss, self.lr, self.epoch, self.epoch_iter):
            array.clear()
        self.train_acc.clear()
        self.val_acc.clear()
        self.step_version += 1
        self.epoch_version += 1

    @property
    def version(self) -> int:
        return self.step_version + self.epoch_version

    @property
    def num_steps(self) -> int:
        return len(self.step_x)

    @property
    def num_epochs(self) -> int:
        return len(self.epoch)

    def last_finite_loss(self) -> float:
        import numpy as np

        values = self.loss.view()
        finite = values[np.isfinite(values)]
        return float(finite[-1]) if finite.size else math.nan

    def best_val_acc(self) -> float:
        import numpy as np

        values = self.val_acc.view()
        finite = values[np.isfinite(values)]
        return float(finite.max()) if finite.size else math.nan

    def rows(self) -> Iterator[tuple[str, float | None, ...]]:
        """Long-form rows ``(kind, iteration, epoch, loss, lr, train_acc, val_acc)``,
        kind ``"step"`` or ``"epoch"``; None where a column does not apply (NaN stays NaN)."""
        for x, loss, lr in zip(self.step_x.view(), self.loss.view(), self.lr.view(), strict=True):
            yield ("step", float(x), None, float(loss), float(lr), None, None)
        for ep, it, tr, va in zip(
            self.epoch.view(),
            self.epoch_iter.view(),
            self.train_acc.view(),
            self.val_acc.view(),
            strict=True,
        ):
            yield ("epoch", float(it), float(ep), None, None, float(tr), float(va))


def finite_or_nan(values: np.ndarray) -> np.ndarray:
    """A float copy of ``values`` with +-inf replaced by NaN (what a plot can draw)."""
    import numpy as np

    out = np.array(values, dtype=np.float64, copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


class EmaSmoother:
    """Incremental, bias-corrected exponential moving average (TensorBoard's smoothing).

    Non-finite inputs are skipped: the smoothed value stays where it was (NaN before the
    first finite value). ``extend(values)`` smooths only the new points.
    """

    def __init__(self, weight: float) -> None:
        self.weight = float(min(max(weight, 0.0), 0.999))
        self.reset()

    def reset(self) -> None:
        self._last = 0.0
        self._count = 0
        self.out = GrowingArray()

    def extend(self, values: np.ndarray) -> np.ndarray:
        w = self.weight
        last, count = self._last, self._count
        out = self.out
        for v in values.tolist():
            if math.isfinite(v):
                last = last * w + (1.0 - w) * v
                count += 1
            if count:
                out.append(last / (1.0 - w**count) if w > 0 else last)
            else:
                out.append(math.nan)
        self._last, self._count = last, count
        return out.view()
