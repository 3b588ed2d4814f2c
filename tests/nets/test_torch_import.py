"""Importing torch with its native libraries loaded while the GIL is released."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nets import torch_import


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dlopen preloading is Linux's")
def test_the_libraries_load_before_the_import_and_torch_then_works() -> None:
    script = textwrap.dedent(
        """
        import sys
        from nets import torch_import
        loaded = torch_import.preload_torch_libraries()
        maps = open("/proc/self/maps").read()
        assert "torch" not in sys.modules, "the preload imported torch"
        assert "libtorch_cpu.so" in loaded and "libtorch_cpu.so" in maps, loaded
        torch = torch_import.import_torch()
        torch.set_num_threads(1)
        assert float(torch.ones(3).sum()) == 3.0
        assert torch_import.preload_torch_libraries() == []  # torch is imported: no-op
        print(",".join(loaded))
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split(",") == [name for name, _ in torch_import.LIBRARIES]


def test_dlopen_is_a_foreign_call_that_releases_the_gil() -> None:
    # ctypes releases the GIL around calls of CDLL functions, never around PyDLL ones
    # (FUNCFLAG_PYTHONAPI) nor while ctypes.CDLL(path) itself loads a library.
    dlopen = torch_import.c_dlopen()
    assert not dlopen._flags_ & ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def test_no_libraries_found_preloads_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(torch_import, "torch_library_dir", lambda: tmp_path)
    assert torch_import.preload_torch_libraries() == []
    (tmp_path / "libtorch_global_deps.so").write_bytes(b"not a library")
    assert torch_import.preload_torch_libraries() == []  # refused by dlopen: no error
