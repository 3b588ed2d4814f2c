"""Backprop Explorer's single entry point: the GUI with no arguments, or a subcommand.

Each subcommand lives beside the code it drives (``graph.cli``, ``nets.mlp.cli``, ...).
A module here is listed only once its subcommand works. Each module provides
``register(subparsers)``, which adds its parser and sets ``handler`` to a function
``handler(args) -> int``. Modules are imported only when argparse needs them, and none
of them imports torch at import time, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence

__version__ = "0.1.0"

# name -> module providing register(subparsers). Order is the order in --help.
SUBCOMMANDS: dict[str, str] = {
    "gui": "gui.cli",
    "classify": "nets.pretrained.cli",
    "cnn": "nets.cnn.cli",
    "graph": "graph.cli",
    "check": "nets.homework.cli",
    "mlp": "nets.mlp.cli",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one ``error: ...`` line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser, with every registered subcommand."""
    parser = _Parser(
        prog="backprop-explorer",
        description="Watch backpropagation happen. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).register(subparsers)
    return parser


def _one_line(exc: BaseException) -> str:
    """The error as one printable line: newlines folded, and control characters (an
    ANSI escape in a file name) shown escaped instead of acting on the terminal."""
    text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.splitlines()) if len(text.splitlines()) > 1 else text
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _escape_unprintable_output() -> None:
    """A file name that is not valid UTF-8 (or any character the terminal's encoding
    lacks) is printed escaped instead of aborting the command halfway."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass


def _terminate_cleanly() -> Callable[[], None]:
    """SIGTERM ends a command like Ctrl-C ends Python code: as an exception, so every
    ``finally`` runs and no temporary or half-written file is left behind (exit 143).
    Returns what puts the SIGTERM and SIGINT handlers back as they were, for a caller
    that runs a command in its own process (a test runner) and goes on afterwards."""

    def on_sigterm(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signal.SIGTERM)

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for signum, handler in before.items():
            if handler is not None:
                signal.signal(signum, handler)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (an embedding program): leave it as it is
        return lambda: None
    return restore


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app (no arguments) or a subcommand; return the process exit code."""
    called_with_argv = argv is not None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        from gui.app import run_app

        return run_app([])
    args = build_parser().parse_args(argv)
    if args.command is None:
        from gui.app import run_app

        return run_app([])
    if sys.stdout is None or sys.stderr is None:
        # Started with stdout closed (`>&-`): printing would silently do nothing.
        if sys.stderr is not None:
            print("error: standard output is closed; nothing could be printed", file=sys.stderr)
        return 1
    _escape_unprintable_output()
    restore_signals = _terminate_cleanly()
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed or full stdout must not pass for success
        return code
    except KeyboardInterrupt:
        # A second Ctrl-C while the first one is being handled (or while worker threads
        # end) must not kill the process with SIGINT: the exit status stays 130.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and friends: not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        if os.environ.get("BACKPROP_EXPLORER_DEBUG"):
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        if called_with_argv:
            # A command run in-process (tests call main(argv)) leaves no handler behind:
            # a test runner's own SIGTERM and Ctrl-C work again. A real process keeps
            # them until it exits, its worker threads ending with Ctrl-C ignored.
            restore_signals()


if __name__ == "__main__":
    sys.exit(main())
