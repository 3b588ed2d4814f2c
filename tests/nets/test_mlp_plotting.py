"""The command line's plot renderer: formats, awkward series, ticks."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from nets.plotting import Panel, PlotError, Series, nice_ticks, render, training_plot


def test_png_svg_and_pdf_are_written(tmp_path: Path) -> None:
    loss = [2.3 * math.exp(-i / 50) for i in range(200)]
    for ext in ("png", "svg", "pdf"):
        path = training_plot(tmp_path / f"p.{ext}", loss, [0.2, 0.4, 0.5], [0.2, 0.35, 0.4], "t")
        assert path.stat().st_size > 1000
    with Image.open(tmp_path / "p.png") as img:
        assert img.size == (800, 720)
        colours = {c for _, c in img.convert("RGB").getcolors(1 << 20)}
        assert (31, 119, 180) in colours  # the first series' blue was drawn
    root = ET.parse(tmp_path / "p.svg").getroot()
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"Training loss", "Accuracy", "train", "val", "Iteration", "Epoch"} <= set(texts)
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize(
    "values",
    [[], [float("nan")] * 5, [1.0] * 5, [1.0, float("inf"), 2.0, float("nan"), 3.0], [0.5]],
    ids=["empty", "all-nan", "constant", "gaps", "single"],
)
def test_awkward_series_still_render(tmp_path: Path, values: list[float]) -> None:
    panel = Panel("t", "x", "y", (Series("s", list(range(len(values))), values),))
    render(tmp_path / "a.svg", [panel])
    render(tmp_path / "a.png", [panel])
    text = (tmp_path / "a.svg").read_text()
    finite = [v for v in values if math.isfinite(v)]
    assert ("no data" in text) == (not finite)


def test_unsupported_extension_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PlotError, match=r"\.png, \.svg or \.pdf"):
        render(tmp_path / "p.jpg", [])
    with pytest.raises(PlotError, match="cannot write"):
        render(tmp_path / "missing" / "p.png", [])


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    ticks = nice_ticks(0.13, 0.87)
    assert ticks[0] <= 0.13 and ticks[-1] >= 0.87
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in (0.1, 0.2, 0.25)
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]
    assert nice_ticks(float("nan"), 1) == [0.0, 1.0]


def test_svg_escapes_labels(tmp_path: Path) -> None:
    render(tmp_path / "e.svg", [Panel("a < b & c", "x", "y", (Series("<s>", [0, 1], [0, 1]),))])
    ET.parse(tmp_path / "e.svg")  # well-formed
