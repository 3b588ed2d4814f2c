"""``def`` in programs: each call of a defined function becomes a group of its nodes.

Accepted::

    def sigmoid(x):                  # positional parameters only
        e = exp(-x)                  # straight-line assignments, as at the top level
        return 1 / (1 + e)           # one return, last; a tuple returns several outputs

    def softmax2(a, b):
        ea, eb = exp(a), exp(b)
        return ea / (ea + eb), eb / (ea + eb)

    p = sigmoid(w * x + b)           # inlined: its nodes become the group "sigmoid"
    p1, p2 = softmax2(s1, s2)

The body may read variables assigned at the top level before the call (as Python reads
globals) and call functions defined earlier (nested groups). Numbers inside a body are
constants. Node names inside a call get the function's name as a prefix (``sigmoid_e``;
``sigmoid2_e`` for the second call). Recursion, defaults, ``*args``, keywords,
decorators and nested ``def`` are refused with their line and column.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from graph.node import check_name

if TYPE_CHECKING:
    from graph.errors import ProgramError

#: Most nodes a program may build (inlining calls can multiply them).
MAX_PROGRAM_NODES = 200_000


class FunctionSupport:
    """Mixed into the program builder: ``define`` a ``def``; ``inline`` a call of it."""

    defs: dict[str, ast.FunctionDef]
    groups: list[dict[str, Any]]
    group_stack: list[str]
    call_counts: dict[str, int]
    scope_prefix: str | None
    # What the program builder this is mixed into provides:
    vars: dict[str, str]
    globals: dict[str, str]
    last_assigned: str | None
    protos: Sequence[object]
    bound: set[str]
    used_names: set[str]
    reserved: set[str]

    if TYPE_CHECKING:

        def error(self, node: ast.AST, message: str) -> ProgramError: ...
        def statement(self, stmt: ast.stmt) -> None: ...
        def expr(self, root: ast.expr) -> str: ...
        def add(self, op: str, inputs: list[str]) -> str: ...

    def _init_functions(self) -> None:
        self.defs = {}
        self.groups = []
        self.group_stack = []
        self.call_counts = {}
        self.scope_prefix = None

    def define(self, stmt: ast.FunctionDef) -> None:
        a = stmt.args
        if stmt.decorator_list:
            raise self.error(stmt.decorator_list[0], "decorators are not supported")
        if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.kw_defaults:
            raise self.error(stmt, "a function takes plain positional parameters only")
        if self.group_stack:
            raise self.error(stmt, "define functions at the top level, not inside another")
        try:
            check_name(stmt.name)
        except Exception as exc:  # GraphEditError: the name cannot be a group name
            raise self.error(stmt, str(exc)) from None
        params = [p.arg for p in a.posonlyargs + a.args]
        if len(set(params)) != len(params):
            raise self.error(stmt, "a parameter name appears twice")
        body = list(stmt.body)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            raise self.error(stmt, f"{stmt.name}() must end with return <expression>")
        for inner in body[:-1]:
            if isinstance(inner, ast.Return):
                raise self.error(inner, "only one return, as the last statement")
            if isinstance(inner, ast.FunctionDef):
                raise self.error(inner, "define functions at the top level, not inside another")
        self.defs[stmt.name] = stmt

    def inline(self, call: ast.AST, name: str, arg_ids: list[str]) -> list[str]:
        """Build one call of ``name`` on the argument nodes; the ids of its outputs."""
        fdef = self.defs[name]
        params = [p.arg for p in fdef.args.posonlyargs + fdef.args.args]
        if len(arg_ids) != len(params):
            raise self.error(call, f"{name}() takes {len(params)} argument(s), got {len(arg_ids)}")
        if any(g["name"] == name for g in self._open_groups()):
            raise self.error(call, f"{name}() calls itself: recursion is not supported")
        k = self.call_counts.get(name, 0) + 1
        self.call_counts[name] = k
        gid = f"g{len(self.groups) + 1}"
        parent = self.group_stack[-1] if self.group_stack else None
        group: dict[str, Any] = {"id": gid, "name": name, "nodes": [], "parent": parent}
        self.groups.append(group)
        saved = (self.vars, self.last_assigned, self.scope_prefix)
        self.vars = {**self.globals, **dict(zip(params, arg_ids, strict=True))}
        self.scope_prefix = f"{name}_" if k == 1 else f"{name}{k}_"
        self.group_stack.append(gid)
        first = len(self.protos)
        try:
            body = fdef.body
            for stmt in body[:-1]:
                self.statement(stmt)
            last = body[-1]
            assert isinstance(last, ast.Return) and last.value is not None  # checked by define
            ret = last.value
            values = ret.elts if isinstance(ret, ast.Tuple) else [ret]
            outs = []
            for v in values:
                node_id = self.expr(v)
                if int(node_id[1:]) <= first:
                    # Returning a parameter or global as it is: the group needs its own node.
                    node_id = self.add("copy", [node_id])
                outs.append(node_id)
        finally:
            self.group_stack.pop()
            self.vars, self.last_assigned, self.scope_prefix = saved
        for node_id in outs:
            self.bound.discard(node_id)  # the caller names it
        if len(self.protos) > MAX_PROGRAM_NODES:
            raise self.error(call, f"the program builds more than {MAX_PROGRAM_NODES} nodes")
        return outs

    def _open_groups(self) -> list[dict[str, Any]]:
        by_id = {g["id"]: g for g in self.groups}
        return [by_id[gid] for gid in self.group_stack]

    def note_node(self, node_id: str) -> None:
        """Record a new node as a member of the innermost call being built."""
        if self.group_stack:
            self.groups[int(self.group_stack[-1][1:]) - 1]["nodes"].append(node_id)

    def scoped_name(self, var: str) -> str:
        """A node name for ``var`` assigned inside a call: ``<prefix><var>``, unique."""
        assert self.scope_prefix is not None
        name = self.scope_prefix + var
        while name in self.used_names or name in self.reserved:
            name += "_"
        return name
