"""``backprop-explorer classify IMAGE|DIR ... [--model NAME] [--topk K] [--json]``.

Runs photos (files or whole folders) through a pretrained ImageNet model and prints the
top-k classes of each. A file that cannot be read gets its own error entry and the rest
go on; the exit code is 1 if any file failed, 0 otherwise, 2 for a usage error.

With ``--json`` the output is one JSON list::

    [{"path": "cat.jpg", "top": [{"index": 281, "label": "tabby", "prob": 0.71}, ...]},
     {"path": "notes.jpg", "error": "notes.jpg: not an image: the content is text"}]

The lab (``nets.pretrained.lab_cli``): ``--explain METHOD [--target CLASS] [--save-map
DIR]`` adds ``"explain": {"method", "target", "target_label", "delta", "file"}`` to each
result; ``--attack fgsm|pgd --epsilon E [--steps N] [--target CLASS] [--save-adv DIR]``
adds ``"attack": {"method", "epsilon", "before", "after", "flipped", "reached_target",
"file", ...}``, judged on the adversarial PNG read back.

Importing this module is light: the registry's model names need no torch.
"""

from __future__ import annotations

import argparse
import json
import sys

from nets.fileio import shown
from nets.pretrained.registry import DEFAULT_MODEL, MODEL_NAMES

MAX_TOPK = 1000


def _topk(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--topk must be a whole number, not {text!r}") from None
    if not 1 <= value <= MAX_TOPK:
        raise argparse.ArgumentTypeError(f"--topk must be between 1 and {MAX_TOPK}, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classify",
        help="classify photos with a pretrained ImageNet model",
        description=(
            "Classify photos (files or folders, searched recursively) with a pretrained "
            "ImageNet model and print each one's most probable classes. The default model, "
            "EfficientNet-Lite0, is built in and works offline; the others are downloaded "
            "into the torch hub cache on first use."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="IMAGE|DIR", help="photos or folders of photos")
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=MODEL_NAMES,
        metavar="NAME",
        help=f"one of: {', '.join(MODEL_NAMES)} (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--topk", type=_topk, default=5, metavar="K", help="classes per photo (default: 5)"
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    p.add_argument(
        "--weights",
        metavar="FILE",
        help="your own weights file (a state_dict) for the --model architecture",
    )
    from nets.pretrained import lab_cli

    lab_cli.add_arguments(p)
    p.set_defaults(handler=run)


def _download_progress(done: int, total: int, message: str) -> None:
    if total > 0 and sys.stderr.isatty():
        print(f"\r{message}: {100 * done / total:5.1f}%", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Classify ``args.paths``; print text or JSON; 1 if any file failed."""
    from nets.pretrained import lab_cli
    from nets.pretrained.classify import classify_paths, load_model

    lab = lab_cli.Lab.from_args(args)  # refuses bad lab options before loading anything
    # The library's default thread count (cores - 1): on a shared 2-core machine two
    # OpenMP threads competing with other processes were 5x slower than one (bench).
    model = load_model(args.model, progress=_download_progress, weights=args.weights)
    if sys.stderr.isatty():
        print("\r", end="", file=sys.stderr)
    failed = total = 0
    entries = []
    results = classify_paths(args.paths, model, args.topk, keep_images=lab.active)
    for result in results:
        total += 1
        entry = result.as_dict()
        if result.ok and result.image is not None:
            entry = lab.run(model, result, entry)
        ok = "error" not in entry
        failed += not ok
        if args.json:
            entries.append(entry)
        elif ok and result.top is not None:
            print(shown(result.path))
            for rank, top in enumerate(result.top, start=1):
                print(f"  {rank}. {top.label} ({top.index})  {100 * top.prob:.1f}%")
            for line in lab.describe(entry):
                print(f"  {line}")
            sys.stdout.flush()
        else:
            print(f"error: {entry.get('error')}", file=sys.stderr)
    if args.json:
        json.dump(entries, sys.stdout, indent=2)
        print()
    if failed and not args.json:
        print(f"{failed} of {total} could not be classified", file=sys.stderr)
    return 1 if failed else 0
