"""The Two-layer net tab's Network graph page (issue 15), timed in an offscreen window.

Targets: every step (one layer call forward or backward) on a batch of 16 under 100 ms
in the GUI; "explain" of any element, folding 3,072 terms included, under 200 ms.

- "build": from a changed batch size to the graph shown (worker: batch, preprocessing
  already fitted, NetGraph, every node's pictures; GUI: the scene's items).
- "step": from the key's action to the node pictures swapped in and the canvas and the
  inspector repainted, for each of the 7 forward and 7 backward layer calls, over
  ``--rounds`` full passes (Reset between rounds, not timed). The worker part (the layer
  call and the pictures) is reported apart, and so is the GUI thread's CPU time (what
  the step costs the GUI thread itself: on a loaded machine the wall time is mostly
  waiting for a core, twice per step, once for the worker and once for the GUI).
- "explain": from the click to the scalar graph shown in the embedded Graph tab engine
  (its layout and gradient check included) for one element of each kind; the worker
  part (``nets.mlp.explain`` plus the operand arrays) apart.

Images: N = 16 CIFAR-10 training images from ``--data`` (an image folder, default
/work/data) when present, else random numbers. Fresh weights with ``--hidden`` units.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import (  # noqa: E402
    open_main_window,
    spread,
    wait_signal,
    wait_until,
    write_result,
)

TARGETS = {"step_ms": 100.0, "explain_ms": 200.0}
ELEMENTS = (
    ("value", "scores", (2, 7)),
    ("value", "a1", (0, 41)),
    ("value", "h1", (0, 41)),
    ("grad", "W1", (1023, 41)),
    ("grad", "b2", (3,)),
    ("grad", "X", (0, 5)),
    ("grad", "a1", (1, 7)),
    ("value", "L", ()),
)


def _spread(values: list[float]) -> dict:
    return spread(values, 1000.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/data", help="image folder with train/")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default="network_graph_gui")
    args = parser.parse_args()

    app, win = open_main_window(1600, 1000)
    tab = win.select_tab("mlp")
    page = tab.network_graph

    data = "random numbers"
    if Path(args.data, "train").is_dir():
        panel = tab.data_panel
        panel.set_source("folder", Path(args.data))
        wait_until(lambda: panel.info is not None, f"the data panel to find {args.data}", 60)
        if panel.load():
            wait_signal(panel.dataset_ready, f"the data panel to load {args.data}", 600)
            data = f"{args.data} training split"
    tab.form.set_field("hidden_dim", str(args.hidden))
    tab.show_page(page)
    wait_signal(page.built, "the page's built signal", 120)
    page.picker.n_spin.setValue(15)
    wait_signal(
        page.built, "the page's built signal", 120
    )  # the preprocessing is fitted once, here

    builds = []
    for n in (16, 15, 16):
        t0 = time.perf_counter()
        page.picker.n_spin.setValue(n)
        page.rebuild()
        wait_signal(page.built, "the page's built signal", 120)
        app.processEvents()
        builds.append(time.perf_counter() - t0)
    assert page.ng.batch.X.shape[0] == 16

    def repaint() -> None:
        page.canvas.viewport().repaint()
        page.inspector.repaint()

    per_node: dict[str, list[float]] = {}
    gui_all: list[float] = []
    gui_cpu: list[float] = []
    worker_all: list[float] = []
    for _ in range(args.rounds):
        page.step("reset")
        wait_signal(page.stepped, "the page's stepped signal", 120)
        for command, count in (("forward", 7), ("backward", 7)):
            for _i in range(count):
                t0 = time.perf_counter()
                c0 = time.thread_time()
                page.step(command)
                wait_signal(page.stepped, "the page's stepped signal", 120)
                repaint()
                dt = time.perf_counter() - t0
                gui_cpu.append(time.thread_time() - c0)
                per_node.setdefault(f"{command}:{page.current}", []).append(dt)
                gui_all.append(dt)
                worker_all.append(page.last_step_seconds or 0.0)
    assert page.ng.backward_complete

    explains = {}
    explain_worker = {}
    for kind, tensor, index in ELEMENTS:
        times, inner = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            page.explain(kind, tensor, index)
            wait_signal(page.explained, "the page's explained signal", 120)
            page.explain_view.repaint()
            times.append(time.perf_counter() - t0)
            inner.append(page.last_explain_seconds or 0.0)
        key = f"{kind}:{tensor}[{','.join(map(str, index))}]"
        explains[key] = _spread(times)
        explain_worker[key] = _spread(inner)

    figures = {
        "targets": TARGETS,
        "batch": 16,
        "hidden": args.hidden,
        "data": data,
        "rounds": args.rounds,
        "build_ms": _spread(builds),
        "step_gui_ms": _spread(gui_all),
        "step_gui_thread_cpu_ms": _spread(gui_cpu),
        "step_worker_ms": _spread(worker_all),
        "step_gui_ms_by_node": {k: _spread(v) for k, v in per_node.items()},
        "explain_gui_ms": explains,
        "explain_worker_ms": explain_worker,
        "step_under_target": max(gui_all) * 1000 < TARGETS["step_ms"],
    }
    win.shutdown()
    win.close()
    write_result(args.out, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
