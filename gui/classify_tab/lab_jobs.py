"""The Classify lab's work, as generators run by ``gui.worker`` off the GUI thread.

Like ``jobs``, nothing here touches a widget: items are frozen dataclasses with numpy
arrays. Every generator yields often (after each method, stage or attack step), so
Cancel takes effect within one unit of work; the model is reached through ``backend``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gui.classify_tab import backend

if TYPE_CHECKING:
    import numpy as np

Cancel = Callable[[], bool]
Prediction = tuple[int, str, float]


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    text: str


@dataclass(frozen=True)
class MapReady:
    """One attribution map of the grid: ``heat`` ``(S, S)`` float32 in [0, 1]."""

    key: str
    method: str
    target: int
    heat: np.ndarray = field(repr=False)
    delta: float | None
    seconds: float
    difference: float | None = None  # IG: score(photo) - score(black), what the sum matches


@dataclass(frozen=True)
class LabError:
    message: str


@dataclass(frozen=True)
class SanityCell:
    """One map of the sanity strip (``stage`` 0: the trained model)."""

    stage: int
    stages: int
    stage_name: str
    method: str
    heat: np.ndarray = field(repr=False)
    rho: float


@dataclass(frozen=True)
class SanityDone:
    text: str
    rhos: dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class AttackDone:
    """An attack's result and the pictures the panel shows (all ``(S, S, ...)``)."""

    key: str
    result: Any = field(repr=False)  # nets.pretrained.adversarial.AttackResult
    before: tuple[Prediction, ...]
    after: tuple[Prediction, ...]
    perturbation: np.ndarray = field(repr=False)  # amplified, uint8 (S, S, 3)
    heat_before: np.ndarray = field(repr=False)  # Grad-CAM of the top-1 before
    heat_after: np.ndarray = field(repr=False)  # Grad-CAM of the top-1 after


@dataclass(frozen=True)
class Verified:
    """The exported adversarial PNG, classified again from the file."""

    path: Path
    top: tuple[Prediction, ...]


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _triples(prediction: Any) -> tuple[Prediction, ...]:
    return tuple((int(t[0]), str(t[1]), float(t[2])) for t in prediction.top)


def explain_job(key: str, image: Any, model: Any, target: int, methods: list[str], settings: Any):
    """Factory: each method's map of ``target`` for the photo, one ``MapReady`` at a time."""

    def run(cancel: Cancel) -> Iterator[Any]:
        try:
            tensor = backend.preprocess(model, image)
            for done, method in enumerate(methods):
                if cancel():
                    return
                title = backend.lab_methods()[method][0]
                yield Progress(done, len(methods), f"{title}...")
                found = backend.explain(model, tensor, method, target, settings)
                difference = None
                if found.baseline_score is not None:
                    difference = found.score - found.baseline_score
                yield MapReady(
                    key, method, target, found.heat, found.delta, found.seconds, difference
                )
            yield Progress(len(methods), len(methods), "done")
        except Exception as exc:
            yield LabError(f"explaining failed: {_message(exc)}")

    return run


def sanity_job(image: Any, model: Any, target: int, methods: list[str], settings: Any, stages: int):
    """Factory: the cascading randomisation, one ``SanityCell`` per (stage, method)."""

    def run(cancel: Cancel) -> Iterator[Any]:
        try:
            items = backend.sanity(model, image, target, methods, settings, stages)
            count = 0
            for item in items:
                if cancel():
                    items.close()
                    return
                if hasattr(item, "rho"):
                    count += 1
                    total = item.stages * len(methods)
                    yield Progress(count, total, item.stage_name)
                    yield SanityCell(
                        item.stage, item.stages, item.stage_name, item.method, item.heat, item.rho
                    )
                else:
                    yield SanityDone(item.text, dict(item.rhos))
        except Exception as exc:
            yield LabError(f"the sanity check failed: {_message(exc)}")

    return run


def attack_job(key: str, image: Any, model: Any, settings: Any):
    """Factory: the attack step by step (``Progress``), then ``AttackDone``."""

    def run(cancel: Cancel) -> Iterator[Any]:
        try:
            steps = backend.attack_steps(model, image, settings)
            result = None
            for item in steps:
                if cancel():
                    steps.close()
                    return
                if isinstance(item, tuple):
                    yield Progress(item[0], item[1], f"step {item[0]} of {item[1]}")
                else:
                    result = item
            if result is None or cancel():
                return
            before, after = _triples(result.before), _triples(result.after)
            heat_before = backend.gradcam_pixels(model, result.original, before[0][0])
            heat_after = backend.gradcam_pixels(model, result.adversarial, after[0][0])
            picture = backend.amplified_perturbation(result)
            yield AttackDone(key, result, before, after, picture, heat_before, heat_after)
        except Exception as exc:
            yield LabError(f"the attack failed: {_message(exc)}")

    return run


def verify_job(path: Path, model: Any):
    """Factory: classify an exported file again, as any dropped file would be."""

    def run(cancel: Cancel) -> Iterator[Any]:
        try:
            yield Verified(path, tuple(backend.classify_file(model, path)))
        except Exception as exc:
            yield LabError(f"{path.name}: cannot be read back ({_message(exc)})")

    return run
