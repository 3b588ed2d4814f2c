"""Layer internals and the coach: their cost, the Inside view's stall, the range test.

- Overhead (target: internals on at the default K cost at most 3% of an epoch): for each
  trainer, PAIRS pairs of runs of the same configuration with internals off and on
  (alternating which goes first, so drifting machine load hits both), timed by the
  trainer's own ``elapsed`` (training only) and by this process's CPU time. Per pair the
  ratio on/off; the figure is the median ratio, with the spread of the pairs as noise.
  The numpy net trains the ``tuned`` preset on CIFAR-10 (the JPEG folder), the CNN the
  ``default`` preset on Fashion-MNIST, each for EPOCHS epochs of the full training split
  (``--cnn-train N``: of its first N images, on a loaded machine).
- What the healthy presets report: every Advice of the "on" runs.
- GUI stall (target < 50 ms; ``bench/results/internals_gui.json``): the Inside view fed
  with the real samples of a CNN run (a dozen layers, every step sampled), one sample
  every 20 ms while a 5 ms QTimer probe records the longest gap between its ticks; also
  the slowest redraw, and the one-time build of the per-layer plots at the first sample.
- Range test (target: the numpy net's lr-find on CIFAR-10 within 20 s): its time and
  suggestion; with --train-check, the ``tuned`` preset trained with the suggested rate
  against the preset's own (target: within two points of validation accuracy).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import write_result  # noqa: E402

CIFAR = "folder:/work/data"
FASHION = "fashion-mnist"
TARGET_OVERHEAD = 0.03
TARGET_STALL_MS = 50.0
TARGET_LR_FIND_S = 20.0


def _run(events) -> dict:
    from nets.training import Advice, Ended, Internals, Started

    cpu0 = None
    samples, advice = [], []
    for event in events:
        if isinstance(event, Started):
            cpu0 = time.process_time()
        elif isinstance(event, Internals):
            samples.append(event)
        elif isinstance(event, Advice):
            advice.append({"rule": event.rule, "step": event.step, "message": event.message})
        elif isinstance(event, Ended):
            return {
                "train_s": event.elapsed,
                "cpu_s": time.process_time() - cpu0,
                "steps": event.step,
                "samples": len(samples),
                "advice": advice,
                "end": type(event).__name__,
                "_samples": samples,
            }
    raise RuntimeError("training did not end")


def mlp_runs(dataset, every: int, epochs: int):
    from nets.mlp.config import PRESETS
    from nets.mlp.train import train

    def run(on: bool) -> dict:
        cfg = PRESETS["tuned"].replace(num_epochs=epochs, internals_every=every if on else 0)
        return _run(train(cfg, dataset))

    return run


def cnn_runs(dataset, every: int, epochs: int, threads: int):
    from nets.cnn.presets import DEFAULT
    from nets.cnn.train import train

    def run(on: bool) -> dict:
        cfg = dataclasses.replace(
            DEFAULT.config,
            epochs=epochs,
            num_threads=threads,
            internals_every=every if on else 0,
        )
        return _run(train(DEFAULT.layers, dataset, cfg))

    return run


def pairs(run, n: int) -> dict:
    """n (off, on) pairs, alternating the order; median ratios and their spread."""
    rows = []
    last_on = None
    for i in range(n):
        order = (False, True) if i % 2 == 0 else (True, False)
        got = {}
        for on in order:
            got[on] = run(on)
            print(
                f"  pair {i + 1} internals {'on ' if on else 'off'}: {got[on]['train_s']:.1f} s "
                f"train, {got[on]['cpu_s']:.1f} s CPU, {got[on]['samples']} samples",
                flush=True,
            )
        last_on = got[True]
        rows.append(
            {
                "off_s": round(got[False]["train_s"], 3),
                "on_s": round(got[True]["train_s"], 3),
                "off_cpu_s": round(got[False]["cpu_s"], 3),
                "on_cpu_s": round(got[True]["cpu_s"], 3),
                "ratio": round(got[True]["train_s"] / got[False]["train_s"], 4),
                "cpu_ratio": round(got[True]["cpu_s"] / got[False]["cpu_s"], 4),
            }
        )
    ratios = [r["ratio"] for r in rows]
    cpu = [r["cpu_ratio"] for r in rows]
    assert last_on is not None
    return {
        "pairs": rows,
        "median_ratio": round(statistics.median(ratios), 4),
        "ratio_min_max": [min(ratios), max(ratios)],
        "median_cpu_ratio": round(statistics.median(cpu), 4),
        "cpu_ratio_min_max": [min(cpu), max(cpu)],
        "steps": last_on["steps"],
        "samples_per_run": last_on["samples"],
        "advice_of_the_on_runs": last_on["advice"],
        "end": last_on["end"],
        "_samples": last_on["_samples"],
    }


def gui_stall(samples) -> dict:
    """Feed the Inside view one sample every 20 ms; worst event-loop gap and redraw."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gui.training.inside import InsideView
    from gui.training.runs import RunsModel

    app = QApplication.instance() or QApplication([])
    runs = RunsModel()
    view = InsideView(runs, interval_ms=100)
    view.resize(1400, 900)
    view.show()
    run = runs.add_run("run 1", {})
    # The first sample builds a plot per layer (once per run): timed apart.
    started = time.perf_counter()
    view.add_internals(run.run_id, samples[0])
    view.refresh()
    app.processEvents()
    build_s = time.perf_counter() - started
    state = {"last": time.perf_counter(), "worst": 0.0, "i": 1, "redraw": 0.0}

    def tick() -> None:
        now = time.perf_counter()
        state["worst"] = max(state["worst"], now - state["last"])
        state["last"] = now

    def feed() -> None:
        if state["i"] < len(samples):
            view.add_internals(run.run_id, samples[state["i"]])
            state["i"] += 1
        else:
            loop.quit()

    view.redrawn.connect(lambda: state.update(redraw=max(state["redraw"], view.last_redraw_s)))
    loop = QEventLoop()
    probe, feeder = QTimer(), QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    feeder.setInterval(20)
    feeder.timeout.connect(feed)
    state["last"] = time.perf_counter()
    probe.start()
    feeder.start()
    for quantity in ("act", "grad", "weight"):  # switch what the heat-maps show mid-way
        QTimer.singleShot(len(samples) * 20 // 3, lambda q=quantity: view.set_quantity(q))
    loop.exec()
    probe.stop()
    feeder.stop()
    app.processEvents()
    return {
        "samples_fed": state["i"],
        "layers": len(samples[0].layers) if samples else 0,
        "first_sample_build_ms": round(1000 * build_s, 1),
        "worst_stall_ms": round(1000 * state["worst"], 1),
        "slowest_redraw_ms": round(1000 * state["redraw"], 1),
        "target_stall_ms": TARGET_STALL_MS,
    }


def lr_find_check(dataset, train_check: bool) -> dict:
    from nets.lr_find import mlp_range_test
    from nets.mlp.config import PRESETS
    from nets.mlp.train import train
    from nets.training import Finished

    cfg = PRESETS["tuned"]
    start = time.perf_counter()
    result = mlp_range_test(cfg, dataset)
    seconds = time.perf_counter() - start
    out = {
        "seconds": round(seconds, 2),
        "target_s": TARGET_LR_FIND_S,
        "steps": len(result.lrs),
        "stopped_early": result.stopped_early,
        "suggested_lr": result.suggested_lr,
        "lr_min_div10": result.lr_min_div10,
        "tuned_lr": cfg.learning_rate,
    }
    if train_check:
        accs = {}
        for name, lr in (("tuned", cfg.learning_rate), ("suggested", result.suggested_lr)):
            last = list(train(cfg.replace(learning_rate=float(f"{lr:.2g}")), dataset))[-1]
            accs[name] = (
                last.result.history.epoch_val_acc[-1] if isinstance(last, Finished) else None
            )
            print(f"  {name} lr {lr:.3g}: val {accs[name]}", flush=True)
        out["val_acc_tuned"] = accs["tuned"]
        out["val_acc_suggested"] = accs["suggested"]
        if None not in accs.values():
            out["points_behind_tuned"] = round(100 * (accs["tuned"] - accs["suggested"]), 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="CNN torch threads")
    parser.add_argument(
        "--cnn-train",
        type=int,
        default=0,
        help="train the CNN on the first N images only (0: all); fewer steps per epoch "
        "keeps the step-1 sample, so the overhead reads higher, not lower",
    )
    parser.add_argument("--skip", nargs="*", default=(), choices=("mlp", "cnn", "gui", "lr"))
    parser.add_argument("--train-check", action="store_true")
    args = parser.parse_args()

    from nets.data import load_dataset
    from nets.internals import DEFAULT_EVERY

    figures: dict = {"internals_every": DEFAULT_EVERY, "epochs": args.epochs}
    samples = []
    cifar = None
    if "mlp" not in args.skip or "lr" not in args.skip:
        cifar = load_dataset(CIFAR)
    if "mlp" not in args.skip:
        print("mlp tuned on CIFAR-10", flush=True)
        figures["mlp"] = pairs(mlp_runs(cifar, DEFAULT_EVERY, args.epochs), args.pairs)
        figures["mlp"].pop("_samples")
    if "cnn" not in args.skip or "gui" not in args.skip:
        import torch  # noqa: F401 - threads are set by the trainer

        fashion = load_dataset(FASHION)
        if args.cnn_train:
            fashion = dataclasses.replace(
                fashion,
                X_train=fashion.X_train[: args.cnn_train],
                y_train=fashion.y_train[: args.cnn_train],
            )
            figures["cnn_train_images"] = args.cnn_train
        if "cnn" not in args.skip:
            print("cnn default on Fashion-MNIST", flush=True)
            run = cnn_runs(fashion, DEFAULT_EVERY, args.epochs, args.threads)
            figures["cnn"] = pairs(run, args.pairs)
            samples = figures["cnn"].pop("_samples")
    if "gui" not in args.skip:
        print("Inside view stall", flush=True)
        if len(samples) < 60:  # a longer history than one epoch gives, from a denser run
            dense = dataclasses.replace(
                fashion, X_train=fashion.X_train[:15360], y_train=fashion.y_train[:15360]
            )
            samples = cnn_runs(dense, 1, 1, args.threads)(True)["_samples"]
        write_result("internals_gui", gui_stall(samples))
    if "lr" not in args.skip:
        print("mlp lr-find on CIFAR-10", flush=True)
        figures["lr_find"] = lr_find_check(cifar, args.train_check)
    figures["target_overhead"] = TARGET_OVERHEAD
    if set(args.skip) != {"mlp", "cnn", "lr"}:
        write_result("internals", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
