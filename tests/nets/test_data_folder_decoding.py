"""The folder loader's decoder (reader threads fetching bytes ahead, pixels written in place)
gives exactly what decoding each file alone with ``open_image(path)`` gives (issue 22)."""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nets.data import folder as folder_mod
from nets.errors import ImageError
from nets.images import fit_image, open_image, read_image_bytes

SIZE = 32


def _alone(path: str) -> np.ndarray:
    """One file decoded the way the loader did before reading ahead: from its path."""
    img = fit_image(open_image(path, min_size=SIZE), (SIZE, SIZE))
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"), dtype=np.uint8)


def _reference(paths: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    out = np.zeros((len(paths), SIZE, SIZE, 3), np.uint8)
    ok = np.zeros(len(paths), bool)
    reasons = []
    for i, p in enumerate(paths):
        try:
            out[i] = _alone(p)
            ok[i] = True
        except Exception as exc:
            reasons.append(folder_mod._classify(exc))
    return out, ok, reasons


def _assert_same_as_alone(paths: list[str]) -> None:
    got, ok, reasons = folder_mod.decode_chunk(paths, SIZE)
    want, want_ok, want_reasons = _reference(paths)
    np.testing.assert_array_equal(ok, want_ok)
    np.testing.assert_array_equal(got, want)
    assert reasons == want_reasons


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 3 files over 2 reader threads, so a short list spans many blocks."""
    monkeypatch.setattr(folder_mod, "_READ_BLOCK", 3)
    monkeypatch.setattr(folder_mod, "_READERS", 2)


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def test_every_kind_of_file_decodes_as_it_does_alone(tmp_path: Path, small_reads: None) -> None:
    rng = np.random.default_rng(1)

    def noise(w: int, h: int) -> Image.Image:
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))

    turned = Image.Exif()
    turned[0x0112] = 6
    good = _jpeg(noise(32, 32), quality=90)
    files = {
        "cifar.jpg": good,
        "gray.jpg": _jpeg(noise(32, 32).convert("L")),
        "wide.jpg": _jpeg(noise(120, 80)),  # cropped and resized
        "large.jpg": _jpeg(noise(400, 300)),  # DCT draft at 1/8
        "cmyk.jpg": _jpeg(noise(40, 40).convert("CMYK")),
        "turned.jpg": _jpeg(noise(60, 40), exif=turned.tobytes()),
        "progressive.jpg": _jpeg(noise(48, 48), progressive=True),
        "truncated.jpg": good[: len(good) // 2],
        "text.jpg": b"this is text, not a JPEG",
        "empty.jpg": b"",
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    alpha = tmp_path / "alpha.png"
    Image.new("RGBA", (32, 32), (10, 200, 30, 100)).save(alpha)
    paths.append(str(alpha))
    (tmp_path / "folder.jpg").mkdir()
    paths.append(str(tmp_path / "folder.jpg"))
    paths.append(str(tmp_path / "vanished.jpg"))  # listed, then deleted before decoding
    _assert_same_as_alone(paths)
    assert folder_mod.decode_chunk(paths, SIZE)[1].sum() == 8


def test_a_bad_file_read_ahead_gets_the_same_one_line_message_naming_it(tmp_path: Path) -> None:
    cases = {"text.jpg": b"plain text", "half.jpg": _jpeg(Image.new("RGB", (64, 64)))[:300]}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError) as alone:
            _alone(str(path))
        with pytest.raises(ImageError) as ahead:
            open_image(read_image_bytes(path), min_size=SIZE, name=str(path))
        assert str(ahead.value) == str(alone.value)
        assert str(path) in str(ahead.value) and "\n" not in str(ahead.value)
    with pytest.raises(ImageError, match="it is a folder") as folder:
        read_image_bytes(tmp_path)
    assert str(folder.value) == f"cannot open {tmp_path}: it is a folder, not an image file"


@pytest.mark.data
def test_real_cifar_and_imagenet_jpegs_decode_as_they_do_alone(
    shared_data: Path, tmp_path: Path, small_reads: None
) -> None:
    tarball = shared_data / "cifar10-train-jpeg.tar.gz"
    if not tarball.is_file():
        pytest.skip(f"{tarball} is absent")
    taken: Counter[str] = Counter()
    paths = []
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or taken[parts[-2]] >= 20:
                continue
            data = tar.extractfile(member)
            assert data is not None
            target = tmp_path / parts[-2] / parts[-1]
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data.read())
            paths.append(str(target))
            taken[parts[-2]] += 1
    photos = shared_data / "imagenet-samples"
    paths += sorted(str(p) for p in photos.glob("*.JPEG"))[:10]
    assert len(paths) >= 100
    _assert_same_as_alone(paths)


@pytest.mark.parametrize(("file_bytes", "most_ahead"), [(100_000, 4), (1_000, 2 * 4 * 8 + 8)])
def test_reading_ahead_holds_about_the_budget_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_bytes: int, most_ahead: int
) -> None:
    """300 KB of budget: 100 KB files go one per task, at most three ahead of the one
    being decoded; 1 KB files go in blocks of 8, at most two blocks per reader ahead."""
    monkeypatch.setattr(folder_mod, "_READERS", 4)
    monkeypatch.setattr(folder_mod, "_READ_AHEAD_BYTES", 300_000)
    paths = []
    for i in range(120):
        path = tmp_path / f"{i:03}.bin"
        path.write_bytes(bytes([i]) * file_bytes)
        paths.append(str(path))
    real = folder_mod._read_block
    read = []

    def counted(block: list[str]) -> list[bytes | Exception]:
        blobs = real(block)
        read.extend(block)  # list.extend is atomic under the GIL
        return blobs

    monkeypatch.setattr(folder_mod, "_read_block", counted)
    worst = 0
    for taken, data in enumerate(folder_mod._read_ahead(paths)):
        assert data == bytes([taken]) * file_bytes  # in order, whole
        worst = max(worst, len(read) - taken)
    assert len(read) == 120 and worst <= most_ahead
