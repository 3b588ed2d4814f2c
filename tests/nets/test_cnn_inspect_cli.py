"""``backprop-explorer cnn inspect|dream`` on an untrained checkpoint and a tiny generated
Fashion-MNIST-format dataset (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import main
from nets.cnn.arch import BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from nets.cnn.checkpoint import save_checkpoint
from nets.cnn.model import build_model
from nets.cnn.trained import TrainedCnn
from tests.nets.cnn_fixtures import random_fashion_folder

ARCH = (
    Conv2d(4, kernel_size=3, padding=1),
    BatchNorm2d(),
    ReLU(),
    MaxPool2d(2),
    Conv2d(6, kernel_size=3, padding=1),
    ReLU(),
    MaxPool2d(2),
    Flatten(),
    Dropout(0.2),
    Linear(10),
)
NAMES = tuple(f"c{k}" for k in range(10))


@pytest.fixture(scope="module")
def fmnist_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fmnist_inspect")
    random_fashion_folder(folder, 200, 20)
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, fmnist_dir) -> Path:
    torch.manual_seed(0)
    model = build_model(ARCH, (1, 28, 28), 10).eval()
    trained = TrainedCnn(
        model, ARCH, (1, 28, 28), NAMES, (70.0,), (90.0,), data_source=f"fashion-mnist:{fmnist_dir}"
    )
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, trained)
    return path


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main.main(["cnn", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_json_lists_every_layer_top5_and_the_saliency_shape(capsys, checkpoint):
    code, out, err = _run(
        capsys, "inspect", "--checkpoint", str(checkpoint), "--val-index", "3", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert [layer["type"] for layer in data["layers"]] == [type(s).__name__ for s in ARCH]
    assert data["layers"][0]["output_shape"] == [4, 28, 28]
    assert data["layers"][7]["output_shape"] == [294]
    assert data["layers"][-1]["output_shape"] == [10]
    for layer in data["layers"]:
        assert set(layer) == {"index", "name", "type", "output_shape", "stats"}
        stats = layer["stats"]
        assert set(stats) == {"min", "max", "mean", "std", "zero_fraction"}
        assert stats["min"] <= stats["mean"] <= stats["max"]
    relu = data["layers"][2]["stats"]
    assert relu["min"] == 0.0 and relu["zero_fraction"] > 0
    top = data["top5"]
    assert len(top) == 5 and [t["probability"] for t in top] == sorted(
        (t["probability"] for t in top), reverse=True
    )
    assert data["predicted"]["index"] == top[0]["index"] == data["target"]["index"]
    assert data["saliency_shape"] == [1, 28, 28]
    assert data["gradcam_layer"] == 5 and data["gradcam_shape"] == [14, 14]
    assert data["input"]["val_index"] == 3 and data["input"]["label_name"] in NAMES


def test_inspect_image_file_with_a_class_and_saved_maps(capsys, checkpoint, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (60, 90, 3), np.uint8)).save(photo)
    maps = tmp_path / "maps"
    code, out, err = _run(
        capsys,
        "inspect",
        "--checkpoint",
        str(checkpoint),
        "--image",
        str(photo),
        "--class",
        "c7",
        "--save-maps",
        str(maps),
    )
    assert code == 0, err
    assert "gradient of the 'c7' score" in out
    names = sorted(p.name for p in maps.iterdir())
    expected = [f"layer_{i:02d}_{type(s).__name__}.png" for i, s in enumerate(ARCH)]
    assert names == sorted(
        [*expected, "input.png", "saliency.png", "grad_x_input.png", "gradcam.png"]
    )
    with Image.open(maps / "layer_00_Conv2d.png") as img:
        assert img.format == "PNG" and img.width >= 2 * 56
    with Image.open(maps / "saliency.png") as img:
        assert img.size == (112, 112)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--val-index", "999"], "--val-index 999 is outside 0..32 (33 validation"),
        (["--val-index", "1", "--class", "sock"], "--class 'sock' is neither"),
        (["--val-index", "1", "--class", "10"], "--class 10 is outside 0..9"),
        (["--image", "/nonexistent/x.png"], "/nonexistent/x.png"),
    ],
)
def test_inspect_bad_input_is_one_line_error(capsys, checkpoint, extra, message):
    code, out, err = _run(capsys, "inspect", "--checkpoint", str(checkpoint), *extra)
    assert code == 1
    assert out == ""
    assert err.strip().startswith("error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_inspect_refuses_a_file_as_the_maps_folder_before_any_work(capsys, checkpoint, tmp_path):
    blocker = tmp_path / "maps"
    blocker.write_text("keep me")
    code, _, err = _run(
        capsys,
        "inspect",
        "--checkpoint",
        str(checkpoint),
        "--val-index",
        "0",
        "--save-maps",
        str(blocker),
    )
    assert code == 1 and "is a file, not a folder" in err
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize("target", [["--class", "2"], ["--channel", "4:5"]])
def test_dream_writes_the_image_and_reports_a_higher_objective(
    capsys, checkpoint, tmp_path, target
):
    out_png = tmp_path / "dream.png"
    code, out, err = _run(
        capsys,
        "dream",
        "--checkpoint",
        str(checkpoint),
        *target,
        "--steps",
        "20",
        "--out",
        str(out_png),
    )
    assert code == 0, err
    assert "one backward pass to the pixels" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("objective ") and f"wrote {out_png}" in last
    before, after = (float(v) for v in last.split()[1:4:2])
    assert after > before
    with Image.open(out_png) as img:
        assert img.size == (112, 112) and img.mode == "L"


def test_dream_usage_errors(capsys, checkpoint, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main.main(["cnn", "dream", "--checkpoint", str(checkpoint), "--class", "1"])
    assert exc.value.code == 2  # --out is required
    with pytest.raises(SystemExit):
        main.main(
            ["cnn", "dream", "--checkpoint", str(checkpoint), "--channel", "x", "--out", "a.png"]
        )
    assert "LAYER:CHANNEL" in capsys.readouterr().err
    code, _, err = _run(
        capsys,
        "dream",
        "--checkpoint",
        str(checkpoint),
        "--channel",
        "0:9",
        "--out",
        str(tmp_path / "d.png"),
    )
    assert code == 1 and "channel 9 is outside 0..3" in err
    assert not (tmp_path / "d.png").exists()
