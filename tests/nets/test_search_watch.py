"""Watching a study (nets.search.watch): opens, reads on a timer and on request, reports
a failed read and goes on, ends on cancel, and says in one line why a study won't open."""

from __future__ import annotations

import threading

import optuna

from nets.search.watch import Requests, StudyOpened, StudyRead, WatchFailed, watch_study


def _study(trials: int = 4) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", study_name="watched")
    study.set_user_attr("kind", "mlp")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=trials)
    return study


def test_a_watch_opens_reads_and_answers_requests():
    study = _study()
    stop = threading.Event()
    requests = Requests()
    events = watch_study(lambda: study, stop.is_set, requests, interval=30.0)
    opened = next(events)
    assert opened == StudyOpened("watched", {"kind": "mlp"})
    first = next(events)
    assert isinstance(first, StudyRead) and first.served == 0
    assert [r.number for r in first.rows] == [0, 1, 2, 3]
    assert first.importances is not None  # the first read computes them
    # A request wakes the 30 s wait at once and is named in the read that answers it.
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    asked = requests.read_now()
    second = next(events)
    assert second.served == asked and len(second.rows) == 5
    assert second.importances is not None  # asked for: recomputed for the new trial
    stop.set()
    assert list(events) == []


def test_a_failed_read_is_reported_and_the_watch_goes_on():
    study = _study(1)
    calls = {"n": 0}
    real = study.get_trials

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("server closed the connection unexpectedly\nmore detail")
        return real(*args, **kwargs)

    study.get_trials = flaky  # type: ignore[method-assign]
    requests = Requests()
    events = watch_study(lambda: study, lambda: False, requests, interval=30.0)
    next(events)
    failed = next(events)
    assert failed.rows == () and failed.error == "server closed the connection unexpectedly"
    requests.read_now()
    assert len(next(events).rows) == 1
    events.close()


def test_a_study_that_does_not_open_ends_the_watch_in_one_line():
    def refuse():
        raise RuntimeError("no such study\nTraceback...")

    events = list(watch_study(refuse, lambda: False, Requests()))
    assert len(events) == 1 and isinstance(events[0], WatchFailed)
    assert "\n" not in events[0].message and "no such study" in events[0].message
