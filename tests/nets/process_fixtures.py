"""A snippet run in a fresh Python at the project root: what a module imports (torch,
captum) or refuses before anything else is loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in the project root, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def imported_by(code: str, module: str, timeout: float = 120) -> bool:
    """Whether running ``code`` (which must succeed) in a fresh Python imports ``module``."""
    done = run_python(f"{code}\nimport sys\nprint({module!r} in sys.modules)\n", timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "True"
