"""Scalar graph engine speed (issue 3).

Targets: forward + backward of a 10,000-node graph (a chain and a random DAG) in at most
100 ms; building a graph from a 10,000-line program in at most 1 s. Also reported, for
information: the one-off plan compile after a structure change, the stepper with full
records, file save/load of the DAG, and auto-layout of a 500-node graph (issue 4 wants
that under 1 s). Issue 20: the f3 loss surface on a 100 x 100 grid in at most 100 ms
(vectorised with numpy), with and without compiling the grid function.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import reference_cpu_s, write_result

from graph import fileformat
from graph.evaluate import Stepper, evaluate
from graph.examples import build_example
from graph.layout import auto_layout
from graph.model import Graph
from graph.program import from_program
from graph.surface import compile_grid, surface

N = 10_000
REPEATS = 15
TARGET_EVAL_MS = 100.0
TARGET_PROGRAM_S = 1.0
TARGET_SURFACE_MS = 100.0
TARGET_CHECK_20K_S = 20.0


class Times(list):
    """Wall-clock seconds per run, with the process CPU seconds alongside in ``cpu``.

    The machine is shared: under load, wall time includes waiting for a core, so both
    are reported; CPU time is what the code itself costs."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []


def timed(fn: Callable[[], object], repeats: int) -> Times:
    out = Times()
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        out.cpu.append(time.process_time() - cpu)
        out.append(time.perf_counter() - wall)
    return out


def summary_ms(times: Times) -> dict:
    ms = sorted(t * 1000 for t in times)
    cpu = sorted(t * 1000 for t in times.cpu)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
        "cpu_median_ms": round(statistics.median(cpu), 2),
    }


def chain(n: int) -> Graph:
    """x -> op -> op -> ... (n nodes), ops cycling through bounded unary functions."""
    g = Graph()
    prev = g.add_node("input", "x", 0.3)
    cycle = ["tanh", "sigmoid", "neg", "copy", "relu", "square", "abs"]
    for i in range(n - 1):
        node = g.add_node(cycle[i % len(cycle)])
        g.connect(prev, node, 0)
        prev = node
    return g


def random_dag(n: int, seed: int = 0) -> Graph:
    """100 inputs, then n - 100 ops reading random earlier nodes (mostly recent ones)."""
    rng = random.Random(seed)
    g = Graph()
    ids = [g.add_node("input", value=rng.uniform(-1, 1)) for _ in range(100)]
    binary = ["add", "mul", "sub", "max", "min"]
    unary = ["tanh", "sigmoid", "relu", "neg", "copy"]
    for _ in range(n - 100):
        if rng.random() < 0.6:
            node = g.add_node(rng.choice(binary))
            ports = 2
        else:
            node = g.add_node(rng.choice(unary))
            ports = 1
        for port in range(ports):
            k = len(ids)
            src = ids[max(0, k - 1 - int(rng.expovariate(1 / 30)))] if k else ids[0]
            g.connect(src, node, port)
        ids.append(node)
    g.set_output(ids[-1])
    return g


_LINE = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "neg": "-{0}",
    "copy": "{0}",
    "max": "max({0}, {1})",
    "min": "min({0}, {1})",
}


def as_program(g: Graph) -> str:
    """The graph as a program: one line per node (inputs ``x = 0.3``, ops ``y = tanh(x)``)."""
    lines = []
    for n in g.nodes():
        if n.op == "input":
            lines.append(f"{n.name} = {n.value!r}")
            continue
        args = [g.node(s).name for s in n.inputs]  # type: ignore[arg-type]
        template = _LINE.get(n.op, n.op + "({0})")
        lines.append(f"{n.name} = {template.format(*args)}")
    return "\n".join(lines) + "\n"


def program(lines: int) -> str:
    """A micrograd-style program of exactly ``lines`` lines (a deep running sum); it
    makes about 2.7 nodes per line, so it is heavier than the 10,000-node graphs."""
    out = ["x = Value(0.5)", "w = Value(-1.2)", "b = 0.1"]
    k = 0
    while len(out) < lines - 1:
        k += 1
        kind = k % 4
        if kind == 0:
            out.append(f"h{k} = (h{k - 1} * w + b).tanh()" if k > 1 else "h1 = x")
        elif kind == 1:
            out.append(f"h{k} = h{k - 1} + x ** 2" if k > 1 else "h1 = x")
        elif kind == 2:
            out.append(f"h{k} = relu(h{k - 1} - b)")
        else:
            out.append(f"h{k} = h{k - 1} * 0.5 + sigmoid(h{k - 1})")
    out.append(f"L = h{k} ** 2")
    return "\n".join(out) + "\n"


def bench_eval(name: str, g: Graph) -> dict:
    start = time.perf_counter()
    first = evaluate(g)  # compiles the plan (topological order etc.) once
    cold = time.perf_counter() - start
    assert first.problem is None, first.problem
    warm = timed(lambda: evaluate(g), REPEATS)
    forward_only = timed(lambda: evaluate(g, backward=False), REPEATS)
    stepper = timed(lambda: Stepper(g, publish=False).run_all(), 3)
    result = {
        "nodes": len(g),
        "edges": len(g.edges()),
        "forward_backward": summary_ms(warm),
        "forward_only": summary_ms(forward_only),
        "first_run_with_plan_compile_ms": round(cold * 1000, 2),
        "stepper_run_all_with_records": summary_ms(stepper),
        "meets_target": statistics.median(warm) * 1000 <= TARGET_EVAL_MS,
        "meets_target_cpu": statistics.median(warm.cpu) * 1000 <= TARGET_EVAL_MS,
    }
    print(f"{name}: forward+backward median {result['forward_backward']['median_ms']} ms")
    return result


def bench_surface() -> dict:
    """f3 over a 100 x 100 grid of (s1, s2): the whole surface() call, and the compiled
    grid function alone; plus the engine called per point, for comparison."""
    import numpy as np

    g = build_example("f3")
    s1, s2 = g.id_of("s1"), g.id_of("s2")
    whole = timed(lambda: surface(g, s1, s2, steps=100), REPEATS)
    run = compile_grid(g)
    gx, gy = np.meshgrid(np.linspace(-2, 4, 100), np.linspace(-1, 5, 100))
    grid_only = timed(lambda: run({s1: gx, s2: gy}), REPEATS)
    points = [(float(a), float(b)) for a, b in zip(gx.ravel(), gy.ravel(), strict=True)]
    per_point = timed(
        lambda: [evaluate(g, None, {s1: a, s2: b}, backward=False) for a, b in points], 1
    )
    result = {
        "grid": "100 x 100",
        "surface_call": summary_ms(whole),
        "compiled_grid_function": summary_ms(grid_only),
        "engine_per_point_10k_calls": summary_ms(per_point),
        "meets_target": statistics.median(whole) * 1000 <= TARGET_SURFACE_MS,
    }
    print(f"surface f3 100x100: median {result['surface_call']['median_ms']} ms")
    return result


def bench_gradcheck_20k_inputs() -> dict:
    """``graph eval --check`` on a program summing the squares of 20,000 inputs: the
    default (a random sample of 2,000) and every input (``--check-all``)."""
    from graph.gradcheck import gradcheck

    n = 20_000
    lines = [f"x{i} = {0.001 * i}" for i in range(n)] + ["s = x0 * x0"]
    lines += [f"s = s + x{i} * x{i}" for i in range(1, n)]
    g = from_program("\n".join(lines))
    sampled = timed(lambda: gradcheck(g), 3)
    every = timed(lambda: gradcheck(g, max_inputs=None), 1)
    result = {
        "inputs": n,
        "nodes": len(g),
        "sampled_2000_s": round(statistics.median(sampled), 3),
        "sampled_2000_cpu_s": round(statistics.median(sampled.cpu), 3),
        "check_all_s": round(statistics.median(every), 3),
        "check_all_cpu_s": round(statistics.median(every.cpu), 3),
        "target_s": TARGET_CHECK_20K_S,
        "meets_target": statistics.median(every) <= TARGET_CHECK_20K_S,
    }
    print(
        f"gradcheck 20,000 inputs: sampled {result['sampled_2000_s']} s, "
        f"all {result['check_all_s']} s"
    )
    return result


def main() -> None:
    t0 = time.perf_counter()
    g_chain = chain(N)
    build_chain_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    g_dag = random_dag(N)
    build_dag_s = time.perf_counter() - t0

    chain_result = bench_eval("chain", g_chain)
    dag_result = bench_eval("random DAG", g_dag)
    chain_result["built_through_edit_api_s"] = round(build_chain_s, 3)
    dag_result["built_through_edit_api_s"] = round(build_dag_s, 3)

    built = {}
    for name, g in (("chain_10k", g_chain), ("random_dag_10k", g_dag)):
        src = as_program(g)
        assert src.count("\n") == N
        times = timed(lambda src=src: from_program(src), 5)
        made = from_program(src)
        assert len(made) == N, len(made)
        built[name] = {
            "lines": N,
            "nodes": len(made),
            "from_program_s_median": round(statistics.median(times), 3),
            "from_program_s_max": round(max(times), 3),
            "from_program_cpu_s_median": round(statistics.median(times.cpu), 3),
            "includes": "ast parse, graph build, auto-layout",
            "meets_target": statistics.median(times) <= TARGET_PROGRAM_S,
            "meets_target_cpu": statistics.median(times.cpu) <= TARGET_PROGRAM_S,
        }
        print(f"{name} from a program: median {built[name]['from_program_s_median']} s")

    source = program(N)
    assert source.count("\n") == N
    parse_times = timed(lambda: from_program(source), 5)
    prog_graph = from_program(source)
    layout_big = timed(lambda: auto_layout(prog_graph), 3)
    prog_eval = timed(lambda: evaluate(prog_graph), 5)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dag.json"
        save_times = timed(lambda: fileformat.save(g_dag, path), 3)
        load_times = timed(lambda: fileformat.load(path), 3)
        file_mb = path.stat().st_size / 1e6

    g500 = random_dag(500, seed=1)
    layout_times = timed(lambda: auto_layout(g500), 5)
    surface_result = bench_surface()
    check_result = bench_gradcheck_20k_inputs()

    write_result(
        "graph",
        {
            "targets": {
                "forward_backward_10k_ms": TARGET_EVAL_MS,
                "program_10k_lines_s": TARGET_PROGRAM_S,
                "surface_f3_100x100_ms": TARGET_SURFACE_MS,
                "gradcheck_20k_inputs_s": TARGET_CHECK_20K_S,
            },
            "surface_f3_100x100": surface_result,
            "gradcheck_20k_inputs": check_result,
            "chain_10k": chain_result,
            "random_dag_10k": dag_result,
            "program_10k_lines_one_node_each": built,
            "program_10k_lines_micrograd_style": {
                "lines": N,
                "nodes": len(prog_graph),
                "from_program_s_median": round(statistics.median(parse_times), 3),
                "from_program_s_min": round(min(parse_times), 3),
                "from_program_s_max": round(max(parse_times), 3),
                "from_program_cpu_s_median": round(statistics.median(parse_times.cpu), 3),
                "includes": "ast parse, graph build, auto-layout",
                "auto_layout_alone": summary_ms(layout_big),
                "forward_backward": summary_ms(prog_eval),
                "meets_target_if_it_applied": statistics.median(parse_times) <= TARGET_PROGRAM_S,
                "note": "27,000+ nodes, more than the 10,000-node graphs the target is about",
            },
            "file_10k_dag": {
                "size_mb": round(file_mb, 2),
                "save": summary_ms(save_times),
                "load_validated": summary_ms(load_times),
            },
            "auto_layout_500_nodes": summary_ms(layout_times),
            "meets_all_targets": chain_result["meets_target"]
            and dag_result["meets_target"]
            and all(b["meets_target"] for b in built.values())
            and surface_result["meets_target"],
            "reference_cpu_s_sum_range_1e7": reference_cpu_s(),
        },
    )


if __name__ == "__main__":
    main()
