"""Command-line output with hostile file names, closed streams, Ctrl-C and out-of-range
options: escaped names, honest exit codes, and no test run recorded unreported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import main

ROOT = Path(__file__).resolve().parents[2]
F3 = ROOT / "assets" / "graphs" / "f3.json"


def _run(*argv: str, shell_suffix: str = "", **env: str) -> subprocess.CompletedProcess[bytes]:
    cmd = " ".join([sys.executable, "-m", "main", *(f"'{a}'" for a in argv)]) + shell_suffix
    return subprocess.run(
        ["sh", "-c", cmd],
        capture_output=True,
        timeout=180,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_undecodable_and_multiline_names_are_printed_escaped_in_a_whole_batch(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    odd = os.fsencode(folder) + b"/caf\xff.png"
    with open(odd, "wb") as f:
        f.write(b"not an image")
    (folder / "two\nlines.png").write_bytes(b"not an image either")
    good = folder / "ok.png"
    Image.new("RGB", (64, 64), (120, 30, 200)).save(good)
    proc = _run("classify", str(folder), "--json", PYTHONIOENCODING="utf-8")
    assert proc.returncode == 1  # two files could not be classified; the batch went on
    assert b"Traceback" not in proc.stderr
    entries = json.loads(proc.stdout.decode("utf-8"))  # strict UTF-8: no lone surrogate
    paths = [e["path"] for e in entries]
    assert len(entries) == 3
    assert any(p.endswith("caf\\udcff.png") for p in paths)
    assert any(p.endswith("two\\nlines.png") for p in paths)
    text = _run("classify", str(folder), PYTHONIOENCODING="utf-8")
    for line in text.stderr.decode("utf-8").splitlines():
        assert line.startswith(("error: ", "2 of 3", "loading", "\r")) or not line.strip()


@pytest.mark.parametrize(
    "option",
    [
        ("--lr", "1e30"),
        ("--batch-size", "1000000000"),
        ("--threads", "100000"),
        ("--momentum", "2"),
    ],
)
def test_out_of_range_cnn_options_are_usage_errors_like_the_numpy_nets(capsys, option) -> None:
    with pytest.raises(SystemExit) as exc:
        main.main(["cnn", "train", "--data", "fashion-mnist", *option])
    assert exc.value.code == 2
    assert f"{option[0]} must be at most" in capsys.readouterr().err


def test_a_closed_stdout_is_an_error_not_a_silent_success() -> None:
    proc = _run("graph", "eval", str(F3), shell_suffix=" >&-")
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("error: standard output is closed")


def test_a_second_ctrl_c_while_the_first_is_handled_keeps_exit_status_130(monkeypatch) -> None:
    import argparse

    def interrupted(_args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    parser = main.build_parser()
    args = parser.parse_args(["graph", "eval", str(F3)])
    args.handler = interrupted
    monkeypatch.setattr(
        main, "build_parser", lambda: type("P", (), {"parse_args": lambda s, a: args})()
    )
    # As the process runs it (arguments from sys.argv): Ctrl-C stays ignored while the
    # process ends. A command run in-process with main(argv) puts the handlers back
    # (test_sigterm_leaves_no_temporary_files).
    monkeypatch.setattr(sys, "argv", ["main.py", "graph", "eval", str(F3)])
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main.main() == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_test_run_that_could_not_be_reported_is_not_recorded(tmp_path: Path) -> None:
    from nets.mlp.checkpoint import load_checkpoint

    root = tmp_path / "data"
    for split, n in (("train", 12), ("test", 3)):
        for k, colour in enumerate(((200, 0, 0), (0, 200, 0))):
            (root / split / f"c{k}").mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (32, 32), colour).save(root / split / f"c{k}" / f"{i}.png")
    ckpt = tmp_path / "m.npz"
    trained = _run(
        "mlp",
        "train",
        "--data",
        f"folder:{root}",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--hidden-dim",
        "8",
        "--num-val",
        "4",
        "--save",
        str(ckpt),
    )
    assert trained.returncode == 0, trained.stderr
    proc = _run(
        "mlp", "test", "--checkpoint", str(ckpt), "--data", f"folder:{root}", shell_suffix=" >&-"
    )
    assert proc.returncode == 1
    assert not load_checkpoint(ckpt).test.used
    reported = _run("mlp", "test", "--checkpoint", str(ckpt), "--data", f"folder:{root}")
    assert reported.returncode == 0 and load_checkpoint(ckpt).test.used
