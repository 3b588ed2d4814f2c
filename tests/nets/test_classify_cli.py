"""``backprop-explorer classify``: JSON and text output, error entries, exit codes."""

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
from tests.nets.process_fixtures import imported_by


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _photo_file(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


def test_json_lists_every_file_and_exit_1_when_one_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _photo_file(tmp_path / "good.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    missing = tmp_path / "missing.png"
    code = main.main(["classify", str(good), str(text), str(missing), "--topk", "3", "--json"])
    out = capsys.readouterr().out
    entries = json.loads(out)
    assert code == 1
    assert [e["path"] for e in entries] == [str(good), str(text), str(missing)]
    assert set(entries[0]) == {"path", "top"} and len(entries[0]["top"]) == 3
    for top in entries[0]["top"]:
        assert set(top) == {"index", "label", "prob"}
        assert isinstance(top["index"], int) and 0 <= top["index"] < 1000
        assert isinstance(top["label"], str) and 0.0 <= top["prob"] <= 1.0
    probs = [t["prob"] for t in entries[0]["top"]]
    assert probs == sorted(probs, reverse=True)
    assert set(entries[1]) == {"path", "error"} and "text" in entries[1]["error"]
    assert "no such file" in entries[2]["error"]


def test_text_output_and_exit_0_for_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        _photo_file(folder / f"p{i}.jpg", seed=i)
    (folder / "readme.txt").write_text("ignored: not an image name")
    assert main.main(["classify", str(folder)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == str(folder / "p0.jpg") and lines[6] == str(folder / "p1.jpg")
    assert lines[1].startswith("  1. ") and lines[5].startswith("  5. ") and "%" in lines[1]
    assert captured.err == ""


def test_human_output_reports_failures_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    assert main.main(["classify", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[0].startswith(f"error: {bad}: ")
    assert "1 of 1" in captured.err


@pytest.mark.parametrize(
    "extra", [["--topk", "0"], ["--topk", "abc"], ["--topk", "1001"], ["--model", "alexnet"]]
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main.main(["classify", str(tmp_path), *extra])
    assert excinfo.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_bad_weights_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "mine.pt"
    weights.write_bytes(b"not torch")
    photo = _photo_file(tmp_path / "p.jpg")
    assert main.main(["classify", str(photo), "--weights", str(weights)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "corrupted" in err and "\n" not in err


def test_cli_module_import_does_not_import_torch() -> None:
    assert not imported_by("import nets.pretrained.cli", "torch", timeout=60)
