"""What ``mlp train`` and ``cnn train`` share about a run's files and interruption.

- :class:`JsonLog` is ``--json-log FILE``: one JSON object per line, written to a
  temporary file next to FILE. A run that ends (finished or diverged) moves it over FILE
  atomically; an interrupted one (Ctrl-C, SIGTERM, an error) leaves an existing FILE as
  it was and keeps its partial log beside it as ``FILE.partial`` (see
  :func:`partial_path`), so an old log is never truncated or half-replaced.
- :func:`stop_on_sigint` turns the first Ctrl-C into a request to stop between two
  steps (the trainer then yields ``Stopped`` with the weights so far); a second Ctrl-C
  interrupts at once.
- :func:`result_path` is the one rule for saving after a stop: an interrupted run saves
  nothing over the file it was asked to write, unless ``--save-on-stop``; its partial
  result goes to the ``.partial`` path, which the command names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nets.errors import NetsError
from nets.fileio import describe_os_error, remove_stale_temps, shown, temp_name, write_target


class LogError(NetsError):
    """The JSON log cannot be written."""


def partial_path(path: Path) -> Path:
    """Where an interrupted run's version of ``path`` goes: ``run.partial.npz`` for
    ``run.npz``, ``log.partial.jsonl`` for ``log.jsonl``."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def result_path(path: Path, interrupted: bool, save_on_stop: bool) -> Path:
    """The file to write a run's result to (see the module docstring)."""
    return partial_path(path) if interrupted and not save_on_stop else path


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class JsonLog:
    """``--json-log FILE`` (``path`` None: every call does nothing)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.start = time.perf_counter()
        self.start_cpu = time.process_time()
        self._file: Any = None
        self._tmp: Path | None = None
        self._target: Path | None = None
        self._mode: int | None = None
        if path is None:
            return
        self._target, self._mode = write_target(path, LogError, "write the JSON log")
        remove_stale_temps(self._target)
        self._tmp = temp_name(self._target)
        try:
            self._file = open(self._tmp, "x", encoding="utf-8")
        except OSError as exc:
            raise LogError(f"cannot write the JSON log {shown(path)}: {exc.strerror}") from None

    def write_record(self, record: dict[str, Any]) -> None:
        """One line: ``record`` as JSON (nan and infinities as strings)."""
        if self._file is None:
            return
        try:
            self._file.write(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n")
        except OSError as exc:  # a full disk: say which file, in words
            where = shown(self.path or "")
            raise LogError(f"cannot write the JSON log {where}: {describe_os_error(exc)}") from None

    def write_event(self, kind: str, event: Any) -> None:
        """One line for a training event: ``{"event": kind, "wall", "cpu", **fields}``
        (``wall`` and ``cpu`` are seconds since the log was opened, of this process's
        threads for ``cpu``: robust to other load, for benchmarks)."""
        record: dict[str, Any] = {
            "event": kind,
            "wall": time.perf_counter() - self.start,
            "cpu": time.process_time() - self.start_cpu,
        }
        record.update((k, v) for k, v in vars(event).items() if k != "result")
        self.write_record(record)

    def finish(self, complete: bool) -> Path | None:
        """Close the log: over FILE when ``complete``, else beside it as FILE.partial.
        Returns where it went (None without a log)."""
        if self._file is None or self._tmp is None or self._target is None:
            return None
        where = self._target if complete else partial_path(self._target)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if self._mode is not None and complete:
                os.chmod(self._tmp, self._mode)
            os.replace(self._tmp, where)
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            raise LogError(f"cannot write the JSON log {shown(where)}: {exc.strerror}") from None
        finally:
            self._file = None
        return where

    def __enter__(self) -> JsonLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._file is not None:  # not finished: an error or an interruption
            self.finish(complete=False)


@contextlib.contextmanager
def stop_on_sigint() -> Iterator[threading.Event]:
    """A stop request set by the first Ctrl-C; the second raises KeyboardInterrupt.
    Outside the main thread (where signals cannot be caught) the event is never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
