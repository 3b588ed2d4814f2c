"""Memory before training: one estimate shape, one probe, one guard, one unit (1024-based).

Both trainers estimate what a run needs (``nets.mlp.config.estimate_memory`` from the
hyperparameters, ``nets.cnn.train.estimate_memory`` from the architecture's summary table)
as a ``MemoryEstimate`` and refuse it with ``check_memory`` before allocating anything.
Sizes are printed with ``nets.units.format_bytes`` in 1024-based units (a "GB" is 2**30 bytes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nets.errors import ResourceError
from nets.units import format_bytes

#: Fraction of the available memory a run may plan to use (headroom for Python, the
#: framework's temporaries and the rest of the app).
MEMORY_FRACTION = 0.8


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by what they hold."""

    parameters: int  # weights, gradients, optimizer state (and any divergence backup)
    activations: int  # forward values kept for backward, their gradients, eval batches
    data: int  # the copies of the training and validation images training keeps
    snapshots: int = 0  # snapshots held in memory at most (nets.snapshots.SnapshotPlan)

    @property
    def total(self) -> int:
        return self.parameters + self.activations + self.data + self.snapshots

    def describe(self) -> str:
        kept = f", snapshots {format_bytes(self.snapshots)}" if self.snapshots else ""
        return (
            f"about {format_bytes(self.total)} (parameters and optimizer state "
            f"{format_bytes(self.parameters)}, activations {format_bytes(self.activations)}, "
            f"data {format_bytes(self.data)}{kept})"
        )


def _proc_kib(path: str, key: str) -> int | None:
    """A ``key: N kB`` line of a /proc file, in bytes (None when absent)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate: free RAM, capped by RLIMIT_AS if one is set."""
    limits = []
    avail = _proc_kib("/proc/meminfo", "MemAvailable:")
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    if avail is not None:
        limits.append(avail)
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            used = _proc_kib("/proc/self/status", "VmSize:") or 0
            limits.append(max(0, soft - used))
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else None


def check_memory(
    estimate: MemoryEstimate, available: int | None = None, advice: str = "make it smaller"
) -> None:
    """ResourceError with the numbers when ``estimate`` does not fit in the available memory.

    ``available`` defaults to ``available_memory()``; ``advice`` ends the message (what to
    change in this trainer's settings).
    """
    if available is None:
        available = available_memory()
    if available is not None and estimate.total > MEMORY_FRACTION * available:
        raise ResourceError(
            f"this configuration needs {estimate.describe()} but only "
            f"{format_bytes(available)} is available: {advice}"
        )
