"""Helpers shared by the benchmark scripts: where results go, what machine ran them, and
for the GUI benchmarks the window and waits that give up with a message instead of hanging."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: Where an extracted CIFAR-10 JPEG folder (``train/<class>/*.jpg``) is looked for after
#: ``$CIFAR10_FOLDER``.
CIFAR_FOLDERS = ("/work/cifar", "/work/data")
CIFAR_TARBALL = ROOT.parent / "shared" / "data" / "cifar10-train-jpeg.tar.gz"


def cifar_folder() -> Path | None:
    """The extracted CIFAR-10 JPEG folder ($CIFAR10_FOLDER, else the usual places), or
    None when there is none."""
    env = os.environ.get("CIFAR10_FOLDER")
    for folder in ([env] if env else []) + list(CIFAR_FOLDERS):
        if Path(folder, "train").is_dir():
            return Path(folder)
    return None


def cifar_spec(spec: str | None = None) -> str:
    """The data spec of CIFAR-10 for a benchmark: ``spec`` when given, else the extracted
    folder, else the shared tarball extracted into a temporary folder (outside the
    repository); exits with a message when there is no CIFAR-10 at all."""
    if spec:
        return spec
    folder = cifar_folder()
    if folder is not None:
        return f"folder:{folder}"
    if not CIFAR_TARBALL.is_file():
        sys.exit(f"no CIFAR-10 folder: set CIFAR10_FOLDER or provide {CIFAR_TARBALL}")
    import tarfile
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bench-cifar-"))
    with tarfile.open(CIFAR_TARBALL) as tar:
        tar.extractall(root, filter="data")
    train_dirs = [p.parent for p in root.rglob("train") if p.is_dir()]
    return f"folder:{train_dirs[0]}"


def reference_cpu_s() -> float:
    """CPU seconds of ``sum(range(10**7))``, the best of three: this machine's own speed
    at the time (0.10 s on 27 November, 0.12 to 0.17 s on 1 December). The host's speed
    drifts between days, so figures from different runs compare only through it."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        sum(range(10**7))
        best = min(best, time.process_time() - start)
    return round(best, 3)


def machine_info() -> dict:
    """Facts that make a figure comparable: cores, load, the machine's reference speed,
    Python, time."""
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {
        "cpu_count": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "reference_cpu_s": reference_cpu_s(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> dict:
    """Median, p10, p90, min, max and count of repeated timings, times ``scale``."""
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "median": round(statistics.median(values) * scale, digits),
        "p10": round(pick(0.1) * scale, digits),
        "p90": round(pick(0.9) * scale, digits),
        "min": round(ordered[0] * scale, digits),
        "max": round(ordered[-1] * scale, digits),
        "n": len(values),
    }


def write_result(name: str, figures: dict) -> Path:
    """Write ``bench/results/<name>.json`` with the figures and the machine info."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), **figures}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    print(json.dumps(payload, indent=2))
    return path


def python() -> str:
    """The interpreter running the benchmark (the project's .venv under `make bench`)."""
    return sys.executable


def open_main_window(width: int = 1280, height: int = 820) -> tuple[Any, Any]:
    """``(app, window)``: the app as ``gui.app`` makes it (offscreen unless
    QT_QPA_PLATFORM says otherwise) and its main window shown at ``width`` x ``height``,
    remembering no settings between runs."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import make_application
    from gui.main_window import MainWindow

    app = make_application([])
    window = MainWindow(remember=False)
    window.resize(width, height)
    window.show()
    return app, window


def _said(what: str | Callable[[], str]) -> str:
    return what() if callable(what) else what


def wait_until(
    condition: Callable[[], Any],
    what: str | Callable[[], str],
    timeout_s: float = 600.0,
    poll_ms: int = 20,
) -> None:
    """Run the real event loop (sleeping between events, as the app does) until
    ``condition()`` holds; TimeoutError naming ``what`` (a text, or a function giving one
    at the time, e.g. with the tab's status line) when ``timeout_s`` passes first."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: loop.quit() if condition() else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start(poll_ms)
    deadline.start(int(timeout_s * 1000))
    loop.exec()
    poll.stop()
    deadline.stop()
    if not condition():
        raise TimeoutError(f"waited {timeout_s:g} s for {_said(what)}")


def wait_signal(signal: Any, what: str | Callable[[], str], timeout_s: float = 600.0) -> None:
    """Run the real event loop until ``signal`` fires, without polling (no wake-ups
    between events); TimeoutError naming ``what`` when ``timeout_s`` passes first.
    Connects when called: for a signal a worker sends later, not one the caller's own
    code may already have sent."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired: list[bool] = []

    def quit_fired(*_args: Any) -> None:
        fired.append(True)
        loop.quit()

    signal.connect(quit_fired)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    deadline.start(int(timeout_s * 1000))
    try:
        loop.exec()
    finally:
        deadline.stop()
        signal.disconnect(quit_fired)
    if not fired:
        raise TimeoutError(f"waited {timeout_s:g} s for {_said(what)}")


def run_reading_lines(
    cmd: list[str], what: str, timeout_s: float, read: str = "stderr", **popen: Any
) -> tuple[list[tuple[float, str]], int, float, str]:
    """Run ``cmd`` and read its ``read`` stream ("stdout" or "stderr") line by line as it
    comes, each line with the ``time.perf_counter()`` it arrived at (the child should
    print line-buffered). Returns ``(lines, returncode, end, other)``: ``end`` is when
    it exited, ``other`` the other stream's text (kept in a temporary file, so that a
    chatty child can never block on a full pipe).

    The child runs in its own session: when it has not exited after ``timeout_s``, or
    its stream stays open 30 s after it did (a child of its own still holds it), the
    whole group is killed and TimeoutError names ``what`` with the last lines read."""
    assert read in ("stdout", "stderr")
    lines: list[tuple[float, str]] = []
    with tempfile.TemporaryFile("w+") as other:
        streams = {"stdout": other, "stderr": other, read: subprocess.PIPE}
        proc = subprocess.Popen(
            cmd, text=True, bufsize=1, start_new_session=True, **streams, **popen
        )
        pipe = getattr(proc, read)
        reader = threading.Thread(
            target=lambda: lines.extend((time.perf_counter(), ln.rstrip("\n")) for ln in pipe),
            daemon=True,
        )
        reader.start()
        waiting = f"{what} to exit"
        try:
            proc.wait(timeout=timeout_s)
            end = time.perf_counter()
            waiting = f"{what}'s {read} to close after it exited (a child still holds it)"
            reader.join(timeout=30)
            if reader.is_alive():
                raise subprocess.TimeoutExpired(cmd, 30)
        except subprocess.TimeoutExpired:
            last = [text for _t, text in lines[-3:]]
            raise TimeoutError(f"waited for {waiting}; its last lines: {last}") from None
        finally:
            if proc.poll() is None or reader.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        other.seek(0)
        return lines, proc.returncode, end, other.read()
