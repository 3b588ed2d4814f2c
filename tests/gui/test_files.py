"""gui/files.py: atomic writes and PNG encoding shared by every export."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage

from gui.files import atomic_write_bytes, png_bytes


def test_png_bytes_round_trips_an_image():
    image = QImage(7, 5, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 200, 30))
    data = png_bytes(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    back = QImage.fromData(data, "PNG")
    assert (back.width(), back.height()) == (7, 5)
    assert back.pixelColor(3, 2) == QColor(10, 200, 30)


def test_png_bytes_of_an_empty_image_is_an_os_error():
    with pytest.raises(OSError, match="PNG"):
        png_bytes(QImage())


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_keeps_the_users_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        written = atomic_write_bytes(tmp_path / "plot.png", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from gui.files import atomic_write

    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail(_f):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
