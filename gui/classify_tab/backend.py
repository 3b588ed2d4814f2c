"""The Classify tab's only door to ``nets.pretrained``: model list, loading, inference.

Everything heavy (torch, torchvision, the model) is imported inside functions, the
first time a model is loaded in a worker thread; importing this module costs nothing.

The batch, the detail view and the heat-map call the model from different worker
threads; ``nets.pretrained``'s models serialise their forward passes themselves. Loaded
models are kept per (name, weights file) for the life of the process, so a
second tab, a test module or a model switched back to is ready at once.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


_CACHE_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], Any] = {}

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]


@dataclass(frozen=True)
class ModelInfo:
    """What the model picker shows for one model."""

    name: str
    display_name: str
    status: str  # "ready", "not downloaded (45 MB)", ...
    summary: str
    available: bool
    downloadable: bool
    size_mb: float


def model_infos() -> list[ModelInfo]:
    """Every model the app offers, with its availability now (no torch import)."""
    from nets.pretrained.registry import list_models

    infos = []
    for spec in list_models():
        available = spec.is_available()
        infos.append(
            ModelInfo(
                name=spec.name,
                display_name=spec.display_name,
                status=spec.status(),
                summary=spec.summary,
                available=available,
                downloadable=not spec.embedded,
                size_mb=float(spec.size_mb),
            )
        )
    return infos


def default_model_name() -> str:
    from nets.pretrained.registry import DEFAULT_MODEL

    return DEFAULT_MODEL


def display_name(name: str, weights: str | os.PathLike[str] | None = None) -> str:
    """How the tab names a loaded model: "ResNet-18", or "ResNet-18 + my.pth"."""
    from nets.pretrained.registry import get_spec

    try:
        base = get_spec(name).display_name.replace(" (built in)", "")
    except Exception:
        base = name
    return f"{base} + {Path(weights).name}" if weights else base


def class_labels() -> tuple[str, ...]:
    """The 1000 ImageNet class names in index order."""
    from nets.pretrained.labels import imagenet_labels

    return imagenet_labels()


def cached_model(name: str, weights: str | os.PathLike[str] | None = None) -> Any | None:
    """The already loaded model, or None."""
    with _CACHE_LOCK:
        return _LOADED.get((name, os.fspath(weights) if weights else ""))


def _call_with_supported(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``function`` with only the keyword arguments its signature accepts."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function(*args, **kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return function(*args, **kwargs)
    return function(*args, **{k: v for k, v in kwargs.items() if k in parameters})


def load(
    name: str,
    weights: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Any:
    """Load (or fetch from the cache) model ``name``; downloads its weights if needed.

    Raises ``nets.errors.NetsError`` subclasses with a message fit for the user.
    """
    model = cached_model(name, weights)
    if model is not None:
        return model
    from nets.pretrained import load_model

    kwargs: dict[str, Any] = {"progress": progress, "cancel": cancel}
    if weights:
        kwargs["weights"] = os.fspath(weights)
    model = _call_with_supported(load_model, name, **kwargs)
    with _CACHE_LOCK:
        _LOADED[(name, os.fspath(weights) if weights else "")] = model
    return model


def download(name: str, progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
    """Fetch a torchvision model's weights into the torch hub cache (progress, cancel)."""
    from nets.pretrained.registry import download_weights

    return download_weights(name, progress=progress, cancel=cancel)


def predict(model: Any, image: Any, topk: int = 5) -> list[tuple[int, str, float]]:
    """``[(index, label, prob), ...]`` best first, for a PIL image."""
    result = model.predict(image, topk=topk)
    top = getattr(result, "top", result)  # a Prediction, or already a list of triples
    return [(int(i), str(label), float(p)) for i, label, p in top]


def preprocess(model: Any, image: Any) -> Any:
    """The exact tensor the model receives for ``image``."""
    return model.preprocess(image)


def denormalize(model: Any, tensor: Any) -> np.ndarray:
    """That tensor back as an ``(S, S, 3)`` uint8 image."""
    import numpy as np

    return np.ascontiguousarray(model.denormalize(tensor), dtype=np.uint8)


def gradcam(model: Any, image: Any, class_index: int) -> np.ndarray:
    """``(H, W)`` float heat-map in [0, 1] at the photo's size, for ``class_index``."""
    import numpy as np

    return np.asarray(model.gradcam(image, int(class_index)), dtype=np.float32)


# -- the lab: attributions, the sanity check, adversarial examples ---------------------
def lab_methods() -> dict[str, tuple[str, str]]:
    """Attribution method name -> (title, what it shows)."""
    from nets.pretrained.attribution import METHODS

    return dict(METHODS)


def colormap(name: str = "magma") -> np.ndarray:
    """A perceptually uniform ``(256, 3)`` uint8 colour table."""
    from nets.pretrained.attribution import colormap as table

    return table(name)


def attribution_settings(**values: Any) -> Any:
    from nets.pretrained.attribution import AttributionSettings

    return AttributionSettings(**values)


def explain(model: Any, image: Any, method: str, target: int, settings: Any) -> Any:
    """``nets.pretrained.attribution.explain`` (an ``Attribution``) for a photo or tensor."""
    from nets.pretrained.attribution import explain as run

    return run(model, image, method, int(target), settings)


def gradcam_pixels(model: Any, pixels: np.ndarray, class_index: int) -> np.ndarray:
    """Grad-CAM ``(S, S)`` in [0, 1] of an ``(S, S, 3)`` uint8 crop given directly."""
    import numpy as np
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32) / 255.0)
    x = model.normalize(tensor.permute(2, 0, 1).unsqueeze(0))
    return explain(model, x, "gradcam", class_index, attribution_settings()).heat


def sanity(model: Any, image: Any, target: int, methods: list[str], settings: Any, stages: int):
    """The cascading-randomisation generator (``SanityMap`` items, then a ``SanityVerdict``)."""
    from nets.pretrained.sanity import cascading_randomization

    return cascading_randomization(model, image, int(target), methods, settings, stages=stages)


def attack_settings(**values: Any) -> Any:
    from nets.pretrained.adversarial import AttackSettings

    settings = AttackSettings(**values)
    settings.check()
    return settings


def attack_steps(model: Any, image: Any, settings: Any):
    """The attack generator: ``(step, steps)`` tuples, then an ``AttackResult``."""
    from nets.pretrained.adversarial import attack_steps as run

    return run(model, image, settings)


def amplified_perturbation(result: Any) -> np.ndarray:
    from nets.pretrained.adversarial import amplified_perturbation as picture

    return picture(result)


def adversarial_png(model: Any, image: Any, result: Any) -> bytes:
    """The adversarial photo (resized as the model resizes, attacked crop in place) as PNG."""
    from nets.pretrained.adversarial import adversarial_photo, png_bytes

    return png_bytes(adversarial_photo(model, image, result))


def classify_file(model: Any, path: Path, topk: int = 5) -> list[tuple[int, str, float]]:
    """The model's top-k for a file opened as the batch opens it (the round-trip check)."""
    from nets.images import open_image

    image = open_image(path, min_size=getattr(model.preprocessing, "resize", None))
    return predict(model, image, topk)
