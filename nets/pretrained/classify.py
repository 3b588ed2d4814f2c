"""Classify photos with a pretrained ImageNet model: top-k, the model's input, Grad-CAM.

Used by the ``classify`` command line and the GUI's Classify tab::

    model = load_model("efficientnet_lite0")        # PretrainedModel
    pred = model.predict(open_image("cat.jpg"))      # Prediction: .top, .probs
    for result in classify_paths(["photos/"], model):  # ClassifyResult per file
        ...

Importing this module does not import torch; ``load_model`` does. ``PretrainedModel``'s
methods are safe to call from several threads (a lock serialises the forward passes,
because attribution methods briefly hook the network; hold ``model.lock`` to do the same).

Threads: ``load_model`` sets torch's intra-op threads to one fewer than the cores (at
least 1), so a GUI thread keeps a core while a batch is classified; an explicit
``threads`` argument or an ``OMP_NUM_THREADS`` environment variable wins. The command
line keeps that default too: on this shared 2-core machine, 2 threads competing with
other processes measured 193 ms per image against 35 ms for 1 (bench_classify).
The setting is process-wide (torch has no per-model thread count).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from PIL import Image

from nets.errors import NetsError
from nets.fileio import shown
from nets.images import is_image_path, open_image
from nets.pretrained.labels import imagenet_labels
from nets.pretrained.registry import (
    DEFAULT_MODEL,
    CancelToken,
    ModelSpec,
    Preprocessing,
    ProgressCallback,
    get_spec,
    load_network,
    preprocessing_for,
)
from nets.pretrained.threads import configure_threads

if TYPE_CHECKING:
    import torch

__all__ = [
    "ClassifyResult",
    "Prediction",
    "PretrainedModel",
    "TopClass",
    "classify_paths",
    "configure_threads",
    "expand_paths",
    "load_model",
]

# Resized photos above this many pixels take the crop-first path in PretrainedModel.crop.
_MAX_RESIZED_PIXELS = 4_000_000
_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


class TopClass(NamedTuple):
    """One of the top-k classes: ``(index, label, prob)``."""

    # ``index`` hides tuple.index on purpose: it is the class index users read.
    index: int  # type: ignore[assignment]
    label: str
    prob: float

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "prob": self.prob}


@dataclass(frozen=True)
class Prediction:
    """``top``: the k most probable classes, best first; ``probs``: all 1000, shape (1000,)."""

    top: tuple[TopClass, ...]
    probs: np.ndarray = field(compare=False, repr=False)


@dataclass(frozen=True)
class ClassifyResult:
    """One file of a batch: ``top`` when it was classified, else ``error`` (one line).

    ``thumbnail`` (an RGB image no larger than the requested size) is set when the
    file was classified and ``classify_paths`` was asked for thumbnails; ``image`` (the
    photo as the model read it) when it was asked to keep the images.
    """

    path: str
    top: tuple[TopClass, ...] | None = None
    error: str | None = None
    thumbnail: Image.Image | None = field(default=None, compare=False, repr=False)
    image: Image.Image | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        """The command line's JSON entry: ``{"path", "top": [...]}`` or ``{"path", "error"}``."""
        path = shown(self.path)  # never a lone surrogate or a raw newline in the JSON
        if self.error is not None or self.top is None:
            return {"path": path, "error": self.error or "not classified"}
        return {"path": path, "top": [t.as_dict() for t in self.top]}


class PretrainedModel:
    """A pretrained ImageNet classifier with its own preprocessing.

    Attributes:
        spec: the registry entry (name, display name, source...).
        preprocessing: resize / crop / mean / std of this model's input.
        labels: the 1000 class names, ``labels[index]``.
        network: the ``torch.nn.Module`` (eval mode, parameters frozen).
    """

    def __init__(self, spec: ModelSpec, network: torch.nn.Module, preprocessing: Preprocessing):
        import torch

        self.spec = spec
        self.preprocessing = preprocessing
        self.labels = imagenet_labels()
        # channels_last: oneDNN's convolutions are about 15% faster on CPU this way.
        self.network = network.eval().to(memory_format=torch.channels_last)
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)
        # In-place activations cannot carry the backward hooks attribution methods use.
        for module in self.network.modules():
            if getattr(module, "inplace", False) is True:
                # torch types attributes it does not declare as Tensor | Module
                module.inplace = False  # type: ignore[assignment]
        self.target_layer = self.network.get_submodule(spec.target_layer)
        self.threads: int | None = None  # set by load_model; None: the library default
        self._mean = torch.tensor(preprocessing.mean, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(preprocessing.std, dtype=torch.float32).view(3, 1, 1)
        self.lock = threading.RLock()
        self._fast: torch.nn.Module | None = None

    @property
    def fast_network(self) -> torch.nn.Module:
        """The network for inference and for input gradients without hooks (predictions,
        attacks, most attributions): the same function, with BatchNorm folded into the
        convolutions where the architecture offers it (``folded()``), else the network
        itself. Made on first use; hold ``lock`` while using it, as for ``network``."""
        import torch

        # Made outside any inference mode the caller is in: tensors made there could not
        # take part in the attacks' and attributions' backward passes.
        with self.lock, torch.inference_mode(False):
            if self._fast is None:
                fold = getattr(self.network, "folded", None)
                fast = fold() if callable(fold) else self.network
                self._fast = fast.eval().to(memory_format=torch.channels_last)
            return self._fast

    def black_input(self) -> torch.Tensor:
        """An all-black photo as the model's input, ``(1, 3, S, S)``."""
        import torch

        crop = self.preprocessing.crop
        return ((torch.zeros(1, 3, crop, crop) - self._mean) / self._std).contiguous()

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1], ``(N, 3, S, S)`` -> the model's input (differentiable)."""
        return (pixels - self._mean) / self._std

    def pixels(self, img: Image.Image) -> np.ndarray:
        """The ``(S, S, 3)`` uint8 crop the model sees (``crop`` as an array)."""
        return np.asarray(self.crop(img), dtype=np.uint8)

    def predict_pixels(self, pixels: np.ndarray, topk: int = 5) -> Prediction:
        """``predict`` for an ``(S, S, 3)`` uint8 crop given directly (no resize, no crop)."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32) / 255.0)
        x = self.normalize(tensor.permute(2, 0, 1).unsqueeze(0))
        x = x.contiguous(memory_format=torch.channels_last)
        with self.lock, torch.inference_mode():
            logits = self.fast_network(x)
        return self._prediction(torch.softmax(logits.double(), dim=1)[0].numpy(), topk)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def display_name(self) -> str:
        return self.spec.display_name

    @property
    def input_size(self) -> int:
        return self.preprocessing.crop

    # --- the input pipeline ---------------------------------------------------------

    def resized_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """``(width, height)`` after the shorter-side resize (torchvision's arithmetic)."""
        width, height = size
        target = self.preprocessing.resize
        if width <= height:
            return target, max(1, int(target * height / width))
        return max(1, int(target * width / height)), target

    def crop_box(self, size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The region of a ``(width, height)`` photo the model sees: (left, top, right, bottom).

        In the photo's pixel coordinates (floats), after undoing the resize.
        """
        width, height = size
        new_w, new_h = self.resized_size(size)
        crop = self.preprocessing.crop
        left, top = _crop_offsets(new_w, new_h, crop)
        sx, sy = new_w / width, new_h / height
        return left / sx, top / sy, (left + crop) / sx, (top + crop) / sy

    def crop(self, img: Image.Image) -> Image.Image:
        """The ``crop x crop`` RGB image the model sees, before normalisation."""
        if img.mode != "RGB":
            from nets.images import to_rgb

            img = to_rgb(img)
        new_size = self.resized_size(img.size)
        crop = self.preprocessing.crop
        resample = _RESAMPLE[self.preprocessing.interpolation]
        if new_size[0] * new_size[1] > _MAX_RESIZED_PIXELS and min(new_size) >= crop:
            # A panorama 100x longer than wide would resize to gigabytes only to be cropped:
            # scale just the region the crop keeps (same result, Pillow's box argument).
            return img.resize((crop, crop), resample, box=self.crop_box(img.size))
        if new_size != img.size:
            img = img.resize(new_size, resample)
        left, top = _crop_offsets(new_size[0], new_size[1], crop)
        if new_size[0] < crop or new_size[1] < crop:  # resize smaller than crop: pad black
            canvas = Image.new("RGB", (crop, crop))
            canvas.paste(img, (-left, -top))
            return canvas
        return img.crop((left, top, left + crop, top + crop))

    def resized(self, img: Image.Image) -> tuple[Image.Image, tuple[int, int]] | None:
        """The photo after the shorter-side resize, and the crop's top-left corner in it.

        Preprocessing leaves this picture unchanged but for the crop. None when the crop
        is not inside it (a tiny photo, padded) or the resize would be huge.
        """
        if img.mode != "RGB":
            from nets.images import to_rgb

            img = to_rgb(img)
        new_size = self.resized_size(img.size)
        crop = self.preprocessing.crop
        if min(new_size) < crop or new_size[0] * new_size[1] > _MAX_RESIZED_PIXELS:
            return None
        resample = _RESAMPLE[self.preprocessing.interpolation]
        resized = img.resize(new_size, resample) if new_size != img.size else img.copy()
        return resized, _crop_offsets(new_size[0], new_size[1], crop)

    def preprocess(self, img: Image.Image) -> torch.Tensor:
        """A photo -> the float32 tensor ``(3, crop, crop)`` the model receives."""
        import torch

        pixels = np.asarray(self.crop(img), dtype=np.float32) / 255.0
        tensor = torch.from_numpy(pixels).permute(2, 0, 1)
        return ((tensor - self._mean) / self._std).contiguous()

    def denormalize(self, tensor: torch.Tensor) -> np.ndarray:
        """``(3, H, W)`` or ``(1, 3, H, W)`` model input -> ``(H, W, 3)`` uint8 image."""
        import torch

        t = tensor.detach().float().cpu()
        if t.dim() == 4:
            t = t[0]
        pixels = (t * self._std + self._mean).clamp(0.0, 1.0) * 255.0
        return pixels.round().to(torch.uint8).permute(1, 2, 0).numpy()

    # --- predictions ----------------------------------------------------------------

    def predict(self, img: Image.Image, topk: int = 5) -> Prediction:
        """The ``topk`` most probable classes of one photo, and all 1000 probabilities."""
        return self.predict_batch([img], topk)[0]

    def predict_batch(self, images: list[Image.Image], topk: int = 5) -> list[Prediction]:
        """``predict`` for several photos in one forward pass."""
        import torch

        if not images:
            return []
        batch = torch.stack([self.preprocess(img) for img in images])
        batch = batch.contiguous(memory_format=torch.channels_last)
        with self.lock, torch.inference_mode():
            logits = self.fast_network(batch)
        probs = torch.softmax(logits.double(), dim=1).numpy()
        return [self._prediction(row, topk) for row in probs]

    def prediction_from_probs(self, probs: np.ndarray, topk: int = 5) -> Prediction:
        """A ``Prediction`` from all 1000 probabilities, shape (1000,)."""
        return self._prediction(probs, topk)

    def _prediction(self, probs: np.ndarray, topk: int) -> Prediction:
        k = max(1, min(int(topk), probs.shape[0]))
        order = np.argsort(-probs, kind="stable")[:k]
        top = tuple(TopClass(int(i), self.labels[int(i)], float(probs[i])) for i in order)
        return Prediction(top=top, probs=probs)

    def gradcam(self, img: Image.Image, class_index: int) -> np.ndarray:
        """Grad-CAM for ``class_index``: float32 ``(H, W)`` in [0, 1] at the photo's size.

        The last conv block's activations A (k channels) are weighted by the spatial mean
        of d(logit)/dA and summed; ReLU keeps what speaks *for* the class
        (``nets.gradcam.grad_cam`` through ``nets.pretrained.attribution``). The map covers
        the centre crop the model saw; the borders it never saw stay 0.
        """
        from nets.pretrained.attribution import explain

        cam = explain(self, img, "gradcam", class_index, threads=self.threads).heat
        return self._cam_to_photo(cam, img.size)

    def _cam_to_photo(self, cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        width, height = size
        left, top, right, bottom = self.crop_box(size)
        x0, y0 = max(0, round(left)), max(0, round(top))
        x1, y1 = min(width, round(right)), min(height, round(bottom))
        heat = Image.new("F", (width, height), 0.0)
        if x1 > x0 and y1 > y0:
            patch = Image.fromarray(cam.astype(np.float32)).resize(
                (x1 - x0, y1 - y0), Image.Resampling.BILINEAR
            )
            heat.paste(patch, (x0, y0))
        return np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)


def _crop_offsets(width: int, height: int, crop: int) -> tuple[int, int]:
    # torchvision's center_crop: int(round(...)), Python's round-half-to-even included.
    return int(round((width - crop) / 2.0)), int(round((height - crop) / 2.0))


def load_model(
    name: str = DEFAULT_MODEL,
    progress: ProgressCallback | None = None,
    *,
    cancel: CancelToken | None = None,
    weights: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> PretrainedModel:
    """Load a model from the registry (``nets.pretrained.registry.MODEL_NAMES``).

    Args:
        name: the model; ``efficientnet_lite0`` (the default) is embedded.
        progress: ``progress(done, total, message)`` while weights download.
        cancel: a callable returning True, or a ``threading.Event``, to stop a download.
        weights: the user's own weights file for this architecture (``weights_only``).
        threads: torch intra-op threads (default: cores - 1, see the module docstring).

    Raises:
        ConfigError (unknown name), DownloadError (offline, cancelled), CheckpointError
        (a weights file that is corrupt, unsafe or of another architecture).
    """
    spec = get_spec(name)
    configure_threads(threads)
    network = load_network(name, weights=weights, progress=progress, cancel=cancel)
    model = PretrainedModel(spec, network, preprocessing_for(name))
    model.threads = threads
    if progress is not None:
        progress(1, 1, f"{spec.display_name} ready")
    return model


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, str | None]]:
    """Files and folders -> ``(path, None)`` per file to classify, or ``(path, error)``.

    Folders are walked recursively in name order, keeping files with an image extension
    and skipping hidden entries; symlinked folders are not followed (no loops). A folder
    without images, a missing path or an unreadable folder gives an error entry. Files
    given explicitly are kept whatever their name: ``open_image`` judges the content.
    """
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            found = False
            problems: list[OSError] = []
            for root, dirs, files in os.walk(path, onerror=problems.append):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file_name in sorted(files):
                    if not file_name.startswith(".") and is_image_path(file_name):
                        found = True
                        yield os.path.join(root, file_name), None
            for problem in problems:
                where = problem.filename or path
                yield (
                    os.fspath(where),
                    f"{shown(where)}: cannot read the folder ({problem.strerror})",
                )
            if not found and not problems:
                yield path, f"{shown(path)}: no image files in this folder"
        elif os.path.exists(path):
            yield path, None
        else:
            yield path, f"{shown(path)}: no such file or folder"


def classify_paths(
    paths: Iterable[str | os.PathLike[str]],
    model: PretrainedModel,
    topk: int = 5,
    *,
    thumbnail_size: int | None = None,
    keep_images: bool = False,
) -> Iterator[ClassifyResult]:
    """Classify files and folders one by one, yielding a ``ClassifyResult`` for each.

    A bad file becomes an error entry and the rest go on. Meant to run in a worker
    thread: stop iterating to cancel (the image in progress finishes first).
    Big JPEGs are decoded at reduced scale (never below the model's resize size), which
    is several times faster and does not change the model's input in a visible way.
    """
    for path, problem in expand_paths(paths):
        if problem is not None:
            yield ClassifyResult(path=path, error=problem)
            continue
        try:
            img = open_image(path, min_size=model.preprocessing.resize)
            prediction = model.predict(img, topk)
        except NetsError as exc:
            yield ClassifyResult(path=path, error=str(exc))
            continue
        except Exception as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            yield ClassifyResult(path=path, error=f"{path}: cannot classify ({detail})")
            continue
        thumbnail = None
        if thumbnail_size:
            thumbnail = img.copy()
            thumbnail.thumbnail((thumbnail_size, thumbnail_size))
        yield ClassifyResult(
            path=path,
            top=prediction.top,
            thumbnail=thumbnail,
            image=img if keep_images else None,
        )
