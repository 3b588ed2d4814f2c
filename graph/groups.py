"""Groups: named sets of nodes drawn and stepped over as one function node.

A group is metadata over the flat graph: its nodes stay ordinary nodes, so a grouped
graph evaluates exactly as its ungrouped form. Groups nest (``parent``); each node is
a direct member of at most one group. The graph keeps them in ``meta["groups"]`` as a
list of ``{"id": "g1", "name": "sigmoid", "nodes": [node ids], "parent": None}`` (so
edits are undoable like any meta change and copies carry them); graph files store them
as the top-level ``"groups"`` of format version 2 (see :mod:`graph.fileformat`).

A group must be *closed under paths*: no path may leave it and come back in, so drawn
as one node it cannot form a cycle. Its **inputs** are the outside nodes feeding its
members (in topological order), its **outputs** the members read outside it, or the
graph's output. :func:`jacobian` gives the combined local derivative d output / d input
with the same local derivatives the backward pass uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.errors import GraphEditError
from graph.model import Graph
from graph.node import check_name

GROUPS_KEY = "groups"
MAX_GROUPS = 10_000


@dataclass(frozen=True)
class Group:
    """One group: ``nodes`` are its direct members (not those of its sub-groups)."""

    id: str
    name: str
    nodes: tuple[str, ...]
    parent: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "nodes": list(self.nodes), "parent": self.parent}


@dataclass(frozen=True)
class Ports:
    """A group's boundary: outside node ids feeding it, member ids read outside it."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


class Groups:
    """The graph's groups, parsed from its meta (ids of deleted nodes are left out, and
    groups left empty with no sub-groups are dropped)."""

    def __init__(self, graph: Graph, raw: Any = None) -> None:
        self.graph = graph
        if raw is None:
            raw = graph.get_meta(GROUPS_KEY, [])
        self.by_id: dict[str, Group] = {}
        for item in raw if isinstance(raw, list) else []:
            try:
                gid, name = str(item["id"]), str(item["name"])
                nodes = tuple(n for n in item.get("nodes", []) if n in graph)
                parent = item.get("parent")
            except (KeyError, TypeError):
                continue
            self.by_id[gid] = Group(gid, name, nodes, parent if isinstance(parent, str) else None)
        for gid, g in list(self.by_id.items()):
            if g.parent is not None and g.parent not in self.by_id:
                self.by_id[gid] = Group(g.id, g.name, g.nodes, None)
        for gid in list(self.by_id):
            if gid in self.by_id and not self.all_nodes(gid):
                self._drop(gid)

    def _drop(self, gid: str) -> None:
        g = self.by_id.pop(gid)
        for cid, c in list(self.by_id.items()):
            if c.parent == gid:
                self.by_id[cid] = Group(c.id, c.name, c.nodes, g.parent)

    def __bool__(self) -> bool:
        return bool(self.by_id)

    def __iter__(self):
        return iter(self.by_id.values())

    def __getitem__(self, gid: str) -> Group:
        try:
            return self.by_id[gid]
        except KeyError:
            raise GraphEditError(f"there is no group with id {gid!r}") from None

    def as_json(self) -> list[dict[str, Any]]:
        return [g.as_json() for g in self.by_id.values()]

    def children(self, gid: str | None) -> list[str]:
        """Sub-groups of ``gid`` (top-level groups for None), in creation order."""
        return [g.id for g in self.by_id.values() if g.parent == gid]

    def all_nodes(self, gid: str) -> set[str]:
        """Every node inside ``gid``, sub-groups included."""
        out: set[str] = set()
        todo = [gid]
        seen = set()
        while todo:
            g = self.by_id[todo.pop()]
            if g.id in seen:
                continue
            seen.add(g.id)
            out.update(g.nodes)
            todo += self.children(g.id)
        return out

    def group_of(self, node_id: str) -> str | None:
        """The group ``node_id`` is a direct member of, or None."""
        for g in self.by_id.values():
            if node_id in g.nodes:
                return g.id
        return None

    def chain(self, node_id: str) -> list[str]:
        """The groups around ``node_id``, innermost first."""
        out = []
        gid = self.group_of(node_id)
        while gid is not None and gid not in out:
            out.append(gid)
            gid = self.by_id[gid].parent
        return out

    def ancestors(self, gid: str) -> list[str]:
        """The groups around ``gid``, innermost first (not ``gid`` itself)."""
        out = []
        parent = self.by_id[gid].parent
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.by_id[parent].parent
        return out

    def ports(self, gid: str) -> Ports:
        g = self.graph
        members = self.all_nodes(gid)
        order = [n for n in g.topological_order() if n in members]
        inputs: list[str] = []
        outputs: list[str] = []
        for nid in order:
            for src in g.node(nid).inputs:
                if src is not None and src not in members and src not in inputs:
                    inputs.append(src)
        for nid in order:
            read_outside = any(e.dst not in members for e in g.out_edges(nid))
            if read_outside or nid == g.output_id:
                outputs.append(nid)
        inputs.sort(key=order_key(g))
        return Ports(tuple(inputs), tuple(outputs))


def order_key(graph: Graph):
    rank = {nid: i for i, nid in enumerate(graph.topological_order())}
    return rank.__getitem__


def loop_through(graph: Graph, members: set[str]) -> str | None:
    """Name of an outside node on a path that leaves ``members`` and comes back, or None."""
    outside = set()
    for nid in members:
        outside |= graph.descendants(nid)
    outside -= members
    for nid in sorted(outside, key=order_key(graph)):
        if graph.descendants(nid) & members:
            return graph.node(nid).name
    return None


def _fresh_id(groups: Groups) -> str:
    k = 1
    while f"g{k}" in groups.by_id:
        k += 1
    return f"g{k}"


def group_nodes(graph: Graph, node_ids: Iterable[str], name: str) -> tuple[list[dict], str]:
    """The groups after making ``node_ids`` a group called ``name``; and its id.

    Whole existing groups inside the selection become its sub-groups; a selection inside
    one group makes the new group a sub-group of it. Refused (GraphEditError) for an
    empty selection, input nodes, a selection that cuts an existing group in part, or one
    with a path that leaves and re-enters it.
    """
    check_name(name)
    wanted = set()
    for nid in node_ids:
        graph.node(nid)
        wanted.add(nid)
    if not wanted:
        raise GraphEditError("select the nodes to group first")
    inputs = [graph.node(n).name for n in wanted if graph.node(n).op == "input"]
    if inputs:
        raise GraphEditError(
            f"inputs stay outside a function (they become its arguments): {', '.join(inputs)}"
        )
    groups = Groups(graph)
    if len(groups.by_id) >= MAX_GROUPS:
        raise GraphEditError(f"a graph may have at most {MAX_GROUPS} groups")
    inner = [gid for gid in groups.by_id if groups.all_nodes(gid) <= wanted]
    # The new group's parent: the innermost group holding the whole selection. Any other
    # group that overlaps the selection must lie wholly inside it.
    holders = [gid for gid in groups.by_id if wanted < groups.all_nodes(gid)]
    parent = min(holders, key=lambda gid: len(groups.all_nodes(gid)), default=None)
    for gid in groups.by_id:
        if gid in inner or gid in holders:
            continue
        if groups.all_nodes(gid) & wanted:
            raise GraphEditError(
                f"the selection cuts the group {groups[gid].name} in part: select all of it "
                "or only nodes inside it"
            )
    where = loop_through(graph, wanted)
    if where is not None:
        raise GraphEditError(
            f"cannot group: {where} is computed from the selection and feeds it again; "
            "add it to the selection"
        )
    gid = _fresh_id(groups)
    top_inner = [i for i in inner if groups.by_id[i].parent not in inner]
    covered = set().union(*(groups.all_nodes(i) for i in top_inner)) if top_inner else set()
    direct = tuple(n for n in graph.node_ids() if n in wanted and n not in covered)
    out = []
    for g in groups:
        nodes = tuple(n for n in g.nodes if n not in direct)
        new_parent = gid if g.id in top_inner else g.parent
        out.append(Group(g.id, g.name, nodes, new_parent).as_json())
    out.append(Group(gid, name, direct, parent).as_json())
    return out, gid


def ungroup(graph: Graph, gid: str) -> list[dict]:
    """The groups after dissolving ``gid``: its nodes and sub-groups move to its parent."""
    groups = Groups(graph)
    g = groups[gid]
    out = []
    for other in groups:
        if other.id == gid:
            continue
        nodes = other.nodes + g.nodes if other.id == g.parent else other.nodes
        parent = g.parent if other.parent == gid else other.parent
        out.append(Group(other.id, other.name, nodes, parent).as_json())
    return out


def rename_group(graph: Graph, gid: str, name: str) -> list[dict]:
    check_name(name)
    groups = Groups(graph)
    groups[gid]
    return [
        Group(g.id, name if g.id == gid else g.name, g.nodes, g.parent).as_json() for g in groups
    ]


def validate(graph: Graph, raw: Any) -> list[dict]:
    """Check the groups of a graph file strictly; ValueError("<path>: <problem>")."""
    if not isinstance(raw, list):
        raise ValueError("groups: expected a list")
    if len(raw) > MAX_GROUPS:
        raise ValueError(f"groups: {len(raw)} groups is more than the {MAX_GROUPS} allowed")
    seen: dict[str, int] = {}
    member_of: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    for i, item in enumerate(raw):
        path = f"groups[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{path}: expected an object")
        extra = sorted(set(item) - {"id", "name", "nodes", "parent"})
        if extra:
            raise ValueError(f"{path}: unknown key {extra[0]!r} (allowed: id, name, nodes, parent)")
        gid, name, nodes = item.get("id"), item.get("name"), item.get("nodes", [])
        if not isinstance(gid, str) or not gid or len(gid) > 64:
            raise ValueError(f"{path}.id: expected a short string")
        if gid in seen:
            raise ValueError(f"{path}.id: duplicate id {gid!r} (also groups[{seen[gid]}])")
        seen[gid] = i
        try:
            check_name(name)
        except GraphEditError as exc:
            raise ValueError(f"{path}.name: {exc}") from None
        if not isinstance(nodes, list):
            raise ValueError(f"{path}.nodes: expected a list of node ids")
        for k, nid in enumerate(nodes):
            if not isinstance(nid, str) or nid not in graph:
                raise ValueError(f"{path}.nodes[{k}]: no node has id {nid!r:.40}")
            if nid in member_of:
                raise ValueError(
                    f"{path}.nodes[{k}]: node {graph.node(nid).name} is already in group "
                    f"{member_of[nid]!r}"
                )
            if graph.node(nid).op == "input":
                raise ValueError(f"{path}.nodes[{k}]: an input node cannot be inside a group")
            member_of[nid] = gid
        parent = item.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise ValueError(f"{path}.parent: expected a group id or null")
        parents[gid] = parent
    for gid, parent in parents.items():
        path = f"groups[{seen[gid]}].parent"
        if parent is not None and parent not in parents:
            raise ValueError(f"{path}: no group has id {parent!r:.40}")
        steps, p = 0, parent
        while p is not None:
            if p == gid or steps > len(parents):
                raise ValueError(f"{path}: the groups' parents form a loop")
            p, steps = parents[p], steps + 1
    groups = Groups(graph, raw)
    for gid in parents:
        if gid not in groups.by_id:
            raise ValueError(f"groups[{seen[gid]}]: the group holds no nodes")
        where = loop_through(graph, groups.all_nodes(gid))
        if where is not None:
            raise ValueError(
                f"groups[{seen[gid]}]: a path leaves the group and comes back through {where}"
            )
    return groups.as_json()


# ----------------------------------------------------------------------------- derivative


def jacobian(
    graph: Graph, gid: str, values: Mapping[str, float | None]
) -> tuple[Ports, list[list[float]]]:
    """``(ports, J)`` with ``J[k][j]`` = d outputs[k] / d inputs[j] at ``values`` (a
    forward pass), chained through the group with the backward pass's local derivatives."""
    from graph.plans import forward_plan

    groups = Groups(graph)
    ports = groups.ports(gid)
    members = groups.all_nodes(gid)
    plan, _ = forward_plan(graph)
    entries = {e.node_id: e for e in plan.ops if e.node_id in members}
    order = [n for n in reversed(plan.order) if n in entries]
    rows = []
    for out in ports.outputs:
        g: dict[str, float] = {out: 1.0}
        for nid in order:
            if nid not in g:
                continue
            e = entries[nid]
            args = [values.get(plan.order[j]) for j in e.ins]
            if any(a is None for a in args) or values.get(nid) is None:
                g = {}
                break
            try:
                parts = e.local(*args, values[nid])
            except (ArithmeticError, ValueError, TypeError):
                parts = (math.nan,) * len(args)
            for j, p, m in zip(e.ins, parts, e.grad_mask, strict=True):
                if m:
                    src = plan.order[j]
                    g[src] = g.get(src, 0.0) + g[nid] * p
        rows.append([g.get(i, 0.0) if g else math.nan for i in ports.inputs])
    return ports, rows


#: Formulas of well-known one-input functions, from the output value ``y`` and input ``x``.
KNOWN_DERIVATIVES = {
    "sigmoid": ("σ(1 − σ)", lambda x, y: y * (1.0 - y)),
    "tanh": ("1 − tanh²", lambda x, y: 1.0 - y * y),
    "exp": ("exp(x)", lambda x, y: y),
    "square": ("2x", lambda x, y: 2.0 * x),
    "softplus": ("σ(x)", lambda x, y: 1.0 / (1.0 + math.exp(-x))),
}


def known_formula(name: str, x: float, y: float, numeric: float) -> str | None:
    """The textbook formula for a group named like a well-known function, if it agrees
    with the numeric combined derivative (a misnamed group gets no formula)."""
    key = name.rstrip("0123456789_").lower()
    if key not in KNOWN_DERIVATIVES:
        return None
    text, fn = KNOWN_DERIVATIVES[key]
    try:
        expected = fn(x, y)
    except (ArithmeticError, ValueError):
        return None
    if math.isclose(expected, numeric, rel_tol=1e-9, abs_tol=1e-12):
        return text
    return None
