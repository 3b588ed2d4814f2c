"""``backprop-explorer mlp explain``: the scalar computation behind one number of the net.

::

    mlp explain (--checkpoint CKPT.npz | --init) --data SPEC [--split train|val] --batch N
        --seed S --element 'grad:W1[1023,41]' [--top-terms K] [--out GRAPH.json] [--json]
        [--preset NAME] [--model two-layer|linear] [--hidden-dim H] [--weight-scale W]
        [--reg R] [--num-val V] [--download]

``--json`` prints ``{"element", "value", "formula", "terms", "folded"}``; ``--out``
writes a graph file that ``graph eval`` evaluates to the same value. A bad element
name or index is one line naming the valid names and shapes, exit status 2. The
element is checked before any data is loaded (with ``--init`` its name, the index once
the data says how many values an image has).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nets.cli_common import whole_number

MODELS = {"two-layer": "TwoLayerNet", "linear": "LinearClassifier"}


def _number(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, got {text}")
    return value


def add_parser(commands: argparse._SubParsersAction, handler: Callable[..., int]) -> None:
    """Add ``explain`` to the ``mlp`` subcommands, run by ``handler(args)``."""
    ex = commands.add_parser(
        "explain",
        help="the scalar graph behind one number of the network",
        description="Build the scalar computation that produces one element of a tensor "
        "of the two-layer net (or the linear classifier) on a small batch of images: the "
        "chain rules as a graph for the Graph tab, every value plugged in. NAME is one of "
        "X, W1, b1, a1 (before the ReLU), h1 (after it), W2, b2, scores and L (the "
        "linear classifier: X, W, b, scores, L).",
    )
    source = ex.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, metavar="CKPT.npz", help="a saved model")
    source.add_argument("--init", action="store_true", help="a fresh initialisation (--seed)")
    ex.add_argument(
        "--data",
        required=True,
        metavar="SPEC",
        help="cifar10[:DIR], fashion-mnist[:DIR] or folder:DIR",
    )
    ex.add_argument(
        "--split",
        choices=("train", "val"),
        default="train",
        help="where the batch comes from (default train)",
    )
    ex.add_argument(
        "--batch",
        type=whole_number(1),
        default=4,
        metavar="N",
        help="images in the batch, 1 to 16 (default 4)",
    )
    ex.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="picks the batch (and, with --init, the weights); default 0",
    )
    ex.add_argument(
        "--element",
        required=True,
        metavar="ELEMENT",
        help="value:NAME[i,j] or grad:NAME[i,j], e.g. 'grad:W1[1023,41]', "
        "'value:scores[2,7]', 'grad:b2[3]', 'value:L'",
    )
    ex.add_argument(
        "--top-terms",
        type=whole_number(1),
        default=8,
        metavar="K",
        help="terms of a sum shown separately, the rest folded (default 8)",
    )
    ex.add_argument("--out", type=Path, metavar="GRAPH.json", help="write the graph file")
    ex.add_argument(
        "--json",
        action="store_true",
        help='print {"element", "value", "formula", "terms", "folded"}',
    )
    ex.add_argument(
        "--preset",
        choices=("seed-default", "tuned", "overfit"),
        default="seed-default",
        help="with --init: hidden size, weight scale and reg of this preset (default seed-default)",
    )
    ex.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="two-layer",
        help="with --init: the network (default two-layer)",
    )
    ex.add_argument("--hidden-dim", type=whole_number(1), metavar="H", help="with --init")
    ex.add_argument("--weight-scale", type=_number, metavar="W", help="with --init")
    ex.add_argument(
        "--reg",
        type=_number,
        metavar="R",
        help="L2 strength (default: the checkpoint's, or the preset's)",
    )
    ex.add_argument(
        "--num-val",
        type=whole_number(0),
        metavar="V",
        help="validation images carved out of train (as mlp train)",
    )
    ex.add_argument(
        "--download",
        action="store_true",
        help="download CIFAR-10 or Fashion-MNIST if it is missing",
    )
    ex.set_defaults(handler=handler)


def run(args: argparse.Namespace, load: Callable[[str], Any]) -> int:
    """The ``explain`` command; ``load(spec)`` loads the dataset (with progress)."""
    from nets.mlp.explain import ExplainError

    try:
        return _run(args, load)
    except ExplainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, load: Callable[[str], Any]) -> int:
    from nets.cli_common import check_output
    from nets.mlp.explain import EXPLAINABLE, check_element_name, explain, parse_element
    from nets.mlp.netgraph import (
        NetGraph,
        check_batch_size,
        fresh_weights,
        pick_batch,
        tensor_shapes_for,
    )

    n = check_batch_size(args.batch)
    check_output(args.out, "graph")
    if args.checkpoint is not None:
        from nets.mlp.checkpoint import load_checkpoint

        ckpt = load_checkpoint(args.checkpoint)
        kind = type(ckpt.model).__name__
        params = {k: tuple(v.shape) for k, v in ckpt.model.parameters().items()}
        shapes = tensor_shapes_for(kind, params, n)
        element = parse_element(args.element, {k: shapes[k] for k in EXPLAINABLE[kind]})
        dataset = load(args.data)
        ckpt.check_data(dataset.image_shape, dataset.num_classes, args.data)
        batch = pick_batch(dataset, n, args.seed, args.split, ckpt.preprocessor)
        reg = args.reg if args.reg is not None else float(ckpt.config.get("reg", 0.0) or 0.0)
        ng = NetGraph(ckpt.model, batch, reg)
    else:
        from nets.mlp.config import preset

        cfg = preset(args.preset)
        kind = MODELS[args.model]
        hidden = args.hidden_dim or cfg.hidden_dim
        check_element_name(args.element, kind, hidden, n)
        dataset = load(args.data)
        weights = fresh_weights(
            kind,
            dataset.input_dim,
            dataset.num_classes,
            hidden,
            args.weight_scale if args.weight_scale is not None else cfg.weight_scale,
            seed=args.seed,
        )
        batch = pick_batch(dataset, n, args.seed, args.split)
        ng = NetGraph(weights, batch, args.reg if args.reg is not None else cfg.reg)
        element = args.element
    result = explain(ng, element, top_terms=args.top_terms)
    if args.out is not None:
        from nets.errors import NetsError
        from nets.fileio import atomic_write_bytes, shown

        text = json.dumps(result.graph, allow_nan=False, ensure_ascii=False, indent=1)
        atomic_write_bytes(args.out, text.encode("utf-8"), NetsError, "write the graph")
        if not args.json:
            print(f"wrote {shown(args.out)} ({len(result.graph['nodes'])} nodes)", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"{result.element} = {result.value!r}")
    print(f"  {result.formula}")
    print(f"  vectorised: {result.vectorised}")
    for s in result.sums:
        folded = f", {s.folded:,} folded into {s.folded_value:.6g}" if s.folded else ""
        print(f"  sum {s.key}: {s.label}: {s.terms:,} terms, {s.shown} shown{folded}")
    return 0
