"""The one table of scalar ops: forward and local derivatives side by side.

Each :class:`OpSpec` gives the symbol and ports the editor shows, ``forward(*inputs,
**params) -> float``, ``local(*inputs, out, **params) -> tuple`` with one partial
derivative per input port, tooltip text, display and Python-export templates, and for
ops with kinks the branch they are on (so a gradient check can say when a finite
difference straddles one).

Arithmetic follows IEEE-754 instead of raising: ``1/0`` is ``inf``, ``log(-1)`` is
``nan``, ``exp(1000)`` is ``inf``. The evaluator flags where such values first appear.

Fan-out: any node's output may feed any number of input ports, and during backward the
contributions of all consumers are summed. ``copy`` is the identity, drawn explicitly as
the seed homework does (``b1 = b``, ``b2 = b``); its consumers' gradients sum into it and
it passes that sum on unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from graph.errors import GraphError

INF = math.inf
NAN = math.nan

#: Largest number of value inputs a ``choose`` node may have.
CHOOSE_MAX = 16


# --- IEEE-style helpers: never raise, give inf/nan like numpy would ---------------------


def safe_div(a: float, b: float) -> float:
    """``a / b`` with ``x/0 = ±inf`` and ``0/0 = nan`` instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def or_zero(x: float | None) -> float:
    """``x`` as a float, 0.0 for None. Unlike ``x or 0.0`` it keeps ``-0.0``, whose sign
    decides ``1/x`` (``-inf``)."""
    return 0.0 if x is None else float(x)


def _is_odd_integer(x: float) -> bool:
    return math.isfinite(x) and x == int(x) and int(x) % 2 == 1


def safe_pow(a: float, b: float) -> float:
    """``a ** b`` for real results only: overflow gives ±inf, a negative base with a
    non-integer exponent gives nan, ``0 ** negative`` gives inf (``-inf`` for ``-0.0``
    and an odd exponent)."""
    if a < 0 and math.isfinite(b) and b != int(b):
        return NAN  # math.pow(-inf, 0.5) is inf, but the rule (and numpy) say nan
    try:
        return math.pow(a, b)
    except OverflowError:
        return -INF if a < 0 and _is_odd_integer(b) else INF
    except ValueError:
        if a == 0:
            return math.copysign(INF, a) if _is_odd_integer(b) else INF
        return NAN


def safe_exp(x: float) -> float:
    """``e ** x`` with overflow giving ``inf``."""
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def safe_log(x: float) -> float:
    """Natural log: ``log(0) = -inf``, ``log(negative) = nan``."""
    if x > 0:
        return math.log(x)
    if x == 0:
        return -INF
    return NAN


def safe_sqrt(x: float) -> float:
    """Square root: ``sqrt(negative) = nan``."""
    return math.sqrt(x) if x >= 0 else NAN


def stable_sigmoid(x: float) -> float:
    """``1 / (1 + e^-x)`` computed without overflow for either sign of x."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = safe_exp(x)  # x < 0 or nan
    return e / (1.0 + e)


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


@dataclass(frozen=True)
class ParamSpec:
    """A numeric parameter an op carries (``const`` value, ``powc`` exponent...)."""

    name: str
    default: float
    doc: str
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class OpSpec:
    """Everything about one op. See the module docstring for the calling conventions.

    ``ports`` are the fixed input port names; ``variadic`` ops (``choose``) add
    ``x1..xn`` after them, n taken from ``params["n"]``. ``no_grad_ports`` get no
    gradient (the local derivative is reported as 0 and nothing flows back).
    ``expr`` and ``py`` format a readable formula and a Python expression from the input
    names (keys: the port names, ``out``, and the params); ``py_local`` gives one Python
    expression per port for the exported backward pass (equal to ``local``).
    ``branch`` returns an int naming the smooth piece the inputs are on, for ops with
    kinks; ``kink`` is true exactly at a non-differentiable point.
    """

    name: str
    symbol: str
    category: str
    ports: tuple[str, ...]
    forward: Callable[..., float]
    local: Callable[..., tuple[float, ...]]
    doc: str
    expr: str
    py: str
    py_local: tuple[str, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    no_grad_ports: frozenset[str] = frozenset()
    variadic: bool = False
    branch: Callable[..., int] | None = None
    kink: Callable[..., bool] | None = None
    py_helper: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_leaf(self) -> bool:
        """True for ``input`` and ``const``: no input ports."""
        return not self.ports and not self.variadic

    def default_params(self) -> dict[str, float]:
        """Fresh parameter dict with every default filled in."""
        return {p.name: p.default for p in self.params}

    def port_names(self, params: Mapping[str, float] | None = None) -> tuple[str, ...]:
        """Input port names in order, for the given params (``choose`` depends on n)."""
        if not self.variadic:
            return self.ports
        n = int((params or {}).get("n", 2))
        return self.ports + tuple(f"x{i}" for i in range(1, n + 1))

    def arity(self, params: Mapping[str, float] | None = None) -> int:
        """Number of input ports."""
        return len(self.port_names(params))

    def bind(
        self, params: Mapping[str, float] | None = None
    ) -> tuple[Callable[..., float], Callable[..., tuple[float, ...]]]:
        """``(forward, local)`` with the params bound, ready for the evaluator's loop."""
        if not self.params:
            return self.forward, self.local
        kw = {p.name: (params or {}).get(p.name, p.default) for p in self.params}
        if self.name == "choose":
            kw = {"n": int(kw["n"])}
        return partial(self.forward, **kw), partial(self.local, **kw)

    def label(self, params: Mapping[str, float] | None = None) -> str:
        """What the editor writes on the node: the symbol, with the param where it has one."""
        if self.name == "const":
            return format_number((params or {}).get("value", 0.0))
        if self.name == "powc":
            return f"^{format_number((params or {}).get('exponent', 2.0))}"
        return self.symbol

    def tooltip(self) -> str:
        """The op's tooltip text (its docstring-like description)."""
        return self.doc

    def _fields(
        self, names: Sequence[str], out: str, params: Mapping[str, float] | None
    ) -> dict[str, str]:
        ports = self.port_names(params)
        if len(names) != len(ports):
            raise GraphError(f"{self.name} needs {len(ports)} inputs, got {len(names)}")
        fields = dict(zip(ports, names, strict=True))
        fields["out"] = out
        for p in self.params:
            fields[p.name] = format_number((params or {}).get(p.name, p.default))
        if self.name == "powc":
            exponent = float((params or {}).get("exponent", 2.0))
            fields["exponent_m1"] = format_number(exponent - 1.0)
            if exponent - 1.0 < 0:
                fields["exponent_m1"] = f"({fields['exponent_m1']})"
        if self.variadic:
            xs = names[len(self.ports) :]
            fields["xs"] = ", ".join(xs)
        return fields

    def format_expr(
        self, names: Sequence[str], params: Mapping[str, float] | None = None, out: str = ""
    ) -> str:
        """Readable formula from the input names, e.g. ``e1 / d`` or ``exp(s1)``."""
        return self.expr.format(**self._fields(names, out, params))

    def format_py(self, names: Sequence[str], params: Mapping[str, float] | None = None) -> str:
        """A Python expression computing the forward value (used by the exporter)."""
        if self.name == "choose":
            xs = names[1:]
            sel = names[0]
            parts = " else ".join(f"{x} if {sel} == {i}" for i, x in enumerate(xs, 1))
            return f"({parts} else _nan)"
        return self.py.format(**self._fields(names, "", params))

    def format_py_local(
        self, names: Sequence[str], out: str, params: Mapping[str, float] | None = None
    ) -> tuple[str, ...]:
        """One Python expression per port for the local derivative (used by the exporter)."""
        if self.name == "choose":
            sel = names[0]
            return ("0.0",) + tuple(f"(1.0 if {sel} == {i} else 0.0)" for i in range(1, len(names)))
        fields = self._fields(names, out, params)
        return tuple(t.format(**fields) for t in self.py_local)


def format_number(x: float) -> str:
    """Short text for a number: ``2`` for 2.0, ``0.5``, ``nan``, ``inf``."""
    x = float(x)
    if x != x:
        return "nan"
    if x in (INF, -INF):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


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
