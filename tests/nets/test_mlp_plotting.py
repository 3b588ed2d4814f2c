"""The command line's plot files (matplotlib): formats, vector output, awkward series."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from PIL import Image

from nets.plotting import PNG_DPI, Panel, PlotError, Series, render, training_plot

SVG = "{http://www.w3.org/2000/svg}"
LOSS = [2.3 * math.exp(-i / 50) for i in range(200)]


def _pdf_streams(data: bytes) -> list[bytes]:
    """Every content stream of a PDF, inflated where it is Flate-compressed."""
    out = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", data, re.S):
        raw = m.group(2)
        out.append(zlib.decompress(raw) if b"FlateDecode" in m.group(1) else raw)
    return out


def test_png_has_the_stated_size_and_dpi_and_draws_the_series(tmp_path: Path) -> None:
    path = training_plot(tmp_path / "p.png", LOSS, [0.2, 0.4, 0.5], [0.2, 0.35, 0.4], "t")
    with Image.open(path) as img:
        assert img.size == (800, 720)
        assert round(img.info["dpi"][0]) == PNG_DPI
        colours = {c for _, c in img.convert("RGB").getcolors(1 << 20)}
    assert (31, 119, 180) in colours  # the first series' blue was drawn
    assert not list(tmp_path.glob(".*tmp"))


def test_pdf_is_vector_with_text_and_no_image(tmp_path: Path) -> None:
    path = training_plot(tmp_path / "p.pdf", LOSS, [0.2, 0.4, 0.5], [0.2, 0.35, 0.4], "t")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    # No raster XObject anywhere: not a picture in a PDF wrapper.
    assert not re.search(rb"/Subtype\s*/Image", data)
    assert b"/Font" in data and b"/FontFile2" in data  # TrueType text, embedded
    content = b"\n".join(_pdf_streams(data))
    assert re.search(rb"\bTj\b|\bTJ\b", content)  # text-showing operators
    assert re.search(rb"\bl\b", content) and re.search(rb"\bm\b", content)  # path lines


def test_svg_is_vector_with_paths_and_labels_as_text(tmp_path: Path) -> None:
    path = training_plot(tmp_path / "p.svg", LOSS, [0.2, 0.4, 0.5], [0.2, 0.35, 0.4], "t")
    root = ET.parse(path).getroot()
    assert not list(root.iter(f"{SVG}image"))
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) > 10
    texts = {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}
    assert {"Training loss", "Accuracy", "train", "val", "Iteration", "Epoch"} <= texts


def test_the_same_plot_gives_the_same_file(tmp_path: Path) -> None:
    for ext in ("svg", "pdf"):
        a = training_plot(tmp_path / f"a.{ext}", LOSS, [0.2, 0.4], [0.1, 0.3])
        b = training_plot(tmp_path / f"b.{ext}", LOSS, [0.2, 0.4], [0.1, 0.3])
        assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    "values",
    [[], [float("nan")] * 5, [1.0] * 5, [1.0, float("inf"), 2.0, float("nan"), 3.0], [0.5]],
    ids=["empty", "all-nan", "constant", "gaps", "single"],
)
def test_awkward_series_still_render(tmp_path: Path, values: list[float]) -> None:
    panel = Panel("t", "x", "y", (Series("s", list(range(len(values))), values),))
    render(tmp_path / "a.svg", [panel])
    render(tmp_path / "a.png", [panel])
    texts = {"".join(t.itertext()) for t in ET.parse(tmp_path / "a.svg").iter(f"{SVG}text")}
    finite = [v for v in values if math.isfinite(v)]
    assert ("no data" in texts) == (not finite)


def test_unsupported_extension_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PlotError, match=r"\.png, \.svg or \.pdf"):
        render(tmp_path / "p.jpg", [])
    with pytest.raises(PlotError, match="cannot write"):
        render(tmp_path / "missing" / "p.png", [])


def test_labels_are_shown_as_written(tmp_path: Path) -> None:
    label = "a < b & c costs $5 and $6"
    render(tmp_path / "e.svg", [Panel(label, "x", "y", (Series("<s>", [0, 1], [0, 1]),))])
    texts = {"".join(t.itertext()) for t in ET.parse(tmp_path / "e.svg").iter(f"{SVG}text")}
    assert label in texts and "<s>" in texts  # escaped XML, no mathtext
