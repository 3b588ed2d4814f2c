"""Inside a trained CNN (issue 16): one inspection, the drawing canvas's frame rate, 100
steps of activation maximisation and a channel's top-9 search, on the default preset.

Targets: one inspection (forward keeping every layer's output, class probabilities,
saliency, gradient x input, every layer's gradient and Grad-CAM) under 150 ms; the canvas
redrawn at 20 frames per second or more while the user draws; 100 dream steps under 3 s.

- "inspect": ``Inspector.inspect`` on validation images, one torch thread (what the GUI
  and CLI use), after a warm-up; also with two threads for comparison.
- "canvas": the CNN tab's Inspect view in an offscreen main window, feature-map list
  showing. One frame is the whole loop a stroke causes: the canvas paints a segment, the
  request goes through the mailbox to the worker thread, the inspection comes back as a
  signal, every visible layer is set and the paints that posts (canvas, input picture,
  visible feature maps) are done. The benchmark waits in a real event loop
  (``QEventLoop.exec``), not a busy loop that would starve the worker thread. Closed
  loop (the next stroke waits for the previous frame), so frames per second = 1 / frame
  time; a second figure runs the Gradients tab.
- "dream": ``nets.cnn.dream`` for 100 steps, one torch thread.
- "patches": indexing one layer over the validation images and picking the top 9 (the
  first click on a layer; later clicks reuse the index).

The weights come from ``--checkpoint`` (e.g. a ``cnn train --preset default`` run) or
are the preset's fresh initialisation (the timings do not depend on the values). Images
are Fashion-MNIST's validation split when Debian's copy is installed, else random.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import (  # noqa: E402
    open_main_window,
    wait_until,
    write_result,
)
from _common import spread as _spread  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")
TARGETS = {"inspect_ms": 150.0, "canvas_fps": 20.0, "dream_100_s": 3.0}


def _model(checkpoint: str | None):
    from nets.cnn.config import limit_openmp_spin

    limit_openmp_spin()
    if checkpoint:
        from nets.cnn.checkpoint import load_checkpoint

        return load_checkpoint(checkpoint), f"checkpoint {checkpoint}"
    import torch

    from nets.cnn.model import build_model
    from nets.cnn.presets import PRESETS
    from nets.cnn.trained import TrainedCnn

    torch.manual_seed(0)
    layers = PRESETS["default"].layers
    model = build_model(layers, (1, 28, 28), 10).eval()
    names = tuple(f"class {k}" for k in range(10))
    return TrainedCnn(model, layers, (1, 28, 28), names, (72.94,), (90.02,)), "fresh default"


def _images(n: int):
    import numpy as np

    if (FASHION / "train-images-idx3-ubyte.gz").exists():
        from nets.data import load_dataset

        data = load_dataset("fashion-mnist")
        return data.X_val[:n], "fashion-mnist validation"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28, 1)).astype(np.uint8), "random"


def bench_inspect(trained, images, repeats: int) -> dict:
    from nets.cnn.inspect import Inspector

    figures = {}
    for threads in (1, 2):
        inspector = Inspector(trained, threads=threads)
        for i in range(10):
            inspector.inspect(images[i])
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            inspector.inspect(images[i % len(images)])
            times.append(time.perf_counter() - t0)
        figures[f"threads_{threads}_ms"] = _spread(times, 1000.0, 3)
    return figures


def bench_dream(trained, repeats: int) -> dict:
    from nets.cnn.dream import ChannelObjective, ClassObjective, DreamSettings, run_dream
    from nets.cnn.inspect import Inspector

    inspector = Inspector(trained, threads=1)
    run_dream(inspector, ClassObjective(0), DreamSettings(steps=5))  # warm-up
    figures = {}
    for name, objective in (("class", ClassObjective(1)), ("channel", ChannelObjective(8, 3))):
        times, gains = [], []
        for seed in range(repeats):
            t0 = time.perf_counter()
            frames = []
            from nets.cnn.dream import dream

            frames = list(dream(inspector, objective, DreamSettings(steps=100, seed=seed)))
            times.append(time.perf_counter() - t0)
            gains.append(frames[-1].objective - frames[0].objective)
        figures[f"{name}_100_steps_s"] = _spread(times, 1.0, 3)
        figures[f"{name}_objective_gain_median"] = round(statistics.median(gains), 3)
    return figures


def bench_patches(trained, images) -> dict:
    from nets.cnn.inspect import Inspector

    inspector = Inspector(trained, threads=1)
    figures = {"images": len(images)}
    for layer in (3, 11):
        t0 = time.perf_counter()
        index = inspector.index_layer(images, layer)
        t1 = time.perf_counter()
        inspector.top_patches(index, images, 0)
        t2 = time.perf_counter()
        figures[f"layer_{layer}_index_s"] = round(t1 - t0, 3)
        figures[f"layer_{layer}_top9_ms"] = round(1000 * (t2 - t1), 3)
    return figures


def bench_canvas(trained, frames: int) -> dict:
    from gui.cnn_tab.tab import CnnRun

    app, win = open_main_window(1600, 1000)
    tab = win.select_tab("cnn")
    payload = CnnRun(arch=tuple(trained.arch), config=None, choice=None, trained=trained)
    tab.runs.add_run("bench", {}, status="loaded", payload=payload)
    tab.show_page(tab.inspect)
    view = tab.inspect
    canvas = view.inputs.draw.canvas
    view.inputs.setCurrentWidget(view.inputs.draw)

    from PySide6.QtCore import QEventLoop, QTimer

    def wait_for_frame(wanted) -> None:
        """Run the event loop (sleeping between events, as the app does; spinning here
        would take the CPU from the worker thread) until ``wanted`` has been drawn."""
        import numpy as np

        def drawn() -> bool:
            latest = view._latest
            return latest is not None and np.array_equal(latest.result.image[:, :, 0], wanted)

        loop = QEventLoop()

        def check() -> None:
            if drawn():
                loop.quit()

        view.frame_drawn.connect(check)
        QTimer.singleShot(30000, loop.quit)
        loop.exec()
        view.frame_drawn.disconnect(check)
        if not drawn():
            raise TimeoutError("waited 30 s for the Inspect view to draw the stroke")

    wait_until(lambda: view._trained is not None, "the Inspect view to take the model", 30)

    def one_frame(i: int) -> float:
        import numpy as np

        t0 = time.perf_counter()
        angle = i * 0.35
        a = (14 + 9 * np.cos(angle), 14 + 9 * np.sin(angle))
        b = (14 + 9 * np.cos(angle + 0.35), 14 + 9 * np.sin(angle + 0.35))
        canvas.stroke(a, b)
        wait_for_frame(canvas.image())
        app.processEvents()  # the paints the frame's updates posted
        return time.perf_counter() - t0

    figures = {}
    for name, tab_index in (("feature_maps", 0), ("gradients", 1)):
        view.centre.setCurrentIndex(tab_index)
        canvas.clear()
        for i in range(10):
            one_frame(i)
        times = [one_frame(i) for i in range(frames)]
        spread = _spread(times, 1000.0, 2)
        figures[f"{name}_frame_ms"] = spread
        figures[f"{name}_fps"] = round(1000.0 / spread["median"], 1)
        figures[f"{name}_fps_p90_frame"] = round(1000.0 / spread["p90"], 1)
    figures["inspection_in_worker_ms_last"] = round(1000 * view._latest.seconds, 3)
    win.shutdown()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a default-preset .pt file (default: fresh weights)")
    parser.add_argument("--repeats", type=int, default=300, help="inspections timed")
    parser.add_argument("--frames", type=int, default=150, help="canvas frames timed")
    parser.add_argument("--dreams", type=int, default=5, help="100-step dreams timed")
    args = parser.parse_args()
    trained, source = _model(args.checkpoint)
    images, image_source = _images(10_000)
    inspect = bench_inspect(trained, images, args.repeats)
    dream = bench_dream(trained, args.dreams)
    patches = bench_patches(trained, images)
    canvas = bench_canvas(trained, args.frames)
    figures = {
        "model": source,
        "images": image_source,
        "targets": TARGETS,
        "inspect": inspect,
        "dream": dream,
        "patches": patches,
        "canvas": canvas,
        "meets_targets": {
            "inspect": inspect["threads_1_ms"]["median"] < TARGETS["inspect_ms"],
            "canvas_feature_maps": canvas["feature_maps_fps"] >= TARGETS["canvas_fps"],
            "canvas_gradients": canvas["gradients_fps"] >= TARGETS["canvas_fps"],
            "dream": dream["class_100_steps_s"]["median"] < TARGETS["dream_100_s"],
        },
    }
    write_result("cnn_inspect", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
