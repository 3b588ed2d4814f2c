"""Print the README's performance rows (issue 22) from bench/results/*.json.

    python bench/readme_table.py [--write]

``--write`` puts the rows into README.md's benchmark table in place of the rows they
replace (matched by their first cell). Each row gives the median and its spread over the
run's repetitions, so the README never holds a figure the JSON files do not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _span(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def _reference_row() -> list[str]:
    """The machine's own speed over the run, from every result's machine block."""
    refs = [
        m["reference_cpu_s"]
        for path in sorted(RESULTS.glob("*.json"))
        if isinstance(m := json.loads(path.read_text()).get("machine"), dict)
        and "reference_cpu_s" in m
    ]
    if not refs:
        return []
    return [
        f"| machine's own speed: CPU time of `sum(range(10**7))`, at each result | "
        f"{_span(refs, 3)} s over {len(refs)} results (0.099 s on 27 November) | measured |"
    ]


def rows() -> list[str]:
    out = _reference_row()
    mlp = _load("mlp")
    s = mlp.get("speed", {})
    if s:
        g = s["gemm"]
        best = ", ".join(f"{v:.0f}" for v in g["best_gflops"].values())
        kernels = "/".join(
            str(lib.get("architecture")) for lib in s.get("blas", {}).get("libraries", [])
        )
        out.append(
            f"| machine's float32 GEMM rate, first layer's two shapes | {best} GFLOP/s "
            f"(floor {g['floor_seconds']:.2f} s per epoch"
            + (f"; OpenBLAS kernel {kernels}" if kernels else "")
            + ") | measured first |"
        )
        paired = s.get("fraction_of_gemm_floor_measured_before_each_epoch")
        again = (
            f"; {100 * paired['median']:.0f} % (epochs {_span(paired['per_epoch'])}) against "
            "the floor measured again before each epoch"
            if paired
            else ""
        )
        out.append(
            f"| numpy epoch (3072-512-10, batch 256, 45,000 images) | "
            f"{s['numpy_median']:.2f} s (pairs {_span(s['numpy_seconds'])}), "
            f"{100 * s['fraction_of_gemm_floor']:.0f} % of the GEMM floor{again} (load "
            f"average {s['load_before'][0]:.1f}) | >= 70 % |"
        )
        if "wall" in s:
            w, c = s["wall"], s["cpu"]
            out.append(
                f"| numpy / PyTorch epoch, same batches ({len(w['ratio_per_pair'])} pairs) | "
                f"{w['median_ratio_of_pairs']:.2f} (pairs {_span(w['ratio_per_pair'])}; CPU "
                f"time {c['median_ratio_of_pairs']:.2f}); PyTorch "
                f"{s['torch_median']:.2f} s | <= 0.90 |"
            )
    ld = mlp.get("loading", {})
    if ld:
        out.append(
            f"| 50,000 CIFAR JPEGs loaded (cold / cold with the files in the OS cache / "
            f"cached arrays) | {ld['cold_seconds']:.1f} s / "
            f"{ld.get('cold_seconds_files_in_os_cache', float('nan')):.1f} s / "
            f"{ld['cached_seconds']:.1f} s | 15 s |"
        )
    o = mlp.get("overfit", {})
    if o:
        out.append(
            f"| `overfit`: training accuracy, training time | {100 * o['final_train_acc']:.0f} %, "
            f"{o['training_seconds']:.1f} s | 75 %, 30 s |"
        )
    t = mlp.get("tuned", {})
    if t:
        first = next((e for e in t.get("epochs", []) if e["val_acc"] >= 0.56), None)
        reached = (
            f"56 % first at epoch {first['epoch']} after {first['elapsed']:.0f} s of training "
            f"({100 * first['val_acc']:.1f} %); "
            if first
            else "56 % not reached; "
        )
        out.append(
            f"| `tuned` on CIFAR-10 JPEGs (45,000/5,000): validation accuracy | {reached}"
            f"{100 * t['final_val_acc']:.1f} % after {t['training_seconds']:.0f} s of training "
            f"({t['wall_seconds']:.0f} s wall) | 56 %, 60 s |"
        )
    cnn = _load("cnn")
    if cnn.get("test_acc_per_seed"):
        accs = ", ".join(f"{100 * a:.2f}" for a in cnn["test_acc_per_seed"])
        times = ", ".join(f"{v:.0f}" for v in cnn["training_s_per_seed"])
        walls = ", ".join(f"{v:.0f}" for v in cnn["train_wall_s_per_seed"])
        used = cnn.get("anchor_settings", {}).get("precision", "float32").split(" ")[0]
        out.append(
            f"| CNN default preset ({used} on this CPU), seeds 0-2: Fashion-MNIST test "
            "accuracy, training time | "
            f"{accs} %; {times} s (whole process {walls} s) | 92.5 % each, 120 s |"
        )
        p = cnn["overhead_pairs"]
        out.append(
            f"| CNN epoch: app / plain PyTorch loop ({len(p['ratio_per_pair'])} pairs) | "
            f"{cnn['epoch_time_ratio']:.3f} (pairs {_span(p['ratio_per_pair'], 3)}; CPU time "
            f"{cnn['epoch_cpu_time_ratio']:.3f}"
            + (
                f"; fastest epochs {cnn['fastest_epoch_ratio']:.3f}"
                if "fastest_epoch_ratio" in cnn
                else ""
            )
            + ") | <= 1.05 |"
        )
    out.extend(_inside_rows())
    out.extend(_search_rows())
    out.extend(_other_rows())
    st = _load("startup")
    if st:
        cases = st.get("cases")
        if cases:  # the fresh user and a returning user per last tab: the worst counts
            each = ", ".join(
                f"{name.removeprefix('returning_user_')} {c['first_window_s_median']:.3f}"
                for name, c in cases.items()
            )
            # The restored tab complete: differs from the first frame for the training
            # tabs only (their plots are built right after it, gui.startup_report).
            later = ", ".join(
                f"{name.removeprefix('returning_user_')} {c['tab_ready_s_median']:.2f}"
                for name, c in cases.items()
                if c.get("tab_ready_s_median", 0) > c["first_window_s_median"] + 0.02
            )
            ready = (
                f" / tab ready {st['tab_ready_s_worst_median']:.2f} s ({later or 'none later'} s"
                "; the other cases: their first frame)"
                if "tab_ready_s_worst_median" in st
                else ""
            )
            load = st.get("machine", {}).get("loadavg_1_5_15")
            out.append(
                f"| first window painted / restored tab ready ({st['runs']} launches per case, "
                f"worst median) | {st['first_window_s_median']:.3f} s ({each} s){ready}"
                f"{f'; load {load[0]:.1f}' if load else ''} | 0.5 s / - |"
            )
        else:
            out.append(
                f"| first window shown ({st['runs']} launches) | "
                f"{st['first_window_s_median']:.2f} s (range {_span(st['all_s'])}) | 0.5 s |"
            )
    return out


def _inside_rows() -> list[str]:
    """Issue 14's figures: what the internals cost, the Inside view's stall, lr-find."""
    out = []
    inn = _load("internals")
    direct = [inn.get("mlp_direct"), inn.get("cnn_direct_full_epoch")]
    mixed = [inn.get("mlp_interleaved"), inn.get("cnn_interleaved")]
    if all(direct) and all(mixed):
        d = "; ".join(
            f"{name} {100 * x['fraction_of_run_cpu']:.1f} % of the CPU time "
            f"({100 * x['fraction_of_run']:.1f} % wall)"
            for name, x in zip(("numpy", "CNN"), direct, strict=True)
        )
        m = ", ".join(
            f"{name} {x['cpu_ratio']:.3f} (blocks {_span(x['block_cpu_ratio_min_median_max'], 3)})"
            for name, x in zip(("numpy", "CNN"), mixed, strict=True)
        )
        out.append(
            f"| layer internals every {inn['internals_every']} steps: time spent in them / "
            f"on:off CPU ratio, runs interleaved | {d} / {m} | 3 % |"
        )
    gui = _load("internals_gui")
    shown = [t for t in gui.get("tab", []) if t.get("inside_shown")]
    if gui.get("feed") and shown:
        x11 = _load("internals_gui_x11").get("feed")
        real = f"; {x11['worst_stall_ms']:.0f} ms in a real X window" if x11 else ""
        out.append(
            f"| Inside view: worst event-loop stall, every histogram updating / CNN tab "
            f"training with Inside shown | {gui['feed']['worst_stall_ms']:.0f} ms{real} / "
            f"{shown[0]['worst_stall_ms']:.0f} ms | 50 ms |"
        )
    lr = _load("lr_find")
    if lr:
        check = lr.get("train_check", {})
        seeds = lr.get("over_seeds", {}).get("suggested_lr", [])
        spread = (
            f" ({min(seeds):.2g}-{max(seeds):.2g} over {len(seeds)} seeds of the test)"
            if len(seeds) > 1
            else ""
        )
        trained = (
            f"; its suggestion {check['lr_suggested']:.2g}{spread} trains `tuned` to "
            f"{100 * check['val_acc_suggested']:.1f} % validation (own lr "
            f"{check['lr_tuned']:.2g}: {100 * check['val_acc_tuned']:.1f} %)"
            if check.get("val_acc_suggested") is not None
            else ""
        )
        out.append(
            f"| numpy `lr-find` on CIFAR-10 ({lr['runs']} runs) | {lr['wall_s']['median']:.1f} s "
            f"(range {lr['wall_s']['min']:.1f}-{lr['wall_s']['max']:.1f}){trained} | 20 s, "
            f"within 2 points |"
        )
    return out


def _other_rows() -> list[str]:
    """The graph engine, the Graph tab, Classify, explain, the network graph, closing."""
    out = []
    g = _load("graph")
    if g:
        fb = [g[k]["forward_backward"]["median_ms"] for k in ("chain_10k", "random_dag_10k")]
        prog = g["program_10k_lines_one_node_each"]
        ps = [prog[k]["from_program_s_median"] for k in ("chain_10k", "random_dag_10k")]
        out.append(
            f"| graph forward+backward, 10,000 nodes (chain, random DAG; median) | "
            f"{fb[0]:.0f} / {fb[1]:.0f} ms | 100 ms |"
        )
        out.append(
            f"| graph from a 10,000-line program (chain, random DAG; median) | "
            f"{ps[0]:.2f} / {ps[1]:.2f} s | 1 s |"
        )
    gg = _load("graph_gui")
    if gg:
        out.append(
            f"| Graph tab: 500-node layout / worst pan-zoom stall | "
            f"{gg['layout_s_worst_median']:.3f} s / {gg['worst_gap_ms']:.0f} ms (CPU in it "
            f"{gg['max_cpu_in_a_gap_ms']:.0f} ms) | 1 s / 50 ms |"
        )
    c = _load("classify")
    if c:
        out.append(
            f"| EfficientNet-Lite0: load / one image / top-1 on {c['samples']} samples | "
            f"{c['load_model_s_median']:.2f} s / {c['single_image_ms_median_default']:.0f} ms / "
            f"{100 * c['top1']:.0f} % | 1 s / 50 ms / 85 % |"
        )
    e = _load("explain")
    if e:
        worst = max(
            (v for k, v in e["explain"].items() if k != "value:L" and "median_ms" in v),
            key=lambda v: v["median_ms"],
        )
        one, two = e["stepping_blas_1_thread"], e["stepping_blas_2_threads"]
        out.append(
            f"| explain one number: any element / `value:L` (1.6 M squares folded), median | "
            f"at most {worst['median_ms']:.1f} ms / {e['explain']['value:L']['median_ms']:.0f} ms "
            f"(worst single run {e['explain_worst_max_ms']:.0f} ms) | 200 ms |"
        )
        out.append(
            f"| network graph, batch 16, hidden 512: slowest step incl. its statistics (model "
            f"side), median | {one['step_worst_median_ms']:.0f} ms with 1 BLAS thread, "
            f"{two['step_worst_median_ms']:.0f} ms with 2 | 100 ms |"
        )
    sd = _load("shutdown")
    if sd:
        out.append(
            f"| closing mid-training, {sd['runs']} times | {sd['passed']} of {sd['runs']} exit "
            f"0, at most {sd['exit_after_close_s_max']:.2f} s | {sd['limit_s']:.0f} s |"
        )
    return out


def _search_rows() -> list[str]:
    """Issue 18's figures: search throughput with 1 and 2 workers, the 5-minute search."""
    out = []
    se = _load("search")
    th, tpe = se.get("throughput"), se.get("tpe_search")
    if not th or not tpe:
        return out
    runs = th["runs"]
    loads = [x for r in runs.values() for x in (r["load_before"][0], r["load_after"][0])]
    out.append(
        f"| search, numpy net on CIFAR-10: trials per minute, 1 / 2 workers | "
        f"{runs['1']['trials_per_minute']:.1f} / {runs['2']['trials_per_minute']:.1f} "
        f"({th['speedup_2_vs_1']:.2f}x; load {_span(loads, 1)}) | 1.6x |"
    )
    best, tuned = tpe.get("best_final_val_acc"), se["tuned_preset"]["final_val_acc"]
    states = tpe.get("trials_by_state") or tpe.get("summary", {}).get("states", {})
    counts = ", ".join(f"{n} {k.lower()}" for k, n in states.items() if n)
    total = se.get("total_seconds")
    script = f"; whole script {total / 60:.1f} min" if total else ""
    found = "nothing complete" if best is None else f"{100 * best:.1f} %"
    out.append(
        f"| 5-minute TPE search, median pruning: best final validation accuracy | {found} "
        f"({counts}; load {tpe['load_before'][0]:.1f}-{tpe['load_after'][0]:.1f}{script}) "
        f"vs `tuned` {100 * tuned:.1f} % (this run) | `tuned`'s, 10 min |"
    )
    return out


#: First cells of the README rows these figures replace (older wordings included).
REPLACED = (
    "| machine's own speed",
    "| machine's float32 GEMM rate",
    "| numpy epoch (",
    "| numpy / PyTorch epoch",
    "| `tuned` on CIFAR-10",
    "| CNN default preset",
    "| CNN epoch: app / plain",
    "| first window shown",
    "| first window painted",
    "| 50,000 CIFAR JPEGs loaded",
    "| `overfit`:",
    "| layer internals every",
    "| Inside view: worst",
    "| numpy `lr-find`",
    "| search, numpy net on CIFAR-10",
    "| 5-minute TPE search",
    "| graph forward+backward",
    "| graph from a 10,000-line program",
    "| Graph tab: 500-node layout",
    "| EfficientNet-Lite0:",
    "| explain one number",
    "| network graph, batch 16",
    "| closing mid-training",
)


def write_readme(new_rows: list[str]) -> None:
    readme = RESULTS.parents[1] / "README.md"
    lines = readme.read_text().splitlines()
    lines.index("| what | measured | target |")  # ValueError if the table moved
    kept = [ln for ln in lines if not ln.startswith(REPLACED)]
    at = kept.index("| what | measured | target |") + 2  # after the |---| line
    readme.write_text("\n".join([*kept[:at], *new_rows, *kept[at:]]) + "\n")


def main() -> int:
    new_rows = rows()
    print("\n".join(new_rows))
    if "--write" in sys.argv[1:]:
        write_readme(new_rows)
    loads = {
        name: _load(name).get("machine", {}).get("loadavg_1_5_15")
        or _load(name).get("machine", {}).get("load_average_start")
        for name in ("mlp", "cnn", "startup")
    }
    print(f"\nload averages at the start: {loads}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
