"""Layer internals and the coach: what they cost (target: at most 3% of an epoch).

For the numpy net (the CNN with ``--cnn-pairs N``), pairs of runs of the same
configuration with internals off and on (at the default K), alternating which goes first
so that drifting machine load hits both,
each timed two ways: wall time by the trainer's own ``elapsed`` (training only) and this
process's CPU time (all threads; far less sensitive to the other jobs on a shared machine).
Per pair the ratio on/off; the figures are the median ratio, the spread (min, max) and
the interquartile range of the pairs, and ``met``: True when the upper quartile of the
CPU ratios is within the target, False when the lower quartile is above it, None when the
noise straddles it. The numpy net trains the ``tuned`` preset for one epoch of CIFAR-10's
training split (the JPEG folder); the CNN the ``default`` preset on the first
``--cnn-train`` Fashion-MNIST images (25,600: 100 steps, fewer than an epoch's 235: steps 1,
50 and 100 are sampled, 1.4 times the samples per step of a full epoch, so its overhead
reads high, never low). What the healthy presets report: every Advice of the "on" runs.

Then, for each trainer, the "interleaved" figure: the off and on runs trained side by side
in one process, a step of each in turn, each step's time charged to its run (see
``interleaved``); load changes hit both runs within a step, so its ratio has far less
noise than the pairs'; its spread is over eight blocks of steps (the blocks holding a
sampled step cost more: the spread shows where the cost lies more than noise). ``met``
there: the CPU ratio within 1.03.

Last, the "direct" figure: one run with internals on in which every entry into the
internals code (probe and recorder methods, the torch hooks, the tensor-to-numpy copies)
is timed, as a share of the run's own time. Load changes both sides of that fraction
together, so it decides what the ratios of two runs leave within their noise; it misses
only indirect costs (caches, the allocator), which the interleaved ratio covers. The CNN's
direct figure is over a whole epoch of Fashion-MNIST, at the default K's real rate.

The Inside view's stall is ``bench_inside_gui.py``, the range test ``bench_lr_find.py``.
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

from _common import cifar_spec, write_result  # noqa: E402

FASHION = "fashion-mnist"
TARGET_OVERHEAD = 0.03


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


def mlp_trainer(dataset, every: int, epochs: int):
    """``make(on)``: the ``tuned`` preset's training generator, internals on or off."""
    from nets.mlp.config import PRESETS
    from nets.mlp.train import train

    def make(on: bool):
        cfg = PRESETS["tuned"].replace(num_epochs=epochs, internals_every=every if on else 0)
        return train(cfg, dataset)

    return make


def cnn_trainer(dataset, every: int, epochs: int, threads: int):
    """``make(on)``: the ``default`` preset's training generator, internals on or off."""
    from nets.cnn.presets import DEFAULT
    from nets.cnn.train import train

    def make(on: bool):
        cfg = dataclasses.replace(
            DEFAULT.config,
            epochs=epochs,
            num_threads=threads,
            internals_every=every if on else 0,
        )
        return train(DEFAULT.layers, dataset, cfg)

    return make


def mlp_runs(dataset, every: int, epochs: int):
    make = mlp_trainer(dataset, every, epochs)
    return lambda on: _run(make(on))


def cnn_runs(dataset, every: int, epochs: int, threads: int):
    make = cnn_trainer(dataset, every, epochs, threads)
    return lambda on: _run(make(on))


def interleaved(make, blocks: int = 8) -> dict:
    """The "off" and "on" runs trained side by side, one step of each in turn, in this
    process: every step's wall and CPU time (from the event after Started to the last
    step) is charged to its run, so a change in machine load hits both runs within a step
    or two. The ratio on/off of the summed CPU (and wall) time, and its spread over
    ``blocks`` equal blocks of steps. ``make(on)`` returns a training generator."""
    from nets.training import Ended, Started, Step

    gens = {False: make(False), True: make(True)}
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    started = dict.fromkeys(gens, False)
    ended = dict.fromkeys(gens, False)

    def advance(on: bool) -> None:
        """Run ``on``'s generator up to and including its next Step (or its end)."""
        wall = cpu = 0.0
        while True:
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                event = next(gens[on])
            except StopIteration:
                ended[on] = True
                return
            if started[on]:
                wall += time.perf_counter() - w0
                cpu += time.process_time() - c0
            if isinstance(event, Started):
                started[on] = True
            elif isinstance(event, Step):
                times[on].append((wall, cpu))
                return
            elif isinstance(event, Ended):
                ended[on] = True
                return

    while not (ended[False] and ended[True]):
        for on in (False, True):
            if not ended[on]:
                advance(on)
    n = min(len(times[False]), len(times[True]))
    edges = [round(i * n / blocks) for i in range(blocks + 1)]
    block_cpu, block_wall = [], []
    for a, b in zip(edges, edges[1:], strict=False):
        off = [t for t in times[False][a:b]]
        on = [t for t in times[True][a:b]]
        block_wall.append(sum(t[0] for t in on) / sum(t[0] for t in off))
        block_cpu.append(sum(t[1] for t in on) / sum(t[1] for t in off))
    total = {on: [sum(t[k] for t in times[on][:n]) for k in (0, 1)] for on in gens}
    cpu_ratio = total[True][1] / total[False][1]
    return {
        "met": cpu_ratio <= 1 + TARGET_OVERHEAD,
        "steps": n,
        "off_s": round(total[False][0], 3),
        "on_s": round(total[True][0], 3),
        "off_cpu_s": round(total[False][1], 3),
        "on_cpu_s": round(total[True][1], 3),
        "ratio": round(total[True][0] / total[False][0], 4),
        "cpu_ratio": round(cpu_ratio, 4),
        "block_cpu_ratio_min_median_max": [
            round(min(block_cpu), 4),
            round(statistics.median(block_cpu), 4),
            round(max(block_cpu), 4),
        ],
        "block_ratio_min_median_max": [
            round(min(block_wall), 4),
            round(statistics.median(block_wall), 4),
            round(max(block_wall), 4),
        ],
    }


class _Meter:
    """Wall and CPU seconds spent inside the internals code, outermost calls only (a
    recorder method called from a probe method is counted once)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.calls = 0
        self._depth = 0

    def wrap(self, f):
        def timed(*args, **kwargs):
            if self._depth:
                return f(*args, **kwargs)
            self._depth = 1
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return f(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - w0
                self.cpu += time.process_time() - c0
                self.calls += 1
                self._depth = 0

        return timed


def _instrument(meter: _Meter) -> list[tuple[object, str, object]]:
    """Wrap every entry point of the internals code in ``meter``: the probes' methods
    the trainers call, the recorder's methods, the torch hooks (forward hooks on every
    step, gradient hooks on sampled ones) and the tensor-to-numpy helpers they call.
    Returns what to put back."""
    from nets.internals import numpy_probe, recorder, torch_probe

    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, name: str, value: object) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    for cls, names in (
        (numpy_probe.MlpInternals, ("before_step", "before_update", "after_update")),
        (numpy_probe._Probe, ("activation", "gradient")),
        (torch_probe.TorchInternals, ("before_step", "before_update", "after_update")),
        (
            recorder.InternalsRecorder,
            [
                n
                for n in vars(recorder.InternalsRecorder)
                if not n.startswith("__") and callable(getattr(recorder.InternalsRecorder, n))
            ],
        ),
    ):
        for name in names:
            patch(cls, name, meter.wrap(getattr(cls, name)))
    for factory in ("_activity_hook", "_sample_hook"):
        original = getattr(torch_probe.TorchInternals, factory)
        patch(
            torch_probe.TorchInternals,
            factory,
            lambda self, name, _f=original: meter.wrap(_f(self, name)),
        )
    for helper in ("_values", "_numpy"):
        patch(torch_probe, helper, meter.wrap(getattr(torch_probe, helper)))
    return saved


def direct_cost(make) -> dict:
    """One run with internals on, every entry into the internals code timed: the share
    of the run's time spent there. Unlike the ratio of two runs, machine load changes
    both sides of this fraction together, so it is nearly free of noise; it leaves out
    only indirect costs (cache, allocator), which the interleaved ratio covers."""
    meter = _Meter()
    saved = _instrument(meter)
    try:
        run = _run(make(True))
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
    return {
        "met": meter.cpu / run["cpu_s"] <= TARGET_OVERHEAD,
        "steps": run["steps"],
        "samples": run["samples"],
        "run_s": round(run["train_s"], 3),
        "run_cpu_s": round(run["cpu_s"], 3),
        "internals_s": round(meter.wall, 4),
        "internals_cpu_s": round(meter.cpu, 4),
        "timed_calls": meter.calls,
        "fraction_of_run": round(meter.wall / run["train_s"], 4),
        "fraction_of_run_cpu": round(meter.cpu / run["cpu_s"], 4),
    }


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
    q1, _, q3 = statistics.quantiles(cpu, n=4) if len(cpu) > 1 else (cpu[0],) * 3
    w1, _, w3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    limit = 1 + TARGET_OVERHEAD
    return {
        "pairs": rows,
        "median_ratio": round(statistics.median(ratios), 4),
        "ratio_min_max": [min(ratios), max(ratios)],
        "ratio_quartiles": [round(w1, 4), round(w3, 4)],
        "median_cpu_ratio": round(statistics.median(cpu), 4),
        "cpu_ratio_min_max": [min(cpu), max(cpu)],
        "cpu_ratio_quartiles": [round(q1, 4), round(q3, 4)],
        "met": True if q3 <= limit else False if q1 > limit else None,
        "steps": last_on["steps"],
        "samples_per_run": last_on["samples"],
        "advice_of_the_on_runs": last_on["advice"],
        "end": last_on["end"],
        "_samples": last_on["_samples"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument(
        "--cnn-pairs", type=int, default=0, help="pairs of CNN runs besides the interleaved one"
    )
    parser.add_argument("--threads", type=int, default=2, help="CNN torch threads")
    parser.add_argument(
        "--cnn-train", type=int, default=25_600, help="CNN training images per run (0: all)"
    )
    parser.add_argument("--skip", nargs="*", default=(), choices=("mlp", "cnn"))
    args = parser.parse_args()

    from nets.data import load_dataset
    from nets.internals import DEFAULT_EVERY

    figures: dict = {"internals_every": DEFAULT_EVERY, "epochs": 1}
    started = time.perf_counter()
    if "mlp" not in args.skip:
        print("mlp tuned on CIFAR-10", flush=True)
        cifar = load_dataset(cifar_spec())
        if args.pairs:
            figures["mlp"] = pairs(mlp_runs(cifar, DEFAULT_EVERY, 1), args.pairs)
            figures["mlp"].pop("_samples")
        figures["mlp_interleaved"] = interleaved(mlp_trainer(cifar, DEFAULT_EVERY, 1))
        print("  interleaved:", figures["mlp_interleaved"], flush=True)
        figures["mlp_direct"] = direct_cost(mlp_trainer(cifar, DEFAULT_EVERY, 1))
        print("  direct:", figures["mlp_direct"], flush=True)
    if "cnn" not in args.skip:
        import torch  # noqa: F401 - threads are set by the trainer

        fashion = load_dataset(FASHION)
        if args.cnn_train:
            fashion = dataclasses.replace(
                fashion,
                X_train=fashion.X_train[: args.cnn_train],
                y_train=fashion.y_train[: args.cnn_train],
            )
            figures["cnn_train_images"] = args.cnn_train
        print("cnn default on Fashion-MNIST", flush=True)
        if args.cnn_pairs:
            run = cnn_runs(fashion, DEFAULT_EVERY, 1, args.threads)
            figures["cnn"] = pairs(run, args.cnn_pairs)
            figures["cnn"].pop("_samples")
        make = cnn_trainer(fashion, DEFAULT_EVERY, 1, args.threads)
        figures["cnn_interleaved"] = interleaved(make)
        print("  interleaved:", figures["cnn_interleaved"], flush=True)
        full = load_dataset(FASHION)  # a whole epoch: the default K's real sampling rate
        figures["cnn_direct_full_epoch"] = direct_cost(
            cnn_trainer(full, DEFAULT_EVERY, 1, args.threads)
        )
        print("  direct:", figures["cnn_direct_full_epoch"], flush=True)
    figures["target_overhead"] = TARGET_OVERHEAD
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    write_result("internals", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
