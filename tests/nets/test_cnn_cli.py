"""``backprop-explorer cnn train|test`` on a tiny synthetic Fashion-MNIST-format dataset."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

import main
from nets.cnn.arch import Conv2d, Flatten, Linear, MaxPool2d, ReLU, save_architecture
from tests.nets.process_fixtures import run_python

ROOT = Path(__file__).resolve().parents[2]
TINY = [Conv2d(4, 3, padding=1), ReLU(), MaxPool2d(4), Flatten(), Linear(10)]


def _idx(path: Path, array: np.ndarray) -> None:
    code = 0x08  # unsigned byte
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k lights up horizontal band k of a 28x28 image (10 bands of 2-3 rows)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    X = rng.integers(0, 50, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        X[i, 3 * k : 3 * k + 3, :] = 220
    return X, y


@pytest.fixture(scope="module")
def fmnist_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fmnist")
    Xtr, ytr = _images(400, 0)
    Xte, yte = _images(120, 1)
    _idx(folder / "train-images-idx3-ubyte.gz", Xtr)
    _idx(folder / "train-labels-idx1-ubyte.gz", ytr)
    _idx(folder / "t10k-images-idx3-ubyte.gz", Xte)
    _idx(folder / "t10k-labels-idx1-ubyte.gz", yte)
    return folder


@pytest.fixture(scope="module")
def arch_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("arch") / "tiny.json"
    save_architecture(path, TINY)
    return path


def _train_args(fmnist_dir: Path, arch_file: Path, *extra: str) -> list[str]:
    return [
        "cnn",
        "train",
        "--data",
        f"fashion-mnist:{fmnist_dir}",
        "--arch",
        str(arch_file),
        "--val-size",
        "100",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--lr",
        "0.02",
        "--threads",
        "1",
        *extra,
    ]


def test_train_save_then_test_once_then_warn(fmnist_dir, arch_file, tmp_path, capsys):
    ckpt = tmp_path / "model.pt"
    log = tmp_path / "log.jsonl"
    plot = tmp_path / "plot.svg"
    code = main.main(
        _train_args(
            fmnist_dir,
            arch_file,
            *("--save", str(ckpt), "--json-log", str(log), "--plot-file", str(plot)),
        )
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and epochs[0].startswith("epoch 1/2  loss ")
    assert "val acc" in epochs[1] and f"saved checkpoint to {ckpt}" in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [r["event"] for r in records]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("step") == 12 and kinds.count("evaluation") == 4  # the preset: 2 per epoch
    assert all(isinstance(r["loss"], float) for r in records if r["event"] == "step")
    assert all(r["wall"] >= 0 and r["cpu"] >= 0 for r in records)
    svg = plot.read_text()
    assert "<svg" in svg and "Training loss" in svg and "val (whole set)" in svg

    assert (
        main.main(
            [
                "cnn",
                "test",
                "--checkpoint",
                str(ckpt),
                "--data",
                f"fashion-mnist:{fmnist_dir}",
                "--json",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert set(result) == {"test_acc", "n"} and result["n"] == 120
    assert isinstance(result["test_acc"], float) and result["test_acc"] > 0.5
    assert "warning" not in err

    assert (
        main.main(
            ["cnn", "test", "--checkpoint", str(ckpt), "--data", f"fashion-mnist:{fmnist_dir}"]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert "warning: this checkpoint was already evaluated on a test set (1 time(s)" in err
    assert out.startswith(f"test accuracy {100 * result['test_acc']:.2f}%")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--epochs", "-1"], "--epochs must be at least 1"),
        (["--lr", "abc"], "--lr must be a number, not 'abc'"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
        (["--precision", "fp16"], "invalid choice: 'fp16'"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--plot-file", "plot.gif"], "--plot-file must end in .png, .svg, .pdf"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(fmnist_dir, arch_file, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main.main(_train_args(fmnist_dir, arch_file, *extra))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_preset_and_arch_are_exclusive(fmnist_dir, arch_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main.main(_train_args(fmnist_dir, arch_file, "--preset", "seed"))
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_shape_mismatch_is_one_line_naming_the_layer(fmnist_dir, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    save_architecture(bad, [Conv2d(4, 3), ReLU(), Linear(10)])
    assert main.main(_train_args(fmnist_dir, bad)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: layer 2 (Linear): expects a flat vector but gets a 4x26x26")
    assert len(err.splitlines()) == 1


def test_missing_output_folder_fails_before_training(fmnist_dir, arch_file, tmp_path, capsys):
    target = tmp_path / "nope" / "model.pt"
    assert main.main(_train_args(fmnist_dir, arch_file, "--save", str(target))) == 1
    out, err = capsys.readouterr()
    assert "does not exist" in err and "epoch" not in out


def test_divergence_exits_1_with_the_reason_and_saves_finite_weights(fmnist_dir, tmp_path, capsys):
    arch = tmp_path / "plain.json"
    save_architecture(arch, [Flatten(), Linear(32), ReLU(), Linear(10)])
    ckpt = tmp_path / "diverged.pt"
    args = _train_args(
        fmnist_dir,
        arch,
        "--save",
        str(ckpt),
        "--optimizer",
        "sgd",
        "--schedule",
        "none",
        "--momentum",
        "0",
        "--no-nesterov",
    )
    args[args.index("--lr") + 1] = "1000"
    assert main.main(args) == 1
    out, err = capsys.readouterr()
    assert "error: diverged at step" in err and "saved the last finite weights" in out
    assert (
        main.main(
            [
                "cnn",
                "test",
                "--checkpoint",
                str(ckpt),
                "--data",
                f"fashion-mnist:{fmnist_dir}",
                "--json",
            ]
        )
        == 0
    )


def test_corrupt_or_numpy_checkpoint_is_one_line(fmnist_dir, tmp_path, capsys):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    spec = f"fashion-mnist:{fmnist_dir}"
    assert main.main(["cnn", "test", "--checkpoint", str(empty), "--data", spec]) == 1
    assert capsys.readouterr().err.startswith("error: checkpoint corrupted")
    npz = tmp_path / "mlp.npz"
    np.savez(npz, W=np.zeros(3))
    assert main.main(["cnn", "test", "--checkpoint", str(npz), "--data", spec]) == 1
    assert "checkpoint mismatch" in capsys.readouterr().err


def test_missing_dataset_is_one_line(tmp_path, arch_file, capsys):
    code = main.main(
        ["cnn", "train", "--data", f"fashion-mnist:{tmp_path}", "--arch", str(arch_file)]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_help_does_not_import_torch():
    code = (
        "import sys, main\n"
        "try:\n"
        "    main.main(['cnn', 'train', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert "--preset NAME" in out.stdout and out.stdout.strip().endswith("False")


@pytest.mark.parametrize(
    "suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")]
)
def test_plot_file_formats(tmp_path, suffix, magic):
    from nets.cnn.cli import save_training_plot
    from nets.training import Evaluation, Step

    history = [Step(i, 1, 2.0 / i, 0.01, 0.1 * i, 8) for i in range(1, 9)]
    history.insert(4, Evaluation(4, 1, 0.5, 0.55, 1.0, 0.01, 100, False, 0.4))
    history.append(Evaluation(8, 1, 0.7, float("nan"), 0.6, 0.01, 1000, True, 0.8))
    path = tmp_path / f"plot{suffix}"
    save_training_plot(path, history, "title")
    data = path.read_bytes()
    assert data.startswith(magic)
    if suffix != ".png":  # vector files: lines as paths, no raster image inside
        assert not re.search(rb"/Subtype\s*/Image|<image", data)
        assert (b"<path" in data) if suffix == ".svg" else (b"/FontFile2" in data)


def test_train_logs_internals_and_lr_find_prints_json(fmnist_dir, arch_file, tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    args = _train_args(fmnist_dir, arch_file, "--internals-every", "4", "--json-log", str(log))
    assert main.main(args) == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    internals = [r for r in records if r["event"] == "internals"]
    assert [r["step"] for r in internals][:2] == [1, 4]
    assert list(internals[0]["layers"]) == ["conv1", "relu1", "fc1"]
    assert 0 <= internals[-1]["layers"]["relu1"]["dead_fraction"] <= 1
    capsys.readouterr()
    finder = [
        "cnn",
        "lr-find",
        "--data",
        f"fashion-mnist:{fmnist_dir}",
        "--arch",
        str(arch_file),
        "--val-size",
        "100",
        "--batch-size",
        "50",
        "--threads",
        "1",
        "--steps",
        "40",
        "--json",
    ]
    assert main.main(finder) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["lrs"]) == len(out["losses"]) >= 10 and out["suggested_lr"] > 0


def test_precision_option_reaches_the_run_and_its_log(fmnist_dir, arch_file, tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    extra = ("--epochs", "1", "--precision", "bfloat16", "--json-log", str(log))
    code = main.main(_train_args(fmnist_dir, arch_file, *extra))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"^device cpu, 1 CPU threads, bfloat16, ", out, re.M), out
    started = json.loads(log.read_text().splitlines()[0])
    assert started["precision"] == "bfloat16" and started["config"]["precision"] == "bfloat16"
