"""Plain generator helpers for the worker layer (no widgets, no Qt): the one
helper-thread-with-progress and the one step batcher every tab uses.

``with_progress`` runs a blocking call that reports ``progress(done, total, message)``
from a helper thread and turns its reports into yielded ``Progress`` items, so a
``gui.worker`` generator can stream them to the GUI and notice a cancel while the call
runs. ``batched`` gathers a trainer's many small step events into ``Batch`` items.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` (0 = unknown) with a short message for a status line;
    ``stage`` names the work ("load", "download", "test", ...)."""

    stage: str
    done: int
    total: int
    message: str


@dataclass(frozen=True)
class Result:
    """The value a ``with_progress`` call returned, tagged with its stage."""

    stage: str
    value: Any


_POLL_S = 0.05


def with_progress(
    stage: str,
    fn: Callable[..., Any],
    cancel: Callable[[], bool],
    /,
    *,
    grace_s: float | None = None,
    **kwargs: Any,
) -> Generator[Progress | Result, None, Any]:
    """Call ``fn(progress=..., cancel=cancel, **kwargs)`` in a helper thread; yield its
    progress reports (at most one per 50 ms, the latest wins) and finally a ``Result``.

    The call's exception is raised here, in the caller's thread. ``fn`` is expected to
    honour ``cancel`` itself (the loaders and downloaders do) and end with its own error.
    With ``grace_s``, a call that is still running ``grace_s`` seconds after ``cancel``
    turned True is abandoned (for calls that cannot be interrupted, e.g. building a
    model): ``nets.errors.Cancelled`` is raised. The helper thread is a daemon, so it can
    never keep the app alive.
    """
    reports: queue.Queue[tuple[int, int, str]] = queue.Queue()
    outcome: dict[str, Any] = {}

    def progress(done: int, total: int, message: str = "") -> None:
        reports.put((int(done or 0), int(total or 0), str(message)))

    def target() -> None:
        try:
            outcome["value"] = fn(progress=progress, cancel=cancel, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"{stage}-call", daemon=True)
    thread.start()
    cancelled_at: float | None = None
    while True:
        thread.join(_POLL_S)
        latest = None
        while True:
            try:
                latest = reports.get_nowait()
            except queue.Empty:
                break
        if latest is not None:
            yield Progress(stage, *latest)
        if not thread.is_alive():
            break
        if grace_s is not None and cancel():
            now = time.monotonic()
            cancelled_at = now if cancelled_at is None else cancelled_at
            if now - cancelled_at >= grace_s:
                from nets.errors import Cancelled

                raise Cancelled(f"{stage} cancelled")
    if "error" in outcome:
        raise outcome["error"]
    value = outcome.get("value")
    yield Result(stage, value)
    return value


def result_of(items: Iterator[Any], sink: list) -> Iterator[Any]:
    """Pass ``items`` through except the final ``Result``, whose value is appended to
    ``sink`` (for a job that goes on with the value: ``yield from result_of(...)``)."""
    for item in items:
        if isinstance(item, Result):
            sink.append(item.value)
        else:
            yield item


@dataclass(frozen=True)
class Batch:
    """Consecutive small events (training steps) delivered together."""

    items: tuple


def batched(
    events: Iterator[Any],
    is_small: Callable[[Any], bool],
    interval_s: float = 0.05,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[Any]:
    """Pass ``events`` through, but gather consecutive small ones (``is_small``) into a
    ``Batch`` yielded at most every ``interval_s`` seconds. Any other event first flushes
    the pending batch, so the order is kept.

    A fast trainer yields hundreds of steps a second; each item crossing to the GUI
    thread costs that thread (and, through the GIL, the trainer) far more than the
    append it leads to. Cancel still acts between steps (the trainer checks it before
    every step); pause acts within ``interval_s``.
    """
    pending: list[Any] = []
    last = clock()
    for event in events:
        if is_small(event):
            pending.append(event)
            now = clock()
            if now - last >= interval_s:
                yield Batch(tuple(pending))
                pending = []
                last = now
            continue
        if pending:
            yield Batch(tuple(pending))
            pending = []
        yield event
        last = clock()
    if pending:
        yield Batch(tuple(pending))
