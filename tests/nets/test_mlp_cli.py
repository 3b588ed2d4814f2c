"""``backprop-explorer mlp``: train, test, gradcheck and their errors."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import main
from nets.mlp.checkpoint import load_checkpoint


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def fmnist(tmp_path: Path) -> Path:
    """A tiny Fashion-MNIST-shaped dataset: the class is a bright row at height 2*label."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "fm"
    folder.mkdir()
    for prefix, n in (("train", 400), ("t10k", 100)):
        labels = rng.integers(0, 10, size=n)
        images = rng.integers(0, 60, size=(n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label + 4, :] = 250
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return folder


def _cli(*argv: str) -> int:
    return main.main(["mlp", *map(str, argv)])


FAST = ("--hidden-dim", "32", "--epochs", "3", "--batch-size", "50", "--lr", "0.05")


def test_train_saves_checkpoint_plot_and_json_log(
    fmnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, plot, log = tmp_path / "m.npz", tmp_path / "p.png", tmp_path / "log.jsonl"
    code = _cli(
        "train",
        "--data",
        f"fashion-mnist:{fmnist}",
        "--preset",
        "tuned",
        *FAST,
        "--save",
        ckpt,
        "--plot-file",
        plot,
        "--json-log",
        log,
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert [line.split(":")[0] for line in out.out.splitlines()] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]
    assert "val acc" in out.out
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "finished"
    assert kinds.count("epoch") == 3 and kinds.count("step") == events[0]["total_steps"]
    loaded = load_checkpoint(ckpt)
    assert loaded.config["hidden_dim"] == 32 and loaded.dataset == f"fashion-mnist:{fmnist}"
    assert len(loaded.history["epoch_val_acc"]) == 3
    from PIL import Image

    with Image.open(plot) as img:
        assert img.size == (800, 720)


def test_test_runs_once_then_warns(
    fmnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "m.npz"
    assert _cli("train", "--data", f"fashion-mnist:{fmnist}", *FAST, "--save", ckpt) == 0
    capsys.readouterr()
    assert _cli("test", "--checkpoint", ckpt, "--data", f"fashion-mnist:{fmnist}", "--json") == 0
    first = capsys.readouterr()
    result = json.loads(first.out)
    assert set(result) == {"test_acc", "n"} and result["n"] == 100
    assert 0.0 <= result["test_acc"] <= 1.0
    assert "warning" not in first.err
    assert load_checkpoint(ckpt).test.used
    assert _cli("test", "--checkpoint", ckpt, "--data", f"fashion-mnist:{fmnist}") == 0
    second = capsys.readouterr()
    assert second.out.startswith("test accuracy: ")
    assert "warning: this checkpoint was already evaluated on a test set" in second.err


def test_test_refuses_data_of_another_shape(
    fmnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "m.npz"
    assert _cli("train", "--data", f"fashion-mnist:{fmnist}", *FAST, "--save", ckpt) == 0
    folder = tmp_path / "imgs"
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("a", "b"):
            (folder / split / cls).mkdir(parents=True)
            Image.new("RGB", (32, 32), (9, 9, 9)).save(folder / split / cls / "x.png")
    capsys.readouterr()
    assert _cli("test", "--checkpoint", ckpt, "--data", f"folder:{folder}") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: architecture mismatch") and err.count("\n") == 1
    assert not load_checkpoint(ckpt).test.used


def test_gradcheck_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("gradcheck", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True
    rows = {r["name"]: r for r in report["checks"]}
    assert rows["TwoLayerNet W1"]["threshold"] == 1e-10
    assert rows["relu_backward"]["max_rel_error"] < 1e-9
    assert _cli("gradcheck") == 0
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "cifar10:/nonexistent/x"], "CIFAR-10 not found in /nonexistent/x: download"),
        (["--data", "imagenet:/x"], "unknown dataset spec"),
        (["--data", "folder:/nonexistent/x"], "folder /nonexistent/x does not exist"),
    ],
)
def test_errors_are_one_line_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("train", *argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1


def test_corrupt_checkpoint_is_one_line_exit_1(
    tmp_path: Path, fmnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert _cli("test", "--checkpoint", bad, "--data", f"fashion-mnist:{fmnist}") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint corrupted") and err.count("\n") == 1


def test_output_folder_is_checked_before_training(
    fmnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli("train", "--data", f"fashion-mnist:{fmnist}", "--save", tmp_path / "no" / "m.npz")
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_bad_plot_extension_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _cli("train", "--data", "fashion-mnist", "--plot-file", "plot.jpg")
    assert exc.value.code == 2
    assert ".png, .svg or .pdf" in capsys.readouterr().err


def test_train_logs_internals_and_advice(
    fmnist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    code = _cli(
        "train",
        "--data",
        f"fashion-mnist:{fmnist}",
        "--preset",
        "tuned",
        "--hidden-dim",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--lr",
        "5",
        "--internals-every",
        "3",
        "--json-log",
        log,
    )
    err = capsys.readouterr().err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    internals = [r for r in records if r["event"] == "internals"]
    assert [r["step"] for r in internals][:3] == [1, 3, 6]
    assert set(internals[0]["layers"]) == {"fc1", "relu1", "fc2"}
    assert len(internals[0]["layers"]["fc1"]["weight_hist"]) == 40
    advice = [r for r in records if r["event"] == "advice"]
    assert advice and advice[0]["rule"] == "diverging"
    assert advice[0]["suggest"] == {"learning_rate": 0.5}
    assert "advice: [diverging] step" in err
    assert code in (0, 1)


def test_lr_find_prints_the_curve_and_the_suggestion_as_json(
    fmnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _cli(
        "lr-find",
        "--data",
        f"fashion-mnist:{fmnist}",
        "--preset",
        "tuned",
        "--hidden-dim",
        "32",
        "--batch-size",
        "50",
        "--steps",
        "60",
        "--json",
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["lrs"]) == len(out["losses"]) > 10
    assert out["lrs"][0] == pytest.approx(1e-6)
    assert min(out["lrs"]) <= out["suggested_lr"] <= max(out["lrs"])
    assert min(out["lrs"]) <= out["steepest_lr"] <= max(out["lrs"])
    lowest = out["losses"].index(min(out["losses"]))
    assert out["lr_min_div10"] == pytest.approx(out["lrs"][lowest] / 10)
