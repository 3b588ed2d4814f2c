"""An exported plot looks like the plot on screen (issue 13, defect 2): the PNG written by
File > Export Plots, shrunk to the on-screen size, matches a screenshot of the two plots."""

from __future__ import annotations

from PIL import Image, ImageChops, ImageStat

from tests.gui.realwindow.driver import wait_until
from tests.gui.realwindow.test_training_tabs import enabled, set_field, tiny_folder


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute grey-level difference (0 to 255) of two same-sized pictures."""
    diff = ImageChops.difference(a.convert("L"), b.convert("L"))
    return ImageStat.Stat(diff).mean[0]


def test_exported_plots_look_like_the_plots_on_screen(start_app, xserver, tmp_path):
    data = tiny_folder(tmp_path / "tiny")
    app = start_app("--tab", "mlp", "--open", str(data))
    wait_until(lambda: "Found" in app.widget("datasetStatus")["text"], 20, "the folder found")
    set_field(app, "field_num_epochs", "5")
    set_field(app, "field_num_train", "60")
    set_field(app, "field_batch_size", "20")
    app.click_widget("startButton")
    wait_until(lambda: enabled(app, "startButton"), 60, "the run finished")
    rows = app.query("table", name="runsTable")["rows"]
    assert rows and "finished" in str(rows[0]), rows
    target = tmp_path / "plots.png"
    app.menu("File", "Export Plots")
    wait_until(
        lambda: any(w["class"] == "QFileDialog" for w in app.state()["windows"]), 10, "dialog"
    )
    app.key("ctrl+a")
    app.type(str(target))
    app.key("Return")
    wait_until(target.is_file, 10, "the exported PNG")
    app.move(5, 5)  # no hover readout or cursor over the plots
    areas = [w["rect"] for w in app.query("widgets", name="plotArea") if w["visible"]]
    assert len(areas) == 2, areas
    areas.sort()
    screen = xserver.screenshot(tmp_path / "screen.png")
    shot = Image.open(screen)
    exported = Image.open(target)
    total_w = sum(r[2] for r in areas)
    height = max(r[3] for r in areas)
    # The export holds both plots side by side, at a whole multiple of the screen size.
    scale = exported.width / total_w
    assert abs(exported.height / height - scale) < 0.05, (exported.size, total_w, height)
    small = exported.resize((total_w, height), Image.Resampling.LANCZOS)
    left = 0
    for x, y, w, h in areas:
        on_screen = shot.crop((x, y, x + w, y + h))
        in_file = small.crop((left, 0, left + w, h))
        left += w
        # About 4 when the export matches the screen; 13 for the old top-left-quarter bug.
        assert difference(on_screen, in_file) < 8, (x, y, w, h)
