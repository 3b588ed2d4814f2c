"""The one table of scalar ops: forward and local derivatives side by side.

Each :class:`OpSpec` gives the symbol and ports the editor shows, ``forward(*inputs,
**params) -> float``, ``local(*inputs, out, **params) -> tuple`` with one partial
derivative per input port, tooltip text, display and Python-export templates, and for
ops with kinks the branch they are on (so a gradient check can say when a finite
difference straddles one).

Arithmetic follows IEEE-754 instead of raising: ``1/0`` is ``inf``, ``log(-1)`` is
``nan``, ``exp(1000)`` is ``inf`` (the helpers of :mod:`graph.safe_math`). The evaluator
flags where such values first appear. :class:`OpSpec` itself is in :mod:`graph.opspec`.

Fan-out: any node's output may feed any number of input ports, and during backward the
contributions of all consumers are summed. ``copy`` is the identity, drawn explicitly as
the seed homework does (``b1 = b``, ``b2 = b``); its consumers' gradients sum into it and
it passes that sum on unchanged.
"""

from __future__ import annotations

import math

from graph.errors import GraphError
from graph.opspec import OpSpec, ParamSpec
from graph.safe_math import (
    INF,
    NAN,
    safe_div,
    safe_exp,
    safe_log,
    safe_pow,
    safe_sqrt,
    stable_sigmoid,
)

__all__ = ["CHOOSE_MAX", "OPS", "get_op", "op_names"]

#: Largest number of value inputs a ``choose`` node may have.
CHOOSE_MAX = 16


def _selected(sel: float, n: int) -> int | None:
    """0-based index picked by a 1-based selector, or None if it is not an integer 1..n."""
    if sel != sel or sel in (INF, -INF) or sel != int(sel):
        return None
    k = int(sel)
    return k - 1 if 1 <= k <= n else None


# --- forward functions -------------------------------------------------------------------


def _input(*, value: float = 0.0) -> float:
    return value


def _const(*, value: float = 0.0) -> float:
    return value


def _relu(x: float) -> float:
    return x if x > 0 or x != x else 0.0


def _max(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    return a if a >= b else b


def _min(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    return a if a <= b else b


def _powc(x: float, *, exponent: float) -> float:
    return safe_pow(x, exponent)


def _choose(sel: float, *xs: float, n: int = 2) -> float:
    k = _selected(sel, len(xs))
    return NAN if k is None else xs[k]


# --- local derivatives: (*inputs, out) -> one partial per port -------------------------


def _d_pow(a: float, b: float, out: float) -> tuple[float, float]:
    da = b * safe_pow(a, b - 1.0)
    if a > 0:
        db = out * math.log(a)
    elif a == 0 and b > 0:
        db = 0.0
    else:
        db = NAN  # the exponent's derivative needs a positive base
    return da, db


def _d_powc(x: float, out: float, *, exponent: float) -> tuple[float]:
    if exponent == 0:
        return (0.0,)
    return (exponent * safe_pow(x, exponent - 1.0),)


def _d_sqrt(x: float, out: float) -> tuple[float]:
    return (safe_div(0.5, out),)


def _d_abs(x: float, out: float) -> tuple[float]:
    if x > 0:
        return (1.0,)
    if x < 0:
        return (-1.0,)
    return (NAN,) if x != x else (0.0,)


def _d_relu(x: float, out: float) -> tuple[float]:
    if x != x:
        return (NAN,)
    return (1.0 if x > 0 else 0.0,)


def _d_max(a: float, b: float, out: float) -> tuple[float, float]:
    if a != a or b != b:
        return NAN, NAN
    return (1.0, 0.0) if a >= b else (0.0, 1.0)


def _d_min(a: float, b: float, out: float) -> tuple[float, float]:
    if a != a or b != b:
        return NAN, NAN
    return (1.0, 0.0) if a <= b else (0.0, 1.0)


def _d_choose(*args: float, n: int = 2) -> tuple[float, ...]:
    sel, xs = args[0], args[1:-1]
    k = _selected(sel, len(xs))
    if k is None:
        return (0.0,) + (NAN,) * len(xs)
    return (0.0,) + tuple(1.0 if i == k else 0.0 for i in range(len(xs)))


# --- branches (for ops with kinks): which smooth piece the inputs are on -----------------


def _branch_sign(x: float, *_: float) -> int:
    return (x > 0) - (x < 0)


def _branch_max(a: float, b: float, *_: float) -> int:
    return (a > b) - (a < b)


# --- the table ---------------------------------------------------------------------------


_ONE_SIDED = "Not differentiable at {where}; the engine uses {value} there."

_SPECS: tuple[OpSpec, ...] = (
    OpSpec(
        name="input",
        symbol="in",
        category="leaf",
        ports=(),
        forward=_input,
        local=lambda out: (),
        doc="Input: a named value you can edit. Its gradient dL/dx is what backprop is for.",
        expr="{out}",
        py="{out}",
    ),
    OpSpec(
        name="const",
        symbol="const",
        category="leaf",
        ports=(),
        forward=_const,
        local=lambda out, **_: (),
        doc="Constant: a fixed number (its parameter 'value').",
        expr="{value}",
        py="{value}",
        params=(ParamSpec("value", 1.0, "the constant's value"),),
    ),
    OpSpec(
        name="add",
        symbol="+",
        category="arithmetic",
        ports=("a", "b"),
        forward=lambda a, b: a + b,
        local=lambda a, b, out: (1.0, 1.0),
        doc="Add: a + b. Local derivatives: d/da = 1, d/db = 1.",
        expr="{a} + {b}",
        py="{a} + {b}",
        py_local=("1.0", "1.0"),
    ),
    OpSpec(
        name="sub",
        symbol="−",
        category="arithmetic",
        ports=("a", "b"),
        forward=lambda a, b: a - b,
        local=lambda a, b, out: (1.0, -1.0),
        doc="Subtract: a - b. Local derivatives: d/da = 1, d/db = -1.",
        expr="{a} - {b}",
        py="{a} - {b}",
        py_local=("1.0", "-1.0"),
    ),
    OpSpec(
        name="mul",
        symbol="×",
        category="arithmetic",
        ports=("a", "b"),
        forward=lambda a, b: a * b,
        local=lambda a, b, out: (b, a),
        doc="Multiply: a * b. Local derivatives: d/da = b, d/db = a.",
        expr="{a} * {b}",
        py="{a} * {b}",
        py_local=("{b}", "{a}"),
    ),
    OpSpec(
        name="div",
        symbol="÷",
        category="arithmetic",
        ports=("a", "b"),
        forward=safe_div,
        local=lambda a, b, out: (safe_div(1.0, b), safe_div(-out, b)),
        doc=(
            "Divide: a / b. Local derivatives: d/da = 1/b, d/db = -a/b² (= -out/b). "
            "Division by zero gives ±inf (0/0 gives nan) and is flagged."
        ),
        expr="{a} / {b}",
        py="{a} / {b}",
        py_local=("1.0 / {b}", "-{out} / {b}"),
    ),
    OpSpec(
        name="neg",
        symbol="−x",
        category="arithmetic",
        ports=("x",),
        forward=lambda x: -x,
        local=lambda x, out: (-1.0,),
        doc="Negate: -x. Local derivative: -1.",
        expr="-{x}",
        py="-{x}",
        py_local=("-1.0",),
    ),
    OpSpec(
        name="pow",
        symbol="xʸ",
        category="arithmetic",
        ports=("a", "b"),
        forward=safe_pow,
        local=_d_pow,
        doc=(
            "Power with a variable exponent: a ** b. Local derivatives: "
            "d/da = b·a^(b-1), d/db = a^b·ln(a). The exponent's derivative needs a > 0 "
            "(at a = 0 with b > 0 it is 0; for a < 0 it is nan). A negative base with a "
            "non-integer exponent gives nan."
        ),
        expr="{a} ** {b}",
        py="{a} ** {b}",
        py_local=("{b} * {a} ** ({b} - 1.0)", "{out} * _math.log({a})"),
    ),
    OpSpec(
        name="powc",
        symbol="^",
        category="arithmetic",
        ports=("x",),
        forward=_powc,
        local=_d_powc,
        doc=(
            "Power with a constant exponent p (a parameter): x ** p. Local derivative: "
            "p·x^(p-1) (0 when p = 0). With p < 1 the derivative at x = 0 is inf."
        ),
        expr="{x} ** {exponent}",
        py="{x} ** {exponent}",
        py_local=("{exponent} * {x} ** {exponent_m1}",),
        params=(ParamSpec("exponent", 2.0, "the constant exponent p"),),
    ),
    OpSpec(
        name="square",
        symbol="x²",
        category="arithmetic",
        ports=("x",),
        forward=lambda x: x * x,
        local=lambda x, out: (2.0 * x,),
        doc="Square: x². Local derivative: 2x.",
        expr="{x}²",
        py="{x} * {x}",
        py_local=("2.0 * {x}",),
    ),
    OpSpec(
        name="exp",
        symbol="exp",
        category="function",
        ports=("x",),
        forward=safe_exp,
        local=lambda x, out: (out,),
        doc="Exponential: e^x. Local derivative: e^x (the output itself). Overflow gives inf.",
        expr="exp({x})",
        py="_math.exp({x})",
        py_local=("{out}",),
    ),
    OpSpec(
        name="log",
        symbol="log",
        category="function",
        ports=("x",),
        forward=safe_log,
        local=lambda x, out: (safe_div(1.0, x),),
        doc=(
            "Natural logarithm: ln x. Local derivative: 1/x. "
            "log(0) = -inf and log of a negative number = nan; both are flagged."
        ),
        expr="log({x})",
        py="_math.log({x})",
        py_local=("1.0 / {x}",),
    ),
    OpSpec(
        name="sqrt",
        symbol="√",
        category="function",
        ports=("x",),
        forward=safe_sqrt,
        local=_d_sqrt,
        doc=(
            "Square root: √x. Local derivative: 1/(2√x), which is inf at x = 0. "
            "sqrt of a negative number = nan."
        ),
        expr="sqrt({x})",
        py="_math.sqrt({x})",
        py_local=("0.5 / {out}",),
    ),
    OpSpec(
        name="abs",
        symbol="|x|",
        category="function",
        ports=("x",),
        forward=abs,
        local=_d_abs,
        doc=(
            "Absolute value: |x|. Local derivative: sign(x). "
            + _ONE_SIDED.format(
                where="x = 0",
                value="0 (the one-sided values are -1 and +1; 0 is the subgradient PyTorch uses)",
            )
        ),
        expr="|{x}|",
        py="abs({x})",
        py_local=("(1.0 if {x} > 0 else (-1.0 if {x} < 0 else 0.0))",),
        branch=_branch_sign,
        kink=lambda x, *_: x == 0,
    ),
    OpSpec(
        name="tanh",
        symbol="tanh",
        category="function",
        ports=("x",),
        forward=math.tanh,
        local=lambda x, out: (1.0 - out * out,),
        doc="Hyperbolic tangent: tanh x. Local derivative: 1 - tanh²(x).",
        expr="tanh({x})",
        py="_math.tanh({x})",
        py_local=("1.0 - {out} * {out}",),
    ),
    OpSpec(
        name="sigmoid",
        symbol="σ",
        category="function",
        ports=("x",),
        forward=stable_sigmoid,
        local=lambda x, out: (out * (1.0 - out),),
        doc="Sigmoid: 1/(1 + e^-x). Local derivative: σ(x)·(1 - σ(x)).",
        expr="sigmoid({x})",
        py="_sigmoid({x})",
        py_local=("{out} * (1.0 - {out})",),
        py_helper=(
            "def _sigmoid(x):\n"
            "    if x >= 0:\n"
            "        return 1.0 / (1.0 + _math.exp(-x))\n"
            "    e = _math.exp(x)\n"
            "    return e / (1.0 + e)\n"
        ),
    ),
    OpSpec(
        name="relu",
        symbol="relu",
        category="function",
        ports=("x",),
        forward=_relu,
        local=_d_relu,
        doc=(
            "ReLU: max(x, 0). Local derivative: 1 for x > 0, 0 for x < 0. "
            + _ONE_SIDED.format(where="x = 0", value="0 (the left-sided value, as PyTorch)")
        ),
        expr="relu({x})",
        py="({x} if {x} > 0 else 0.0)",
        py_local=("(1.0 if {x} > 0 else 0.0)",),
        branch=_branch_sign,
        kink=lambda x, *_: x == 0,
    ),
    OpSpec(
        name="max",
        symbol="max",
        category="function",
        ports=("a", "b"),
        forward=_max,
        local=_d_max,
        doc=(
            "Maximum: max(a, b). The larger input gets the whole gradient. "
            + _ONE_SIDED.format(
                where="a tie (a = b)", value="d/da = 1, d/db = 0 (the first input wins)"
            )
        ),
        expr="max({a}, {b})",
        py="({a} if {a} >= {b} else {b})",
        py_local=("(1.0 if {a} >= {b} else 0.0)", "(0.0 if {a} >= {b} else 1.0)"),
        branch=_branch_max,
        kink=lambda a, b, *_: a == b,
    ),
    OpSpec(
        name="min",
        symbol="min",
        category="function",
        ports=("a", "b"),
        forward=_min,
        local=_d_min,
        doc=(
            "Minimum: min(a, b). The smaller input gets the whole gradient. "
            + _ONE_SIDED.format(
                where="a tie (a = b)", value="d/da = 1, d/db = 0 (the first input wins)"
            )
        ),
        expr="min({a}, {b})",
        py="({a} if {a} <= {b} else {b})",
        py_local=("(1.0 if {a} <= {b} else 0.0)", "(0.0 if {a} <= {b} else 1.0)"),
        branch=_branch_max,
        kink=lambda a, b, *_: a == b,
    ),
    OpSpec(
        name="copy",
        symbol="copy",
        category="structure",
        ports=("x",),
        forward=lambda x: x,
        local=lambda x, out: (1.0,),
        doc=(
            "Copy: explicit fan-out, as the seed draws it (b1 = b, b2 = b). Its output "
            "feeds any number of consumers; their gradients are summed, and the sum "
            "passes back unchanged (local derivative 1). Any node may fan out without "
            "a copy; the sum rule is the same."
        ),
        expr="{x}",
        py="{x}",
        py_local=("1.0",),
    ),
    OpSpec(
        name="choose",
        symbol="choose",
        category="structure",
        ports=("sel",),
        forward=_choose,
        local=_d_choose,
        doc=(
            "Choose: outputs input x_k where the selector sel = k is an integer 1..n "
            "(as the seed's y in {1, 2}). The selector gets no gradient; the chosen "
            "input gets local derivative 1, the others 0. A selector that is not an "
            "integer in 1..n gives nan."
        ),
        expr="choose({sel}: {xs})",
        py="",
        params=(ParamSpec("n", 2, "number of inputs to choose from", True, 2, CHOOSE_MAX),),
        no_grad_ports=frozenset({"sel"}),
        variadic=True,
    ),
)

#: The op table, in palette order.
OPS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}


def get_op(name: str) -> OpSpec:
    """The spec of op ``name``; GraphError naming the known ops if there is none."""
    try:
        return OPS[name]
    except (KeyError, TypeError):
        raise GraphError(f"unknown op {name!r} (known: {', '.join(OPS)})") from None


def op_names() -> list[str]:
    """Every op name, in palette order."""
    return list(OPS)
