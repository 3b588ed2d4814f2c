"""The BLAS thread tuner the trainer uses on busy machines."""

from __future__ import annotations

import pytest

from nets.mlp import blas_threads
from nets.mlp.blas_threads import ThreadTuner


def test_set_and_restore_blas_threads() -> None:
    before = blas_threads.blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not a controllable OpenBLAS here")
    assert blas_threads.set_blas_threads(1) == before
    assert blas_threads.blas_threads() == 1
    blas_threads.set_blas_threads(before)
    assert blas_threads.blas_threads() == before


def test_the_count_set_is_the_one_every_loaded_blas_uses() -> None:
    from threadpoolctl import threadpool_info

    def counts() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads.blas_threads()
    if before is None:
        pytest.skip("no BLAS that threadpoolctl can control is loaded")
    assert before in counts()
    try:
        blas_threads.set_blas_threads(1)
        assert counts() and set(counts()) == {1}
        blas_threads.set_blas_threads(0)  # below one: one thread, never an error
        assert set(counts()) == {1}
    finally:
        blas_threads.set_blas_threads(before)
    assert blas_threads.blas_threads() == before


def test_the_last_thread_to_set_the_count_wins() -> None:
    """A trainer on a worker thread that is still alive must not lock the count for the
    others (threadpoolctl gives one thread that right unless it is released)."""
    import threading

    before = blas_threads.blas_threads()
    if before is None:
        pytest.skip("no BLAS that threadpoolctl can control is loaded")
    set_on_worker, release = threading.Event(), threading.Event()

    def worker() -> None:
        blas_threads.set_blas_threads(1)
        set_on_worker.set()
        release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert set_on_worker.wait(10) and blas_threads.blas_threads() == 1
        blas_threads.set_blas_threads(2)  # while the worker is alive
        assert blas_threads.blas_threads() == 2
    finally:
        release.set()
        thread.join()
        blas_threads.set_blas_threads(before)


def test_tuner_keeps_the_faster_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"n": 4}
    monkeypatch.setattr(blas_threads, "blas_threads", lambda: state["n"])
    monkeypatch.setattr(
        blas_threads, "set_blas_threads", lambda n: state.__setitem__("n", n) or state["n"]
    )
    tuner = ThreadTuner(trials=3)
    assert tuner.active and tuner.options == [4, 1]
    # One thread is slower here: 4 threads must win.
    tuner.start_epoch()
    seen = []
    for _ in range(7):  # the first step is a warm-up and is repeated
        tuner.before_step()
        seen.append(state["n"])
        tuner.record(0.01 if state["n"] == 4 else 0.05)
    assert seen == [4, 4, 1, 4, 1, 4, 1] and tuner.chosen == 4 and state["n"] == 4
    # The machine got busy: one thread wins now, re-measured at the next epoch.
    tuner.start_epoch()
    for _ in range(6):
        tuner.before_step()
        tuner.record(0.09 if state["n"] == 4 else 0.02)
    assert tuner.chosen == 1 and state["n"] == 1
    tuner.before_step()
    assert state["n"] == 1
    tuner.restore()
    assert state["n"] == 4


def test_tuner_is_inactive_with_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas_threads, "blas_threads", lambda: 1)
    tuner = ThreadTuner()
    assert not tuner.active
    tuner.start_epoch()
    tuner.before_step()
    tuner.record(1.0)


def test_tuner_probes_the_other_setting_within_an_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"n": 2}
    monkeypatch.setattr(blas_threads, "blas_threads", lambda: state["n"])
    monkeypatch.setattr(
        blas_threads, "set_blas_threads", lambda n: state.__setitem__("n", n) or state["n"]
    )
    tuner = ThreadTuner(trials=2, period=10, window=3)
    tuner.start_epoch()
    busy = False
    settings = []
    for step in range(80):
        if step == 30:
            busy = True  # other jobs start: two threads become slow
        tuner.before_step()
        settings.append(state["n"])
        slow = 0.08 if busy else 0.01
        tuner.record(slow if state["n"] == 2 else 0.02)
    assert settings[10:30].count(2) > 15  # idle: two threads kept, one probe
    assert settings[-20:].count(1) >= 18  # busy: switched to one thread within the epoch


def test_tuner_cycles_probes_through_every_other_option() -> None:
    applied: list[int] = []
    speed = {2: 0.01, 1: 0.03, -2: 0.05}
    tuner = ThreadTuner(
        trials=2, period=5, window=3, threads=2, apply=applied.append, options=[2, 1, -2]
    )
    assert tuner.active and tuner.original == 2
    tuner.start_epoch()
    for _ in range(40):
        tuner.before_step()
        tuner.record(speed[applied[-1]])
    assert tuner.chosen == 2
    assert applied[:7] == [2, 2, 1, -2, 2, 1, -2]  # the first step is repeated (warm-up)
    probes = [n for n in applied[7:] if n != 2]
    assert probes[:4] == [1, -2, 1, -2]
    tuner.restore()
    assert applied[-1] == 2
    assert not ThreadTuner(threads=2, apply=applied.append, options=[2]).active


def _blas_during_steps(monkeypatch: pytest.MonkeyPatch, *, foreign_step: bool) -> list[int | None]:
    """BLAS's thread count inside each step of a short two-core run."""
    from nets.mlp import step as step_module
    from nets.mlp import train as train_module
    from nets.mlp.config import TrainConfig
    from tests.nets.mlp_fixtures import blobs

    before = blas_threads.blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not a controllable OpenBLAS here")
    monkeypatch.setattr(step_module, "usable_cores", lambda: 2)
    seen: list[int | None] = []

    def spy(*args, **kwargs):
        seen.append(blas_threads.blas_threads())
        return step_module.training_step(*args, **kwargs)

    config = TrainConfig(num_train=None, hidden_dim=8, batch_size=50, num_epochs=1)
    blas_threads.set_blas_threads(2)
    try:
        if foreign_step:  # someone else's step: its numpy calls are not split by us
            list(train_module.train(config, blobs(), step=spy))
        else:
            monkeypatch.setattr(train_module, "training_step", spy)
            list(train_module.train(config, blobs()))
        assert blas_threads.blas_threads() == 2  # the run puts the count back
    finally:
        blas_threads.set_blas_threads(before)
    return seen


def test_a_step_of_plain_numpy_code_gets_blas_threads_when_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tuner tries both ways at the epoch's start: split (BLAS gets the two cores, the
    # only way this step's products are spread) and one core (one BLAS thread).
    assert set(_blas_during_steps(monkeypatch, foreign_step=True)) == {1, 2}


def test_the_built_in_step_splits_its_products_itself_with_one_blas_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert set(_blas_during_steps(monkeypatch, foreign_step=False)) == {1}


@pytest.mark.parametrize(("foreign_step", "prefetched"), [(True, False), (False, True)])
def test_no_batch_is_gathered_beside_a_step_that_runs_on_blas_threads(
    monkeypatch: pytest.MonkeyPatch, foreign_step: bool, prefetched: bool
) -> None:
    # A helper thread gathering the next batch took a core from the user's own step's
    # BLAS threads, which then waited for each other: the seed-style homework's epoch went
    # from 0.83 s to 0.9-1.3 s (3072-256-10, batch 200, float64), and the tuner, seeing
    # split steps slow, often chose one core.
    from nets.mlp import train as train_module

    real = train_module.DataSampler
    seen: list[bool] = []

    def sampler(*args, **kwargs):
        seen.append(kwargs.get("prefetch") is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "DataSampler", sampler)
    _blas_during_steps(monkeypatch, foreign_step=foreign_step)
    assert seen == [prefetched]


def test_a_probe_that_beats_the_choice_is_confirmed_at_once() -> None:
    """Two disturbed trial steps made the faster option lose: its next probe, faster than
    the chosen option, is repeated straight away until its window is fresh, and the tuner
    switches back within a few steps instead of after hundreds."""
    applied: list[int] = []
    tuner = ThreadTuner(
        trials=2, period=100, window=5, threads=2, apply=applied.append, options=[2, 1]
    )
    tuner.start_epoch()
    disturbed = iter([0.05, 0.05, 0.05])  # the warm-up and both trials of option 2
    for _ in range(5):
        tuner.before_step()
        n = applied[-1]
        tuner.record(next(disturbed, 0.01) if n == 2 else 0.02)
    assert tuner.chosen == 1  # the hiccup made one core look faster
    settings = []
    for _ in range(110):
        tuner.before_step()
        settings.append(applied[-1])
        tuner.record(0.01 if applied[-1] == 2 else 0.02)
    first_probe = settings.index(2)
    assert first_probe == 100
    assert tuner.chosen == 2
    assert settings[first_probe:] == [2] * (110 - first_probe)  # kept after the confirmations


def test_a_probe_slower_than_the_choice_is_not_repeated() -> None:
    applied: list[int] = []
    tuner = ThreadTuner(
        trials=2, period=10, window=5, threads=2, apply=applied.append, options=[2, 1]
    )
    tuner.start_epoch()
    settings = []
    for _ in range(40):
        tuner.before_step()
        settings.append(applied[-1])
        tuner.record(0.01 if applied[-1] == 2 else 0.02)
    assert tuner.chosen == 2
    # after the trials, single probes of option 1, each followed by option 2 again
    probes = [i for i, n in enumerate(settings) if n == 1 and i > 5]
    assert probes and all(settings[i + 1] == 2 for i in probes if i + 1 < len(settings))
