"""``backprop-explorer cnn inspect|dream``: look inside a trained CNN checkpoint.

::

    cnn inspect --checkpoint CKPT.pt (--image FILE | --val-index I) [--data SPEC]
        [--class C] [--save-maps DIR] [--json]
    cnn dream --checkpoint CKPT.pt (--class C | --channel L:K) [--steps N] --out FILE.png

``inspect`` runs one image through the network (an image file converted the way the
training data is, or validation image I of the checkpoint's dataset) and reports every
layer's output, the top-5 classes and the gradient of a class score with respect to the
input. ``--json`` prints ``{"layers": [{"index", "name", "type", "output_shape",
"stats"}], "top5": [{"index", "name", "probability"}], "predicted", "target",
"saliency_shape", "gradcam_layer", "gradcam_shape", "input"}``. ``--save-maps DIR``
writes ``input.png``, one ``layer_NN_<type>.png`` per layer, ``saliency.png``,
``grad_x_input.png`` and ``gradcam.png``. ``dream`` runs activation maximisation and
writes the image it found (enlarged so its longer side is at least 112 pixels).
Registered by ``nets.cnn.cli``; importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from nets.cli_common import check_output as _check_output
from nets.cnn.cli_types import number as _number

#: Threads for inspecting one image: a single image is too small to split well.
INSPECT_THREADS = 1


def _channel(text: str) -> tuple[int, int]:
    layer, sep, channel = text.partition(":")
    if not sep or not layer.strip().isdigit() or not channel.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"--channel must be LAYER:CHANNEL with two whole numbers, e.g. 4:7, not {text!r}"
        )
    return int(layer), int(channel)


def _png_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"--out must be a .png file, not {text!r}")
    return path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``inspect`` and ``dream`` to the ``cnn`` subcommands."""
    i = sub.add_parser(
        "inspect",
        help="feature maps, class probabilities, saliency and Grad-CAM for one image",
        description=(
            "Run one image through a trained CNN and show what every layer outputs and "
            "how the chosen class score's gradient flows back to the pixels."
        ),
    )
    i.add_argument("--checkpoint", required=True, type=Path, metavar="CKPT.pt")
    source = i.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, metavar="FILE", help="an image file (any size)")
    source.add_argument(
        "--val-index", type=_number(int, 0, "--val-index"), metavar="I", help="validation image I"
    )
    i.add_argument(
        "--data",
        metavar="SPEC",
        help="dataset of --val-index (default: the one the checkpoint was trained on)",
    )
    i.add_argument(
        "--val-size",
        type=_number(int, 1, "--val-size"),
        metavar="N",
        help="validation images taken from train, as in `cnn train` (default as there)",
    )
    i.add_argument("--split-seed", type=_number(int, 0, "--split-seed"), default=0, metavar="S")
    i.add_argument(
        "--class",
        dest="target",
        metavar="C",
        help="class (index or name) whose score is differentiated; default: the predicted one",
    )
    i.add_argument("--save-maps", type=Path, metavar="DIR", help="write the pictures as PNGs")
    i.add_argument("--json", action="store_true", help="print the result as JSON")
    i.set_defaults(handler=run_inspect)

    d = sub.add_parser(
        "dream",
        help="activation maximisation: the input a class or channel likes most",
        description=(
            "Start from noise and climb the gradient of a class score or of a channel's "
            "mean activation with respect to the pixels (with L2 decay, blur and jitter)."
        ),
    )
    d.add_argument("--checkpoint", required=True, type=Path, metavar="CKPT.pt")
    what = d.add_mutually_exclusive_group(required=True)
    what.add_argument("--class", dest="target", metavar="C", help="class index or name")
    what.add_argument(
        "--channel", type=_channel, metavar="L:K", help="channel K of layer L (0-based)"
    )
    d.add_argument("--steps", type=_number(int, 1, "--steps"), default=100, metavar="N")
    d.add_argument("--seed", type=_number(int, 0, "--seed"), default=0, metavar="S")
    d.add_argument("--out", required=True, type=_png_path, metavar="FILE.png")
    d.set_defaults(handler=run_dream)


# --------------------------------------------------------------------------- helpers


def _class_index(text: str | None, class_names: tuple[str, ...]) -> int | None:
    from nets.errors import ConfigError

    if text is None:
        return None
    wanted = text.strip()
    if wanted.lstrip("-").isdigit():
        index = int(wanted)
        if not 0 <= index < len(class_names):
            raise ConfigError(f"--class {index} is outside 0..{len(class_names) - 1}")
        return index
    lowered = [n.lower() for n in class_names]
    if wanted.lower() in lowered:
        return lowered.index(wanted.lower())
    raise ConfigError(
        f"--class {text!r} is neither a class index nor one of: {', '.join(class_names)}"
    )


def _prepare_folder(folder: Path) -> None:
    """Create ``--save-maps DIR`` (not its parents) before any work; refuse a file."""
    from nets.errors import ConfigError

    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--save-maps {folder} is a file, not a folder")
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"cannot write maps into {folder}: folder {parent} does not exist")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {folder}: {exc.strerror or exc}") from None


def _load(path: Path) -> Any:
    from nets.cnn.config import limit_openmp_spin

    limit_openmp_spin()  # before anything imports torch
    from nets.cnn.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _input_image(args: argparse.Namespace, trained: Any) -> tuple[Any, dict[str, Any]]:
    """The uint8 (H, W, C) image to inspect and a description of where it came from."""
    from nets.cnn.inspect import load_image_for_model
    from nets.cnn.trained import check_images
    from nets.errors import ConfigError

    if args.image is not None:
        return load_image_for_model(args.image, trained.input_shape), {"image": str(args.image)}
    from nets.data import load_dataset

    spec = args.data or trained.data_source
    if not spec:
        raise ConfigError(
            f"{args.checkpoint} does not say which data it was trained on: give --data SPEC"
        )
    data = load_dataset(
        spec, num_val=args.val_size, seed=args.split_seed, image_size=trained.input_shape[1]
    )
    check_images(trained, data.X_val, "validation images")
    if args.val_index >= len(data.X_val):
        raise ConfigError(
            f"--val-index {args.val_index} is outside 0..{len(data.X_val) - 1} "
            f"({len(data.X_val)} validation images in {spec})"
        )
    label = int(data.y_val[args.val_index])
    return data.X_val[args.val_index], {
        "data": spec,
        "val_index": args.val_index,
        "label": label,
        "label_name": trained.class_names[label] if label < trained.num_classes else str(label),
    }


def inspection_json(result: Any, class_names: tuple[str, ...]) -> dict[str, Any]:
    """The ``--json`` form of an :class:`~nets.cnn.inspect.Inspection`."""
    from nets.cnn.inspect import activation_stats

    def cls(index: int, probability: float) -> dict[str, Any]:
        return {"index": index, "name": class_names[index], "probability": probability}

    return {
        "layers": [
            {
                "index": info.index,
                "name": info.label,
                "type": info.kind,
                "output_shape": list(info.shape),
                "stats": activation_stats(values),
            }
            for info, values in zip(result.layers, result.activations, strict=True)
        ],
        "top5": [cls(i, p) for i, p in result.top_classes(5)],
        "predicted": cls(result.predicted, float(result.probabilities[result.predicted])),
        "target": cls(result.target, float(result.probabilities[result.target])),
        "saliency_shape": list(result.saliency.shape),
        "gradcam_layer": result.gradcam_layer,
        "gradcam_shape": list(result.gradcam.shape) if result.gradcam is not None else None,
    }


def save_maps(folder: Path, result: Any) -> list[Path]:
    """Write the inspection's pictures into ``folder``; returns the files written."""
    from nets.cnn import pictures as pic
    from nets.errors import NetsError
    from nets.images import save_png

    h, w = result.image.shape[:2]
    factor = max(1, math.ceil(112 / max(h, w)))
    files: list[tuple[str, Any]] = [("input.png", pic.zoom(result.image, factor))]
    for info, values in zip(result.layers, result.activations, strict=True):
        files.append((f"layer_{info.index:02d}_{info.kind}.png", pic.layer_picture(values)))
    files.append(
        ("saliency.png", pic.zoom(pic.heat_rgb(pic.saliency_map(result.saliency)), factor))
    )
    files.append(
        ("grad_x_input.png", pic.zoom(pic.signed_rgb(result.grad_x_input.sum(axis=0)), factor))
    )
    if result.gradcam is not None:
        files.append(("gradcam.png", pic.overlay(pic.zoom(result.image, factor), result.gradcam)))
    written = []
    for name, pixels in files:
        save_png(folder / name, pixels, NetsError)
        written.append(folder / name)
    return written


# --------------------------------------------------------------------------- commands


def run_inspect(args: argparse.Namespace) -> int:
    """Inspect one image; print a summary or JSON, optionally write the pictures."""
    trained = _load(args.checkpoint)
    target = _class_index(args.target, trained.class_names)
    if args.save_maps is not None:
        _prepare_folder(args.save_maps)
    image, source = _input_image(args, trained)
    from nets.cnn.inspect import Inspector, activation_stats

    inspector = Inspector(trained, threads=INSPECT_THREADS)
    result = inspector.inspect(image, target)
    written = save_maps(args.save_maps, result) if args.save_maps is not None else []
    names = trained.class_names
    if args.json:
        print(json.dumps({"input": source, **inspection_json(result, names)}))
        return 0
    where = source.get("image") or f"validation image {source['val_index']} of {source['data']}"
    label = f" (label: {source['label_name']})" if "label_name" in source else ""
    print(f"input: {where}{label}")
    for info, values in zip(result.layers, result.activations, strict=True):
        s = activation_stats(values)
        print(
            f"  {info.title:<34} {'x'.join(map(str, info.shape)):>10}  min {s['min']:9.3f}  "
            f"max {s['max']:9.3f}  mean {s['mean']:9.3f}  zeros {100 * s['zero_fraction']:5.1f}%"
        )
    print("top 5: " + ", ".join(f"{names[i]} {100 * p:.1f}%" for i, p in result.top_classes(5)))
    print(
        f"gradient of the {names[result.target]!r} score: saliency "
        f"{'x'.join(map(str, result.saliency.shape))}, largest |d score/d input| "
        f"{float(abs(result.saliency).max()):.4g}"
    )
    if written:
        print(f"wrote {len(written)} pictures to {args.save_maps}")
    return 0


def run_dream(args: argparse.Namespace) -> int:
    """Run activation maximisation and write the image it found."""
    trained = _load(args.checkpoint)
    _check_output(args.out, "image")
    from nets.cnn import pictures as pic
    from nets.cnn.dream import (
        STEP_LINE,
        ChannelObjective,
        ClassObjective,
        DreamSettings,
        check_objective,
        dream,
    )
    from nets.cnn.inspect import Inspector
    from nets.errors import NetsError
    from nets.images import save_png

    inspector = Inspector(trained, threads=INSPECT_THREADS)
    if args.channel is not None:
        objective: Any = ChannelObjective(*args.channel)
    else:
        objective = ClassObjective(_class_index(args.target, trained.class_names) or 0)
    check_objective(inspector, objective)
    print(f"maximising the {objective.describe(trained.class_names)}; {STEP_LINE.lower()}")
    start = time.perf_counter()
    first = last = None
    for frame in dream(inspector, objective, DreamSettings(steps=args.steps, seed=args.seed)):
        first = first or frame
        last = frame
        if sys.stderr.isatty() and frame.step % 10 == 0:
            print(
                f"\r  step {frame.step}/{frame.steps}  objective {frame.objective:.4g}\033[K",
                end="",
                file=sys.stderr,
                flush=True,
            )
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    assert first is not None and last is not None
    h, w = last.image.shape[:2]
    save_png(args.out, pic.zoom(last.image, max(1, math.ceil(112 / max(h, w)))), NetsError)
    print(
        f"objective {first.objective:.4g} -> {last.objective:.4g} after {last.step} steps "
        f"({time.perf_counter() - start:.2f} s); wrote {args.out}"
    )
    return 0
