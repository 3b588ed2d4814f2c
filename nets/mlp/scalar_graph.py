"""Scalar graphs in the Graph tab's file format, built from numpy numbers, with folded sums.

``nets`` may not import ``graph`` (the import contract), so this writes the plain JSON
data of a graph file (format ``backprop-explorer-graph``, version 1) and uses only the op
names of ``graph/ops.py``: input, const, add, sub, mul, div, neg, square, exp, log,
relu and choose. Node positions are left out, so the Graph tab lays the graph out.

:class:`ScalarGraph` computes every node's value as it adds it, with the engine's
arithmetic in the engine's order, so the value it reports is the one ``graph eval`` finds.
:meth:`ScalarGraph.sum` adds up many terms: the largest by magnitude become separate
nodes, the rest one labelled constant ("+ 3,064 smaller terms = 0.0123").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT = "backprop-explorer-graph"
#: The engine's limit on a ``choose`` node's inputs (graph.ops.CHOOSE_MAX).
CHOOSE_MAX = 16
_MAX_NAME = 64


def _div(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a != a or a == 0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


_FORWARD: dict[str, Callable[..., float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "neg": lambda x: -x,
    "square": lambda x: x * x,
    "exp": _exp,
    "log": lambda x: math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan),
    "relu": lambda x: x if x > 0 or x != x else 0.0,
}
_PORTS = {"add": "ab", "sub": "ab", "mul": "ab", "div": "ab"}


@dataclass(frozen=True)
class FoldedSum:
    """One sum of the graph: ``terms`` in all, ``shown`` as separate nodes, ``folded``
    into the constant ``node_id`` (None when nothing is folded) worth ``folded_value``."""

    key: str
    label: str
    terms: int
    shown: int
    folded: int
    folded_value: float
    node_id: str | None


def fold_label(count: int, value: float) -> str:
    """``+ 3,064 smaller terms = 0.0123``."""
    noun = "term" if count == 1 else "terms"
    return f"+ {count:,} smaller {noun} = {value:.4g}"


class ScalarGraph:
    """A graph being built: node ids ``n1, n2, ...``; names made unique identifiers."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}
        self.values: dict[str, float] = {}
        self.sums: list[FoldedSum] = []
        self._names: set[str] = set()
        self._leaves: dict[str, str] = {}

    def _name(self, base: str) -> str:
        name = "".join(c if c.isalnum() or c == "_" else "_" for c in base)[:_MAX_NAME] or "v"
        if not name[0].isalpha():
            name = ("v_" + name)[:_MAX_NAME]
        candidate, i = name, 2
        while candidate in self._names:
            suffix = f"_{i}"
            candidate = name[: _MAX_NAME - len(suffix)] + suffix
            i += 1
        self._names.add(candidate)
        return candidate

    def _node(self, name: str, op: str, result: float, label: str, **extra: Any) -> str:
        node_id = f"n{len(self.nodes) + 1}"
        item: dict[str, Any] = {"id": node_id, "name": self._name(name), "op": op}
        item.update(extra)
        self.nodes.append(item)
        self.values[node_id] = result
        self.labels[node_id] = label
        return node_id

    def leaf(self, name: str, value: float, label: str, *, const: bool = False) -> str:
        """An input (editable, gets a gradient) or, with ``const``, a constant. The same
        name and label twice give the same node (X[0,5] used by two terms is one input)."""
        key = f"{name}|{label}|{const}"
        if key in self._leaves:
            return self._leaves[key]
        v = float(value)
        if const:
            node = self._node(name, "const", v, label, params={"value": _number(v)})
        else:
            node = self._node(name, "input", v, label, value=_number(v))
        self._leaves[key] = node
        return node

    def op(self, op: str, name: str, inputs: Sequence[str], label: str) -> str:
        """An op node fed by ``inputs`` (node ids, in port order)."""
        args = [self.values[i] for i in inputs]
        node = self._node(name, op, _FORWARD[op](*args), label)
        ports = _PORTS.get(op, "x")
        for src, port in zip(inputs, ports, strict=True):
            self.edges.append({"from": src, "to": node, "port": port})
        return node

    def choose(self, name: str, selector: str, options: Sequence[str], label: str) -> str:
        """The seed's choose: option k (1-based selector value) of up to CHOOSE_MAX."""
        k = int(self.values[selector])
        node = self._node(
            name, "choose", self.values[options[k - 1]], label, params={"n": len(options)}
        )
        self.edges.append({"from": selector, "to": node, "port": "sel"})
        for i, src in enumerate(options, 1):
            self.edges.append({"from": src, "to": node, "port": f"x{i}"})
        return node

    def chain(self, op: str, name: str, ids: Sequence[str], label: str) -> str:
        """``((a + b) + c) + ...`` left to right (the order numbers are added in)."""
        acc = ids[0]
        for i, nxt in enumerate(ids[1:], 1):
            last = i == len(ids) - 1
            text = label if last else f"{label} (partial)"
            acc = self.op(op, name if last else f"{name}_{i}", [acc, nxt], text)
        return acc

    def sum(
        self,
        key: str,
        label: str,
        values: np.ndarray,
        make: Callable[[int], str],
        keep: int,
        always: Iterable[int] = (),
        name: str = "sum",
    ) -> str:
        """The sum of ``values`` (T,) as a graph: ``make(i)`` builds term i's node for the
        ``keep`` largest |values| (plus ``always``), largest first; the rest is one constant.
        Returns the node of the total; records a :class:`FoldedSum` under ``key``."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        kept_list = _largest(values, max(0, min(int(keep), values.size)))
        chosen = set(kept_list)
        kept_list += [int(i) for i in always if int(i) not in chosen]
        t = values.size
        ids = [make(i) for i in kept_list]
        folded = t - len(kept_list)
        fold_id = None
        rest = 0.0
        if folded:
            # the whole sum minus the shown terms: no copy of a million-term remainder
            rest = float(values.sum()) - float(values[kept_list].sum())
            label_rest = fold_label(folded, rest)
            fold_id = self.leaf(f"smaller_{folded}_terms", rest, label_rest, const=True)
            ids.append(fold_id)
        self.sums.append(FoldedSum(key, label, t, len(kept_list), folded, rest, fold_id))
        if not ids:
            return self.leaf(f"{name}_empty", 0.0, f"{label} (no terms) = 0", const=True)
        if len(ids) == 1:
            return ids[0]
        return self.chain("add", name, ids, label)

    def to_dict(self, output: str, meta: dict[str, Any]) -> dict[str, Any]:
        """The graph file's JSON data; ``meta["explain"]`` gets the node labels."""
        info = dict(meta)
        info["labels"] = dict(self.labels)
        return {
            "format": FORMAT,
            "version": 1,
            "nodes": self.nodes,
            "edges": self.edges,
            "output": output,
            "meta": {"explain": info},
        }


def _largest(values: np.ndarray, keep: int) -> list[int]:
    """Indices of the ``keep`` largest |values|, largest first (ties: lower index first)."""
    t = values.size
    if keep == 0:
        return []
    a = np.abs(values)
    if keep * 4 >= t:
        return [int(i) for i in np.argsort(-a, kind="stable")[:keep]]
    # The keep-th largest magnitude, then only the candidates at or above it are sorted.
    threshold = np.partition(a, t - keep)[t - keep]
    candidates = np.flatnonzero(a >= threshold)
    order = np.argsort(-a[candidates], kind="stable")[:keep]
    return [int(i) for i in candidates[order]]


def _number(x: float) -> float | str:
    """A float as the graph file writes it: itself when finite, else "nan"/"inf"/"-inf"."""
    if math.isfinite(x):
        return x
    if x != x:
        return "nan"
    return "inf" if x > 0 else "-inf"
