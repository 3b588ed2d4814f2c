"""Startup: time from launching the app to its first window shown (target: 0.5 s, issue 22).

The median of 7 launches after one that warms the file cache, with the CPU seconds each
launch used until it exited (user + system, from the child's resource usage: less
sensitive to other processes than the wall time), and which heavy libraries the start-up
imported (none should: they load when a feature first needs them).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, python, write_result

RUNS = 7
TARGET_S = 0.5
#: Libraries that must not load before the first window: each costs 0.1-2 s to import.
HEAVY = (
    "torch",
    "torchvision",
    "matplotlib",
    "optuna",
    "captum",
    "tensorboard",
    "psycopg",
    "scipy",
    "pandas",
    "sqlalchemy",
)


def one_run() -> tuple[float, float]:
    """(seconds to the first window, CPU seconds of the whole launch)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def heavy_imported_at_startup() -> list[str]:
    code = (
        "import sys; from gui.app import make_application; from gui.main_window import "
        "MainWindow; app = make_application([]); w = MainWindow(remember=False); w.show(); "
        f"app.processEvents(); print(*[m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [python(), "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the start-up check failed: {out.stderr.strip()}")
    return out.stdout.split()


def main() -> None:
    one_run()  # warm the file cache, as a second launch by a user would be
    runs = [one_run() for _ in range(RUNS)]
    times = [t for t, _ in runs]
    cpus = [c for _, c in runs]
    heavy = heavy_imported_at_startup()
    write_result(
        "startup",
        {
            "target_s": TARGET_S,
            "runs": RUNS,
            "first_window_s_median": round(statistics.median(times), 3),
            "first_window_s_min": round(min(times), 3),
            "first_window_s_max": round(max(times), 3),
            "all_s": [round(t, 3) for t in times],
            "launch_cpu_s_median": round(statistics.median(cpus), 3),
            "launch_cpu_s_all": [round(c, 3) for c in cpus],
            "heavy_libraries_checked": list(HEAVY),
            "heavy_imported_at_startup": heavy,
            "torch_imported_at_startup": "torch" in heavy,
            "meets_target": statistics.median(times) <= TARGET_S and not heavy,
        },
    )


if __name__ == "__main__":
    main()
