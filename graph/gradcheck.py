"""Numeric gradient check: central differences against the engine's backward pass.

For each input x: numeric = (L(x + h) - L(x - h)) / 2h with every other input fixed,
relative error = |a - n| / max(|a| + |n|, tiny). Inputs that reach the output only
through a ``choose`` selector get no gradient and are not checked. A note names any
node on the way from the input to the output that sits exactly at a kink (relu or abs
at 0, max/min at a tie) or changes branch between x - h and x + h, because there the
finite difference and the engine's one-sided choice need not agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.model import Graph

#: Default step for central differences (about the cube root of machine epsilon).
DEFAULT_H = 1e-5
#: Floor of the relative error's denominator.
TINY = 1e-12


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


def gradcheck(
    graph: Graph, h: float = DEFAULT_H, output: str | None = None, tiny: float = TINY
) -> GradCheck:
    """Check every input's gradient of ``output`` (default: the graph's output).

    Raises GraphError only when there is nothing to check against (no output, an
    unconnected port) or ``h`` is not a positive finite number; numeric trouble shows up
    as nan in the results instead.
    """
    if not (isinstance(h, int | float) and math.isfinite(h) and h > 0):
        raise GraphError(f"the step h must be a positive number, got {h!r}")
    base = evaluate(graph, output)
    if base.problem is not None or base.output is None:
        raise GraphError(f"cannot check gradients: {base.problem}")
    out = base.output
    reach_out = graph.ancestors(out) | {out}
    results = []
    for nid in graph.inputs():
        node = graph.node(nid)
        if nid not in base.grads and nid in reach_out:
            results.append(
                InputCheck(
                    nid,
                    node.name,
                    None,
                    None,
                    None,
                    True,
                    ("reaches the output only through a choose selector: no gradient",),
                )
            )
            continue
        x = node.value if node.value is not None else 0.0
        plus = evaluate(graph, out, {nid: x + h}, backward=False)
        minus = evaluate(graph, out, {nid: x - h}, backward=False)
        fp, fm = plus.value, minus.value
        numeric = math.nan if fp is None or fm is None else (fp - fm) / (2.0 * h)
        analytic = base.grads.get(nid, 0.0)
        notes = _kink_notes(graph, nid, reach_out, base.values, plus.values, minus.values)
        results.append(
            InputCheck(
                nid,
                node.name,
                analytic,
                numeric,
                relative_error(analytic, numeric, tiny),
                False,
                notes,
            )
        )
    return GradCheck(out, float(h), tuple(results))


def _kink_notes(graph, nid, reach_out, at, plus, minus) -> tuple[str, ...]:  # noqa: ANN001
    notes = []
    between = graph.descendants(nid) & reach_out
    for mid in graph.topological_order():
        if mid not in between:
            continue
        n = graph.node(mid)
        spec = n.spec
        if spec.branch is None:
            continue
        args = [at[s] for s in n.inputs]  # type: ignore[index]
        if any(a is None for a in args):
            continue
        if spec.kink is not None and spec.kink(*args):
            notes.append(
                f"{n.name} ({n.op}) is at its non-differentiable point; the engine uses "
                "its documented one-sided value"
            )
            continue
        bp = spec.branch(*[plus[s] for s in n.inputs])  # type: ignore[index]
        bm = spec.branch(*[minus[s] for s in n.inputs])  # type: ignore[index]
        if bp != bm:
            notes.append(
                f"{n.name} ({n.op}) changes branch between x - h and x + h; the numeric "
                "gradient straddles a kink (try a smaller h)"
            )
    return tuple(notes)
