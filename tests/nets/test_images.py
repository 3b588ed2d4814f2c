"""nets.images.open_image: every bad or unusual image built here with Pillow, then fuzzed."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nets.errors import ImageError
from nets.images import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    image_to_array,
    is_image_path,
    open_image,
    to_rgb,
)
from tests.conftest import fuzz_examples


def _encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _assert_one_line_error(excinfo: pytest.ExceptionInfo[ImageError], name: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    assert name in message
    return message


# --- ordinary images ---------------------------------------------------------------


def test_rgb_jpeg_from_path_and_from_bytes(tmp_path: Path) -> None:
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :15] = (250, 10, 10)
    data = _encode(Image.fromarray(pixels), "JPEG", quality=95)
    path = _write(tmp_path / "photo.jpg", data)
    for source in (path, str(path), data):
        img = open_image(source)
        assert img.mode == "RGB"
        assert img.size == (30, 20)
        arr = np.asarray(img)
        assert arr[10, 2, 0] > 200 and arr[10, 28, 0] < 50


def test_one_by_one_pixel(tmp_path: Path) -> None:
    path = _write(tmp_path / "dot.png", _encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    img = open_image(path)
    assert img.size == (1, 1)
    assert img.getpixel((0, 0)) == (1, 2, 3)


def test_png_named_jpg_is_opened_by_its_content(tmp_path: Path) -> None:
    path = _write(tmp_path / "really_a_png.jpg", _encode(Image.new("RGB", (4, 4), "red"), "PNG"))
    assert open_image(path).getpixel((0, 0)) == (255, 0, 0)


def test_min_size_decodes_big_jpeg_at_reduced_scale(tmp_path: Path) -> None:
    big = Image.fromarray(np.full((800, 1200, 3), 128, np.uint8))
    path = _write(tmp_path / "big.jpg", _encode(big, "JPEG"))
    full = open_image(path)
    small = open_image(path, min_size=224)
    assert full.size == (1200, 800)
    assert small.size[0] < 1200 and min(small.size) >= 224


# --- every Pillow mode -> RGB --------------------------------------------------------


def test_mode_1_and_l(tmp_path: Path) -> None:
    bw = Image.new("1", (8, 8), 1)
    bw.putpixel((0, 0), 0)
    img = open_image(_write(tmp_path / "bw.png", _encode(bw, "PNG")))
    assert img.getpixel((0, 0)) == (0, 0, 0) and img.getpixel((1, 1)) == (255, 255, 255)
    gray = Image.new("L", (4, 4), 77)
    assert open_image(_encode(gray, "PNG")).getpixel((2, 2)) == (77, 77, 77)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 32768, 65535]], dtype=np.uint16)
    img16 = Image.fromarray(values)
    path = _write(tmp_path / "deep.png", _encode(img16, "PNG"))
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really stored and read as 16-bit
    img = open_image(path)
    assert [img.getpixel((x, 0))[0] for x in range(4)] == [0, 100, 128, 255]


def test_32_bit_integer_and_float_tiff(tmp_path: Path) -> None:
    wide = Image.fromarray(np.array([[0, 1000, 65535]], dtype=np.int32))
    img = open_image(_write(tmp_path / "wide.tif", _encode(wide, "TIFF")))
    assert [img.getpixel((x, 0))[0] for x in range(3)] == [0, 4, 255]
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    img = open_image(_write(tmp_path / "float.tif", _encode(unit, "TIFF")))
    assert [img.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]
    odd = Image.fromarray(np.array([[-5.0, np.nan, 5.0]], dtype=np.float32))
    img = open_image(_write(tmp_path / "odd.tif", _encode(odd, "TIFF")))
    assert img.getpixel((0, 0))[0] == 0 and img.getpixel((2, 0))[0] == 255


def test_cmyk_jpeg_and_tiff(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (6, 6), (0, 0, 0, 0))  # no ink: white paper
    cmyk.putpixel((0, 0), (0, 255, 255, 0))  # magenta + yellow: red
    for fmt, suffix in (("JPEG", ".jpg"), ("TIFF", ".tif")):
        img = open_image(_write(tmp_path / f"cmyk{suffix}", _encode(cmyk, fmt, quality=100)))
        assert img.mode == "RGB"
        r, g, b = img.getpixel((5, 5))
        assert min(r, g, b) > 240
        if fmt == "TIFF":
            assert img.getpixel((0, 0)) == (255, 0, 0)


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    img = open_image(_write(tmp_path / "alpha.png", _encode(rgba, "PNG")))
    assert img.getpixel((0, 0)) == (255, 0, 0)
    assert img.getpixel((3, 3)) == (255, 255, 255)
    la = Image.new("LA", (2, 2), (0, 0))
    la.putpixel((0, 0), (0, 255))
    img = open_image(_encode(la, "PNG"))
    assert img.getpixel((0, 0)) == (0, 0, 0) and img.getpixel((1, 1)) == (255, 255, 255)


def test_palette_with_transparency(tmp_path: Path) -> None:
    pal = Image.new("P", (3, 1))
    pal.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.putpixel((2, 0), 1)
    for fmt in ("PNG", "GIF"):
        img = open_image(_encode(pal, fmt, transparency=0))
        assert img.getpixel((0, 0)) == (255, 255, 255), fmt
        assert img.getpixel((1, 0)) == (0, 255, 0), fmt


def test_to_rgb_handles_in_memory_modes() -> None:
    for mode in ("1", "L", "P", "RGB", "RGBA", "LA", "PA", "CMYK", "YCbCr", "HSV", "RGBX", "I"):
        img = Image.new(mode, (3, 2))
        out = to_rgb(img)
        assert out.mode == "RGB" and out.size == (3, 2), mode
    assert to_rgb(Image.new("I;16", (2, 2), 65535)).getpixel((0, 0)) == (255, 255, 255)


# --- animation and orientation ---------------------------------------------------------


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (5, 5), colour) for colour in ("red", "blue", "green")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    path = _write(tmp_path / "anim.gif", buf.getvalue())
    with Image.open(path) as check:
        assert check.n_frames == 3
    img = open_image(path)
    assert img.mode == "RGB" and img.getpixel((2, 2)) == (255, 0, 0)
    # The returned frame is detached from the (closed) file: it can be used freely.
    assert img.resize((2, 2)).getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("orientation", "size", "red_at"),
    [
        (1, (40, 20), (2, 10)),
        (3, (40, 20), (37, 10)),
        (6, (20, 40), (10, 2)),
        (8, (20, 40), (10, 37)),
    ],
)
def test_exif_orientation_is_applied(
    tmp_path: Path, orientation: int, size: tuple[int, int], red_at: tuple[int, int]
) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red, as stored in the file
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(Image.fromarray(pixels), "JPEG", quality=95, exif=exif.tobytes())
    img = open_image(_write(tmp_path / f"rot{orientation}.jpg", data))
    assert img.size == size
    r, _, b = img.getpixel(red_at)
    assert r > 200 and b < 60


@pytest.mark.parametrize("carrier", ["jpeg-xmp", "png-exif", "webp-exif", "tiff-tag"])
def test_orientation_is_found_wherever_the_format_keeps_it(tmp_path: Path, carrier: str) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    picture = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description tiff:Orientation="6"/>'
    fmt, options = {
        "jpeg-xmp": ("JPEG", {"xmp": xmp + b"</rdf:RDF></x:xmpmeta>", "quality": 95}),
        "png-exif": ("PNG", {"exif": exif.tobytes()}),
        "webp-exif": ("WEBP", {"exif": exif.tobytes(), "lossless": True}),
        "tiff-tag": ("TIFF", {"exif": exif.tobytes()}),
    }[carrier]
    img = open_image(_write(tmp_path / f"turned.{fmt.lower()}", _encode(picture, fmt, **options)))
    assert img.size == (20, 40)
    r, _, b = img.getpixel((10, 2))
    assert r > 200 and b < 60


# --- refusals ----------------------------------------------------------------------------


def test_header_only_bomb_20000_square_is_refused_before_decoding(tmp_path: Path) -> None:
    path = _write(tmp_path / "bomb.png", _header_only_png(20_000, 20_000))
    with pytest.raises(ImageError) as excinfo:
        open_image(path)
    message = _assert_one_line_error(excinfo, "bomb.png")
    assert "too large" in message


def test_pixel_cap_is_checked_from_the_header(tmp_path: Path) -> None:
    # 3000 x 3000 claimed, the pixel data missing: refused by the cap, not as "truncated".
    path = _write(tmp_path / "claims.png", _header_only_png(3000, 3000))
    with pytest.raises(ImageError, match="too large.*limit is 5"):
        open_image(path, max_pixels=5_000_000)
    with pytest.raises(ImageError, match="truncated|corrupt"):
        open_image(path)  # under the default cap it is decoded and found truncated
    assert MAX_PIXELS < 20_000 * 20_000


def test_pillow_bomb_warning_becomes_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "medium.png", _encode(Image.new("RGB", (40, 30)), "PNG"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1200 px: Pillow only warns
    with pytest.raises(ImageError) as excinfo:
        open_image(path, max_pixels=10**9)
    assert "decompression bomb" in _assert_one_line_error(excinfo, "medium.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # over twice the limit: Pillow errors
    with pytest.raises(ImageError, match="decompression bomb"):
        open_image(path, max_pixels=10**9)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"])
def test_truncated_images(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = _encode(noisy.convert("P") if fmt == "GIF" else noisy, fmt)
    path = _write(tmp_path / f"cut.{fmt.lower()}", data[: len(data) // 2])
    with pytest.raises(ImageError) as excinfo:
        open_image(path)
    _assert_one_line_error(excinfo, f"cut.{fmt.lower()}")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"hello, I am a text file\n", "text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"PK\x03\x04" + bytes(40), "ZIP"),
        (b"<html><body>404</body></html>", "HTML"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "PostScript"),
        (bytes(range(256)) * 4, "not an image"),
    ],
)
def test_files_named_jpg_that_are_something_else(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = _write(tmp_path / "holiday.jpg", content)
    with pytest.raises(ImageError) as excinfo:
        open_image(path)
    assert expected in _assert_one_line_error(excinfo, "holiday.jpg")


def test_missing_file_folder_and_wrong_type(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such image file"):
        open_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        open_image(tmp_path)
    with pytest.raises(ImageError, match="path or bytes"):
        open_image(42)  # type: ignore[arg-type]


def test_bytes_source_uses_given_name_and_name_is_one_line() -> None:
    with pytest.raises(ImageError) as excinfo:
        open_image(b"not an image", name="clipboard")
    assert str(excinfo.value).startswith("clipboard: ")
    with pytest.raises(ImageError) as excinfo:
        open_image(b"junk", name="two\nlines.jpg")
    assert "\n" not in str(excinfo.value)


# --- helpers -----------------------------------------------------------------------------


def test_image_to_array_shapes() -> None:
    img = Image.new("RGBA", (10, 6), (1, 2, 3, 255))
    arr = image_to_array(img)
    assert arr.shape == (6, 10, 3) and arr.dtype == np.uint8 and tuple(arr[0, 0]) == (1, 2, 3)
    assert image_to_array(img, 4).shape == (4, 4, 3)
    assert image_to_array(img, (8, 2)).shape == (2, 8, 3)


def test_is_image_path() -> None:
    assert is_image_path("a/B.JPG") and is_image_path(Path("x.tiff"))
    assert not is_image_path("notes.txt") and not is_image_path("noext")
    assert all(ext.startswith(".") and ext == ext.lower() for ext in IMAGE_EXTENSIONS)


# --- fuzzing: only ImageError escapes -----------------------------------------------------


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8))
    frames = [rgb.convert("P"), rgb.transpose(Image.Transpose.ROTATE_180).convert("P")]
    anim = io.BytesIO()
    frames[0].save(anim, "GIF", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6
    return [
        _encode(rgb, "JPEG", exif=exif.tobytes()),
        _encode(rgb, "PNG"),
        _encode(rgb.convert("RGBA"), "PNG"),
        _encode(Image.fromarray(np.arange(120, dtype=np.uint16).reshape(12, 10)), "PNG"),
        anim.getvalue(),
        _encode(rgb, "BMP"),
        _encode(rgb, "TIFF"),
        _encode(rgb, "WEBP"),
        _encode(rgb.convert("CMYK"), "JPEG"),
        _encode(rgb, "PPM"),
        _encode(rgb, "ICO"),
    ]


_SEEDS = _seed_images()


def _open_or_refuse(data: bytes) -> None:
    try:
        img = open_image(data, name="fuzz")
    except ImageError as exc:
        assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
        return
    assert img.mode == "RGB" and img.width > 0 and img.height > 0
    assert img.width * img.height <= MAX_PIXELS


@settings(max_examples=fuzz_examples(150), suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=512))
def test_fuzz_image_opener_random_bytes(data: bytes) -> None:
    _open_or_refuse(data)


@st.composite
def _mutated_image(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        where = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where:]
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif action == "zero" and data:
            data[where : where + 8] = bytes(len(data[where : where + 8]))
    return bytes(data)


@settings(max_examples=fuzz_examples(300), suppress_health_check=list(HealthCheck))
@given(_mutated_image())
def test_fuzz_image_opener_mutated_images(data: bytes) -> None:
    _open_or_refuse(data)


def test_a_huge_sparse_jpeg_is_refused_from_its_size_without_decoding(tmp_path) -> None:
    import time

    from PIL import Image as PILImage

    from nets.images import open_image

    small = tmp_path / "small.jpg"
    PILImage.new("RGB", (64, 64), (1, 2, 3)).save(small)
    head = small.read_bytes()
    sparse = tmp_path / "huge.jpg"
    with open(sparse, "wb") as f:
        f.write(head[:-2])  # header and data without the end marker
        f.truncate(10 << 30)  # 10 GB of zeros, sparse on disk
    start = time.perf_counter()
    with pytest.raises(ImageError, match="is larger than the 256.0 MB an image file may have"):
        open_image(sparse)
    assert time.perf_counter() - start < 5  # refused unread, not decoded at 12 MB/s
    padded = tmp_path / "padded.jpg"
    with open(padded, "wb") as f:
        f.write(head[:-2])
        f.truncate(40 << 20)
    with pytest.raises(ImageError, match="far larger than a 64 x 64 image can be"):
        open_image(padded)
