"""Your own code (issue 19): checking a homework folder, and training the user's model.

Targets:
- ``check`` on a whole correct homework folder (the seed-style reference in
  tests/nets/homework_fixtures: 13 functions) finishes in under 10 s, wall time, child
  process start-up included;
- training with that reference implementation (the user's TwoLayerNet, layers and
  training_step, run in the sandboxed child through the app's loop) takes at most 1.3x
  the built-in implementation's time per epoch, same configuration and precision
  (float64: the seed-style code keeps numpy's default dtype). Interleaved repetitions,
  medians of the per-epoch training time the loop itself reports (pauses excluded).

Data: CIFAR-sized random images (32x32x3, 10 classes); the speed of an epoch does not
depend on what the pixels show. Writes bench/results/homework.json.

    python bench/bench_homework.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench._common import write_result  # noqa: E402
from nets.data.dataset import ImageDataset  # noqa: E402
from nets.homework.checking import check_homework  # noqa: E402
from nets.homework.layout import find_homework  # noqa: E402
from nets.homework.training import train_own  # noqa: E402
from nets.mlp.config import TrainConfig  # noqa: E402
from nets.mlp.train import train  # noqa: E402
from nets.training import Evaluation  # noqa: E402

FIXTURES = ROOT / "tests" / "nets" / "homework_fixtures"
CHECK_TARGET_S = 10.0
EPOCH_RATIO_TARGET = 1.3

#: name -> configuration. "seed-like": the seed's default network size and batch;
#: "wide": a network where the matrix products dominate.
CONFIGS = {
    "seed-like": dict(hidden_dim=16, batch_size=128),
    "wide": dict(hidden_dim=256, batch_size=200),
}


def _data(n_train: int, n_val: int) -> ImageDataset:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n_train + n_val, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n_train + n_val)
    names = tuple(f"class{i}" for i in range(10))
    return ImageDataset(
        X[:n_train], y[:n_train], X[n_train:], y[n_train:], None, None, names, "random"
    )


def _epoch_times(events) -> list[float]:
    """Training seconds of each epoch, from the Evaluation events' elapsed."""
    marks = [0.0] + [e.elapsed for e in events if isinstance(e, Evaluation)]
    return [b - a for a, b in zip(marks, marks[1:], strict=False)]


def bench_check(repeats: int) -> dict:
    homework = find_homework([FIXTURES])
    times, passed = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        results = list(check_homework(homework))
        times.append(time.perf_counter() - started)
        passed.append(sum(r.ok for r in results))
    return {
        "functions": len(results),
        "passed": min(passed),
        "wall_s": [round(t, 3) for t in times],
        "median_wall_s": round(statistics.median(times), 3),
        "target_s": CHECK_TARGET_S,
        "meets_target": statistics.median(times) < CHECK_TARGET_S and min(passed) == len(results),
    }


def bench_training(repeats: int, epochs: int, n_train: int) -> dict:
    data = _data(n_train, 1000)
    homework = find_homework([FIXTURES / "neuralnet"])
    out = {}
    for name, sizes in CONFIGS.items():
        config = TrainConfig(
            num_train=None,
            num_epochs=epochs,
            learning_rate=1e-3,
            reg=1e-3,
            weight_scale=1e-3,
            dtype="float64",
            **sizes,
        )
        own, builtin, builtin32 = [], [], []
        for _ in range(repeats):  # interleaved, so load changes hit all three alike
            own += _epoch_times(list(train_own(config, data, homework)))
            builtin += _epoch_times(list(train(config, data)))
            builtin32 += _epoch_times(list(train(config.replace(dtype="float32"), data)))
        ratio = statistics.median(own) / statistics.median(builtin)
        out[name] = {
            "config": {**sizes, "num_train": n_train, "epochs": epochs},
            "own_epoch_s": [round(t, 3) for t in own],
            "builtin_epoch_s": [round(t, 3) for t in builtin],
            "builtin_float32_epoch_s": [round(t, 3) for t in builtin32],
            "median_own_epoch_s": round(statistics.median(own), 3),
            "median_builtin_epoch_s": round(statistics.median(builtin), 3),
            "median_builtin_float32_epoch_s": round(statistics.median(builtin32), 3),
            "ratio_own_to_builtin": round(ratio, 3),
            "ratio_own_to_builtin_float32": round(
                statistics.median(own) / statistics.median(builtin32), 3
            ),
            "target_ratio": EPOCH_RATIO_TARGET,
            "meets_target": ratio <= EPOCH_RATIO_TARGET,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer images and epochs")
    args = parser.parse_args()
    n_train, epochs = (2000, 2) if args.quick else (10000, 3)
    figures = {
        "check": bench_check(args.repeats),
        "training": bench_training(args.repeats, epochs, n_train),
        "notes": (
            "The seed-style fc_backward always returns grad_x, so the user's first layer "
            "does a third more matrix work than the built-in one, which skips it. The "
            "user's first epoch also pays for a fresh process warming up (see the "
            "per-epoch lists); the ratio compares medians."
        ),
    }
    write_result("homework", figures)


if __name__ == "__main__":
    main()
