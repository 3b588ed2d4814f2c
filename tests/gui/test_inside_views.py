"""The Inside view, the findings list and the LR-finder plot, fed with real events."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from gui.training.coach_view import FindingMarkers, FindingsView
from gui.training.inside import InsideView
from gui.training.inside_data import InternalsSeries, density
from gui.training.lr_finder_view import LrFinderView
from gui.training.runs import RunsModel
from nets.lr_find import range_test
from nets.mlp.classifiers import TwoLayerNet
from nets.training import Advice
from tests.nets.internals_fixtures import sgd_samples


def _samples(steps: int = 30, every: int = 5, seed: int = 0):
    """Real Internals events of a small numpy net on random data."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((32, 10)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model = TwoLayerNet(10, 3, 6, 0.1, seed=seed)
    return sgd_samples(model, X, y, steps, every, lr=0.2)


def test_series_stacks_histograms_per_layer_and_sample() -> None:
    series = InternalsSeries()
    events = _samples()
    for e in events:
        series.add(e)
    steps, counts, edges = series.stack("fc1", "weight")
    assert steps.tolist() == [e.step for e in events]
    assert counts.shape == (len(events), len(edges) - 1)
    assert np.array_equal(counts[-1], events[-1].layers["fc1"]["weight_hist"])
    ratio = series.scalar("fc2", "weight_update_ratio")
    assert ratio[-1] == pytest.approx(events[-1].layers["fc2"]["weight_update_ratio"])
    assert np.allclose(density(counts).max(axis=1) <= 1.0, True)


def test_inside_view_draws_heat_maps_lines_bars_and_a_step(qtbot) -> None:
    runs = RunsModel()
    view = InsideView(runs, interval_ms=10_000)
    qtbot.addWidget(view)
    assert not view.refresh()  # hidden: nothing is drawn
    view.show()
    run = runs.add_run("run 1", {})
    events = _samples()
    for e in events:
        view.add_internals(run.run_id, e)
    assert view.refresh()
    assert set(view._heat) == {"fc1", "relu1", "fc2"}
    image = view._heat["fc1"][1].image
    assert image.shape == (len(events[0].layers["fc1"]["act_hist"]), len(events))
    x, y = view._lines[("weight_update_ratio", run.run_id, "fc1")].getOriginalDataset()
    assert list(x) == [e.step for e in events]
    assert y[-1] == pytest.approx(events[-1].layers["fc1"]["weight_update_ratio"])
    view.set_quantity("grad")
    view.select_step(12)  # nearest sample: step 10
    assert "step 10" in view.step_label.text()
    _, curve = view._step_plots["relu1"]
    assert np.array_equal(curve.getData()[1], events[2].layers["relu1"]["grad_hist"])
    assert view.dead_bars.opts["height"][0] == pytest.approx(
        events[-1].layers["relu1"]["dead_fraction"]
    )
    assert not view.refresh()  # nothing new: nothing redrawn


def test_findings_list_applies_the_selected_suggestion(qtbot) -> None:
    runs = RunsModel()
    view = FindingsView(runs)
    qtbot.addWidget(view)
    run = runs.add_run("run 1", {})
    advice = Advice("diverging", 42, {"curve": "loss", "loss": 80.0}, "too high", {"lr": 0.001})
    view.add_advice(run.run_id, advice)
    view.add_advice(run.run_id, Advice("unnormalised_input", 50, {"curve": "input"}, "x", {}))
    assert view.list.count() == 2
    assert view.selected().advice is advice  # a new finding does not steal the selection
    with qtbot.waitSignal(view.apply_requested) as blocker:
        view.apply_button.click()
    assert blocker.args == [{"lr": 0.001}]
    view.list.setCurrentRow(0)  # the newest, which has nothing to apply
    assert not view.apply_button.isEnabled()
    plot = pg.PlotItem()
    markers = FindingMarkers(plot, runs)
    markers.add_advice(run.run_id, advice)
    assert markers.markers[run.run_id][0].value() == 42
    runs.remove_run(run.run_id)
    assert view.list.count() == 0 and not markers.markers


def test_lr_finder_view_marks_and_copies_the_suggestion(qtbot) -> None:
    # A real range test on a 1-D quadratic: loss falls, then blows up past lr = 1.
    w = [5.0]

    def step(lr: float) -> float:
        loss = w[0] ** 2
        w[0] -= lr * 2 * w[0]
        return loss

    result = range_test(step, steps=100)
    view = LrFinderView()
    qtbot.addWidget(view)
    view.set_result(result)
    assert view.steep_line.isVisible()
    assert view.steep_line.value() == pytest.approx(np.log10(result.suggested_lr))
    with qtbot.waitSignal(view.lr_chosen) as blocker:
        view.use_button.click()
    assert blocker.args[0] == pytest.approx(result.suggested_lr, rel=0.05)


def test_insight_panel_routes_events_and_runs_the_range_test(qtbot) -> None:
    from gui.training.insight import InsightPanel
    from gui.worker import WorkerRegistry

    runs = RunsModel()
    workers = WorkerRegistry()
    panel = InsightPanel(runs, workers)
    qtbot.addWidget(panel)
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    panel.attach_loss_plot(plot.getPlotItem())
    run = runs.add_run("run 1", {})
    for event in _samples():
        panel.on_event(run.run_id, event)
    advice = Advice("dead_relu", 10, {"curve": "dead_relu", "layer": "relu1"}, "dead", {"lr": 0.01})
    panel.on_event(run.run_id, advice)
    assert len(panel.inside.series[run.run_id]) == 7
    assert panel.findings.list.count() == 1
    assert panel.markers.markers[run.run_id][0].value() == 10
    assert panel.internals_every() == 50
    with qtbot.waitSignal(panel.apply_requested) as blocker:
        panel.findings.apply_button.click()
    assert blocker.args == [{"lr": 0.01}]

    w = [4.0]

    def step(lr: float) -> float:
        loss = w[0] ** 2
        w[0] -= lr * 2 * w[0]
        return loss

    panel.set_lr_finder(lambda: lambda token: iter([range_test(step, steps=60)]))
    panel.run_lr_finder()
    qtbot.waitUntil(lambda: panel.lr_finder.result is not None, timeout=10_000)
    qtbot.waitUntil(lambda: panel._lr_worker is None, timeout=10_000)
    with qtbot.waitSignal(panel.lr_chosen) as chosen:
        panel.lr_finder.use_button.click()
    assert chosen.args[0] == pytest.approx(panel.lr_finder.result.suggested_lr, rel=0.05)
    panel.set_lr_finder(lambda: "load a dataset first")
    panel.run_lr_finder()
    assert panel.lr_finder.message.text() == "load a dataset first"
