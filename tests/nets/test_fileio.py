"""The shared file mechanism: what an atomic write refuses, follows and keeps, and what
the regular-file opener refuses before reading."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nets import fileio
from nets.errors import CheckpointError, NetsError


class _Err(NetsError):
    pass


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return path


def test_a_fifo_target_is_refused_and_stays_a_fifo(tmp_path: Path) -> None:
    target = _fifo(tmp_path / "x.npz")
    with pytest.raises(_Err, match=r"cannot write .*x\.npz: it is a FIFO"):
        fileio.atomic_write_bytes(target, b"data", _Err)
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_a_socket_and_a_folder_target_are_refused(tmp_path: Path) -> None:
    sock = _socket(tmp_path / "s.png")
    with pytest.raises(_Err, match="it is a socket"):
        fileio.atomic_write_bytes(sock, b"data", _Err)
    (tmp_path / "d.png").mkdir()
    with pytest.raises(_Err, match="it is a folder"):
        fileio.atomic_write_bytes(tmp_path / "d.png", b"data", _Err)
    assert (tmp_path / "d.png").is_dir()


def test_a_device_target_is_refused_and_stays_a_device() -> None:
    # /dev/null is the device a root user could destroy by renaming over it.
    with pytest.raises(_Err, match="it is a device"):
        fileio.atomic_write_bytes("/dev/null", b"data", _Err)
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_symlink_target_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    fileio.atomic_write_bytes(link, b"new", _Err)
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_an_existing_file_keeps_its_mode_and_a_read_only_one_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")
    target.chmod(0o640)
    fileio.atomic_write_bytes(target, b"new", _Err)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    target.chmod(0o444)
    with pytest.raises(_Err, match="the file is read-only"):
        fileio.atomic_write_bytes(target, b"newer", _Err)
    assert target.read_bytes() == b"new"
    fileio.atomic_write_bytes(target, b"newer", _Err, allow_read_only=True)
    assert target.read_bytes() == b"newer"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444


def test_a_new_file_gets_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        fileio.atomic_write_bytes(tmp_path / "new.bin", b"x", _Err)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o644


def test_temporary_files_of_a_dead_process_are_removed_on_the_next_write(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".log.json.{pid}.0123abcd.tmp"
    stale.write_bytes(b"half")
    mine = tmp_path / f".log.json.{os.getpid()}.0123abcd.tmp"
    mine.write_bytes(b"in use")
    other = tmp_path / ".other.json.1.0123abcd.tmp"
    other.write_bytes(b"not ours")
    fileio.atomic_write_bytes(tmp_path / "log.json", b"{}", _Err)
    assert not stale.exists()
    assert mine.exists() and other.exists()


def test_process_alive_knows_this_process_a_running_one_and_a_finished_one() -> None:
    assert fileio.process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        assert fileio.process_alive(child.pid)
    finally:
        child.communicate(b"")
    assert not fileio.process_alive(child.pid)  # reaped: no such process any more
    assert not fileio.process_alive(10**30)  # no process can have it (a forged file name)


def test_a_temporary_file_named_with_an_impossible_pid_does_not_stop_a_write(
    tmp_path: Path,
) -> None:
    forged = tmp_path / f".log.json.{10**30}.0123abcd.tmp"
    forged.write_bytes(b"half")
    fileio.atomic_write_bytes(tmp_path / "log.json", b"{}", _Err)
    assert (tmp_path / "log.json").read_bytes() == b"{}" and not forged.exists()


def test_check_writable_refuses_a_forbidden_folder_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(_Err, match="the folder does not exist"):
        fileio.check_writable(tmp_path / "missing" / "m.npz", _Err, "save")
    fileio.check_writable(tmp_path / "m.npz", _Err, "save")
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_is_refused_for_reading_without_blocking(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path / "f.pt")
    result: list[BaseException] = []

    def read() -> None:
        try:
            fileio.read_regular(fifo, CheckpointError, "checkpoint")
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "opening a FIFO blocked"
    assert isinstance(result[0], CheckpointError)
    assert "it is a FIFO (named pipe), not a checkpoint" in str(result[0])


def test_a_symlink_to_a_fifo_and_a_device_are_refused_for_reading(tmp_path: Path) -> None:
    link = tmp_path / "x.jpg"
    link.symlink_to(_fifo(tmp_path / "pipe"))
    with pytest.raises(_Err, match="it is a FIFO"):
        fileio.read_regular(link, _Err, "image file")
    with pytest.raises(_Err, match="it is a device"):
        fileio.read_regular("/dev/zero", _Err, "image file")


def test_a_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(10 << 20)  # sparse: nothing to read
    with pytest.raises(_Err, match="10.0 MB is larger than the 1.0 MB an architecture"):
        fileio.read_regular(big, _Err, "architecture file", 1 << 20)


def test_read_regular_returns_the_whole_file_at_every_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 1023, 4096, 70_000, 300_000):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        path = tmp_path / f"{size}.bin"
        path.write_bytes(data)
        assert fileio.read_regular(path, _Err) == data
        assert fileio.read_regular(path, _Err, "file", max(size, 1)) == data


def test_a_file_that_grew_after_its_size_was_taken_is_read_whole_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "grows.bin"
    data = bytes(range(256)) * 400  # 102,400 bytes, though fstat will say 10
    path.write_bytes(data)
    real = os.fstat

    def stale(fd: int) -> os.stat_result:
        st = list(real(fd))
        st[stat.ST_SIZE] = 10
        return os.stat_result(st)

    monkeypatch.setattr(fileio.os, "fstat", stale)
    assert fileio.read_regular(path, _Err) == data
    assert fileio.read_regular(path, _Err, "file", 200_000) == data
    with pytest.raises(_Err, match="grows.bin: larger than 48.8 KB"):
        fileio.read_regular(path, _Err, "file", 50_000)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")), deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_fuzz_shown_names_are_one_printable_line(name: str) -> None:
    text = fileio.shown(name)
    assert "\n" not in text and "\r" not in text
    text.encode("utf-8")  # never a lone surrogate


def test_fuzz_undecodable_file_names_print_escaped() -> None:
    name = os.fsdecode(b"caf\xff\ne.jpg")
    assert fileio.shown(name) == "caf\\udcff\\ne.jpg"


def test_the_apps_folders_are_in_the_user_data_folder_unless_the_environment_names_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from nets.data.spec import data_home
    from nets.search.storage import studies_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for variable in ("BACKPROP_EXPLORER_DATA", "BACKPROP_EXPLORER_STUDIES"):
        monkeypatch.delenv(variable, raising=False)
    assert data_home() == tmp_path / "xdg" / "backprop-explorer" / "datasets"
    assert studies_dir() == tmp_path / "xdg" / "backprop-explorer" / "studies"
    monkeypatch.setenv("BACKPROP_EXPLORER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BACKPROP_EXPLORER_STUDIES", str(tmp_path / "studies"))
    assert data_home() == tmp_path / "data"
    assert studies_dir() == tmp_path / "studies"
