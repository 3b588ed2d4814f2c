"""Studies with several worker processes: on the embedded journal file and on a real
PostgreSQL server every trial is recorded once and the counts add up; failures are
recorded and the study goes on; cancel stops every worker within seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nets.mlp.config import TrainConfig
from nets.search.objective import make_job
from nets.search.pool import WorkerPool
from nets.search.space import Choices, FloatRange, IntRange
from nets.search.storage import location_for, open_study, summary
from tests.nets.search_fixtures import postgres_url, tiny_folder  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
BASE = TrainConfig(num_train=None, hidden_dim=8, batch_size=20, num_epochs=2, seed=0)
SPACE = (FloatRange("learning_rate", 1e-3, 1e-1, log=True), IntRange("hidden_dim", 4, 16))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    return tiny_folder(tmp_path_factory.mktemp("search-data"))


def _command(data: str, study: str, *extra: str) -> list[str]:
    """``mlp search`` on the tiny data: 80 images, 2 epochs, batches of 20."""
    return [sys.executable, str(ROOT / "main.py"), "mlp", "search", "--data", data,
            "--study", study, "--num-train", "80", "--epochs", "2", "--batch-size", "20",
            *extra]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "BACKPROP_EXPLORER_STUDIES": str(tmp_path)}


def _run_pool(data: str, location: str, name: str, trials: int, workers: int = 2, **kw):
    job = make_job("mlp", data, kw.pop("base", BASE), kw.pop("space", SPACE), name, location, **kw)
    study = open_study(name, location, attrs={"kind": "mlp"})
    pool = WorkerPool(job, workers, trials)
    pool.start()
    try:
        assert pool.wait(120), "the workers did not finish"
        assert pool.errors() == []
    finally:
        pool.close()
    return study


def _check_two_workers(data: str, location: str, name: str) -> None:
    study = _run_pool(data, location, name, trials=6)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(6))  # each recorded once
    assert len({t._trial_id for t in trials}) == 6
    s = summary(study)
    assert s["n_trials"] == 6 and sum(s["states"].values()) == 6
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both processes ran trials
    assert {t.user_attrs["threads"] for t in trials} == {1}  # one BLAS thread each
    for t in trials:
        if t.state.name == "COMPLETE":
            assert sorted(t.intermediate_values) == [1, 2]  # one report per epoch
            assert t.value == t.user_attrs["epoch_val_acc"][-1]
    # Reopened and continued: the same study grows.
    _run_pool(data, location, name, trials=2)
    assert summary(study)["n_trials"] == 8


def test_two_workers_share_one_journal_study(data, tmp_path):
    _check_two_workers(data, str(tmp_path / "s.journal"), "journal-study")


def test_two_workers_share_one_postgresql_study(data, postgres_url):  # noqa: F811
    _check_two_workers(data, postgres_url, "pg-study")


def test_a_failing_trial_is_recorded_with_its_message_and_the_study_goes_on(data, tmp_path):
    space = (Choices("batch_size", (20, 100000)), FloatRange("learning_rate", 1e-3, 1e-2))
    study = _run_pool(
        data,
        str(tmp_path / "f.journal"),
        "fails",
        trials=8,
        workers=1,
        space=space,
        sampler="grid",
    )
    trials = study.get_trials(deepcopy=False)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and all(t.params["batch_size"] == 100000 for t in failed)
    assert all("batch size 100,000 is larger" in t.user_attrs["error"] for t in failed)
    assert any(t.state.name == "COMPLETE" for t in trials)
    assert len(trials) == 6  # the grid has 2 x 3 points: the sampler stops after them


def test_cancel_stops_every_worker_within_seconds(data, tmp_path):
    location = str(tmp_path / "c.journal")
    job = make_job("mlp", data, BASE.replace(num_epochs=100000), SPACE, "cancel", location)
    study = open_study("cancel", location, attrs={"kind": "mlp"})
    pool = WorkerPool(job, 2, None)
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while len(study.get_trials(deepcopy=False)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.running() == 2
        started = time.monotonic()
        pool.cancel(grace=4.0)
        assert time.monotonic() - started < 4.0  # they stopped on SIGTERM, no SIGKILL needed
        assert pool.running() == 0
        for pid in pool.pids():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        pool.close()
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
    assert {t.user_attrs["error"] for t in trials} == {"cancelled while training"}


def test_search_command_prints_the_study_summary_and_continues_it(data, tmp_path):
    env = _env(tmp_path)
    args = _command(data, "cli", "--trials", "3", "--workers", "2", "--pruner", "none", "--json")
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "study 'cli' in a journal file (0 trials so far)" in first.stderr
    out = json.loads(first.stdout)
    assert set(out) == {"study", "n_trials", "states", "best"}
    assert out["study"] == "cli" and out["n_trials"] == 3
    assert out["states"] == {"COMPLETE": 3, "PRUNED": 0, "FAIL": 0}
    assert set(out["best"]) == {"number", "value", "params"}
    assert set(out["best"]["params"]) == {"learning_rate", "reg", "hidden_dim", "momentum"}
    assert (tmp_path / "cli.journal").is_file()
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert json.loads(again.stdout)["n_trials"] == 6


def test_default_study_lives_in_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKPROP_EXPLORER_STUDIES", str(tmp_path))
    assert location_for("abc", None) == str(tmp_path / "abc.journal")
    assert location_for("abc", "postgresql://h/db") == "postgresql://h/db"


def test_trials_of_a_killed_worker_are_marked_failed_not_left_running(tmp_path):
    import socket

    from nets.search.storage import fail_orphans

    study = open_study("orphans", str(tmp_path / "o.journal"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone, alive = study.ask(), study.ask()
    gone.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    alive.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    elsewhere = study.ask()
    elsewhere.set_user_attr("worker", f"another-machine:{dead.pid}")
    assert fail_orphans(study) == 1
    states = {t.number: t.state.name for t in study.get_trials(deepcopy=False)}
    assert states == {0: "FAIL", 1: "RUNNING", 2: "RUNNING"}
    assert "ended without recording" in study.trials[0].user_attrs["error"]


def test_the_same_command_twice_joins_one_database_study(data, tmp_path, postgres_url):  # noqa: F811
    env = _env(tmp_path)
    args = _command(data, "joined", "--storage", postgres_url, "--trials", "2", "--workers", "1",
                    "--json")  # fmt: skip
    # Two "machines": the same command started twice at once.
    runs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [err for _out, err in outs]
    assert all("study 'joined' in the database" in err for _out, err in outs)
    study = open_study("joined", postgres_url, create=False)
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    assert not list((tmp_path).glob("*.journal"))  # nothing went to a local file
    last = max((json.loads(out) for out, _err in outs), key=lambda s: s["n_trials"])
    assert last["n_trials"] == 4


def test_search_tensorboard_writes_every_trial_as_a_run(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    env = _env(tmp_path)
    board = tmp_path / "tb"
    args = _command(data, "tb", "--trials", "2", "--workers", "1", "--pruner", "none", "--json",
                    "--tensorboard", str(board))  # fmt: skip
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in board.iterdir()) == ["tb-trial-0", "tb-trial-1"]
    study = open_study("tb", str(tmp_path / "tb.journal"), create=False)
    for t in study.get_trials(deepcopy=False):
        acc = EventAccumulator(str(board / f"tb-trial-{t.number}"))
        acc.Reload()
        vals = [e.value for e in acc.Scalars("accuracy/val")]
        assert vals == pytest.approx(t.user_attrs["epoch_val_acc"], abs=1e-6)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--trials", "1.5", "expected a whole number, got '1.5'"),
        ("--workers", "0", "must be 1 or more, got 0"),
        ("--timeout", "0", "must be more than 0, got 0"),
    ],
)
def test_bad_search_counts_are_usage_errors_naming_the_option(capsys, option, value, expected):
    sys.path.insert(0, str(ROOT))
    import main

    with pytest.raises(SystemExit) as info:
        main.build_parser().parse_args(_command("arrays", "s", option, value)[2:])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and expected in err


def test_download_fetches_the_data_once_without_loading_it_in_the_parent(monkeypatch, tmp_path):
    """The workers load the data; the command itself only downloads what is missing."""
    import nets.data
    from nets.data import fashion_mnist
    from nets.errors import DataError

    sys.path.insert(0, str(ROOT))
    import main

    def no_load(*args, **kwargs):
        raise AssertionError("the parent loaded the whole dataset")

    def fetched(*args, **kwargs):
        raise DataError("downloaded")  # stands for the download: no network in tests

    monkeypatch.setattr(nets.data, "load_dataset", no_load)
    monkeypatch.setattr(fashion_mnist, "download", fetched)
    args = main.build_parser().parse_args(
        _command(f"fashion-mnist:{tmp_path / 'none'}", "dl", "--download")[2:]
    )
    with pytest.raises(DataError, match="^downloaded$"):
        args.handler(args)


def test_a_tensorboard_folder_that_cannot_be_made_is_refused_before_the_study(
    data, tmp_path, monkeypatch
):
    from nets.errors import NetsError

    monkeypatch.setenv("BACKPROP_EXPLORER_STUDIES", str(tmp_path))

    sys.path.insert(0, str(ROOT))
    import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = main.build_parser().parse_args(
        _command(data, "tbx", "--tensorboard", str(blocker / "tb"))[2:]
    )
    with pytest.raises(NetsError, match="cannot write the TensorBoard folder"):
        args.handler(args)
    assert not (tmp_path / "tbx.journal").exists()
