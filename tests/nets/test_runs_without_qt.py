"""tests/graph and tests/nets need no Qt: a run of some of them with PySide6 unimportable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imported first through ``-p``: any later import of a Qt binding fails.
BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")


class NoQt(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: this test run must not need Qt")
        return None


sys.meta_path.insert(0, NoQt())
"""

# Quick modules that still cover the engine, the numpy net, the CNN and the training protocol.
SELECTION = [
    "tests/graph/test_model.py",
    "tests/graph/test_evaluate.py",
    "tests/nets/test_layers.py",
    "tests/nets/test_mlp_train.py",
    "tests/nets/test_mlp_checkpoint.py",
    "tests/nets/test_cnn_checkpoint.py",
]


def test_graph_and_nets_tests_pass_with_pyside6_unimportable(tmp_path: Path) -> None:
    (tmp_path / "no_qt_blocker.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no_qt_blocker",
            "-p",
            "no:pytest-qt",
            "-p",
            "no:cacheprovider",
            *SELECTION,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "error" not in proc.stdout.splitlines()[-1]


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    """Otherwise the test above would pass whatever the tests import."""
    (tmp_path / "no_qt_blocker.py").write_text(BLOCKER)
    code = "import no_qt_blocker\ntry:\n    import PySide6\nexcept ImportError:\n    print('ok')"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "ok", out.stderr
