"""Python export of a grouped graph: one helper function per group.

A group ``sigmoid`` with input ``z`` and output ``p`` becomes::

    def sigmoid(z):
        # Forward pass ...
        # Backward pass: d p / d each input
        ...
        return p, (dp_dz,)

(several outputs: ``return (p1, p2), ((dp1_ds1, dp1_ds2), (dp2_ds1, dp2_ds2))``). The
caller unpacks the value and the local derivatives (``p, (dp_dz,) = sigmoid(z)``) and its
backward pass chains through them: ``grad_z = grad_p * dp_dz``. Nested groups call their
sub-groups' helpers the same way. The numbers equal the engine's up to rounding: a
group's derivatives are multiplied out inside the helper before the upstream gradient is
applied, where the engine multiplies edge by edge.
"""

from __future__ import annotations

from graph.errors import GraphError
from graph.export import _RESERVED, _atomic, _Names, _py_float, return_and_main
from graph.groups import Groups, Ports
from graph.model import Graph
from graph.node import Node
from graph.plans import backward_plan, forward_plan
from graph.safe_math import or_zero
from graph.toposort import topological_sort

_INDENT = "    "


def _tuple(items: list[str]) -> str:
    """Python source of a tuple of ``items`` (``(a,)`` for one)."""
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


class _Writer:
    def __init__(self, graph: Graph, func_name: str) -> None:
        self.graph = graph
        self.groups = Groups(graph)
        self.names = _Names(_RESERVED | {func_name})
        self.var = {}
        for n in graph.nodes():
            self.var[n.id] = self.names.claim(n.name if n.name not in _RESERVED else n.name + "_v")
        self.helper: dict[str, str] = {}
        self.ports: dict[str, Ports] = {g.id: self.groups.ports(g.id) for g in self.groups}
        # Names of the local derivatives each group call unpacks: (gid, out, in) -> name.
        self.partial: dict[tuple[str, str, str], str] = {}
        self._grad_names: dict[tuple[str, str], str] = {}
        # The nodes whose gradient the engine computes; a helper leaves the others' out.
        self.on_path: frozenset[str] = frozenset()

    def gvar(self, prefix: str, node_id: str) -> str:
        """The (unique) name of a gradient variable: ``prefix`` + the node's name."""
        key = (prefix, node_id)
        if key not in self._grad_names:
            self._grad_names[key] = self.names.claim(f"{prefix}{self.var[node_id]}")
        return self._grad_names[key]

    # -- scopes: the direct nodes and sub-groups of one group (or the top level) --------
    def items(self, gid: str | None, needed: set[str]) -> list[str]:
        """Item keys of the scope in topological order: node ids, and ``"group:" + gid``."""
        g, groups = self.graph, self.groups
        direct = [
            n
            for n in g.node_ids()
            if n in needed and groups.group_of(n) == gid and g.node(n).op != "input"
        ]
        subs = [c for c in groups.children(gid) if set(self.ports[c].outputs) & needed]
        provider = {n: n for n in direct}
        for c in subs:
            for member in groups.all_nodes(c):
                provider[member] = "group:" + c
        keys = direct + ["group:" + c for c in subs]
        preds: dict[str, list[str]] = {}
        for key in keys:
            sources = (
                self.ports[key[6:]].inputs
                if key.startswith("group:")
                else [s for s in g.node(key).inputs if s is not None]
            )
            preds[key] = [provider[s] for s in sources if s in provider and provider[s] != key]
        order, rest = topological_sort(keys, preds)
        assert not rest, "groups are closed under paths"
        return order

    def forward(self, keys: list[str]) -> list[str]:
        g, var = self.graph, self.var
        lines = []
        for key in keys:
            if key.startswith("group:"):
                gid = key[6:]
                ports = self.ports[gid]
                args = ", ".join(var[i] for i in ports.inputs)
                outs = [var[o] for o in ports.outputs]
                rows = []
                for o in ports.outputs:
                    row = []
                    for i in ports.inputs:
                        name = self.names.claim(f"d{var[o]}_d{var[i]}")
                        self.partial[gid, o, i] = name
                        row.append(name)
                    rows.append(_tuple(row))
                if len(outs) == 1:
                    target = f"{outs[0]}, {rows[0]}"
                else:
                    target = f"({', '.join(outs)}), ({', '.join(rows)})"
                lines.append(f"{target} = {self.helper[gid]}({args})")
                continue
            n = g.node(key)
            if n.op == "const":
                lines.append(f"{var[key]} = {_py_float(n.params.get('value', 0.0))}")
            else:
                operands = [var[s] for s in n.inputs]  # type: ignore[index]
                lines.append(f"{var[key]} = {n.spec.format_py(operands, n.params)}")
        return lines

    def backward(self, keys: list[str], seed: str, prefix: str) -> tuple[list[str], set[str]]:
        """Lines computing ``prefix + var`` = d seed / d var back through the scope's
        items; returns them and the ids that got a gradient."""
        g, var = self.graph, self.var
        lines = [f"{self.gvar(prefix, seed)} = 1.0"]
        have = {seed}

        def add(src: str, expr: str) -> None:
            if g.node(src).op == "const":
                return  # nobody asks for a constant's gradient
            name = self.gvar(prefix, src)
            lines.append(f"{name} {'+=' if src in have else '='} {expr}")
            have.add(src)

        for key in reversed(keys):
            if key.startswith("group:"):
                gid = key[6:]
                ports = self.ports[gid]
                outs = [o for o in ports.outputs if o in have]
                if not outs:
                    continue
                for i in ports.inputs:
                    terms = [f"{self.gvar(prefix, o)} * {self.partial[gid, o, i]}" for o in outs]
                    add(i, " + ".join(terms))
                continue
            if key not in have:
                continue
            n = g.node(key)
            if n.is_leaf:
                continue
            args = [var[s] for s in n.inputs]  # type: ignore[index]
            locals_ = n.spec.format_py_local(args, var[key], n.params)
            mask = [p not in n.spec.no_grad_ports for p in n.port_names]
            for port, src in enumerate(n.inputs):
                assert src is not None
                if not mask[port]:
                    continue
                local = locals_[port]
                upstream = self.gvar(prefix, key)
                if local == "1.0":
                    expr = upstream
                elif _atomic(local):
                    expr = f"{upstream} * {local}"
                else:
                    expr = f"{upstream} * ({local})"
                add(src, expr)
        return lines, have

    def closure(self, needed: set[str], within: set[str] | None = None) -> set[str]:
        """``needed`` plus everything a needed group call takes as input (a group's
        inputs are all passed, even those that do not reach the needed outputs)."""
        g = self.graph
        needed = set(needed)
        changed = True
        while changed:
            changed = False
            for ports in self.ports.values():
                if not set(ports.outputs) & needed:
                    continue
                for i in ports.inputs:
                    if i not in needed and (within is None or i in within):
                        more = g.ancestors(i) | {i}
                        needed |= more if within is None else more & within
                        changed = True
        return needed

    # -- helpers -----------------------------------------------------------------------
    def helper_source(self, gid: str) -> list[str]:
        groups, var = self.groups, self.var
        group = groups[gid]
        ports = self.ports[gid]
        members = groups.all_nodes(gid)
        needed = set()
        for o in ports.outputs:
            needed |= (self.graph.ancestors(o) | {o}) & members
        keys = self.items(gid, self.closure(needed, members))
        params = ", ".join(var[i] for i in ports.inputs)
        out_names = ", ".join(self.graph.node(o).name for o in ports.outputs)
        in_names = ", ".join(self.graph.node(i).name for i in ports.inputs)
        body = [
            f"def {self.helper[gid]}({params}):",
            f'    """The group {group.name}: returns ({out_names}) and the derivatives of '
            f"each with respect to ({in_names}) (0.0 for an output the loss does not "
            f'depend on)."""',
            "    # Forward pass",
        ]
        body += [_INDENT + line for line in self.forward(keys)]
        rows = []
        for o in ports.outputs:
            if o not in self.on_path:
                # The engine never differentiates an output L does not depend on, and
                # its local derivatives may overflow where the engine's numbers are fine.
                rows.append(_tuple(["0.0"] * len(ports.inputs)))
                continue
            lines, have = self.backward(keys, o, f"d{var[o]}_d")
            body += ["", f"    # Backward pass: d{var[o]}/d(inputs)"]
            body += [_INDENT + line for line in lines]
            row = [self.gvar(f"d{var[o]}_d", i) if i in have else "0.0" for i in ports.inputs]
            rows.append(_tuple(row))
        outs = [var[o] for o in ports.outputs]
        if len(outs) == 1:
            body.append(f"    return {outs[0]}, {rows[0]}")
        else:
            body.append(f"    return ({', '.join(outs)}), ({', '.join(rows)})")
        return body


def to_python_grouped(graph: Graph, output: str | None = None, func_name: str = "f") -> str:
    """Like :func:`graph.export.to_python`, with one helper function per group."""
    forward_plan(graph)
    back = backward_plan(graph, output)
    if back.problem is not None or back.output is None:
        raise GraphError(f"cannot export: {back.problem}")
    out = back.output
    w = _Writer(graph, func_name)
    w.on_path = back.path
    groups = w.groups
    for g in groups:
        w.helper[g.id] = w.names.claim(g.name)
    needed = w.closure(graph.ancestors(out) | {out})
    first_of_op: dict[str, Node] = {}
    for n in graph.nodes():
        first_of_op.setdefault(n.op, n)
    head = [
        '"""Computational graph exported by Backprop Explorer (seed homework style), with one',
        'helper function per group."""',
        "",
        "import math as _math",
        "",
        '_nan = float("nan")',
        "",
    ]
    for op in sorted(first_of_op):
        helper = first_of_op[op].spec.py_helper
        if helper:
            head += ["", helper.rstrip(), ""]
    # Helpers of inner groups first, so each is defined before its caller.
    done: list[str] = []

    def visit(gid: str) -> None:
        for c in groups.children(gid):
            visit(c)
        done.append(gid)

    for top in groups.children(None):
        visit(top)
    helpers: list[str] = []
    for gid in done:
        helpers += ["", *w.helper_source(gid), ""]
    inputs = graph.inputs()
    var = w.var
    keys = w.items(None, needed)
    params = ", ".join(f"{var[i]}={_py_float(or_zero(graph.node(i).value))}" for i in inputs)
    grads_doc = ", ".join(f"dL/d{graph.node(i).name}" for i in inputs)
    body = [
        "",
        f"def {func_name}({params}):",
        f'    """Forward and backward pass. Returns (L, ({grads_doc}))."""',
        "    # Forward pass",
    ]
    body += [_INDENT + line for line in w.forward(keys)]
    lines, have = w.backward(keys, out, "grad_")
    body += ["", "    # Backward pass"] + [_INDENT + line for line in lines]
    grads = [w.gvar("grad_", i) if i in have else "0.0" for i in inputs]
    body += return_and_main(graph, func_name, var[out], grads)
    return "\n".join(head + helpers + body) + "\n"
