"""``backprop-explorer mlp``: train, test and gradient-check the numpy networks.

    mlp train --data SPEC [--preset NAME] [--num-train N] [--hidden-dim H] [--batch-size B]
        [--epochs E] [--lr LR] [--reg R] [--momentum M] [--lr-decay D] [--seed S]
        [--save CKPT.npz] [--plot-file PLOT.png|.pdf|.svg] [--json-log FILE]
        [--internals-every K]
    mlp lr-find --data SPEC [--preset NAME] [hyperparameter options] [--steps N] [--json]
    mlp search --data SPEC --study NAME [--storage URL] [--trials N] [--timeout S]
        [--workers K] [--sampler S] [--pruner P] [--space SPACE.json] [--json] [train options]
    mlp test --checkpoint CKPT.npz --data SPEC [--json]
    mlp explain (--checkpoint CKPT.npz | --init) --data SPEC --batch N --seed S
        --element 'grad:W1[1023,41]' [--top-terms K] [--out GRAPH.json] [--json]
    mlp gradcheck [--json]

Imports stay light: numpy and the nets modules are imported when a command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from nets.cli_common import (
    add_experiment_options,
    add_range_test_command,
    add_run_outputs,
    check_experiment_outputs,
    check_output,
    experiment_events,
    load_fork,
    report_range_test,
    whole_number,
)

PRESET_NAMES = ("seed-default", "tuned", "overfit")

# option -> TrainConfig field
_FIELD_OPTIONS = {
    "num_train": "--num-train",
    "hidden_dim": "--hidden-dim",
    "batch_size": "--batch-size",
    "num_epochs": "--epochs",
    "learning_rate": "--lr",
    "reg": "--reg",
    "momentum": "--momentum",
    "lr_decay": "--lr-decay",
    "weight_scale": "--weight-scale",
    "seed": "--seed",
}


_METAVARS = {
    "num_train": "N",
    "hidden_dim": "H",
    "batch_size": "B",
    "num_epochs": "E",
    "learning_rate": "LR",
    "reg": "R",
    "momentum": "M",
    "lr_decay": "D",
    "weight_scale": "W",
    "seed": "S",
}


def _field_type(name: str):
    def parse(text: str) -> Any:
        from nets.errors import ConfigError
        from nets.mlp.config import parse_field

        try:
            value = parse_field(name, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if value is None:
            raise argparse.ArgumentTypeError(f"{name} needs a value")
        return value

    parse.__name__ = name  # argparse names the type in its messages
    return parse


_count = whole_number(0)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mlp",
        help="train and test the from-scratch numpy two-layer network",
        description="The seed's fully-connected network in numpy: train it, test it once, "
        "check its gradients.",
    )
    commands = parser.add_subparsers(dest="mlp_command", metavar="COMMAND", required=True)

    tr = commands.add_parser(
        "train",
        help="train a TwoLayerNet",
        description="Train the numpy TwoLayerNet with SGD. Options override the preset.",
    )
    _add_run_options(tr, data_required=False)
    tr.add_argument(
        "--internals-every",
        type=_count,
        metavar="K",
        help="sample every layer's activations, gradients and weights every K steps into "
        "the JSON log (internals events); default: off",
    )
    add_run_outputs(tr, ".npz")
    add_experiment_options(
        tr, "anything but the model, hidden size, dtype, training images and seed"
    )
    tr.set_defaults(handler=run_train)

    add_range_test_command(
        commands,
        "The preset's other settings apply; its learning rate does not.",
        _add_run_options,
        _count,
        run_lr_find,
    )

    from nets.search.cli import add_search_command

    add_search_command(
        commands,
        _add_run_options,
        run_search,
        "The same command again continues the study; with a database --storage, on another "
        "machine it joins it.",
    )

    te = commands.add_parser(
        "test",
        help="evaluate a checkpoint on the test split (once)",
        description="Evaluate a saved model on the test split. The seed asks for exactly one "
        "test evaluation: the checkpoint records it, and a second run warns.",
    )
    te.add_argument("--checkpoint", required=True, type=Path, metavar="CKPT.npz")
    te.add_argument("--data", required=True, metavar="SPEC")
    te.add_argument("--json", action="store_true", help='print {"test_acc": float, "n": int}')
    te.set_defaults(handler=run_test)

    from nets.mlp.explain_cli import add_parser as add_explain

    add_explain(commands, run_explain)

    gc = commands.add_parser(
        "gradcheck",
        help="numeric gradient checks of every layer and classifier",
        description="The seed's driver checks: every layer (< 1e-9), LinearClassifier and "
        "TwoLayerNet (< 1e-10), and softmax stability with huge scores.",
    )
    gc.add_argument("--json", action="store_true", help="print the per-check errors as JSON")
    gc.set_defaults(handler=run_gradcheck)


def _add_run_options(parser: argparse.ArgumentParser, data_required: bool = True) -> None:
    """The data and hyperparameter options ``train`` and ``lr-find`` share."""
    parser.add_argument(
        "--data",
        required=data_required,
        metavar="SPEC",
        help="cifar10[:DIR], fashion-mnist[:DIR] or folder:DIR",
    )
    parser.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        help="starting hyperparameters (default: seed-default, the seed's own; a fork "
        "starts from its parent's)",
    )
    for name, option in _FIELD_OPTIONS.items():
        metavar = _METAVARS[name]
        parser.add_argument(
            option,
            dest=name,
            type=_field_type(name),
            default=None,
            metavar=metavar,
            help=_help(name),
        )
    parser.add_argument(
        "--num-val",
        type=_count,
        metavar="V",
        help="validation images carved out of train (default: 5,000 for CIFAR-10, 10,000 "
        "for Fashion-MNIST, a tenth of an image folder)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download CIFAR-10 or Fashion-MNIST if it is missing",
    )


def _help(name: str) -> str:
    from nets.mlp.config import FIELDS

    return FIELDS[name].help


# ---------------------------------------------------------------------------- progress


class _Progress:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.last = 0.0
        self.shown = False

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.1):
            return
        self.last = now
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.shown = False


def _bar(done: int, total: int, width: int = 28) -> str:
    frac = done / total if total else 0.0
    filled = int(frac * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {100 * frac:3.0f}%"


def _load(
    spec: str, progress: _Progress, download: bool = False, num_val: int | None = None
) -> Any:
    from nets.data import load_dataset

    def report(done: int, total: int, message: str) -> None:
        text = f"{message} {done}/{total}" if total else message
        progress.update(f"loading {spec}: {text}")

    try:
        return load_dataset(spec, progress=report, download=download, num_val=num_val)
    finally:
        progress.clear()


# ---------------------------------------------------------------------------- train


def _config(args: argparse.Namespace, base: Any = None) -> Any:
    from nets.mlp.config import preset

    cfg = (
        base if base is not None and args.preset is None else preset(args.preset or "seed-default")
    )
    changes = {
        name: getattr(args, name) for name in _FIELD_OPTIONS if getattr(args, name) is not None
    }
    return cfg.replace(**changes).validate() if changes else cfg.validate()


def _event_json(event: Any) -> dict[str, Any]:
    from nets.event_log import record
    from nets.training import Diverged, Evaluation, Finished, Started, Step, Stopped

    extra = record(event)
    if extra is not None:
        return extra

    def num(v: float) -> float | None:
        return v if isinstance(v, (int, float)) and math.isfinite(v) else None

    if isinstance(event, Step):
        return {
            "event": "step",
            "iteration": event.step,
            "epoch": event.epoch,
            "loss": num(event.loss),
            "lr": event.lr,
            "elapsed": round(event.elapsed, 4),
        }
    if isinstance(event, Evaluation):
        return {
            "event": "epoch",
            "epoch": event.epoch,
            "loss": num(event.train_loss),
            "train_acc": num(event.train_acc),
            "val_acc": num(event.val_acc),
            "lr": event.lr,
            "elapsed": round(event.elapsed, 4),
        }
    if isinstance(event, Started):
        return {
            "event": "start",
            "config": event.config.to_dict(),
            "num_train": event.num_train,
            "num_val": event.num_val,
            "steps_per_epoch": event.steps_per_epoch,
            "total_steps": event.total_steps,
            "memory_bytes": event.memory_bytes,
        }
    if isinstance(event, Diverged):
        return {
            "event": "diverged",
            "reason": event.reason,
            "step": event.step,
            "elapsed": round(event.elapsed, 4),
        }
    if isinstance(event, Finished | Stopped):
        return {
            "event": "cancelled" if isinstance(event, Stopped) else "finished",
            "reason": event.reason,
            "iterations": event.step,
            "elapsed": round(event.elapsed, 4),
        }
    return {"event": type(event).__name__}


def run_train(args: argparse.Namespace) -> int:
    from nets.event_log import advice_line
    from nets.fileio import shown
    from nets.mlp.checkpoint import save_checkpoint
    from nets.mlp.config import TrainConfig
    from nets.mlp.train import train
    from nets.runlog import JsonLog, result_path, stop_on_sigint
    from nets.snapshots import SnapshotPlan
    from nets.training import Advice, Diverged, Ended, Evaluation, Started, Step, Stopped
    from nets.units import format_duration

    fork = load_fork(args, "mlp")
    config = _config(args, TrainConfig.from_dict(fork.config) if fork else None)
    if args.internals_every:
        config = config.replace(internals_every=args.internals_every)
    check_output(args.save, "checkpoint")
    check_output(args.plot_file, "plot")
    check_output(args.json_log, "JSON log")
    check_experiment_outputs(args)
    progress = _Progress()
    dataset = _load(args.data, progress, args.download, args.num_val)
    print(dataset.describe(), file=sys.stderr)

    end: Ended | None = None
    with stop_on_sigint() as stop, JsonLog(args.json_log) as log:
        try:
            total = 0
            plan = SnapshotPlan(args.snapshot_every) if args.snapshot_dir else None
            events = experiment_events(
                train(config, dataset, cancel=stop, snapshots=plan, fork=fork),
                args,
                {"data": args.data, "num_val": args.num_val},
            )
            for event in events:
                log.write_record(_event_json(event))
                if isinstance(event, Started):
                    total = event.total_steps
                    print(
                        f"training {config.model} (hidden {config.hidden_dim}) on "
                        f"{event.num_train} images, validating on {event.num_val}: "
                        f"{config.num_epochs} epochs of {event.steps_per_epoch} steps; "
                        f"memory {event.memory.describe() if event.memory else event.memory_bytes}",
                        file=sys.stderr,
                    )
                elif isinstance(event, Step):
                    eta = event.elapsed / event.step * (total - event.step)
                    progress.update(
                        f"epoch {event.epoch}/{config.num_epochs} {_bar(event.step, total)} "
                        f"loss {event.loss:.4f} lr {event.lr:.3g} ETA {format_duration(eta)}",
                        force=event.step == total,
                    )
                elif isinstance(event, Evaluation):
                    progress.clear()
                    print(
                        f"epoch {event.epoch}/{config.num_epochs}: loss {event.train_loss:.4f}, "
                        f"train acc {event.train_acc:.4f}, val acc {event.val_acc:.4f}, "
                        f"lr {event.lr:.3g} ({event.elapsed:.1f} s)",
                        flush=True,
                    )
                elif isinstance(event, Advice):
                    progress.clear()
                    print(advice_line(event), file=sys.stderr, flush=True)
                elif isinstance(event, Ended):
                    end = event
        finally:
            progress.clear()
        log_path = log.finish(complete=not isinstance(end, Stopped))

    assert end is not None
    result = end.result
    interrupted = isinstance(end, Stopped)
    if log_path is not None and interrupted:
        print(f"interrupted: the partial JSON log went to {shown(log_path)}", file=sys.stderr)
    if args.save is not None:
        target = result_path(args.save, interrupted, args.save_on_stop)
        save_checkpoint(
            target,
            result.model,
            preprocessor=result.preprocessor,
            config=result.config,
            history=result.history,
            class_names=result.class_names,
            image_shape=result.image_shape,
            dataset=args.data,
        )
        if target != args.save:
            print(
                f"interrupted: the partial model (step {end.step}) went to {shown(target)}; "
                f"{shown(args.save)} is unchanged (--save-on-stop saves over it)",
                file=sys.stderr,
            )
        else:
            print(f"saved {shown(target)}", file=sys.stderr)
    if args.plot_file is not None:
        from nets.plotting import training_plot

        h = result.history
        training_plot(
            args.plot_file,
            h.step_loss,
            h.epoch_train_acc,
            h.epoch_val_acc,
            title=f"{config.model}, hidden {config.hidden_dim}, lr {config.learning_rate:g}",
        )
        print(f"wrote {args.plot_file}", file=sys.stderr)
    if isinstance(end, Diverged):
        print(f"error: {end.reason}", file=sys.stderr)
        return 1
    print(end.reason, file=sys.stderr)
    return 130 if isinstance(end, Stopped) else 0


# ---------------------------------------------------------------------------- search


def run_search(args: argparse.Namespace) -> int:
    from nets.search.cli import run

    return run(args, "mlp", _config(args), num_val=args.num_val)


# ---------------------------------------------------------------------------- lr-find


def run_lr_find(args: argparse.Namespace) -> int:
    from nets.lr_find import mlp_range_test

    config = _config(args)
    progress = _Progress()
    dataset = _load(args.data, progress, args.download, args.num_val)
    print(dataset.describe(), file=sys.stderr)
    return report_range_test(args.json, lambda: mlp_range_test(config, dataset, steps=args.steps))


# ---------------------------------------------------------------------------- test


def run_test(args: argparse.Namespace) -> int:
    from nets.errors import CheckpointError, DataError, NetsError
    from nets.mlp.checkpoint import load_checkpoint, record_test_use
    from nets.mlp.train import evaluate

    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.test.used:
        print(f"warning: {ckpt.test.warning()}", file=sys.stderr)
    if ckpt.preprocessor is None:
        raise CheckpointError(
            f"{args.checkpoint} has no preprocessing recorded: it cannot be evaluated on images"
        )
    dataset = _load(args.data, _Progress())
    if dataset.X_test is None or dataset.y_test is None or len(dataset.y_test) == 0:
        raise DataError(
            f"{args.data} has no test split (an image folder needs DIR/test/<class>/ images)"
        )
    ckpt.check_data(dataset.image_shape, dataset.num_classes, args.data)
    acc = evaluate(ckpt.model, dataset.X_test, dataset.y_test, ckpt.preprocessor)
    n = len(dataset.y_test)
    # Reported first, recorded second (see ``cnn test``).
    if args.json:
        print(json.dumps({"test_acc": acc, "n": n}))
    else:
        print(f"test accuracy: {acc:.4f} ({n} images)")
    sys.stdout.flush()
    try:
        record_test_use(args.checkpoint, acc, n, args.data)
    except NetsError as exc:
        print(f"warning: could not record the test run in the checkpoint: {exc}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- explain


def run_explain(args: argparse.Namespace) -> int:
    from nets.mlp.explain_cli import run

    return run(args, lambda spec: _load(spec, _Progress(), args.download, args.num_val))


# ---------------------------------------------------------------------------- gradcheck


def run_gradcheck(args: argparse.Namespace) -> int:
    from nets.mlp.gradcheck import run_gradchecks

    results = run_gradchecks()
    ok = all(r.passed for r in results)
    if args.json:
        print(
            json.dumps(
                {
                    "passed": ok,
                    "checks": [
                        {
                            "name": r.name,
                            "group": r.group,
                            "max_rel_error": r.max_rel_error,
                            "threshold": r.threshold,
                            "passed": r.passed,
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
        )
    else:
        width = max(len(r.name) for r in results)
        for r in results:
            status = "ok" if r.passed else "FAIL"
            print(
                f"{r.name:<{width}}  max rel error {r.max_rel_error:9.2e}  "
                f"(< {r.threshold:.0e})  {status}"
            )
        print("all checks passed" if ok else "some checks FAILED")
    return 0 if ok else 1
