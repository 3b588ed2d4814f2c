"""``backprop-explorer classify --explain`` and ``--attack``: JSON, files, refusals."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import main


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _photo_file(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(base).resize((320, 240), Image.Resampling.BICUBIC).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    code = main.main(["classify", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_explain_json_with_the_delta_and_the_saved_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _photo_file(tmp_path / "photo.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    maps = tmp_path / "maps"
    code, entries = _run(
        capsys,
        str(photo),
        str(text),
        "--explain",
        "integrated_gradients",
        "--ig-steps",
        "4",
        "--target",
        "tiger cat",
        "--save-map",
        str(maps),
    )
    assert code == 1  # the text file failed; the photo went on
    explained = entries[0]["explain"]
    assert set(explained) >= {"method", "target", "delta", "file"}
    assert explained["method"] == "integrated_gradients" and explained["target"] == 282
    assert explained["target_label"] == "tiger cat"
    assert isinstance(explained["delta"], float)
    saved = Path(explained["file"])
    assert saved.parent == maps and saved.name == "photo_integrated_gradients.png"
    with Image.open(saved) as img:
        assert img.format == "PNG" and img.size == (224, 224)
    assert set(entries[1]) == {"path", "error"}


def test_explain_without_a_target_explains_the_top1_and_has_no_delta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _photo_file(tmp_path / "photo.jpg", seed=1)
    code, entries = _run(capsys, str(photo), "--explain", "gradcam", "--topk", "3")
    assert code == 0 and len(entries[0]["top"]) == 3
    explained = entries[0]["explain"]
    assert explained["target"] == entries[0]["top"][0]["index"]
    assert explained["delta"] is None and explained["file"] is None


def test_attack_json_is_judged_on_the_png_read_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [_photo_file(tmp_path / "p0.jpg")]
    out = tmp_path / "adv"
    code, entries = _run(
        capsys, *map(str, photos), "--attack", "fgsm", "--epsilon", "8/255", "--save-adv", str(out)
    )
    assert code == 0
    for photo, entry in zip(photos, entries, strict=True):
        attacked = entry["attack"]
        assert set(attacked) >= {
            "method",
            "epsilon",
            "before",
            "after",
            "flipped",
            "reached_target",
            "file",
        }
        assert attacked["method"] == "fgsm" and attacked["epsilon"] == pytest.approx(8 / 255)
        assert attacked["before"] == entry["top"]
        assert attacked["flipped"] == (attacked["after"][0]["index"] != entry["top"][0]["index"])
        assert attacked["reached_target"] is False and attacked["target"] is None
        assert attacked["linf_levels"] <= 8
        saved = Path(attacked["file"])
        assert saved.parent == out and saved.stem.startswith(photo.stem)
        # Classified again as a plain file, the PNG gives exactly the reported "after".
        _code, again = _run(capsys, str(saved))
        assert again[0]["top"] == attacked["after"]


def test_targeted_pgd_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _photo_file(tmp_path / "photo.jpg", seed=2)
    _code, first = _run(capsys, str(photo))
    runner_up = first[0]["top"][1]["index"]
    code, entries = _run(
        capsys,
        str(photo),
        "--attack",
        "pgd",
        "--epsilon",
        "0.0157",
        "--steps",
        "5",
        "--target",
        str(runner_up),
    )
    attacked = entries[0]["attack"]
    assert code == 0 and attacked["target"] == runner_up and attacked["steps"] == 5
    assert attacked["reached_target"] == (attacked["after"][0]["index"] == runner_up)
    assert attacked["reached_target"] and attacked["file"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--save-map", "maps"], "--save-map needs --explain"),
        (["--save-adv", "adv"], "--save-adv needs --attack"),
        (["--target", "5"], "--target needs"),
        (["--explain", "saliency", "--target", "cat"], "several classes"),
        (["--attack", "fgsm", "--target", "unicorn"], "no ImageNet class"),
    ],
)
def test_bad_lab_options_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    photo = _photo_file(tmp_path / "photo.jpg")
    before = sorted(tmp_path.iterdir())
    code = main.main(["classify", str(photo), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: ") and message in err and "\n" not in err
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "extra",
    [
        ["--attack", "fgsm", "--epsilon", "17/255"],
        ["--attack", "fgsm", "--epsilon", "x"],
        ["--attack", "bim"],
        ["--explain", "lime"],
        ["--attack", "pgd", "--steps", "0"],
    ],
)
def test_lab_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main.main(["classify", str(tmp_path), *extra])
    assert excinfo.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_save_folder_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _photo_file(tmp_path / "photo.jpg")
    blocker = tmp_path / "adv"
    blocker.write_text("a file")
    code = main.main(["classify", str(photo), "--attack", "fgsm", "--save-adv", str(blocker)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "not a folder" in err and blocker.read_text() == "a file"
