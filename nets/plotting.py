"""The command line's training plots, drawn by matplotlib (Agg, imported on first use).

Line charts stacked in panels (the seed's figure: training loss per iteration above,
train and validation accuracy below), written as PNG (raster, ``PNG_DPI`` dots per inch:
800 x 720 pixels by default), SVG or PDF. SVG and PDF are vector files: lines are paths
and labels are text (SVG ``<text>``, embedded TrueType in PDF), so they scale in a LaTeX
report. Non-finite points are skipped (lines break there) and a panel with no finite
point says "no data". Only ``matplotlib.figure.Figure`` is used, never pyplot: no
global figure state and no GUI backend, so plots can be written from any thread.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from nets.errors import NetsError
from nets.fileio import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
SUPPORTED = (".png", ".svg", ".pdf")
#: Dots per inch of PNG files (SVG and PDF have none: they are vector files).
PNG_DPI = 100

# Dates left out of the metadata: the same run gives the same file.
_METADATA = {
    ".svg": {"Date": None, "Creator": "Backprop Explorer"},
    ".pdf": {"CreationDate": None, "Creator": "Backprop Explorer"},
    ".png": {"Software": "Backprop Explorer"},
}


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


def _finite_points(s: Series) -> tuple[list[float], list[float]]:
    """The series with non-finite points replaced by nan (matplotlib breaks lines there)."""
    xs: list[float] = []
    ys: list[float] = []
    for x, y in zip(s.x, s.y, strict=False):
        fx = float(x) if x is not None else math.nan
        fy = float(y) if y is not None else math.nan
        ok = math.isfinite(fx) and math.isfinite(fy)
        xs.append(fx if ok else math.nan)
        ys.append(fy if ok else math.nan)
    return xs, ys


def _draw_panel(ax: Axes, p: Panel) -> None:
    ax.set_title(p.title, fontsize=13)
    ax.set_xlabel(p.xlabel, fontsize=12)
    ax.set_ylabel(p.ylabel, fontsize=12)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    drawn = False
    labelled = False
    for i, s in enumerate(p.series):
        xs, ys = _finite_points(s)
        if not any(math.isfinite(v) for v in ys):
            continue
        drawn = True
        labelled = labelled or bool(s.label)
        ax.plot(
            xs,
            ys,
            color=s.color or PALETTE[i % len(PALETTE)],
            linewidth=s.width,
            marker="o" if s.markers else None,
            markersize=4,
            label=s.label if s.label else "_nolegend_",
        )
    if not drawn:
        ax.text(
            0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="#888888"
        )
        return
    if all(float(x).is_integer() for s in p.series for x in s.x if math.isfinite(float(x))):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs, iterations
    if p.ylim is not None:
        ax.set_ylim(*p.ylim)
    if labelled:
        ax.legend(loc="best", fontsize=10, frameon=False)


def figure(panels: Sequence[Panel], title: str = "", size: tuple[int, int] = (800, 720)) -> Figure:
    """The panels stacked top to bottom in one figure of ``size`` pixels at ``PNG_DPI``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / PNG_DPI, size[1] / PNG_DPI), dpi=PNG_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(len(panels), 1), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=False):
        _draw_panel(ax, panel)
    if not panels:
        axes[0].set_axis_off()
    if title:
        fig.suptitle(title, fontsize=15)
    fig.set_layout_engine("constrained")
    return fig


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
    import matplotlib

    # Text stays text in SVG (searchable, editable) and is TrueType in PDF (not Type 3); a
    # "$" in a label is a dollar, not the start of mathtext; SVG ids do not change per run.
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "pdf.fonttype": 42,
            "svg.hashsalt": "backprop-explorer",
            "text.parse_math": False,
        }
    ):
        fig = figure(panels, title, size)

        def write(f: BinaryIO) -> None:
            fig.savefig(f, format=ext[1:], dpi=PNG_DPI, metadata=_METADATA[ext])

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
