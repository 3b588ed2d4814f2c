"""What training a CNN needs: its memory estimate, refused before anything is allocated,
and the batches of an epoch.

Kept apart from ``nets.cnn.train`` (numpy at import, torch once training starts) so
that the CNN tab checks its form on every change, its first frame included, without
importing either; ``nets.cnn.train`` re-exports these names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nets.cnn.arch import LayerSpec, totals, validate
from nets.cnn.config import TrainConfig
from nets.memory import MemoryEstimate
from nets.memory import check_memory as _check_memory

if TYPE_CHECKING:
    from nets.snapshots import SnapshotPlan

#: Batch size used for validation passes (no gradients).
EVAL_BATCH = 1000
#: A CPU torch.Generator's state, in bytes (a snapshot keeps two).
_TORCH_RNG_BYTES = 5056


def _optimizer_slots(name: str, momentum: float) -> int:
    """Per-parameter state tensors an optimizer keeps."""
    if name in ("adam", "adamw"):
        return 2
    if name == "rmsprop":
        return 2 if momentum > 0 else 1
    return 1 if momentum > 0 else 0


def estimate_memory(
    arch: Sequence[LayerSpec],
    input_shape: Sequence[int],
    config: TrainConfig,
    num_train: int,
    num_val: int,
    num_classes: int | None = None,
    snapshots: SnapshotPlan | None = None,
) -> MemoryEstimate:
    """What training ``arch`` with ``config`` needs, computed from the summary table (no torch).

    Float32 everywhere: parameters x (weights + gradients + optimizer slots + backup);
    activations x batch x 3 (the forward output kept for backward, its gradient and a
    temporary), or the largest layer output x 2 x 1000 for the no-gradient validation
    batches if that is larger; plus the snapshots ``snapshots`` keeps in memory.
    """
    rows = validate(arch, input_shape, num_classes)
    tot = totals(rows, input_shape)
    copies = 3 + _optimizer_slots(config.optimizer, config.momentum)
    parameters = tot.params * 4 * copies
    batch = min(config.batch_size, max(num_train, 1))
    largest = max([math.prod(input_shape)] + [math.prod(r.output_shape) for r in rows])
    activations = max(tot.activations * batch * 4 * 3, largest * EVAL_BATCH * 4 * 2)
    data = (num_train + num_val) * math.prod(input_shape)
    kept = 0
    if snapshots is not None:
        # One snapshot (nets.cnn.fork.take): the parameters with the optimizer's slots
        # (BatchNorm buffers are below 1% of them) and two random states (torch's and
        # the batch order's generator).
        one = tot.params * 4 * (1 + _optimizer_slots(config.optimizer, config.momentum))
        one += 2 * _TORCH_RNG_BYTES
        kept = snapshots.memory_bytes(one, config.epochs, batches_per_epoch(num_train, batch))
    return MemoryEstimate(parameters, activations, data, kept)


def check_memory(estimate: MemoryEstimate, available: int | None = None) -> None:
    """ResourceError with the numbers when ``estimate`` does not fit in memory."""
    _check_memory(
        estimate,
        available,
        "use a smaller batch size, fewer channels or a smaller Linear layer",
    )


def batches_per_epoch(num_train: int, batch_size: int) -> int:
    """Batches per epoch; a last batch of a single image is dropped (BatchNorm needs 2)."""
    full, rest = divmod(num_train, batch_size)
    return full + (1 if rest >= 2 else 0)
