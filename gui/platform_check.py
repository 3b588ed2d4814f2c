"""Before Qt starts: can its xcb platform plugin load? If not, say which system libraries
are missing and the one apt command that installs them.

Qt's own message names the first library it thought of (often ``libxcb-cursor0``, even
when that one is installed), then aborts the process. The plugin's real linkage, read with
``ldd``, says exactly what is missing. No Qt is imported here: this runs before the
QApplication exists. ``python -m gui.platform_check`` (used by ``make run``) prints the
same message and exits 1 when something is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

#: sonames whose Debian package does not follow the usual "libfoo-bar.so.N -> libfoo-barN"
PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def xcb_plugin() -> Path | None:
    """PySide6's ``libqxcb.so``, or None (not Linux, or not found)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        plugin = Path(root, "Qt", "plugins", "platforms", "libqxcb.so")
        if plugin.is_file():
            return plugin
    return None


def parse_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` reports as ``not found``, each once, in its order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(output)))


def package_for(soname: str) -> str:
    """The Debian package that ships ``soname`` (``libxcb-icccm.so.4`` -> ``libxcb-icccm4``)."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    match = re.fullmatch(r"(lib[\w.+-]+?)\.so\.(\d+)(?:\.[\d.]+)?", soname)
    if not match:
        return soname
    name, major = match.groups()
    name = name.lower().replace("_", "-")
    # Debian adds a dash when the name itself ends with a digit (libxkbcommon-x11-0).
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """System libraries the xcb plugin links against but that are not installed."""
    plugin = plugin or xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd(out.stdout)


def message(missing: list[str]) -> str:
    """What to tell the user: the libraries, then the one command."""
    packages = " ".join(dict.fromkeys(package_for(s) for s in missing))
    return (
        "error: Qt's xcb platform plugin cannot load: missing system "
        f"{'library' if len(missing) == 1 else 'libraries'} {', '.join(missing)}.\n"
        f"Install {'it' if len(missing) == 1 else 'them'} with:\n"
        f"    sudo apt-get install {packages}\n"
        "(or run without a display: QT_QPA_PLATFORM=offscreen)"
    )


def wants_xcb(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Whether Qt will try the xcb plugin: asked for, or Linux with an X display."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb"
    return sys.platform.startswith("linux") and bool(environ.get("DISPLAY"))


def check() -> str | None:
    """The message to print when the xcb plugin would fail to load, else None."""
    if not wants_xcb():
        return None
    missing = missing_libraries()
    return message(missing) if missing else None


if __name__ == "__main__":
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(1 if problem else 0)
