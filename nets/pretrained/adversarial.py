"""Adversarial examples from a photo: FGSM and PGD, untargeted or aimed at a class.

The attack works in the model's input space, on the ``(S, S)`` centre crop the model
sees, with pixels in [0, 1] and ``epsilon`` the largest change per pixel (``2 / 255``:
two levels of an 8-bit image). The result is rounded to 8-bit pixels before it is
judged, so what ``attack`` reports is what a PNG of it, opened again, makes the model
say. PGD's step size is a whole number of 8-bit levels by default, so its iterates stay
on the 8-bit grid and the rounding changes nothing::

    result = attack(model, photo, AttackSettings("pgd", epsilon=4 / 255, target=282))
    result.after.top[0]            # the class the model now sees (after rounding)
    data = png_bytes(adversarial_photo(model, photo, result))  # write these bytes

``adversarial_photo`` is the photo resized as the model resizes it, with the attacked
crop pasted in its place: the model's preprocessing leaves such an image unchanged, so
the file fools the model exactly as ``result`` says (``classify`` it to check).

Importing this module does not import torch.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from nets.errors import ConfigError

if TYPE_CHECKING:
    from PIL import Image

    from nets.pretrained.classify import Prediction, PretrainedModel

__all__ = [
    "ATTACKS",
    "AttackResult",
    "AttackSettings",
    "adversarial_photo",
    "amplified_perturbation",
    "attack",
    "attack_steps",
    "parse_epsilon",
    "png_bytes",
]

ATTACKS = ("fgsm", "pgd")
MAX_EPSILON = 16 / 255
Cancel = Callable[[], bool]
Progress = Callable[[int, int], None]


def parse_epsilon(text: str | float) -> float:
    """``"2/255"``, ``"0.008"`` or ``2/255`` -> a float in (0, 16/255]; ConfigError else."""
    try:
        value = float(Fraction(str(text).strip())) if isinstance(text, str) else float(text)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(
            f"epsilon must be a number or a fraction like 2/255, not {text!r}"
        ) from None
    if not 0.0 < value <= MAX_EPSILON + 1e-12:
        raise ConfigError(f"epsilon must be between 1/255 and 16/255 (0.063), not {text}")
    return value


def _levels(value: float) -> int:
    """A pixel-unit amount as whole 8-bit levels, never rounding above it."""
    return int(np.floor(value * 255.0 + 1e-6))


@dataclass(frozen=True)
class AttackSettings:
    """``method`` "fgsm" or "pgd"; ``epsilon`` in pixel units (0..1 scale).

    ``target`` None: push the photo away from its top-1 class; a class index: pull it
    towards that class. ``steps`` and ``step_size`` are PGD's (step size default: the
    whole number of 8-bit levels nearest 2.5 * epsilon / steps, at least one level).
    """

    method: str = "fgsm"
    epsilon: float = 2 / 255
    steps: int = 10
    step_size: float | None = None
    target: int | None = None

    def check(self, classes: int = 1000) -> None:
        if self.method not in ATTACKS:
            raise ConfigError(f"unknown attack {self.method!r}; choose one of: fgsm, pgd")
        parse_epsilon(self.epsilon)
        if _levels(self.epsilon) < 1:
            raise ConfigError("epsilon must be at least one 8-bit level (1/255)")
        if self.method == "pgd" and not 1 <= self.steps <= 1000:
            raise ConfigError(f"PGD steps must be 1..1000, not {self.steps}")
        if self.step_size is not None and not 0.0 < self.step_size <= MAX_EPSILON + 1e-12:
            raise ConfigError(f"the step size must be in (0, 16/255], not {self.step_size}")
        if self.target is not None and not 0 <= self.target < classes:
            raise ConfigError(f"target class {self.target} is outside 0..{classes - 1}")

    def pgd_step(self) -> float:
        if self.step_size is not None:
            return float(self.step_size)
        return max(1, round(2.5 * _levels(self.epsilon) / max(self.steps, 1))) / 255.0


@dataclass(frozen=True)
class AttackResult:
    """What an attack made of one photo, judged after rounding to 8-bit pixels.

    ``original``, ``adversarial``: ``(S, S, 3)`` uint8 crops (the model's input before
    normalisation); ``before``, ``after``: the model's predictions on each. ``flipped``:
    the top-1 class changed; ``reached_target``: a target was given and is now top-1.
    ``linf``: the largest change of any pixel, in 8-bit levels.
    """

    method: str
    epsilon: float
    target: int | None
    steps: int
    step_size: float
    original: np.ndarray = field(repr=False)
    adversarial: np.ndarray = field(repr=False)
    before: Prediction = field(repr=False)
    after: Prediction = field(repr=False)
    seconds: float = 0.0

    @property
    def flipped(self) -> bool:
        return self.after.top[0].index != self.before.top[0].index

    @property
    def reached_target(self) -> bool:
        return self.target is not None and self.after.top[0].index == self.target

    @property
    def linf(self) -> int:
        diff = self.adversarial.astype(np.int16) - self.original.astype(np.int16)
        return int(np.abs(diff).max()) if diff.size else 0

    def as_dict(self, file: str | None = None) -> dict:
        """The command line's ``"attack"`` entry."""
        return {
            "method": self.method,
            "epsilon": self.epsilon,
            "epsilon_levels": _levels(self.epsilon),
            "target": self.target,
            "steps": self.steps if self.method == "pgd" else 1,
            "before": [t.as_dict() for t in self.before.top],
            "after": [t.as_dict() for t in self.after.top],
            "flipped": self.flipped,
            "reached_target": self.reached_target,
            "linf_levels": self.linf,
            "file": file,
        }


def attack(
    model: PretrainedModel,
    image: Image.Image | np.ndarray,
    settings: AttackSettings,
    *,
    topk: int = 5,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    threads: int | None = None,
) -> AttackResult | None:
    """Attack one photo (or an ``(S, S, 3)`` uint8 crop); None if ``cancel`` said stop.

    ``progress(step, steps)`` after every gradient step. The model's lock is held for
    each forward and backward pass, never across the whole attack.
    """
    for item in attack_steps(model, image, settings, topk=topk, threads=threads):
        if isinstance(item, AttackResult):
            return item
        if progress is not None:
            progress(*item)
        if cancel is not None and cancel():
            return None
    return None


def attack_steps(
    model: PretrainedModel,
    image: Image.Image | np.ndarray,
    settings: AttackSettings,
    *,
    topk: int = 5,
    threads: int | None = None,
) -> Iterator[tuple[int, int] | AttackResult]:
    """``attack`` as a generator: ``(step, steps)`` after each step, then the result.

    Stop iterating to cancel (a worker thread's way).
    """
    import torch
    import torch.nn.functional as F

    from nets.pretrained.threads import configure_threads

    configure_threads(threads)
    settings.check(len(model.labels))
    started = time.perf_counter()
    original = image if isinstance(image, np.ndarray) else model.pixels(image)
    original = np.ascontiguousarray(original, dtype=np.uint8)
    x0 = torch.from_numpy(original.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
    eps = _levels(settings.epsilon) / 255.0
    sign = 1.0 if settings.target is None else -1.0  # climb away from / descend towards
    labels: torch.Tensor | None = None
    before: Prediction | None = None

    def gradient(x: torch.Tensor) -> torch.Tensor:
        nonlocal labels, before
        x = x.detach().clone().requires_grad_(True)
        with model.lock, torch.enable_grad():
            inputs = model.normalize(x).contiguous(memory_format=torch.channels_last)
            logits = model.fast_network(inputs)
            if labels is None:  # the first pass also gives the prediction before
                probs = torch.softmax(logits.detach().double(), dim=1)[0].numpy()
                before = model.prediction_from_probs(probs, topk)
                label = before.top[0].index if settings.target is None else settings.target
                labels = torch.tensor([int(label)])
            loss = F.cross_entropy(logits, labels)
            (grad,) = torch.autograd.grad(loss, x)
        return grad

    steps = 1 if settings.method == "fgsm" else settings.steps
    step = eps if settings.method == "fgsm" else settings.pgd_step()
    x = x0.clone()
    for done in range(steps):
        x = x + sign * step * gradient(x).sign()
        x = torch.min(torch.max(x, x0 - eps), x0 + eps).clamp(0.0, 1.0)
        if done + 1 < steps:
            yield done + 1, steps
    assert before is not None
    pixels = (x[0].permute(1, 2, 0).numpy() * 255.0).round()
    low = original.astype(np.float32) - _levels(settings.epsilon)
    high = original.astype(np.float32) + _levels(settings.epsilon)
    adversarial = np.clip(np.clip(pixels, low, high), 0, 255).astype(np.uint8)
    after = model.predict_pixels(adversarial, topk)
    yield AttackResult(
        method=settings.method,
        epsilon=float(settings.epsilon),
        target=settings.target,
        steps=steps,
        step_size=step,
        original=original,
        adversarial=adversarial,
        before=before,
        after=after,
        seconds=time.perf_counter() - started,
    )


def amplified_perturbation(result: AttackResult, gain: float | None = None) -> np.ndarray:
    """The change made, ``(S, S, 3)`` uint8 around mid-grey, scaled to be visible.

    ``gain`` default: the largest change reaches the full range (127 levels).
    """
    diff = result.adversarial.astype(np.float32) - result.original.astype(np.float32)
    if gain is None:
        peak = float(np.abs(diff).max())
        gain = 127.0 / peak if peak > 0 else 1.0
    return np.clip(np.rint(128.0 + diff * gain), 0, 255).astype(np.uint8)


def adversarial_photo(model: PretrainedModel, image: Image.Image, result: AttackResult):
    """The photo as the model resizes it, with the attacked crop in place (a PIL image).

    Opened again, it goes through the model's preprocessing unchanged (its shorter side
    is already the resize size), so its crop is exactly ``result.adversarial``.
    """
    from PIL import Image as PILImage

    adversarial = PILImage.fromarray(result.adversarial)
    placed = model.resized(image)
    if placed is None:  # the crop is the whole picture the model sees
        return adversarial
    resized, corner = placed
    resized.paste(adversarial, corner)
    return resized


def png_bytes(image) -> bytes:
    """A PIL image (or ``(H, W, 3)`` uint8 array) as lossless PNG bytes, to write as they
    are (``nets.fileio.atomic_write_bytes``) or decode again to check the round trip."""
    from PIL import Image as PILImage

    if isinstance(image, np.ndarray):
        image = PILImage.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
