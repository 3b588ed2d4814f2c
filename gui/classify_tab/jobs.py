"""The Classify tab's work, as generators run by ``gui.worker`` off the GUI thread.

Nothing here touches a widget: items are frozen dataclasses holding numpy arrays and
plain values, which the tab turns into pixmaps in the GUI thread. The model is reached
only through ``gui.classify_tab.backend``; numpy and Pillow are the only other imports.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gui.classify_tab import backend
from gui.jobs import Result, with_progress

if TYPE_CHECKING:
    import numpy as np

Cancel = Callable[[], bool]
Prediction = tuple[int, str, float]

# The photo shown in the tab is downscaled to at most this many pixels on its long side:
# enough for a sharp view on a large screen, small enough to move between threads.
DISPLAY_MAX_SIDE = 1280
THUMB_SIDE = 112  # drawn at 44 px in the table; the margin keeps HiDPI screens sharp
FOUND_CHUNK = 250  # rows are announced in chunks while a big folder is walked


# -- items ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One image to classify: a file, or bytes pasted from the clipboard."""

    key: str
    name: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)

    @staticmethod
    def from_path(path: Path) -> Source:
        absolute = Path(os.path.abspath(path))
        return Source(key=str(absolute), name=absolute.name, path=absolute)


@dataclass(frozen=True)
class Found:
    """Files found in a drop (folders walked): the table adds a waiting row for each."""

    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Notice:
    """Something about the drop itself (an empty folder, an unreadable one, a cap)."""

    message: str


@dataclass(frozen=True)
class FileResult:
    key: str
    top: tuple[Prediction, ...]
    thumb: np.ndarray | None = field(repr=False)  # (h, w, 3) uint8, long side <= THUMB_SIDE
    model: str = ""


@dataclass(frozen=True)
class FileError:
    key: str
    message: str


@dataclass(frozen=True)
class Detail:
    """Everything the tab shows for the current image."""

    key: str
    photo: np.ndarray = field(repr=False)  # (h, w, 3) uint8, long side <= DISPLAY_MAX_SIDE
    photo_size: tuple[int, int]  # the original (width, height)
    model_input: np.ndarray = field(repr=False)  # (S, S, 3) uint8: the tensor, de-normalised
    top: tuple[Prediction, ...]
    image: Any = field(repr=False)  # the opened PIL image, kept for Grad-CAM
    model: str = ""
    # The centre crop the model saw, in ``photo`` pixels: (left, top, right, bottom).
    crop_box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Heat:
    key: str
    class_index: int
    heat: np.ndarray = field(repr=False)  # (h, w) float32 in [0, 1], the Detail.photo size


@dataclass(frozen=True)
class LoadProgress:
    text: str
    done: int = 0
    total: int = 0  # 0: unknown


@dataclass(frozen=True)
class ModelLoaded:
    name: str
    model: Any = field(repr=False)
    weights: str | None = None


@dataclass(frozen=True)
class LoadFailed:
    name: str
    message: str
    cancelled: bool = False


@dataclass(frozen=True)
class ReportPhoto:
    key: str
    photo: np.ndarray = field(repr=False)  # (h, w, 3) uint8
    #: Grad-CAM of the top-1 class at the photo's size, (h, w) in [0, 1]; None when the
    #: model has no Grad-CAM or it failed (the figure then shows the photo alone)
    heat: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Thumb:
    path: Path
    thumb: np.ndarray = field(repr=False)


# -- finding files and classifying ---------------------------------------------------
def model_min_size(model: Any) -> int | None:
    """The smallest decode size that keeps the model's input exact (its resize size)."""
    preprocessing = getattr(model, "preprocessing", None)
    return getattr(preprocessing, "resize", None)


def open_source(source: Source, min_size: int | None = None):
    """The source as an RGB PIL image; raises ``nets.errors.ImageError`` with a message.

    ``min_size`` lets big JPEGs decode at reduced scale, as the library's batch does.
    """
    from nets.images import open_image

    if source.data is not None:
        return open_image(source.data, name=source.name, min_size=min_size)
    return open_image(source.path, name=source.name, min_size=min_size)


def thumbnail(image, side: int = THUMB_SIDE) -> np.ndarray:
    """A ``(h, w, 3)`` uint8 thumbnail whose long side is at most ``side``."""
    import numpy as np
    from PIL import Image

    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(small.convert("RGB"), dtype=np.uint8)


def describe_error(source: Source, exc: BaseException) -> str:
    """A one-line message naming the file, for any failure while classifying it."""
    from nets.errors import NetsError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, NetsError):
        # nets messages already start with the file's name.
        return text if source.name in text else f"{source.name}: {text}"
    if isinstance(exc, MemoryError):
        return f"{source.name}: not enough memory for this image"
    if isinstance(exc, OSError):
        return f"{source.name}: cannot read the file ({text})"
    return f"{source.name}: the model failed on this image ({type(exc).__name__}: {text})"


def short_error(message: str, path: str | None) -> str:
    """The library's ``"<path>: <problem>"`` without the folder part of the path."""
    if path and message.startswith(f"{path}: "):
        return f"{Path(path).name}: {message[len(path) + 2 :]}"
    return message


def expand(paths: Iterable[Path], cancel: Cancel) -> Iterator[Found | Notice]:
    """Dropped files and folders -> ``Found`` chunks of sources, and ``Notice`` messages.

    Folders are walked by ``nets.pretrained.classify.expand_paths`` (image extensions,
    hidden entries skipped, symlinked folders not followed); files given explicitly are
    kept whatever their name, the content decides.
    """
    from nets.pretrained.classify import expand_paths

    pending: list[Source] = []
    absolute = [os.path.abspath(p) for p in paths]
    for path, problem in expand_paths(absolute):
        if cancel():
            return
        if problem is not None:
            yield Notice(short_error(problem, None))
            continue
        pending.append(Source.from_path(Path(path)))
        if len(pending) >= FOUND_CHUNK:
            yield Found(tuple(pending))
            pending = []
    if pending:
        yield Found(tuple(pending))


def classify_one(source: Source, model: Any, model_name: str, topk: int = 5):
    """``FileResult`` for one source (a file or pasted bytes), or ``FileError``."""
    try:
        image = open_source(source, model_min_size(model))
        top = backend.predict(model, image, topk)
        return FileResult(source.key, tuple(top), thumbnail(image), model_name)
    except Exception as exc:
        return FileError(source.key, describe_error(source, exc))


def classify_files(
    sources: list[Source], model: Any, model_name: str, topk: int, cancel: Cancel
) -> Iterator[FileResult | FileError]:
    """Classify sources in order: files through the library's ``classify_paths``."""
    import numpy as np

    from nets.pretrained.classify import classify_paths

    files = [s for s in sources if s.path is not None and s.data is None]
    by_path = {str(s.path): s for s in files}
    results = classify_paths([str(s.path) for s in files], model, topk, thumbnail_size=THUMB_SIDE)
    try:
        for result in results:
            if cancel():
                return
            source = by_path.get(result.path)
            key = source.key if source is not None else str(Path(os.path.abspath(result.path)))
            if result.error is not None or result.top is None:
                yield FileError(key, short_error(result.error or "not classified", result.path))
                continue
            top = tuple((int(t[0]), str(t[1]), float(t[2])) for t in result.top)
            thumb = (
                np.asarray(result.thumbnail.convert("RGB"), dtype=np.uint8)
                if result.thumbnail is not None
                else None
            )
            yield FileResult(key, top, thumb, model_name)
    finally:
        results.close()
    for source in sources:
        if source.data is not None:
            if cancel():
                return
            yield classify_one(source, model, model_name, topk)


def batch_job(
    requests: queue.SimpleQueue, model: Any, model_name: str, topk: int = 5
) -> Callable[[Cancel], Iterator[Any]]:
    """Factory for the batch worker: takes requests from ``requests`` until it is empty.

    A request is a list of paths (walked, announced with ``Found``, then classified) or
    a tuple of ``Source`` already in the table (classified again, pasted images too).
    """

    def run(cancel: Cancel) -> Iterator[Any]:
        while not cancel():
            try:
                request = requests.get_nowait()
            except queue.Empty:
                return
            if isinstance(request, tuple):
                sources = list(request)
            else:
                sources = []
                for item in expand(request, cancel):
                    if isinstance(item, Found):
                        sources.extend(item.sources)
                    yield item
            yield from classify_files(sources, model, model_name, topk, cancel)

    return run


def detail_job(source: Source, model: Any, model_name: str, topk: int = 5):
    """Factory: open one image and compute everything the detail view shows.

    The model gets the image decoded exactly as the batch decodes it (big JPEGs at
    reduced scale), so the chart agrees with the table; the photo shown is decoded at
    full resolution when that differs.
    """

    def run(cancel: Cancel) -> Iterator[Any]:
        try:
            image = open_source(source, model_min_size(model))
            tensor = backend.preprocess(model, image)
            model_input = backend.denormalize(model, tensor)
            top = backend.predict(model, image, topk)
            full = image
            if not cancel() and max(image.size) < DISPLAY_MAX_SIDE:
                full = open_source(source)  # draft decoding may have shrunk a big JPEG
            photo = display_copy(full)
            box = crop_box_in(model, image.size, photo.shape[1] / image.size[0])
        except Exception as exc:
            yield FileError(source.key, describe_error(source, exc))
            return
        yield Detail(source.key, photo, full.size, model_input, tuple(top), image, model_name, box)

    return run


def crop_box_in(
    model: Any, size: tuple[int, int], scale: float
) -> tuple[float, float, float, float] | None:
    """The model's crop of an image of ``size``, scaled by ``scale`` (None if unknown)."""
    crop_box = getattr(model, "crop_box", None)
    if crop_box is None:
        return None
    left, top, right, bottom = crop_box(size)
    return left * scale, top * scale, right * scale, bottom * scale


def display_copy(image) -> np.ndarray:
    """``(h, w, 3)`` uint8 of the image, long side at most ``DISPLAY_MAX_SIDE``."""
    import numpy as np
    from PIL import Image

    if max(image.size) > DISPLAY_MAX_SIDE:
        image = image.copy()
        image.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def heat_job(key: str, image, model: Any, class_index: int, size: tuple[int, int]):
    """Factory: the class-activation map of ``class_index``, resized to ``size`` (w, h)."""

    def run(cancel: Cancel) -> Iterator[Any]:
        try:
            heat = backend.gradcam(model, image, class_index)
            yield Heat(key, class_index, resize_heat(heat, size))
        except Exception as exc:
            text = " ".join(str(exc).split()) or type(exc).__name__
            yield FileError(key, f"heat-map failed: {text}")

    return run


def resize_heat(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` float heat -> ``(h, w)`` float32 in [0, 1] with ``size == (w, h)``."""
    import numpy as np
    from PIL import Image

    values = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    values = np.clip(values, 0.0, 1.0)
    if values.shape[::-1] != tuple(size):
        values = np.asarray(
            Image.fromarray(values).resize(size, Image.Resampling.BILINEAR),
            dtype=np.float32,
        )
    return np.clip(values, 0.0, 1.0)


def report_job(sources: list[Source], model: Any = None, classes: dict[str, int] | None = None):
    """Factory: open each marked image for the report figure (the GUI paints and saves),
    with the Grad-CAM heat-map of ``classes[key]`` (its top-1) when ``model`` is given."""

    def run(cancel: Cancel) -> Iterator[Any]:
        for source in sources:
            if cancel():
                return
            try:
                image = open_source(source)
                photo = display_copy(image)
            except Exception as exc:
                yield FileError(source.key, describe_error(source, exc))
                continue
            heat = None
            class_index = (classes or {}).get(source.key)
            if model is not None and class_index is not None:
                try:
                    raw = backend.gradcam(model, image, class_index)
                    heat = resize_heat(raw, (photo.shape[1], photo.shape[0]))
                except Exception:
                    heat = None  # the figure still shows the photo and the top-5
            yield ReportPhoto(source.key, photo, heat)

    return run


def load_job(name: str, weights: str | None = None):
    """Factory: load (downloading if needed) model ``name``; yields progress, then the model.

    The library's loader blocks and reports through a callback, so it runs in the shared
    helper thread (``gui.jobs.with_progress``) while this generator relays its progress;
    Cancel reaches a download through the token. Expected failures (offline, corrupt
    weights) become ``LoadFailed``.
    """

    def run(cancel: Cancel) -> Iterator[Any]:
        from nets.errors import NetsError

        # A cancelled download notices the token at its next block and removes its
        # partial file within the grace; building a model cannot be interrupted, so it is
        # abandoned then (closing the window must not wait for a torch import).
        items = with_progress(
            f"load-{name}", backend.load, cancel, grace_s=0.5, name=name, weights=weights
        )
        try:
            for item in items:
                if isinstance(item, Result):
                    yield ModelLoaded(name, item.value, weights)
                else:
                    yield LoadProgress(item.message, item.done, item.total)
        except (NetsError, OSError, MemoryError) as error:
            text = " ".join(str(error).split()) or type(error).__name__
            yield LoadFailed(name, text, cancelled=cancel() or "cancelled" in text)

    return run


def thumbnails_job(paths: list[Path]):
    """Factory: thumbnails of the recent images (missing or broken files are skipped)."""

    def run(cancel: Cancel) -> Iterator[Any]:
        for path in paths:
            if cancel():
                return
            try:
                yield Thumb(path, thumbnail(open_source(Source.from_path(path), THUMB_SIDE)))
            except Exception:
                continue

    return run
