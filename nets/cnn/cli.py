"""``backprop-explorer cnn train|test``: design, train and test a PyTorch CNN (the seed's Task 5).

``inspect`` and ``dream`` (looking inside a trained network) live in ``nets.cnn.inspect_cli``.

::

    cnn train --data SPEC [--preset NAME | --arch ARCH.json] [--optimizer NAME] [--lr LR]
        [--weight-decay WD] [--schedule NAME] [--batch-size B] [--epochs E] [--seed S]
        [--precision auto|float32|bfloat16]
        [--save CKPT.pt] [--plot-file PLOT] [--json-log FILE]
        [--internals-every K]
    cnn lr-find --data SPEC [the same data, architecture and optimizer options] [--steps N]
        [--json]
    cnn search --data SPEC --study NAME [search options as ``mlp search``] [train options]
    cnn test --checkpoint CKPT.pt --data SPEC [--json]

``train`` prints a line per epoch (loss, train and validation accuracy, time) on stdout
and finer progress on stderr. ``--json-log`` writes one JSON object per line for every
event (started, step, eval, finished/diverged). ``test`` evaluates on the test split and
records in the checkpoint that the test set was used; testing the same checkpoint again
works but warns. ``test --json`` prints ``{"test_acc": float, "n": int}``.

Settings left out come from the preset (``default`` unless ``--arch`` is given). Bad
values are usage errors (exit 2); anything else that fails prints one ``error:`` line
(exit 1). Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from nets.cli_common import (
    add_experiment_options,
    add_range_test_command,
    add_run_outputs,
    check_experiment_outputs,
    experiment_events,
    load_fork,
    report_range_test,
)
from nets.cli_common import check_output as _check_output
from nets.cnn.cli_types import number as _number
from nets.cnn.config import OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from nets.cnn.presets import PRESETS
from nets.fileio import shown
from nets.runlog import JsonLog, result_path, stop_on_sigint
from nets.training import Diverged, Ended, Evaluation, Finished, Started, Step, Stopped
from nets.units import format_bytes, format_duration

# --------------------------------------------------------------------------- argument types


def _preset_name(text: str) -> str:
    from nets.cnn.presets import get_preset
    from nets.errors import ConfigError

    try:
        return get_preset(text).key
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cnn",
        help="design, train and test a PyTorch CNN (Fashion-MNIST or an image folder)",
        description="Train a convolutional network and test it once on the test split.",
    )
    sub = p.add_subparsers(
        dest="cnn_command",
        metavar="{train,lr-find,search,test,inspect,dream}",
        required=True,
        parser_class=type(p),
    )

    t = sub.add_parser(
        "train",
        help="train a CNN and optionally save a checkpoint",
        description=(
            "Train a CNN on the training split, watching the validation accuracy. The "
            "test split is not touched: use `cnn test` once at the end."
        ),
    )
    _add_run_options(t, data_required=False)
    t.add_argument(
        "--internals-every",
        type=_number(int, 1, "--internals-every"),
        metavar="K",
        help="sample every layer's activations, gradients and weights every K steps into "
        "the JSON log (internals events); default: off",
    )
    add_run_outputs(t, ".pt")
    add_experiment_options(t, "anything but the architecture and the seed")
    t.set_defaults(handler=run_train)

    add_range_test_command(
        sub,
        "The other settings apply; --lr, --schedule and --epochs do not.",
        _add_run_options,
        _number(int, 10, "--steps"),
        run_lr_find,
    )

    from nets.search.cli import add_search_command

    add_search_command(sub, _add_run_options, run_search, "One torch thread per worker.")

    s = sub.add_parser(
        "test",
        help="evaluate a checkpoint on the test split (once)",
        description=(
            "Evaluate a trained checkpoint on the test split. The checkpoint records that "
            "the test set was used; a second test still runs but warns."
        ),
    )
    s.add_argument("--checkpoint", required=True, type=Path, metavar="CKPT.pt")
    s.add_argument(
        "--data",
        required=True,
        metavar="SPEC",
        help="fashion-mnist[:DIR] or folder:DIR (with a test/ folder)",
    )
    s.add_argument("--json", action="store_true", help='print {"test_acc": ..., "n": ...}')
    s.set_defaults(handler=run_test)

    from nets.cnn import inspect_cli

    inspect_cli.register(sub)


# --------------------------------------------------------------------------- helpers


def _add_run_options(t: argparse.ArgumentParser, data_required: bool = True) -> None:
    """The data, architecture and training options ``train`` and ``lr-find`` share."""
    t.add_argument(
        "--data", required=data_required, metavar="SPEC", help="fashion-mnist[:DIR] or folder:DIR"
    )
    arch = t.add_mutually_exclusive_group()
    keys = ", ".join(f"{k} ({p.title})" for k, p in PRESETS.items())
    arch.add_argument(
        "--preset",
        type=_preset_name,
        metavar="NAME",
        help=f"architecture and settings preset: {keys}; default: default",
    )
    arch.add_argument(
        "--arch", type=Path, metavar="ARCH.json", help="architecture JSON file (saved from the app)"
    )
    t.add_argument("--optimizer", choices=OPTIMIZERS, help="default: from the preset")
    t.add_argument(
        "--lr",
        type=_number(float, 0, "--lr", open_low=True),
        metavar="LR",
        help="learning rate (the peak for one-cycle)",
    )
    t.add_argument("--weight-decay", type=_number(float, 0, "--weight-decay"), metavar="WD")
    t.add_argument(
        "--momentum",
        type=_number(float, 0, "--momentum"),
        metavar="M",
        help="SGD and RMSprop momentum",
    )
    t.add_argument(
        "--nesterov",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Nesterov momentum for SGD",
    )
    t.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    t.add_argument("--batch-size", type=_number(int, 1, "--batch-size"), metavar="B")
    t.add_argument("--epochs", type=_number(int, 1, "--epochs"), metavar="E")
    t.add_argument(
        "--seed",
        type=_number(int, 0, "--seed"),
        metavar="S",
        help="seed of the weights and batch order (default 0)",
    )
    t.add_argument(
        "--val-size",
        type=_number(int, 1, "--val-size"),
        metavar="N",
        help="validation images taken from train (Fashion-MNIST: 10000)",
    )
    t.add_argument(
        "--split-seed",
        type=_number(int, 0, "--split-seed"),
        default=0,
        metavar="S",
        help="seed of the train/validation split (default 0)",
    )
    t.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    t.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="forward pass in float32 or bfloat16 mixed precision; auto: bfloat16 on a CPU "
        "that computes it natively (default: from the preset)",
    )
    t.add_argument(
        "--threads",
        type=_number(int, 1, "--threads"),
        metavar="N",
        help="CPU threads (default: every core)",
    )
    t.add_argument(
        "--download", action="store_true", help="download Fashion-MNIST if it is not found"
    )


def _err(text: str, end: str = "\n") -> None:
    print(text, end=end, file=sys.stderr, flush=True)


def _progress(done: int, total: int, message: str) -> None:
    if sys.stderr.isatty():
        pct = f" {100 * done / total:5.1f}%" if total > 0 else ""
        _err(f"\r{message}{pct}\033[K", end="")


def _config(args: argparse.Namespace, base: TrainConfig) -> TrainConfig:
    import dataclasses

    changes = {
        "optimizer": args.optimizer,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "momentum": args.momentum,
        "nesterov": args.nesterov,
        "schedule": args.schedule,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "seed": args.seed,
        "num_threads": args.threads,
        "precision": args.precision,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    changes["device"] = args.device
    return dataclasses.replace(base, **changes).validated()


def _data_and_layers(args: argparse.Namespace, preset: Any) -> tuple[Any, tuple, str]:
    """The dataset (progress on stderr) and the layers to train: --arch or the preset's."""
    from nets.cnn.arch import load_architecture
    from nets.cnn.presets import with_num_classes
    from nets.data import load_dataset

    data = load_dataset(
        args.data,
        num_val=args.val_size,
        seed=args.split_seed,
        progress=_progress,
        download=args.download,
    )
    if sys.stderr.isatty():
        _err("\r\033[K", end="")
    out = sys.stderr if getattr(args, "json", False) else sys.stdout
    print(f"data: {data.describe()}", file=out)
    if args.arch is not None:
        return data, tuple(load_architecture(args.arch)), str(args.arch)
    return data, with_num_classes(preset.layers, data.num_classes), f"preset {preset.title!r}"


def run_lr_find(args: argparse.Namespace) -> int:
    """The learning-rate range test; prints the suggestion (or JSON with --json)."""
    from nets.cnn.config import limit_openmp_spin

    limit_openmp_spin()  # before anything imports torch
    from nets.cnn.presets import get_preset
    from nets.lr_find import cnn_range_test

    preset = get_preset(args.preset or "default")
    config = _config(args, preset.config)
    data, layers, _ = _data_and_layers(args, preset)
    return report_range_test(
        args.json, lambda: cnn_range_test(layers, data, config, steps=args.steps)
    )


def run_search(args: argparse.Namespace) -> int:
    """A study over the train options (``nets.search.cli``)."""
    from nets.cnn.arch import arch_to_dict, load_architecture
    from nets.cnn.presets import get_preset
    from nets.search.cli import run

    preset = get_preset(args.preset or "default")
    config = _config(args, preset.config)
    if args.arch is not None:
        layers, fit = tuple(load_architecture(args.arch)), False
    else:
        layers, fit = preset.layers, True
    return run(
        args,
        "cnn",
        config,
        arch=arch_to_dict(layers),
        fit_classes=fit,
        num_val=args.val_size,
        split_seed=args.split_seed,
    )


def run_train(args: argparse.Namespace) -> int:
    """Train, print progress, save what was asked for; 1 if training diverged."""
    from nets.cnn.config import limit_openmp_spin

    limit_openmp_spin()  # before anything imports torch
    from nets.cnn.arch import format_shape, totals, validate
    from nets.cnn.presets import get_preset
    from nets.cnn.train import train
    from nets.event_log import advice_line, record
    from nets.training import Advice, Internals, Snapshot

    for path, what in (
        (args.save, "checkpoint"),
        (args.plot_file, "plot"),
        (args.json_log, "JSON log"),
    ):
        _check_output(path, what)
    check_experiment_outputs(args)
    fork = load_fork(args, "cnn")
    preset = get_preset(args.preset or "default")
    config = _config(args, TrainConfig.from_dict(fork.config) if fork else preset.config)
    if args.internals_every:
        config = dataclasses.replace(config, internals_every=args.internals_every)
    start = time.perf_counter()
    data, layers, arch_name = _data_and_layers(args, preset)
    if fork is not None and args.preset is None and args.arch is None:
        from nets.cnn.fork import arch_of

        layers, arch_name = tuple(arch_of(fork)), f"the architecture of {shown(args.fork)}"
    h, w, c = data.image_shape
    rows = validate(layers, (c, h, w), data.num_classes)
    tot = totals(rows, (c, h, w))
    print(
        f"model: {arch_name}, {len(layers)} layers, {tot.params:,} parameters, "
        f"{tot.mult_adds / 1e6:.1f} M multiply-adds per image -> {format_shape(tot.output_shape)}"
    )
    print(
        f"training: {config.optimizer} lr {config.lr:g} weight decay {config.weight_decay:g}, "
        f"{config.schedule} schedule, batch {config.batch_size}, {config.epochs} epochs, "
        f"seed {config.seed}"
    )
    history: list[Any] = []
    result: Ended | None = None
    last_tty = 0.0
    epoch_loss: list[float] = []
    epoch_start = 0.0
    with stop_on_sigint() as stop, JsonLog(args.json_log) as log:
        from nets.snapshots import SnapshotPlan

        plan = SnapshotPlan(args.snapshot_every) if args.snapshot_dir else None
        events = experiment_events(
            train(layers, data, config, cancel=stop, data_source=args.data, snapshots=plan,
                  fork=fork),
            args,
            {"data": args.data, "val_size": args.val_size, "split_seed": args.split_seed},
        )  # fmt: skip
        for event in events:
            if isinstance(event, Started):
                log.write_event("started", event)
                print(
                    f"device {event.device}, {event.num_threads} CPU threads, "
                    f"{event.precision}, "
                    f"{event.steps_per_epoch} steps per epoch, memory estimate "
                    f"{format_bytes(event.memory_bytes)}",
                    flush=True,
                )
            elif isinstance(event, Step):
                log.write_event("step", event)
                history.append(event)
                epoch_loss.append(event.loss)
                now = time.perf_counter()
                if sys.stderr.isatty() and now - last_tty > 0.2:
                    last_tty = now
                    eta = event.elapsed / event.step * (event.total_steps - event.step)
                    _err(
                        f"\r  step {event.step}/{event.total_steps}  loss "
                        f"{event.loss:.4f}  ETA {format_duration(eta)}\033[K",
                        end="",
                    )
            elif isinstance(event, Evaluation):
                log.write_event("evaluation", event)
                history.append(event)
                if sys.stderr.isatty():
                    _err("\r\033[K", end="")
                if event.end_of_epoch:
                    mean_loss = sum(epoch_loss) / max(len(epoch_loss), 1)
                    print(
                        f"epoch {event.epoch}/{config.epochs}  loss {mean_loss:.4f}  "
                        f"train acc {100 * event.train_acc:.2f}%  "
                        f"val acc {100 * event.val_acc:.2f}%  "
                        f"{event.elapsed - epoch_start:.1f} s",
                        flush=True,
                    )
                    epoch_loss = []
                    epoch_start = event.elapsed
                elif not sys.stderr.isatty():
                    _err(
                        f"  step {event.step}  train acc {100 * event.train_acc:.1f}%  "
                        f"val acc ({event.val_n} images) {100 * event.val_acc:.1f}%"
                    )
            elif isinstance(event, (Internals, Advice, Snapshot)):
                log.write_record(record(event))
                if isinstance(event, Advice):
                    if sys.stderr.isatty():
                        _err("\r\033[K", end="")
                    _err(advice_line(event))
            elif isinstance(event, Ended):
                log.write_event(type(event).__name__.lower(), event)
                result = event
        log_path = log.finish(complete=not isinstance(result, Stopped))
    assert result is not None
    wall = time.perf_counter() - start
    if isinstance(result, Finished):
        val = result.result.val_acc
        val_text = f"; validation accuracy {100 * val:.2f}%" if val is not None else ""
        print(
            f"finished {result.step} steps in {result.elapsed:.1f} s of training, "
            f"{wall:.1f} s in all{val_text}"
        )
    interrupted = isinstance(result, Stopped)
    if log_path is not None and interrupted:
        _err(f"interrupted: the partial JSON log went to {shown(log_path)}")
    if args.save is not None:
        from nets.cnn.checkpoint import save_checkpoint

        target = result_path(args.save, interrupted, args.save_on_stop)
        save_checkpoint(target, result.result)
        if target != args.save:
            _err(
                f"interrupted: the partial model (step {result.step}) went to {shown(target)}; "
                f"{shown(args.save)} is unchanged (--save-on-stop saves over it)"
            )
        else:
            which = "the last finite weights" if isinstance(result, Diverged) else "checkpoint"
            print(f"saved {which} to {shown(target)}")
    if args.plot_file is not None:
        save_training_plot(args.plot_file, history, f"{arch_name}, {_settings(config)}")
        print(f"saved plot to {args.plot_file}")
    if isinstance(result, Diverged):
        _err(f"error: {result.reason}")
        return 1
    return 0


def _settings(config: TrainConfig) -> str:
    return (
        f"{config.optimizer} lr {config.lr:g}, {config.schedule}, batch {config.batch_size}, "
        f"{config.epochs} epochs"
    )


def save_training_plot(path: Path, history: list[Any], title: str) -> None:
    """The seed's figure: loss per iteration; train and validation accuracy across iterations.

    ``history`` holds the run's Step and Evaluation events. Validation points measured on
    the subset (mid-epoch) and on the whole set (epoch ends) are drawn as separate series.
    """
    from nets.plotting import Panel, Series, render

    steps = [e for e in history if isinstance(e, Step)]
    evals = [e for e in history if isinstance(e, Evaluation)]
    full = [e for e in evals if e.end_of_epoch]
    part = [e for e in evals if not e.end_of_epoch]
    accuracy = [
        Series("train", [e.step for e in evals], [e.train_acc for e in evals], markers=True),
        Series("val (whole set)", [e.step for e in full], [e.val_acc for e in full], markers=True),
    ]
    if part:
        n = part[0].val_n
        accuracy.append(
            Series(
                f"val ({n} images)",
                [e.step for e in part],
                [e.val_acc for e in part],
                markers=True,
                width=0.8,
            )
        )
    panels = [
        Panel(
            "Training loss",
            "Iteration",
            "Loss",
            (Series("", [e.step for e in steps], [e.loss for e in steps], width=1.0),),
        ),
        Panel("Accuracy", "Iteration", "Accuracy", tuple(accuracy)),
    ]
    render(path, panels, title)


# --------------------------------------------------------------------------- test


def run_test(args: argparse.Namespace) -> int:
    """Evaluate on the test split, record the use in the checkpoint; print text or JSON."""
    from nets.cnn.config import limit_openmp_spin

    limit_openmp_spin()  # before anything imports torch
    from nets.cnn.checkpoint import load_checkpoint, record_test
    from nets.cnn.config import default_num_threads
    from nets.cnn.trained import check_images, evaluate
    from nets.data import load_dataset
    from nets.errors import CheckpointError, DataError
    from nets.metrics import confusion_matrix

    trained = load_checkpoint(args.checkpoint)
    # Only the test split matters here; the smallest validation carve-out always fits.
    data = load_dataset(args.data, num_val=1, progress=_progress)
    if sys.stderr.isatty():
        _err("\r\033[K", end="")
    if data.X_test is None or data.y_test is None or len(data.y_test) == 0:
        raise DataError(f"{args.data} has no test split (a folder needs a test/ subfolder)")
    check_images(trained, data.X_test, "test images")
    if data.num_classes != trained.num_classes:
        raise DataError(
            f"the checkpoint has {trained.num_classes} classes but {args.data} has "
            f"{data.num_classes}"
        )
    if tuple(data.class_names) != trained.class_names:
        _err(
            "warning: the dataset's class names differ from the checkpoint's; "
            "classes are matched by position"
        )
    if trained.test_record.used:
        _err(f"warning: {trained.test_record.warning()}")
    import torch

    torch.set_num_threads(default_num_threads())
    accuracy, predictions = evaluate(trained, data.X_test, data.y_test)
    n = len(data.y_test)
    # Reported first, recorded second: a run whose result could not be printed (a
    # closed or unencodable stdout) must not count as the checkpoint's one test.
    if args.json:
        print(json.dumps({"test_acc": accuracy, "n": n}))
    else:
        correct = int(round(accuracy * n))
        print(f"test accuracy {100 * accuracy:.2f}% ({correct}/{n})")
        matrix = confusion_matrix(data.y_test, predictions, trained.num_classes)
        width = max(len(name) for name in trained.class_names)
        for k, name in enumerate(trained.class_names):
            total = int(matrix[k].sum())
            pct = f"{100 * matrix[k, k] / total:6.2f}%" if total else "     -"
            print(f"  {name:<{width}}  {pct}  ({int(matrix[k, k])}/{total})")
    sys.stdout.flush()
    try:
        record_test(args.checkpoint, trained, accuracy, n, args.data)
    except CheckpointError as exc:
        _err(f"warning: could not record the test in the checkpoint ({exc})")
    return 0
