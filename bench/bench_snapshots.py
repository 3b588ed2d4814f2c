"""Snapshots and forks on real data: what a snapshot costs, and whether a fork retraces.

numpy net (``tuned`` preset on a CIFAR-10 subset): epoch time with and without a snapshot
per epoch (alternating pairs), a snapshot's size and its file's save and load times, and
an unchanged fork from epoch 1 compared step by step with its parent (bit for bit).
CNN (default preset on a Fashion-MNIST subset, 1 thread, deterministic algorithms): the
largest loss difference between a fork from epoch 1 and its parent.

    python bench/bench_snapshots.py [--data SPEC] [--cnn-data SPEC] [--num-train 10000] [--pairs 2]

The CIFAR-10 folder is found as ``bench_mlp`` finds it; a missing Fashion-MNIST skips the
CNN part (recorded as skipped).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import write_result
from bench.bench_mlp import find_data


def _epoch_seconds(events) -> tuple[list[float], list]:
    from nets.training import Evaluation

    events = list(events)
    times = [e.elapsed for e in events if isinstance(e, Evaluation)]
    return [b - a for a, b in zip([0.0, *times[:-1]], times, strict=True)], events


def bench_mlp(data: str, num_train: int, pairs: int) -> dict:
    from nets.data import load_dataset
    from nets.mlp.train import preset, train
    from nets.snapshots import SnapshotPlan, load_snapshot, save_snapshot
    from nets.training import Snapshot, Step

    dataset = load_dataset(data)
    config = preset("tuned").replace(num_train=num_train, num_epochs=3)
    plain, snapped = [], []
    for _ in range(pairs):
        seconds, _ = _epoch_seconds(train(config, dataset))
        plain.extend(seconds)
        seconds, events = _epoch_seconds(train(config, dataset, snapshots=SnapshotPlan()))
        snapped.extend(seconds)
    snaps = [e for e in events if isinstance(e, Snapshot)]
    parent_losses = [e.loss for e in events if isinstance(e, Step)]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = save_snapshot(Path(tmp) / "epoch-1", snaps[0])
        save_s = time.perf_counter() - started
        started = time.perf_counter()
        loaded = load_snapshot(path)
        load_s = time.perf_counter() - started
        size = path.stat().st_size
    fork_losses = [e.loss for e in train(config, dataset, fork=loaded) if isinstance(e, Step)]
    later = parent_losses[loaded.step :]
    return {
        "config": config.to_dict(),
        "epoch_s_without": [round(x, 3) for x in plain],
        "epoch_s_with_snapshots": [round(x, 3) for x in snapped],
        "median_ratio_with_over_without": round(
            statistics.median(snapped) / statistics.median(plain), 3
        ),
        "snapshot_bytes_in_memory": snaps[0].nbytes,
        "snapshot_file_bytes": size,
        "save_s": round(save_s, 4),
        "load_s": round(load_s, 4),
        "fork_steps_compared": len(later),
        "fork_steps_bit_identical": sum(a == b for a, b in zip(fork_losses, later, strict=True)),
    }


def bench_cnn(spec: str, num_train: int) -> dict:
    import numpy as np
    import torch

    from nets.cnn.config import TrainConfig
    from nets.cnn.presets import get_preset, with_num_classes
    from nets.cnn.train import train
    from nets.data import load_dataset
    from nets.errors import DataError
    from nets.snapshots import SnapshotPlan
    from nets.training import Snapshot, Step

    torch.use_deterministic_algorithms(True)
    try:
        ds = load_dataset(spec, num_val=1000)
    except DataError as exc:
        return {"skipped": str(exc)}

    class Data:
        X_train, y_train = ds.X_train[:num_train], ds.y_train[:num_train]
        X_val, y_val = ds.X_val, ds.y_val
        class_names = ds.class_names

    p = get_preset("default")
    layers = with_num_classes(p.layers, len(ds.class_names))
    config = TrainConfig(**{**p.config.to_dict(), "epochs": 3, "num_threads": 1, "device": "cpu"})
    parent = list(train(layers, Data, config, snapshots=SnapshotPlan()))
    snap = next(e for e in parent if isinstance(e, Snapshot))
    child = [e.loss for e in train(layers, Data, config, fork=snap) if isinstance(e, Step)]
    later = [e.loss for e in parent if isinstance(e, Step)][snap.step :]
    diff = np.abs(np.array(child) - np.array(later))
    return {
        "config": config.to_dict(),
        "num_train": num_train,
        "fork_steps_compared": len(later),
        "max_abs_loss_difference": float(diff.max()),
        "snapshot_bytes_in_memory": snap.nbytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", help="CIFAR-10 spec (default: found as bench_mlp does)")
    parser.add_argument("--cnn-data", default="fashion-mnist:/usr/share/datasets/fashion-mnist")
    parser.add_argument("--num-train", type=int, default=10000)
    parser.add_argument("--cnn-num-train", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    write_result(
        "snapshots",
        {
            "mlp": bench_mlp(find_data(args.data), args.num_train, args.pairs),
            "cnn": bench_cnn(args.cnn_data, args.cnn_num_train),
        },
    )


if __name__ == "__main__":
    main()
