"""The numpy classifiers as a computational graph of the seed's layer calls, steppable.

A :class:`NetGraph` holds one small batch (N = 1..16 images), float64 copies of the
weights and the regularisation strength, and the graph of layer calls that
``TwoLayerNet`` (fc -> ReLU -> fc -> softmax loss, plus L2 of W1 and W2, summed into L) or
``LinearClassifier`` (fc -> softmax loss, plus L2 of W) is made of. Each forward step is
one real ``*_forward`` call of :mod:`nets.mlp.layers`, each backward step one real
``*_backward`` (or the loss's gradient), so what a learner steps through is the code that
trains the network. Every node exposes its output, its gradient dL/d(output), its cache
and summary statistics.

Tensor names (what "explain this number" takes): X (N, D), W1 (D, H), b1 (H,), a1 (N, H)
= fc1's output, h1 (N, H) = the ReLU's output, W2 (H, C), b2 (C,), scores (N, C),
data_loss, reg_W1, reg_W2 and L (scalars); the LinearClassifier has X, W (D, C), b (C,),
scores, data_loss, reg_W and L.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nets.errors import CheckpointError, ConfigError
from nets.mlp.batch import (
    KINDS,
    MAX_BATCH,
    Batch,
    check_batch_size,
    fresh_weights,
    pick_batch,
    random_batch,
)
from nets.mlp.classifiers import Classifier
from nets.mlp.layers import (
    fc_backward,
    fc_forward,
    l2_regularization,
    relu_backward,
    relu_forward,
    softmax_loss,
)
from nets.mlp.tensor_stats import TensorStats, tensor_stats

if TYPE_CHECKING:
    from nets.data.dataset import ImageDataset

__all__ = [
    "KINDS",
    "MAX_BATCH",
    "Batch",
    "EdgeSpec",
    "NetGraph",
    "NodeSpec",
    "StepResult",
    "TensorStats",
    "build_netgraph",
    "check_batch_size",
    "fresh_weights",
    "netgraph_from_checkpoint",
    "pick_batch",
    "random_batch",
    "shape_label",
    "tensor_shapes_for",
    "tensor_stats",
]


# ------------------------------------------------------------------------------ graph


@dataclass(frozen=True)
class NodeSpec:
    """One node: ``kind`` is input, param, layer, loss or sum; ``tensor`` names its
    output; ``inputs`` are the predecessor node names in argument order."""

    name: str
    kind: str
    label: str
    inputs: tuple[str, ...]
    tensor: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class EdgeSpec:
    """An arrow from ``src``'s output into ``dst``, carrying a tensor of ``shape``."""

    src: str
    dst: str
    shape: tuple[int, ...]
    label: str


@dataclass(frozen=True)
class StepResult:
    """One layer call that ran: ``call`` is the line of code it was."""

    direction: str
    node: str
    call: str
    seconds: float


def shape_label(shape: tuple[int | str, ...]) -> str:
    """``16×3072``; ``scalar`` for ()."""
    return "×".join(str(s) for s in shape) if shape else "scalar"


def _kind_of(weights: Mapping[str, np.ndarray]) -> str:
    keys = set(weights)
    if keys == {"W1", "b1", "W2", "b2"}:
        return "TwoLayerNet"
    if keys == {"W", "b"}:
        return "LinearClassifier"
    raise CheckpointError(
        f"the weights have parameters {sorted(keys)}: expected W1, b1, W2, b2 (TwoLayerNet) "
        "or W, b (LinearClassifier)"
    )


# (name, fc node, x tensor, weight, bias, output tensor) per fully-connected layer
_FC = {
    "TwoLayerNet": (("fc1", "X", "W1", "b1", "a1"), ("fc2", "h1", "W2", "b2", "scores")),
    "LinearClassifier": (("fc1", "X", "W", "b", "scores"),),
}


def tensor_shapes_for(
    kind: str, param_shapes: Mapping[str, tuple[int, ...]], n: int
) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of a ``kind`` network with these parameter shapes on a
    batch of ``n`` (known before any data is loaded), in forward order."""
    layers = _FC[kind]
    d = param_shapes[layers[0][2]][0]
    shapes: dict[str, tuple[int, ...]] = {"X": (n, d)}
    for _, _, w, b, out in layers:
        shapes[w] = tuple(param_shapes[w])
        shapes[b] = tuple(param_shapes[b])
        shapes[out] = (n, param_shapes[w][1])
        if out == "a1":
            shapes["h1"] = shapes["a1"]
    shapes["data_loss"] = ()
    for layer in layers:
        shapes[f"reg_{layer[2]}"] = ()
    shapes["L"] = ()
    return shapes


class NetGraph:
    """The layer-call graph of one classifier on one batch; see the module docstring.

    Forward steps run in ``forward_order``; backward steps (in ``backward_order``) start
    once every forward step is done. ``step_back_one`` undoes the last step.
    """

    def __init__(
        self,
        weights: Mapping[str, np.ndarray] | Classifier,
        batch: Batch,
        reg: float = 0.0,
        *,
        _copy: bool = True,
    ) -> None:
        if isinstance(weights, Classifier):
            weights = weights.parameters()
        self.kind = _kind_of(weights)
        # float64 copies: a trainer updating its arrays in place must not change the graph
        convert = np.array if _copy else np.asarray
        self.params = {k: convert(v, dtype=np.float64) for k, v in weights.items()}
        for k, v in self.params.items():
            if not np.all(np.isfinite(v)):
                raise CheckpointError(f"parameter {k} is not finite")
        reg = float(reg)
        if not np.isfinite(reg) or reg < 0:
            raise ConfigError(f"the regularisation strength must be 0 or more, got {reg!r}")
        self.reg = reg
        self.batch = batch
        self.fc_layers = _FC[self.kind]
        self._check_shapes()
        self.weight_names = tuple(layer[2] for layer in self.fc_layers)
        self.nodes, self.edges = self._build_nodes()
        self._by_name = {n.name: n for n in self.nodes}
        self._by_tensor = {n.tensor: n for n in self.nodes}
        self.forward_order = tuple(n.name for n in self.nodes if n.kind in ("layer", "loss", "sum"))
        self.backward_order = tuple(reversed(self.forward_order))
        self._full: NetGraph | None = None
        self._full_lock = threading.Lock()
        self.reset()

    # -- structure ------------------------------------------------------------------

    def _check_shapes(self) -> None:
        X, y = self.batch.X, self.batch.y
        check_batch_size(X.shape[0] if X.ndim == 2 else -1)
        d = self.params[self.fc_layers[0][2]].shape[0]
        if X.shape[1] != d:
            raise ConfigError(f"the batch has {X.shape[1]} values per image, the model takes {d}")
        prev = d
        for _, _, w, b, _ in self.fc_layers:
            W, B = self.params[w], self.params[b]
            if W.ndim != 2 or W.shape[0] != prev or B.shape != (W.shape[1],):
                raise CheckpointError(
                    f"inconsistent shapes: {w} is {W.shape} and {b} is {B.shape} after an "
                    f"input of {prev} values"
                )
            prev = W.shape[1]
        self.num_classes = prev
        if y.shape != (X.shape[0],) or y.min() < 0 or y.max() >= prev:
            raise ConfigError(f"labels must be N integers in [0, {prev})")

    def _build_nodes(self) -> tuple[tuple[NodeSpec, ...], tuple[EdgeSpec, ...]]:
        n = self.batch.n
        shapes = self.tensor_shapes()
        nodes = [
            NodeSpec("X", "input", "X", (), "X", shapes["X"]),
            NodeSpec("y", "input", "y", (), "y", (n,)),
        ]
        for i, (fc, _x, w, b, out) in enumerate(self.fc_layers):
            nodes.append(NodeSpec(w, "param", w, (), w, shapes[w]))
            nodes.append(NodeSpec(b, "param", b, (), b, shapes[b]))
            src = "X" if i == 0 else "relu1"
            nodes.append(NodeSpec(fc, "layer", "fc_forward", (src, w, b), out, shapes[out]))
            if out == "a1":
                nodes.append(NodeSpec("relu1", "layer", "relu_forward", (fc,), "h1", shapes["h1"]))
        last_fc = self.fc_layers[-1][0]
        nodes.append(
            NodeSpec("softmax_loss", "loss", "softmax_loss", (last_fc, "y"), "data_loss", ())
        )
        regs = []
        for w in (layer[2] for layer in self.fc_layers):
            nodes.append(NodeSpec(f"l2_{w}", "loss", "l2_regularization", (w,), f"reg_{w}", ()))
            regs.append(f"l2_{w}")
        nodes.append(NodeSpec("L", "sum", "+", ("softmax_loss", *regs), "L", ()))
        by_name = {nd.name: nd for nd in nodes}
        edges = tuple(
            EdgeSpec(src, nd.name, by_name[src].shape, shape_label(by_name[src].shape))
            for nd in nodes
            for src in nd.inputs
        )
        return tuple(nodes), edges

    def node(self, name: str) -> NodeSpec:
        """The node called ``name`` or producing tensor ``name``; KeyError otherwise."""
        found = self._by_name.get(name) or self._by_tensor.get(name)
        if found is None:
            raise KeyError(f"no node or tensor {name!r} (nodes: {', '.join(self._by_name)})")
        return found

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor's shape, in forward order (X, W1, b1, a1, h1, W2, b2, scores, L...)."""
        return tensor_shapes_for(
            self.kind, {k: tuple(v.shape) for k, v in self.params.items()}, self.batch.n
        )

    # -- stepping -------------------------------------------------------------------

    def reset(self) -> None:
        """Back to nothing computed (the leaves keep their values)."""
        self._values: dict[str, np.ndarray] = {"X": self.batch.X, "y": self.batch.y}
        self._values.update(self.params)
        self._caches: dict[str, dict[str, np.ndarray]] = {}
        # tensor -> {source node: gradient contribution}
        self._grads: dict[str, dict[str, np.ndarray]] = {}
        self._history: list[tuple[str, str]] = []
        self._stats: dict[tuple[str, str], TensorStats] = {}
        self._totals: dict[str, np.ndarray] = {}
        self.forward_done = 0
        self.backward_done = 0

    @property
    def forward_complete(self) -> bool:
        return self.forward_done == len(self.forward_order)

    @property
    def backward_complete(self) -> bool:
        return self.backward_done == len(self.backward_order)

    def step_forward(self) -> StepResult | None:
        """Run the next forward layer call; None when the forward pass is complete."""
        if self.forward_complete:
            return None
        name = self.forward_order[self.forward_done]
        start = time.perf_counter()
        call = self._FORWARD[self._by_name[name].label](self, self._by_name[name])
        self.forward_done += 1
        self._history.append(("forward", name))
        return StepResult("forward", name, call, time.perf_counter() - start)

    def step_backward(self) -> StepResult | None:
        """Run the next backward call; None before the forward pass is complete or when
        the backward pass is."""
        if not self.forward_complete or self.backward_complete:
            return None
        name = self.backward_order[self.backward_done]
        start = time.perf_counter()
        call = self._BACKWARD[self._by_name[name].label](self, self._by_name[name])
        self.backward_done += 1
        self._history.append(("backward", name))
        return StepResult("backward", name, call, time.perf_counter() - start)

    def step_back_one(self) -> bool:
        """Undo the last step (its outputs or gradients disappear); False if none."""
        if not self._history:
            return False
        direction, name = self._history.pop()
        node = self._by_name[name]
        if direction == "forward":
            self._values.pop(node.tensor, None)
            self._caches.pop(name, None)
            self.forward_done -= 1
        else:
            for parts in self._grads.values():
                parts.pop(name, None)
            if node.kind == "sum":
                self._grads.pop("L", None)
            self._grads = {k: v for k, v in self._grads.items() if v}
            self.backward_done -= 1
        self._stats.clear()
        self._totals.clear()
        return True

    def run_forward(self) -> None:
        while self.step_forward() is not None:
            pass

    def run_backward(self) -> None:
        self.run_forward()
        while self.step_backward() is not None:
            pass

    run_all = run_backward

    def full(self) -> NetGraph:
        """A twin of this graph with every step run, computed once and never stepped
        (weights and batch never change), so it may be read from another thread while
        this graph is being stepped."""
        with self._full_lock:
            if self._full is None:
                twin = NetGraph(self.params, self.batch, self.reg, _copy=False)
                twin.run_all()
                self._full = twin
            return self._full

    # -- the layer calls --------------------------------------------------------------

    def _fc_forward(self, node: NodeSpec) -> str:
        x_node, w, b = node.inputs
        x = self._values[self._by_name[x_node].tensor]
        out, (cx, cw) = fc_forward(x, self.params[w], self.params[b])
        self._values[node.tensor] = out
        self._caches[node.name] = {"x": cx, "w": cw}
        xt = self._by_name[x_node].tensor
        return f"{node.tensor}, cache = fc_forward({xt}, {w}, {b})"

    def _relu_forward(self, node: NodeSpec) -> str:
        src = self._by_name[node.inputs[0]].tensor
        out, cache = relu_forward(self._values[src])
        self._values[node.tensor] = out
        self._caches[node.name] = {"out": cache}
        return f"{node.tensor}, cache = relu_forward({src})"

    def _softmax_forward(self, node: NodeSpec) -> str:
        scores_t = self._by_name[node.inputs[0]].tensor
        scores = self._values[scores_t]
        loss, grad = softmax_loss(scores, self.batch.y)
        n = scores.shape[0]
        probs = grad * n
        probs[np.arange(n), self.batch.y] += 1.0
        self._values[node.tensor] = np.array(loss)
        # softmax_loss returns its gradient with the loss: that is what backward uses.
        self._caches[node.name] = {"grad": grad, "probs": probs}
        return f"data_loss, dscores = softmax_loss({scores_t}, y)"

    def _l2_forward(self, node: NodeSpec) -> str:
        w = node.inputs[0]
        loss, grad = l2_regularization(self.params[w], self.reg)
        self._values[node.tensor] = np.array(loss)
        self._caches[node.name] = {"grad": grad}
        return f"{node.tensor}, d{w}_reg = l2_regularization({w}, reg={self.reg:g})"

    def _sum_forward(self, node: NodeSpec) -> str:
        parts = [self._by_name[i].tensor for i in node.inputs]
        self._values["L"] = np.array(sum(float(self._values[p]) for p in parts))
        return "L = " + " + ".join(parts)

    def _add_grad(self, tensor: str, source: str, grad: np.ndarray) -> None:
        self._grads.setdefault(tensor, {})[source] = grad
        self._totals.pop(tensor, None)
        self._stats.pop((tensor, "grad"), None)

    def _sum_backward(self, node: NodeSpec) -> str:
        self._add_grad("L", "L", np.array(1.0))
        for i in node.inputs:
            self._add_grad(self._by_name[i].tensor, node.name, np.array(1.0))
        return "dL/dL = 1; each term of L gets 1"

    def _l2_backward(self, node: NodeSpec) -> str:
        w = node.inputs[0]
        up = self.grad(node.tensor)
        assert up is not None
        self._add_grad(w, node.name, self._caches[node.name]["grad"] * up)
        return f"d{w} += reg * {w}  (× dL/d{node.tensor} = {float(up):g})"

    def _softmax_backward(self, node: NodeSpec) -> str:
        up = self.grad(node.tensor)
        assert up is not None
        scores_t = self._by_name[node.inputs[0]].tensor
        self._add_grad(scores_t, node.name, self._caches[node.name]["grad"] * up)
        return f"d{scores_t} = (p - onehot(y)) / N  (from softmax_loss)"

    def _fc_backward(self, node: NodeSpec) -> str:
        x_node, w, b = node.inputs
        xt = self._by_name[x_node].tensor
        up = self.grad(node.tensor)
        assert up is not None
        c = self._caches[node.name]
        dx, dw, db = fc_backward(up, (c["x"], c["w"]))
        assert dx is not None
        self._add_grad(xt, node.name, dx)
        self._add_grad(w, node.name, dw)
        self._add_grad(b, node.name, db)
        return f"d{xt}, d{w}, d{b} = fc_backward(d{node.tensor}, cache)"

    def _relu_backward(self, node: NodeSpec) -> str:
        src = self._by_name[node.inputs[0]].tensor
        up = self.grad(node.tensor)
        assert up is not None
        self._add_grad(src, node.name, relu_backward(up, self._caches[node.name]["out"]))
        return f"d{src} = relu_backward(d{node.tensor}, cache)"

    _FORWARD: dict[str, Callable[[NetGraph, NodeSpec], str]] = {
        "fc_forward": _fc_forward,
        "relu_forward": _relu_forward,
        "softmax_loss": _softmax_forward,
        "l2_regularization": _l2_forward,
        "+": _sum_forward,
    }
    _BACKWARD: dict[str, Callable[[NetGraph, NodeSpec], str]] = {
        "fc_forward": _fc_backward,
        "relu_forward": _relu_backward,
        "softmax_loss": _softmax_backward,
        "l2_regularization": _l2_backward,
        "+": _sum_backward,
    }

    # -- what each node shows ---------------------------------------------------------

    def value(self, name: str) -> np.ndarray | None:
        """The node's (or tensor's) output; None until its forward step has run."""
        return self._values.get(self.node(name).tensor)

    def grad(self, name: str) -> np.ndarray | None:
        """dL/d(output) summed over every contribution so far; None before the first."""
        tensor = self.node(name).tensor
        parts = self._grads.get(tensor)
        if not parts:
            return None
        if len(parts) == 1:
            return next(iter(parts.values()))
        total = self._totals.get(tensor)
        if total is None:
            values = list(parts.values())
            total = values[0].copy()
            for more in values[1:]:
                total += more
            self._totals[tensor] = total
        return total

    def grad_parts(self, name: str) -> dict[str, np.ndarray]:
        """The gradient's contributions by the node that sent them (W1: fc1 and l2_W1)."""
        return dict(self._grads.get(self.node(name).tensor, {}))

    def cache(self, name: str) -> dict[str, np.ndarray] | None:
        """What the layer's forward call kept for its backward call: fc {"x", "w"}, ReLU
        {"out"}, softmax loss {"grad", "probs"}, L2 {"grad"}; None before it ran."""
        return self._caches.get(self.node(name).name)

    def incoming_weights(self, unit: int) -> np.ndarray:
        """First-layer weights into hidden unit (or, for the linear classifier, class)
        ``unit``: W[:, unit] shaped as an image (H, W, C) when the batch's image shape is
        known, else (D,)."""
        w = self.params[self.fc_layers[0][2]][:, unit]
        shape = self.batch.image_shape
        return w.reshape(shape) if shape and int(np.prod(shape)) == w.size else w

    def stats(self, name: str, which: str = "value") -> TensorStats | None:
        """Statistics of the node's value or grad (cached until the next undo)."""
        key = (self.node(name).tensor, which)
        if key not in self._stats:
            arr = self.value(name) if which == "value" else self.grad(name)
            if arr is None:
                return None
            self._stats[key] = tensor_stats(arr)
        return self._stats[key]


def build_netgraph(
    weights: Mapping[str, np.ndarray] | Classifier, batch: Batch, reg: float = 0.0
) -> NetGraph:
    """A NetGraph of these weights (TwoLayerNet's W1, b1, W2, b2 or LinearClassifier's W,
    b, any float dtype) on ``batch``, nothing computed yet."""
    return NetGraph(weights, batch, reg)


def netgraph_from_checkpoint(
    path: Any,
    dataset: ImageDataset,
    n: int,
    seed: int = 0,
    split: str = "train",
    reg: float | None = None,
) -> NetGraph:
    """Load a checkpoint, pick ``n`` images of ``dataset`` through its preprocessing and
    build the graph; ``reg`` defaults to the checkpoint's training configuration."""
    from nets.mlp.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    ckpt.check_data(dataset.image_shape, dataset.num_classes, dataset.source)
    batch = pick_batch(dataset, n, seed, split, ckpt.preprocessor)
    if reg is None:
        reg = float(ckpt.config.get("reg", 0.0) or 0.0)
    return NetGraph(ckpt.model, batch, reg)
