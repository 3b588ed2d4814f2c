"""Watching a study: every read of its storage in one generator, off any GUI thread.

``watch_study(open_study, cancel, requests)`` opens the study (``open_study()`` returns
it, or raises), yields ``StudyOpened``, then reads it every ``interval`` seconds and
yields a ``StudyRead`` after each read: the trials as ``TrialRow`` copies and, when
the complete trials changed (at most every ``importance_every`` seconds, or at once on
an explicit request), Optuna's hyperparameter importances. ``Requests`` lets the owner
ask for a read now (and for orphaned trials to be failed first); each read names the
last request it served, so the owner knows when a read reflects what it asked for.

A remote database can take seconds to answer: whoever runs this generator (a
``gui.worker`` thread) waits, nobody else. An error at opening ends the watch with
``WatchFailed``; an error reading is reported (``StudyRead.error``) and the watch goes
on with the next read.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nets.errors import first_line
from nets.search.storage import TrialRow, fail_orphans, trial_rows


@dataclass(frozen=True)
class StudyOpened:
    """The study exists (created or reopened): its name and recorded ``user_attrs``."""

    name: str
    attrs: dict[str, Any]


@dataclass(frozen=True)
class StudyRead:
    """One read: ``rows`` in number order (empty with ``error`` set when it failed);
    ``importances`` None when not computed this time, else the values by parameter with
    ``importance_note`` (why empty, or from how many trials); ``served`` the number of
    the last ``Requests.read_now`` this read answers (0: none)."""

    rows: tuple[TrialRow, ...]
    served: int
    error: str = ""
    importances: dict[str, float] | None = None
    importance_note: str = ""


@dataclass(frozen=True)
class WatchFailed:
    """The study could not be opened: one line."""

    message: str


class Requests:
    """Thread-safe "read now" requests from the owner of a watch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._count = 0
        self._orphans = False

    def read_now(self, fail_orphans: bool = False) -> int:
        """Ask for a read as soon as possible; returns the request's number."""
        with self._lock:
            self._count += 1
            self._orphans = self._orphans or fail_orphans
            self._wake.set()
            return self._count

    def wait(self, seconds: float) -> None:
        self._wake.wait(seconds)

    def take(self) -> tuple[int, bool]:
        """``(last request number, fail orphans first)``, clearing both."""
        with self._lock:
            self._wake.clear()
            orphans, self._orphans = self._orphans, False
            return self._count, orphans


def importances(study: Any, complete: int) -> tuple[dict[str, float], str]:
    """PED-ANOVA importances of ``study`` (Optuna's own; fANOVA needs scikit-learn,
    ~50 ms for 100 trials) and a note; empty with the reason when they cannot be had."""
    if complete < 3:
        return {}, "needs 3 complete trials"
    import optuna

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental", "few trials"
            values = optuna.importance.get_param_importances(
                study,
                evaluator=optuna.importance.PedAnovaImportanceEvaluator(target_quantile=0.25),
            )
    except Exception as exc:  # too few distinct values and the like: say it, go on
        return {}, first_line(exc)
    return {str(k): float(v) for k, v in values.items()}, f"from {complete} complete trials"


def watch_study(
    open_study: Callable[[], Any],
    cancel: Callable[[], bool],
    requests: Requests,
    interval: float = 1.0,
    importance_every: float = 5.0,
    check_orphans: bool = False,
) -> Iterator[StudyOpened | StudyRead | WatchFailed]:
    """See the module docstring. ``check_orphans``: fail this machine's orphaned
    trials right after opening (a study attached to after a crash)."""
    try:
        study = open_study()
    except Exception as exc:  # a database that refuses, a missing study: one line
        yield WatchFailed(first_line(exc))
        return
    yield StudyOpened(str(study.study_name), dict(study.user_attrs))
    importance_key: tuple[int, ...] | None = None
    importance_at = -float("inf")
    orphans, asked, served = check_orphans, False, 0
    while not cancel():
        if orphans:
            try:
                fail_orphans(study)
            except Exception:  # a database gone away: the read below says so
                pass
        try:
            rows = tuple(trial_rows(study))
        except Exception as exc:
            yield StudyRead((), served, error=first_line(exc))
        else:
            done = [r.number for r in rows if r.state == "COMPLETE"]
            key = tuple(done)
            now = time.monotonic()
            values: dict[str, float] | None = None
            note = ""
            if key != importance_key and (asked or now - importance_at >= importance_every):
                importance_key, importance_at = key, now
                values, note = importances(study, len(done))
            yield StudyRead(rows, served, importances=values, importance_note=note)
        # Short waits: a cancel or a request wakes the watch within 50 ms.
        orphans = asked = False
        deadline = time.monotonic() + interval
        while not cancel() and time.monotonic() < deadline:
            requests.wait(min(0.05, max(deadline - time.monotonic(), 0.0)))
            count, wanted_orphans = requests.take()
            if count > served:
                served, orphans, asked = count, wanted_orphans, True
                break
