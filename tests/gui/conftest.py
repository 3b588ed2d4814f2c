"""Qt set-up for the GUI tests only (tests/graph and tests/nets never import Qt)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _garbage_collected_in_the_gui_thread(qapp):
    """As in the app: cyclic GC runs only in the GUI thread (see gui/gc_guard.py).

    Otherwise a worker thread can free a leftover widget of an earlier test and deadlock
    with the GUI thread.
    """
    from gui.gc_guard import MainThreadGarbageCollector

    collector = MainThreadGarbageCollector(parent=qapp)
    yield collector
    collector.stop()


@pytest.fixture(autouse=True)
def _collect_after_each_test(_garbage_collected_in_the_gui_thread):
    yield
    # Only what is due: a full collection costs ~150 ms once torch is loaded.
    _garbage_collected_in_the_gui_thread.collect_due()


@pytest.fixture
def context(tmp_path):
    """An ``AppContext`` with its own settings file and worker registry (for a tab or
    panel built without the main window)."""
    from PySide6.QtCore import QSettings

    from gui.tab_base import AppContext
    from gui.worker import WorkerRegistry

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    registry = WorkerRegistry()
    yield AppContext(workers=registry, settings=settings)
    registry.shutdown()


@pytest.fixture
def shown_run_view(qtbot):
    """Builds a widget that draws a runs model (``view_class(runs, interval_ms=10_000)``,
    its timer too slow to tick in a test), shows it at ``size`` and adds one run:
    ``build(view_class, size, name) -> (view, runs, run)``."""
    from gui.training.runs import RunsModel

    def build(view_class, size: tuple[int, int] = (800, 300), name: str = "run 1"):
        runs = RunsModel()
        view = view_class(runs, interval_ms=10_000)
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        return view, runs, runs.add_run(name, {})

    return build
