"""Calling the user's code inside the child process.

Every call goes through ``UserCode.call``: it first tells the parent which call starts
(through the shared ``Heartbeat``: the parent's per-call time limit restarts there, and
a crash is reported against it),
keeps what the call prints, and turns anything the call raises (``SystemExit`` and
``MemoryError`` included) into a ``UserCodeError`` whose text is the user's own
traceback: only frames from the homework's files, never the app's.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from nets.homework.heartbeat import Heartbeat
from nets.homework.wire import MessageReader, write_message

#: Characters of printed output kept per check.
MAX_OUTPUT = 4000


class UserCodeError(Exception):
    """The user's code raised; ``str()`` is the user's traceback."""


class UserCode:
    """The homework's folders and the pipe to the parent, for one child process."""

    def __init__(
        self,
        roots: list[Path],
        fd: int,
        memory_limit: int,
        reader: MessageReader,
        heartbeat: Heartbeat,
    ) -> None:
        self.heartbeat = heartbeat
        self.roots = [r.resolve() for r in roots]
        self.fd = fd
        self.reader = reader
        self.memory_limit = memory_limit
        self.output = io.StringIO()

    def send(self, message: dict[str, Any]) -> None:
        write_message(self.fd, message)

    def receive(self) -> dict[str, Any]:
        """The parent's next message (blocks)."""
        return self.reader.read()

    def pending(self) -> bool:
        """Whether a message from the parent is waiting."""
        return self.reader.ready()

    def take_output(self) -> str:
        text = self.output.getvalue()
        self.output = io.StringIO()
        if len(text) > MAX_OUTPUT:
            text = text[:MAX_OUTPUT] + f"\n... ({len(text) - MAX_OUTPUT} more characters)"
        return text

    def call(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, announced to the parent as ``label``."""
        self.heartbeat.beat(label)
        try:
            with contextlib.redirect_stdout(self.output):
                return fn(*args, **kwargs)
        except BaseException as exc:
            raise UserCodeError(self.describe(exc, label)) from None

    def import_module(self, path: Path) -> ModuleType:
        """Import a homework file by its name (``layers``), as the homework's scripts do."""
        name = path.stem
        if name in sys.modules:
            return sys.modules[name]
        return self.call(f"importing {path.name}", importlib.import_module, name)

    def _is_user_file(self, filename: str) -> bool:
        try:
            resolved = Path(filename).resolve()
        except (OSError, ValueError):
            return False
        return any(resolved.is_relative_to(root) for root in self.roots)

    def describe(self, exc: BaseException, label: str) -> str:
        """The user's traceback of ``exc``: their frames and the exception line."""
        if isinstance(exc, SystemExit):
            head = f"{label} called sys.exit({exc.code!r})"
        elif isinstance(exc, MemoryError):
            head = f"{label} ran out of memory (the limit is {self.memory_limit / 2**30:.3g} GiB)"
        elif isinstance(exc, KeyboardInterrupt):
            head = f"{label} was interrupted"
        else:
            head = f"{label} raised {type(exc).__name__}"
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if self._is_user_file(f.filename)
        ]
        lines = [head]
        if frames:
            lines.append("Traceback (most recent call last):")
            lines += [line.rstrip("\n") for line in traceback.format_list(frames)]
        if not isinstance(exc, SystemExit):
            lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)]
        return "\n".join(lines)
