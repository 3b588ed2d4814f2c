"""Build a graph from a short Python program, read with ``ast`` (never run).

Understood::

    from micrograd.engine import Value      # imports of micrograd, math, numpy: ignored
    a = Value(-4.0)                          # an input named a (so is: a = -4.0)
    b = 2.0
    c = a * b + b ** 3                       # + - * / ** and unary minus; ** with a
    c += 1 + c + (-a)                        #   constant exponent becomes powc
    d = (b - a).relu() + tanh(c) + math.exp(a)   # functions, as calls or as methods
    e = max(c, d)
    y = e                                    # an alias becomes an explicit copy node
    print(y.data)                            # print(...) and x.label = '...': ignored
    y.backward()                             # names the output (else: the last assignment)

A ``def`` of straight-line assignments ending in ``return`` is inlined at each call,
and the call's nodes become a group named after the function (see
:mod:`graph.program_defs`). Expressions are built by :mod:`graph.program_exprs`; this
module reads the statements.

Functions: exp, log, sqrt, abs, tanh, sigmoid, relu, square, neg (one argument),
max and min (two or more), pow (two), choose(sel, x1, ..., xn) (the selector
first). Numeric literals are constants. A variable assigned several times gets one
node per assignment; the last one carries the plain name and earlier ones ``name_1``,
``name_2``... Anything else is refused with a ProgramError giving line and column
(1-based).
"""

from __future__ import annotations

import ast
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from graph.errors import GraphEditError, GraphFileError, ProgramError
from graph.groups import GROUPS_KEY
from graph.layout import layout_positions
from graph.model import Graph
from graph.node import MAX_NAME_LENGTH, Node, check_name
from graph.ops import OPS
from graph.program_defs import FunctionSupport
from graph.program_exprs import (
    ALIASES,
    BINARY_FUNCS,
    BINOPS,
    HELP,
    OP_WORDS,
    UNARY_FUNCS,
    ExpressionSupport,
    are,
)
from graph.safe_math import or_zero

#: Largest program accepted (characters).
MAX_PROGRAM_CHARS = 4_000_000
_MODULES = {"math", "numpy", "np", "micrograd", "torch"}
_IGNORED_CALLS = {"print"}
_STMT_WORDS = {
    ast.For: "for loops",
    ast.AsyncFor: "for loops",
    ast.While: "while loops",
    ast.If: "if statements",
    ast.FunctionDef: "function definitions",
    ast.AsyncFunctionDef: "function definitions",
    ast.ClassDef: "class definitions",
    ast.Return: "return statements",
    ast.With: "with statements",
    ast.AsyncWith: "with statements",
    ast.Try: "try statements",
    ast.Delete: "del statements",
    ast.Global: "global statements",
    ast.Nonlocal: "nonlocal statements",
    ast.Assert: "assert statements",
    ast.Raise: "raise statements",
    ast.Break: "break",
    ast.Continue: "continue",
    ast.Match: "match statements",
}
_NO_PARAMS: MappingProxyType[str, float] = MappingProxyType({})


@dataclass
class _Proto:
    """A node under construction."""

    id: str
    name: str
    op: str
    params: dict[str, float] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    value: float | None = None


def load_program(path: str | os.PathLike[str]) -> Graph:
    """Read a ``.py`` file (UTF-8, at most MAX_PROGRAM_CHARS) and build its graph."""
    from graph.fileformat import read_regular

    raw = read_regular(path, MAX_PROGRAM_CHARS, "program")
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraphFileError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        return from_program(source)
    except ProgramError as exc:
        # Name the file: on the command line the message is all the user sees.
        raise ProgramError(exc.reason, exc.line, exc.col, source=str(path)) from None


def from_program(source: str, output: str | None = None) -> Graph:
    """The graph the program computes; its output is ``output`` (a variable name), else
    the variable ``.backward()`` is called on, else the last one assigned.

    Raises ProgramError with ``line``/``col`` for anything it does not understand.
    """
    if not isinstance(source, str):
        raise ProgramError("a program must be text")
    if len(source) > MAX_PROGRAM_CHARS:
        raise ProgramError(f"the program is longer than {MAX_PROGRAM_CHARS} characters")
    if "\x00" in source:
        line = source.count("\n", 0, source.index("\x00")) + 1
        raise ProgramError("the program contains a NUL character", line, 1)
    try:
        with warnings.catch_warnings():
            # "invalid decimal literal" and friends would go to stderr; errors are ours to say
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = exc.offset or 1
        raise ProgramError(f"syntax error: {exc.msg}", line, max(col, 1)) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        msg = (
            "it is nested too deeply (too many operators in one expression)"
            if isinstance(exc, RecursionError | MemoryError)
            else str(exc) or type(exc).__name__
        )
        raise ProgramError(f"cannot parse the program: {msg}", 1, 1) from None
    return _Builder(source).build(tree, output)


class _Builder(ExpressionSupport, FunctionSupport):
    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.protos: list[_Proto] = []
        self.by_id: dict[str, _Proto] = {}
        self.vars: dict[str, str] = {}  # variable -> current node id
        self.bound: set[str] = set()  # node ids a variable has ever named
        self.info: dict[int, tuple[Any, ...]] = {}  # id(ast node) -> what make() builds
        self.assign_total: dict[str, int] = {}
        self.assign_seen: dict[str, int] = {}
        self.used_names: set[str] = set()
        self.reserved: set[str] = set()
        self.counters: dict[str, int] = {}
        self.last_assigned: str | None = None
        self.backward_id: str | None = None
        self.modules: set[str] = set(_MODULES)
        self.funcs: dict[str, str] = {}  # names imported from math: exp -> exp
        self.globals = self.vars  # what a function body reads besides its parameters
        self._init_functions()

    # -- locations --

    def where(self, node: ast.AST) -> tuple[int, int]:
        line = getattr(node, "lineno", 1) or 1
        offset = getattr(node, "col_offset", 0) or 0
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")) + 1
        return line, col

    def error(self, node: ast.AST, message: str) -> ProgramError:
        line, col = self.where(node)
        return ProgramError(message, line, col)

    # -- naming --

    def fresh(self, base: str) -> str:
        k = self.counters.get(base, 0)
        while True:
            k += 1
            name = f"{base}{k}"
            if name not in self.used_names and name not in self.reserved:
                self.counters[base] = k
                return name

    def var_name(self, var: str, node: ast.AST) -> str:
        if self.scope_prefix is not None:
            return self.scoped_name(var)
        if len(var) > MAX_NAME_LENGTH or var.startswith("__"):
            try:
                check_name(var)
            except GraphEditError as exc:
                raise self.error(node, str(exc)) from None
        k = self.assign_seen.get(var, 0) + 1
        self.assign_seen[var] = k
        total = self.assign_total.get(var, 1)
        if k >= total:
            name = var  # the user's own name: generated names never take it
            while name in self.used_names:
                name = name + "_"
            return name
        # An earlier value of a variable assigned several times gets a generated name,
        # which must not be any variable the program assigns: `--set x_1=...` means the
        # user's x_1, never the first value of x.
        name = f"{var}_{k}"
        while name in self.used_names or name in self.assign_total:
            name = name + "_"
        return name

    def add(
        self,
        op: str,
        inputs: list[str],
        name: str | None = None,
        params: dict[str, float] | None = None,
        value: float | None = None,
    ) -> str:
        node_id = f"n{len(self.protos) + 1}"
        if name is None:
            name = ""  # most results get a variable's name next; the rest get one at the end
        else:
            self.used_names.add(name)
        if op == "input" and self.scope_prefix is not None:
            op, params, value = "const", {"value": or_zero(value)}, None  # numbers in a def
        proto = _Proto(node_id, name, op, params or {}, inputs, value)
        self.protos.append(proto)
        self.by_id[node_id] = proto
        self.note_node(node_id)
        return node_id

    # -- statements --

    def build(self, tree: ast.Module, output: str | None) -> Graph:
        self.prescan(tree)
        for stmt in tree.body:
            self.statement(stmt)
        if not self.protos or self.last_assigned is None:
            raise ProgramError("the program assigns nothing; write e.g. L = (x * w - y) ** 2", 1, 1)
        if output is not None:
            if output not in self.vars:
                raise ProgramError(f"the program has no variable named {output!r}")
            out_id = self.vars[output]
        elif self.backward_id is not None:
            out_id = self.backward_id
        else:
            out_id = self.vars[self.last_assigned]
        return self.finish(out_id)

    def prescan(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            for target in self.targets(stmt):
                self.assign_total[target] = self.assign_total.get(target, 0) + 1
                self.reserved.add(target)

    @staticmethod
    def targets(stmt: ast.stmt) -> Iterator[str]:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            t = stmt.targets[0]
            if isinstance(t, ast.Name):
                yield t.id
            elif isinstance(t, ast.Tuple):
                for elt in t.elts:
                    if isinstance(elt, ast.Name):
                        yield elt.id
        elif isinstance(stmt, ast.AugAssign | ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            yield stmt.target.id

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            self.assign(stmt)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None or not isinstance(stmt.target, ast.Name):
                raise self.error(stmt, "an annotation needs a value, e.g. x: float = 1.0")
            self.bind(stmt.target, stmt.value)
        elif isinstance(stmt, ast.Expr):
            self.expression_statement(stmt)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            self.imports(stmt)
        elif isinstance(stmt, ast.Pass):
            pass
        elif isinstance(stmt, ast.FunctionDef):
            self.define(stmt)
        else:
            what = _STMT_WORDS.get(type(stmt), type(stmt).__name__)
            raise self.error(
                stmt, f"{what} {are(what)} not supported; write straight-line assignments"
            )

    def imports(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                root = alias.name.split(".")[0]
                if root not in _MODULES:
                    raise self.error(stmt, f"importing {alias.name} is not supported")
                self.modules.add(alias.asname or root)
            return
        root = (stmt.module or "").split(".")[0]
        if root not in _MODULES:
            raise self.error(stmt, f"importing from {stmt.module or '.'} is not supported")
        for alias in stmt.names:
            if alias.name == "*":
                continue
            fn = ALIASES.get(alias.name, alias.name)
            if fn in UNARY_FUNCS or fn in BINARY_FUNCS:
                self.funcs[alias.asname or alias.name] = fn

    def expression_statement(self, stmt: ast.Expr) -> None:
        value = stmt.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return  # a docstring or comment string
        if isinstance(value, ast.Call):
            func = value.func
            if isinstance(func, ast.Name) and func.id in _IGNORED_CALLS:
                return
            if isinstance(func, ast.Attribute) and func.attr in ("backward", "zero_grad"):
                if func.attr == "backward":
                    if not isinstance(func.value, ast.Name) or func.value.id not in self.vars:
                        raise self.error(value, "call .backward() on a variable assigned above")
                    self.backward_id = self.vars[func.value.id]
                return
        raise self.error(stmt, "an expression on its own does nothing; assign it to a name")

    def assign(self, stmt: ast.Assign) -> None:
        if len(stmt.targets) != 1:
            raise self.error(stmt, "chained assignment (a = b = ...) is not supported")
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            self.bind(target, stmt.value)
            return
        if isinstance(target, ast.Attribute) and target.attr in ("label", "grad", "data"):
            if target.attr == "label" or isinstance(stmt.value, ast.Constant):
                return  # micrograd bookkeeping: o.label = 'o', o.grad = 1.0
        if isinstance(target, ast.Tuple) and self._def_call(stmt.value):
            names = [n for n in target.elts if isinstance(n, ast.Name)]
            if len(names) != len(target.elts):
                raise self.error(stmt, "unpack a function's results into plain names")
            call = stmt.value
            assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            ids = [self.expr(a) for a in call.args]
            outs = self.inline(call, call.func.id, ids)
            if len(outs) != len(names):
                raise self.error(
                    stmt, f"{call.func.id}() returns {len(outs)} value(s), not {len(names)}"
                )
            for n, node_id in zip(names, outs, strict=True):
                self.store(n, node_id, None)
            return
        if isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple):
            names = [n for n in target.elts if isinstance(n, ast.Name)]
            values = stmt.value.elts
            if len(names) != len(values) or len(names) != len(target.elts):
                raise self.error(stmt, "unpack names from a tuple of the same length")
            built = [self.rhs(v) for v in values]  # right side first, as Python does
            for n, (built_id, literal) in zip(names, built, strict=True):
                self.store(n, built_id, literal)
            return
        raise self.error(target, "only assignments to plain names are supported")

    def _def_call(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.defs
            and not node.keywords
        )

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        if not isinstance(stmt.target, ast.Name):
            raise self.error(stmt.target, "only assignments to plain names are supported")
        var = stmt.target.id
        if var not in self.vars:
            raise self.error(stmt.target, f"name {var!r} is not defined yet")
        op_type = type(stmt.op)
        if op_type not in BINOPS:
            sym = OP_WORDS.get(op_type, op_type.__name__)
            raise self.error(stmt, f"the {sym}= operator is not supported; {HELP}")
        current = self.vars[var]
        node_id = self.binop(op_type, current, stmt.value)
        self.store(stmt.target, node_id, None)

    def bind(self, target: ast.Name, value: ast.expr) -> None:
        node_id, literal = self.rhs(value)
        self.store(target, node_id, literal)

    def rhs(self, value: ast.expr) -> tuple[str | None, tuple[ast.AST, float] | None]:
        """Build the right side; a bare number or Value(number) is returned as a literal
        so the store can make it an input named after the variable."""
        literal = self.literal(value)
        if literal is not None:
            return None, (value, literal)
        call_literal = self.value_call(value)
        if call_literal is not None:
            return None, (value, call_literal)
        return self.expr(value), None

    def store(
        self,
        target: ast.Name,
        node_id: str | None,
        literal: tuple[ast.AST, float] | None,
    ) -> None:
        var = target.id
        name = self.var_name(var, target)
        if literal is not None:
            node_id = self.add("input", [], name=name, value=literal[1])
        else:
            assert node_id is not None
            proto = self.by_id[node_id]
            if proto.id in self.bound:
                # y = x: give y its own node, an explicit copy (the seed's b1 = b)
                node_id = self.add("copy", [node_id], name=name)
            else:
                self.used_names.discard(proto.name)
                proto.name = name
                self.used_names.add(name)
        self.vars[var] = node_id
        self.bound.add(node_id)
        self.last_assigned = var

    # -- result --

    def finish(self, out_id: str) -> Graph:
        for p in self.protos:
            if not p.name:
                p.name = self.fresh({"const": "c", "input": "v"}.get(p.op, p.op))
                self.used_names.add(p.name)
        ids = [p.id for p in self.protos]
        # Builders add a node after its inputs, so creation order is topological.
        preds = {p.id: p.inputs for p in self.protos}
        positions = layout_positions(ids, preds)
        nodes = []
        for p in self.protos:
            spec = OPS[p.op]
            params = {q.name: p.params.get(q.name, q.default) for q in spec.params}
            nodes.append(
                Node(
                    id=p.id,
                    name=p.name,
                    op=p.op,
                    params=MappingProxyType(params) if params else _NO_PARAMS,
                    inputs=tuple(p.inputs),
                    pos=positions[p.id],
                    value=p.value if p.op == "input" else None,
                )
            )
        graph = Graph()
        meta = {GROUPS_KEY: self.groups} if self.groups else {}
        graph._load_parts(nodes, out_id, meta)
        return graph
