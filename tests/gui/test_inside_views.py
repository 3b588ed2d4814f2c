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
    assert view.flush()
    assert set(view.page.rows) == {"fc1", "relu1", "fc2"}
    image = view.page.rows["fc1"].image.image
    assert image.shape == (len(events[0].layers["fc1"]["act_hist"]), len(events))
    x, y = view._lines[("weight_update_ratio", run.run_id, "fc1")].getOriginalDataset()
    assert list(x) == [e.step for e in events]
    assert y[-1] == pytest.approx(events[-1].layers["fc1"]["weight_update_ratio"])
    view.set_quantity("grad")
    view.select_step(12)  # nearest sample: step 10
    view.flush()
    assert view.heat_stack.currentWidget() is view.page
    assert "step 10" in view.step_label.text()
    curve = view.step_grid.plots["relu1"].curve
    assert np.array_equal(curve.getData()[1], events[2].layers["relu1"]["grad_hist"])
    assert view.page.rows["fc1"].marker.value() == 10
    assert view.dead_bars.opts["height"][0] == pytest.approx(
        events[-1].layers["relu1"]["dead_fraction"]
    )
    assert not view.flush()  # nothing new: nothing redrawn


def test_inside_view_draws_in_slices_of_a_few_rows_per_tick(qtbot) -> None:

    runs = RunsModel()
    view = InsideView(runs, interval_ms=10_000)
    qtbot.addWidget(view)
    view.resize(900, 2000)  # every row in view
    view.show()
    run = runs.add_run("run 1", {})
    events = _samples()
    for e in events[:3]:
        view.add_internals(run.run_id, e)
    # One tick (a generous time budget: the row limits are checked here): one new row,
    # drawn at once (a new row's first paint costs what redrawing a few does).
    assert view.refresh(budget_s=60.0)
    assert [row.shown[1] for row in view.page.rows.values()] == [3]
    with qtbot.waitSignal(view.redrawn):  # the follow-up ticks draw the rest...
        pass
    qtbot.waitUntil(lambda: not view.follow_up.isActive(), timeout=5000)
    drawn = {name: row.shown[1] for name, row in view.page.rows.items()}
    assert drawn == {"fc1": 3, "relu1": 3, "fc2": 3}
    assert view._drawn["ratio"] == view._drawn["norm"] == view._drawn["dead"]
    view.add_internals(run.run_id, events[3])  # ...and only what changed is redrawn
    for _ in range(4):  # a slice for each part with work: heat-maps, two plots, bars
        assert view.refresh(budget_s=60.0, max_rows=1)
    assert sorted(row.shown[1] for row in view.page.rows.values()) == [3, 3, 4]


def test_heat_maps_of_long_runs_are_averaged_into_fewer_columns() -> None:
    from gui.training.inside_heat import downsample, x_extent

    counts = np.arange(1001 * 4, dtype=float).reshape(1001, 4)
    steps = np.arange(1001, dtype=float) * 50
    small, small_steps = downsample(counts, steps, limit=400)
    assert len(small) == len(small_steps) <= 400
    assert small[0].tolist() == counts[:3].mean(axis=0).tolist()
    assert small_steps[1] == 150
    assert small[-1].tolist() == counts[-2:].mean(axis=0).tolist()
    short = counts[:10]
    assert downsample(short, steps[:10])[0] is short  # few samples: as they are
    first, end = x_extent(0, 230)
    assert (first, end) == (0, 300.0)  # 230 + 10% rounded up to a nice number
    assert x_extent(0, 231) == x_extent(0, 240)  # the axis keeps its range for a while


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
    marks = (
        (view.suggested_line, result.suggested_lr),
        (view.steep_line, result.steepest_lr),
        (view.min_line, result.lr_min_div10),
    )
    for line, lr in marks:
        assert line.isVisible() and line.value() == pytest.approx(np.log10(lr))
    assert result.suggested_lr != result.steepest_lr
    assert f"{result.suggested_lr:.2g}" in view.use_button.text()
    with qtbot.waitSignal(view.lr_chosen) as blocker:
        view.use_button.click()
    assert blocker.args[0] == pytest.approx(result.suggested_lr, rel=0.05)
    with qtbot.waitSignal(view.lr_chosen) as blocker:
        view.use_min_button.click()
    assert blocker.args[0] == pytest.approx(result.lr_min_div10, rel=0.05)


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
