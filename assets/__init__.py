"""Built-in graphs, label lists and icons shipped with the app."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent


def asset_path(*parts: str) -> Path:
    """Path of a file inside ``assets/``, e.g. ``asset_path("graphs", "f3.json")``."""
    return ASSETS_DIR.joinpath(*parts)
