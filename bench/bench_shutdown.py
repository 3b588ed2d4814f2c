"""Issue 9, case 16: start the app, begin training, close the window; 20 times.

Each run is a fresh process that opens the window, starts a two-layer-net training run on
a small image folder, and closes the window once steps are flowing. A run passes when the
process exits with code 0 within 3 s of the close, prints no "QThread: Destroyed", and
does not crash.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, python, write_result

RUNS = 20
LIMIT_S = 3.0

DRIVER = r"""
import sys, time
from PySide6.QtCore import QTimer
from gui.app import make_application
from gui.main_window import MainWindow

app = make_application([])
# Closing mid-run asks Save/Discard/Cancel: measure the close after "Discard".
import gui.dialogs
from PySide6.QtWidgets import QMessageBox
gui.dialogs.ask = lambda *args, **kwargs: QMessageBox.StandardButton.Discard
window = MainWindow(remember=False)
window.show()
tab = window.select_tab("mlp")
tab.data_panel.set_source("folder", sys.argv[1])
state = {"started": False}

def poll():
    if not state["started"] and tab.controls.start_button.isEnabled():
        tab.form.apply_preset("tuned")
        for name, text in {"num_epochs": "1000", "batch_size": "64", "hidden_dim": "256"}.items():
            tab.form.set_field(name, text)
        tab.controls.start_button.click()
        state["started"] = True
    elif state["started"] and len(tab.runs) and tab.runs.runs()[0].metrics.num_steps > 5:
        timer.stop()
        print("closing", flush=True)
        window.close()

timer = QTimer()
timer.timeout.connect(poll)
timer.start(20)
sys.exit(app.exec())
"""


def make_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in ("red", "green", "blue", "grey"):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(150):
            pixels = rng.integers(0, 255, (32, 32, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def one_run(data: Path) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [python(), "-c", DRIVER, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    closed_at = None
    for line in proc.stdout:
        if line.strip() == "closing":
            closed_at = time.perf_counter()
            break
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    exit_s = time.perf_counter() - closed_at if closed_at else None
    stderr = proc.stderr.read() if proc.stderr else ""
    ok = (
        closed_at is not None
        and proc.returncode == 0
        and exit_s is not None
        and exit_s <= LIMIT_S
        and "QThread: Destroyed" not in stderr
    )
    return {
        "returncode": proc.returncode,
        "exit_after_close_s": round(exit_s, 3) if exit_s is not None else None,
        "qthread_warning": "QThread: Destroyed" in stderr,
        "stderr_tail": stderr.strip().splitlines()[-3:],
        "ok": ok,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = make_folder(Path(tmp))
        runs = [one_run(data) for _ in range(RUNS)]
    times = [r["exit_after_close_s"] for r in runs if r["exit_after_close_s"] is not None]
    write_result(
        "shutdown",
        {
            "runs": RUNS,
            "limit_s": LIMIT_S,
            "passed": sum(r["ok"] for r in runs),
            "segfaults": sum(r["returncode"] == -11 for r in runs),
            "qthread_warnings": sum(r["qthread_warning"] for r in runs),
            "exit_after_close_s_max": max(times) if times else None,
            "exit_after_close_s_median": sorted(times)[len(times) // 2] if times else None,
            "failures": [r for r in runs if not r["ok"]],
        },
    )


if __name__ == "__main__":
    main()
