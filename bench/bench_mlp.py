"""Numpy networks (issues 5, 22): speed next to PyTorch and the GEMM floor, the presets'
accuracy, folder loading.

Targets:
- one epoch of TwoLayerNet training (3072-512-10, batch 256, 45,000 CIFAR images, SGD with
  momentum 0.9 and L2) takes at most 0.9x the same network, optimizer and batch order in
  PyTorch at its best ordinary settings (a side process with OMP_NUM_THREADS set before
  torch is imported, the default OpenMP wait policy, the data in memory), measured in
  alternating pairs in this run (the median of the pairs' ratios, wall and CPU time);
- that epoch runs at >= 70% of the GEMM floor: the machine's best float32 GEMM rate for
  the first layer's shapes is measured first, the floor is the epoch's GEMM work at it;
- the ``tuned`` preset reaches >= 56% validation accuracy (45,000/5,000 split of the JPEG
  training images) within 60 s of training;
- the ``overfit`` preset reaches >= 75% training accuracy within 30 s;
- loading the 50,000-JPEG folder takes <= 15 s cold (no array cache, the JPEGs evicted
  from the OS cache first; decoded by two worker processes), and the loads with the files
  in the OS cache and from the array cache are reported too.

Data: folder:$CIFAR10_FOLDER, else folder:/work/cifar or /work/data, else the shared
tarball extracted into a temporary folder. Writes bench/results/mlp.json and prints a
summary. The machine is shared: the load average before and after each part is recorded
with the figures.

    python bench/bench_mlp.py [--data SPEC] [--pairs 5] [--skip-torch] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from _common import cifar_spec  # noqa: E402

from nets.data import ImageDataset, load_dataset  # noqa: E402
from nets.data import folder as folder_loader  # noqa: E402
from nets.data.preprocess import Preprocessor  # noqa: E402
from nets.data.spec import DatasetSpec, parse_spec  # noqa: E402
from nets.mlp import parallel  # noqa: E402
from nets.mlp.blas_threads import blas_threads, set_blas_threads  # noqa: E402
from nets.mlp.train import PRESETS, TrainConfig, train  # noqa: E402
from nets.training import Ended, Evaluation, Started, Step  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "mlp.json"


def load_avg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def find_data(spec: str | None) -> str:
    return cifar_spec(spec)


# ---------------------------------------------------------------------------- loading


def evict_from_os_cache(root: Path) -> int:
    """Ask the OS to drop the files under ``root`` from its page cache (posix_fadvise
    DONTNEED: no root rights needed, nothing else is evicted), so that the next load reads
    them from the disk; the folders' metadata may stay cached. How many files it asked for
    (0 where the call does not exist)."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    count = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                count += 1
            except OSError:
                pass
            finally:
                os.close(fd)
    return count


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the decoding workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed_load(parsed: DatasetSpec, **kw: bool) -> tuple[float, float, ImageDataset]:
    t, c = time.perf_counter(), _cpu_seconds()
    ds = folder_loader.load(parsed, **kw)
    return time.perf_counter() - t, _cpu_seconds() - c, ds


def bench_loading(spec: str) -> dict:
    parsed = parse_spec(spec)
    out: dict = {"spec": spec, "load_before": load_avg()}
    # The first pass reads the JPEGs from the disk: before 2 December it read whatever the
    # OS still held (2.9 s on 27 November, 9.7 s on 1 December).
    out["files_evicted_from_os_cache"] = sum(
        evict_from_os_cache(parsed.path / split) for split in ("train", "test")
    )
    wall, cpu, ds = _timed_load(parsed, use_cache=False)
    out["cold_seconds"], out["cold_cpu_seconds"] = round(wall, 2), round(cpu, 2)
    out["images"] = int(len(ds.y_train) + len(ds.y_val))
    out["skipped"] = ds.skipped
    # The second pass finds the files in the OS cache: it shows the decoding alone.
    wall, cpu, _ = _timed_load(parsed, use_cache=False)
    out["cold_seconds_files_in_os_cache"] = round(wall, 2)
    out["cold_cpu_seconds_files_in_os_cache"] = round(cpu, 2)
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
        "cold = decoding every JPEG (no array cache) in two worker processes, reader "
        "threads in each fetching the files ahead; in the first pass the JPEGs come from "
        "the disk (their pages evicted from the OS cache first), in the second from the OS "
        "cache; CPU seconds include the workers'"
    )
    out["target_cold_seconds"] = 15.0
    out["load_after"] = load_avg()
    return out


# ---------------------------------------------------------------------------- speed

SPEED_CONFIG = TrainConfig(
    num_train=None,
    hidden_dim=512,
    batch_size=256,
    num_epochs=1,
    learning_rate=1e-2,
    reg=1e-3,
    momentum=0.9,
    weight_scale=2e-2,
)


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def gemm_rates(n: int, d: int, h: int, batch: int, repeats: int = 7) -> dict:
    """The machine's float32 GEMM rate for the first layer's two GEMMs, each way the app
    can run them (one OpenBLAS thread; OpenBLAS's own threads; our split across cores with
    one OpenBLAS thread per part, overwriting or adding into the output), and the epoch's
    GEMM floor at the best of them."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, d), dtype=np.float32)
    w = rng.standard_normal((d, h), dtype=np.float32)
    g = rng.standard_normal((batch, h), dtype=np.float32)
    out, gw = np.empty((batch, h), np.float32), np.empty((d, h), np.float32)
    flops = 2.0 * batch * d * h
    cores = cpu_cores()
    original = blas_threads()
    workers = parallel.Workers(cores)
    # Each product as numpy computes it (beta 0) and adding into its output (beta 1, no
    # sweep over the output first), as the trainer's weight gradient does: the floor
    # takes the faster.
    shapes = {
        "forward x@W1": lambda beta: parallel.dot(x, w, out, beta),
        "weight grad x.T@G": lambda beta: parallel.dot_tn(x, g, gw, beta),
    }
    modes = {
        "openblas_1_thread": (1, False, 0.0),
        "split_across_cores": (1, True, 0.0),
        "split_across_cores_adding_into_output": (1, True, 1.0),
    }
    if original is not None and original > 1:
        modes["openblas_threads"] = (original, False, 0.0)
    result: dict = {"shapes": f"({batch}x{d}) by ({d}x{h}) and ({d}x{batch}) by ({batch}x{h})"}
    rates: dict = {}
    try:
        for mode, (threads, split, beta) in modes.items():
            set_blas_threads(threads)
            for name, fn in shapes.items():
                walls, cpus = [], []
                for _ in range(repeats):
                    out.fill(0.0)  # beta 1 adds up: 70 products stay far from overflow
                    gw.fill(0.0)
                    with parallel.splitting(workers) if split else contextlib.nullcontext():
                        fn(beta)
                        calls = 10
                        t, c = time.perf_counter(), time.process_time()
                        for _ in range(calls):
                            fn(beta)
                        walls.append(calls * flops / (time.perf_counter() - t) / 1e9)
                        cpus.append(calls * flops / max(time.process_time() - c, 1e-9) / 1e9)
                rates.setdefault(name, {})[mode] = {
                    "gflops_wall_median": round(statistics.median(walls), 1),
                    "gflops_wall_max": round(max(walls), 1),
                    "gflops_per_cpu_second": round(statistics.median(cpus), 1),
                }
    finally:
        workers.close()
        if original is not None:
            set_blas_threads(original)
    result["rates"] = rates
    best = {k: max(v.values(), key=lambda r: r["gflops_wall_median"]) for k, v in rates.items()}
    epoch_gflop = {k: 2.0 * n * d * h / 1e9 for k in rates}
    result["epoch_gemm_gflop"] = round(sum(epoch_gflop.values()), 1)
    result["best_gflops"] = {k: v["gflops_wall_median"] for k, v in best.items()}
    result["floor_seconds"] = round(
        sum(epoch_gflop[k] / best[k]["gflops_wall_median"] for k in rates), 3
    )
    result["note"] = (
        "floor = the first layer's forward and weight-gradient GEMMs of one epoch (its "
        "input gradient is never computed) at the best median rate measured here; "
        "the second layer's GEMMs are under 1% of the work"
    )
    return result


def blas_facts() -> dict:
    """Which OpenBLAS kernel numpy runs and the environment that chose it: a machine's
    settings such as OPENBLAS_CORETYPE (some sandboxes set an older core type) change the
    floor and the epoch alike."""
    from threadpoolctl import threadpool_info

    libs = [
        {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {"libraries": libs, "environment": env}


def numpy_epoch(ds, cfg: TrainConfig) -> tuple[float, float, float]:
    """(wall seconds of the step loop, its CPU seconds, wall seconds of the train() call)."""
    wall = time.perf_counter()
    first = last = None
    cpu0 = cpu1 = 0.0
    for ev in train(cfg, ds):
        if isinstance(ev, Started):
            first, cpu0 = time.perf_counter(), time.process_time()
        elif isinstance(ev, Step):
            last, cpu1 = time.perf_counter(), time.process_time()
    return last - first, cpu1 - cpu0, time.perf_counter() - wall


class TorchSide:
    """The PyTorch loop in a side process started at PyTorch's best ordinary settings."""

    def __init__(self, X: np.ndarray, y: np.ndarray, order: np.ndarray, cfg: TrainConfig):
        self.threads = cpu_cores()
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-mlp-torch-")
        files = []
        for name, arr in (("X", X), ("y", y), ("order", order)):
            path = Path(self.tmp.name, f"{name}.npy")
            np.save(path, arr)
            files.append(str(path))
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env["OMP_NUM_THREADS"] = str(self.threads)
        self.settings = {
            "process": "a separate Python process (bench/_torch_mlp_side.py)",
            "OMP_NUM_THREADS": env["OMP_NUM_THREADS"] + " (in the environment before import)",
            "torch.set_num_threads": self.threads,
            "OMP_WAIT_POLICY": "not set (OpenMP's default)",
            "data": "the same preprocessed float32 images, in memory (torch.from_numpy)",
            "batch_order": "the numpy run's first-epoch permutation (seed "
            f"{cfg.seed}), index_select per batch",
            "optimizer": "torch.optim.SGD(momentum, weight_decay on the weights only)",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_torch_mlp_side.py"),
                *files,
                json.dumps(cfg.to_dict()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready = json.loads(self._line())
        self.settings["torch_version"] = ready["version"]
        self.settings["torch.get_num_threads"] = ready["threads"]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the PyTorch side process ended ({self.proc.wait()})")
        return line

    def epoch(self) -> tuple[float, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        r = json.loads(self._line())
        return r["wall"], r["cpu"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.tmp.cleanup()


def _ratios(a: list[float], b: list[float]) -> dict:
    per_pair = [x / y for x, y in zip(a, b, strict=True)]
    return {
        "median_ratio_of_pairs": round(statistics.median(per_pair), 3),
        "ratio_per_pair": [round(r, 3) for r in per_pair],
        "min_max_of_pairs": [round(min(per_pair), 3), round(max(per_pair), 3)],
    }


def bench_speed(ds, pairs: int, skip_torch: bool) -> dict:
    cfg = SPEED_CONFIG
    pre = Preprocessor.fit(ds.X_train)
    X = pre.transform(ds.X_train)
    y = ds.y_train
    n, d = X.shape
    out: dict = {
        "config": cfg.to_dict(),
        "num_images": int(n),
        "load_before": load_avg(),
        "blas": blas_facts(),
    }
    print("  GEMM rates ...", flush=True)
    out["gemm"] = gemm_rates(n, d, cfg.hidden_dim, cfg.batch_size)
    print(json.dumps(out["gemm"]["best_gflops"]), flush=True)
    side = None
    if not skip_torch:
        # The numpy sampler's first epoch: a fresh default_rng(seed) permutation.
        order = np.random.default_rng(cfg.seed).permutation(n)
        side = TorchSide(X, y, order, cfg)
        out["torch_settings"] = side.settings
    del X
    numpy_epoch(ds, cfg.replace(num_train=4096))  # warm-up
    np_wall, np_cpu, np_call, t_wall, t_cpu = [], [], [], [], []
    # The machine's speed drifts over minutes on a shared host (other machines' jobs share
    # its memory bandwidth and caches): the floor is measured again right before each
    # numpy epoch too, so that each epoch is also set against the rate of its own moment.
    pair_floors: list[float] = []
    try:
        for i in range(pairs):
            # Alternating, and in turn first: a change in the machine's load hits both.
            order_here = ("numpy", "torch") if i % 2 == 0 or side is None else ("torch", "numpy")
            for who in order_here:
                if who == "numpy":
                    rates = gemm_rates(n, d, cfg.hidden_dim, cfg.batch_size, repeats=3)
                    pair_floors.append(rates["floor_seconds"])
                    steps, cpu, call = numpy_epoch(ds, cfg)
                    np_wall.append(round(steps, 3))
                    np_cpu.append(round(cpu, 3))
                    np_call.append(round(call, 3))
                elif side is not None:
                    wall, cpu = side.epoch()
                    t_wall.append(round(wall, 3))
                    t_cpu.append(round(cpu, 3))
            print(
                f"  pair {i + 1}: numpy {np_wall[-1]} s ({np_cpu[-1]} s CPU)"
                + (f", torch {t_wall[-1]} s ({t_cpu[-1]} s CPU)" if t_wall else ""),
                flush=True,
            )
    finally:
        if side is not None:
            side.close()
    out["numpy_seconds"] = np_wall
    out["numpy_cpu_seconds"] = np_cpu
    out["numpy_train_call_seconds"] = np_call
    out["numpy_median"] = statistics.median(np_wall)
    floor = out["gemm"]["floor_seconds"]
    out["fraction_of_gemm_floor"] = round(floor / out["numpy_median"], 3)
    out["fraction_of_gemm_floor_per_epoch"] = [round(floor / s, 3) for s in np_wall]
    out["floor_seconds_before_each_epoch"] = pair_floors
    paired = [f / s for f, s in zip(pair_floors, np_wall, strict=True)]
    out["fraction_of_gemm_floor_measured_before_each_epoch"] = {
        "median": round(statistics.median(paired), 3),
        "per_epoch": [round(r, 3) for r in paired],
    }
    if t_wall:
        out["torch_seconds"] = t_wall
        out["torch_cpu_seconds"] = t_cpu
        out["torch_median"] = statistics.median(t_wall)
        out["wall"] = _ratios(np_wall, t_wall)
        out["cpu"] = _ratios(np_cpu, t_cpu)
        out["ratio_numpy_over_torch"] = out["wall"]["median_ratio_of_pairs"]
    out["targets"] = {"ratio_numpy_over_torch": 0.9, "fraction_of_gemm_floor": 0.7}
    out["meets"] = {
        "ratio_numpy_over_torch": bool(t_wall) and out["ratio_numpy_over_torch"] <= 0.9,
        "fraction_of_gemm_floor": out["fraction_of_gemm_floor"] >= 0.7,
        "fraction_of_gemm_floor_measured_before_each_epoch": (
            out["fraction_of_gemm_floor_measured_before_each_epoch"]["median"] >= 0.7
        ),
    }
    out["note"] = (
        "step loop only (batch gather, forward, backward, L2, SGD momentum update) for "
        "both, one epoch of the same batches; numpy's train() call also preprocesses and "
        "evaluates (numpy_train_call). CPU seconds are of all the process's threads."
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
    out["training_seconds_to_target"] = reached[0]["elapsed"] if reached else None
    out["training_seconds"] = epochs[-1]["elapsed"] if epochs else None
    out["target"] = {metric: target, "training_seconds": budget}
    out["meets"] = bool(reached) and reached[0]["elapsed"] <= budget
    out["load_after"] = load_avg()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset spec (default: the CIFAR-10 JPEG folder)")
    parser.add_argument("--pairs", type=int, default=5, help="numpy/PyTorch epoch pairs")
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
    results["speed"] = bench_speed(ds, args.pairs, args.skip_torch)
    print(json.dumps(results["speed"], indent=1), flush=True)
    del ds
    if not args.quick:
        print("== tuned", flush=True)
        results["tuned"] = bench_preset(spec, "tuned", "final_val_acc", 0.56, 60.0)
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
    print(
        f"  GEMM floor {s['gemm']['floor_seconds']} s; numpy epoch {s['numpy_median']:.2f} s "
        f"= {s['fraction_of_gemm_floor']:.0%} of the floor (target >= 70%); against the "
        f"floor measured before each epoch "
        f"{s['fraction_of_gemm_floor_measured_before_each_epoch']['median']:.0%}"
    )
    if "ratio_numpy_over_torch" in s:
        print(
            f"  epoch: numpy {s['numpy_median']:.2f} s, torch {s['torch_median']:.2f} s, "
            f"median pair ratio {s['ratio_numpy_over_torch']} (CPU "
            f"{s['cpu']['median_ratio_of_pairs']}; target <= 0.9)"
        )
    for key in ("tuned", "overfit"):
        if key in results:
            r = results[key]
            metric = "final_val_acc" if key == "tuned" else "final_train_acc"
            print(
                f"  {key}: {metric} {r[metric]:.3f} after {r['training_seconds']} s of "
                f"training, {r['wall_seconds']} s wall (target {r['target']})"
            )
    print(
        f"  load average start {results['machine']['load_average_start']}, "
        f"end {results['machine']['load_average_end']}"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
