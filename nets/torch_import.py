"""Importing torch without holding the interpreter lock for its native libraries' loading.

``import torch`` loads libtorch's shared libraries from inside the import of an extension
module, which holds the GIL throughout: the dynamic loader's relocations and libtorch's
static initialisers (every operator registers itself) ran for 0.5-1.5 s of that import here,
and every other Python thread (the GUI's) stood still meanwhile. ``import_torch`` first
asks the C library's ``dlopen`` for those libraries through ctypes, whose foreign calls
release the GIL, with the flags torch itself uses (its global dependencies
``RTLD_GLOBAL``, the rest local, as the extension module's dependencies get them); the
import that follows finds them loaded and holds the GIL only for its Python part and its
bindings. Measured with a thread importing torch while the main thread ticks every 2 ms
(load 5): worst tick gap 784-848 ms without, 100-132 ms with.

Where the libraries are not found (another platform, another layout) nothing is preloaded
and the import loads them itself, as before.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

#: torch's own libraries in the order the import needs them: its global dependencies
#: first (loaded RTLD_GLOBAL by ``torch/__init__``), then what ``torch._C`` links.
LIBRARIES = (
    ("libtorch_global_deps.so", True),
    ("libtorch_cpu.so", False),
    ("libtorch.so", False),
    ("libtorch_python.so", False),
)

_lock = threading.Lock()
_handles: list[int] = []  # kept for the process's life: the libraries stay loaded


def torch_library_dir() -> Path | None:
    """torch's ``lib`` folder, found without importing torch; None if there is none."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return folder if folder.is_dir() else None


def c_dlopen() -> Any:
    """The C library's ``dlopen(path, flags)`` as a ctypes foreign function: calling it
    releases the GIL (unlike ``ctypes.CDLL(path)``, whose loading holds it)."""
    dlopen = ctypes.CDLL(None).dlopen
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return dlopen


def preload_torch_libraries() -> list[str]:
    """dlopen torch's shared libraries with the GIL released (Linux); the names loaded.

    Stops at the first library that is missing or does not load: the import then loads
    the rest itself (and reports any real problem in its own words).
    """
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return []
    folder = torch_library_dir()
    if folder is None:
        return []
    dlopen = c_dlopen()
    loaded = []
    with _lock:
        for name, is_global in LIBRARIES:
            path = folder / name
            if not path.is_file():
                break
            flags = os.RTLD_NOW | (os.RTLD_GLOBAL if is_global else os.RTLD_LOCAL)
            handle = dlopen(os.fsencode(path), flags)  # a ctypes call: the GIL is released
            if not handle:
                break
            _handles.append(handle)
            loaded.append(name)
    return loaded


def import_torch() -> ModuleType:
    """``import torch``, its native libraries loaded first with the GIL released."""
    if "torch" not in sys.modules:
        preload_torch_libraries()
    import torch

    return torch
