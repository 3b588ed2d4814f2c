"""What evaluation runs, worked out once per graph shape: the forward plan (topological
order, leaves, every computable op with its bound forward and local-derivative functions,
and why the others cannot be computed) and, per output, the backward plan (the op nodes
on a gradient path to it, in the order backward processes them). Cached until the next
structural edit (or a change of the planted bug, :mod:`graph.bugs`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.model import Graph


def isfinite(v: float | None) -> bool:
    """math.isfinite, False for a value that is missing (None)."""
    return v is not None and math.isfinite(v)


@dataclass(frozen=True)
class OpEntry:
    index: int
    node_id: str
    forward: Callable[..., float]
    local: Callable[..., tuple[float, ...]]
    ins: tuple[int, ...]
    grad_mask: tuple[bool, ...]


@dataclass(frozen=True)
class Plan:
    order: tuple[str, ...]
    index: Mapping[str, int]
    leaves: tuple[tuple[int, str], ...]
    ops: tuple[OpEntry, ...]  # computable op nodes, topological order
    blocked: Mapping[str, str]  # op node id -> why it cannot be computed


@dataclass(frozen=True)
class BackPlan:
    output: str | None
    problem: str | None
    entries: tuple[OpEntry | None, ...]  # reverse order of processing; None = leaf output
    path: frozenset[str]


_cache: weakref.WeakKeyDictionary[Graph, tuple[Any, Plan, dict[str, BackPlan]]] = (
    weakref.WeakKeyDictionary()
)


def forward_plan(graph: Graph) -> tuple[Plan, dict[str, BackPlan]]:
    from graph.bugs import planted

    bug = planted(graph) if graph.has_meta("planted_bug") else None
    key = (graph.structure_version, bug)
    cached = _cache.get(graph)
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
        ops.append(OpEntry(i, nid, fwd, local, ins, mask))
    plan = Plan(tuple(order), index, tuple(leaves), tuple(ops), blocked)
    backs: dict[str, BackPlan] = {}
    _cache[graph] = (key, plan, backs)
    return plan, backs


def backward_plan(graph: Graph, output: str | None) -> BackPlan:
    plan, backs = forward_plan(graph)
    key = output or ""
    if key in backs:
        return backs[key]
    out = output if output is not None else graph.output_id
    problem = None
    entries: tuple[OpEntry | None, ...] = ()
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
        chosen: list[OpEntry | None] = []
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
    result = BackPlan(out, problem, entries, path)
    backs[key] = result
    return result


def leaf_values(
    graph: Graph, plan: Plan, overrides: Mapping[str, float] | None
) -> list[float | None]:
    vals: list[float | None] = [None] * len(plan.order)
    for i, nid in plan.leaves:
        v = graph.node(nid).leaf_value
        if overrides and nid in overrides:
            v = float(overrides[nid])
        vals[i] = v
    return vals
