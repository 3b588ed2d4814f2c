"""Start-up stays cheap by construction: the first window imports and builds only what its
current tab shows, the training tabs' plots (pyqtgraph) come right after the first frame,
and the restored tab is complete then (the timing itself is bench/bench_startup.py's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules of the other tabs, and libraries costing 0.1-0.4 s that a first view can skip.
TAB_PACKAGES = {
    "graph": "gui.graph_tab",
    "mlp": "gui.mlp_tab",
    "cnn": "gui.cnn_tab",
    "classify": "gui.classify_tab",
}

FIRST_WINDOW = """
import json, sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget
from gui.app import make_application
from gui.lazy import LazyWidget, pending_after_paint
from gui.main_window import LazyTab, MainWindow
app = make_application([])
window = MainWindow()  # restores the last tab from the settings, as at start-up
assert window.tabs.currentWidget().tab_id == {tab!r}
first = {{}}

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        # The first frame: what is loaded and what waits while the window paints it.
        if not first and event.type() == QEvent.Type.Paint and isinstance(obj, QWidget) \
                and obj.window() is window:
            first["modules"] = sorted(sys.modules)
            first["after_paint"] = [type(w.parentWidget()).__name__
                                    for w in pending_after_paint(window)]
        return False

watch = FirstPaint()
app.installEventFilter(watch)
window.show()
deadline = time.monotonic() + 30
while (not first or pending_after_paint(window)) and time.monotonic() < deadline:
    app.processEvents()
app.removeEventFilter(watch)
hidden_built = [type(w.created).__name__ for w in window.findChildren(LazyWidget)
                if not isinstance(w, LazyTab) and not w.after_paint and w.created is not None]
tab = window.current_tab()
plots = getattr(tab, "plots", None)
complete = {{
    "pending": len(pending_after_paint(window)),
    "plots_shown": None if plots is None else (
        plots.built and plots.loss.plot_widget.isVisible()
        and plots.accuracy.plot_widget.isVisible()),
}}
print(json.dumps({{**first, "modules_complete": sorted(sys.modules),
                  "hidden_built": hidden_built, "complete": complete}}))
window.close()
"""


def _first_window(tab: str, config_home: Path) -> dict:
    """With ``tab`` as the last-used tab: the modules loaded when the first frame is
    painted and what then waits for that paint (``gui.lazy``'s ``after_paint``), the
    modules once the tab is complete, which of its build-on-first-show pages and panels
    were built, and whether the plots of a training tab are shown."""
    settings = config_home / tab / "backprop-explorer" / "backprop-explorer.conf"
    settings.parent.mkdir(parents=True)
    settings.write_text(f"[window]\ntab={tab}\n")
    result = subprocess.run(
        [sys.executable, "-c", FIRST_WINDOW.format(tab=tab)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_CONFIG_HOME": str(config_home / tab),
            "XDG_STATE_HOME": str(config_home / "state"),
        },
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _loaded(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.fixture(scope="module")
def first_windows(tmp_path_factory) -> dict[str, dict]:
    home = tmp_path_factory.mktemp("config")
    return {tab: _first_window(tab, home) for tab in TAB_PACKAGES}


@pytest.fixture(scope="module")
def first_modules(first_windows) -> dict[str, set[str]]:
    return {tab: set(first["modules"]) for tab, first in first_windows.items()}


@pytest.fixture(scope="module")
def complete_modules(first_windows) -> dict[str, set[str]]:
    return {tab: set(first["modules_complete"]) for tab, first in first_windows.items()}


@pytest.mark.parametrize("tab", list(TAB_PACKAGES))
def test_the_first_window_imports_no_other_tab(first_modules, tab):
    others = [p for t, p in TAB_PACKAGES.items() if t != tab]
    assert _loaded(first_modules[tab], *others) == []
    assert _loaded(first_modules[tab], TAB_PACKAGES[tab])  # the check can fail


@pytest.mark.parametrize("tab", list(TAB_PACKAGES))
def test_the_first_window_loads_no_heavy_library(first_modules, complete_modules, tab):
    # Each of these costs 0.1-2 s to import (cuda.bindings: through pyqtgraph's
    # RawImageWidget, which the app never uses); they load when a feature needs them,
    # not for the first frame nor for the plots that follow it.
    heavy = ["torch", "torchvision", "matplotlib", "optuna", "captum", "tensorboard", "scipy"]
    heavy += ["psycopg", "cuda.bindings", "pandas", "sqlalchemy"]
    assert _loaded(first_modules[tab], *heavy) == []
    assert _loaded(complete_modules[tab], *heavy) == []


@pytest.mark.parametrize("tab", ["mlp", "cnn"])
def test_a_restored_training_tab_paints_its_first_frame_before_its_plots(
    first_windows, first_modules, complete_modules, tab
):
    # pyqtgraph costs about 0.2 s of CPU: the window is on screen first, the plots follow.
    assert _loaded(first_modules[tab], "pyqtgraph", "gui.training.plots") == []
    assert first_windows[tab]["after_paint"] == ["TrainingPlots"]
    assert "gui.training.plots" in complete_modules[tab]


@pytest.mark.parametrize("tab", list(TAB_PACKAGES))
def test_the_restored_tab_is_complete_right_after_start_up(first_windows, tab):
    complete = first_windows[tab]["complete"]
    assert complete["pending"] == 0
    assert complete["plots_shown"] is (True if tab in ("mlp", "cnn") else None)


def test_the_graph_tab_starts_without_plots_numpy_or_networkx(first_modules):
    # The loss surface (pyqtgraph) is built when first shown, the gradient check loads
    # numpy when it runs; the graph's topology is graph.digraph, not networkx.
    modules = first_modules["graph"]
    assert _loaded(modules, "pyqtgraph", "numpy", "networkx", "gui.training") == []
    assert "gui.graph_tab.surface_panel" not in modules
    assert "graph.model" in modules


def test_the_classify_tab_starts_without_plots(first_modules):
    assert _loaded(first_modules["classify"], "pyqtgraph", "gui.training", "networkx") == []


def test_hidden_pages_of_the_training_tabs_are_not_built(first_windows, first_modules):
    # Network graph, Search and Inspect are built (and their modules imported) when
    # their page is first shown.
    for tab in TAB_PACKAGES:
        assert first_windows[tab]["hidden_built"] == [], tab
    assert "gui.mlp_tab.network_graph.page" not in first_modules["mlp"]
    assert _loaded(first_modules["mlp"], "gui.graph_tab", "graph.evaluate") == []
    for tab in ("mlp", "cnn"):
        assert _loaded(first_modules[tab], "gui.training.search", "gui.training.search_views") == []
    assert _loaded(first_modules["cnn"], "gui.cnn_tab.inspect_view", "gui.cnn_tab.dream_view") == []


@pytest.mark.parametrize("tab", list(TAB_PACKAGES))
def test_the_first_frame_of_a_tab_needs_no_numpy(first_modules, complete_modules, tab):
    # numpy costs 60-100 ms to import; the first frame shows forms and empty views only,
    # and the data probe (nets.data, in a worker thread meanwhile) looks at files only.
    # The trainers, the internals recorder and the lr finder wait for the first run; the
    # Classify tab's pictures, jobs and attribution methods for the first photo.
    later = ["numpy", "nets.internals", "nets.lr_find", "nets.cnn.train", "nets.mlp.train"]
    later += ["gui.cnn_tab.inspect_view", "PIL", "nets.images", "nets.pretrained.classify"]
    assert _loaded(first_modules[tab], *later) == []
    if tab in ("mlp", "cnn"):  # the plots built right after the first frame bring it
        assert "numpy" in complete_modules[tab]
    if tab == "classify":  # the tab is complete at its first frame: nothing follows it
        assert "gui.classify_tab.jobs" in first_modules[tab]
        assert "numpy" not in complete_modules[tab]
