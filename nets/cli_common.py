"""What every command line of ``nets`` checks the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def check_output(path: Path | None, what: str) -> None:
    """Refuse before the work, not after it, a destination that cannot be written
    (NetsError naming ``what`` and the path)."""
    from nets.errors import NetsError
    from nets.fileio import check_writable

    if path is not None:
        check_writable(path, NetsError, f"write the {what}")


def plot_path(text: str) -> Path:
    """The argparse type of ``--plot-file``: a usage error (exit 2) for a suffix the plot
    writer cannot produce."""
    import argparse

    from nets.plotting import SUPPORTED

    path = Path(text)
    if path.suffix.lower() not in SUPPORTED:
        raise argparse.ArgumentTypeError(
            f"--plot-file must end in {', '.join(SUPPORTED)}, not {text!r} (the plot is "
            "written as a .png, .svg or .pdf file)"
        )
    return path


def add_run_outputs(parser: Any, checkpoint_suffix: str) -> None:
    """The output options both ``mlp train`` and ``cnn train`` take: ``--save``,
    ``--save-on-stop``, ``--plot-file`` and ``--json-log`` (see ``nets.runlog``)."""
    parser.add_argument(
        "--save", type=Path, metavar=f"CKPT{checkpoint_suffix}", help="save the trained model"
    )
    parser.add_argument(
        "--save-on-stop",
        action="store_true",
        help="after Ctrl-C, save the partial model over --save (default: beside it, as "
        f"NAME.partial{checkpoint_suffix})",
    )
    parser.add_argument(
        "--plot-file",
        type=plot_path,
        metavar="PLOT",
        help="save the loss and accuracy plots (.png, .svg or .pdf)",
    )
    parser.add_argument(
        "--json-log",
        type=Path,
        metavar="FILE",
        help="write one JSON object per line for every training event",
    )
