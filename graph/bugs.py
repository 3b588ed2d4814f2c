"""A planted bug: one node's local derivative replaced by a wrong formula, for practice.

A teacher picks a node and one of its input ports and gives that local derivative a
wrong formula: a sign flip, a missing factor, the wrong input, or an expression typed by
hand. The evaluator uses the planted formula in the backward pass only (forward values
stay right), so the numeric gradient check, which needs forward values alone, exposes
it. The bug is kept in ``meta["planted_bug"]`` as base64 text, so the file does not show
it at a glance.

Typed formulas are parsed with ``ast`` into a small tree of IEEE-safe operations (never
``eval``): numbers, the node's port names, ``out`` (its value) and its parameters, ``+ -
* / **``, unary minus and ``exp log sqrt abs tanh sigmoid``.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.errors import GraphEditError
from graph.model import Graph
from graph.node import Node
from graph.safe_math import safe_div, safe_exp, safe_log, safe_pow, safe_sqrt, stable_sigmoid

BUG_KEY = "planted_bug"
KINDS = ("sign", "factor", "input", "expr")
KIND_LABELS = {
    "sign": "sign flip",
    "factor": "missing factor",
    "input": "wrong input",
    "expr": "typed expression",
}
MAX_EXPR_CHARS = 200

_FUNCS: dict[str, Callable[[float], float]] = {
    "exp": safe_exp,
    "log": safe_log,
    "sqrt": safe_sqrt,
    "abs": abs,
    "tanh": math.tanh,
    "sigmoid": stable_sigmoid,
}

# The correct local derivative of each op per port, as an expression over the port names
# and ``out``, and the textbook mistakes: a missing factor, the wrong input. Ops with
# kinks (abs, relu, max, min) and choose are left out: their derivative is a branch.
_RIGHT = {
    "add": ("1", "1"),
    "sub": ("1", "-1"),
    "mul": ("b", "a"),
    "div": ("1 / b", "-a / b ** 2"),
    "neg": ("-1",),
    "pow": ("b * a ** (b - 1)", "out * log(a)"),
    "powc": ("exponent * x ** (exponent - 1)",),
    "square": ("2 * x",),
    "exp": ("out",),
    "log": ("1 / x",),
    "sqrt": ("0.5 / out",),
    "tanh": ("1 - out ** 2",),
    "sigmoid": ("out * (1 - out)",),
    "copy": ("1",),
}
_MISSING_FACTOR = {
    "mul": ("1", "1"),
    "div": ("1", "-a / b"),
    "pow": ("a ** (b - 1)", "out"),
    "powc": ("x ** (exponent - 1)",),
    "square": ("x",),
    "log": ("1",),
    "sqrt": ("1 / out",),
    "tanh": ("-out ** 2",),
    "sigmoid": ("out",),
    "exp": ("1",),
    "neg": ("1",),
}
_WRONG_INPUT = {
    "mul": ("a", "b"),
    "div": ("1 / a", "-b / a ** 2"),
    "pow": ("a * b ** (a - 1)", "out * log(b)"),
    "powc": ("exponent * out ** (exponent - 1)",),
    "square": ("2 * out",),
    "exp": ("x",),
    "log": ("1 / out",),
    "sqrt": ("0.5 / x",),
    "tanh": ("1 - x ** 2",),
    "sigmoid": ("x * (1 - x)",),
}


@dataclass(frozen=True)
class Bug:
    """Port ``port`` of node ``node`` uses ``expr`` as its local derivative."""

    node: str
    port: int
    kind: str
    expr: str

    def encode(self) -> str:
        data = json.dumps(
            {"node": self.node, "port": self.port, "kind": self.kind, "expr": self.expr}
        )
        return base64.b64encode(data.encode("utf-8")).decode("ascii")


def decode(text: Any) -> Bug | None:
    """The bug in ``meta["planted_bug"]``, or None when there is none or it is unreadable."""
    if not isinstance(text, str) or len(text) > 4 * MAX_EXPR_CHARS:
        return None
    try:
        data = json.loads(base64.b64decode(text.encode("ascii"), validate=True))
        bug = Bug(str(data["node"]), int(data["port"]), str(data["kind"]), str(data["expr"]))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
        return None
    return bug if bug.kind in KINDS else None


def planted(graph: Graph) -> Bug | None:
    """The graph's planted bug, if it has one on an existing node and port."""
    bug = decode(graph.get_meta(BUG_KEY))
    if bug is None or bug.node not in graph:
        return None
    n = graph.node(bug.node)
    if not 0 <= bug.port < len(n.inputs) or n.op not in _RIGHT:
        return None
    try:
        compile_expr(bug.expr, _names(n))
    except GraphEditError:
        return None
    return bug


def plantable(node: Node) -> list[int]:
    """The ports of ``node`` that can take a planted bug (those that carry a gradient)."""
    if node.op not in _RIGHT:
        return []
    return [i for i, p in enumerate(node.port_names) if p not in node.spec.no_grad_ports]


def right_formula(node: Node, port: int) -> str:
    """The correct local derivative of ``node`` for ``port``, as an expression."""
    return _RIGHT[node.op][port]


def suggestion(node: Node, port: int, kind: str) -> str:
    """A wrong formula of the given kind for ``node``'s ``port`` ("" when the op has no
    such mistake, e.g. a missing factor of ``add``)."""
    right = right_formula(node, port)
    if kind == "sign":
        return f"-({right})" if right not in ("1", "0") else ("-1" if right == "1" else "1")
    if kind == "factor":
        return _MISSING_FACTOR.get(node.op, ("",) * 2)[port]
    if kind == "input":
        return _WRONG_INPUT.get(node.op, ("",) * 2)[port]
    return right


def make_bug(graph: Graph, node_id: str, port: int, kind: str, expr: str) -> Bug:
    """A checked bug (GraphEditError for an unknown node, port or kind, or a formula that
    does not parse)."""
    n = graph.node(node_id)
    if kind not in KINDS:
        raise GraphEditError(f"unknown kind of bug {kind!r} (known: {', '.join(KINDS)})")
    if port not in plantable(n):
        raise GraphEditError(f"{n.name} ({n.op}) has no port {port!r} that carries a gradient")
    compile_expr(expr, _names(n))
    return Bug(node_id, port, kind, expr.strip())


def _names(node: Node) -> tuple[str, ...]:
    return (*node.port_names, "out", *node.params)


# ------------------------------------------------------------------------- expressions

Compiled = Callable[[Mapping[str, float]], float]
_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: safe_div,
    ast.Pow: safe_pow,
}


def compile_expr(text: str, names: tuple[str, ...]) -> Compiled:
    """A function of ``{name: value}`` computing ``text``; GraphEditError naming what is
    not allowed. Arithmetic never raises (inf and nan as in :mod:`graph.ops`)."""
    if not isinstance(text, str) or not text.strip():
        raise GraphEditError("type a formula, e.g. -b or out * (1 - out)")
    if len(text) > MAX_EXPR_CHARS:
        raise GraphEditError(f"a formula may have at most {MAX_EXPR_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise GraphEditError(
            f"the formula does not parse: {exc.msg if hasattr(exc, 'msg') else exc}"
        ) from None
    allowed = ", ".join(names)
    return _build(tree.body, set(names), allowed, 0)


def _build(node: ast.AST, names: set[str], allowed: str, depth: int) -> Compiled:
    if depth > 50:
        raise GraphEditError("the formula is nested too deeply")
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        return lambda env: v
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise GraphEditError(f"unknown name {node.id!r} in the formula (use {allowed})")
        key = node.id
        return lambda env: env[key]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _build(node.operand, names, allowed, depth + 1)
        if isinstance(node.op, ast.USub):
            return lambda env: -inner(env)
        return inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        fn = _BINOPS[type(node.op)]
        left = _build(node.left, names, allowed, depth + 1)
        right = _build(node.right, names, allowed, depth + 1)
        return lambda env: fn(left(env), right(env))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and len(node.args) == 1
        and not node.keywords
    ):
        f = _FUNCS[node.func.id]
        arg = _build(node.args[0], names, allowed, depth + 1)
        return lambda env: f(arg(env))
    raise GraphEditError(
        "only numbers, names, + - * / **, and exp log sqrt abs tanh sigmoid are allowed "
        f"in a formula (names: {allowed})"
    )


def buggy_local(
    node: Node, bug: Bug, local: Callable[..., tuple[float, ...]]
) -> Callable[..., tuple[float, ...]]:
    """``local`` (the op's bound local derivative) with port ``bug.port`` replaced."""
    formula = compile_expr(bug.expr, _names(node))
    ports = node.port_names
    params = dict(node.params)
    port = bug.port

    def wrong(*args: float) -> tuple[float, ...]:
        parts = list(local(*args))
        env = dict(zip(ports, args[:-1], strict=True))
        env["out"] = args[-1]
        env.update(params)
        try:
            parts[port] = formula(env)
        except (ArithmeticError, ValueError, TypeError):
            parts[port] = math.nan
        return tuple(parts)

    return wrong
