"""``backprop-explorer graph eval|export``: evaluate or export a graph file or program.

::

    backprop-explorer graph eval FILE.json|PROGRAM.py [--set NAME=VALUE ...]
                                 [--output NAME] [--check] [--step H] [--json]
    backprop-explorer graph export FILE --to py|dot|json [--out PATH] [--set ...] [--output NAME]
    backprop-explorer graph surface FILE --x NAME [--y NAME] [--range LO:HI] [--steps N]
                                    [--json | --out PLOT.png] [--set ...] [--output NAME]

``eval`` prints the output's value and dL/d(input) for every input; ``--check`` adds a
central-difference gradient check with relative errors. ``--json`` prints one object
``{"output": NAME, "value": v, "grads": {input: g}, "check": {input: rel_error}}``
("check" only with ``--check``; inputs that get no gradient are left out of it), with
non-finite numbers written as the strings "nan", "inf" and "-inf".
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from graph.errors import GraphError


def _assignment(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        number = float(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value.strip()!r} is not a number") from None
    return name, number


def _positive(text: str) -> float:
    try:
        h = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(h) and h > 0):
        raise argparse.ArgumentTypeError(f"the step must be a positive number, got {text}")
    return h


def _range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition(":")
    try:
        pair = (float(lo), float(hi))
    except ValueError:
        pair = None
    if not sep or pair is None or not all(math.isfinite(v) for v in pair) or pair[0] >= pair[1]:
        raise argparse.ArgumentTypeError(f"expected LO:HI with LO < HI, got {text!r}")
    return pair


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``graph`` with its ``eval``, ``export`` and ``surface`` actions."""
    p = subparsers.add_parser(
        "graph",
        help="evaluate or export a scalar computational graph (.json) or program (.py)",
        description="Evaluate or export a scalar computational graph or a small Python program.",
    )
    actions = p.add_subparsers(dest="graph_action", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("file", metavar="FILE", help="a graph file (.json) or a program (.py)")
        q.add_argument(
            "--set",
            dest="assignments",
            metavar="NAME=VALUE",
            type=_assignment,
            action="append",
            default=[],
            help="set an input (or constant) before evaluating; repeatable",
        )
        q.add_argument("--output", metavar="NAME", help="the node to differentiate")

    e = actions.add_parser(
        "eval",
        help="print the output's value and the gradient of every input",
        description="Print the output's value and dL/d(input) for every input.",
    )
    common(e)
    e.add_argument("--check", action="store_true", help="compare with central differences")
    e.add_argument(
        "--check-all",
        action="store_true",
        help="with --check on a graph of over 2,000 inputs, check every input instead of a "
        "random sample of 2,000",
    )
    e.add_argument(
        "--step",
        metavar="H",
        type=_positive,
        default=None,
        help="finite-difference step for --check (default 1e-5)",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(handler=run_eval)

    x = actions.add_parser(
        "export",
        help="write the graph as Python code, Graphviz DOT or a graph file",
        description="Write the graph as Python code (seed style), Graphviz DOT or graph JSON.",
    )
    common(x)
    x.add_argument("--to", required=True, choices=("py", "dot", "json"), help="export format")
    x.add_argument("--out", "-o", metavar="PATH", help="write here (atomically) instead of stdout")
    x.set_defaults(handler=run_export)

    s = actions.add_parser(
        "surface",
        help="the output over a grid of one or two inputs (the loss surface)",
        description=(
            "Evaluate the output over a grid of one input (--x) or two (--x, --y), every "
            "other input held at its value. Prints a table, JSON (--json) or draws a PNG "
            "(--out)."
        ),
    )
    common(s)
    s.add_argument("--x", required=True, metavar="NAME", help="the input on the x axis")
    s.add_argument("--y", metavar="NAME", help="a second input: a contour plot")
    s.add_argument(
        "--range",
        dest="ranges",
        metavar="LO:HI",
        type=_range,
        action="append",
        default=[],
        help="the axis range (default: the value ±3); give it twice for x then y",
    )
    s.add_argument(
        "--steps", metavar="N", type=int, default=None, help="grid points per axis (default 21)"
    )
    how = s.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print one JSON object")
    how.add_argument("--out", "-o", metavar="PLOT.png", help="draw the plot to a PNG file")
    s.set_defaults(handler=run_surface)


def _open(args: argparse.Namespace):
    from graph.fileformat import load_any

    graph = load_any(args.file)
    for name, value in args.assignments:
        node_id = graph.find(name)
        if node_id is None:
            inputs = ", ".join(graph.node(i).name for i in graph.inputs()) or "none"
            raise GraphError(f"--set {name}: there is no node named {name!r} (inputs: {inputs})")
        graph.set_value(node_id, value)
    output = None
    if args.output is not None:
        output = graph.find(args.output)
        if output is None:
            raise GraphError(f"--output: there is no node named {args.output!r}")
    return graph, output


def _json_number(x: float | None) -> Any:
    if x is None:
        return None
    if math.isfinite(x):
        return x
    if x != x:
        return "nan"
    return "inf" if x > 0 else "-inf"


def _text_number(x: float | None) -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return _json_number(x)
    return f"{x:.10g}"


def run_eval(args: argparse.Namespace) -> int:
    """``graph eval``: exit 0 with the numbers, or raise GraphError (exit 1)."""
    from graph.evaluate import evaluate
    from graph.gradcheck import DEFAULT_H, MAX_CHECKED, gradcheck

    graph, output = _open(args)
    result = evaluate(graph, output)
    if result.problem is not None or result.output is None:
        hint = " (pass --output NAME)" if "sinks" in (result.problem or "") else ""
        raise GraphError(f"cannot evaluate: {result.problem}{hint}")
    out_name = graph.node(result.output).name
    inputs = graph.inputs()
    grads = {graph.node(i).name: result.grads.get(i, 0.0) for i in inputs}
    reach_out = graph.ancestors(result.output)
    no_grad = {graph.node(i).name for i in inputs if i not in result.grads and i in reach_out}
    unreached = {graph.node(i).name for i in inputs if i not in reach_out}
    check = None
    if args.check or args.check_all:
        check = gradcheck(
            graph,
            args.step or DEFAULT_H,
            result.output,
            max_inputs=None if args.check_all else MAX_CHECKED,
        )
        if check.sampled:
            done, total = check.checked_of
            print(
                f"note: checked a random sample of {done:,} of the {total:,} inputs "
                "(--check-all checks every one)",
                file=sys.stderr,
            )
    if args.json:
        obj: dict[str, Any] = {
            "output": out_name,
            "value": _json_number(result.value),
            "grads": {k: _json_number(v) for k, v in grads.items()},
        }
        if check is not None:
            obj["check"] = {
                c.name: _json_number(c.rel_error)
                for c in check.inputs
                if not c.no_grad and c.name not in unreached
            }
            if check.sampled:
                obj["check_sample"] = {"checked": check.checked_of[0], "of": check.checked_of[1]}
        print(json.dumps(obj, allow_nan=False))
    else:
        width = max([len(n) for n in grads] + [1])
        print(f"{out_name} = {_text_number(result.value)}")
        if check is not None:
            pad = width + len(out_name) + 3
            print(f"  {'':{pad}}  {'analytic':>17}  {'numeric':>17}  {'rel. error':>10}")
            for c in check.inputs:
                label = f"d{out_name}/d{c.name}".ljust(pad)
                if c.no_grad:
                    print(f"  {label}  {'-':>17}  {'-':>17}  {'-':>10}  no gradient (selector)")
                    continue
                if c.name in unreached:
                    print(f"  {label}  {0:>17}  {0:>17}  {'-':>10}  does not reach the output")
                    continue
                rel = "nan" if c.rel_error != c.rel_error else f"{c.rel_error:.2e}"
                line = (
                    f"  {label}  {_text_number(c.analytic):>17}  "
                    f"{_text_number(c.numeric):>17}  {rel:>10}"
                )
                print(line + ("  " + "; ".join(c.notes) if c.notes else ""))
        else:
            for name, g in grads.items():
                note = "  (no gradient: it only feeds a selector)" if name in no_grad else ""
                if name in unreached:
                    note = "  (does not reach the output)"
                print(f"  d{out_name}/d{name.ljust(width)} = {_text_number(g)}{note}")
    if result.nonfinite:
        where = ", ".join(sorted(graph.node(i).name for i in result.nonfinite))
        print(f"warning: a nan or inf first appears at {where}", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``graph export``: write Python, DOT or graph JSON to --out or stdout."""
    from graph import fileformat
    from graph.export import to_dot, to_python

    graph, output = _open(args)
    if output is not None:
        graph.set_output(output)
    if args.to == "py":
        text = to_python(graph, output)
    elif args.to == "dot":
        text = to_dot(graph)
    else:
        text = fileformat.dumps(graph)
    if args.out:
        fileformat.atomic_write_bytes(args.out, text.encode("utf-8"))
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _input_id(graph, name: str, flag: str) -> str:
    node_id = graph.find(name)
    if node_id is None or graph.node(node_id).op != "input":
        inputs = ", ".join(graph.node(i).name for i in graph.inputs()) or "none"
        raise GraphError(f"{flag} {name}: the graph has no input named {name!r} (inputs: {inputs})")
    return node_id


def run_surface(args: argparse.Namespace) -> int:
    """``graph surface``: the output over a grid, as a table, JSON or a PNG."""
    from graph.evaluate import evaluate
    from graph.surface import MAX_STEPS, surface

    if len(args.ranges) > (2 if args.y else 1):
        raise GraphError("--range: give it once per axis (x, then y)")
    steps = 21 if args.steps is None else args.steps
    if not 2 <= steps <= MAX_STEPS:
        raise GraphError(f"--steps must be from 2 to {MAX_STEPS}, got {steps}")
    graph, output = _open(args)
    x = _input_id(graph, args.x, "--x")
    y = _input_id(graph, args.y, "--y") if args.y else None
    x_range = args.ranges[0] if args.ranges else None
    y_range = args.ranges[-1] if y is not None and args.ranges else None
    surf = surface(graph, x, y, x_range, y_range, steps, output)
    names = {nid: graph.node(nid).name for nid in graph.node_ids()}
    if args.json:
        obj: dict[str, Any] = {
            "output": names[surf.output],
            "x": names[x],
            "xs": [float(v) for v in surf.xs],
        }
        if y is not None:
            obj["y"] = names[y]
            obj["ys"] = [float(v) for v in surf.ys]  # type: ignore[union-attr]
            obj["z"] = [[_json_number(float(v)) for v in row] for row in surf.z]
        else:
            obj["z"] = [_json_number(float(v)) for v in surf.z]
        print(json.dumps(obj, allow_nan=False))
        return 0
    if args.out:
        from graph.fileformat import atomic_write_bytes
        from graph.safe_math import or_zero
        from graph.surface_plot import render_png

        result = evaluate(graph, output)
        ids = (x,) if y is None else (x, y)
        point = tuple(or_zero(graph.node(i).value) for i in ids)
        grad = tuple(result.grads.get(i, 0.0) for i in ids)
        png = render_png(surf, names, point, or_zero(result.value), grad)
        atomic_write_bytes(args.out, png)
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    out = names[surf.output]
    if y is None:
        print(f"{names[x]:>12}  {out:>14}")
        for xv, zv in zip(surf.xs, surf.z, strict=True):
            print(f"{xv:12.6g}  {_text_number(float(zv)):>14}")
        return 0
    print(f"{out} (rows: {names[y]}, columns: {names[x]})")
    print(f"{'':>10} " + " ".join(f"{v:>10.4g}" for v in surf.xs))
    for yv, row in zip(surf.ys, surf.z, strict=True):  # type: ignore[arg-type]
        cells = " ".join(f"{_text_number(float(v))[:10]:>10}" for v in row)
        print(f"{yv:>10.4g} {cells}")
    return 0
