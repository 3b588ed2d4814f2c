"""Drive the real app in a real X server: Xvfb, openbox, xdotool, and the app's read-only
test hook (``gui.test_hook``) to see what it shows.

Everything the tests do to the app goes through X input events (key presses, clicks,
drags, window resizes), as a person's would.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TOOLS = ("Xvfb", "xdotool", "openbox")
SCREEN = (1920, 1200)


def _die_with_parent() -> None:
    """In the child before exec: end when the test process dies (a killed pytest must not
    leave Xvfb, openbox or the app running)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


class XServer:
    """Xvfb on a display number it picks itself (``-displayfd``), with openbox on it."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.xvfb = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{SCREEN[0]}x{SCREEN[1]}x24",
                "-nolisten",
                "tcp",
                "-noreset",
            ],
            pass_fds=(write_fd,),
            preexec_fn=_die_with_parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.xvfb.kill()
            raise RuntimeError("Xvfb did not report a display number")
        self.display = f":{number}"
        self.env = {**os.environ, "DISPLAY": self.display}
        self.env.pop("WAYLAND_DISPLAY", None)
        self.wm = subprocess.Popen(
            ["openbox", "--sm-disable"],
            env=self.env,
            preexec_fn=_die_with_parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # openbox is up once it owns the window manager selection.
        wait_until(lambda: self._wm_running(), 10, "openbox did not start")

    def _wm_running(self) -> bool:
        out = subprocess.run(
            ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        return "window id" in out.stdout

    def xdotool(self, *args: str) -> str:
        out = subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=20
        )
        if out.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def screenshot(self, path: Path) -> Path:
        subprocess.run(
            ["import", "-window", "root", str(path)], env=self.env, check=True, timeout=30
        )
        return path

    def stop(self) -> None:
        for proc in (self.wm, self.xvfb):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = condition()
        except (OSError, KeyError, IndexError, TypeError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}: {last!r}")
        time.sleep(0.05)


def centre(rect: Sequence[int]) -> tuple[int, int]:
    x, y, w, h = rect
    return x + w // 2, y + h // 2


class App:
    """The app as a subprocess on ``server``'s display, with its hook socket."""

    def __init__(self, server: XServer, args: Sequence[str] = (), size: str = "1280x800"):
        self.server = server
        self.home = Path(tempfile.mkdtemp(prefix="bpe-realwindow-"))
        self.socket_path = str(self.home / "hook.sock")
        env = dict(server.env)
        for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
            env[var] = str(self.home / var.lower())
        (self.home / "Documents").mkdir()
        env.update(
            {
                "HOME": str(self.home),
                "QT_QPA_PLATFORM": "xcb",
                "BACKPROP_EXPLORER_TEST_HOOK": self.socket_path,
                "PYTHONPATH": str(PROJECT_ROOT),
                "QT_SCALE_FACTOR": "1",
                "OMP_NUM_THREADS": "1",
            }
        )
        env.pop("QT_QPA_PLATFORMTHEME", None)
        self.stderr_path = self.home / "stderr.txt"
        self.proc = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "main.py"), "gui", "--size", size, *args],
            env=env,
            cwd=str(self.home),
            preexec_fn=_die_with_parent,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr_path.open("w"),
        )
        try:
            wait_until(self._ready, 30, "the app window")
            self.window_id = wait_until(self._window_id, 10, "the app's X window")
            self.activate()
        except BaseException:
            # The fixture only knows apps that started: one that never showed its window
            # must not outlive the test (they piled up under a broken build).
            self.close()
            raise

    # -- the hook --------------------------------------------------------------------
    def query(self, q: str, **args: Any) -> Any:
        if self.proc.poll() is not None:
            raise AssertionError(f"the app exited ({self.proc.returncode}): {self.stderr()}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.socket_path)
            s.sendall((json.dumps({"q": q, **args}) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        answer = json.loads(data)
        if "error" in answer:
            raise AssertionError(f"hook query {q}: {answer['error']}")
        return answer["ok"]

    def state(self) -> dict[str, Any]:
        return self.query("state")

    def tab_state(self) -> dict[str, Any]:
        return self.query("tab_state")

    def widget(self, name: str) -> dict[str, Any]:
        found = [w for w in self.query("widgets", name=name) if w["visible"]]
        if not found:
            raise AssertionError(f"no visible widget named {name!r}")
        return found[0]

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the app exited ({self.proc.returncode}): {self.stderr()}")
        if not os.path.exists(self.socket_path):
            return False
        return any(w["class"] == "MainWindow" for w in self.state()["windows"])

    def _window_id(self) -> str:
        out = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--pid", str(self.proc.pid)],
            env=self.server.env,
            capture_output=True,
            text=True,
        )
        ids = out.stdout.split()
        return ids[-1] if ids else ""

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    # -- X input ---------------------------------------------------------------------
    def activate(self) -> None:
        self.server.xdotool("windowactivate", "--sync", self.window_id)
        wait_until(
            lambda: self.server.xdotool("getactivewindow").strip() == self.window_id,
            5,
            "the app window to be active",
        )

    def key(self, *keys: str) -> None:
        for k in keys:
            self.server.xdotool("key", "--clearmodifiers", k)

    def type(self, text: str) -> None:
        self.server.xdotool("type", "--delay", "20", text)

    def click(self, x: int, y: int, button: int = 1, double: bool = False) -> None:
        self.move(x, y)
        if double:
            self.server.xdotool("click", "--repeat", "2", "--delay", "80", str(button))
        else:
            self.server.xdotool("click", str(button))

    def click_rect(self, rect: Sequence[int], **kw: Any) -> None:
        self.click(*centre(rect), **kw)

    def click_widget(self, name: str, **kw: Any) -> None:
        self.click_rect(self.widget(name)["rect"], **kw)

    def move(self, x: int, y: int) -> None:
        # --sync waits for the pointer to move, forever when it is already there.
        here = self.server.xdotool("getmouselocation", "--shell")
        if f"X={x}\nY={y}\n" not in here:
            self.server.xdotool("mousemove", "--sync", str(x), str(y))

    def drag(self, start: Sequence[int], end: Sequence[int], steps: int = 12) -> None:
        """Press at ``start``, move in steps (so Qt sees a drag), release at ``end``."""
        (x0, y0), (x1, y1) = start, end
        self.move(x0, y0)
        self.server.xdotool("mousedown", "1")
        for i in range(1, steps + 1):
            self.move(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps))
            time.sleep(0.02)  # X motion events need time between them to become a drag
        self.server.xdotool("mouseup", "1")

    def resize(self, width: int, height: int) -> None:
        self.server.xdotool("windowsize", "--sync", self.window_id, str(width), str(height))
        wait_until(
            lambda: self.state()["size"] == [width, height],
            5,
            f"the window to become {width}x{height}",
        )

    def menu(self, *path: str) -> None:
        """Open a menu path with the mouse, e.g. ``menu("File", "Examples", "f3...")``;
        each element is a prefix of the item's text. The last one is clicked."""
        bar = {m["text"]: m for m in self.query("menus")["bar"]}
        head = bar[path[0]]
        self.click_rect(head["rect"])
        for i, name in enumerate(path[1:], start=1):
            popup = wait_until(lambda: self.query("menus")["popup"], 5, f"menu {path[:i]}")
            items = [it for it in popup["items"] if it["text"].startswith(name)]
            if not items:
                texts = [it["text"] for it in popup["items"]]
                raise AssertionError(f"no item {name!r} in menu {path[:i]}: {texts}")
            item = items[0]
            if item["submenu"]:
                self.move(*centre(item["rect"]))
                self.click_rect(item["rect"])
                title = name
                wait_until(
                    lambda t=title: (
                        (self.query("menus")["popup"] or {}).get("title", "").startswith(t)
                    ),
                    5,
                    f"submenu {name}",
                )
            else:
                self.click_rect(item["rect"])

    # -- end ---------------------------------------------------------------------------
    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                # A machine at load 20 can take more than 5 s to reap a killed process
                # that was reading a model file.
                self.proc.wait(60)
        shutil.rmtree(self.home, ignore_errors=True)
