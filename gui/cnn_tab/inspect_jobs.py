"""Background work of the Inspect view as plain generators (run by ``gui.worker``; no Qt).

``live_service`` is a long-lived generator: it waits for the newest request in a
:class:`Mailbox` (older ones are dropped, which is the coalescing that keeps a drawing
canvas live however fast the mouse moves) and yields one :class:`Inspected` per request
it gets to. The other jobs are one-shot: load the validation images and predict them,
find a channel's best patches, and activation maximisation (``nets.cnn.dream``).
Every job builds its own ``Inspector`` (a private copy of the model) in its own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gui.cnn_tab.jobs import DataReady, load_data, prepare_torch


def _threads(busy: bool) -> int:
    """One thread for single images; while the tab trains, keep the trainer's setting
    (torch's thread count is process-wide and one image does not need more)."""
    if busy:
        import torch

        return torch.get_num_threads()
    return 1


def make_inspector(trained: Any, busy: bool) -> Any:
    prepare_torch()
    from nets.cnn.inspect import Inspector

    return Inspector(trained, threads=_threads(busy))


class Mailbox:
    """Holds only the newest request; ``take`` waits for one (or times out with None)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None

    def put(self, item: Any) -> None:
        with self._cond:
            self._item = item
            self._cond.notify()

    def take(self, timeout: float) -> Any:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item


@dataclass(frozen=True)
class InspectRequest:
    serial: int
    image: np.ndarray = field(repr=False)  # uint8 (H, W, C)
    target: int | None


@dataclass(frozen=True)
class Inspected:
    serial: int
    result: Any = field(repr=False)  # nets.cnn.inspect.Inspection
    seconds: float


@dataclass(frozen=True)
class InspectFailed:
    serial: int
    message: str


def live_service(trained: Any, mailbox: Mailbox, busy: bool) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: inspect every request that reaches the mailbox until cancelled."""

    def factory(token: Any) -> Iterator[Any]:
        from nets.errors import NetsError

        inspector = make_inspector(trained, busy)
        yield ("ready", inspector.layers, inspector.filters(), inspector.last_conv)
        while not token():
            request = mailbox.take(timeout=0.05)
            if request is None:
                continue
            start = time.perf_counter()
            try:
                result = inspector.inspect(request.image, request.target)
            except NetsError as exc:
                yield InspectFailed(request.serial, str(exc))
                continue
            yield Inspected(request.serial, result, time.perf_counter() - start)

    return factory


@dataclass(frozen=True)
class ValidationReady:
    """The validation images, their labels and the model's predictions (N,)."""

    images: np.ndarray = field(repr=False)  # uint8 (N, H, W, C)
    labels: np.ndarray = field(repr=False)
    predictions: np.ndarray = field(repr=False)
    confidence: np.ndarray = field(repr=False)
    spec: str


def validation_job(
    trained: Any, choice: Any, cached: Any | None, busy: bool
) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: load the data (unless cached), then predict the validation split."""

    def factory(token: Any) -> Iterator[Any]:
        from nets.cnn.trained import check_images

        dataset = cached
        if dataset is None:
            for item in load_data(choice, token):
                if isinstance(item, DataReady):
                    dataset = item.dataset
                yield item
        if dataset is None:
            return
        check_images(trained, dataset.X_val, f"validation images of {choice.spec}")
        inspector = make_inspector(trained, busy)
        labels, confidence = inspector.predict(dataset.X_val, cancel=token)
        # Only the validation split is kept: the training images stay with the tab's cache.
        yield ValidationReady(dataset.X_val, dataset.y_val, labels, confidence, choice.spec)

    return factory


@dataclass(frozen=True)
class PatchesReady:
    layer: int
    channel: int
    index: Any = field(repr=False)  # nets.cnn.inspect.ChannelIndex, kept for the next click
    patches: list = field(repr=False)  # [nets.cnn.inspect.Patch]


def patches_job(
    trained: Any, images: np.ndarray, layer: int, channel: int, index: Any | None, busy: bool
) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: the nine validation patches that excite ``channel`` most."""

    def factory(token: Any) -> Iterator[Any]:
        inspector = make_inspector(trained, busy)
        found = index if index is not None else inspector.index_layer(images, layer, cancel=token)
        yield PatchesReady(layer, channel, found, inspector.top_patches(found, images, channel))

    return factory


def dream_job(
    trained: Any, objective: Any, steps: int, busy: bool
) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: activation maximisation, one DreamFrame per step."""

    def factory(token: Any) -> Iterator[Any]:
        from nets.cnn.dream import DreamSettings, dream

        inspector = make_inspector(trained, busy)
        yield from dream(inspector, objective, DreamSettings(steps=steps), cancel=token)

    return factory
