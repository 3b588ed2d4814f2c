"""Safe image opening shared by the image-folder datasets and the pretrained classifier.

``open_image`` turns whatever a user drops on the app into a fully loaded RGB
``PIL.Image.Image``, or raises :class:`nets.errors.ImageError` with a one-line message
that names the file and the problem. It guards against:

- decompression bombs: the pixel count is read from the header and checked *before*
  anything is decoded; Pillow's own ``DecompressionBombWarning`` becomes an error too;
- non-images, truncated or corrupt files, and files whose name says ``.jpg`` but whose
  content is something else (the content decides, never the name);
- formats whose Pillow plugin would run an external program (EPS runs Ghostscript):
  only the formats in ``IMAGE_FORMATS`` are tried.

It also normalises what a photo can be: EXIF orientation is applied, animated images
give their first frame, and every Pillow mode becomes RGB (alpha is composited on
white, 16-bit and 32-bit greyscale are scaled down rather than clipped).

Pillow is the only dependency; numpy is needed only for the rare 16/32-bit modes and
for ``image_to_array``.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image

from nets.errors import ImageError, NetsError
from nets.fileio import open_regular, read_regular, shown

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "MAX_IMAGE_FILE_BYTES",
    "MAX_PIXELS",
    "fit_image",
    "image_to_array",
    "is_image_path",
    "open_image",
    "read_image_bytes",
    "save_png",
    "to_rgb",
]

# 80 megapixels: a 50 MP camera photo opens, a 20,000 x 20,000 (400 MP) image does not.
# It stays below Pillow's own limit (about 89.5 MP) so our message, with the figures,
# is the one a user sees.
MAX_PIXELS = 80_000_000
# The largest image file opened at all (a 16-bit RGBA TIFF of 32 megapixels fits), and
# what a file may hold beyond its pixels judged by its header (metadata, thumbnails,
# ICC profiles). A JPEG header followed by gigabytes of zeros decodes at about 12 MB/s:
# both limits refuse it from its size, before decoding.
MAX_IMAGE_FILE_BYTES = 256 << 20
HEADER_SLACK_BYTES = 8 << 20

# Tried in this order: the common formats first, so a JPEG is identified at the first try
# (that matters for 50,000 tiny CIFAR JPEGs). TGA has no magic number and accepts almost
# anything, so it comes last. Deliberately absent: EPS (runs Ghostscript), PSD, JPEG2000
# and the many exotic scientific formats, which a student's photo never is.
_PREFERRED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "PPM", "ICO", "QOI", "AVIF")
IMAGE_FORMATS: tuple[str, ...] = ()  # filled in by _formats() on first use: AVIF is optional

# Lower-case file suffixes the app offers in file dialogs and picks up from folders.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".webp",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".ico",
        ".qoi",
        ".avif",
        ".tga",
    }
)

# EXIF orientation tag value -> the transpose that shows the photo upright.
_ORIENTATION_TAG = 0x0112
_ORIENTATION_FIX = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_WHITE = (255, 255, 255)


def _formats() -> tuple[str, ...]:
    global IMAGE_FORMATS
    if not IMAGE_FORMATS:
        Image.init()
        found = tuple(f for f in _PREFERRED_FORMATS if f in Image.OPEN)
        IMAGE_FORMATS = (*found, "TGA") if "TGA" in Image.OPEN else found
    return IMAGE_FORMATS


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """Whether a file name has one of ``IMAGE_EXTENSIONS`` (case-insensitive)."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def _display_name(source: object, name: str | None) -> str:
    if name is None:
        name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "image data"
    # One printable line even for a name with a newline or undecodable bytes in it.
    return shown(name)


def _sniff(head: bytes) -> str:
    """A plain description of what a file that is not a readable image seems to be."""
    if not head:
        return "empty file (0 bytes), not an image"
    signatures = (
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1f\x8b", "a gzip archive"),
        (b"%!PS", "a PostScript file (not supported)"),
        (b"8BPS", "a Photoshop file (not supported)"),
        (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image (not supported)"),
        (b"\xff\x4f\xff\x51", "a JPEG 2000 image (not supported)"),
        (b"\x7fELF", "a program, not an image"),
        (b"MZ", "a program, not an image"),
    )
    for magic, what in signatures:
        if head.startswith(magic):
            return f"not an image: the content is {what}"
    if len(head) > 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "a HEIC/HEIF photo, which this app cannot read: export it as JPEG or PNG"
        return "not an image: the content is a video or other media file"
    stripped = head.lstrip()
    if stripped[:1] == b"<":
        if b"<svg" in head.lower():
            return "an SVG drawing, which this app cannot read: export it as PNG"
        return "not an image: the content is HTML or XML text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "not an image, or an image format this app cannot read"
    return "not an image: the content is text"


def read_image_bytes(path: str | os.PathLike[str]) -> bytes:
    """The encoded content of an image file, refused exactly as ``open_image(path)``
    refuses to open it (not a regular file, larger than ``MAX_IMAGE_FILE_BYTES``) with the
    same one-line :class:`ImageError`; ``open_image(data, name=path)`` then decodes it.

    Lets a caller read many files ahead in threads while it decodes others (a cold disk
    serves small files far faster with many reads in flight). An error while reading
    (EIO) is raised as the ``OSError`` it is.
    """
    return read_regular(path, ImageError, "image file", MAX_IMAGE_FILE_BYTES)


def _open_source(source: str | os.PathLike[str] | bytes, label: str) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if not isinstance(source, (str, os.PathLike)):
        raise ImageError(f"{label}: expected a file path or bytes, got {type(source).__name__}")
    return open_regular(source, ImageError, "image file", MAX_IMAGE_FILE_BYTES)


def open_image(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    min_size: int | None = None,
    name: str | None = None,
) -> Image.Image:
    """Open an image file (or its bytes) safely and return it as a loaded RGB image.

    Args:
        source: a path, or the encoded file's bytes (a clipboard paste, a download).
        max_pixels: refuse images with more pixels than this, judged from the header
            before any decoding.
        min_size: when given, a large JPEG may be decoded at 1/2, 1/4 or 1/8 scale (the
            DCT "draft" mode, several times faster) as long as both sides stay at least
            ``min_size`` pixels. Leave it None for the full resolution.
        name: how to call the image in messages (default: the path, or "image data").

    Returns:
        An RGB ``PIL.Image.Image`` of the upright first frame, pixels already in memory
        (the file is closed).

    Raises:
        ImageError: one line, ``"<name>: <problem>"``, for anything that is not a
            readable image of acceptable size.
    """
    label = _display_name(source, name)
    # catch_warnings is process-global in Python < 3.14; if two threads race here the
    # worst outcome is that the "error" filter for bomb warnings stays installed, which
    # is what the app wants anyway.
    with _open_source(source, label) as fp, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        # Pillow's complaints about corrupt EXIF or TIFF tags are not the user's business:
        # the image either decodes (fine) or raises (ImageError).
        warnings.simplefilter("ignore", UserWarning)
        # Pillow never closes a file object it was handed; the with-block does, and the
        # returned image no longer needs it (single frame, pixels loaded).
        return _finish(_decode(fp, label, max_pixels, min_size), label)


def _file_size(fp: BinaryIO) -> int:
    if isinstance(fp, io.BytesIO):
        return len(fp.getbuffer())
    return os.fstat(fp.fileno()).st_size


def _decode(fp: BinaryIO, label: str, max_pixels: int, min_size: int | None) -> Image.Image:
    img: Image.Image | None = None
    try:
        img = Image.open(fp, formats=_formats())
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageError(f"{label}: the image has no pixels ({width} x {height})")
        if width * height > max_pixels:
            raise ImageError(
                f"{label}: image too large ({width} x {height} = "
                f"{width * height / 1e6:.0f} megapixels; the limit is "
                f"{max_pixels / 1e6:.0f}): refused as a possible decompression bomb"
            )
        size = _file_size(fp)
        if size > 8 * width * height + HEADER_SLACK_BYTES:  # 8 bytes: 16-bit RGBA, raw
            raise ImageError(
                f"{label}: the file ({size / 1e6:.0f} MB) is far larger than a {width} x "
                f"{height} image can be: refused as damaged or hostile"
            )
        if min_size is not None and img.format in ("JPEG", "MPO") and img.mode in ("RGB", "L"):
            img.draft(img.mode, (min_size, min_size))
        img.load()
        return img
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        fp.seek(0)
        raise ImageError(f"{label}: {_sniff(fp.read(64))}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"{label}: image too large, refused as a possible decompression bomb ({exc})"
        ) from None
    except MemoryError:
        raise ImageError(f"{label}: not enough memory to decode this image") from None
    except Exception as exc:
        kind = f"{img.format} " if img is not None and img.format else ""
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageError(f"{label}: corrupt or truncated {kind}image ({detail})") from None


def _finish(img: Image.Image, label: str) -> Image.Image:
    try:
        orientation = _orientation(img)
        rgb = to_rgb(img)
        fix = _ORIENTATION_FIX.get(orientation)
        if fix is not None:
            rgb = rgb.transpose(fix)
        if rgb is img and getattr(img, "n_frames", 1) > 1:
            # Detach the first frame from the multi-frame file we are about to close.
            rgb = img.copy()
        return rgb
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(f"{label}: not enough memory to convert this image") from None
    except Exception as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        problem = f"cannot convert the {img.mode} image to RGB ({detail})"
        raise ImageError(f"{label}: {problem}") from None


# Where Pillow's getexif() finds an orientation: EXIF (JPEG, PNG, WebP), PNG's text copy
# of it, XMP, or a TIFF's own tags. An image with none of them (every CIFAR JPEG) skips
# getexif(), which costs about 5 us of the 100 us a small JPEG takes even then.
_ORIENTATION_SOURCES = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")


def _orientation(img: Image.Image) -> int:
    if not hasattr(img, "tag_v2") and not any(k in img.info for k in _ORIENTATION_SOURCES):
        return 1
    try:
        return int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:
        return 1


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: alpha composited on white, 16/32-bit and float scaled to 8 bits.

    Returns ``img`` itself when it is already RGB without transparency.
    """
    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img
    if mode.startswith("I;16"):
        return _gray_to_rgb(_scale_16bit(img))
    if mode in ("I", "F"):
        return _gray_to_rgb(_scale_wide(img))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img if mode == "RGBA" else img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    # "1", "L", "P", "CMYK", "YCbCr", "HSV", "RGBX": Pillow's own conversions are right.
    return img.convert("RGB")


def _gray_to_rgb(gray8: np.ndarray) -> Image.Image:
    return Image.fromarray(gray8).convert("RGB")


def _scale_16bit(img: Image.Image) -> np.ndarray:
    import numpy as np

    values = np.asarray(img).astype(np.uint32)
    # 65535 -> 255 with rounding: (v * 255 + 32767) // 65535 == round(v / 257).
    return ((values * 255 + 32767) // 65535).astype(np.uint8)


def _scale_wide(img: Image.Image) -> np.ndarray:
    """32-bit integer or float greyscale -> 8 bits, by the range the values live in."""
    import numpy as np

    values = np.asarray(img).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low = float(values.min()) if values.size else 0.0
    high = float(values.max()) if values.size else 0.0
    if img.mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0  # float images in [0, 1]
    elif low >= 0.0 and high <= 255.0:
        scaled = values  # 8-bit data stored wide
    elif low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0  # 16-bit data stored wide (old Pillow PNGs, PGM)
    else:
        scaled = (values - low) * (255.0 / (high - low))  # anything else: stretch
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def image_to_array(img: Image.Image, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """An RGB image as a ``(H, W, 3)`` uint8 array, optionally resized first.

    Args:
        img: any Pillow image (converted with ``to_rgb`` if it is not RGB).
        size: ``None`` keeps the size; an int gives a square ``size x size``; a tuple is
            ``(width, height)`` as Pillow counts. Resizing uses bilinear filtering with
            antialiasing.
    """
    import numpy as np

    rgb = to_rgb(img)
    if size is not None:
        target = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        if rgb.size != target:
            rgb = rgb.resize(target, Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def fit_image(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The centre of ``img`` cropped to the aspect ratio of ``size`` = ``(width, height)``
    and resized to it (bilinear), as the image-folder datasets prepare their images."""
    width, height = size
    if img.size == (width, height):
        return img
    w, h = img.size
    crop_w: float
    crop_h: float
    left: float
    top: float
    if w * height > h * width:  # wider than the target: crop the sides
        crop_w, crop_h = h * width / height, h
    else:
        crop_w, crop_h = w, w * height / width
    if width == height:  # whole pixels, exactly as the folder loader always cropped
        crop_w = crop_h = min(w, h)
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
    else:
        left, top = (w - crop_w) / 2, (h - crop_h) / 2
    return img.resize(
        (width, height),
        Image.Resampling.BILINEAR,
        box=(left, top, left + crop_w, top + crop_h),
        reducing_gap=2.0,
    )


def save_png(path: str | os.PathLike[str], pixels: np.ndarray, error: type[NetsError]) -> None:
    """Write uint8 pixels ``(H, W)`` (grey) or ``(H, W, 3)`` (RGB) as a PNG, atomically.

    ``error`` (a NetsError subclass) is raised with ``cannot write <path>: <reason>`` when
    the file cannot be written; the old file, if any, stays whole.
    """
    import numpy as np

    from nets.fileio import atomic_write

    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    picture = Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB")
    atomic_write(path, lambda f: picture.save(f, format="PNG"), error)
