"""Explain this number: the scalar computation behind one element of the net's tensors.

``explain(netgraph, "grad:W1[1023,41]")`` builds the chain rules that produce that one
number as a scalar graph in the Graph tab's file format (see :mod:`nets.mlp.scalar_graph`),
with every value plugged in, so it can be stepped and gradient-checked like f1 to f4:

- forward: ``a1[n,k] = Σ_d X[n,d]·W1[d,k] + b1[k]``, the ReLU, and for the loss the
  softmax, log and choose of the seed's f3 generalised to C classes, averaged over the
  batch, plus ``reg/2 · Σ W²`` for every weight matrix;
- backward: ``dW[d,k] = Σ_n x[n,d]·dout[n,k] + reg·W[d,k]``, ``db[k] = Σ_n dout[n,k]``,
  ``dx[n,d] = Σ_k dout[n,k]·W[d,k]``, the ReLU's mask and ``(p − onehot(y)) / N``;
  upstream gradients and the activations a layer received are labelled input leaves.

A sum shows its largest terms by magnitude (``top_terms``, 8 by default) and folds the
rest into one labelled constant; :meth:`Explanation.unfold` shows more of a sum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nets.errors import ConfigError
from nets.mlp.netgraph import NetGraph, shape_label, tensor_shapes_for
from nets.mlp.scalar_graph import CHOOSE_MAX, FoldedSum, ScalarGraph

#: The tensors an element can be taken from, per model kind, in forward order.
EXPLAINABLE = {
    "TwoLayerNet": ("X", "W1", "b1", "a1", "h1", "W2", "b2", "scores", "L"),
    "LinearClassifier": ("X", "W", "b", "scores", "L"),
}
DEFAULT_TOP_TERMS = 8

# What produced a tensor's value, and which layer sent its gradient back.
# What a rule returns: the output node, the scalar and vectorised formulas, the operands.
_Rule = tuple[str, str, str, tuple["Operand", ...]]

_MADE_BY = {"a1": "fc1", "h1": "the ReLU", "scores": "fc2"}
_GRAD_FROM = {"a1": "the ReLU", "h1": "fc2", "scores": "the softmax loss", "data_loss": "L"}


class ExplainError(ConfigError):
    """A bad element name or index (the message names the valid names and shapes)."""


@dataclass(frozen=True)
class Element:
    """One number: ``kind`` value or grad, ``tensor`` as in EXPLAINABLE, ``index`` ()
    for L."""

    kind: str
    tensor: str
    index: tuple[int, ...]

    def __str__(self) -> str:
        idx = f"[{','.join(map(str, self.index))}]" if self.index else ""
        return f"{self.kind}:{self.tensor}{idx}"


@dataclass(frozen=True)
class Operand:
    """A tensor the vectorised formula reads and the part of it that produced this
    element: ``row``/``col`` None mean all (for a 1-D tensor ``row`` is the element)."""

    tensor: str
    which: str
    shape: tuple[int, ...]
    row: int | None
    col: int | None


@dataclass(frozen=True, eq=False)
class Explanation:
    """The answer: ``value`` is the tensor element, ``graph_value`` what the scalar graph
    computes (equal to 1e-9), ``graph`` the graph file's JSON data."""

    element: Element
    value: float
    graph_value: float
    formula: str
    vectorised: str
    operands: tuple[Operand, ...]
    sums: tuple[FoldedSum, ...]
    terms: int
    folded: int
    graph: dict[str, Any]
    _netgraph: NetGraph = field(repr=False)
    _top_terms: int = DEFAULT_TOP_TERMS
    _unfold: Mapping[str, int] = field(default_factory=dict)

    def sum(self, key: str) -> FoldedSum:
        for s in self.sums:
            if s.key == key:
                return s
        raise KeyError(f"no sum {key!r} (sums: {', '.join(s.key for s in self.sums)})")

    def unfold(self, key: str, more: int = DEFAULT_TOP_TERMS) -> Explanation:
        """The same explanation with ``more`` more terms of sum ``key`` shown (for the key
        ``expanded`` of ``value:L``: ``more`` more examples drawn as their full softmax)."""
        counts = dict(self._unfold)
        if key == "expanded":  # value:L: examples drawn as their whole softmax subgraph
            counts[key] = int(counts.get(key, 1)) + max(int(more), 0)
        else:
            counts[key] = self.sum(key).shown + max(int(more), 0)
        return explain(self._netgraph, self.element, self._top_terms, counts)

    def to_json(self) -> dict[str, Any]:
        """``{"element", "value", "formula", "terms", "folded"}`` (the CLI's --json)."""
        return {
            "element": str(self.element),
            "value": self.value,
            "formula": self.formula,
            "terms": self.terms,
            "folded": self.folded,
        }


# ----------------------------------------------------------------------- parsing

_ELEMENT = re.compile(
    r"^\s*(value|grad)\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[([^\]]*)\])?\s*$", re.IGNORECASE
)


# A shape whose dimensions may still be unknown ("D" before the data is loaded).
Shape = tuple[int | str, ...]


def describe_shapes(shapes: Mapping[str, Shape]) -> str:
    """``X (4×3072), W1 (3072×512), ..., L (scalar)``."""
    return ", ".join(f"{k} ({shape_label(v)})" for k, v in shapes.items())


def explainable_shapes(ng: NetGraph) -> dict[str, tuple[int, ...]]:
    """The shapes of the tensors an element may name."""
    shapes = ng.tensor_shapes()
    return {k: shapes[k] for k in EXPLAINABLE[ng.kind]}


def parse_element(text: str, shapes: Mapping[str, Shape]) -> Element:
    """``value:NAME[i,j]`` or ``grad:NAME[i,j]`` checked against ``shapes`` (name ->
    shape, as :func:`explainable_shapes`; a dimension given as a letter is not checked
    yet); ExplainError in one line otherwise."""
    valid = f"valid names: {describe_shapes(shapes)}"
    m = _ELEMENT.match(str(text))
    if m is None:
        raise ExplainError(
            f"bad element {str(text)[:60]!r}: write value:NAME[i,j] or grad:NAME[i,j]; {valid}"
        )
    kind, name, raw = m.group(1).lower(), m.group(2), m.group(3)
    if name not in shapes:
        raise ExplainError(f"unknown tensor {name!r} in {text!r}; {valid}")
    shape = shapes[name]
    try:
        index = tuple(int(p) for p in raw.split(",")) if raw and raw.strip() else ()
    except ValueError:
        raise ExplainError(f"bad index [{raw}] in {text!r}: whole numbers only; {valid}") from None
    fits = len(index) == len(shape) and all(
        i >= 0 and (isinstance(s, str) or i < s) for i, s in zip(index, shape, strict=False)
    )
    if not fits:
        want = "no index" if not shape else f"[{','.join(_range(s) for s in shape)}]"
        raise ExplainError(
            f"index {list(index)} does not fit {name} ({shape_label(shape)}): use {want}; {valid}"
        )
    return Element(kind, name, index)


def _range(size: int | str) -> str:
    return f"0..{size - 1}" if isinstance(size, int) else f"0..{size}-1"


def check_element_name(text: str, kind: str, hidden_dim: int, n: int) -> Element:
    """Check ``text`` before the data is loaded (D and C unknown): its form, its name and
    what can be checked of its index; ExplainError as :func:`parse_element`."""
    if kind == "TwoLayerNet":
        params: dict[str, Shape] = {
            "W1": ("D", hidden_dim),
            "b1": (hidden_dim,),
            "W2": (hidden_dim, "C"),
            "b2": ("C",),
        }
    else:
        params = {"W": ("D", "C"), "b": ("C",)}
    shapes: dict[str, Any] = tensor_shapes_for(kind, params, n)  # type: ignore[arg-type]
    return parse_element(text, {k: shapes[k] for k in EXPLAINABLE[kind]})


# ----------------------------------------------------------------------- building


def _idx(*index: int) -> str:
    return f"[{','.join(map(str, index))}]"


class _Builder:
    """Builds one explanation's graph from a completed NetGraph."""

    def __init__(self, ng: NetGraph, top_terms: int, unfold: Mapping[str, int]) -> None:
        self.ng = ng
        self.g = ScalarGraph()
        self.top = top_terms
        self.unfold = unfold
        self.classes = ng.batch.class_names
        #: the key of the sum the element is (its "terms" and "folded")
        self.main: str | None = None

    def keep(self, key: str, default: int | None = None) -> int:
        return int(self.unfold.get(key, self.top if default is None else default))

    def V(self, t: str) -> np.ndarray:
        v = self.ng.value(t)
        assert v is not None
        return v

    def G(self, t: str) -> np.ndarray:
        v = self.ng.grad(t)
        assert v is not None
        return v

    def val(self, t: str, *index: int) -> str:
        origin = f" from {_MADE_BY[t]}" if t in _MADE_BY else ""
        value = float(self.V(t)[index])
        return self.g.leaf(f"{t}_{'_'.join(map(str, index))}", value, f"{t}{_idx(*index)}{origin}")

    def grad_leaf(self, t: str, *index: int) -> str:
        value = float(self.G(t)[index])
        label = f"dL/d{t}{_idx(*index)} from {_GRAD_FROM[t]}"
        return self.g.leaf(f"dL_d{t}_{'_'.join(map(str, index))}", value, label)

    def const(self, name: str, value: float, label: str) -> str:
        return self.g.leaf(name, value, label, const=True)

    def fc_layer(self, out: str) -> tuple[str, str, str, str, str]:
        for layer in self.ng.fc_layers:
            if layer[4] == out:
                return layer
        raise KeyError(out)

    def layer_taking(self, x: str) -> tuple[str, str, str, str, str]:
        for layer in self.ng.fc_layers:
            if layer[1] == x:
                return layer
        raise KeyError(x)

    # -- forward rules -----------------------------------------------------------------

    def fc_value(self, out: str, n: int, k: int) -> _Rule:
        _, x, w, b, _ = self.fc_layer(out)
        j = "d" if x == "X" else "j"
        xs, ws = self.V(x)[n], self.V(w)[:, k]
        g = self.g

        def term(i: int) -> str:
            label = f"{x}{_idx(n, i)}·{w}{_idx(i, k)}"
            return g.op("mul", f"t_{x}_{i}", [self.val(x, n, i), self.val(w, i, k)], label)

        label = f"Σ_{j} {x}[{n},{j}]·{w}[{j},{k}]"
        self.main = self.main or out
        total = g.sum(out, label, xs * ws, term, self.keep(out), name=f"sum_{out}")
        node = g.op("add", f"{out}_{n}_{k}", [total, self.val(b, k)], f"{out}{_idx(n, k)}")
        formula = f"{out}[{n},{k}] = {label} + {b}[{k}]"
        ops = (
            Operand(x, "value", self.V(x).shape, n, None),
            Operand(w, "value", self.V(w).shape, None, k),
            Operand(b, "value", self.V(b).shape, k, None),
        )
        return node, formula, f"{out} = {x} · {w} + {b}", ops

    def softmax_row(self, n: int, always: int) -> tuple[dict[int, str], str]:
        """p[n, c] nodes (the classes the denominator shows) and the denominator's."""
        g = self.g
        s = self.V("scores")[n]
        c_all = s.shape[0]
        m = float(s.max())
        shift = self.const(f"M_{n}", m, f"M = max_c scores[{n},c] = {m:.4g} (stability shift)")
        e_nodes: dict[int, str] = {}

        def exp_term(c: int) -> str:
            z = g.op("sub", f"z_{n}_{c}", [self.val("scores", n, c), shift], "")
            e_nodes[c] = g.op("exp", f"e_{n}_{c}", [z], f"exp(scores[{n},{c}] − M)")
            return e_nodes[c]

        keep = self.keep(f"softmax_{n}", c_all if c_all <= CHOOSE_MAX else self.top)
        label = f"Σ_c exp(scores[{n},c] − M)"
        d = g.sum(f"softmax_{n}", label, np.exp(s - m), exp_term, keep, [always], name=f"d_{n}")
        probs = {c: g.op("div", f"p_{n}_{c}", [e, d], f"p[{n},{c}]") for c, e in e_nodes.items()}
        return probs, d

    def example_loss(self, n: int) -> str:
        """−log p[n, y_n] as the seed's f3 does it: softmax, choose, log, neg."""
        g = self.g
        y = int(self.ng.batch.y[n])
        probs, _ = self.softmax_row(n, y)
        if len(probs) == self.ng.num_classes and len(probs) <= CHOOSE_MAX:
            name = self.classes[y] if y < len(self.classes) else f"class {y}"
            sel = self.const(f"y_{n}", y + 1, f"y[{n}] = {y} ({name}); choose counts from 1")
            picked = g.choose(f"p_y_{n}", sel, [probs[c] for c in sorted(probs)], f"p[{n},y]")
        else:
            picked = probs[y]
        log_p = g.op("log", f"log_p_{n}", [picked], f"log p[{n},y]")
        return g.op("neg", f"loss_{n}", [log_p], f"loss of example {n}")

    def loss_value(self) -> _Rule:
        g, ng = self.g, self.ng
        s = self.V("scores")
        n_all = s.shape[0]
        y = ng.batch.y
        m = s.max(axis=1)
        losses = np.log(np.exp(s - m[:, None]).sum(axis=1)) - (s[np.arange(n_all), y] - m)
        expanded: list[int] = []
        self.main = "data_loss"

        def example(n: int) -> str:
            if len(expanded) < self.keep("expanded", 1):
                expanded.append(n)
                return self.example_loss(n)
            label = f"loss[{n}] = −log p[{n},y[{n}]] (softmax of example {n})"
            return g.leaf(f"loss_{n}", float(losses[n]), label)

        total = g.sum("data_loss", "Σ_n −log p[n,y_n]", losses, example, self.keep("data_loss"))
        count = self.const("N", n_all, f"N = {n_all} examples")
        parts = [g.op("div", "data_loss", [total, count], "data loss (softmax, mean over N)")]
        half = self.const("half_reg", 0.5 * ng.reg, f"reg/2 = {0.5 * ng.reg:g}")
        for w in ng.weight_names:
            W = self.V(w)

            def square(i: int, w: str = w, W: np.ndarray = W) -> str:
                r, c = np.unravel_index(i, W.shape)
                return g.op("square", f"sq_{w}_{r}_{c}", [self.val(w, int(r), int(c))], "")

            key = f"reg_{w}"
            total_w = g.sum(key, f"Σ {w}²", W.reshape(-1) ** 2, square, self.keep(key))
            parts.append(g.op("mul", key, [half, total_w], f"reg/2 · Σ {w}²"))
        node = g.chain("add", "L", parts, "L")
        regs = " + ".join(f"reg/2·Σ{w}²" for w in ng.weight_names)
        formula = f"L = (1/N) Σ_n −log p[n,y_n] + {regs}"
        vec = "L = softmax_loss(scores, y) + " + " + ".join(
            f"l2_regularization({w}, reg)" for w in ng.weight_names
        )
        ops = tuple(Operand(t, "value", self.V(t).shape, None, None) for t in ("scores",))
        return (
            node,
            formula,
            vec,
            ops + tuple(Operand(w, "value", self.V(w).shape, None, None) for w in ng.weight_names),
        )

    # -- backward rules ----------------------------------------------------------------

    def scores_grad(self, n: int, c: int) -> _Rule:
        g = self.g
        y = int(self.ng.batch.y[n])
        self.main = f"softmax_{n}"
        probs, _ = self.softmax_row(n, c)
        onehot = self.const(f"onehot_{n}_{c}", float(c == y), f"onehot(y[{n}] = {y})[{c}]")
        diff = g.op("sub", f"p_minus_onehot_{n}_{c}", [probs[c], onehot], "p − onehot")
        count = self.const("N", self.ng.batch.n, f"N = {self.ng.batch.n} examples")
        local = g.op("div", f"local_{n}_{c}", [diff, count], "(p − onehot) / N")
        up = self.g.leaf("dL_ddata_loss", float(self.G("data_loss")), "dL/d data_loss from L")
        node = g.op("mul", f"dL_dscores_{n}_{c}", [local, up], f"dL/dscores{_idx(n, c)}")
        formula = f"dL/dscores[{n},{c}] = (p[{n},{c}] − onehot(y[{n}])[{c}]) / N · dL/d data_loss"
        ops = (Operand("scores", "value", self.V("scores").shape, n, None),)
        return node, formula, "dscores = (softmax(scores) − onehot(y)) / N", ops

    def input_grad(self, x: str, n: int, i: int) -> _Rule:
        _, _, w, _, out = self.layer_taking(x)
        g = self.g
        ups, ws = self.G(out)[n], self.V(w)[i]

        def term(k: int) -> str:
            label = f"dL/d{out}{_idx(n, k)}·{w}{_idx(i, k)}"
            return g.op("mul", f"t_{k}", [self.grad_leaf(out, n, k), self.val(w, i, k)], label)

        label = f"Σ_k dL/d{out}[{n},k]·{w}[{i},k]"
        key = self.main = f"d{x}"
        node = g.sum(key, label, ups * ws, term, self.keep(key), name=f"dL_d{x}_{n}_{i}")
        ops = (
            Operand(out, "grad", self.G(out).shape, n, None),
            Operand(w, "value", self.V(w).shape, i, None),
        )
        return node, f"dL/d{x}[{n},{i}] = {label}", f"d{x} = d{out} · {w}ᵀ", ops

    def weight_grad(self, w: str, i: int, k: int) -> _Rule:
        _, x, _, _, out = next(layer for layer in self.ng.fc_layers if layer[2] == w)
        g = self.g
        xs, ups = self.V(x)[:, i], self.G(out)[:, k]

        def term(n: int) -> str:
            label = f"{x}{_idx(n, i)}·dL/d{out}{_idx(n, k)}"
            return g.op("mul", f"t_{n}", [self.val(x, n, i), self.grad_leaf(out, n, k)], label)

        label = f"Σ_n {x}[n,{i}]·dL/d{out}[n,{k}]"
        key = self.main = f"d{w}"
        data = g.sum(key, label, xs * ups, term, self.keep(key), name=f"sum_d{w}")
        reg = self.const("reg", self.ng.reg, f"reg = {self.ng.reg:g}")
        label_reg = f"reg·{w}{_idx(i, k)} from the L2 regularisation"
        reg_term = g.op("mul", f"reg_{w}_{i}_{k}", [reg, self.val(w, i, k)], label_reg)
        node = g.op("add", f"dL_d{w}_{i}_{k}", [data, reg_term], f"dL/d{w}{_idx(i, k)}")
        ops = (
            Operand(x, "value", self.V(x).shape, None, i),
            Operand(out, "grad", self.G(out).shape, None, k),
            Operand(w, "value", self.V(w).shape, i, k),
        )
        formula = f"dL/d{w}[{i},{k}] = {label} + reg·{w}[{i},{k}]"
        return node, formula, f"d{w} = {x}ᵀ · d{out} + reg·{w}", ops

    def bias_grad(self, b: str, k: int) -> _Rule:
        out = next(layer[4] for layer in self.ng.fc_layers if layer[3] == b)
        label = f"Σ_n dL/d{out}[n,{k}]"
        key = self.main = f"d{b}"
        node = self.g.sum(
            key,
            label,
            self.G(out)[:, k],
            lambda n: self.grad_leaf(out, n, k),
            self.keep(key),
            name=f"dL_d{b}_{k}",
        )
        ops = (Operand(out, "grad", self.G(out).shape, None, k),)
        return node, f"dL/d{b}[{k}] = {label}", f"d{b} = Σ_n d{out}[n,:]", ops

    def relu_grad(self, n: int, k: int) -> _Rule:
        a = float(self.V("a1")[n, k])
        up = self.grad_leaf("h1", n, k)
        sign = ">" if a > 0 else "≤"
        mask = self.const(f"relu_mask_{n}_{k}", float(a > 0), f"ReLU mask: a1{_idx(n, k)} {sign} 0")
        node = self.g.op("mul", f"dL_da1_{n}_{k}", [up, mask], f"dL/da1{_idx(n, k)}")
        ops = (
            Operand("h1", "grad", self.G("h1").shape, n, k),
            Operand("a1", "value", self.V("a1").shape, n, k),
        )
        formula = f"dL/da1[{n},{k}] = dL/dh1[{n},{k}] · [a1[{n},{k}] > 0]"
        return node, formula, "da1 = dh1 ⊙ (a1 > 0)", ops

    def leaf_value(self, t: str, index: tuple[int, ...]) -> _Rule:
        batch = self.ng.batch
        shape = self.V(t).shape
        op = (Operand(t, "value", shape, index[0], index[1] if len(index) > 1 else None),)
        if t == "X" and batch.raw is not None and batch.mean is not None:
            n, d = index
            g = self.g
            pixel = g.leaf(f"pixel_{n}_{d}", float(batch.raw[n, d]), f"pixel{_idx(n, d)} (0..255)")
            mean = self.const(
                f"mean_{d}", float(batch.mean[d]), f"mean[{d}] of the training images"
            )
            scale = self.const("scale", batch.scale, "scale: the training pixels' std")
            centred = g.op("sub", f"centred_{n}_{d}", [pixel, mean], "pixel − mean")
            node = g.op("div", f"X_{n}_{d}", [centred, scale], f"X{_idx(n, d)}")
            formula = f"X[{n},{d}] = (pixel[{n},{d}] − mean[{d}]) / scale"
            return node, formula, "X = (images − mean) / scale", op
        what = "an input" if t == "X" else "a parameter"
        node = self.val(t, *index)
        return node, f"{t}{_idx(*index)} is {what}: nothing computes it", t, op


def explain(
    ng: NetGraph,
    element: Element | str,
    top_terms: int = DEFAULT_TOP_TERMS,
    unfold: Mapping[str, int] | None = None,
) -> Explanation:
    """The scalar computation behind ``element`` of ``ng``, read from its completed twin
    (:meth:`NetGraph.full`), whatever step ``ng`` is at. ``unfold`` maps a sum's key to
    how many of its terms to show."""
    top_terms = int(top_terms)
    if top_terms < 1:
        raise ExplainError(f"the number of terms shown must be 1 or more, got {top_terms}")
    full = ng.full()
    el = element if isinstance(element, Element) else parse_element(element, explainable_shapes(ng))
    if el.tensor not in EXPLAINABLE[ng.kind]:
        raise ExplainError(
            f"unknown tensor {el.tensor!r}; valid names: {describe_shapes(explainable_shapes(ng))}"
        )
    b = _Builder(full, top_terms, dict(unfold or {}))
    rule = _rule(b, el)
    node, formula, vectorised, operands = rule()
    arr = full.value(el.tensor) if el.kind == "value" else full.grad(el.tensor)
    assert arr is not None
    value = float(arr[el.index]) if el.index else float(arr)
    main = next((s for s in b.g.sums if s.key == b.main), None)
    meta = {
        "element": str(el),
        "value": value,
        "formula": formula,
        "vectorised": vectorised,
        "sums": [asdict(s) for s in b.g.sums],
    }
    return Explanation(
        element=el,
        value=value,
        graph_value=b.g.values[node],
        formula=formula,
        vectorised=vectorised,
        operands=operands,
        sums=tuple(b.g.sums),
        terms=main.terms if main else 0,
        folded=main.folded if main else 0,
        graph=b.g.to_dict(node, meta),
        _netgraph=ng,
        _top_terms=top_terms,
        _unfold=dict(unfold or {}),
    )


def _rule(b: _Builder, el: Element) -> Callable[[], _Rule]:
    t, i = el.tensor, el.index
    fc_outputs = {layer[4] for layer in b.ng.fc_layers}
    weights = {layer[2] for layer in b.ng.fc_layers}
    biases = {layer[3] for layer in b.ng.fc_layers}
    if el.kind == "value":
        if t == "L":
            return b.loss_value
        if t in fc_outputs:
            return lambda: b.fc_value(t, *i)
        if t == "h1":
            return lambda: _relu_value(b, *i)
        return lambda: b.leaf_value(t, i)
    if t == "L":
        return lambda: _start(b)
    if t == "scores":
        return lambda: b.scores_grad(*i)
    if t in weights:
        return lambda: b.weight_grad(t, *i)
    if t in biases:
        return lambda: b.bias_grad(t, *i)
    if t == "a1":
        return lambda: b.relu_grad(*i)
    return lambda: b.input_grad(t, *i)  # X, h1: a layer's input


def _relu_value(b: _Builder, n: int, k: int) -> _Rule:
    pre, formula, _, ops = b.fc_value("a1", n, k)
    node = b.g.op("relu", f"h1_{n}_{k}", [pre], f"h1{_idx(n, k)}")
    rhs = formula.split(" = ", 1)[1]
    return node, f"h1[{n},{k}] = relu({rhs})", "h1 = max(0, X · W1 + b1)", ops


def _start(b: _Builder) -> _Rule:
    node = b.g.leaf("dL_dL", 1.0, "dL/dL = 1: backprop starts here")
    return node, "dL/dL = 1", "dL/dL = 1", ()
