"""Screenshot mode and --open never wait for a person, never crash on a worker still
running, never refuse to start over a bad file, and never damage an existing file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "gui", *args],
        capture_output=True,
        text=True,
        timeout=120,  # a hidden "discard changes?" dialog would hang here
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )


def test_a_program_opened_for_a_screenshot_does_not_wait_for_discard_changes(
    tmp_path: Path,
) -> None:
    program = tmp_path / "prog.py"
    program.write_text("a = 2.0\nb = -3.0\nc = a * b\nd = c.relu()\n")
    shot = tmp_path / "s.png"
    result = _run("--open", str(program), "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_a_graph_file_nested_too_deeply_opens_the_window_and_is_reported(tmp_path: Path) -> None:
    f3 = json.loads((ROOT / "assets" / "graphs" / "f3.json").read_text())
    f3["meta"] = {"note": "@"}
    text = json.dumps(f3).replace('"@"', "[" * 900 + "]" * 900)
    assert text.count("[") >= 900
    bad = tmp_path / "deep.json"
    bad.write_text(text)
    shot = tmp_path / "s.png"
    result = _run("--open", str(bad), "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    assert shot.exists() and "Traceback" not in result.stderr


def test_a_screenshot_over_a_fifo_is_refused_and_the_fifo_kept(tmp_path: Path) -> None:
    fifo = tmp_path / "s.png"
    os.mkfifo(fifo)
    result = _run("--screenshot", str(fifo))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "FIFO" in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_screenshot_keeps_an_existing_files_mode(tmp_path: Path) -> None:
    shot = tmp_path / "s.png"
    shot.write_bytes(b"old")
    shot.chmod(0o640)
    assert _run("--screenshot", str(shot)).returncode == 0
    assert stat.S_IMODE(shot.stat().st_mode) == 0o640
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_a_checkpoint_opened_in_the_cnn_tab_for_a_screenshot_joins_its_loader(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "m.pt"
    bad.write_bytes(b"PK\x03\x04" + bytes(100))
    result = _run("--tab", "cnn", "--open", str(bad), "--screenshot", str(tmp_path / "s.png"))
    assert result.returncode == 0, result.stderr
    assert "QThread" not in result.stderr


def test_an_unknown_tab_is_one_line_without_stray_quotes(tmp_path: Path) -> None:
    result = _run("--tab", "nope", "--screenshot", str(tmp_path / "s.png"))
    assert result.returncode in (1, 2)
    assert result.stderr.count("\n") <= 2 and '"' not in result.stderr
