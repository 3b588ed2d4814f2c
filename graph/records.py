"""The records of a step-by-step evaluation (:class:`graph.evaluate.Stepper`): what
one forward or backward step computed, with the text views show for them, and the
number formats those texts use."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from graph.events import Edge


@dataclass(frozen=True)
class PortValue:
    """One input of a forward step: port name, source node, its value."""

    port: str
    src: str
    src_name: str
    value: float


@dataclass(frozen=True)
class _Step:
    """Where a step is: step ``index`` of ``total`` in its phase, at ``node`` (its id,
    ``name`` and ``op``), whose ``formula`` is written with its inputs' names."""

    index: int
    total: int
    node: str
    name: str
    op: str
    formula: str


@dataclass(frozen=True)
class ForwardRecord(_Step):
    """One forward step: ``node`` computed ``output`` from ``inputs``.

    ``nonfinite`` is True when the output is nan/inf although the inputs were finite.
    """

    inputs: tuple[PortValue, ...]
    output: float
    nonfinite: bool
    phase: ClassVar[str] = "forward"

    def describe(self) -> str:
        """E.g. ``forward 4/7: p1 = e1 / d = 0.2689``."""
        return (
            f"forward {self.index}/{self.total}: {self.name} = {self.formula} "
            f"= {format_value(self.output)}"
        )


@dataclass(frozen=True)
class EdgeGradient:
    """The gradient passed down one input edge: upstream × local = contribution.

    ``no_grad`` ports (``choose``'s selector) get nothing: local and contribution are 0
    and nothing is added to the source's gradient.
    """

    edge: Edge
    port: str
    src: str
    src_name: str
    upstream: float
    local: float
    contribution: float
    no_grad: bool

    def describe(self, output: str = "L", digits: int = 4) -> str:
        """E.g. ``dL/de1 += -3.7 × 0.25 = -0.93`` (or a no-gradient note); ``output``
        names the node the gradient is of."""
        if self.no_grad:
            return f"{self.src_name}: no gradient (selector)"
        up, local = format_value(self.upstream, digits), format_value(self.local, digits)
        return (
            f"d{output}/d{self.src_name} += {format_operand(up)} × "
            f"{format_operand(local)} = {format_value(self.contribution, digits)}"
        )


@dataclass(frozen=True)
class Contribution:
    """A consumer's contribution to a node's gradient (fan-out shows several)."""

    edge: Edge
    consumer: str
    consumer_name: str
    value: float


@dataclass(frozen=True)
class BackwardRecord(_Step):
    """One backward step at ``node``.

    ``upstream`` is dL/dnode, the sum of ``upstream_parts`` (one per consumer edge, in
    the order they were added; empty for the output, whose gradient is 1). ``edges``
    has one :class:`EdgeGradient` per input port. ``nonfinite`` is True when a nan/inf
    gradient appears here although ``upstream`` was finite.
    """

    upstream: float
    upstream_parts: tuple[Contribution, ...]
    edges: tuple[EdgeGradient, ...]
    nonfinite: bool
    phase: ClassVar[str] = "backward"

    def describe(self) -> str:
        """E.g. ``backward 3/9: p1 = e1 / d`` (``backward 1/9: L`` for a leaf output)."""
        head = f"backward {self.index}/{self.total}: {self.name}"
        return f"{head} = {self.formula}" if self.edges else head

    def explain(self, output: str = "L", digits: int = 4) -> list[str]:
        """Lines for a detail view: the upstream sum, then each edge's product.
        ``output`` names the node the gradient is of (``dg/da`` for an output ``g``)."""
        d = f"d{output}/d{self.name}"
        if self.upstream_parts:
            parts = format_sum([format_value(c.value, digits) for c in self.upstream_parts])
            lines = [f"{d} = {parts} = {format_value(self.upstream, digits)}"]
        else:
            lines = [f"{d} = {format_value(self.upstream, digits)} (the output)"]
        lines += [e.describe(output, digits) for e in self.edges]
        return lines


StepRecord = ForwardRecord | BackwardRecord


def format_value(x: float | None, digits: int = 4) -> str:
    """Compact text for a value in records and labels (``digits`` significant digits,
    no exponent between 1e-4 and 1e6: ``1000``, not ``1e+03``)."""
    if x is None:
        return "—"
    if x != x:
        return "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    text = f"{x:.{digits}g}"
    if "e" in text and 1e-4 <= abs(x) < 1e6:
        text = f"{float(text):.{max(0, digits - 1)}f}".rstrip("0").rstrip(".")
    return text


def format_sum(terms: Sequence[str]) -> str:
    """Formatted terms joined as a sum, negatives subtracted: ``a − 333 + 0``."""
    out = ""
    for i, term in enumerate(terms):
        negative = term.startswith("-") and term != "-"
        body = term[1:] if negative else term
        if i == 0:
            out = term
        else:
            out += f" − {body}" if negative else f" + {body}"
    return out


def format_operand(text: str) -> str:
    """A formatted number ready to stand inside a formula: ``(-1.313)`` for negatives,
    so ``-x`` reads ``-(-1.313)`` and never ``--1.313``."""
    return f"({text})" if text.startswith("-") else text
