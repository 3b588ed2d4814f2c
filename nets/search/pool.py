"""K worker processes of one study: start them, watch them, cancel them together.

Each worker (``nets.search.worker``) is its own process in its own process group, with
one BLAS/OpenMP/torch thread, so K workers use K cores. ``cancel`` sends SIGTERM to
every group (the running trials stop at their next step and are recorded as failed),
waits up to ``grace`` seconds, then SIGKILLs whatever is left, so nothing outlives it.
Start a pool from a thread that lives as long as it (the main thread): Linux delivers
the workers' parent-death signal when the starting *thread* ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nets.search.objective import Job

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def split_trials(trials: int | None, workers: int) -> list[int | None]:
    """Trials per worker: ``trials`` shared out (the first ones get one more), or None
    (no limit) for each."""
    if trials is None:
        return [None] * workers
    return [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]


class WorkerPool:
    """``WorkerPool(job, workers, trials)``; ``start()``, ``running()``, ``wait(timeout)``,
    ``cancel()``, ``errors()`` (one line per worker that failed)."""

    def __init__(self, job: Job, workers: int, trials: int | None) -> None:
        self.job = job
        self.shares = [n for n in split_trials(trials, max(workers, 1)) if n is None or n > 0]
        self.processes: list[subprocess.Popen] = []
        self._dir = Path(tempfile.mkdtemp(prefix="backprop-search-"))
        self._logs: list[Path] = []
        self.cancelled = False

    def start(self) -> None:
        job_file = self._dir / "job.json"
        job_file.write_text(self.job.to_json())
        env = {**os.environ, **{name: "1" for name in THREAD_VARIABLES}}
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        for i, share in enumerate(self.shares):
            log = self._dir / f"worker-{i}.log"
            self._logs.append(log)
            with open(log, "wb") as err:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "nets.search.worker",
                            str(job_file),
                            str(os.getpid()),
                            "-" if share is None else str(share),
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        env=env,
                        start_new_session=True,
                    )
                )

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def running(self) -> int:
        return sum(p.poll() is None for p in self.processes)

    def wait(self, timeout: float | None = None) -> bool:
        """True when every worker has ended (within ``timeout`` seconds)."""
        end = None if timeout is None else time.monotonic() + timeout
        for p in self.processes:
            left = None if end is None else max(end - time.monotonic(), 0.0)
            try:
                p.wait(left)
            except subprocess.TimeoutExpired:
                return False
        return True

    def terminate(self) -> None:
        """Ask every worker to stop (SIGTERM to its group); returns at once."""
        self.cancelled = True
        self._signal_all(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL every worker's group that is still there."""
        self._signal_all(signal.SIGKILL)

    def cancel(self, grace: float = 4.0) -> None:
        """Stop every worker: SIGTERM, then SIGKILL after ``grace`` seconds; returns when
        all have ended."""
        self.terminate()
        if not self.wait(grace):
            self.kill()
            self.wait(5.0)

    def _signal_all(self, sig: int) -> None:
        for p in self.processes:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass

    def errors(self) -> list[str]:
        """Why workers ended badly, one line each: the last ``error:`` line of one that
        exited with status 1, or the signal that ended one this pool did not cancel."""
        out = []
        for p, log in zip(self.processes, self._logs, strict=True):
            code = p.poll()
            if code == 1:
                lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln]
                errs = [ln for ln in lines if ln.startswith("error: ")]
                out.append((errs or lines or ["the worker failed"])[-1].removeprefix("error: "))
            elif code is not None and code != 0 and not self.cancelled:
                sig = -code if code < 0 else code - 128
                name = signal.Signals(sig).name if sig in signal.valid_signals() else str(code)
                out.append(f"worker {p.pid} was ended from outside ({name})")
        return sorted(set(out))

    def close(self) -> None:
        """Cancel what still runs and remove the job folder."""
        if self.running():
            self.cancel()
        for f in self._dir.glob("*"):
            f.unlink(missing_ok=True)
        self._dir.rmdir()
