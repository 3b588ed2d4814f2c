"""Look inside a trained CNN: every layer's output, the gradients of a class score, Grad-CAM,
receptive fields and the validation patches that excite a channel most.

::

    inspector = Inspector(trained, threads=1)      # a private eval-mode copy of the model
    result = inspector.inspect(image)              # image: uint8 (H, W, C) like the data
    result.activations[3]                          # layer 3's output, (C, h, w) or (F,)
    result.saliency                                # d score / d input, (C, H, W)
    receptive_field(trained.arch, trained.input_shape, layer=3, y=5, x=2)

One inspection is one forward pass keeping every layer's output and one backward pass
from the chosen class score (the predicted class unless told) to the input and to every
layer's output, so saliency, gradient x input, the gradient of any layer's maps and
Grad-CAM all come from the same two passes.

The model is copied, so inspecting never changes the run's weights or training mode,
and a run that goes on training does not change an inspection half-way. Importing this
module does not import torch; :class:`Inspector` does and sets torch's thread count.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nets.cnn.arch import (
    AvgPool2d,
    Conv2d,
    LayerSpec,
    MaxPool2d,
    describe_layer,
    layer_name,
    validate,
)
from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import Cancelled, ConfigError

if TYPE_CHECKING:
    from PIL import Image

    from nets.cnn.trained import TrainedCnn

#: Images per forward pass when a channel's best patches are searched.
INDEX_BATCH = 500


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Geometry:
    """How one spatial layer's output pixels map onto the input image.

    Output pixel ``(y, x)`` sees input rows ``start + y * jump`` up to
    ``start + y * jump + size - 1`` (and the same for columns); ``start`` is negative
    when padding lets the window hang over the border.
    """

    size: int
    jump: int
    start: int


@dataclass(frozen=True)
class Box:
    """A rectangle of input pixels: rows ``top:bottom``, columns ``left:right`` (end
    exclusive), already clipped to the image."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def geometries(arch: Sequence[LayerSpec], input_shape: Sequence[int]) -> list[Geometry | None]:
    """Per layer, its :class:`Geometry` (None from Flatten on: every value sees everything).

    Walks the kernel / stride / padding chain: a window of ``k`` over pixels ``jump``
    apart widens the field by ``(k - 1) * jump``, a stride multiplies the jump and padding
    moves the start back by ``padding * jump``. Layers that keep the shape (ReLU,
    BatchNorm2d, Dropout) keep the geometry.
    """
    validate(arch, input_shape)
    size, jump, start = 1, 1, 0
    out: list[Geometry | None] = []
    flat = False
    for layer in arch:
        if isinstance(layer, Conv2d):
            k, s, p = layer.kernel_size, layer.stride, layer.padding
        elif isinstance(layer, (MaxPool2d, AvgPool2d)):
            k, s, p = layer.kernel_size, layer.stride or layer.kernel_size, 0
        else:
            k, s, p = 1, 1, 0
        if layer_name(layer) in ("Flatten", "Linear"):
            flat = True
        if flat:
            out.append(None)
            continue
        size, start, jump = size + (k - 1) * jump, start - p * jump, jump * s
        out.append(Geometry(size, jump, start))
    return out


def receptive_field(
    arch: Sequence[LayerSpec], input_shape: Sequence[int], layer: int, y: int = 0, x: int = 0
) -> Box:
    """The input pixels that output pixel ``(y, x)`` of ``layer`` depends on, clipped.

    After Flatten every value depends on the whole image, so the whole image is returned.
    """
    _, h, w = input_shape
    geometry = geometries(arch, input_shape)[layer]
    if geometry is None:
        return Box(0, 0, h, w)
    g = geometry
    top, left = g.start + y * g.jump, g.start + x * g.jump
    return Box(max(0, top), max(0, left), min(h, top + g.size), min(w, left + g.size))


def gradcam_layer(arch: Sequence[LayerSpec]) -> int | None:
    """Where Grad-CAM looks: the rectified output of the last convolution (the first ReLU
    after it while the maps are still spatial, else the convolution itself); None without
    a convolution. The raw convolution output is a pre-activation whose sign BatchNorm may
    flip, so its weighted sum is often negative everywhere and the map would be blank."""
    convs = [i for i, spec in enumerate(arch) if isinstance(spec, Conv2d)]
    if not convs:
        return None
    for i in range(convs[-1] + 1, len(arch)):
        name = layer_name(arch[i])
        if name in ("Flatten", "Linear"):
            break
        if name == "ReLU":
            return i
    return convs[-1]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LayerInfo:
    """One layer as the inspector shows it; ``shape`` is its output for one image."""

    index: int
    kind: str  # "Conv2d", "ReLU"...
    label: str  # "Conv2d(16, k=3, s=1, p=1)"
    shape: tuple[int, ...]

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 3

    @property
    def title(self) -> str:
        return f"{self.index}: {self.label}"


@dataclass(frozen=True)
class Inspection:
    """What one image does inside the network.

    Arrays are float32 for ONE image; layer outputs are ``(C, h, w)`` or ``(F,)``.
    ``saliency`` is d(score of ``target``)/d(model input), the input being the normalised
    image ``(pixel - mean) / std`` of shape ``(C, H, W)``. ``grad_x_input`` is the
    attribution against a black image: d score/d pixel x pixel, pixels in 0..1.
    ``gradients[i]`` is d score/d(layer i's output). ``gradcam`` is (h, w) in [0, 1] at
    the resolution of layer ``gradcam_layer`` (see :func:`gradcam_layer`; None without a
    convolution).
    """

    image: np.ndarray = field(repr=False)  # uint8 (H, W, C): what was fed in
    layers: tuple[LayerInfo, ...]
    activations: tuple[np.ndarray, ...] = field(repr=False)
    gradients: tuple[np.ndarray, ...] = field(repr=False)
    logits: np.ndarray = field(repr=False)  # (K,)
    probabilities: np.ndarray = field(repr=False)  # (K,)
    predicted: int
    target: int
    saliency: np.ndarray = field(repr=False)
    grad_x_input: np.ndarray = field(repr=False)
    gradcam: np.ndarray | None = field(repr=False)
    gradcam_layer: int | None

    def top_classes(self, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` most probable classes as (index, probability), best first."""
        order = np.argsort(-self.probabilities, kind="stable")[: max(1, k)]
        return [(int(i), float(self.probabilities[i])) for i in order]


def activation_stats(values: np.ndarray) -> dict[str, float]:
    """min, max, mean, std and the fraction of exact zeros of a layer's output."""
    v = np.asarray(values, dtype=np.float64)
    return {
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "zero_fraction": float(np.mean(v == 0.0)),
    }


def channel_ranges(maps: np.ndarray) -> np.ndarray:
    """Each channel's (min, max): float32 (C, 2) for maps (C, h, w)."""
    flat = np.asarray(maps).reshape(maps.shape[0], -1)
    return np.stack([flat.min(axis=1), flat.max(axis=1)], axis=1).astype(np.float32)


# --------------------------------------------------------------------------- inputs


def image_for_model(img: Image.Image, input_shape: Sequence[int]) -> np.ndarray:
    """A picture converted the way the training data is: uint8 (H, W, C).

    The centre is cropped to the model's aspect ratio and resized (as the image-folder
    loader does); one channel means grey (Pillow's ITU-R 601 luma, Fashion-MNIST's own
    kind of grey). Normalisation happens in :meth:`Inspector.inspect`, with the model's
    own mean and std.
    """
    from nets.images import fit_image, to_rgb

    c, h, w = input_shape
    fitted = fit_image(to_rgb(img), (w, h))
    if c == 1:
        return np.asarray(fitted.convert("L"), dtype=np.uint8)[:, :, None]
    if c == 3:
        return np.asarray(fitted, dtype=np.uint8)
    raise ConfigError(f"the model takes {c}-channel images; only 1 (grey) or 3 (RGB) can be made")


def load_image_for_model(path: Any, input_shape: Sequence[int]) -> np.ndarray:
    """Open an image file safely (nets.images.open_image) and convert it for the model."""
    from nets.images import open_image

    return image_for_model(open_image(path), input_shape)


# --------------------------------------------------------------------------- inspector


class Inspector:
    """A private eval-mode copy of a trained CNN that answers inspection questions.

    ``threads`` is passed to ``torch.set_num_threads`` (process-wide in torch); one
    thread is fastest for single images of this size. Not thread-safe: use one
    inspector per thread.
    """

    def __init__(self, trained: TrainedCnn, threads: int = 1) -> None:
        import torch

        from nets.cnn.trained import Normalizer

        torch.set_num_threads(max(1, int(threads)))
        self.trained = trained
        # channels_last, as training uses: oneDNN's small-channel kernels run 2-4x faster
        # on it (measured: 10,000 images through the default preset 2.5 s instead of 9.5).
        model = copy.deepcopy(trained.model).to("cpu").to(memory_format=torch.channels_last)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model
        layers = model.layers
        assert isinstance(layers, torch.nn.Sequential)  # CnnNet's layout (nets.cnn.model)
        self.modules = list(layers)
        self.arch = tuple(trained.arch)
        self.input_shape = tuple(trained.input_shape)
        rows = validate(self.arch, self.input_shape, trained.num_classes)
        self.layers = tuple(
            LayerInfo(r.index, layer_name(spec), describe_layer(spec), tuple(r.output_shape))
            for r, spec in zip(rows, self.arch, strict=True)
        )
        self.geometries = geometries(self.arch, self.input_shape)
        self.last_conv = gradcam_layer(self.arch)
        self._norm = Normalizer(trained.mean, trained.std, "cpu")
        self._std = torch.tensor(trained.std, dtype=torch.float32).view(-1, 1, 1)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.trained.class_names

    def check_image(self, image: np.ndarray) -> np.ndarray:
        """``image`` as uint8 (H, W, C) of the model's input size, or ConfigError."""
        arr = np.asarray(image)
        c, h, w = self.input_shape
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.shape != (h, w, c):
            raise ConfigError(f"the model takes {h}x{w}x{c} images, got shape {arr.shape}")
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return arr

    def normalise(self, images: np.ndarray) -> Any:
        """uint8 (N, H, W, C) -> the float32 (N, C, H, W) tensor the model takes."""
        import torch

        from nets.cnn.trained import to_nchw_tensor

        return self._norm(to_nchw_tensor(images)).contiguous(memory_format=torch.channels_last)

    def check_class(self, target: int | None) -> int | None:
        if target is not None and not 0 <= int(target) < self.trained.num_classes:
            raise ConfigError(
                f"class {target} is outside 0..{self.trained.num_classes - 1} "
                f"({', '.join(self.class_names[:4])}...)"
            )
        return None if target is None else int(target)

    def inspect(self, image: np.ndarray, target: int | None = None) -> Inspection:
        """Forward ``image`` (uint8 (H, W, C)) keeping every output, then backpropagate the
        score (logit) of ``target`` (default: the predicted class)."""
        import torch

        target = self.check_class(target)
        image = self.check_image(image)
        x = self.normalise(image[None]).requires_grad_(True)
        with torch.enable_grad():
            outputs = []
            h = x
            for module in self.modules:
                h = module(h)
                outputs.append(h)
            logits = h[0]
            predicted = int(logits.argmax())
            chosen = predicted if target is None else target
            grads = torch.autograd.grad(logits[chosen], [x, *outputs], allow_unused=True)
        grad_x = grads[0][0]
        layer_grads = [
            np.zeros(tuple(o.shape[1:]), np.float32) if g is None else g[0].numpy()
            for o, g in zip(outputs, grads[1:], strict=True)
        ]
        # d score/d pixel (pixels in 0..1) = d score/d input * 255 / std; times the pixel.
        pixels01 = torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255.0)
        gxi = grad_x * (255.0 / self._std) * pixels01
        cam = None
        if self.last_conv is not None:
            from nets.gradcam import grad_cam

            i = self.last_conv
            g = grads[1 + i]
            cam = grad_cam(outputs[i], g if g is not None else torch.zeros_like(outputs[i]))
        return Inspection(
            image=image,
            layers=self.layers,
            activations=tuple(o[0].detach().numpy() for o in outputs),
            gradients=tuple(layer_grads),
            logits=logits.detach().numpy().copy(),
            probabilities=torch.softmax(logits.detach(), 0).numpy(),
            predicted=predicted,
            target=chosen,
            saliency=grad_x.numpy(),
            grad_x_input=gxi.numpy(),
            gradcam=cam,
            gradcam_layer=self.last_conv,
        )

    def filters(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Every convolution's weights: (layer index, float32 (out, in, k, k), L2 norm of each
        (out, in) filter as float32 (out, in))."""
        found = []
        for i, spec in enumerate(self.arch):
            if isinstance(spec, Conv2d):
                w = self.modules[i].get_parameter("weight").detach().numpy()
                found.append((i, w, np.sqrt((w.astype(np.float64) ** 2).sum(axis=(2, 3)))))
        return [(i, w, n.astype(np.float32)) for i, w, n in found]

    def predict(
        self, images: np.ndarray, batch: int = 1000, cancel: CancelToken | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted class (N,) and its probability (N,) for uint8 (N, H, W, C) images."""
        import torch

        labels = np.empty(len(images), np.int64)
        confidence = np.empty(len(images), np.float32)
        with torch.inference_mode():
            for start in range(0, len(images), batch):
                if is_cancelled(cancel):
                    raise Cancelled("prediction cancelled")
                p = torch.softmax(self.model(self.normalise(images[start : start + batch])), 1)
                top = p.max(dim=1)
                labels[start : start + len(p)] = top.indices.numpy()
                confidence[start : start + len(p)] = top.values.numpy()
        return labels, confidence

    def forward_to(self, x: Any, layer: int) -> Any:
        """Run the normalised batch ``x`` (N, C, H, W) up to and including ``layer``."""
        for module in self.modules[: layer + 1]:
            x = module(x)
        return x

    def index_layer(
        self,
        images: np.ndarray,
        layer: int,
        batch: int = INDEX_BATCH,
        cancel: CancelToken | None = None,
    ) -> ChannelIndex:
        """For every image and channel of ``layer``: its strongest activation and where."""
        import torch

        if not 0 <= layer < len(self.layers):
            raise ConfigError(f"layer {layer} is outside 0..{len(self.layers) - 1}")
        n = len(images)
        channels = self.layers[layer].shape[0]
        values = np.empty((n, channels), np.float32)
        positions = np.zeros((n, channels), np.int32)
        with torch.inference_mode():
            for start in range(0, n, batch):
                if is_cancelled(cancel):
                    raise Cancelled("search cancelled")
                out = self.forward_to(self.normalise(images[start : start + batch]), layer)
                flat = out.reshape(out.shape[0], channels, -1)
                best = flat.max(dim=2)
                values[start : start + len(out)] = best.values.numpy()
                positions[start : start + len(out)] = best.indices.numpy()
        return ChannelIndex(layer, self.layers[layer].shape, values, positions)

    def top_patches(
        self, index: ChannelIndex, images: np.ndarray, channel: int, k: int = 9
    ) -> list[Patch]:
        """The ``k`` images whose strongest ``channel`` activation is highest, each with the
        receptive field of that position cut out (best first)."""
        if not 0 <= channel < index.values.shape[1]:
            raise ConfigError(
                f"channel {channel} is outside 0..{index.values.shape[1] - 1} of layer "
                f"{index.layer}"
            )
        column = index.values[:, channel]
        order = np.argsort(-column, kind="stable")[:k]
        width = index.shape[2] if len(index.shape) == 3 else 1
        patches = []
        for i in order:
            y, x = divmod(int(index.positions[i, channel]), width)
            box = receptive_field(self.arch, self.input_shape, index.layer, y, x)
            crop = images[i, box.top : box.bottom, box.left : box.right]
            patches.append(Patch(int(i), float(column[i]), y, x, box, np.array(crop)))
        return patches


@dataclass(frozen=True)
class ChannelIndex:
    """Each image's strongest activation of each channel of one layer, and where it is.

    ``values`` float32 (N, C); ``positions`` int32 (N, C), the flat ``y * w + x`` of the
    maximum (0 for a flat layer, whose "channels" are its units).
    """

    layer: int
    shape: tuple[int, ...]
    values: np.ndarray = field(repr=False)
    positions: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Patch:
    """One of a channel's best validation patches: image ``index``, the activation
    ``value`` at output pixel ``(y, x)``, its receptive field ``box`` and the pixels
    there, uint8 (box.height, box.width, C)."""

    index: int
    value: float
    y: int
    x: int
    box: Box
    pixels: np.ndarray = field(repr=False)
