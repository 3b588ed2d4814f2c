"""Classify: model load time, single-image latency, accuracy on the 50 ImageNet samples.

Targets (issue 8, this 2-core CPU machine): model load <= 1 s; one 224x224 image
<= 50 ms median, preprocessing included (JPEG decode + resize/crop/normalise + forward +
softmax/top-5).

- Load: ``load_model()`` in fresh subprocesses, timed after ``import torch`` (the import
  itself, paid once per process by anything using torch, is reported separately).
- Latency: ``open_image`` + ``predict`` of a 224x224 JPEG, median over RUNS calls after a
  warm-up, with the thread count ``load_model`` picks (cores - 1) and with all cores.
- Opening images: ``nets.images.open_image`` over the 50,000 CIFAR-10 JPEGs with 2
  processes (target < 15 s; skipped without an extracted CIFAR-10 folder).
- Accuracy: top-1 / top-5 over ``../shared/data/imagenet-samples`` (skipped when absent),
  plus the input-pipeline candidates that chose Lite0's normalisation, and an ablation
  with PyTorch-style symmetric padding instead of TensorFlow's "same".
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import ROOT, cifar_folder, python, write_result  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "data" / "imagenet-samples"
LOAD_TARGET_S = 1.0
LATENCY_TARGET_MS = 50.0

_LOAD_SNIPPET = """
import json, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from nets.pretrained.classify import load_model
model = load_model()
t2 = time.perf_counter()
print(json.dumps({"import_torch_s": t1 - t0, "load_model_s": t2 - t1}))
"""


def bench_load(runs: int) -> dict:
    import json

    loads, imports = [], []
    for _ in range(runs):
        out = subprocess.run(
            [python(), "-c", _LOAD_SNIPPET],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        loads.append(figures["load_model_s"])
        imports.append(figures["import_torch_s"])
    return {
        "load_model_s_median": round(statistics.median(loads), 3),
        "load_model_s_min": round(min(loads), 3),
        "load_model_s_max": round(max(loads), 3),
        "import_torch_s_median": round(statistics.median(imports), 3),
        "cold_total_s_median": round(
            statistics.median(a + b for a, b in zip(loads, imports, strict=True)), 3
        ),
        "load_target_s": LOAD_TARGET_S,
        "load_meets_target": statistics.median(loads) <= LOAD_TARGET_S,
    }


def _test_jpeg() -> bytes:
    from PIL import Image

    photos = sorted(SAMPLES.glob("*.JPEG")) if SAMPLES.is_dir() else []
    if photos:
        with Image.open(photos[0]) as img:
            square = img.convert("RGB").resize((224, 224))
    else:
        import numpy as np

        rng = np.random.default_rng(0)
        square = Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
    buf = io.BytesIO()
    square.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def bench_latency(runs: int) -> dict:
    import torch

    from nets.images import open_image
    from nets.pretrained.classify import configure_threads, load_model

    model = load_model()
    default_threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo224.jpg"
        path.write_bytes(_test_jpeg())
        figures: dict = {}
        for label, threads in (("default", default_threads), ("all_cores", os.cpu_count() or 1)):
            configure_threads(threads)
            for _ in range(5):
                model.predict(open_image(path))
            times, cpu = [], []
            for _ in range(runs):
                t0, c0 = time.perf_counter(), time.thread_time()
                model.predict(open_image(path), topk=5)
                cpu.append((time.thread_time() - c0) * 1000)
                times.append((time.perf_counter() - t0) * 1000)
            figures[f"single_image_ms_median_{label}"] = round(statistics.median(times), 2)
            figures[f"single_image_ms_p90_{label}"] = round(
                statistics.quantiles(times, n=10)[-1], 2
            )
            figures[f"threads_{label}"] = threads
            if threads == 1:
                # One thread computes in the calling thread: its CPU time is the latency
                # an idle core would give, whatever the machine's load.
                figures[f"single_image_cpu_ms_median_{label}"] = round(statistics.median(cpu), 2)
        configure_threads(default_threads)
        t0 = time.perf_counter()
        for _ in range(20):
            model.gradcam(open_image(path), 0)
        figures["gradcam_ms_mean"] = round((time.perf_counter() - t0) / 20 * 1000, 1)
    figures["latency_target_ms"] = LATENCY_TARGET_MS
    figures["latency_meets_target"] = figures["single_image_ms_median_default"] <= LATENCY_TARGET_MS
    cpu_ms = figures.get("single_image_cpu_ms_median_default")
    if cpu_ms is not None:
        # When other processes share the cores, wall time is inflated; CPU time is not.
        figures["latency_meets_target_on_an_idle_core"] = cpu_ms <= LATENCY_TARGET_MS
    return figures


def _accuracy(model, photos: list[Path], truth: list[int]) -> tuple[float, float]:
    from nets.pretrained.classify import classify_paths

    top1 = top5 = 0
    for result, true in zip(classify_paths(photos, model, 5), truth, strict=True):
        indices = [t.index for t in result.top or ()]
        top1 += bool(indices) and indices[0] == true
        top5 += true in indices
    return round(top1 / len(photos), 3), round(top5 / len(photos), 3)


def bench_accuracy() -> dict:
    if not SAMPLES.is_dir():
        return {"accuracy": f"skipped: {SAMPLES} is absent"}
    import dataclasses

    import nets.pretrained.efficientnet_lite as lite
    from nets.pretrained.classify import PretrainedModel, load_model

    wnids = (SAMPLES / "wnids.txt").read_text().split()
    photos = sorted(SAMPLES.glob("*.JPEG"))
    truth = [wnids.index(p.name.split("_")[0]) for p in photos]
    model = load_model()
    t0 = time.perf_counter()
    top1, top5 = _accuracy(model, photos, truth)
    elapsed = time.perf_counter() - t0
    chosen = model.preprocessing
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    candidates = {
        "(x-127)/128, resize 256 bicubic, crop 224 [chosen]": chosen,
        "(x-127.5)/127.5 i.e. mean=std=0.5": dataclasses.replace(
            chosen, mean=(0.5,) * 3, std=(0.5,) * 3
        ),
        "ImageNet mean/std": dataclasses.replace(chosen, mean=imagenet[0], std=imagenet[1]),
        "(x-127)/128, bilinear": dataclasses.replace(chosen, interpolation="bilinear"),
        "(x-127)/128, resize 224 + crop 224 (no margin)": dataclasses.replace(chosen, resize=224),
    }
    variants = {}
    for label, preprocessing in candidates.items():
        variant = PretrainedModel(model.spec, model.network, preprocessing)
        scores = _accuracy(variant, photos, truth)
        variants[label] = dict(zip(("top1", "top5"), scores, strict=True))
    original = lite.tf_same_padding
    lite.tf_same_padding = lambda size, kernel, stride, dilation=1: ((kernel - 1) // 2,) * 2
    try:
        ablation = _accuracy(model, photos, truth)
    finally:
        lite.tf_same_padding = original
    variants["ablation: symmetric padding (PyTorch style)"] = dict(
        zip(("top1", "top5"), ablation, strict=True)
    )
    return {
        "samples": len(photos),
        "top1": top1,
        "top5": top5,
        "top1_target": 0.85,
        "top1_meets_target": top1 >= 0.85,
        "batch_images_per_s": round(len(photos) / elapsed, 1),
        "input_pipeline_candidates": variants,
    }


OPEN_TARGET_S = 15.0


def _open_all(paths: list[str]) -> int:
    import numpy as np

    from nets.images import open_image

    total = 0
    for path in paths:
        total += int(np.asarray(open_image(path)).shape[0])
    return total


def bench_open_images() -> dict:
    """``open_image`` on the 50,000 CIFAR-10 JPEGs (32x32) with 2 processes: target < 15 s."""
    from multiprocessing import get_context

    folder = cifar_folder()
    paths = sorted(str(p) for p in folder.glob("train/*/*.jpg")) if folder else []
    if not paths:
        return {"open_images": "skipped: no extracted CIFAR-10 folder (set CIFAR10_FOLDER)"}
    t0 = time.perf_counter()
    _open_all(paths[:2000])
    per_image_ms = (time.perf_counter() - t0) / 2000 * 1000
    chunks = [paths[i : i + 2500] for i in range(0, len(paths), 2500)]
    t0 = time.perf_counter()
    with get_context("spawn").Pool(2) as pool:
        opened = sum(pool.map(_open_all, chunks))
    elapsed = time.perf_counter() - t0
    return {
        "open_image_ms_per_32px_jpeg_1_process": round(per_image_ms, 3),
        "open_images_count": len(paths),
        "open_images_2_processes_s": round(elapsed, 2),
        "open_images_target_s": OPEN_TARGET_S,
        "open_images_meets_target": elapsed < OPEN_TARGET_S and opened == 32 * len(paths),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-runs", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50, help="single-image timings")
    args = parser.parse_args()
    figures = {"model": "efficientnet_lite0"}
    figures.update(bench_load(args.load_runs))
    figures.update(bench_latency(args.runs))
    figures.update(bench_accuracy())
    figures.update(bench_open_images())
    write_result("classify", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
