"""Qt views of Backprop Explorer. Imports ``graph`` and ``nets``; never the other way round."""

from __future__ import annotations

import sys
from types import FrameType


class _NoCudaForPyqtgraph:
    """pyqtgraph's RawImageWidget (which the app never uses) tries ``from cuda.bindings
    import runtime`` when pyqtgraph is imported; with torch's CUDA wheels installed that
    loads the CUDA driver bindings: 0.1-0.3 s of the app's start-up (issue 22). This finder
    makes that one import fail as if CUDA Python were absent; any other importer of
    ``cuda.bindings`` (torch) gets it as usual. A meta path finder needs only
    ``find_spec``: not subclassing ``importlib.abc.MetaPathFinder`` saves importing
    ``importlib.abc`` (30 ms with ``importlib.resources``) at start-up."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "cuda.bindings" or fullname.startswith("cuda.bindings."):
            frame: FrameType | None = sys._getframe(1)
            while frame is not None:
                if frame.f_globals.get("__name__") == "pyqtgraph.widgets.RawImageWidget":
                    raise ImportError("CUDA Python is not used by the app's plots")
                frame = frame.f_back
        return None


if not any(isinstance(f, _NoCudaForPyqtgraph) for f in sys.meta_path):
    sys.meta_path.insert(0, _NoCudaForPyqtgraph())
