"""Numpy networks (issue 5): speed next to PyTorch, the presets' accuracy, folder loading.

Targets:
- one epoch of TwoLayerNet training (hidden 512, batch 256, 45,000 CIFAR images, SGD with
  momentum and L2) in numpy takes at most 1.10x the same network and optimizer in
  PyTorch, measured in this run (interleaved repetitions, medians);
- the ``tuned`` preset reaches >= 52% validation accuracy within 90 s wall time;
- the ``overfit`` preset reaches >= 75% training accuracy within 30 s;
- loading the 50,000-JPEG folder takes <= 15 s cold (no array cache; decoded by two
  worker processes), and the cached load is reported too.

Data: folder:$CIFAR10_FOLDER, else folder:/work/cifar, else the shared tarball extracted
into a temporary folder. Writes bench/results/mlp.json and prints a summary. The machine
is shared: the load average before and after each part is recorded with the figures.

    python bench/bench_mlp.py [--data SPEC] [--repeats 3] [--skip-torch] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Idle OpenMP threads sleep instead of spinning: PyTorch's fair setting on a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from nets.data import folder as folder_loader  # noqa: E402
from nets.data import load_dataset  # noqa: E402
from nets.data.preprocess import Preprocessor  # noqa: E402
from nets.data.spec import parse_spec  # noqa: E402
from nets.mlp.train import PRESETS, TrainConfig, train  # noqa: E402
from nets.training import Ended, Evaluation, Started, Step  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "mlp.json"


def load_avg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def find_data(spec: str | None) -> str:
    if spec:
        return spec
    env = os.environ.get("CIFAR10_FOLDER")
    if env and Path(env, "train").is_dir():
        return f"folder:{env}"
    if Path("/work/cifar/train").is_dir():
        return "folder:/work/cifar"
    tarball = ROOT.parent / "shared" / "data" / "cifar10-train-jpeg.tar.gz"
    if not tarball.is_file():
        sys.exit(f"no CIFAR-10 folder: set CIFAR10_FOLDER or provide {tarball}")
    root = Path(tempfile.mkdtemp(prefix="bench-mlp-cifar-"))
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="data")
    train_dirs = [p.parent for p in root.rglob("train") if p.is_dir()]
    return f"folder:{train_dirs[0]}"


# ---------------------------------------------------------------------------- loading


def bench_loading(spec: str) -> dict:
    parsed = parse_spec(spec)
    out: dict = {"spec": spec, "load_before": load_avg()}
    t = time.perf_counter()
    ds = folder_loader.load(parsed, use_cache=False)
    out["cold_seconds"] = round(time.perf_counter() - t, 2)
    out["images"] = int(len(ds.y_train) + len(ds.y_val))
    out["skipped"] = ds.skipped
    folder_loader.load(parsed)  # make sure the cache exists and is current
    cached = []
    for _ in range(3):
        t = time.perf_counter()
        folder_loader.load(parsed)
        cached.append(time.perf_counter() - t)
    out["cached_seconds"] = round(min(cached), 2)
    out["cached_seconds_all"] = [round(v, 2) for v in cached]
    out["cache_files"] = [str(p) for p in folder_loader.cache_paths(parsed.path, 32) if p.exists()]
    out["note"] = (
        "cold = decoding every JPEG with two worker processes (no array cache); the OS "
        "file cache may hold the JPEGs"
    )
    out["target_cold_seconds"] = 15.0
    out["load_after"] = load_avg()
    return out


# ---------------------------------------------------------------------------- speed


def numpy_epoch(ds, cfg: TrainConfig) -> tuple[float, float]:
    """(seconds of the step loop, wall seconds of the whole train() call)."""
    wall = time.perf_counter()
    first = last = None
    for ev in train(cfg, ds):
        if isinstance(ev, Started):
            first = time.perf_counter()
        elif isinstance(ev, Step):
            last = time.perf_counter()
    return last - first, time.perf_counter() - wall


def torch_epoch(X: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> float:
    import torch

    torch.manual_seed(cfg.seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    d = X.shape[1]
    net = torch.nn.Sequential(
        torch.nn.Linear(d, cfg.hidden_dim), torch.nn.ReLU(), torch.nn.Linear(cfg.hidden_dim, 10)
    )
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight.normal_(0, cfg.weight_scale)
            layer.bias.zero_()
    weights = [net[0].weight, net[2].weight]
    biases = [net[0].bias, net[2].bias]
    # L2 on the weight matrices only, as training_step does.
    opt = torch.optim.SGD(
        [{"params": weights, "weight_decay": cfg.reg}, {"params": biases, "weight_decay": 0.0}],
        lr=cfg.learning_rate,
        momentum=cfg.momentum,
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(y)
    start = time.perf_counter()
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, cfg.batch_size):
        idx = perm[i : i + cfg.batch_size]
        xb, yb = Xt.index_select(0, idx), yt.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def bench_speed(ds, repeats: int, skip_torch: bool) -> dict:
    cfg = TrainConfig(
        num_train=None,
        hidden_dim=512,
        batch_size=256,
        num_epochs=1,
        learning_rate=1e-2,
        reg=1e-3,
        momentum=0.9,
        weight_scale=2e-2,
    )
    pre = Preprocessor.fit(ds.X_train)
    X = pre.transform(ds.X_train)
    y = ds.y_train
    out: dict = {
        "config": cfg.to_dict(),
        "num_images": int(len(y)),
        "load_before": load_avg(),
        "numpy_seconds": [],
        "numpy_train_call_seconds": [],
        "torch_seconds": [],
    }
    if not skip_torch:
        import torch

        out["torch_threads"] = torch.get_num_threads()
        out["torch_version"] = torch.__version__
        torch_epoch(X[:2048], y[:2048], cfg)  # warm-up: thread pools, allocator
    numpy_epoch(ds, cfg.replace(num_train=2048))  # warm-up
    for _ in range(repeats):
        steps, wall = numpy_epoch(ds, cfg)
        out["numpy_seconds"].append(round(steps, 3))
        out["numpy_train_call_seconds"].append(round(wall, 3))
        if not skip_torch:
            out["torch_seconds"].append(round(torch_epoch(X, y, cfg), 3))
    out["numpy_median"] = statistics.median(out["numpy_seconds"])
    if out["torch_seconds"]:
        out["torch_median"] = statistics.median(out["torch_seconds"])
        out["ratio_numpy_over_torch"] = round(out["numpy_median"] / out["torch_median"], 3)
        pairs = zip(out["numpy_seconds"], out["torch_seconds"], strict=True)
        out["ratio_per_pair"] = [round(a / b, 3) for a, b in pairs]
    out["target_ratio"] = 1.10
    out["note"] = (
        "step loop only (batch gather, forward, backward, L2, SGD momentum update) for "
        "both; numpy's train() call also preprocesses and evaluates (numpy_train_call)"
    )
    out["load_after"] = load_avg()
    return out


# ---------------------------------------------------------------------------- presets


def bench_preset(spec: str, name: str, metric: str, target: float, budget: float) -> dict:
    out: dict = {"preset": name, "config": PRESETS[name].to_dict(), "load_before": load_avg()}
    wall = time.perf_counter()
    ds = load_dataset(spec)  # from the cache
    out["load_seconds"] = round(time.perf_counter() - wall, 2)
    epochs = []
    for ev in train(PRESETS[name], ds):
        if isinstance(ev, Evaluation):
            epochs.append(
                {
                    "epoch": ev.epoch,
                    "train_acc": ev.train_acc,
                    "val_acc": ev.val_acc,
                    "loss": round(ev.train_loss, 4),
                    "elapsed": round(ev.elapsed, 2),
                    "wall": round(time.perf_counter() - wall, 2),
                }
            )
            print(
                f"  {name} epoch {ev.epoch}: train {ev.train_acc:.3f} val {ev.val_acc:.3f} "
                f"({time.perf_counter() - wall:.1f} s)",
                flush=True,
            )
        elif isinstance(ev, Ended):
            out["reason"] = ev.reason
    out["wall_seconds"] = round(time.perf_counter() - wall, 2)
    out["epochs"] = epochs
    out[metric] = epochs[-1][metric.replace("final_", "")] if epochs else None
    reached = [e for e in epochs if e[metric.replace("final_", "")] >= target]
    out["first_epoch_reaching_target"] = reached[0]["epoch"] if reached else None
    out["wall_seconds_to_target"] = reached[0]["wall"] if reached else None
    out["target"] = {metric: target, "wall_seconds": budget}
    out["load_after"] = load_avg()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset spec (default: the CIFAR-10 JPEG folder)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--quick", action="store_true", help="speed comparison only")
    args = parser.parse_args()
    spec = find_data(args.data)
    results: dict = {
        "area": "mlp",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average_start": load_avg(),
            "note": "shared 2-core machine: other jobs ran at the same time (see load averages)",
        },
    }
    print(f"== folder loading ({spec})", flush=True)
    results["loading"] = bench_loading(spec)
    print(json.dumps(results["loading"], indent=1), flush=True)
    ds = load_dataset(spec)
    print("== numpy vs PyTorch, one epoch", flush=True)
    results["speed"] = bench_speed(ds, args.repeats, args.skip_torch)
    print(json.dumps(results["speed"], indent=1), flush=True)
    del ds
    if not args.quick:
        print("== tuned", flush=True)
        results["tuned"] = bench_preset(spec, "tuned", "final_val_acc", 0.52, 90.0)
        print("== overfit", flush=True)
        results["overfit"] = bench_preset(spec, "overfit", "final_train_acc", 0.75, 30.0)
    results["machine"]["load_average_end"] = load_avg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    s = results["speed"]
    print("\nsummary")
    print(
        f"  folder load: cold {results['loading']['cold_seconds']} s (target <= 15), "
        f"cached {results['loading']['cached_seconds']} s"
    )
    if "ratio_numpy_over_torch" in s:
        print(
            f"  epoch: numpy {s['numpy_median']:.2f} s, torch {s['torch_median']:.2f} s, "
            f"ratio {s['ratio_numpy_over_torch']} (target <= 1.10)"
        )
    for key in ("tuned", "overfit"):
        if key in results:
            r = results[key]
            metric = "final_val_acc" if key == "tuned" else "final_train_acc"
            print(
                f"  {key}: {metric} {r[metric]:.3f} in {r['wall_seconds']} s wall "
                f"(target {r['target']})"
            )
    print(
        f"  load average start {results['machine']['load_average_start']}, "
        f"end {results['machine']['load_average_end']}"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
