"""The numpy net's learning-rate range test on CIFAR-10 (target: within 20 s).

``mlp_range_test`` of the ``tuned`` preset on CIFAR-10's training split (the JPEG folder,
loaded beforehand), RUNS times with seeds 0, 1, ... (the preset's own seed first): wall and
CPU seconds (median, min, max), steps, and each run's marks (the suggestion, the steepest
descent, min / 10), to show how much they move between runs. Then the issue's check that
the suggestion is usable (leave it out with ``--no-train-check``): the ``tuned`` preset
trained with its own learning rate and with the first run's suggestion (the preset's seed;
rounded to two significant digits, as the form shows it), everything else as the preset
says; target: validation accuracy within two points. Writes ``bench/results/lr_find.json``.
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

from _common import cifar_spec, write_result  # noqa: E402

TARGET_S = 20.0
TARGET_POINTS = 2.0


def _spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def train_check(cfg, dataset, suggested: float) -> dict:
    from nets.mlp.train import train
    from nets.training import Finished

    accs = {}
    for name, lr in (("tuned", cfg.learning_rate), ("suggested", float(f"{suggested:.2g}"))):
        last = list(train(cfg.replace(learning_rate=lr), dataset))[-1]
        accs[name] = last.result.history.epoch_val_acc[-1] if isinstance(last, Finished) else None
        print(f"  {name} lr {lr:.3g}: val {accs[name]}", flush=True)
    out = {
        "lr_tuned": cfg.learning_rate,
        "lr_suggested": float(f"{suggested:.2g}"),
        "val_acc_tuned": accs["tuned"],
        "val_acc_suggested": accs["suggested"],
    }
    if None not in accs.values():
        behind = 100 * (accs["tuned"] - accs["suggested"])
        out["points_behind_tuned"] = round(behind, 2)
        out["met"] = behind <= TARGET_POINTS
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--no-train-check",
        dest="train_check",
        action="store_false",
        help="only time the range test (the check trains the tuned preset twice: minutes)",
    )
    args = parser.parse_args()

    from nets.data import load_dataset
    from nets.lr_find import mlp_range_test
    from nets.mlp.config import PRESETS

    cifar = load_dataset(cifar_spec())
    cfg = PRESETS["tuned"]
    walls, cpus, results = [], [], []
    for i in range(args.runs):
        started, cpu = time.perf_counter(), time.process_time()
        results.append(mlp_range_test(cfg.replace(seed=cfg.seed + i), cifar))
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        print(
            f"  run {i + 1}: {walls[-1]:.1f} s wall, {cpus[-1]:.1f} s CPU, suggestion "
            f"{results[-1].suggested_lr:.3g} (steepest {results[-1].steepest_lr:.3g}, "
            f"min / 10 {results[-1].lr_min_div10:.3g})",
            flush=True,
        )
    result = results[0]
    figures = {
        "images": len(cifar.y_train),
        "runs": args.runs,
        "wall_s": _spread(walls),
        "cpu_s": _spread(cpus),
        "target_s": TARGET_S,
        "met": statistics.median(walls) <= TARGET_S,
        "steps": len(result.lrs),
        "stopped_early": result.stopped_early,
        "suggested_lr": result.suggested_lr,
        "steepest_lr": result.steepest_lr,
        "lr_min_div10": result.lr_min_div10,
        "over_seeds": {
            "seeds": [cfg.seed + i for i in range(args.runs)],
            "suggested_lr": [r.suggested_lr for r in results],
            "steepest_lr": [r.steepest_lr for r in results],
            "lr_min_div10": [r.lr_min_div10 for r in results],
        },
        "tuned_lr": cfg.learning_rate,
    }
    if args.train_check:
        figures["train_check"] = train_check(cfg, cifar, result.suggested_lr)
        figures["train_check"]["target_points"] = TARGET_POINTS
    write_result("lr_find", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
