"""What the op table (:mod:`graph.ops`) says about each op: :class:`OpSpec` (ports,
parameters, the forward and local-derivative functions, labels, tooltip and the
display and Python-export templates) with :class:`ParamSpec` and ``format_number``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from graph.errors import GraphError
from graph.safe_math import INF


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
