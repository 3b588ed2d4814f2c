"""``mlp search`` and ``cnn search``: a hyperparameter study from the command line.

    mlp search --data SPEC --study NAME [--storage URL] [--trials N] [--timeout S]
        [--workers K] [--sampler tpe|random|grid] [--pruner median|hyperband|none]
        [--space SPACE.json] [--tensorboard DIR] [--json]
        [every ``mlp train`` option: the fixed base]

The trainer's own options set the base every trial starts from (``--num-train 2000
--epochs 2`` for a quick study); the space's ranges override it per trial. Without
``--storage`` the study is a journal file in the user's data folder, so running the same
command again continues it; with a database URL the same command on another machine
joins the same study. ``--trials`` counts the trials this command runs (shared among its
workers); ``--json`` prints the whole study's summary::

    {"study": ..., "n_trials": ..., "states": {"COMPLETE": n, "PRUNED": n, "FAIL": n},
     "best": {"number": ..., "value": ..., "params": {...}}}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nets.cli_common import positive, whole_number
from nets.search.defaults import DEFAULT_SPACES
from nets.search.storage import PRUNERS, SAMPLERS


def add_search_command(
    commands: Any,
    run_options: Callable[[argparse.ArgumentParser], None],
    handler: Callable[[argparse.Namespace], int],
    note: str,
) -> None:
    """The ``search`` subcommand of ``mlp`` and ``cnn`` on the subparsers ``commands``:
    the trainer's options (``run_options``: the fixed base), then the search's own;
    ``note`` ends the description."""
    parser = commands.add_parser(
        "search",
        help="hyperparameter search (Optuna) over the train options",
        description="Search hyperparameters with Optuna: every trial trains from the "
        "options given here (the fixed base) with the space's values, reporting validation "
        f"accuracy after each epoch; the test split is never used. {note}",
    )
    run_options(parser)
    add_search_options(parser)
    parser.set_defaults(handler=handler)


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """The options of a search besides the trainer's own (which give the fixed base)."""
    parser.add_argument("--study", required=True, metavar="NAME", help="the study's name")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="a database that many machines share (postgresql://user:pw@host/db, "
        "mysql://..., sqlite:///file.db); default: a journal file in the user's data folder",
    )
    parser.add_argument(
        "--trials", type=whole_number(1), default=20, metavar="N", help="trials to run (20)"
    )
    parser.add_argument(
        "--timeout",
        type=positive,
        metavar="S",
        help="time budget in seconds: no trial starts after it and a running one stops",
    )
    parser.add_argument(
        "--workers",
        type=whole_number(1),
        default=os.cpu_count() or 1,
        metavar="K",
        help="worker processes, one thread each (default: the number of cores)",
    )
    parser.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="default: tpe")
    parser.add_argument("--pruner", choices=PRUNERS, default="median", help="default: median")
    parser.add_argument(
        "--space",
        metavar="SPACE.json",
        help='the ranges: {"learning_rate": {"low": 1e-4, "high": 0.1, "log": true}, ...}; '
        "default: learning rate, regularisation, width, momentum",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write every trial as a TensorBoard run, DIR/STUDY-trial-N (scalars, hparams)",
    )
    parser.add_argument("--json", action="store_true", help="print the study's summary as JSON")


def _trial_line(t: Any) -> str:
    params = ", ".join(
        f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in t.params.items()
    )
    state = t.state.name
    if state == "COMPLETE":
        what = f"val acc {t.value:.4f}"
    elif state == "FAIL":
        what = t.user_attrs.get("error", "no message")
    else:
        what = t.user_attrs.get("note", state.lower())
    note = t.user_attrs.get("note") if state == "COMPLETE" else None
    return f"trial {t.number} {state}: {what}{f' ({note})' if note else ''} [{params}]"


def run(
    args: argparse.Namespace,
    kind: str,
    base: Any,
    *,
    arch: dict[str, Any] | None = None,
    fit_classes: bool = False,
    num_val: int | None = None,
    split_seed: int = 0,
) -> int:
    """Run the study with ``base`` as the fixed settings; exit status 0, 1 or 130."""
    from nets.cli_common import check_output_folder
    from nets.data import probe_dataset
    from nets.errors import DataError
    from nets.search.objective import SEARCHABLE, make_job
    from nets.search.pool import WorkerPool
    from nets.search.space import load_space, space_from_json
    from nets.search.storage import (
        fail_orphans,
        is_url,
        location_for,
        make_pruner,
        make_sampler,
        open_study,
        summary,
    )

    space = (
        load_space(args.space, SEARCHABLE[kind])
        if args.space
        else space_from_json(DEFAULT_SPACES[kind], SEARCHABLE[kind])
    )
    info = probe_dataset(args.data)
    if not info.found:
        if not (getattr(args, "download", False) and info.can_download):
            raise DataError(info.hint or f"{args.data}: no dataset found")
        from nets.data import download_dataset

        download_dataset(args.data)  # here, once: each worker then loads it from disk
    check_output_folder(args.tensorboard, "TensorBoard")  # a search writes no snapshots
    location = location_for(args.study, args.storage)
    job = make_job(
        kind,
        args.data,
        base,
        space,
        args.study,
        location,
        sampler=args.sampler,
        pruner=args.pruner,
        deadline=None if args.timeout is None else time.time() + args.timeout,
        num_val=num_val,
        split_seed=split_seed,
        arch=arch,
        extra={
            "fit_classes": fit_classes,
            **({"tensorboard": str(args.tensorboard)} if args.tensorboard else {}),
        },
    )
    study = open_study(
        args.study,
        location,
        sampler=make_sampler(args.sampler, space),
        pruner=make_pruner(args.pruner, job.epochs()),
        attrs={"kind": kind, "data": args.data, "space": job.space, "base": job.base},
    )
    fail_orphans(study)  # trials of workers killed earlier on this machine
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    pool = WorkerPool(job, args.workers, args.trials)
    where = "the database" if is_url(location) else "a journal file"
    print(
        f"study {args.study!r} in {where} ({len(seen)} trials so far): {len(pool.shares)} "
        f"workers, {args.trials} trials, {args.sampler} sampler, {args.pruner} pruner",
        file=sys.stderr,
    )
    pool.start()
    status = 0
    try:
        while True:
            done = pool.wait(1.0)
            for t in study.get_trials(deepcopy=False):
                if t.state.is_finished() and t.number not in seen:
                    seen.add(t.number)
                    print(_trial_line(t), file=sys.stderr, flush=True)
            if done:
                break
    except KeyboardInterrupt:
        print("cancelling: stopping every worker", file=sys.stderr, flush=True)
        pool.cancel()
        status = 130
    finally:
        errors = pool.errors()
        pool.close()
        fail_orphans(study)
    for text in errors:
        print(f"error: a worker failed: {text}", file=sys.stderr)
    if errors and not status:
        status = 1
    result = summary(study)
    if args.json:
        print(json.dumps(result))
    else:
        best = result["best"]
        states = ", ".join(f"{n} {k.lower()}" for k, n in result["states"].items())
        print(f"study {result['study']}: {result['n_trials']} trials ({states})")
        if best is not None:
            params = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in best["params"].items()
            )
            print(f"best: trial {best['number']}, val acc {best['value']:.4f} ({params})")
    return status
