"""``backprop-explorer gui``: open the window, or render it offscreen to a PNG."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gui", help="open the app window (or render it to a PNG)")
    p.add_argument("--screenshot", metavar="FILE.png", help="render offscreen to a PNG and exit")
    p.add_argument("--tab", metavar="NAME", help="tab to show (graph, mlp, cnn, classify)")
    p.add_argument("--open", metavar="FILE", dest="open_path", help="file to open in the tab")
    p.add_argument("--size", metavar="WxH", default=None, help="window size, e.g. 1280x800")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from gui.app import run_app

    return run_app(
        [],
        screenshot=args.screenshot,
        tab=args.tab,
        open_path=args.open_path,
        size=args.size,
    )
