"""Numeric gradient check: central differences against the engine's backward pass.

For each input x: numeric = (L(x + h) - L(x - h)) / 2h with every other input fixed,
relative error = |a - n| / max(|a| + |n|, tiny). Inputs that reach the output only
through a ``choose`` selector get no gradient and are not checked; an input that does not
reach the output at all has gradient 0, exactly. A note names any
node on the way from the input to the output that sits exactly at a kink (relu or abs
at 0, max/min at a tie) or changes branch between x - h and x + h, because there the
finite difference and the engine's one-sided choice need not agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.model import Graph

if TYPE_CHECKING:  # numpy loads when a check runs: the Graph tab starts without it
    import numpy as np

#: Default step for central differences (about the cube root of machine epsilon).
DEFAULT_H = 1e-5
#: Floor of the relative error's denominator.
TINY = 1e-12
#: Inputs checked by default; a graph with more gets a random sample of this many
#: (``graph eval --check-all`` checks every one).
MAX_CHECKED = 2000
#: Inputs perturbed together in one numpy batch (2 x CHUNK columns per node).
CHUNK = 256


@dataclass(frozen=True)
class InputCheck:
    """The check of one input. ``analytic``/``numeric``/``rel_error`` are None when
    ``no_grad`` (the input only feeds selectors)."""

    node: str
    name: str
    analytic: float | None
    numeric: float | None
    rel_error: float | None
    no_grad: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class GradCheck:
    """All inputs' checks, in input order, at step ``h`` for ``output``."""

    output: str
    h: float
    inputs: tuple[InputCheck, ...]
    checked_of: tuple[int, int] = (0, 0)  # (numerically checked, that could be checked)

    @property
    def sampled(self) -> bool:
        """True when only a random sample of the inputs was checked."""
        return self.checked_of[0] < self.checked_of[1]

    @property
    def worst(self) -> float | None:
        """Largest relative error (nan if any is nan), or None when nothing was checked."""
        errs = [c.rel_error for c in self.inputs if c.rel_error is not None]
        if not errs:
            return None
        if any(e != e for e in errs):
            return math.nan
        return max(errs)


def relative_error(analytic: float, numeric: float, tiny: float = TINY) -> float:
    """``|a - n| / max(|a| + |n|, tiny)`` (nan when either is nan, 0 when both are the
    same infinity)."""
    if analytic == numeric:
        return 0.0
    return abs(analytic - numeric) / max(abs(analytic) + abs(numeric), tiny)


def _branches(op: str, args: list) -> np.ndarray | None:
    """Which smooth piece each column's inputs are on (see ``OpSpec.branch``), vectorised
    for the ops with kinks; None when no argument varies across columns."""
    import numpy as np

    if not any(isinstance(a, np.ndarray) and a.ndim for a in args):
        return None
    if op in ("relu", "abs"):
        x = np.asarray(args[0])
        return (x > 0).astype(np.int8) - (x < 0).astype(np.int8)
    if op in ("max", "min"):
        a, b = np.asarray(args[0]), np.asarray(args[1])
        return (a > b).astype(np.int8) - (a < b).astype(np.int8)
    return None


def gradcheck(
    graph: Graph,
    h: float = DEFAULT_H,
    output: str | None = None,
    tiny: float = TINY,
    max_inputs: int | None = MAX_CHECKED,
    seed: int = 0,
) -> GradCheck:
    """Check every input's gradient of ``output`` (default: the graph's output).

    The perturbed forward passes run as numpy batches through the compiled plan
    (:func:`graph.surface.compile_values`): ``CHUNK`` inputs at a time, each column of
    the batch one input moved by +h or -h. Above ``max_inputs`` inputs a random sample
    of that many is checked (``GradCheck.sampled`` says so); ``max_inputs=None`` checks
    all. Raises GraphError only when there is nothing to check against (no output, an
    unconnected port) or ``h`` is not a positive finite number; numeric trouble shows up
    as nan in the results instead.
    """
    import numpy as np

    from graph.surface import compile_values

    if not (isinstance(h, int | float) and math.isfinite(h) and h > 0):
        raise GraphError(f"the step h must be a positive number, got {h!r}")
    base = evaluate(graph, output)
    if base.problem is not None or base.output is None:
        raise GraphError(f"cannot check gradients: {base.problem}")
    out = base.output
    reach_out = graph.ancestors(out) | {out}
    inputs = graph.inputs()
    results: dict[str, InputCheck] = {}
    to_check = []
    for nid in inputs:
        node = graph.node(nid)
        if nid not in reach_out:
            results[nid] = InputCheck(
                nid, node.name, 0.0, 0.0, 0.0, False, ("does not reach the output",)
            )
        elif nid not in base.grads:
            results[nid] = InputCheck(
                nid,
                node.name,
                None,
                None,
                None,
                True,
                ("reaches the output only through a choose selector: no gradient",),
            )
        else:
            to_check.append(nid)
    total = len(to_check)
    if max_inputs is not None and total > max_inputs:
        keep = set(np.random.default_rng(seed).choice(total, size=max_inputs, replace=False))
        to_check = [nid for i, nid in enumerate(to_check) if i in keep]
    compiled = compile_values(graph, out)
    out_index = compiled.index[out]
    kinked = _kinked_nodes(graph, reach_out, base.values)
    at_kink_ids = {mid for mid, _, _, _ in kinked}
    branch_nodes = [
        ([compiled.index[i] for i in graph.node(mid).inputs], graph.node(mid))  # type: ignore[index]
        for mid in graph.topological_order()
        if mid in reach_out and graph.node(mid).spec.branch is not None and mid not in at_kink_ids
    ]
    for start in range(0, len(to_check), CHUNK):
        chunk = to_check[start : start + CHUNK]
        k = len(chunk)
        arrays = {}
        for p, nid in enumerate(chunk):
            v = graph.node(nid).value
            column = np.full(2 * k, float(v) if v is not None else 0.0)
            column[p] += h
            column[k + p] -= h
            arrays[nid] = column
        vals = compiled.run(arrays)
        f = np.broadcast_to(np.asarray(vals[out_index], dtype=float), (2 * k,))
        numeric = (f[:k] - f[k:]) / (2.0 * h)
        notes: list[list[str]] = [[] for _ in chunk]
        for ins, n in branch_nodes:
            b = _branches(n.op, [vals[j] for j in ins])
            if b is None:
                continue
            b = np.broadcast_to(b, (2 * k,))
            for moved in np.flatnonzero(b[:k] != b[k:]):
                notes[moved].append(
                    f"{n.name} ({n.op}) changes branch between x - h and x + h; the numeric "
                    "gradient straddles a kink (try a smaller h)"
                )
        for p, nid in enumerate(chunk):
            analytic = base.grads.get(nid, 0.0)
            num = float(numeric[p])
            at_kink = [
                f"{name} ({op}) is at its non-differentiable point; the engine uses "
                "its documented one-sided value"
                for _, name, op, ancestors in kinked
                if nid in ancestors
            ]
            results[nid] = InputCheck(
                nid,
                graph.node(nid).name,
                analytic,
                num,
                relative_error(analytic, num, tiny),
                False,
                tuple(at_kink + notes[p]),
            )
    ordered = tuple(results[nid] for nid in inputs if nid in results)
    return GradCheck(out, float(h), ordered, checked_of=(len(to_check), total))


def _kinked_nodes(
    graph: Graph, reach_out: set[str], at: Mapping[str, float | None]
) -> list[tuple[str, str, str, set[str]]]:
    """Nodes on the way to the output that sit exactly at a kink: (id, name, op, ancestors)."""
    found = []
    for mid in graph.topological_order():
        n = graph.node(mid)
        if mid not in reach_out or n.spec.kink is None:
            continue
        args = [at.get(s) for s in n.inputs]  # type: ignore[arg-type]
        if any(a is None for a in args) or not n.spec.kink(*args):
            continue
        found.append((mid, n.name, n.op, graph.ancestors(mid)))
    return found
