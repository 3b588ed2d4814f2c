"""torch's intra-op thread count for the pretrained models (process-wide in torch).

One place for every pretrained path (classify, attribution, the sanity check, attacks):
by default one fewer than the cores (at least 1), so a GUI thread keeps a core; an
explicit count or an ``OMP_NUM_THREADS`` environment variable wins.
"""

from __future__ import annotations

import os

from nets import allocator
from nets.torch_import import import_torch


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count and return it (see the module docstring).

    The first call imports torch, its native libraries loaded with the GIL released
    (``nets.torch_import``): a model loading in a worker leaves the GUI thread running.
    """
    torch = import_torch()
    allocator.keep_freed_memory()  # the models' activations reuse freed pages
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
