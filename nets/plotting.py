"""A small dependency-free plot renderer for the command line's training plots.

Line charts stacked in panels (the seed's figure: training loss per iteration above,
train and validation accuracy per epoch below), written as SVG (text, directly), PNG
(Pillow's ImageDraw) or PDF (Pillow's PDF writer, from the PNG raster). Non-finite
points are skipped (lines break there) and empty series are drawn as "no data".
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

from nets.errors import NetsError
from nets.fileio import atomic_write

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
SUPPORTED = (".png", ".svg", ".pdf")


class PlotError(NetsError):
    """A plot could not be written (unsupported extension, unwritable path)."""


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str | None = None
    markers: bool = False
    width: float = 1.5


@dataclass(frozen=True)
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: Sequence[Series] = field(default_factory=tuple)
    ylim: tuple[float, float] | None = None


# ---------------------------------------------------------------------------- layout


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(target - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(v, 12))
        v += step
    if ticks[0] > lo:
        ticks.insert(0, ticks[0] - step)
    if ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.0e}"
    return f"{v:g}"


def _finite_range(values: Sequence[float]) -> tuple[float, float] | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return None
    return min(finite), max(finite)


@dataclass
class _Canvas:
    """Drawing primitives in pixel coordinates, rendered by each backend."""

    width: int
    height: int
    ops: list[tuple] = field(default_factory=list)

    def line(self, pts: list[tuple[float, float]], color: str, width: float = 1.0) -> None:
        if len(pts) >= 2:
            self.ops.append(("line", pts, color, width))

    def rect(
        self, x0: float, y0: float, x1: float, y1: float, outline: str, fill: str | None = None
    ) -> None:
        self.ops.append(("rect", (x0, y0, x1, y1), outline, fill))

    def dot(self, x: float, y: float, color: str, r: float = 2.5) -> None:
        self.ops.append(("dot", (x, y), color, r))

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: int = 12,
        anchor: str = "mm",
        color: str = "#222",
        rotate: bool = False,
    ) -> None:
        self.ops.append(("text", (x, y), s, size, anchor, color, rotate))


def _layout(panels: Sequence[Panel], title: str, width: int, height: int) -> _Canvas:
    c = _Canvas(width, height)
    c.rect(0, 0, width, height, "#ffffff", "#ffffff")
    top = 40 if title else 10
    if title:
        c.text(width / 2, 20, title, 16, "mm")
    ph = (height - top) / max(len(panels), 1)
    for i, panel in enumerate(panels):
        _panel(c, panel, 70, top + i * ph + 28, width - 20, top + (i + 1) * ph - 48)
    return c


def _panel(c: _Canvas, p: Panel, x0: float, y0: float, x1: float, y1: float) -> None:
    c.text((x0 + x1) / 2, y0 - 14, p.title, 13, "mm")
    xr = [_finite_range(s.x) for s in p.series]
    yr = [_finite_range(s.y) for s in p.series]
    xr = [r for r in xr if r]
    yr = [r for r in yr if r]
    c.rect(x0, y0, x1, y1, "#444444")
    c.text((x0 + x1) / 2, y1 + 34, p.xlabel, 12, "mm")
    c.text(x0 - 52, (y0 + y1) / 2, p.ylabel, 12, "mm", rotate=True)
    if not xr or not yr:
        c.text((x0 + x1) / 2, (y0 + y1) / 2, "no data", 12, "mm", "#888888")
        return
    xlo, xhi = min(r[0] for r in xr), max(r[1] for r in xr)
    ylo, yhi = p.ylim if p.ylim else (min(r[0] for r in yr), max(r[1] for r in yr))
    xt, yt = nice_ticks(xlo, xhi), nice_ticks(ylo, yhi, 5)
    xlo, xhi, ylo, yhi = xt[0], xt[-1], yt[0], yt[-1]

    def px(v: float) -> float:
        return x0 + (v - xlo) / (xhi - xlo) * (x1 - x0)

    def py(v: float) -> float:
        return y1 - (v - ylo) / (yhi - ylo) * (y1 - y0)

    for t in xt:
        c.line([(px(t), y0), (px(t), y1)], "#e5e5e5")
        c.line([(px(t), y1), (px(t), y1 + 4)], "#444444")
        c.text(px(t), y1 + 14, _fmt(t), 10, "mm")
    for t in yt:
        c.line([(x0, py(t)), (x1, py(t))], "#e5e5e5")
        c.line([(x0 - 4, py(t)), (x0, py(t))], "#444444")
        c.text(x0 - 7, py(t), _fmt(t), 10, "rm")
    c.rect(x0, y0, x1, y1, "#444444")
    for k, s in enumerate(p.series):
        color = s.color or PALETTE[k % len(PALETTE)]
        segment: list[tuple[float, float]] = []
        for xv, yv in zip(s.x, s.y, strict=False):
            if xv is None or yv is None or not (math.isfinite(xv) and math.isfinite(yv)):
                c.line(segment, color, s.width)
                segment = []
                continue
            segment.append((px(xv), py(min(max(yv, ylo), yhi))))
            if s.markers:
                c.dot(*segment[-1], color)
        c.line(segment, color, s.width)
    # Legend, top right inside the axes.
    labelled = [
        (s, s.color or PALETTE[k % len(PALETTE)]) for k, s in enumerate(p.series) if s.label
    ]
    if labelled:
        lw = 30 + 7 * max(len(s.label) for s, _ in labelled)
        lx, ly = x1 - lw - 8, y0 + 8
        c.rect(lx, ly, x1 - 8, ly + 8 + 18 * len(labelled), "#bbbbbb", "#ffffff")
        for j, (s, color) in enumerate(labelled):
            yy = ly + 13 + 18 * j
            c.line([(lx + 6, yy), (lx + 24, yy)], color, 2)
            c.text(lx + 30, yy, s.label, 11, "lm")


# ---------------------------------------------------------------------------- backends


def _svg(c: _Canvas) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{c.width}" height="{c.height}" '
        f'viewBox="0 0 {c.width} {c.height}" font-family="DejaVu Sans, Arial, sans-serif">'
    ]
    anchors = {"l": "start", "m": "middle", "r": "end"}
    for op in c.ops:
        kind = op[0]
        if kind == "line":
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in op[1])
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{op[2]}" stroke-width="{op[3]}"/>'
            )
        elif kind == "rect":
            x0, y0, x1, y1 = op[1]
            fill = op[3] or "none"
            out.append(
                f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
                f'fill="{fill}" stroke="{op[2]}"/>'
            )
        elif kind == "dot":
            (x, y), color, r = op[1], op[2], op[3]
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}"/>')
        elif kind == "text":
            (x, y), s, size, anchor, color, rotate = op[1:]
            transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
            out.append(
                f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}" '
                f'text-anchor="{anchors[anchor[0]]}" dominant-baseline="central"{transform}>'
                f"{escape(s)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _raster(c: _Canvas, scale: int = 1):
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (c.width * scale, c.height * scale), "white")
    draw = ImageDraw.Draw(img)
    fonts: dict[int, object] = {}

    def font(size: int):
        if size not in fonts:
            try:
                fonts[size] = ImageFont.load_default(size=size * scale)
            except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
                fonts[size] = ImageFont.load_default()
        return fonts[size]

    for op in c.ops:
        kind = op[0]
        if kind == "line":
            draw.line(
                [(x * scale, y * scale) for x, y in op[1]],
                fill=op[2],
                width=max(1, round(op[3] * scale)),
                joint="curve",
            )
        elif kind == "rect":
            x0, y0, x1, y1 = (v * scale for v in op[1])
            draw.rectangle((x0, y0, x1, y1), outline=op[2], fill=op[3])
        elif kind == "dot":
            (x, y), color, r = op[1], op[2], op[3] * scale
            draw.ellipse((x * scale - r, y * scale - r, x * scale + r, y * scale + r), fill=color)
        elif kind == "text":
            (x, y), s, size, anchor, color, rotate = op[1:]
            f = font(size)
            if rotate:
                box = draw.textbbox((0, 0), s, font=f)
                tw, th = box[2] - box[0] + 4, box[3] - box[1] + 4
                tile = Image.new("RGBA", (tw, th), (255, 255, 255, 0))
                ImageDraw.Draw(tile).text((2 - box[0], 2 - box[1]), s, font=f, fill=color)
                tile = tile.rotate(90, expand=True)
                img.paste(
                    tile, (int(x * scale - tile.width / 2), int(y * scale - tile.height / 2)), tile
                )
            else:
                draw.text((x * scale, y * scale), s, font=f, fill=color, anchor=anchor)
    return img


def render(
    path: str | os.PathLike[str],
    panels: Sequence[Panel],
    title: str = "",
    size: tuple[int, int] = (800, 720),
) -> Path:
    """Write the panels to ``path`` (.png, .svg or .pdf), atomically; return the path."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise PlotError(
            f"cannot write a plot as {ext or 'a file without extension'}: use .png, .svg or .pdf"
        )
    canvas = _layout(panels, title, *size)

    def write(f: BinaryIO) -> None:
        if ext == ".svg":
            f.write(_svg(canvas).encode("utf-8"))
        else:
            img = _raster(canvas, scale=2 if ext == ".pdf" else 1)
            if ext == ".pdf":
                img.save(f, format="PDF", resolution=144.0)
            else:
                img.save(f, format="PNG")

    atomic_write(path, write, PlotError, action="write the plot")
    return path


def training_plot(
    path: str | os.PathLike[str],
    step_loss: Sequence[float],
    train_acc: Sequence[float],
    val_acc: Sequence[float],
    title: str = "",
) -> Path:
    """The seed's figure: training loss per iteration; train and val accuracy per epoch."""
    epochs = list(range(1, len(train_acc) + 1))
    panels = [
        Panel(
            "Training loss",
            "Iteration",
            "Loss",
            (Series("", list(range(1, len(step_loss) + 1)), list(step_loss), width=1.0),),
        ),
        Panel(
            "Accuracy",
            "Epoch",
            "Accuracy",
            (
                Series("train", epochs, list(train_acc), markers=True),
                Series("val", epochs, list(val_acc[: len(epochs)]), markers=True),
            ),
        ),
    ]
    return render(path, panels, title)
