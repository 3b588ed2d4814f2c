"""The Classify tab's lab: the attribution grid, the sanity check and the Attack panel.

A stand-in keeps it fast: the built-in model's trained network at a 64 x 64 input
(the same code paths as at 224, a twelfth of the pixels).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from gui.classify_tab import backend
from gui.classify_tab.imaging import qimage_to_rgb
from gui.classify_tab.report import ATTACK_FIGURE_SIZE
from gui.main_window import MainWindow
from nets.images import open_image
from nets.pretrained.classify import PretrainedModel
from nets.pretrained.registry import Preprocessing

MODEL = "efficientnet_lite0"


@pytest.fixture(scope="module")
def small_model() -> PretrainedModel:
    full = backend.load(MODEL)
    preprocessing = Preprocessing(72, 64, (127 / 255,) * 3, (128 / 255,) * 3, "bicubic")
    return PretrainedModel(full.spec, copy.deepcopy(full.network), preprocessing)


@pytest.fixture
def window(qtbot):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    win.shutdown()


@pytest.fixture
def tab(qtbot, window, small_model, tmp_path):
    tab = window.select_tab("classify")
    tab.persist_recent = False
    tab.set_model(MODEL, small_model)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(base).resize((160, 120), Image.Resampling.BICUBIC).save(path)
    with qtbot.waitSignal(tab.detail_shown, timeout=30_000):
        tab.open_paths([path])
    qtbot.waitUntil(tab.is_idle, timeout=30_000)
    return tab


def show_side(tab, widget) -> None:
    tab.view.show_side(widget)


def test_the_grid_shows_every_chosen_method_over_the_models_input(qtbot, tab):
    panel = tab.explain.panel
    for name, box in panel.method_boxes.items():
        box.setChecked(name in ("saliency", "integrated_gradients", "gradcam", "occlusion"))
    panel.ig_steps.setValue(8)
    with qtbot.waitSignal(tab.explain.grid_done, timeout=60_000) as done:
        show_side(tab, panel)  # opening the tab computes the grid
    assert done.args == ["finished"]
    assert list(panel.tiles) == ["saliency", "integrated_gradients", "occlusion", "gradcam"]
    model_input = tab.current_detail().model_input
    for method, tile in panel.tiles.items():
        assert np.array_equal(qimage_to_rgb(tile.view.image()), model_input), method
        assert tile.view.heat_shown() and tile.view.heat().size().toTuple() == (64, 64)
    assert "\u03b4 =" in panel.tiles["integrated_gradients"].caption.text()
    # The colour map is perceptually uniform and switchable; the legend follows.
    before = qimage_to_rgb(panel.tiles["gradcam"].view.heat())
    panel.colormap_combo.setCurrentText("viridis")
    assert panel.legend.colormap() == "viridis"
    assert not np.array_equal(qimage_to_rgb(panel.tiles["gradcam"].view.heat()), before)
    # The photo's opacity slider applies to the grid.
    tab.opacity_slider.setValue(80)
    assert panel.tiles["gradcam"].view.opacity() == pytest.approx(0.8)


def test_any_class_by_typing_its_name(qtbot, tab):
    panel = tab.explain.panel
    for name, box in panel.method_boxes.items():
        box.setChecked(name == "gradcam")
    with qtbot.waitSignal(tab.explain.grid_done, timeout=30_000):
        show_side(tab, panel)
    combo = panel.class_combo
    combo.lineEdit().setText("tiger ca")
    with qtbot.waitSignal(tab.explain.map_shown, timeout=30_000) as shown:
        qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    assert shown.args == ["gradcam", 282]  # found in the full list, not the top-5
    assert combo.currentData() == 282


def test_the_sanity_check_fills_its_strip_and_says_which_methods_depend_on_the_model(qtbot, tab):
    panel, sanity = tab.explain.panel, tab.explain.sanity_panel
    for name, box in panel.method_boxes.items():
        box.setChecked(name in ("gradcam", "saliency"))
    sanity.stages.setValue(2)
    show_side(tab, sanity)
    with qtbot.waitSignal(tab.explain.sanity_done, timeout=60_000) as done:
        qtbot.mouseClick(sanity.run_button, Qt.MouseButton.LeftButton)
    text = done.args[0]
    assert text == sanity.verdict.text() and ("Depend" in text or "change" in text)
    assert set(sanity.cells) == {(s, m) for s in range(3) for m in ("gradcam", "saliency")}
    assert sanity.cells[(0, "gradcam")].caption.text() == "trained"
    assert sanity.cells[(2, "saliency")].caption.text().startswith("\u03c1 = ")
    qtbot.waitUntil(tab.is_idle, timeout=10_000)
    assert not sanity.progress.isVisible()


def test_cancel_stops_the_sanity_check(qtbot, tab):
    sanity = tab.explain.sanity_panel
    show_side(tab, sanity)
    qtbot.mouseClick(sanity.run_button, Qt.MouseButton.LeftButton)
    assert sanity.progress.isVisible()
    qtbot.mouseClick(sanity.progress.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(tab.is_idle, timeout=30_000)
    assert sanity.verdict.text() == "Cancelled."


def test_the_attack_runs_live_and_its_png_keeps_fooling_the_model(
    qtbot, tab, small_model, tmp_path
):
    panel = tab.attack.panel
    with qtbot.waitSignal(tab.attack.attack_shown, timeout=30_000) as shown:
        show_side(tab, panel)  # opening the tab attacks the current photo
    result = shown.args[0]
    assert result.method == "fgsm" and result.epsilon == pytest.approx(2 / 255)
    assert np.array_equal(qimage_to_rgb(panel.perturbed.view.image()), result.adversarial)
    assert panel.chart_before.predictions()[0][0] == result.before.top[0].index
    assert panel.chart_after.predictions()[0][0] == result.after.top[0].index
    assert panel.heat_before.view.heat_shown() and panel.heat_after.view.heat_shown()
    # Moving the slider attacks again, with the new epsilon; PGD aims at a target.
    with qtbot.waitSignal(tab.attack.attack_shown, timeout=30_000) as shown:
        panel.epsilon_slider.setValue(6)
    assert shown.args[0].epsilon == pytest.approx(6 / 255) and shown.args[0].linf <= 6
    assert panel.epsilon_label.text() == "\u03b5 = 6/255"
    target = tab.current_detail().top[1][0]
    panel.target_combo.setCurrentIndex(panel.target_combo.findData(target))
    panel.steps_spin.setValue(5)
    with qtbot.waitSignal(tab.attack.attack_shown, timeout=30_000) as shown:
        panel.method_combo.setCurrentIndex(panel.method_combo.findData("pgd"))
    result = shown.args[0]
    assert result.method == "pgd" and result.target == target and result.steps == 5
    said = f"target {tab.models.label(target)} " + ("reached" if result.reached_target else "not")
    assert said in panel.verdict.text()

    # Export: the PNG, read back as any file is, gives the class the panel shows.
    tab._ask_save_path = lambda _title, name: tmp_path / name
    with qtbot.waitSignal(tab.attack.verified, timeout=30_000) as verified:
        qtbot.mouseClick(panel.save_png_button, Qt.MouseButton.LeftButton)
    path, top = verified.args
    assert path.suffix == ".png" and path.name.startswith("photo_pgd_eps6")
    assert top[0][0] == result.after.top[0].index
    assert "still fools the model" in panel.verdict.text()
    reread = open_image(path, min_size=small_model.preprocessing.resize)
    assert np.array_equal(small_model.pixels(reread), result.adversarial)
    # The report figure: original, perturbed, perturbation, both top-5s.
    qtbot.mouseClick(panel.save_report_button, Qt.MouseButton.LeftButton)
    figure = tmp_path / "photo_pgd_eps6_report.png"
    with Image.open(figure) as img:
        assert img.size == ATTACK_FIGURE_SIZE


def test_the_lab_never_widens_the_window(tab):
    for panel in (tab.explain.panel, tab.explain.sanity_panel, tab.attack.panel):
        tab.view.show_side(panel)
        assert tab.view.side_shown(panel)
        assert tab.minimumSizeHint().width() <= 700


def test_a_new_photo_clears_the_lab(qtbot, tab, tmp_path):
    panel = tab.attack.panel
    with qtbot.waitSignal(tab.attack.attack_shown, timeout=30_000):
        show_side(tab, panel)
    assert panel.save_png_button.isEnabled()
    tab.clear_images()
    assert tab.attack.last is None and not panel.save_png_button.isEnabled()
    assert panel.perturbed.view.image() is None and not tab.explain.panel.tiles
