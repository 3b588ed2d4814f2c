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

import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from graph.events import Edge
from graph.model import EvaluationState, Graph
from graph.ops import NAN


def _isfinite(v: float | None) -> bool:
    """math.isfinite, False for a value that is missing (None)."""
    return v is not None and math.isfinite(v)


# ------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class _OpEntry:
    index: int
    node_id: str
    forward: Callable[..., float]
    local: Callable[..., tuple[float, ...]]
    ins: tuple[int, ...]
    grad_mask: tuple[bool, ...]


@dataclass(frozen=True)
class _Plan:
    order: tuple[str, ...]
    index: Mapping[str, int]
    leaves: tuple[tuple[int, str], ...]
    ops: tuple[_OpEntry, ...]  # computable op nodes, topological order
    blocked: Mapping[str, str]  # op node id -> why it cannot be computed


@dataclass(frozen=True)
class _BackPlan:
    output: str | None
    problem: str | None
    entries: tuple[_OpEntry | None, ...]  # reverse order of processing; None = leaf output
    path: frozenset[str]


_plans: weakref.WeakKeyDictionary[Graph, tuple[Any, _Plan, dict[str, _BackPlan]]] = (
    weakref.WeakKeyDictionary()
)


def _forward_plan(graph: Graph) -> tuple[_Plan, dict[str, _BackPlan]]:
    from graph.bugs import planted

    bug = planted(graph) if graph.has_meta("planted_bug") else None
    key = (graph.structure_version, bug)
    cached = _plans.get(graph)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    order = graph.topological_order()
    index = {nid: i for i, nid in enumerate(order)}
    leaves = []
    ops = []
    blocked: dict[str, str] = {}
    for i, nid in enumerate(order):
        n = graph.node(nid)
        if n.is_leaf:
            leaves.append((i, nid))
            continue
        missing = [p for p, s in zip(n.port_names, n.inputs, strict=True) if s is None]
        if missing:
            blocked[nid] = f"{n.name} has no input on port {', '.join(missing)}"
            continue
        upstream = [s for s in n.inputs if s in blocked]
        if upstream:
            blocked[nid] = blocked[upstream[0]]
            continue
        spec = n.spec
        fwd, local = spec.bind(n.params)
        if bug is not None and bug.node == nid:
            from graph.bugs import buggy_local

            local = buggy_local(n, bug, local)  # the backward pass only: see graph.bugs
        mask = tuple(p not in spec.no_grad_ports for p in n.port_names)
        ins = tuple(index[s] for s in n.inputs)  # type: ignore[index]
        ops.append(_OpEntry(i, nid, fwd, local, ins, mask))
    plan = _Plan(tuple(order), index, tuple(leaves), tuple(ops), blocked)
    backs: dict[str, _BackPlan] = {}
    _plans[graph] = (key, plan, backs)
    return plan, backs


def _backward_plan(graph: Graph, output: str | None) -> _BackPlan:
    plan, backs = _forward_plan(graph)
    key = output or ""
    if key in backs:
        return backs[key]
    out = output if output is not None else graph.output_id
    problem = None
    entries: tuple[_OpEntry | None, ...] = ()
    path: frozenset[str] = frozenset()
    if out is None:
        problem = graph.output_problem() or "no output"
    elif out not in plan.index:
        problem = f"there is no node with id {out!r}"
    elif out in plan.blocked:
        problem = f"cannot compute the output: {plan.blocked[out]}"
    else:
        by_node = {e.node_id: e for e in plan.ops}
        on_path = {out}
        chosen: list[_OpEntry | None] = []
        for nid in reversed(plan.order):
            if nid not in on_path:
                continue
            entry = by_node.get(nid)
            if entry is None:
                if nid == out:
                    chosen.append(None)  # a leaf as the output: one step, no edges
                continue
            chosen.append(entry)
            for j, m in zip(entry.ins, entry.grad_mask, strict=True):
                if m:
                    on_path.add(plan.order[j])
        entries = tuple(chosen)
        path = frozenset(on_path)
    result = _BackPlan(out, problem, entries, path)
    backs[key] = result
    return result


def _leaf_values(
    graph: Graph, plan: _Plan, overrides: Mapping[str, float] | None
) -> list[float | None]:
    vals: list[float | None] = [None] * len(plan.order)
    for i, nid in plan.leaves:
        v = graph.node(nid).leaf_value
        if overrides and nid in overrides:
            v = float(overrides[nid])
        vals[i] = v
    return vals


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
    plan, _ = _forward_plan(graph)
    vals, _flags = _run_forward(graph, plan, overrides)
    return dict(zip(plan.order, vals, strict=True))


def _run_forward(
    graph: Graph, plan: _Plan, overrides: Mapping[str, float] | None
) -> tuple[list[Any], list[str]]:
    vals: list[Any] = _leaf_values(graph, plan, overrides)
    flags = [nid for i, nid in plan.leaves if not _isfinite(vals[i])]
    for e in plan.ops:
        args = [vals[j] for j in e.ins]
        try:
            v = e.forward(*args)
        except (ArithmeticError, ValueError, TypeError):
            v = NAN
        vals[e.index] = v
        if not _isfinite(v) and all(_isfinite(a) for a in args):
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
    plan, _ = _forward_plan(graph)
    vals, fflags = _run_forward(graph, plan, overrides)
    values = dict(zip(plan.order, vals, strict=True))
    back = _backward_plan(graph, output)
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
                    if not _isfinite(c):
                        bad = True
            if bad and _isfinite(gi):
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
    return _backward_plan(graph, output).problem


# ------------------------------------------------------------------------- records


@dataclass(frozen=True)
class PortValue:
    """One input of a forward step: port name, source node, its value."""

    port: str
    src: str
    src_name: str
    value: float


@dataclass(frozen=True)
class ForwardRecord:
    """One forward step: ``node`` computed ``output`` from ``inputs``.

    ``nonfinite`` is True when the output is nan/inf although the inputs were finite.
    """

    index: int
    total: int
    node: str
    name: str
    op: str
    formula: str
    inputs: tuple[PortValue, ...]
    output: float
    nonfinite: bool
    phase: ClassVar[str] = "forward"

    def describe(self) -> str:
        """E.g. ``forward 4/7: p1 = e1 / d = 0.2689``."""
        return (
            f"forward {self.index}/{self.total}: {self.name} = {self.formula} "
            f"= {format_value(self.output)}"
        )


@dataclass(frozen=True)
class EdgeGradient:
    """The gradient passed down one input edge: upstream × local = contribution.

    ``no_grad`` ports (``choose``'s selector) get nothing: local and contribution are 0
    and nothing is added to the source's gradient.
    """

    edge: Edge
    port: str
    src: str
    src_name: str
    upstream: float
    local: float
    contribution: float
    no_grad: bool

    def describe(self, output: str = "L", digits: int = 4) -> str:
        """E.g. ``dL/de1 += -3.7 × 0.25 = -0.93`` (or a no-gradient note); ``output``
        names the node the gradient is of."""
        if self.no_grad:
            return f"{self.src_name}: no gradient (selector)"
        up, local = format_value(self.upstream, digits), format_value(self.local, digits)
        return (
            f"d{output}/d{self.src_name} += {format_operand(up)} × "
            f"{format_operand(local)} = {format_value(self.contribution, digits)}"
        )


@dataclass(frozen=True)
class Contribution:
    """A consumer's contribution to a node's gradient (fan-out shows several)."""

    edge: Edge
    consumer: str
    consumer_name: str
    value: float


@dataclass(frozen=True)
class BackwardRecord:
    """One backward step at ``node``.

    ``upstream`` is dL/dnode, the sum of ``upstream_parts`` (one per consumer edge, in
    the order they were added; empty for the output, whose gradient is 1). ``edges``
    has one :class:`EdgeGradient` per input port. ``nonfinite`` is True when a nan/inf
    gradient appears here although ``upstream`` was finite.
    """

    index: int
    total: int
    node: str
    name: str
    op: str
    formula: str
    upstream: float
    upstream_parts: tuple[Contribution, ...]
    edges: tuple[EdgeGradient, ...]
    nonfinite: bool
    phase: ClassVar[str] = "backward"

    def describe(self) -> str:
        """E.g. ``backward 3/9: p1 = e1 / d`` (``backward 1/9: L`` for a leaf output)."""
        head = f"backward {self.index}/{self.total}: {self.name}"
        return f"{head} = {self.formula}" if self.edges else head

    def explain(self, output: str = "L", digits: int = 4) -> list[str]:
        """Lines for a detail view: the upstream sum, then each edge's product.
        ``output`` names the node the gradient is of (``dg/da`` for an output ``g``)."""
        d = f"d{output}/d{self.name}"
        if self.upstream_parts:
            parts = format_sum([format_value(c.value, digits) for c in self.upstream_parts])
            lines = [f"{d} = {parts} = {format_value(self.upstream, digits)}"]
        else:
            lines = [f"{d} = {format_value(self.upstream, digits)} (the output)"]
        lines += [e.describe(output, digits) for e in self.edges]
        return lines


StepRecord = ForwardRecord | BackwardRecord


def format_value(x: float | None, digits: int = 4) -> str:
    """Compact text for a value in records and labels (``digits`` significant digits,
    no exponent between 1e-4 and 1e6: ``1000``, not ``1e+03``)."""
    if x is None:
        return "—"
    if x != x:
        return "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    text = f"{x:.{digits}g}"
    if "e" in text and 1e-4 <= abs(x) < 1e6:
        text = f"{float(text):.{max(0, digits - 1)}f}".rstrip("0").rstrip(".")
    return text


def format_sum(terms: Sequence[str]) -> str:
    """Formatted terms joined as a sum, negatives subtracted: ``a − 333 + 0``."""
    out = ""
    for i, term in enumerate(terms):
        negative = term.startswith("-") and term != "-"
        body = term[1:] if negative else term
        if i == 0:
            out = term
        else:
            out += f" − {body}" if negative else f" + {body}"
    return out


def format_operand(text: str) -> str:
    """A formatted number ready to stand inside a formula: ``(-1.313)`` for negatives,
    so ``-x`` reads ``-(-1.313)`` and never ``--1.313``."""
    return f"({text})" if text.startswith("-") else text


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
        self._plan, _ = _forward_plan(g)
        want = self._want_output if self._want_output in g else None
        self._back = _backward_plan(g, want)
        vals = _leaf_values(g, self._plan, None)
        self._values: dict[str, float | None] = dict(zip(self._plan.order, vals, strict=True))
        self._grads: dict[str, float | None] = dict.fromkeys(self._plan.order)
        self._contrib: dict[Edge, float] = {}
        self._locals: dict[Edge, float] = {}
        self._parts: dict[str, list[Edge]] = {}  # src -> edges whose contribution it got
        self._leaf_flags = [nid for i, nid in self._plan.leaves if not _isfinite(vals[i])]
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
        flagged = not _isfinite(v) and all(_isfinite(a) for a in args)
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
                    if not _isfinite(c):
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
        flagged = bad and _isfinite(upstream)
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
