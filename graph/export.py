"""Export a graph as Python code in the seed homework's style, or as Graphviz DOT.

The Python export is one function: the forward pass (one line per node), then the
backward pass with one line per gradient-carrying edge; where a node fans out, each
consumer's contribution gets its own variable and a line sums them, as the seed sums
the gradients of copies. It returns ``(L, (dL/dinput, ...))`` in input order and
computes with the same formulas, in the same order, as the engine, so the numbers are
equal. (Plain Python raises where the engine gives inf or nan, e.g. on ``1 / 0``.)
"""

from __future__ import annotations

import math
import re

from graph.errors import GraphError
from graph.evaluate import Evaluation
from graph.model import Graph
from graph.plans import backward_plan, forward_plan
from graph.records import format_value
from graph.safe_math import or_zero

_RESERVED = {"_math", "_nan", "_sigmoid", "abs", "grads"}
# A local derivative that needs no parentheses after "upstream * ".
_SIMPLE = re.compile(r"^(-?[A-Za-z_][A-Za-z0-9_]*|-?[0-9.]+(e-?[0-9]+)?)$")


def _atomic(expr: str) -> bool:
    """True if ``expr`` binds tighter than ``*`` (a name, a number, or wholly in parens)."""
    if _SIMPLE.match(expr):
        return True
    if not expr.startswith("("):
        return False
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return i == len(expr) - 1
    return False


def _py_float(x: float) -> str:
    x = float(x)
    if math.isfinite(x):
        return repr(x)
    if x != x:
        return "_nan"
    return "_math.inf" if x > 0 else "-_math.inf"


class _Names:
    """Unique Python identifiers for values and gradients."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)

    def claim(self, want: str) -> str:
        name = want
        k = 2
        while name in self.taken:
            name = f"{want}_{k}"
            k += 1
        self.taken.add(name)
        return name


def to_python(graph: Graph, output: str | None = None, func_name: str = "f") -> str:
    """Python source of ``func_name(inputs...) -> (L, grads)`` for the graph's output.

    The inputs' current values are the parameters' defaults; running the file prints
    the result. A graph with groups gets one helper function per group
    (:mod:`graph.export_groups`).
    GraphError if the graph has no output or an unconnected input port.
    """
    if not func_name.isidentifier():
        raise GraphError(f"{func_name!r} is not a Python function name")
    from graph.groups import Groups

    if Groups(graph):
        from graph.export_groups import to_python_grouped

        return to_python_grouped(graph, output, func_name)
    plan, _ = forward_plan(graph)
    back = backward_plan(graph, output)
    if back.problem is not None or back.output is None:
        raise GraphError(f"cannot export: {back.problem}")
    out = back.output
    needed = graph.ancestors(out) | {out}
    names = _Names(_RESERVED | {func_name})
    var: dict[str, str] = {}
    for n in graph.nodes():
        var[n.id] = names.claim(n.name if n.name not in _RESERVED else n.name + "_v")
    inputs = graph.inputs()
    grad_var = {nid: names.claim(f"grad_{var[nid]}") for nid in graph.node_ids()}

    ops_used = {graph.node(nid).op for nid in needed}
    head = [
        '"""Computational graph exported by Backprop Explorer (seed homework style)."""',
        "",
        "import math as _math",
        "",
        '_nan = float("nan")',
        "",
    ]
    for op in sorted(ops_used):
        helper = graph.node(next(i for i in needed if graph.node(i).op == op)).spec.py_helper
        if helper:
            head += ["", helper.rstrip(), ""]

    params = ", ".join(f"{var[i]}={_py_float(or_zero(graph.node(i).value))}" for i in inputs)
    grads_doc = ", ".join(f"dL/d{graph.node(i).name}" for i in inputs)
    body = [
        "",
        f"def {func_name}({params}):",
        f'    """Forward and backward pass. Returns (L, ({grads_doc}))."""'
        if inputs
        else '    """Forward and backward pass. Returns (L, ())."""',
        "    # Forward pass",
    ]
    for nid in plan.order:
        if nid not in needed:
            continue
        n = graph.node(nid)
        if n.op == "input":
            continue
        if n.op == "const":
            body.append(f"    {var[nid]} = {_py_float(n.params.get('value', 0.0))}")
            continue
        args = [var[s] for s in n.inputs]  # type: ignore[index]
        body.append(f"    {var[nid]} = {n.spec.format_py(args, n.params)}")

    body += ["", "    # Backward pass", f"    {grad_var[out]} = 1.0"]
    # How many gradient contributions each node receives (fan-out needs a sum line).
    total: dict[str, int] = {}
    for e in back.entries:
        if e is None:
            continue
        for j, m in zip(e.ins, e.grad_mask, strict=True):
            if m:
                src = plan.order[j]
                total[src] = total.get(src, 0) + 1
    parts: dict[str, list[str]] = {}
    for e in back.entries:
        if e is None:
            continue
        n = graph.node(e.node_id)
        args = [var[s] for s in n.inputs]  # type: ignore[index]
        locals_ = n.spec.format_py_local(args, var[e.node_id], n.params)
        upstream = grad_var[e.node_id]
        for port, (j, m) in enumerate(zip(e.ins, e.grad_mask, strict=True)):
            src = plan.order[j]
            if not m:
                body.append(f"    # {var[src]} feeds the selector of {n.name}: no gradient")
                continue
            if graph.node(src).op == "const":
                continue  # nobody asks for a constant's gradient
            local = locals_[port]
            if local == "1.0":
                expr = upstream
            elif _atomic(local):
                expr = f"{upstream} * {local}"
            else:
                expr = f"{upstream} * ({local})"
            if total[src] == 1:
                body.append(f"    {grad_var[src]} = {expr}")
                continue
            suffix = f"_{n.port_names[port]}" if n.inputs.count(src) > 1 else ""
            part = names.claim(f"{grad_var[src]}_from_{var[e.node_id]}{suffix}")
            body.append(f"    {part} = {expr}")
            parts.setdefault(src, []).append(part)
            if len(parts[src]) == total[src]:
                summed = " + ".join(parts[src])
                body.append(f"    {grad_var[src]} = {summed}  # sum the fan-out's gradients")
    for i in inputs:
        if i not in back.path:
            body.append(f"    {grad_var[i]} = 0.0  # no gradient reaches {var[i]}")
    body += return_and_main(graph, func_name, var[out], [grad_var[i] for i in inputs])
    return "\n".join(head + body) + "\n"


def return_and_main(graph: Graph, func_name: str, out: str, grads: list[str]) -> list[str]:
    """The function's return line and the ``__main__`` block that prints the result."""
    returned = ", ".join(grads) + ("," if len(grads) == 1 else "")
    lines = [f"    return {out}, ({returned})", "", "", 'if __name__ == "__main__":']
    lines += [f"    L, grads = {func_name}()", '    print("L =", L)']
    for k, i in enumerate(graph.inputs()):
        lines.append(f'    print("dL/d{graph.node(i).name} =", grads[{k}])')
    return lines


def _dot_id(text: str) -> str:
    """A quoted DOT string; real newlines become DOT's \\n line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


def to_dot(graph: Graph, evaluation: Evaluation | None = None) -> str:
    """Graphviz DOT text: one box per node (name, op label, and value/gradient when an
    evaluation is given), edges labelled with the port they feed; the output is
    drawn with a double border."""
    out = graph.output_id
    lines = [
        "digraph graph_ {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for n in graph.nodes():
        label = f"{n.name}\n{n.label}" if n.op != "input" else f"{n.name}\ninput"
        if evaluation is not None:
            v = evaluation.values.get(n.id)
            g = evaluation.grads.get(n.id)
            label += f"\nvalue {format_value(v)}"
            if g is not None:
                label += f"\ngrad {format_value(g)}"
        attrs = [f"label={_dot_id(label)}"]
        if n.id == out:
            attrs.append("peripheries=2")
        if n.op in ("input", "const"):
            attrs.append('style="rounded,filled"')
            attrs.append('fillcolor="#eef3fb"' if n.op == "input" else 'fillcolor="#f3f3f3"')
        lines.append(f"  {_dot_id(n.id)} [{', '.join(attrs)}];")
    for e in graph.edges():
        port = graph.node(e.dst).port_names[e.port]
        lines.append(f"  {_dot_id(e.src)} -> {_dot_id(e.dst)} [label={_dot_id(port)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def safe_filename(name: str) -> str:
    """A file-name-safe version of ``name`` (for default export names)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "graph"
