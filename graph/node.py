"""The records of a graph: :class:`Node` (immutable, one per node) and
:class:`EvaluationState` (what is shown as computed), with the checks every edit and
loader applies to a node's name, parameters, position and numbers."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from graph.errors import GraphEditError
from graph.events import Edge
from graph.ops import OPS
from graph.opspec import OpSpec, format_number

EMPTY_PARAMS: Mapping[str, float] = MappingProxyType({})
#: A name longer than this is refused (keeps files and labels sane).
MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class Node:
    """One node, immutable. ``inputs[i]`` is the id feeding port ``i`` or None.

    ``value`` is the editable value of an ``input`` node (None for other ops); a
    ``const`` keeps its number in ``params["value"]`` (see :attr:`leaf_value`).
    """

    id: str
    name: str
    op: str
    params: Mapping[str, float] = field(default_factory=lambda: EMPTY_PARAMS)
    inputs: tuple[str | None, ...] = ()
    pos: tuple[float, float] = (0.0, 0.0)
    value: float | None = None

    @property
    def spec(self) -> OpSpec:
        return OPS[self.op]

    @property
    def port_names(self) -> tuple[str, ...]:
        return self.spec.port_names(self.params)

    @property
    def is_leaf(self) -> bool:
        return self.op in ("input", "const")

    @property
    def leaf_value(self) -> float | None:
        """The value of an input or const node; None for computed nodes."""
        if self.op == "input":
            return self.value
        if self.op == "const":
            return self.params.get("value", 0.0)
        return None

    @property
    def label(self) -> str:
        """The op's label on the node (``+``, ``exp``, ``^2``, ``3.5``...)."""
        return self.spec.label(self.params)


@dataclass(frozen=True)
class EvaluationState:
    """What the graph shows as computed: values and gradients per node id.

    A missing id or a None value means "not computed yet". ``nonfinite`` holds the nodes
    where a nan or inf first appeared (forward value or backward gradient). ``stale`` is
    True after an edit made these numbers out of date (they are kept for display).
    ``phase`` is ``"idle"``, ``"forward"``, ``"backward"`` or ``"done"``; ``position`` is
    ``(i, n)`` within that phase; ``current`` is the node of the last step.
    ``contributions[edge]`` is the gradient sent down an edge (upstream × local) and
    ``local_grads[edge]`` its local derivative, for edges processed so far.
    """

    values: Mapping[str, float | None] = field(default_factory=dict)
    grads: Mapping[str, float | None] = field(default_factory=dict)
    nonfinite: frozenset[str] = frozenset()
    stale: bool = False
    phase: str = "idle"
    position: tuple[int, int] = (0, 0)
    current: str | None = None
    contributions: Mapping[Edge, float] = field(default_factory=dict)
    local_grads: Mapping[Edge, float] = field(default_factory=dict)


def check_name(name: object) -> str:
    """``name`` if it is a usable node name, else GraphEditError saying why."""
    if not isinstance(name, str) or not name:
        raise GraphEditError("a node name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise GraphEditError(f"name {name[:20]!r}... is longer than {MAX_NAME_LENGTH} characters")
    if not name.isidentifier() or not name.isascii():
        raise GraphEditError(
            f"name {name!r} is not usable: use letters, digits and _, not starting with a digit"
        )
    if keyword.iskeyword(name) or name.startswith("__"):
        raise GraphEditError(f"name {name!r} is reserved in Python; pick another")
    return name


def check_params(spec: OpSpec, params: Mapping[str, Any]) -> dict[str, float]:
    """The op's full parameter dict (defaults filled in); GraphEditError if one is bad."""
    known = {p.name: p for p in spec.params}
    for key in params:
        if key not in known:
            if known:
                raise GraphEditError(
                    f"{spec.name} has no parameter {key!r} (it has {', '.join(known)})"
                )
            raise GraphEditError(f"{spec.name} takes no parameters, got {key!r}")
    full: dict[str, float] = {}
    for p in spec.params:
        v = number(params.get(p.name, p.default), f"{spec.name}'s {p.name}")
        if p.integer:
            if not math.isfinite(v) or v != int(v):
                raise GraphEditError(f"{spec.name}'s {p.name} must be a whole number")
            v = int(v)
        elif spec.name == "powc" and not math.isfinite(v):
            raise GraphEditError("powc's exponent must be a finite number")
        if p.minimum is not None and v < p.minimum:
            raise GraphEditError(
                f"{spec.name}'s {p.name} must be at least {format_number(p.minimum)}"
            )
        if p.maximum is not None and v > p.maximum:
            raise GraphEditError(
                f"{spec.name}'s {p.name} must be at most {format_number(p.maximum)}"
            )
        full[p.name] = v
    return full


def finite_pos(pos: object) -> tuple[float, float]:
    try:
        if not isinstance(pos, Iterable):
            raise TypeError(pos)
        x, y = pos
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        raise GraphEditError(f"a position must be two numbers (x, y), got {pos!r}") from None
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise GraphEditError(f"a position must be finite, got ({fx}, {fy})")
    return (fx, fy)


def number(v: object, what: str) -> float:
    if isinstance(v, bool):
        raise GraphEditError(f"{what} must be a number, got {v!r}")
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise GraphEditError(f"{what} must be a number, got {v!r}") from None


def same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (a != a and b != b)


def canonical(node: Node) -> tuple[Any, ...]:
    """A node as comparable data: floats by repr, so nan equals nan and -0.0 is not 0.0."""
    return (
        node.id,
        node.name,
        node.op,
        tuple(sorted((k, repr(v)) for k, v in node.params.items())),
        node.inputs,
        tuple(repr(float(v)) for v in node.pos),
        repr(node.value),
    )


def unique_copy_name(name: str, taken: set[str]) -> str:
    """``name``, or when taken ``name_2``, ``name_3``... (a pasted copy's name)."""
    if name not in taken:
        return name
    base = re.sub(r"_\d+$", "", name) or name
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"
