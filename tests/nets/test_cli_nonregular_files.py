"""Every command-line opener and writer refuses what is not a regular file: a FIFO never
blocks, a device node is never replaced by a regular file, a symlink is written through."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
F3 = ROOT / "assets" / "graphs" / "f3.json"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    # A subprocess with a timeout: a FIFO that blocks fails the test instead of hanging it.
    return subprocess.run(
        [sys.executable, "-m", "main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in proc.stderr


@pytest.mark.parametrize(
    "argv, name",
    [
        (("graph", "eval", "{f}"), "fifo.py"),
        (("mlp", "test", "--checkpoint", "{f}", "--data", "fashion-mnist"), "fifo.npz"),
        (("cnn", "test", "--checkpoint", "{f}", "--data", "fashion-mnist"), "fifo.pt"),
        (("cnn", "train", "--arch", "{f}", "--data", "fashion-mnist"), "fifo.json"),
        (("classify", "{f}", "--json"), "fifo.jpg"),
    ],
)
def test_a_fifo_given_as_input_is_refused_at_once(tmp_path: Path, argv, name) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    proc = _run(*(a.format(f=fifo) for a in argv))
    if argv[0] == "classify":  # a batch reports each file in its result and exits 1
        assert proc.returncode == 1 and "FIFO" in proc.stdout + proc.stderr
        return
    _one_line_error(proc, str(fifo), "FIFO")


def test_graph_export_does_not_replace_a_device_node(tmp_path: Path) -> None:
    node = tmp_path / "x"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    proc = _run("graph", "export", str(F3), "--to", "py", "--out", str(node))
    _one_line_error(proc, "it is a device")
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_graph_export_refuses_a_fifo_and_writes_through_a_symlink(tmp_path: Path) -> None:
    fifo = tmp_path / "out.py"
    os.mkfifo(fifo)
    _one_line_error(_run("graph", "export", str(F3), "--to", "py", "--out", str(fifo)), "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real = tmp_path / "real.py"
    real.write_text("old")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    proc = _run("graph", "export", str(F3), "--to", "py", "--out", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and "def " in real.read_text()
