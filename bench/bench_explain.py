"""Issue 15: "explain this number" and stepping the two-layer net as a graph (model side).

Targets: ``explain`` of any element kind, including folding 3,072 terms, under 200 ms;
each step of a batch of 16 through the whole net under 100 ms in the GUI (here: the
model's share, the layer call plus the node's statistics the view shows).

Set-up: the seed's CIFAR-10 shape (3072 inputs, 10 classes), hidden size 512 (the tuned
preset), float64, a batch of 16 standard-normal images (timings do not depend on the
pixel values), reg 0.1. Each figure is the median over REPEATS runs with min and max
and the process CPU time; ``reference_cpu_s_sum_range_1e7`` (about 0.1 s on an idle
core) shows how much the machine was shared. Writes bench/results/explain.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import reference_cpu_s, write_result
from bench_graph import summary_ms, timed

from nets.mlp.blas_threads import set_blas_threads
from nets.mlp.explain import explain
from nets.mlp.netgraph import build_netgraph, fresh_weights, random_batch

REPEATS = 15
TARGET_EXPLAIN_MS = 200.0
TARGET_STEP_MS = 100.0
HIDDEN = 512
N = 16

ELEMENTS = (
    "value:X[3,1000]",
    "value:W1[1023,41]",
    "value:a1[3,41]",  # 3,072 products: 8 shown, 3,064 folded
    "value:h1[3,41]",
    "value:scores[2,7]",
    "value:L",  # also folds the 1,572,864 squares of W1
    "grad:L",
    "grad:scores[2,7]",
    "grad:W2[41,7]",
    "grad:b2[3]",
    "grad:h1[0,41]",
    "grad:a1[0,41]",
    "grad:W1[1023,41]",
    "grad:b1[41]",
    "grad:X[0,5]",  # 512 terms
)


def _net():
    weights = fresh_weights("TwoLayerNet", 3072, 10, HIDDEN, 1e-3, seed=0)
    return build_netgraph(weights, random_batch(N, 3072, 10, seed=1), reg=0.1)


def bench_explain() -> dict:
    ng = _net()
    ng.run_all()
    figures: dict = {}
    for element in ELEMENTS:
        figures[element] = summary_ms(timed(lambda e=element: explain(ng, e), REPEATS))
    ex = explain(ng, "value:a1[3,41]")
    figures["unfold a1 by 8 more terms"] = summary_ms(timed(lambda: ex.unfold("a1"), REPEATS))
    worst = max(v["median_ms"] for v in figures.values())
    worst_max = max(v["max_ms"] for v in figures.values())

    def cold() -> None:  # a netgraph still mid-way: explain runs the full pass on a twin first
        explain(_net(), "grad:W1[1023,41]")

    return {
        "explain": figures,
        "explain_worst_median_ms": worst,
        "explain_worst_max_ms": worst_max,
        "explain_meets_target": worst < TARGET_EXPLAIN_MS,
        "explain_cold_incl_full_pass_and_build": summary_ms(timed(cold, 5)),
    }


def _steps(threads: int) -> dict:
    set_blas_threads(threads)
    build = timed(_net, REPEATS)
    per_step: dict[str, list[tuple[float, float]]] = {}
    totals = []
    for _ in range(REPEATS):
        ng = _net()
        start = time.perf_counter()
        while True:
            t0, c0 = time.perf_counter(), time.process_time()
            step = ng.step_forward() or ng.step_backward()
            if step is None:
                break
            # what the view shows after a step: the statistics of the node's output
            # (forward) or of the gradients it sent to its inputs (backward)
            if step.direction == "forward":
                ng.stats(step.node, "value")
            else:
                for name in ng.node(step.node).inputs:
                    ng.stats(name, "grad")
            key = f"{step.direction} {step.node}"
            took = (time.perf_counter() - t0, time.process_time() - c0)
            per_step.setdefault(key, []).append(took)
        totals.append(time.perf_counter() - start)
    steps = {}
    for key, times in per_step.items():
        ms = sorted(t[0] * 1000 for t in times)
        cpu = sorted(t[1] * 1000 for t in times)
        steps[key] = {
            "median_ms": round(ms[len(ms) // 2], 2),
            "min_ms": round(ms[0], 2),
            "max_ms": round(ms[-1], 2),
            "cpu_median_ms": round(cpu[len(cpu) // 2], 2),
        }
    worst = max(v["median_ms"] for v in steps.values())
    return {
        "build_netgraph": summary_ms(build),
        "steps_incl_stats": steps,
        "step_worst_median_ms": worst,
        "step_worst_max_ms": max(v["max_ms"] for v in steps.values()),
        "step_worst_cpu_median_ms": max(v["cpu_median_ms"] for v in steps.values()),
        "step_meets_target_model_side": worst < TARGET_STEP_MS,
        "whole_pass_14_steps_median_ms": round(sorted(totals)[len(totals) // 2] * 1000, 1),
    }


def bench_steps() -> dict:
    """Stepping with one and with two BLAS threads (on a shared machine one is often
    faster: see nets.mlp.blas_threads)."""
    previous = set_blas_threads(1)
    if previous is None:
        return {"stepping": _steps(0)}
    try:
        return {"stepping_blas_1_thread": _steps(1), "stepping_blas_2_threads": _steps(2)}
    finally:
        set_blas_threads(previous)


def main() -> None:
    figures = {
        "setup": f"TwoLayerNet 3072-{HIDDEN}-10 float64, batch {N}, reg 0.1, {REPEATS} repeats",
        "target_explain_ms": TARGET_EXPLAIN_MS,
        "target_step_ms": TARGET_STEP_MS,
        "reference_cpu_s_sum_range_1e7": reference_cpu_s(),
    }
    figures.update(bench_explain())
    figures.update(bench_steps())
    figures["reference_cpu_s_sum_range_1e7_after"] = reference_cpu_s()
    write_result("explain", figures)


if __name__ == "__main__":
    main()
