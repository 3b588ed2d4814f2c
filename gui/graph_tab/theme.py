"""Colours, fonts, sizes and number formatting shared by the Graph tab's items and panels."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontMetricsF

from graph.records import format_value

# Phase colours: forward values are blue, backward gradients orange (also in the legend).
FORWARD = QColor("#1f63c6")
BACKWARD = QColor("#c2570c")
CURRENT = QColor("#f2b705")
STALE = QColor("#8c8c8c")
WARNING = QColor("#d93025")
WARNING_FILL = QColor("#fde3e0")
OUTPUT = QColor("#202124")
SELECTED = QColor("#4c8bf5")
OK_GREEN = QColor("#1e8e3e")
AMBER = QColor("#e8a100")
RIGHT_FILL = QColor("#e6f4ea")
WRONG_FILL = QColor("#fce8e6")

CANVAS = QColor("#f7f8fa")
GRID = QColor("#e6e8ec")
NODE_FILL = QColor("#ffffff")
NODE_BORDER = QColor("#9aa0a6")
TEXT = QColor("#202124")
MUTED = QColor("#6b7078")
EDGE = QColor("#7d848d")
PORT = QColor("#5f6368")
PORT_FREE = QColor("#ffffff")

#: Header colour per op category (``graph.opspec.OpSpec.category``), "input"/"const" apart.
HEADER = {
    "input": QColor("#d2e3fc"),
    "const": QColor("#e8eaed"),
    "arithmetic": QColor("#e6f4ea"),
    "function": QColor("#f3e8fd"),
    "structure": QColor("#fef7e0"),
}

NODE_WIDTH = 132.0
HEADER_HEIGHT = 26.0
ROW_HEIGHT = 21.0
PORT_RADIUS = 5.5
GRID_STEP = 20.0


def font(size: float = 9.0, bold: bool = False, mono: bool = False) -> QFont:
    f = QFont("DejaVu Sans Mono" if mono else "DejaVu Sans")
    if mono:
        f.setStyleHint(QFont.StyleHint.Monospace)
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


# Keyed by id() for speed (paint code asks per label); each entry keeps its font alive, so
# the id cannot pass to another font while the entry exists.
_METRICS: dict[int, tuple[QFont, QFontMetricsF]] = {}  # lazily: metrics need a QGuiApplication


def metrics(font: QFont) -> QFontMetricsF:
    """The metrics of ``font``, made once per font object (meant for the fonts made
    once at import, like ``node_items``' own)."""
    entry = _METRICS.get(id(font))
    if entry is None:
        entry = _METRICS[id(font)] = (font, QFontMetricsF(font))
    return entry[1]


_SMALLER: dict[tuple[int, float], tuple[QFont, QFont]] = {}


def fitting_font(font: QFont, text: str, width: float) -> QFont:
    """``font``, or a smaller copy of it in which ``text`` fits ``width``."""
    need = metrics(font).horizontalAdvance(text)
    if need <= width:
        return font
    size = max(6.0, round(font.pointSizeF() * width / need * 2) / 2 - 0.5)
    entry = _SMALLER.get((id(font), size))
    if entry is None:
        smaller = QFont(font)
        smaller.setPointSizeF(size)
        entry = _SMALLER[id(font), size] = (font, smaller)
    return entry[1]


def header_colour(op: str, category: str) -> QColor:
    return HEADER.get(op) or HEADER.get(category) or HEADER["arithmetic"]


#: significant digits in the step panel and the Inputs table unless the user picks others
#: (View > Precision); the canvas keeps 4 so labels fit, and tooltips show ``FULL_DIGITS``.
DEFAULT_DIGITS = 6
DIGIT_CHOICES = (4, 6, 8, 12)
FULL_DIGITS = 12


def fmt(x: float | None, digits: int = 4) -> str:
    """Short text for a number shown on the canvas; an en dash for "not computed"."""
    if x is None:
        return "–"
    return format_value(float(x), digits)


def fmt_full(x: float | None) -> str:
    """Every digit that matters, for tooltips."""
    return fmt(x, FULL_DIGITS)


def parse_number(text: str) -> float:
    """A number typed by the user: plain floats, ``nan``, ``inf``, ``1e-3``, ``−2``.

    Raises ValueError with a readable message for anything else.
    """
    cleaned = text.strip().replace("−", "-").replace(",", ".") if text else ""
    if not cleaned:
        raise ValueError("type a number")
    try:
        return float(cleaned)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
