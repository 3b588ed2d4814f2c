"""``mlp train`` and ``cnn train`` with --snapshot-dir, --fork and --tensorboard: the
files, an exact replay from the command line, and one-line refusals of bad snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import main
from nets.snapshots import load_snapshot
from tests.nets.test_cnn_cli import _train_args, arch_file, fmnist_dir  # noqa: F401
from tests.nets.test_mlp_cli import fmnist  # noqa: F401

MLP = ("--hidden-dim", "16", "--epochs", "3", "--batch-size", "50", "--lr", "0.05",
       "--momentum", "0.9")  # fmt: skip


def _steps(log: Path) -> list[float]:
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [r["loss"] for r in rows if r.get("event") == "step"]


def test_mlp_fork_from_the_command_line_replays_the_parent(fmnist: Path, tmp_path: Path):  # noqa: F811
    snaps, parent_log, child_log = tmp_path / "snaps", tmp_path / "p.jsonl", tmp_path / "c.jsonl"
    data = f"fashion-mnist:{fmnist}"
    assert main.main(["mlp", "train", "--data", data, *MLP, "--snapshot-dir", str(snaps),
                      "--json-log", str(parent_log)]) == 0  # fmt: skip
    assert sorted(p.name for p in snaps.iterdir()) == ["epoch-1", "epoch-2", "epoch-3"]
    snap = load_snapshot(snaps / "epoch-1")
    assert snap.state["cli"]["data"] == data
    # no --data: the snapshot knows it; no options: the parent's settings
    assert main.main(["mlp", "train", "--fork", str(snaps / "epoch-1"),
                      "--json-log", str(child_log)]) == 0  # fmt: skip
    parent = _steps(parent_log)
    assert _steps(child_log) == parent[snap.step :]
    # an override makes a branch, with the TensorBoard log of it
    board = tmp_path / "tb"
    assert main.main(["mlp", "train", "--fork", str(snaps / "epoch-1"), "--lr", "0.2",
                      "--tensorboard", str(board)]) == 0  # fmt: skip
    assert list(board.glob("events.out.tfevents.*"))


def test_cnn_fork_from_the_command_line_replays_the_parent(fmnist_dir, arch_file, tmp_path):  # noqa: F811
    snaps, parent_log, child_log = tmp_path / "snaps", tmp_path / "p.jsonl", tmp_path / "c.jsonl"
    args = _train_args(fmnist_dir, arch_file, "--snapshot-dir", str(snaps), "--snapshot-every",
                       "3", "--json-log", str(parent_log), "--optimizer", "sgd")  # fmt: skip
    assert main.main(args) == 0
    names = sorted(p.name for p in snaps.iterdir())
    assert "epoch-1" in names and "epoch-2" in names and any(n.startswith("step-") for n in names)
    rows = [json.loads(line) for line in parent_log.read_text().splitlines()]
    assert [r["name"] for r in rows if r.get("event") == "snapshot"][-1] == "epoch-2"
    mid = next(n for n in names if n.startswith("step-"))
    assert main.main(["cnn", "train", "--fork", str(snaps / mid), "--json-log",
                      str(child_log)]) == 0  # fmt: skip
    step = int(mid.split("-")[1])
    parent = np.array(_steps(parent_log))
    np.testing.assert_allclose(_steps(child_log), parent[step:], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"not a zip file at all", "not a snapshot file"),
        (None, "not a snapshot written by this app"),  # an .npz without the format
    ],
)
def test_bad_snapshot_files_are_one_line_errors(tmp_path, capsys, content, words):
    bad = tmp_path / "epoch-1"
    if content is None:
        np.savez(open(bad, "wb"), meta=np.array('{"format": "other"}'))
    else:
        bad.write_bytes(content)
    assert main.main(["mlp", "train", "--fork", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "epoch-1" in err[0]


def test_a_folder_or_missing_snapshot_and_the_wrong_trainer_are_refused(
    fmnist: Path,  # noqa: F811
    tmp_path: Path,
    capsys,
):
    assert main.main(["mlp", "train", "--fork", str(tmp_path)]) == 1
    assert "folder" in capsys.readouterr().err
    assert main.main(["cnn", "train", "--fork", str(tmp_path / "nope")]) == 1
    assert "no such snapshot" in capsys.readouterr().err
    snaps = tmp_path / "s"
    main.main(["mlp", "train", "--data", f"fashion-mnist:{fmnist}", *MLP[:2], "--epochs", "1",
               "--snapshot-dir", str(snaps)])  # fmt: skip
    capsys.readouterr()
    assert main.main(["cnn", "train", "--fork", str(snaps / "epoch-1")]) == 1
    assert "snapshot of a mlp run" in capsys.readouterr().err
    assert main.main(["mlp", "train", "--fork", str(snaps / "epoch-1")]) == 1
    assert "more epochs" in capsys.readouterr().err
    assert main.main(["mlp", "train"]) == 1
    assert "--data is needed" in capsys.readouterr().err


def test_snapshot_every_without_a_folder_is_refused_before_training(capsys):
    assert main.main(["mlp", "train", "--data", "cifar10:/nonexistent", "--snapshot-every",
                      "5"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "--snapshot-every needs --snapshot-dir" in err and "/nonexistent" not in err
