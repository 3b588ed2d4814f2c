"""What the network graph view runs in its worker: building a ``NetGraph`` from the
picked weights and batch, one stepping command, and an explanation. Each job is a
generator factory for ``gui.worker`` that yields one result item; the pictures each node
shows (heat-map images, histograms, stats) are made here too, so the GUI thread only
swaps them in.

Jobs run one at a time (the view queues them), so the ``NetGraph`` is only touched by
one thread at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gui.mlp_tab.network_graph.heatmap import Band, shape_text

STEP_COMMANDS = ("forward", "backward", "back", "run", "reset")


@dataclass(frozen=True, eq=False)
class NodeBands:
    value: Band
    grad: Band
    cache_text: str


def node_bands(ng: Any, old: Mapping[str, NodeBands]) -> dict[str, NodeBands]:
    """Every node's bands, reusing ``old`` ones whose arrays are the same objects."""
    out: dict[str, NodeBands] = {}
    for spec in ng.nodes:
        value, grad = ng.value(spec.name), ng.grad(spec.name)
        prev = old.get(spec.name)
        vb = prev.value if prev is not None and prev.value.array is value else Band(value)
        gb = prev.grad if prev is not None and prev.grad.array is grad else Band(grad)
        cache = ng.cache(spec.name) if spec.kind == "layer" else None
        text = ""
        if cache:
            text = "cache: " + ", ".join(f"{k} {shape_text(np.shape(v))}" for k, v in cache.items())
        out[spec.name] = NodeBands(vb, gb, text)
    return out


# -- results ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Built:
    """A new net: the ``NetGraph``, its bands and one line on where the weights came from."""

    ng: Any
    bands: dict[str, NodeBands]
    weights_text: str
    preprocessor: Any = None


@dataclass(frozen=True, eq=False)
class Stepped:
    command: str
    result: Any  # nets.mlp.netgraph.StepResult, or None when nothing was left to do
    message: str
    bands: dict[str, NodeBands]
    seconds: float  # the whole job: the layer call plus the pictures


@dataclass(frozen=True, eq=False)
class Explained:
    explanation: Any  # nets.mlp.explain.Explanation
    operands: dict[int, Band]  # the picture of each operand, by position
    seconds: float


@dataclass(frozen=True, eq=False)
class Refused:
    """An expected failure (bad element, mismatched checkpoint): one line for the user."""

    message: str


Factory = Callable[[Any], Iterator[Any]]


@dataclass(frozen=True)
class WeightsPlan:
    """Where the weights come from. ``model``: a Classifier (the selected run's) or None;
    ``checkpoint``: a file; else a fresh ``init_kind`` with ``init_args``."""

    model: Any = None
    preprocessor: Any = None
    checkpoint: Path | None = None
    init_kind: str = "TwoLayerNet"
    init_args: Mapping[str, Any] | None = None
    text: str = ""


def build_job(
    plan: WeightsPlan,
    dataset: Any,
    split: str,
    n: int,
    seed: int,
    reg: float,
    fitted: Callable[[Any], Any],
) -> Factory:
    """Build the NetGraph: weights per ``plan``, a batch of ``n`` images of ``dataset``
    (``split`` "train"/"val") or random numbers (``split`` "random" or no dataset).
    ``fitted(dataset)`` returns the dataset's fitted preprocessing (the view caches it)."""

    def factory(token) -> Iterator[Any]:
        from nets.errors import NetsError
        from nets.mlp import netgraph

        try:
            text = plan.text
            pre = plan.preprocessor
            if plan.checkpoint is not None:
                from nets.mlp.checkpoint import load_checkpoint

                ckpt = load_checkpoint(plan.checkpoint)
                weights: Any = ckpt.model
                pre = ckpt.preprocessor
                text = f"{plan.checkpoint.name}: {_describe(ckpt.model)}"
                if dataset is not None and split != "random":
                    ckpt.check_data(dataset.image_shape, dataset.num_classes, dataset.source)
            elif plan.model is not None:
                weights = plan.model
            else:
                args = dict(plan.init_args or {})
                if dataset is not None and split != "random":
                    args.update(input_dim=dataset.input_dim, num_classes=dataset.num_classes)
                weights = netgraph.fresh_weights(plan.init_kind, **args)
            input_dim, classes = _dims(weights)
            if dataset is None or split == "random":
                batch = netgraph.random_batch(n, input_dim, classes, seed)
            else:
                if input_dim != dataset.input_dim or classes != dataset.num_classes:
                    yield Refused(
                        f"The model takes {input_dim} inputs and {classes} classes but the "
                        f"dataset has {dataset.input_dim} and {dataset.num_classes}: load the "
                        "dataset it was trained on, or use random numbers"
                    )
                    return
                if pre is None:
                    pre = fitted(dataset)
                batch = netgraph.pick_batch(dataset, n, seed, split, pre)
            ng = netgraph.build_netgraph(weights, batch, reg)
        except (NetsError, OSError) as exc:
            yield Refused(str(exc))
            return
        yield Built(ng, node_bands(ng, {}), text, pre)

    return factory


def _dims(weights: Any) -> tuple[int, int]:
    params = weights.parameters() if hasattr(weights, "parameters") else weights
    first = params["W1"] if "W1" in params else params["W"]
    last = params["W2"] if "W2" in params else params["W"]
    return int(first.shape[0]), int(last.shape[1])


def _describe(model: Any) -> str:
    params = model.parameters()
    shapes = ", ".join(f"{k} {shape_text(v.shape)}" for k, v in params.items())
    return f"{type(model).__name__} ({shapes})"


def step_job(ng: Any, command: str, old: Callable[[], Mapping[str, NodeBands]]) -> Factory:
    """One stepping command on ``ng``: "forward", "backward", "back" (undo one step),
    "run" (finish both passes) or "reset"."""
    if command not in STEP_COMMANDS:
        raise ValueError(f"unknown step command {command!r}")

    def factory(token) -> Iterator[Any]:
        start = time.perf_counter()
        result = None
        if command == "forward":
            result = ng.step_forward()
            message = _step_message(ng, result, "forward")
        elif command == "backward":
            result = ng.step_backward()
            message = _step_message(ng, result, "backward")
        elif command == "back":
            message = "Took back the last step." if ng.step_back_one() else "Nothing to take back."
        elif command == "run":
            ng.run_all()
            message = f"Run all: L = {float(ng.value('L')):.6g}; every gradient computed."
        else:
            ng.reset()
            message = "Reset: only the inputs and parameters are known."
        bands = node_bands(ng, old())
        yield Stepped(command, result, message, bands, time.perf_counter() - start)

    return factory


def _step_message(ng: Any, result: Any, direction: str) -> str:
    if result is None:
        if direction == "forward":
            return "The forward pass is complete: step backward (←)."
        if not ng.forward_complete:
            return "Finish the forward pass first (→ or F5)."
        return "The backward pass is complete."
    total = len(ng.forward_order if direction == "forward" else ng.backward_order)
    done = ng.forward_done if direction == "forward" else ng.backward_done
    return f"{direction} {done}/{total}: {result.call}  ({result.seconds * 1000:.1f} ms)"


def explain_job(
    ng: Any,
    element: Any,
    top_terms: int,
    unfold: Mapping[str, int] | None,
    old: Callable[[], Mapping[str, NodeBands]],
) -> Factory:
    """Explain ``element`` ("grad:W1[1023,41]") of ``ng``, with the operands' pictures
    (reusing the nodes' ``old`` bands of the same arrays)."""

    def factory(token) -> Iterator[Any]:
        from nets.errors import NetsError
        from nets.mlp.explain import explain

        start = time.perf_counter()
        try:
            expl = explain(ng, element, top_terms=top_terms, unfold=unfold)
        except NetsError as exc:
            yield Refused(str(exc))
            return
        known = {id(band.array): band for b in old().values() for band in (b.value, b.grad)}
        pictures = {}
        for i, a in operand_arrays(ng, expl).items():
            pictures[i] = known.get(id(a)) or Band(a)
        yield Explained(expl, pictures, time.perf_counter() - start)

    return factory


def operand_arrays(ng: Any, expl: Any) -> dict[int, np.ndarray | None]:
    """The array of each operand of ``expl``, from a fully run twin of ``ng`` when ``ng``
    is part-way through its passes."""
    full = ng if ng.forward_complete and ng.backward_complete else ng.full()
    return {
        i: full.value(op.tensor) if op.which == "value" else full.grad(op.tensor)
        for i, op in enumerate(expl.operands)
    }
