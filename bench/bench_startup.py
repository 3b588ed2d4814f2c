"""Startup: time from launching the app to its first window shown (target: 1.5 s)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, python, write_result

RUNS = 7
TARGET_S = 1.5


def one_run() -> float:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "BACKPROP_EXPLORER_EXIT_AFTER_SHOW": "1",
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [python(), str(ROOT / "main.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "window-shown":
            elapsed = time.perf_counter() - start
            break
    else:
        raise RuntimeError(f"the app never showed its window: {proc.stderr.read()}")
    proc.wait(timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"the app exited with {proc.returncode}")
    return elapsed


def torch_imported_at_startup() -> bool:
    code = (
        "import sys; from gui.app import make_application; from gui.main_window import "
        "MainWindow; app = make_application([]); w = MainWindow(remember=False); w.show(); "
        "app.processEvents(); print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [python(), "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
    )
    return out.stdout.strip().endswith("True")


def main() -> None:
    one_run()  # warm the file cache, as a second launch by a user would be
    times = [one_run() for _ in range(RUNS)]
    write_result(
        "startup",
        {
            "target_s": TARGET_S,
            "runs": RUNS,
            "first_window_s_median": round(statistics.median(times), 3),
            "first_window_s_min": round(min(times), 3),
            "first_window_s_max": round(max(times), 3),
            "all_s": [round(t, 3) for t in times],
            "torch_imported_at_startup": torch_imported_at_startup(),
            "meets_target": statistics.median(times) <= TARGET_S,
        },
    )


if __name__ == "__main__":
    main()
