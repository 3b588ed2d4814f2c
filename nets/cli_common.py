"""What every command line of ``nets`` checks the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nets.lr_find import RangeTest


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


def add_experiment_options(parser: Any, snapshot_help: str) -> None:
    """The snapshot, fork and TensorBoard options of ``mlp train`` and ``cnn train``
    (``snapshot_help`` says what a fork may change)."""
    parser.add_argument(
        "--snapshot-dir",
        type=Path,
        metavar="DIR",
        help="write a snapshot at every epoch's end as DIR/epoch-K (weights, optimizer "
        "state, batch order), to fork from with --fork",
    )
    parser.add_argument(
        "--snapshot-every",
        type=whole_number(1),
        default=0,
        metavar="N",
        help="with --snapshot-dir, also every N steps (DIR/step-S)",
    )
    parser.add_argument(
        "--fork",
        type=Path,
        metavar="DIR/epoch-K",
        help="go on from a snapshot: the run continues exactly as its parent did, except "
        f"for the options given here ({snapshot_help}); --data defaults to the parent's",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write the run as a TensorBoard log to DIR (scalars, the internals' "
        "histograms, hparams)",
    )


def whole_number(minimum: int) -> Any:
    """An argparse type: a whole number of at least ``minimum`` (a usage error otherwise)."""

    def parse(text: str) -> int:
        import argparse

        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


def load_fork(args: Any, trainer: str) -> Any:
    """The snapshot of ``--fork`` (None without it), checked to be of ``trainer``; fills
    ``args.data`` (and the other data options in ``cli``) from it when not given."""
    from nets.errors import ConfigError
    from nets.snapshots import load_snapshot

    if args.fork is None:
        if args.data is None:
            raise ConfigError("--data is needed (or --fork SNAPSHOT, which knows its data)")
        return None
    snapshot = load_snapshot(args.fork)
    if snapshot.trainer != trainer:
        raise ConfigError(
            f"{args.fork} is a snapshot of a {snapshot.trainer} run, not of {trainer} train"
        )
    cli = snapshot.state.get("cli") or {}
    if args.data is None:
        if "data" not in cli:
            raise ConfigError(f"{args.fork} does not say its data: give --data")
        for key, value in cli.items():  # the data options go with the data
            setattr(args, key, value)
    return snapshot


def experiment_events(events: Any, args: Any, cli: dict[str, Any]) -> Any:
    """``events`` with ``--snapshot-dir`` (snapshots written at once, ``cli`` — the data
    options — inside them so a fork needs no --data) and ``--tensorboard`` applied."""
    if args.snapshot_dir is not None:
        from nets.snapshots import SnapshotStore, kept

        events = kept(events, SnapshotStore(0, args.snapshot_dir, extra_state={"cli": cli}))
    if args.tensorboard is not None:
        from nets.tensorboard import recorded

        events = recorded(events, args.tensorboard)
    return events


def check_experiment_outputs(args: Any) -> None:
    """Refuse before training a snapshot or TensorBoard folder that cannot be made (and
    --snapshot-every without a folder to write to)."""
    from nets.errors import ConfigError

    if args.snapshot_every and args.snapshot_dir is None:
        raise ConfigError("--snapshot-every needs --snapshot-dir (the folder to write to)")
    check_output_folder(args.snapshot_dir, "snapshot")
    check_output_folder(args.tensorboard, "TensorBoard")


def check_output_folder(folder: Path | None, what: str) -> None:
    """Refuse before any work the ``what`` folder (made if missing) that cannot be made or
    written; None: there is none to check."""
    from nets.errors import NetsError
    from nets.fileio import describe_os_error, shown

    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NetsError(
            f"cannot write the {what} folder {shown(folder)}: {describe_os_error(exc)}"
        ) from None
    check_output(folder / ".probe", f"{what} folder")


def positive(text: str) -> float:
    """An argparse type: a number above 0 (a usage error otherwise); for a whole number
    of at least 1, ``whole_number(1)``."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def range_test_description(settings: str) -> str:
    """The description of ``mlp lr-find`` and ``cnn lr-find``, ending with ``settings``
    (which of the command's settings the test uses)."""
    from nets.lr_find import FALL_SHARE

    return (
        "Smith's range test: from fresh weights, train with a learning rate raised from 1e-6 "
        "to 10 over about 200 steps, stop when the smoothed loss passes four times its "
        f"minimum, and suggest the rate at which the smoothed loss has made "
        f"{100 * FALL_SHARE:.0f}% of its fall to the minimum (also shown: the steepest "
        "descent and the minimum's rate / 10). " + settings
    )


def add_range_test_command(
    commands: Any,
    settings: str,
    add_run_options: Callable[[Any], None],
    steps: Any,
    handler: Callable[..., int],
) -> None:
    """The ``lr-find`` subcommand of ``mlp`` and ``cnn``: the network's own run options
    (``add_run_options``), ``--steps`` of argparse type ``steps``, ``--json``, and a
    description ending with ``settings``."""
    parser = commands.add_parser(
        "lr-find",
        help="learning-rate range test",
        description=range_test_description(settings),
    )
    add_run_options(parser)
    add_range_test_options(parser, steps)
    parser.set_defaults(handler=handler)


def add_range_test_options(parser: Any, steps: Any) -> None:
    """``--steps`` (of argparse type ``steps``) and ``--json`` of ``mlp lr-find`` and
    ``cnn lr-find``."""
    parser.add_argument(
        "--steps", type=steps, default=200, metavar="N", help="steps of the test (default 200)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"suggested_lr": ..., "steepest_lr": ..., "lr_min_div10": ..., "lrs": [...], '
        '"losses": [...]}',
    )


def report_range_test(as_json: bool, run: Callable[[], RangeTest]) -> int:
    """Run a learning-rate range test (``run``, see ``nets.lr_find``) and print its result:
    the JSON of ``RangeTest.to_json`` or one line with the suggestion; returns exit code 0."""
    import json
    import time

    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    if as_json:
        print(json.dumps(result.to_json()))
    else:
        how = "stopped early: the loss blew up" if result.stopped_early else "ran every step"
        print(
            f"range test: {len(result.lrs)} steps in {seconds:.1f} s ({how}); suggested lr "
            f"{result.suggested_lr:.3g} (the valley), steepest descent at "
            f"{result.steepest_lr:.3g}, minimum / 10 at {result.lr_min_div10:.3g}"
        )
    return 0
