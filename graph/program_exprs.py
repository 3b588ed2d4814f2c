"""Expressions in programs (:mod:`graph.program`): numbers, names, operators, function
and method calls, built into nodes without recursion; and the words used to refuse what
is not understood."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graph.ops import CHOOSE_MAX

if TYPE_CHECKING:
    from graph.errors import ProgramError

UNARY_FUNCS = ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "square", "neg")
BINARY_FUNCS = ("max", "min", "pow", "choose")
ALIASES = {"fabs": "abs", "ln": "log"}
BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
OP_WORDS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}
_EXPR_WORDS = {
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "conditional expressions",
    ast.Lambda: "lambdas",
    ast.Subscript: "indexing",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings",
    ast.Starred: "* unpacking",
    ast.NamedExpr: "the := operator",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
HELP = "use + - * / **, numbers and exp, log, sqrt, abs, tanh, sigmoid, relu, max, min"


def are(what: str) -> str:
    """The verb for a construct's name: "the := operator is", "lambdas are"."""
    return "is" if what.startswith(("the ", "a ", "an ")) or not what.endswith("s") else "are"


class ExpressionSupport:
    """Mixed into the program builder: ``expr`` builds an expression's nodes and returns
    the id of its result; ``literal`` and ``value_call`` read the numbers of ``2.0`` and
    ``Value(2.0)``."""

    info: dict[int, tuple[Any, ...]]  # id(ast node) -> what make() builds
    funcs: dict[str, str]  # names imported from math: exp -> exp
    modules: set[str]
    # What the program builder this is mixed into provides:
    vars: dict[str, str]
    defs: dict[str, ast.FunctionDef]
    add: Callable[..., str]  # (op, inputs, name=, params=, value=) -> the new node's id

    if TYPE_CHECKING:

        def error(self, node: ast.AST, message: str) -> ProgramError: ...
        def inline(self, call: ast.AST, name: str, arg_ids: list[str]) -> list[str]: ...

    def literal(self, node: ast.AST) -> float | None:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, int | float):
                if isinstance(v, complex):
                    raise self.error(node, "complex numbers are not supported")
                if isinstance(v, str | bytes):
                    raise self.error(node, f"a string is not a number; {HELP}")
                return None
            try:
                f = float(v)
            except OverflowError:
                raise self.error(node, "this number is too large") from None
            if not math.isfinite(f):
                raise self.error(node, "this number is too large")
            return f
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("pi", "e")
            and isinstance(node.value, ast.Name)
            and node.value.id in ("math", "np", "numpy")
            and node.value.id not in self.vars
        ):
            return math.pi if node.attr == "pi" else math.e
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.literal(node.operand)
            if inner is not None:
                return -inner if isinstance(node.op, ast.USub) else inner
        return None

    def value_call(self, node: ast.AST) -> float | None:
        """The number in ``Value(2.0)`` / ``Value(2.0, label='x')``, else None."""
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "Value"
        ):
            return None
        args = list(node.args)
        for kw in node.keywords:
            if kw.arg == "data":
                args.insert(0, kw.value)
            elif kw.arg not in ("label", "_op", "_children", "requires_grad"):
                raise self.error(kw, f"Value() has no argument {kw.arg!r} here")
        if len(args) != 1:
            raise self.error(node, "Value() takes one number, e.g. Value(2.0)")
        v = self.literal(args[0])
        if v is None:
            raise self.error(args[0], "Value() takes a number, e.g. Value(2.0)")
        return v

    def expr(self, root: ast.expr) -> str:
        """Build an expression without recursion (long chains like a+a+...+a are fine)."""
        if type(root) is ast.Name:
            return self.name_ref(root)
        results: dict[int, str] = {}
        stack: list[tuple[ast.AST, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                results[id(node)] = self.make(node, results)
                continue
            stack.append((node, True))
            for child in reversed(self.children(node)):
                if type(child) is ast.Name:  # most operands: resolve without a round trip
                    results[id(child)] = self.name_ref(child)
                else:
                    stack.append((child, False))
        return results[id(root)]

    def name_ref(self, node: ast.Name) -> str:
        node_id = self.vars.get(node.id)
        if node_id is None:
            if node.id in UNARY_FUNCS or node.id in BINARY_FUNCS:
                raise self.error(node, f"{node.id} is a function; call it: {node.id}(x)")
            raise self.error(node, f"name {node.id!r} is not defined (assign it first)")
        return node_id

    def children(self, node: ast.AST) -> list[ast.expr]:
        """Sub-expressions to build first (also refuses what is not understood). What to
        build from them is noted in ``self.info`` for :meth:`make`."""
        info = self.info
        if isinstance(node, ast.BinOp):
            op_type = type(node.op)
            if op_type not in BINOPS:
                sym = OP_WORDS.get(op_type, op_type.__name__)
                raise self.error(node, f"the {sym} operator is not supported; {HELP}")
            if op_type is ast.Pow:
                exponent = self.literal(node.right)
                if exponent is not None:
                    info[id(node)] = ("powc", exponent, node.left)
                    return [node.left]
            info[id(node)] = (BINOPS[op_type],)
            return [node.left, node.right]
        lit = self.literal(node)
        if lit is not None:
            info[id(node)] = ("const", lit)
            return []
        vc = self.value_call(node)
        if vc is not None:
            info[id(node)] = ("input", vc)
            return []
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                word = "not" if isinstance(node.op, ast.Not) else "~"
                raise self.error(node, f"the {word} operator is not supported; {HELP}")
            info[id(node)] = ("neg",) if isinstance(node.op, ast.USub) else ("same",)
            return [node.operand]
        if isinstance(node, ast.Call):
            fn, args, receiver = self.call_parts(node)
            operands = ([receiver] if receiver is not None else []) + list(args)
            if fn == "pow" and args and self.literal(args[-1]) is not None:
                if len(operands) != 2:
                    raise self.error(node, f"pow() takes two arguments, got {len(operands)}")
                info[id(node)] = ("powc", self.literal(args[-1]), operands[0])
                return operands[:1]  # a constant exponent becomes powc's parameter
            info[id(node)] = ("call", fn, operands)
            return operands
        if isinstance(node, ast.Constant):
            raise self.error(node, f"{node.value!r:.20} is not a number; {HELP}")
        if isinstance(node, ast.Attribute):
            raise self.error(node, f"attribute .{node.attr} is not supported here; methods need ()")
        what = _EXPR_WORDS.get(type(node), type(node).__name__)
        raise self.error(node, f"{what} {are(what)} not supported; {HELP}")

    def call_parts(self, node: ast.Call) -> tuple[str, list[ast.expr], ast.expr | None]:
        """(function name, arguments, method receiver or None); refuses unknown calls."""
        if node.keywords:
            raise self.error(node.keywords[0], "keyword arguments are not supported here")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.error(a, "* unpacking is not supported")
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.defs:
            return "def:" + func.id, list(node.args), None
        if isinstance(func, ast.Name):
            fn = self.funcs.get(func.id, ALIASES.get(func.id, func.id))
            if fn not in UNARY_FUNCS and fn not in BINARY_FUNCS:
                raise self.error(func, f"unknown function {func.id!r}; {HELP}")
            return fn, list(node.args), None
        if isinstance(func, ast.Attribute):
            fn = ALIASES.get(func.attr, func.attr)
            if (
                isinstance(func.value, ast.Name)
                and func.value.id in self.modules
                and (func.value.id not in self.vars)
            ):
                if fn not in UNARY_FUNCS and fn not in BINARY_FUNCS:
                    raise self.error(func, f"unknown function {func.value.id}.{func.attr}")
                return fn, list(node.args), None
            if fn in UNARY_FUNCS:
                if node.args:
                    raise self.error(node, f".{func.attr}() takes no arguments")
                return fn, [], func.value
            if fn == "pow":
                if len(node.args) != 1:
                    raise self.error(node, ".pow() takes one exponent")
                return fn, list(node.args), func.value
            raise self.error(func, f"unknown method .{func.attr}(); {HELP}")
        raise self.error(func, "only named functions and methods can be called")

    def make(self, node: ast.AST, results: dict[int, str]) -> str:
        kind = self.info.pop(id(node))
        op = kind[0]
        if op == "const":
            return self.add("const", [], params={"value": kind[1]})
        if op == "input":
            return self.add("input", [], value=kind[1])
        if op == "powc":
            return self.add("powc", [results[id(kind[2])]], params={"exponent": kind[1]})
        if op == "neg":
            return self.add("neg", [results[id(node.operand)]])  # type: ignore[attr-defined]
        if op == "same":
            return results[id(node.operand)]  # type: ignore[attr-defined]
        if op == "call":
            ids = [results[id(a)] for a in kind[2]]
            if kind[1].startswith("def:"):
                outs = self.inline(node, kind[1][4:], ids)
                if len(outs) != 1:
                    raise self.error(
                        node, f"{kind[1][4:]}() returns {len(outs)} values; unpack them: a, b = ..."
                    )
                return outs[0]
            return self.function(node, kind[1], ids)  # type: ignore[arg-type]
        return self.add(op, [results[id(node.left)], results[id(node.right)]])  # type: ignore[attr-defined]

    def binop(self, op_type: type[ast.operator], left: str, right_node: ast.expr) -> str:
        """``left <op> right`` for an augmented assignment (``x **= 2`` gives powc)."""
        if op_type is ast.Pow:
            exponent = self.literal(right_node)
            if exponent is not None:
                return self.add("powc", [left], params={"exponent": exponent})
        return self.add(BINOPS[op_type], [left, self.expr(right_node)])

    def function(self, node: ast.Call, fn: str, ids: list[str]) -> str:
        if fn in UNARY_FUNCS:
            if len(ids) != 1:
                raise self.error(node, f"{fn}() takes one argument, got {len(ids)}")
            return self.add(fn, ids)
        if fn == "pow":
            if len(ids) != 2:
                raise self.error(node, f"pow() takes two arguments, got {len(ids)}")
            return self.add("pow", ids)
        if fn == "choose":
            n = len(ids) - 1
            if not 2 <= n <= CHOOSE_MAX:
                raise self.error(
                    node, f"choose(sel, x1, ..., xn) takes 2 to {CHOOSE_MAX} values, got {n}"
                )
            return self.add("choose", ids, params={"n": n})
        if len(ids) < 2:
            raise self.error(node, f"{fn}() takes at least two arguments")
        acc = ids[0]
        for other in ids[1:]:
            acc = self.add(fn, [acc, other])
        return acc
