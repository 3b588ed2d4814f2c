"""Activation maximisation: what input makes a channel (or a class score) as large as it can be?

Start from noise and climb the gradient of the objective with respect to the *pixels*
(the weights stay fixed): every step is one forward pass and one backward pass to the
input image. Left alone, gradient ascent finds high-frequency noise the network happens to
like; three regularisers make the result an image: L2 decay (pull the pixels back to the
average pixel), a small blur every few steps (suppress the highest frequencies) and
jitter (shift the image by a pixel or two before each step, so the pattern has to work
wherever it lands).

:func:`dream` is a generator yielding a :class:`DreamFrame` after every step, so a GUI can
draw it live and cancel between steps (``gui.worker``), and a command line can just run
it to the end. torch is imported lazily; the thread count is set explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import ConfigError

if TYPE_CHECKING:
    from nets.cnn.inspect import Inspector

STEP_LINE = (
    "Each step is one forward pass and one backward pass to the pixels: the gradient of "
    "the objective with respect to the input image (the weights stay fixed)."
)


@dataclass(frozen=True)
class ClassObjective:
    """Maximise the score (logit) of class ``index``."""

    index: int

    def describe(self, class_names: tuple[str, ...]) -> str:
        name = class_names[self.index] if 0 <= self.index < len(class_names) else "?"
        return f"score of class {self.index} ({name})"


@dataclass(frozen=True)
class ChannelObjective:
    """Maximise the mean activation of ``channel`` of ``layer``'s output (a unit's value
    for a flat layer)."""

    layer: int
    channel: int

    def describe(self, class_names: tuple[str, ...]) -> str:
        return f"mean activation of layer {self.layer}, channel {self.channel}"


Objective = ClassObjective | ChannelObjective


@dataclass(frozen=True)
class DreamSettings:
    """``lr`` is the step size in normalised pixel units (the gradient is scaled to unit
    mean magnitude first, so it suits any network); ``l2`` the fraction the image shrinks
    towards the average pixel per step; the image is blurred every ``blur_every`` steps
    (0: never) and shifted by up to ``jitter`` pixels."""

    steps: int = 100
    lr: float = 0.1
    l2: float = 0.01
    blur_every: int = 4
    blur_sigma: float = 0.5
    jitter: int = 1
    seed: int = 0

    def validated(self) -> DreamSettings:
        checks = (
            ("steps", self.steps, 1, 100_000),
            ("lr", self.lr, 1e-6, 100.0),
            ("l2", self.l2, 0.0, 0.99),
            ("blur_every", self.blur_every, 0, 100_000),
            ("blur_sigma", self.blur_sigma, 0.05, 10.0),
            ("jitter", self.jitter, 0, 64),
        )
        for name, value, low, high in checks:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not low <= value <= high
            ):
                raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
        return self


@dataclass(frozen=True)
class DreamFrame:
    """The image after ``step`` of ``steps`` steps and the objective's value for it.

    ``image`` is uint8 (H, W, C) in pixel units, as a dataset image would be.
    """

    step: int
    steps: int
    objective: float
    image: np.ndarray = field(repr=False)


def check_objective(inspector: Inspector, objective: Objective) -> None:
    """ConfigError unless the class, or the layer and channel, exist in this network."""
    if isinstance(objective, ClassObjective):
        inspector.check_class(objective.index)
        return
    layers = inspector.layers
    if not 0 <= objective.layer < len(layers):
        raise ConfigError(f"layer {objective.layer} is outside 0..{len(layers) - 1}")
    channels = layers[objective.layer].shape[0]
    if not 0 <= objective.channel < channels:
        raise ConfigError(
            f"channel {objective.channel} is outside 0..{channels - 1} of layer "
            f"{layers[objective.layer].title}"
        )


def _blur_kernel(sigma: float, channels: int) -> Any:
    import torch

    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, -1, -1).contiguous()


def dream(
    inspector: Inspector,
    objective: Objective,
    settings: DreamSettings | None = None,
    *,
    cancel: CancelToken | None = None,
) -> Iterator[DreamFrame]:
    """Gradient ascent on the input; yields the starting noise (step 0), then every step.

    Raises ConfigError before any work for an objective the network does not have.
    Stops quietly (after the last yielded frame) when ``cancel`` is set.
    """
    settings = (settings or DreamSettings()).validated()
    check_objective(inspector, objective)
    return _dream(inspector, objective, settings, cancel)


def _dream(
    inspector: Inspector, objective: Objective, s: DreamSettings, cancel: CancelToken | None
) -> Iterator[DreamFrame]:
    import torch
    import torch.nn.functional as F

    c, h, w = inspector.input_shape
    mean = torch.tensor(inspector.trained.mean, dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor(inspector.trained.std, dtype=torch.float32).view(1, c, 1, 1)
    low, high = (0.0 - mean) / std, (255.0 - mean) / std
    # L2 decay pulls towards the dataset's average pixel (0 in normalised units), where
    # the noise starts too.
    gen = torch.Generator().manual_seed(s.seed)
    x = (torch.randn((1, c, h, w), generator=gen) * (20.0 / std)).clamp(low, high)
    kernel = _blur_kernel(s.blur_sigma, c)
    pad = kernel.shape[-1] // 2
    if isinstance(objective, ClassObjective):
        stop_at = len(inspector.modules) - 1
    else:
        stop_at = objective.layer
    # A ReLU channel that is zero everywhere has no gradient to climb; its input has, and
    # raising a ReLU's input never lowers its output, so a ReLU climbs on its input.
    climb_at = stop_at - 1 if stop_at > 0 and inspector.layers[stop_at].kind == "ReLU" else stop_at

    def value_of(images: Any, upto: int = stop_at) -> Any:
        out = inspector.forward_to(images, upto)
        if isinstance(objective, ClassObjective):
            return out[0, objective.index]
        return out[0, objective.channel].mean()

    def frame(step: int, value: float) -> DreamFrame:
        pixels = (x * std + mean).clamp(0, 255).round().to(torch.uint8)[0]
        return DreamFrame(step, s.steps, value, pixels.permute(1, 2, 0).numpy().copy())

    with torch.no_grad():
        yield frame(0, float(value_of(x)))
    for step in range(1, s.steps + 1):
        if is_cancelled(cancel):
            return
        dy, dx = (
            (int(v) for v in torch.randint(-s.jitter, s.jitter + 1, (2,), generator=gen))
            if s.jitter
            else (0, 0)
        )
        with torch.enable_grad():
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3)).requires_grad_(True)
            (grad,) = torch.autograd.grad(value_of(shifted, climb_at), shifted)
        with torch.no_grad():
            grad = torch.roll(grad, shifts=(-dy, -dx), dims=(2, 3))
            x += s.lr * grad / (grad.abs().mean() + 1e-8)
            x *= 1.0 - s.l2
            if s.blur_every and step % s.blur_every == 0:
                x = F.conv2d(F.pad(x, (pad,) * 4, mode="replicate"), kernel, groups=c)
            x = torch.max(torch.min(x, high), low)
            yield frame(step, float(value_of(x)))


def run_dream(
    inspector: Inspector,
    objective: Objective,
    settings: DreamSettings | None = None,
    cancel: CancelToken | None = None,
) -> DreamFrame:
    """Run :func:`dream` to the end and return its last frame (scripts, tests, CLI)."""
    frames = dream(inspector, objective, settings, cancel=cancel)
    last = next(frames)  # dream always yields the starting frame
    for last in frames:  # noqa: B007 - only the last one is wanted
        pass
    return last
