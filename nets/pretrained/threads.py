"""torch's intra-op thread count for the pretrained models (process-wide in torch).

One place for every pretrained path (classify, attribution, the sanity check, attacks):
by default one fewer than the cores (at least 1), so a GUI thread keeps a core; an
explicit count or an ``OMP_NUM_THREADS`` environment variable wins.
"""

from __future__ import annotations

import os


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count and return it (see the module docstring)."""
    import torch

    if threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            threads = torch.get_num_threads()
        else:
            threads = max(1, (os.cpu_count() or 1) - 1)
    threads = max(1, int(threads))
    # Always explicit, even when OMP_NUM_THREADS already gave this count: this torch build
    # runs about ten times slower until set_num_threads has been called.
    torch.set_num_threads(threads)
    return threads
