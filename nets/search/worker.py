"""A worker process of a study: ``python -m nets.search.worker JOB.json PARENT_PID TRIALS``.

Started by ``nets.search.pool`` with one BLAS/OpenMP thread (the environment says so
before numpy loads; torch is told again with ``torch.set_num_threads(1)``). It loads the
data once, drops the test split, then runs up to TRIALS trials ("-": until the deadline
or a cancel) of the study in the job's storage. A trial that raises is recorded as
failed with its message and the next one starts.

SIGTERM (the pool's cancel) stops the running trial at its next step (recorded as failed:
"cancelled") and ends the process; before the first trial it ends it at once. The worker
also gets SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``), so none outlives it.
Exit status: 0 done, 1 an error (one line on stderr), 143 cancelled.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

CANCELLED_EXIT = 143


def _die_with_parent(parent_pid: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(CANCELLED_EXIT)


class _Stop:
    """Set by SIGTERM/SIGINT; before the search loop starts a signal ends the process."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.searching = False

    def __call__(self) -> bool:
        return self.event.is_set()

    def handle(self, signum: int, frame: Any) -> None:
        self.event.set()
        if not self.searching:
            raise SystemExit(CANCELLED_EXIT)


def run(job_text: str, trials: int | None, stop: _Stop) -> int:
    import optuna

    from nets.data import load_dataset
    from nets.mlp.blas_threads import set_blas_threads
    from nets.search.objective import Job, run_trial, without_test
    from nets.search.storage import make_pruner, make_sampler, open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    set_blas_threads(1)
    job = Job.from_json(job_text)
    space = job.search_space()
    if job.kind == "cnn":
        from nets.cnn.config import limit_openmp_spin

        limit_openmp_spin()  # before torch's first import
        import torch

        torch.set_num_threads(1)
    options = {"image_size": job.extra["image_size"]} if "image_size" in job.extra else {}
    data = without_test(load_dataset(job.data, num_val=job.num_val, seed=job.split_seed, **options))
    study = open_study(
        job.study,
        job.storage,
        sampler=make_sampler(job.sampler, space),
        pruner=make_pruner(job.pruner, job.epochs()),
        create=False,
    )

    def stop_when_asked(study: Any, _trial: Any) -> None:
        if stop() or (job.deadline is not None and time.time() >= job.deadline):
            study.stop()

    timeout = None if job.deadline is None else job.deadline - time.time()
    if stop() or (timeout is not None and timeout <= 0):
        return CANCELLED_EXIT if stop() else 0
    stop.searching = True
    study.optimize(
        lambda trial: run_trial(job, trial, data, stop, space),
        n_trials=trials,
        timeout=timeout,
        catch=(Exception,),
        callbacks=[stop_when_asked],
    )
    return CANCELLED_EXIT if stop() else 0


def main(argv: list[str]) -> int:
    job_path, parent_pid, trials_text = argv
    _die_with_parent(int(parent_pid))
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop.handle)
    signal.signal(signal.SIGINT, stop.handle)
    try:
        trials = None if trials_text == "-" else int(trials_text)
        return run(Path(job_path).read_text(), trials, stop)
    except SystemExit:
        raise
    except Exception as exc:
        from nets.errors import one_line

        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
