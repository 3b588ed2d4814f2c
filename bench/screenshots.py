"""Refresh the README screenshots (``make screenshots``): one PNG per tab.

Each tab provides ``bench/screenshot_<tab>.py`` with ``capture(path)``, which brings the
tab into a meaningful state offscreen and saves the window. Written to
``assets/screenshots/<tab>.png``.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from gui.tabs import TABS  # noqa: E402

OUT = HERE.parent / "assets" / "screenshots"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    failures = 0
    for tab_id, title, _target in TABS:
        try:
            module = importlib.import_module(f"screenshot_{tab_id}")
        except ModuleNotFoundError:
            print(f"{tab_id}: no bench/screenshot_{tab_id}.py, skipped")
            continue
        target = OUT / f"{tab_id}.png"
        try:
            module.capture(target)
            print(f"{title}: {target.relative_to(HERE.parent)}")
        except Exception:
            failures += 1
            traceback.print_exc()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
