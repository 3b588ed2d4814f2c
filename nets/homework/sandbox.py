"""Run a user's code in a separate process with a time limit per call and a memory limit.

``Sandbox`` starts ``python -I`` in a fresh temporary folder with the homework's folders
first on ``sys.path`` (so ``from layers import fc_forward`` works as in the homework),
then the app, then ``starter/`` (the homework's ``classifier.py`` for a folder without
one). Requests and answers travel over two pipes of their own (``wire``); the child's
stdout and stderr are files. The child announces every call into the user's code (in
shared memory, ``heartbeat``); when one runs longer than ``call_timeout`` the child is
killed and ``CallTimeout`` names the call; when the child dies (``os.abort``, a
segfault, ``os._exit``) ``ChildDied`` does. Either way the app carries on, and the next
request starts a fresh child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import Cancelled, NetsError
from nets.homework.heartbeat import SIZE as HEARTBEAT_SIZE
from nets.homework.heartbeat import Heartbeat
from nets.homework.wire import MessageReader, WireError, write_message

APP_ROOT = Path(__file__).resolve().parents[2]
STARTER = Path(__file__).resolve().parent / "starter"
DEFAULT_CALL_TIMEOUT = 10.0
DEFAULT_MEMORY_LIMIT = 3 << 30
#: The child's start-up (Python, numpy, the app's checking code) is not the user's call.
_START_TIMEOUT = 60.0
#: How often a wait for the child looks at the cancel token (seconds).
_POLL = 0.1

_BOOT = (
    "import sys; sys.path[:0] = sys.argv[7:] + [sys.argv[1], sys.argv[2]]; "
    "del sys.argv[1:3]; "
    "from nets.homework.child import main; main(sys.argv[1:]); "
    "import os; os._exit(0)"
)


class SandboxError(NetsError):
    """The user's code could not finish a request; ``str()`` says why in a few lines."""


class CallTimeout(SandboxError):
    """A call into the user's code ran past the limit (an endless loop, most likely)."""


class ChildDied(SandboxError):
    """The process running the user's code ended in the middle of a request."""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Sandbox:
    """One child process at a time; a new one is started when the last one failed.

    Args:
        folders: the homework's folders, put on the child's import path in this order.
        call_timeout: seconds any one call into the user's code may take.
        memory_limit: the child's address-space limit in bytes (RLIMIT_AS).
        cancel: checked while waiting for the child; when set, the child is stopped and
            the request raises ``nets.errors.Cancelled``.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        cancel: CancelToken | None = None,
    ) -> None:
        self.cancel = cancel
        self.folders = [Path(f).resolve() for f in folders]
        self.call_timeout = float(call_timeout)
        self.memory_limit = int(memory_limit)
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._req_fd = -1
        self._reader: MessageReader | None = None
        self._heartbeat: Heartbeat | None = None

    # -- life cycle ------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def workdir(self) -> Path | None:
        """The running child's working folder (None when no child runs)."""
        return Path(self._tmp.name) if self._tmp is not None else None

    def _start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="bpe-homework-")
        work = Path(self._tmp.name)
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        beat_file = tempfile.TemporaryFile()  # unlinked: nothing in the user's folder
        beat_file.truncate(HEARTBEAT_SIZE)
        beat_fd = beat_file.fileno()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["MPLBACKEND"] = "Agg"  # a homework script importing pyplot must not open windows
        cmd = [
            sys.executable,
            "-I",
            "-c",
            _BOOT,
            str(APP_ROOT),
            str(STARTER),
            str(req_r),
            str(resp_w),
            str(beat_fd),
            str(self.memory_limit),
            *map(str, self.folders),
        ]
        with open(work / "stdout.txt", "wb") as out, open(work / "stderr.txt", "wb") as err:
            try:
                self._proc = subprocess.Popen(
                    cmd,
                    cwd=work,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    pass_fds=(req_r, resp_w, beat_fd),
                    start_new_session=True,  # a Ctrl+C in the terminal is for the app
                )
            finally:
                os.close(req_r)
                os.close(resp_w)
        self._heartbeat = Heartbeat(beat_fd)
        beat_file.close()  # the mapping keeps the memory
        self._req_fd = req_w
        self._reader = MessageReader(resp_r)

    def close(self) -> None:
        """Stop the child (if any) and remove its working folder."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if self._reader is not None:
            os.close(self._reader.fd)
            self._reader = None
        if self._heartbeat is not None:
            self._heartbeat.close()
            self._heartbeat = None
        if self._req_fd >= 0:
            os.close(self._req_fd)
            self._req_fd = -1
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _stderr_tail(self, lines: int = 12) -> str:
        if self._tmp is None:
            return ""
        try:
            text = (Path(self._tmp.name) / "stderr.txt").read_text(errors="replace")
        except OSError:
            return ""
        user = [str(f) for f in self.folders]
        kept = [
            ln
            for ln in text.splitlines()
            if "Fatal Python error" in ln or any(u in ln for u in user)
        ]
        return "\n".join(kept[-lines:])

    # -- requests --------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        """A message to the running child in the middle of a request (e.g. "go")."""
        try:
            write_message(self._req_fd, message)
        except (BrokenPipeError, OSError):
            raise self._died("a request") from None

    def request(self, message: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Send one request; yield every answer message up to the final one.

        Raises CallTimeout or ChildDied (the child is then gone; the next request starts
        a new one), SandboxError for an app-side failure in the child.
        """
        if self._proc is None:
            self._start()
        assert self._reader is not None
        try:
            write_message(self._req_fd, message)
        except BrokenPipeError:
            raise self._died("starting") from None
        assert self._heartbeat is not None
        current = "starting"
        limit = _START_TIMEOUT
        deadline = time.monotonic() + limit
        seen = self._heartbeat.read()[0]
        while True:
            if is_cancelled(self.cancel):
                self.close()
                raise Cancelled("stopped")
            count, label = self._heartbeat.read()
            if count != seen:  # a new call started: its own time limit starts now
                seen, current, limit = count, label, self.call_timeout
                deadline = time.monotonic() + limit
            remaining = deadline - time.monotonic()
            try:
                answer = self._reader.read(timeout=max(0.0, min(remaining, _POLL)))
            except TimeoutError:
                if remaining > _POLL:
                    continue
                self.close()
                raise CallTimeout(
                    f"{current} did not finish within {limit:g} s (an endless loop?); "
                    "it was stopped"
                ) from None
            except (EOFError, WireError):
                raise self._died(self._heartbeat.read()[1] or current) from None
            if answer.get("type") == "error":
                raise SandboxError(answer.get("message", "the check failed"))
            yield answer
            if answer.get("final"):
                return
            deadline = time.monotonic() + limit  # the consumer's own time does not count

    def _died(self, current: str) -> ChildDied:
        proc = self._proc
        code = 0
        if proc is not None:
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # it closed the pipe but lives on
                proc.kill()
                code = proc.wait()
        tail = self._stderr_tail()
        self.close()
        if code < 0:
            how = f"crashed ({_signal_name(code)})"
        else:
            how = f"exited with status {code}"
        text = f"the process running your code {how} during {current}"
        return ChildDied(text + (f"\n{tail}" if tail else ""))
