"""Help > About: versions of the app and what it runs on, without importing torch."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion


def _dist_version(name: str) -> str:
    from importlib import metadata  # 20-40 ms (email, zipfile): only when About opens

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_info() -> dict[str, str]:
    """Name -> version of the app and its main libraries (torch read from metadata)."""
    return {
        "Backprop Explorer": _dist_version("backprop-explorer"),
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": pyside_version,
        "numpy": _dist_version("numpy"),
        "torch": _dist_version("torch"),
        "torchvision": _dist_version("torchvision"),
    }


def about_html() -> str:
    rows = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in version_info().items())
    return (
        "<h3>Backprop Explorer</h3>"
        "<p>Watch backpropagation happen: scalar graphs you build, a from-scratch numpy "
        "network, a PyTorch CNN and a pretrained ImageNet model.</p>"
        f"<table cellspacing='6'>{rows}</table>"
    )
