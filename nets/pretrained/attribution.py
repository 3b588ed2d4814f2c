"""Which pixels made the model say a class: seven attribution methods, through captum.

Every method explains one class score (the logit, before softmax) of one photo, in the
model's input space: the ``(S, S)`` centre crop the model saw. ``explain`` returns the
method's raw attribution and a display map in [0, 1] of the same size::

    model = load_model()
    result = explain(model, open_image("fox.jpg"), "integrated_gradients", target=277)
    result.heat        # (224, 224) float32 in [0, 1]
    result.delta       # Integrated Gradients' convergence delta (None for the others)

Methods (``METHODS``): Saliency (|d score / d pixel|), Input x Gradient, Integrated
Gradients (from a black image, ``ig_steps`` steps, with its convergence delta), SmoothGrad
(saliency averaged over noisy copies, captum's NoiseTunnel), Occlusion (how much the
score drops when a grey square covers each place), Grad-CAM (the last conv block's
activations weighted by their mean gradient: the project's one formula,
``nets.gradcam.grad_cam``, shared with the CNN inspector, so captum's LayerGradCam is not
used) and Guided Grad-CAM (that Grad-CAM times guided backpropagation).

Guided backpropagation here clamps the gradient to its positive part after every
activation module (ReLU, ReLU6, SiLU, Hardswish, GELU): captum's own ``GuidedBackprop``
only hooks ``nn.ReLU``, which would leave the built-in model (ReLU6) and the SiLU/GELU
torchvision models unguided.

Importing this module does not import torch or captum.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nets.errors import ConfigError
from nets.pretrained.threads import configure_threads

if TYPE_CHECKING:
    import threading

    import numpy as np
    import torch
    from PIL import Image

__all__ = [
    "METHODS",
    "Attribution",
    "AttributionSettings",
    "explain",
    "explain_tensor",
    "colorize",
    "colormap",
    "find_class",
    "method_title",
    "normalize_heat",
    "overlay",
]

# name -> (title, one line of what it shows)
METHODS: dict[str, tuple[str, str]] = {
    "saliency": ("Saliency", "how strongly each pixel's change would move the score"),
    "input_x_gradient": ("Input \u00d7 Gradient", "the gradient weighted by the pixel itself"),
    "integrated_gradients": (
        "Integrated Gradients",
        "gradients summed along the path from a black image to the photo",
    ),
    "smoothgrad": ("SmoothGrad", "saliency averaged over noisy copies of the photo"),
    "occlusion": ("Occlusion", "how much the score drops when a grey square hides a place"),
    "gradcam": ("Grad-CAM", "the last conv block's feature maps weighted by their gradient"),
    "guided_gradcam": ("Guided Grad-CAM", "Grad-CAM times guided backpropagation"),
}

# Percentile of |attribution| that maps to 1 on the display map: a handful of extreme
# gradient pixels would otherwise leave the rest of a saliency map black.
DISPLAY_PERCENTILE = 99.5


@dataclass(frozen=True)
class AttributionSettings:
    """The methods' knobs. Occlusion's window and stride are in input pixels."""

    ig_steps: int = 32
    smooth_samples: int = 16
    smooth_sigma: float = 0.15  # noise std as a fraction of the input's range
    occlusion_window: int = 32
    occlusion_stride: int = 16
    batch: int = 8  # images per forward pass inside IG, SmoothGrad and Occlusion
    seed: int = 0  # SmoothGrad's noise

    def check(self) -> None:
        if not 1 <= self.ig_steps <= 1024:
            raise ConfigError(f"Integrated Gradients steps must be 1..1024, not {self.ig_steps}")
        if not 1 <= self.smooth_samples <= 256:
            raise ConfigError(f"SmoothGrad samples must be 1..256, not {self.smooth_samples}")
        if not 0.0 < self.smooth_sigma <= 1.0:
            raise ConfigError(f"SmoothGrad noise must be in (0, 1], not {self.smooth_sigma}")
        if self.occlusion_window < 1 or self.occlusion_stride < 1:
            raise ConfigError("the occlusion window and stride must be at least 1 pixel")


@dataclass(frozen=True)
class Attribution:
    """One method's explanation of class ``target`` for one input.

    ``raw``: the method's attribution, ``(3, S, S)`` float32 (Grad-CAM: ``(S, S)``),
    signed where the method is; ``heat``: ``(S, S)`` float32 in [0, 1] for display.
    ``delta``: Integrated Gradients' convergence delta (the sum of the attributions minus
    the score difference photo - baseline), None for the other methods.
    ``score``, ``baseline_score``: the target logit of the input (and, for IG, of the
    black baseline).
    """

    method: str
    target: int
    raw: np.ndarray = field(repr=False)
    heat: np.ndarray = field(repr=False)
    delta: float | None = None
    score: float = 0.0
    baseline_score: float | None = None
    seconds: float = 0.0

    @property
    def title(self) -> str:
        return method_title(self.method)


def method_title(method: str) -> str:
    return METHODS[method][0] if method in METHODS else method


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    return method


def find_class(labels: tuple[str, ...] | list[str], text: str | int) -> int:
    """A class index from its number, its exact name, or a part of its name found once.

    ConfigError with the candidates when the text matches several classes or none.
    """
    n = len(labels)
    if isinstance(text, int) or str(text).strip().lstrip("#").isdigit():
        index = int(str(text).strip().lstrip("#"))
        if not 0 <= index < n:
            raise ConfigError(f"class {index} is outside 0..{n - 1}")
        return index
    wanted = str(text).strip().lower()
    if not wanted:
        raise ConfigError("no class given")
    exact = [i for i, label in enumerate(labels) if label.lower() == wanted]
    if exact:
        return exact[0]
    found = [i for i, label in enumerate(labels) if wanted in label.lower()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"no ImageNet class is called {text!r}")
    shown = ", ".join(f"{labels[i]} ({i})" for i in found[:6])
    more = f" and {len(found) - 6} more" if len(found) > 6 else ""
    raise ConfigError(f"{text!r} matches several classes: {shown}{more}; give its number")


def normalize_heat(values: np.ndarray, percentile: float = DISPLAY_PERCENTILE) -> np.ndarray:
    """Non-negative ``(H, W)`` values -> float32 in [0, 1], the percentile mapped to 1."""
    import numpy as np

    values = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0)
    values = np.maximum(values, 0.0)
    top = float(np.percentile(values, percentile)) if values.size else 0.0
    if top <= 0.0:
        top = float(values.max()) if values.size else 0.0
    if top <= 0.0:
        return np.zeros_like(values, dtype=np.float32)
    return np.clip(values / top, 0.0, 1.0).astype(np.float32)


COLORMAPS = ("magma", "viridis", "inferno", "cividis")
_LUTS: dict[str, np.ndarray] = {}


def colormap(name: str = "magma") -> np.ndarray:
    """A perceptually uniform colour map as a ``(256, 3)`` uint8 table (matplotlib's)."""
    import numpy as np

    if name not in COLORMAPS:
        raise ConfigError(f"unknown colour map {name!r}; choose one of: {', '.join(COLORMAPS)}")
    if name not in _LUTS:
        from matplotlib import colormaps

        table = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
        _LUTS[name] = np.clip(np.rint(table * 255.0), 0, 255).astype(np.uint8)
    return _LUTS[name]


def colorize(heat: np.ndarray, name: str = "magma") -> np.ndarray:
    """``(H, W)`` values in [0, 1] (NaN counts as 0) -> ``(H, W, 3)`` uint8 colours."""
    import numpy as np

    values = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return colormap(name)[np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)]


def overlay(
    pixels: np.ndarray, heat: np.ndarray, opacity: float = 0.6, name: str = "magma"
) -> np.ndarray:
    """``(S, S, 3)`` uint8 picture with the ``(S, S)`` map over it.

    The map's opacity grows with its value (``opacity`` from half the peak up), so where
    the map is cold the picture shows through unchanged.
    """
    import numpy as np

    values = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0)
    alpha = float(min(max(opacity, 0.0), 1.0)) * np.clip(values / 0.5, 0.0, 1.0)[..., None]
    mixed = pixels.astype(np.float32) * (1.0 - alpha) + colorize(values, name) * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


_ACTIVATIONS: tuple[type, ...] | None = None


def _activation_types() -> tuple[type, ...]:
    global _ACTIVATIONS
    if _ACTIVATIONS is None:
        from torch import nn

        _ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.GELU, nn.LeakyReLU)
    return _ACTIVATIONS


def _guided_backprop(network: torch.nn.Module) -> Any:
    """captum's GuidedBackprop, hooking every activation module (see the module docstring)."""
    import torch.nn.functional as F
    from captum.attr import GuidedBackprop

    def clamp(_module: Any, grad_input: tuple, _grad_output: tuple) -> tuple:
        return tuple(None if g is None else F.relu(g) for g in grad_input)

    class GuidedBackpropAllActivations(GuidedBackprop):
        def _register_hooks(self, module: torch.nn.Module) -> None:
            if isinstance(module, _activation_types()):
                self.backward_hooks.append(module.register_full_backward_hook(clamp))

    return GuidedBackpropAllActivations(network)


def _channels_heat(raw: torch.Tensor, reduce: str) -> np.ndarray:
    """``(1, 3, S, S)`` attribution -> ``(S, S)`` non-negative map."""
    values = raw.detach().float()[0]
    if reduce == "abs_max":
        values = values.abs().amax(dim=0)
    elif reduce == "abs_sum":
        values = values.sum(dim=0).abs()
    else:  # "positive_sum": what raised the score
        values = values.sum(dim=0).clamp(min=0)
    return values.numpy()


def gradcam_tensor(
    network: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, target: int
) -> tuple[torch.Tensor, float]:
    """Grad-CAM, ``(1, 1, S, S)`` in [0, 1], upsampled bilinearly to the input size, and
    the class score (the logit) it explains.

    The layer's output is caught with a forward hook and its gradient taken with
    autograd; the formula is the project's one Grad-CAM, ``nets.gradcam.grad_cam``,
    which the CNN inspector uses too. ``x`` must require grad (the weights do not). The
    score comes from the same forward pass: a second one only for it doubled the cost
    of a Grad-CAM (the unfolded network's forward is most of it).
    """
    import torch
    import torch.nn.functional as F

    from nets.gradcam import grad_cam

    captured: dict[str, torch.Tensor] = {}

    def keep_output(_module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        captured["activations"] = output

    handle = layer.register_forward_hook(keep_output)
    try:
        logits = network(x)
    finally:
        handle.remove()
    activations = captured["activations"]
    score = logits[0, int(target)]
    (grads,) = torch.autograd.grad(score, activations)
    cam = torch.from_numpy(grad_cam(activations, grads))[None, None]
    upsampled = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    return upsampled, float(score.detach())


def explain_tensor(
    network: torch.nn.Module,
    layer: torch.nn.Module,
    x: torch.Tensor,
    method: str,
    target: int,
    settings: AttributionSettings | None = None,
    baseline: torch.Tensor | None = None,
) -> Attribution:
    """``method`` on the normalised model input ``x`` ``(1, 3, S, S)`` for class ``target``.

    ``layer`` is the module whose output Grad-CAM explains; ``baseline`` (same shape as
    ``x``) is Integrated Gradients' starting point (default: zeros). Hooks are placed on
    ``network`` for the call: the caller keeps other threads off it meanwhile.
    """
    import numpy as np
    import torch

    if method != "gradcam":  # Grad-CAM needs none of captum, whose import takes about 0.5 s:
        # the Classify tab's first heat map took 0.63 s instead of 0.09 s
        from captum.attr import (
            InputXGradient,
            IntegratedGradients,
            NoiseTunnel,
            Occlusion,
            Saliency,
        )

    settings = settings or AttributionSettings()
    settings.check()
    check_method(method)
    target = int(target)
    started = time.perf_counter()
    x = x.detach().float()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    x = x.contiguous(memory_format=torch.channels_last)
    delta: float | None = None
    baseline_score: float | None = None
    score = math.nan
    with torch.enable_grad():
        if method == "saliency":
            raw = Saliency(network).attribute(x.clone().requires_grad_(True), target=target)
            heat = normalize_heat(_channels_heat(raw, "abs_max"))
        elif method == "input_x_gradient":
            raw = InputXGradient(network).attribute(x.clone().requires_grad_(True), target=target)
            heat = normalize_heat(_channels_heat(raw, "abs_sum"))
        elif method == "integrated_gradients":
            base = torch.zeros_like(x) if baseline is None else baseline.to(x).reshape(x.shape)
            raw = IntegratedGradients(network).attribute(
                x,
                baselines=base,
                target=target,
                n_steps=settings.ig_steps,
                internal_batch_size=settings.batch,
            )
            # captum's convergence delta, sum(attributions) - (F(x) - F(baseline)), from
            # one forward pass of both (captum's own makes two, and the score a third).
            with torch.inference_mode():
                ends = network(torch.cat([x, base.contiguous(memory_format=torch.channels_last)]))
            score = float(ends[0, target])
            baseline_score = float(ends[1, target])
            delta = float(raw.double().sum()) - (score - baseline_score)
            heat = normalize_heat(_channels_heat(raw, "abs_sum"))
        elif method == "smoothgrad":
            sigma = settings.smooth_sigma * float(x.max() - x.min())
            generator_state = torch.random.get_rng_state()
            torch.manual_seed(settings.seed)
            try:
                raw = NoiseTunnel(Saliency(network)).attribute(
                    x.clone().requires_grad_(True),
                    nt_type="smoothgrad",
                    nt_samples=settings.smooth_samples,
                    nt_samples_batch_size=settings.batch,
                    stdevs=sigma,
                    target=target,
                )
            finally:
                torch.random.set_rng_state(generator_state)
            heat = normalize_heat(_channels_heat(raw, "abs_max"))
        elif method == "occlusion":
            window, stride = settings.occlusion_window, settings.occlusion_stride
            with torch.inference_mode():
                raw = Occlusion(network).attribute(
                    x,
                    sliding_window_shapes=(3, window, window),
                    strides=(3, stride, stride),
                    baselines=0.0,  # the dataset's mean colour, in normalised units
                    target=target,
                    perturbations_per_eval=settings.batch,
                )
            # The window spans the 3 channels, so they all hold the same score drop.
            heat = normalize_heat(raw[0, 0].clamp(min=0).numpy(), 100.0)
        elif method == "gradcam":
            cam, score = gradcam_tensor(network, layer, x.clone().requires_grad_(True), target)
            raw = cam[0, 0]
            heat = normalize_heat(raw.detach().float().numpy(), 100.0)
        else:  # guided_gradcam
            cam, score = gradcam_tensor(network, layer, x.clone().requires_grad_(True), target)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "setting backward hooks"
                guided = _guided_backprop(network).attribute(
                    x.clone().requires_grad_(True), target=target
                )
            raw = guided * cam
            heat = normalize_heat(_channels_heat(raw, "abs_max"))
        if math.isnan(score):  # the methods whose passes do not give the score
            with torch.inference_mode():
                score = float(network(x)[0, target])
    raw_np = raw.detach().float().cpu().numpy()
    if raw_np.ndim == 4:
        raw_np = raw_np[0]
    return Attribution(
        method=method,
        target=target,
        raw=raw_np.astype(np.float32),
        heat=heat.astype(np.float32),
        delta=delta,
        score=score,
        baseline_score=baseline_score,
        seconds=time.perf_counter() - started,
    )


class ExplainableModel(Protocol):
    """What ``explain`` needs of a model (``nets.pretrained.classify.PretrainedModel``):
    its class names, its network (and the faster one without hooks), the layer Grad-CAM
    reads, its preprocessing and the lock that serialises hooking the network."""

    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def network(self) -> torch.nn.Module: ...
    @property
    def fast_network(self) -> torch.nn.Module: ...
    @property
    def target_layer(self) -> torch.nn.Module: ...
    @property
    def lock(self) -> threading.RLock: ...
    def preprocess(self, img: Image.Image) -> torch.Tensor: ...
    def black_input(self) -> torch.Tensor: ...


def explain(
    model: ExplainableModel,
    image: Image.Image | torch.Tensor,
    method: str,
    target: int,
    settings: AttributionSettings | None = None,
    *,
    threads: int | None = None,
) -> Attribution:
    """``method``'s explanation of class ``target`` for a photo (or a model-input tensor).

    The photo goes through the model's own preprocessing; Integrated Gradients starts
    from a black image. Holds the model's lock (guided backprop hooks the network).
    """
    import torch

    configure_threads(threads)
    if not 0 <= int(target) < len(model.labels):
        raise ConfigError(f"class index {target} is outside 0..{len(model.labels) - 1}")
    x = image if isinstance(image, torch.Tensor) else model.preprocess(image)
    # The methods without hooks run on the faster network (BatchNorm folded in).
    hooked = method in ("gradcam", "guided_gradcam")
    with model.lock:
        return explain_tensor(
            model.network if hooked else model.fast_network,
            model.target_layer,
            x,
            method,
            target,
            settings,
            baseline=model.black_input(),
        )
