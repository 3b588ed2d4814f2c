"""Startup: time from launching the app to its first window shown (target: 0.5 s, issue 22),
and to the restored tab complete.

The app reports both (``gui.startup_report``): ``window-shown`` once the window's first
frame has been painted, ``tab-ready`` once the parts of the current tab built right after
that paint (the training tabs' loss and accuracy plots, which import pyqtgraph) exist and
have been painted too; for the Graph and Classify tabs both are the same frame.

Measured as a user meets it: the child's Python caches bytecode (``PYTHONDONTWRITEBYTECODE``
is removed from its environment even when this machine's shell sets it; the warm-up
launch of each case writes the cache and warms the file cache), and its settings live in
a folder of its own (``XDG_CONFIG_HOME`` and ``XDG_STATE_HOME`` point to temporary
folders), so nobody's last-used tab or crash-recovery file changes what is measured.

Cases: a fresh user (no settings: the Graph tab) and a returning user whose last tab
(``window/tab``) is each of the tabs; the window shows that tab built, so each case
measures a different first view. Per case: median, min and max over ``RUNS`` launches
after one warm-up of the first window and of the tab ready, the CPU seconds the child had
used at each (its own ``time.process_time``: less sensitive to other processes than the
wall time) and for the whole launch (user + system from the child's resource usage).
``meets_target`` holds when the worst case's median first window is within the target
and no heavy library loaded.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, python, run_reading_lines, write_result

RUNS = 7
TARGET_S = 0.5
TABS = ("graph", "mlp", "cnn", "classify")
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
#: Where QSettings keeps the app's settings below XDG_CONFIG_HOME (gui.app's names).
SETTINGS_FILE = Path("backprop-explorer") / "backprop-explorer.conf"


def child_env(config_home: Path, state_home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "BACKPROP_EXPLORER_EXIT_AFTER_SHOW": "1",
        "XDG_CONFIG_HOME": str(config_home),
        "XDG_STATE_HOME": str(state_home),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's interpreter writes .pyc files
    return env


def write_settings(config_home: Path, tab: str | None) -> None:
    """A returning user's settings (last tab ``tab``), or none at all (a fresh user).
    Written before every launch: the app saves its own on closing."""
    path = config_home / SETTINGS_FILE
    if tab is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[window]\ntab={tab}\n")


def one_run(env: dict[str, str]) -> dict[str, float]:
    """Seconds to the first window (``shown``) and to the tab ready (``ready``), the CPU
    seconds the child had used by each (``shown_cpu``, ``ready_cpu``), and the CPU
    seconds of the whole launch (``cpu``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    lines, returncode, _end, errors = run_reading_lines(
        [python(), str(ROOT / "main.py")], "the app", 60, read="stdout", env=env, cwd=ROOT
    )
    seen: dict[str, float] = {}
    for at, line in lines:
        word = line.strip()
        if word in ("window-shown", "tab-ready"):
            seen[word] = at - start
        elif word.startswith(("window-shown-cpu-s ", "tab-ready-cpu-s ")):
            seen[word.split()[0]] = float(word.split()[1])
    if "window-shown" not in seen or "tab-ready" not in seen:
        raise RuntimeError(f"the app never showed its window complete: {errors}")
    if returncode != 0:
        raise RuntimeError(f"the app exited with {returncode}: {errors}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "shown": seen["window-shown"],
        "shown_cpu": seen.get("window-shown-cpu-s", float("nan")),
        "ready": seen["tab-ready"],
        "ready_cpu": seen.get("tab-ready-cpu-s", float("nan")),
        "cpu": cpu,
    }


def measure(tab: str | None, folder: Path) -> dict:
    config_home, state_home = folder / "config", folder / "state"
    env = child_env(config_home, state_home)
    write_settings(config_home, tab)
    one_run(env)  # warm-up: writes the bytecode cache, warms the file cache
    runs = []
    for _ in range(RUNS):
        write_settings(config_home, tab)
        runs.append(one_run(env))

    def col(key: str) -> list[float]:
        return [run[key] for run in runs]

    times, ready = col("shown"), col("ready")
    return {
        "first_tab": tab or "graph",
        "first_window_s_median": round(statistics.median(times), 3),
        "first_window_s_min": round(min(times), 3),
        "first_window_s_max": round(max(times), 3),
        "all_s": [round(t, 3) for t in times],
        "tab_ready_s_median": round(statistics.median(ready), 3),
        "tab_ready_s_min": round(min(ready), 3),
        "tab_ready_s_max": round(max(ready), 3),
        "tab_ready_all_s": [round(t, 3) for t in ready],
        "cpu_s_to_first_window_median": round(statistics.median(col("shown_cpu")), 3),
        "cpu_s_to_tab_ready_median": round(statistics.median(col("ready_cpu")), 3),
        "launch_cpu_s_median": round(statistics.median(col("cpu")), 3),
        "launch_cpu_s_all": [round(c, 3) for c in col("cpu")],
    }


def heavy_imported_at_startup(tab: str, folder: Path) -> list[str]:
    """The heavy libraries loaded once the window shows with ``tab`` as the last tab,
    its parts built after the first paint (the plots) included."""
    code = (
        "import sys; from gui.app import make_application; from gui.main_window import "
        "MainWindow; from gui.lazy import build_pending; app = make_application([]); "
        "w = MainWindow(); w.show(); app.processEvents(); build_pending(w); "
        f"app.processEvents(); print(*[m for m in {HEAVY!r} if m in sys.modules]); w.close()"
    )
    env = child_env(folder / "config", folder / "state")
    env.pop("BACKPROP_EXPLORER_EXIT_AFTER_SHOW")
    write_settings(folder / "config", tab)
    out = subprocess.run(
        [python(), "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"the start-up check failed: {out.stderr.strip()}")
    return out.stdout.split()


def main() -> None:
    cases: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bpe-startup-") as tmp:
        cases["fresh_user"] = measure(None, Path(tmp) / "fresh")
        for tab in TABS:
            cases[f"returning_user_{tab}"] = measure(tab, Path(tmp) / tab)
        heavy = sorted({m for tab in TABS for m in heavy_imported_at_startup(tab, Path(tmp) / tab)})
    worst_name = max(cases, key=lambda name: cases[name]["first_window_s_median"])
    worst = cases[worst_name]["first_window_s_median"]
    write_result(
        "startup",
        {
            "target_s": TARGET_S,
            "runs": RUNS,
            "method": (
                "per case one warm-up launch, then RUNS launches; PYTHONDONTWRITEBYTECODE "
                "removed from the child's environment (the warm-up writes the bytecode "
                "cache, as a user's first launch does); settings and state in temporary "
                "folders (XDG_CONFIG_HOME, XDG_STATE_HOME): fresh_user has none, "
                "returning_user_<tab> has window/tab=<tab>; offscreen platform; first "
                "window = the window's first frame painted, tab ready = the parts of the "
                "restored tab built after that frame (the training tabs' plots) painted "
                "too (gui.startup_report)"
            ),
            "parent_env_had_PYTHONDONTWRITEBYTECODE": "PYTHONDONTWRITEBYTECODE" in os.environ,
            "cases": cases,
            "worst_case": worst_name,
            "first_window_s_median": worst,
            "tab_ready_s_worst_median": max(c["tab_ready_s_median"] for c in cases.values()),
            # the fresh user's figures, as the README table's row has always shown
            "fresh_first_window_s_median": cases["fresh_user"]["first_window_s_median"],
            "all_s": cases["fresh_user"]["all_s"],
            "heavy_libraries_checked": list(HEAVY),
            "heavy_imported_at_startup": heavy,
            "torch_imported_at_startup": "torch" in heavy,
            "meets_target": worst <= TARGET_S and not heavy,
        },
    )


if __name__ == "__main__":
    main()
