"""``backprop-explorer check PATH... [--json]``: check the homework's own files.

Runs the user's code (only here, and in the GUI's Check) in a separate process with a
time limit per call and a memory limit; see ``nets.homework.sandbox``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nets.cli_common import positive


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check your own homework files against the app's implementation",
        description="Check the homework's functions (backprop/functions.py, "
        "neuralnet/layers.py, neuralnet/two_layer_net.py, neuralnet/train.py): each "
        "returned value against the app's own implementation and each gradient against "
        "central differences. Your code runs in a separate process with a time limit per "
        "call and a memory limit.",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="a file or the homework folder"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"results": [{"file", "function", "ok", "checks": [...]}]}',
    )
    parser.add_argument(
        "--timeout", type=positive, default=10.0, metavar="S", help="seconds per call (default 10)"
    )
    parser.add_argument(
        "--memory",
        type=positive,
        default=3.0,
        metavar="GB",
        help="memory limit in GiB (default 3)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nets.homework.checking import check_homework
    from nets.homework.layout import find_homework
    from nets.homework.report import format_results
    from nets.homework.results import jsonable

    homework = find_homework(args.paths)
    results = list(
        check_homework(homework, call_timeout=args.timeout, memory_limit=int(args.memory * 2**30))
    )
    if args.json:
        print(json.dumps({"results": [jsonable(r.to_dict()) for r in results]}))
    else:
        print(format_results(results))
    return 0 if all(r.ok for r in results) else 1
