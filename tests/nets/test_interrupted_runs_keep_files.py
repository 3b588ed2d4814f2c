"""An interrupted training run (Ctrl-C) loses nothing: an existing checkpoint and JSON log
stay as they were, the partial results go beside them and are named; asked for with
--save-on-stop, the partial model replaces the checkpoint. Both networks, one rule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for k, colour in enumerate(((200, 0, 0), (0, 200, 0))):
        (root / "train" / f"c{k}").mkdir(parents=True)
        for i in range(40):
            Image.new("RGB", (28, 28), colour).save(root / "train" / f"c{k}" / f"{i}.png")
    return root


def _interrupted(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Start a long run, press Ctrl-C once after its first epoch, let it end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "main", *argv],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch 1/"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("net", ["mlp", "cnn"])
def test_ctrl_c_keeps_the_old_checkpoint_and_log_and_names_the_partial_ones(
    folder: Path, tmp_path: Path, net: str
) -> None:
    suffix = ".npz" if net == "mlp" else ".pt"
    good = tmp_path / f"good{suffix}"
    good.write_bytes(b"the good model")
    log = tmp_path / "run.jsonl"
    log.write_text('{"event": "old"}\n')
    argv = [
        net,
        "train",
        "--data",
        f"folder:{folder}",
        "--epochs",
        "300",
        "--batch-size",
        "8",
        "--save",
        str(good),
        "--json-log",
        str(log),
    ]
    argv += ["--hidden-dim", "8", "--num-val", "8"] if net == "mlp" else ["--val-size", "8"]
    result = _interrupted(argv)
    assert good.read_bytes() == b"the good model"
    assert log.read_text() == '{"event": "old"}\n'
    partial = tmp_path / f"good.partial{suffix}"
    assert partial.stat().st_size > 100
    assert (tmp_path / "run.partial.jsonl").read_text().count("\n") > 1
    assert f"went to {partial}" in result.stderr and "is unchanged" in result.stderr


def test_save_on_stop_replaces_the_checkpoint(folder: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    good.write_bytes(b"the good model")
    _interrupted(
        [
            "mlp",
            "train",
            "--data",
            f"folder:{folder}",
            "--epochs",
            "300",
            "--batch-size",
            "8",
            "--hidden-dim",
            "8",
            "--num-val",
            "8",
            "--save",
            str(good),
            "--save-on-stop",
        ]
    )
    assert good.read_bytes()[:2] == b"PK"
    assert not (tmp_path / "good.partial.npz").exists()


def test_a_forbidden_destination_is_refused_before_the_first_step(folder: Path, capsys) -> None:
    import main

    # Nobody, root included, can create a file in /proc: refused before any training.
    code = main.main(
        [
            "mlp",
            "train",
            "--data",
            f"folder:{folder}",
            "--epochs",
            "1",
            "--save",
            "/proc/backprop-explorer-test.npz",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "cannot write the checkpoint /proc/backprop-explorer-test.npz" in captured.err
    assert "epoch 1/" not in captured.out


def test_a_full_disk_while_logging_names_the_log_and_keeps_the_old_one(tmp_path: Path) -> None:
    import errno

    from nets.runlog import JsonLog, LogError

    path = tmp_path / "run.jsonl"
    path.write_text("old\n")

    class FullDisk:
        def write(self, _text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(LogError, match=r"cannot write the JSON log .*run\.jsonl: no space left"):
        with JsonLog(path) as log:
            real = log._file
            log._file = FullDisk()
            try:
                log.write_record({"event": "step"})
            finally:
                log._file = real
    assert path.read_text() == "old\n"
