"""Soak test of the live plots (issue 9 case 13): 10,000 live plot updates in the
offscreen GUI; resident memory must grow by less than 50 MB.

The "Two-layer net" tab's own plots and runs list are fed synthetic metrics by a QTimer,
as a worker would feed them (appends only), and redrawn by the plots' own QTimer. Every
redraw that changed something counts as one update. Along the way runs are added,
renamed, hidden, shown and deleted, and some losses are NaN or inf, so the long-lived
paths (legend, curve items, arrays grown by doubling) are all exercised.

Memory: RSS from /proc/self/statm after a warm-up of WARMUP updates, then at the end;
the growth between the two is the figure. (The issue's "20 minutes" is the wall time at
~8 updates/s in a live app; here the timers run as fast as the machine allows.)
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import open_main_window, write_result  # noqa: E402

TARGET_MB = 50.0
WARMUP = 500


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--steps-per-update", type=int, default=5)
    parser.add_argument("--run-every", type=int, default=1_500, help="updates per run")
    parser.add_argument("--keep-runs", type=int, default=4, help="older runs are deleted")
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    app, window = open_main_window(1280, 820)
    tab = window.select_tab("mlp")
    plots, runs = tab.plots, tab.runs
    for plot in (plots.loss, plots.accuracy):
        # As fast as the machine allows: no adaptive slow-down of the redraw timer.
        plot.min_interval_ms = 1
        plot.cpu_budget = 1.0
        plot.timer.setInterval(1)

    state = {"updates": 0, "run": None, "step": 0, "rss_warm": None, "t_warm": None}
    samples: list[tuple[int, float]] = []

    def new_run() -> None:
        run = runs.add_run(runs.next_name("soak"), {"updates": state["updates"]})
        state["run"], state["step"] = run, 0
        while len(runs) > args.keep_runs:
            runs.remove_run(runs.runs()[0].run_id)
        if len(runs) > 1:
            older = runs.runs()[-2]
            runs.rename(older.run_id, f"{older.name}*")
            runs.set_visible(older.run_id, state["updates"] % 2 == 0)

    def feed() -> None:
        run = state["run"]
        for _ in range(args.steps_per_update):
            state["step"] += 1
            s = state["step"]
            loss = 2.3 * math.exp(-s / 3000) + 0.1 * math.sin(s)
            if s % 997 == 0:
                loss = math.nan
            elif s % 1499 == 0:
                loss = math.inf
            run.metrics.add_step(s, loss, 0.01)
            if s % 200 == 0:
                acc = 1 - math.exp(-s / 5000)
                run.metrics.add_epoch(s // 200, acc, acc * 0.9, iteration=s)

    def on_redrawn() -> None:
        state["updates"] += 1
        n = state["updates"]
        if n == WARMUP:
            gc.collect()
            state["rss_warm"], state["t_warm"] = rss_mb(), time.perf_counter()
        if n % 500 == 0:
            samples.append((n, round(rss_mb(), 1)))
        if n % args.run_every == 0:
            new_run()
        if n >= args.updates:
            feeder.stop()
            app.quit()

    new_run()
    plots.loss.redrawn.connect(on_redrawn)
    feeder = QTimer()
    feeder.timeout.connect(feed)
    feeder.start(1)
    rss_start = rss_mb()
    t0 = time.perf_counter()
    app.exec()
    wall = time.perf_counter() - t0
    gc.collect()
    rss_end = rss_mb()
    growth = rss_end - (state["rss_warm"] or rss_start)
    points = sum(r.metrics.num_steps for r in runs.runs())
    window.close()

    figures = {
        "updates": state["updates"],
        "wall_s": round(wall, 1),
        "updates_per_s": round(state["updates"] / wall, 1),
        "rss_start_mb": round(rss_start, 1),
        "rss_after_warmup_mb": round(state["rss_warm"] or float("nan"), 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_mb": round(growth, 1),
        "target_growth_mb": TARGET_MB,
        "passed": growth < TARGET_MB,
        "points_in_kept_runs": points,
        "rss_samples_mb": samples,
        "note": "growth measured from the end of a 500-update warm-up to the end",
    }
    write_result("soak_plots", figures)
    print(
        f"soak: {state['updates']} updates in {wall:.0f} s, RSS growth {growth:.1f} MB "
        f"(target < {TARGET_MB:.0f} MB): {'PASS' if growth < TARGET_MB else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
