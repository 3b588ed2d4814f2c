"""The Two-layer net tab's "Network graph" page: building the net on a batch, stepping it
with the Graph tab's keys, the node inspector, and "explain this number"."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from tests.gui import test_mlp_tab

# The Two-layer net tab tests' window and tiny image folder; the tab here starts with no
# dataset (the page builds on random numbers until one is loaded).
window, data_root = test_mlp_tab.window, test_mlp_tab.data_root


@pytest.fixture
def tab(window):
    return window.select_tab("mlp")


def open_page(tab, qtbot):
    page = tab.network_graph
    with qtbot.waitSignal(page.built, timeout=20_000):
        tab.show_page(page)
    return page


def press(page, qtbot, key, signal_timeout=10_000):
    with qtbot.waitSignal(page.stepped, timeout=signal_timeout):
        page.canvas.setFocus()
        qtbot.keyClick(page.canvas, key)


def test_page_builds_the_seed_graph_on_random_numbers_without_a_dataset(tab, qtbot):
    page = open_page(tab, qtbot)
    assert page.ng.kind == "TwoLayerNet"
    names = set(page.scene.nodes)
    assert {"X", "W1", "b1", "fc1", "relu1", "W2", "b2", "fc2", "softmax_loss"} <= names
    assert {"l2_W1", "l2_W2", "L"} <= names
    labels = {e.spec.dst: e.label for e in page.scene.edge_items if e.spec.src == "X"}
    n = page.picker.n_spin.value()
    assert labels["fc1"] == f"{n}×3072"
    assert len(page.picker.gallery.captions()) == n


def test_right_and_left_step_one_layer_call_each(tab, qtbot):
    page = open_page(tab, qtbot)
    assert page.ng.value("a1") is None
    press(page, qtbot, Qt.Key.Key_Right)
    assert page.ng.forward_done == 1
    assert page.current == "fc1"
    item = page.scene.nodes["fc1"]
    assert item.value.image is not None and item.grad.image is None
    assert item.cache_text.startswith("cache: x")
    assert "fc_forward" in page.status.text()
    while not page.ng.forward_complete:
        press(page, qtbot, Qt.Key.Key_Right)
    press(page, qtbot, Qt.Key.Key_Left)
    assert page.ng.backward_done == 1 and page.current == "L"
    press(page, qtbot, Qt.Key.Key_F5)
    assert page.ng.backward_complete
    assert page.scene.nodes["W1"].grad.image is not None
    press(page, qtbot, Qt.Key.Key_Backspace)
    assert not page.ng.backward_complete


def test_inspector_shows_value_gradient_cache_and_unit_weights(tab, qtbot):
    page = open_page(tab, qtbot)
    press(page, qtbot, Qt.Key.Key_F5)
    page.select_node("fc1")
    insp = page.inspector
    a1 = page.ng.value("a1")
    assert insp.value_panel.heat.array() is a1
    assert f"{a1.shape[0]}×{a1.shape[1]}" in insp.value_panel.stats.text()
    assert insp.grad_panel.heat.array() is page.ng.grad("a1")
    assert set(insp.cache_panels) == {"x", "w"}
    assert not insp.unit.isHidden()
    assert insp.unit.images.tile_count() in (0, 2)  # random data: no image shape


def test_clicking_an_element_explains_it_and_matches_the_tensor(tab, qtbot):
    page = open_page(tab, qtbot)
    press(page, qtbot, Qt.Key.Key_F5)
    page.select_node("fc1")
    heat = page.inspector.grad_panel.heat
    rect = heat.cell_rect(0, 3)
    with qtbot.waitSignal(page.explained, timeout=20_000) as blocker:
        qtbot.mouseClick(heat, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert blocker.args == ["grad:a1[0,3]"]
    view = page.explain_view
    expl = view.explanation
    assert expl.value == pytest.approx(float(page.ng.grad("a1")[0, 3]), abs=1e-12)
    assert len(view.graph) > 1
    assert view.gradcheck.result is not None
    assert page.bottom.currentWidget() is view


def test_a_folded_sum_unfolds_more_terms(tab, qtbot):
    page = open_page(tab, qtbot)
    with qtbot.waitSignal(page.explained, timeout=20_000):
        page.explain("value", "a1", (0, 2))
    view = page.explain_view
    first = view.explanation
    assert first.folded > 0
    nodes = len(view.graph)
    button = view.unfold_buttons[first.sums[0].key]
    qtbot.waitUntil(lambda: button.height() > 0)  # laid out
    with qtbot.waitSignal(page.explained, timeout=20_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert view.explanation.folded == first.folded - 8
    assert len(view.graph) > nodes


def test_explanation_steps_with_the_graph_tab_keys(tab, qtbot):
    page = open_page(tab, qtbot)
    with qtbot.waitSignal(page.explained, timeout=20_000):
        page.explain("grad", "b2", (3,))
    view = page.explain_view
    view.canvas.setFocus()
    qtbot.keyClick(view.canvas, Qt.Key.Key_F5)
    out = view.graph.output_id
    assert view.graph.evaluation.values[out] == pytest.approx(view.explanation.value, abs=1e-9)
    # the network graph itself did not move
    assert page.ng.forward_done == 0


def test_bad_element_is_refused_in_one_line(tab, qtbot):
    page = open_page(tab, qtbot)
    with qtbot.waitSignal(page.refused, timeout=20_000) as blocker:
        page.explain("value", "a1", (99, 0))
    assert "\n" not in blocker.args[0] and "a1" in blocker.args[0]


def test_linear_classifier_gets_the_same_view(tab, qtbot):
    page = open_page(tab, qtbot)
    with qtbot.waitSignal(page.built, timeout=20_000):
        page.picker.model_box.setCurrentIndex(page.picker.model_box.findData("LinearClassifier"))
    assert page.ng.kind == "LinearClassifier"
    assert "relu1" not in page.scene.nodes and "fc1" in page.scene.nodes


def test_batch_of_images_with_their_labels(tab, qtbot, data_root):
    load_folder(tab, qtbot, data_root)
    page = open_page(tab, qtbot)
    page.picker.n_spin.setValue(3)
    qtbot.waitUntil(lambda: page.ng is not None and page.ng.batch.X.shape[0] == 3
                    and page.ng.batch.split == "train", timeout=20_000)  # fmt: skip
    captions = page.picker.gallery.captions()
    names = tab.data_panel.dataset.class_names
    assert [c.split(": ")[1] for c in captions] == [names[int(y)] for y in page.ng.batch.y]
    assert page.ng.batch.images is not None


def load_folder(tab, qtbot, root):
    tab.data_panel.set_source("folder", root)
    qtbot.waitUntil(lambda: tab.data_panel.info is not None and tab.data_panel.info.found,
                    timeout=10_000)  # fmt: skip
    with qtbot.waitSignal(tab.data_panel.dataset_ready, timeout=30_000):
        tab.data_panel.load()
    # the load job ends after it delivers the dataset: Start waits for that too
    qtbot.waitUntil(lambda: not tab.data_panel.is_busy(), timeout=30_000)


def test_double_click_on_a_node_heat_map_explains_that_element(tab, qtbot):
    page = open_page(tab, qtbot)
    press(page, qtbot, Qt.Key.Key_F5)
    item = page.scene.nodes["fc2"]
    rect = item.thumb_rect("grad")
    scores = page.ng.grad("scores")
    rows, cols = scores.shape
    local = rect.topLeft() + QPointF((7.5 / cols) * rect.width(), (0.5 / rows) * rect.height())
    assert item.index_at(local) == ("grad", (0, 7))
    view_pos = page.canvas.mapFromScene(item.mapToScene(local))
    with qtbot.waitSignal(page.explained, timeout=20_000) as blocker:
        qtbot.mouseDClick(page.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_pos)
    assert blocker.args == ["grad:scores[0,7]"]
    assert page.explain_view.explanation.value == pytest.approx(float(scores[0, 7]), abs=1e-12)


def open_on_a_trained_run(tab, qtbot, data_root):
    """The page built on the weights of a run trained on ``data_root``: (run, page)."""
    load_folder(tab, qtbot, data_root)
    run, status = test_mlp_tab.train_once(tab, qtbot)
    assert status == "finished"
    page = open_page(tab, qtbot)
    with qtbot.waitSignal(page.built, timeout=20_000):
        page.picker.set_source("run")
    return run, page


def test_the_selected_runs_model_and_its_preprocessing(tab, qtbot, data_root):
    run, page = open_on_a_trained_run(tab, qtbot, data_root)
    model = run.payload.model
    np.testing.assert_allclose(page.ng.params["W1"], model.parameters()["W1"])
    expected = run.payload.preprocessor.transform(
        tab.data_panel.dataset.X_train[page.ng.batch.indices], dtype=np.float64
    )
    np.testing.assert_allclose(page.ng.batch.X, expected, rtol=1e-6, atol=1e-6)
    assert run.name in page.picker.weights_label.text()


def test_a_checkpoint_whose_shape_does_not_fit_the_data_is_refused(tab, qtbot, data_root, tmp_path):
    from nets.mlp.checkpoint import save_checkpoint
    from nets.mlp.classifiers import TwoLayerNet

    load_folder(tab, qtbot, data_root)
    page = open_page(tab, qtbot)
    path = tmp_path / "other.npz"
    save_checkpoint(path, TwoLayerNet(3072, 10, 8, seed=0))
    with qtbot.waitSignal(page.refused, timeout=20_000) as blocker:
        page.picker.checkpoint = path
        page.picker.set_source("checkpoint")
    assert "\n" not in blocker.args[0]
    assert page.ng.kind == "TwoLayerNet"  # the previous net stays


def test_a_matching_checkpoint_is_used(tab, qtbot, data_root, tmp_path):
    from nets.mlp.checkpoint import save_checkpoint
    from nets.mlp.classifiers import LinearClassifier

    load_folder(tab, qtbot, data_root)
    page = open_page(tab, qtbot)
    ds = tab.data_panel.dataset
    path = tmp_path / "linear.npz"
    model = LinearClassifier(ds.input_dim, ds.num_classes, seed=3)
    save_checkpoint(path, model, class_names=ds.class_names, image_shape=ds.image_shape)
    with qtbot.waitSignal(page.built, timeout=20_000):
        page.picker.checkpoint = path
        page.picker.set_source("checkpoint")
    assert page.ng.kind == "LinearClassifier"
    np.testing.assert_allclose(page.ng.params["W"], model.parameters()["W"])
    assert "linear.npz" in page.picker.weights_label.text()


def test_an_epoch_snapshot_picked_on_the_timeline_gives_its_weights(tab, qtbot, data_root):
    run, page = open_on_a_trained_run(tab, qtbot, data_root)
    latest = page.ng.params["W1"].copy()
    epoch, step = tab.snapshots_of(run.run_id)[0]
    with qtbot.waitSignal(page.built, timeout=20_000):
        tab.select_snapshot(run.run_id, step)
    snapshot = tab.selected_snapshot()
    np.testing.assert_allclose(page.ng.params["W1"], snapshot.weights()["W1"])
    assert not np.allclose(page.ng.params["W1"], latest)
    assert snapshot.name in page.picker.weights_label.text()


def test_enlarge_gives_the_explanation_most_of_the_height_and_gives_it_back(tab, qtbot):
    page = open_page(tab, qtbot)
    with qtbot.waitSignal(page.explained, timeout=20_000):
        page.explain("grad", "W1", (5, 2))
    before = page.right.sizes()
    page.explain_view.enlarge_action.setChecked(True)
    top, bottom = page.right.sizes()
    assert bottom > before[1] and top < before[0]
    page.explain_view.enlarge_action.setChecked(False)
    assert page.right.sizes() == before


def test_the_loss_draws_more_examples_as_their_softmax(tab, qtbot):
    page = open_page(tab, qtbot)
    assert page.ng.batch.X.shape[0] >= 3
    with qtbot.waitSignal(page.explained, timeout=20_000):
        page.explain("value", "L", ())
    view = page.explain_view
    nodes = len(view.graph)
    assert "expanded" in view.unfold_buttons
    with qtbot.waitSignal(page.explained, timeout=20_000):
        view.unfold_buttons["expanded"].click()
    assert len(view.graph) > nodes
    assert view.explanation.graph_value == pytest.approx(view.explanation.value, abs=1e-9)
