"""Forward and backward passes: a fast :func:`evaluate` and a :class:`Stepper` with records.

Forward runs over every node whose inputs are all connected, in topological order (ties
by insertion order). Backward runs from the output (the graph's chosen output, else its
only sink) over the nodes on a gradient path to it: nodes whose output reaches the
output through ports that carry a gradient (``choose``'s selector does not). Fan-out
contributions are summed in the order the consumers are processed (reverse topological
order, then port order); :func:`evaluate` and the stepper use the same arithmetic in
the same order, so their numbers are identical.

Nothing here raises for numeric reasons: a nan or inf is kept, and the node where it
first appears (its inputs were finite; on the way back, its upstream gradient was
finite) is flagged in ``nonfinite`` and in its step record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from graph.events import Edge
from graph.model import Graph
from graph.node import EvaluationState
from graph.plans import Plan, backward_plan, forward_plan, isfinite, leaf_values
from graph.records import (
    BackwardRecord,
    Contribution,
    EdgeGradient,
    ForwardRecord,
    PortValue,
    StepRecord,
)
from graph.safe_math import NAN

__all__ = [
    "BackwardRecord",
    "Contribution",
    "EdgeGradient",
    "Evaluation",
    "ForwardRecord",
    "PortValue",
    "StepRecord",
    "Stepper",
    "backward_problem",
    "evaluate",
    "forward",
]


# ------------------------------------------------------------------------- fast path


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`.

    ``values`` has every node id (None where an input port is unconnected upstream);
    ``grads`` has the nodes on a gradient path to the output (dL/dnode), empty when
    backward could not run, and then ``problem`` says why. ``nonfinite`` holds the nodes
    where a nan/inf first appeared (forward or backward).
    """

    output: str | None
    value: float | None
    values: Mapping[str, float | None]
    grads: Mapping[str, float]
    nonfinite_forward: frozenset[str]
    nonfinite_backward: frozenset[str]
    problem: str | None

    @property
    def nonfinite(self) -> frozenset[str]:
        return self.nonfinite_forward | self.nonfinite_backward


def forward(graph: Graph, overrides: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """Values of every node (None where not computable). ``overrides``: {input id: value}."""
    plan, _ = forward_plan(graph)
    vals, _flags = _run_forward(graph, plan, overrides)
    return dict(zip(plan.order, vals, strict=True))


def _run_forward(
    graph: Graph, plan: Plan, overrides: Mapping[str, float] | None
) -> tuple[list[Any], list[str]]:
    vals: list[Any] = leaf_values(graph, plan, overrides)
    flags = [nid for i, nid in plan.leaves if not isfinite(vals[i])]
    for e in plan.ops:
        args = [vals[j] for j in e.ins]
        try:
            v = e.forward(*args)
        except (ArithmeticError, ValueError, TypeError):
            v = NAN
        vals[e.index] = v
        if not isfinite(v) and all(isfinite(a) for a in args):
            flags.append(e.node_id)
    return vals, flags


def evaluate(
    graph: Graph,
    output: str | None = None,
    overrides: Mapping[str, float] | None = None,
    backward: bool = True,
) -> Evaluation:
    """Forward, then backward from ``output`` (default: the graph's output). Never raises
    for numeric reasons. ``overrides`` replaces input values ({id: value}) for this run
    only (the gradient check uses it); the graph is not modified and sends no events."""
    plan, _ = forward_plan(graph)
    vals, fflags = _run_forward(graph, plan, overrides)
    values = dict(zip(plan.order, vals, strict=True))
    back = backward_plan(graph, output)
    grads: dict[str, float] = {}
    bflags: list[str] = []
    if backward and back.problem is None:
        g = [0.0] * len(vals)
        out_index = plan.index[back.output]  # type: ignore[index]
        g[out_index] = 1.0
        for e in back.entries:
            if e is None:
                continue
            gi = g[e.index]
            args = [vals[j] for j in e.ins]
            try:
                parts = e.local(*args, vals[e.index])
            except (ArithmeticError, ValueError, TypeError):
                parts = (NAN,) * len(args)
            bad = False
            for j, p, m in zip(e.ins, parts, e.grad_mask, strict=True):
                if m:
                    c = gi * p
                    g[j] += c
                    if not isfinite(c):
                        bad = True
            if bad and isfinite(gi):
                bflags.append(e.node_id)
        order = plan.order
        grads = {order[i]: g[i] for i in range(len(order)) if order[i] in back.path}
    value = values.get(back.output) if back.output is not None else None
    return Evaluation(
        output=back.output,
        value=value,
        values=values,
        grads=grads,
        nonfinite_forward=frozenset(fflags),
        nonfinite_backward=frozenset(bflags),
        problem=back.problem,
    )


def backward_problem(graph: Graph, output: str | None = None) -> str | None:
    """Why backward cannot run from ``output`` (None when it can)."""
    return backward_plan(graph, output).problem


# ------------------------------------------------------------------------- stepper


@dataclass
class _Undo:
    record: StepRecord
    grads: list[tuple[str, float | None]]
    edges: list[Edge]
    flagged: bool
    local_edges: list[Edge]


class Stepper:
    """Step through forward and backward one node at a time, and back again.

    ``step_forward()`` / ``step_backward()`` return a record or None when there is
    nothing to do (forward finished; backward not available or finished; backward is
    available only after the forward pass is complete). ``step_back()`` undoes exactly
    one step and returns its record. Every change is published to ``graph.evaluation``
    with an ``evaluation_changed`` event. If the graph was edited since the stepper last
    looked, the next step starts over from a fresh reset.
    """

    def __init__(self, graph: Graph, output: str | None = None, publish: bool = True) -> None:
        self.graph = graph
        self._want_output = output
        self._publish_enabled = publish
        self._build()

    # -- state queries --

    @property
    def phase(self) -> str:
        """``idle``, ``forward``, ``backward`` or ``done``."""
        if self._bpos:
            return "done" if self._bpos == len(self._back.entries) else "backward"
        if self._fpos:
            return "forward"
        return "idle"

    @property
    def position(self) -> tuple[int, int]:
        """(steps done, steps in total) within the current phase."""
        if self._bpos:
            return self._bpos, len(self._back.entries)
        return self._fpos, len(self._plan.ops)

    @property
    def current(self) -> str | None:
        """The node of the last step, or None."""
        return self._history[-1].record.node if self._history else None

    @property
    def output(self) -> str | None:
        return self._back.output

    @property
    def problem(self) -> str | None:
        """Why backward cannot run (no output, an unconnected port...), else None."""
        return self._back.problem

    @property
    def values(self) -> Mapping[str, float | None]:
        return MappingProxyType(self._values)

    @property
    def grads(self) -> Mapping[str, float | None]:
        return MappingProxyType(self._grads)

    @property
    def contributions(self) -> Mapping[Edge, float]:
        """Gradient contribution sent down each edge so far (backward phase)."""
        return MappingProxyType(self._contrib)

    @property
    def local_grads(self) -> Mapping[Edge, float]:
        """Local derivative of each edge processed so far (0 for a selector edge)."""
        return MappingProxyType(self._locals)

    @property
    def nonfinite(self) -> frozenset[str]:
        return frozenset(self._flags)

    @property
    def forward_order(self) -> tuple[str, ...]:
        """The nodes the forward pass computes, in order (one step each)."""
        return tuple(e.node_id for e in self._plan.ops)

    @property
    def backward_order(self) -> tuple[str, ...]:
        """The nodes the backward pass visits, in order (one step each)."""
        out = self._back.output
        return tuple(out if e is None else e.node_id for e in self._back.entries)  # type: ignore[misc]

    @property
    def history(self) -> list[StepRecord]:
        return [u.record for u in self._history]

    @property
    def forward_done(self) -> bool:
        return self._fpos == len(self._plan.ops)

    @property
    def can_step_forward(self) -> bool:
        return not self._fresh() or not self.forward_done

    @property
    def can_step_backward(self) -> bool:
        if not self._fresh():
            return False
        return (
            self.forward_done
            and self._back.problem is None
            and self._bpos < len(self._back.entries)
        )

    @property
    def can_step_back(self) -> bool:
        return self._fresh() and bool(self._history)

    def state(self) -> EvaluationState:
        """The current state as the graph shows it."""
        return EvaluationState(
            values=dict(self._values),
            grads=dict(self._grads),
            nonfinite=frozenset(self._flags),
            stale=False,
            phase=self.phase,
            position=self.position,
            current=self.current,
            contributions=dict(self._contrib),
            local_grads=dict(self._locals),
        )

    # -- actions --

    def reset(self) -> None:
        """Forget every step: leaf values known, everything else not computed."""
        self._build()
        self._publish("reset")

    def step_forward(self) -> ForwardRecord | None:
        self._ensure_fresh()
        if self.forward_done:
            return None
        record = self._do_forward()
        self._publish("step", record)
        return record

    def step_backward(self) -> BackwardRecord | None:
        self._ensure_fresh()
        if not self.can_step_backward:
            return None
        record = self._do_backward()
        self._publish("step", record)
        return record

    def step_back(self) -> StepRecord | None:
        """Undo exactly one step; returns its record (None if there is none)."""
        if not self._fresh() or not self._history:
            return None
        u = self._history.pop()
        r = u.record
        if isinstance(r, ForwardRecord):
            self._values[r.node] = None
            self._fpos -= 1
        else:
            for nid, prev in reversed(u.grads):
                self._grads[nid] = prev
            for e in reversed(u.edges):
                self._contrib.pop(e, None)
                self._parts[e.src].pop()
            for e in u.local_edges:
                self._locals.pop(e, None)
            self._bpos -= 1
        if u.flagged:
            self._flags.pop()
        self._publish("step_back", r)
        return r

    def run_all(self) -> Evaluation:
        """Finish forward and (when possible) backward; return the result."""
        self._ensure_fresh()
        while not self.forward_done:
            self._do_forward()
        while self.can_step_backward:
            self._do_backward()
        self._publish("run")
        return self.result()

    def result(self) -> Evaluation:
        """The numbers so far as an :class:`Evaluation` (grads only where computed)."""
        out = self._back.output
        ff = {u.record.node for u in self._history if u.flagged and u.record.phase == "forward"}
        ff |= set(self._leaf_flags)
        bf = {u.record.node for u in self._history if u.flagged and u.record.phase == "backward"}
        return Evaluation(
            output=out,
            value=self._values.get(out) if out is not None else None,
            values=dict(self._values),
            grads={k: v for k, v in self._grads.items() if v is not None},
            nonfinite_forward=frozenset(ff),
            nonfinite_backward=frozenset(bf),
            problem=self._back.problem,
        )

    # -- internals --

    def _fresh(self) -> bool:
        return self._version == self.graph.version

    def _ensure_fresh(self) -> None:
        if not self._fresh():
            self.reset()

    def _build(self) -> None:
        g = self.graph
        self._version = g.version
        self._plan, _ = forward_plan(g)
        want = self._want_output if self._want_output in g else None
        self._back = backward_plan(g, want)
        vals = leaf_values(g, self._plan, None)
        self._values: dict[str, float | None] = dict(zip(self._plan.order, vals, strict=True))
        self._grads: dict[str, float | None] = dict.fromkeys(self._plan.order)
        self._contrib: dict[Edge, float] = {}
        self._locals: dict[Edge, float] = {}
        self._parts: dict[str, list[Edge]] = {}  # src -> edges whose contribution it got
        self._leaf_flags = [nid for i, nid in self._plan.leaves if not isfinite(vals[i])]
        self._flags: list[str] = list(self._leaf_flags)
        self._history: list[_Undo] = []
        self._fpos = 0
        self._bpos = 0

    def _publish(self, reason: str, record: StepRecord | None = None) -> None:
        if self._publish_enabled:
            self.graph.publish_evaluation(self.state(), reason, record)

    def _do_forward(self) -> ForwardRecord:
        e = self._plan.ops[self._fpos]
        g = self.graph
        n = g.node(e.node_id)
        order = self._plan.order
        args = [self._values[order[j]] for j in e.ins]
        try:
            v = e.forward(*args)
        except (ArithmeticError, ValueError, TypeError):
            v = NAN
        self._values[e.node_id] = v
        flagged = not isfinite(v) and all(isfinite(a) for a in args)
        if flagged:
            self._flags.append(e.node_id)
        self._fpos += 1
        names = [g.node(order[j]).name for j in e.ins]
        record = ForwardRecord(
            index=self._fpos,
            total=len(self._plan.ops),
            node=e.node_id,
            name=n.name,
            op=n.op,
            formula=n.spec.format_expr(names, n.params),
            inputs=tuple(
                PortValue(p, order[j], nm, a)  # type: ignore[arg-type]
                for p, j, nm, a in zip(n.port_names, e.ins, names, args, strict=True)
            ),
            output=v,
            nonfinite=flagged,
        )
        self._history.append(_Undo(record, [], [], flagged, []))
        return record

    def _do_backward(self) -> BackwardRecord:
        entries = self._back.entries
        e = entries[self._bpos]
        g = self.graph
        order = self._plan.order
        out = self._back.output
        assert out is not None
        undo_grads: list[tuple[str, float | None]] = []
        node_id = out if e is None else e.node_id
        n = g.node(node_id)
        if self._bpos == 0:
            undo_grads.append((out, self._grads[out]))
            self._grads[out] = 1.0
            parts: tuple[Contribution, ...] = ()
        else:
            parts = tuple(
                Contribution(edge, edge.dst, g.node(edge.dst).name, self._contrib[edge])
                for edge in self._parts.get(node_id, ())
            )
        upstream = self._grads[node_id]
        assert upstream is not None
        edge_grads: list[EdgeGradient] = []
        new_edges: list[Edge] = []
        new_locals: list[Edge] = []
        bad = False
        if e is not None:
            args = [self._values[order[j]] for j in e.ins]
            try:
                partials = e.local(*args, self._values[node_id])
            except (ArithmeticError, ValueError, TypeError):
                partials = (NAN,) * len(args)
            for port, (j, p, m) in enumerate(zip(e.ins, partials, e.grad_mask, strict=True)):
                src = order[j]
                edge = Edge(src, node_id, port)
                if m:
                    c = upstream * p
                    prev = self._grads[src]
                    undo_grads.append((src, prev))
                    self._grads[src] = c if prev is None else prev + c
                    self._contrib[edge] = c
                    self._parts.setdefault(src, []).append(edge)
                    new_edges.append(edge)
                    if not isfinite(c):
                        bad = True
                else:
                    p, c = 0.0, 0.0
                self._locals[edge] = p
                new_locals.append(edge)
                edge_grads.append(
                    EdgeGradient(
                        edge,
                        n.port_names[port],
                        src,
                        g.node(src).name,
                        upstream,
                        p,
                        c,
                        not m,
                    )
                )
        flagged = bad and isfinite(upstream)
        if flagged:
            self._flags.append(node_id)
        self._bpos += 1
        names = [g.node(s).name for s in n.inputs if s is not None]
        record = BackwardRecord(
            index=self._bpos,
            total=len(entries),
            node=node_id,
            name=n.name,
            op=n.op,
            formula=n.spec.format_expr(names, n.params) if e is not None else n.name,
            upstream=upstream,
            upstream_parts=parts,
            edges=tuple(edge_grads),
            nonfinite=flagged,
        )
        self._history.append(_Undo(record, undo_grads, new_edges, flagged, new_locals))
        return record
