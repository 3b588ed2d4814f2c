"""Graph tab, files: open-edit-save-reopen, program import, save failures (issue 9 case 6),
the unsaved-changes prompt and crash recovery (issue 9 case 7), examples, exports, drops."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from graph import fileformat
from graph.examples import build_example
from gui.graph_tab import autosave
from gui.graph_tab.tab import GraphTab
from gui.main_window import MainWindow
from tests.gui import test_graph_tab_support as support
from tests.gui.test_graph_tab_support import (
    answer_questions,
    drag,
    drop_op,
    grid,
    node_center,
    rename,
    same_structure,
)

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def f3_file(tmp_path) -> Path:
    path = tmp_path / "f3.json"
    fileformat.save(build_example("f3"), path)
    return path


def test_open_edit_save_reopen_gives_the_same_graph_with_positions(tab, window, f3_file):
    assert window.open_paths([f3_file])
    assert tab.document.path == f3_file and not tab.document.modified
    drag(tab, node_center(tab, "p2"), node_center(tab, "p2") + QPointF(30, 90))
    rename(tab, "log_p", "logp")
    table = tab.inputs_panel.table
    QApplication.processEvents()
    table.item(tab.inputs_panel.row_of(tab.graph.id_of("s2")), 2).setText("0.5")
    assert tab.document.modified and tab.title_label.text().endswith("•")
    edited = tab.graph.copy()

    tab.save_action.trigger()
    assert not tab.document.modified
    assert fileformat.load(f3_file).same_as(edited)

    tab.new_action.trigger()
    assert len(tab.graph) == 0
    assert tab.open_file(f3_file)
    assert tab.graph.same_as(edited)  # names, values, edges, output and positions
    for node_id, item in tab.scene.nodes.items():
        assert (item.pos().x(), item.pos().y()) == tab.graph.node(node_id).pos
    assert str(f3_file.resolve()) in [str(p) for p in tab.document.recent_files()]


def test_program_import_shows_syntax_error_and_keeps_the_graph(tab, f3_file):
    tab.open_file(f3_file)
    before = tab.graph.copy()
    tab.program_action.trigger()
    dialog = tab._program
    dialog.set_source("a = Value(2.0)\nb = a *\nc = b\n")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible()
    assert dialog.error.isVisible() and dialog.error.text().startswith("line 2, col ")
    assert dialog.last_error.line == 2
    assert dialog.editor.textCursor().blockNumber() == 1  # the cursor sits on the error
    assert tab.graph.same_as(before)

    dialog.set_source("a = Value(2.0)\nb = Value(-3.0)\nc = (a * b).relu()\nL = c.tanh()\n")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert not dialog.isVisible()
    assert {n.name for n in tab.graph.nodes()} >= {"a", "b", "c", "L"}
    assert tab.document.path is None and tab.document.modified


def test_micrograd_example_builds_and_runs(tab):
    from gui.graph_tab.program_dialog import EXAMPLES

    dialog = tab.program_dialog()
    dialog.set_source(EXAMPLES["micrograd README"])
    assert dialog.build() is not None
    tab.steps.run_all()
    out = tab.scene.nodes[tab.graph.output_id].display.value
    assert out == "24.7"  # micrograd's README prints 24.7041 for g


def test_save_failure_with_no_space_keeps_the_old_file(tab, f3_file, errors, monkeypatch):
    tab.open_file(f3_file)
    old = f3_file.read_bytes()
    rename(tab, "p", "prob")

    def full(f, data):
        f.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileformat, "_write_all", full)
    tab.save_action.trigger()
    assert errors and "no space left" in errors[-1][1]
    assert f3_file.read_bytes() == old
    assert tab.document.modified  # the edit is still there, unsaved
    assert not list(f3_file.parent.glob(".f3.json.*"))  # no temporary file left


def test_save_to_a_read_only_file_is_refused_clearly(tab, f3_file, errors):
    tab.open_file(f3_file)
    old = f3_file.read_bytes()
    rename(tab, "p", "prob")
    f3_file.chmod(0o444)
    try:
        assert not tab.document.save()
    finally:
        f3_file.chmod(0o644)
    assert "read-only" in errors[-1][1]
    assert f3_file.read_bytes() == old


def test_broken_file_is_refused_and_the_graph_stays(tab, tmp_path, errors):
    tab.open_example("f1")
    before = tab.graph.copy()
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "backprop-explorer-graph", "version": 1, "nodes": [{"id": 3}], "edges": []}'
    )
    assert not tab.open_file(bad)
    assert "nodes[0]" in errors[-1][1]
    assert tab.graph.same_as(before)


def test_unsaved_changes_prompt_before_losing_edits(tab, window, monkeypatch, tmp_path):
    drop_op(tab, "input", grid(0, 0))
    asked = answer_questions(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert not tab.new_graph()
    assert len(tab.graph) == 1 and len(asked) == 1 and "unsaved changes" in asked[0]
    window.close()
    assert window.isVisible()  # Cancel keeps the window open

    target = tmp_path / "kept.json"
    monkeypatch.setattr(tab.document, "ask_save_path", lambda: target)
    asked = answer_questions(monkeypatch, QMessageBox.StandardButton.Save)
    assert tab.open_example("f2")
    assert fileformat.load(target).nodes()[0].op == "input"  # saved before replacing
    assert same_structure(tab.graph, build_example("f2"))

    drop_op(tab, "exp", grid(3, 3))
    answer_questions(monkeypatch, QMessageBox.StandardButton.Discard)
    assert tab.can_close()


def _write_crash_leftovers(folder: Path, graph, pid: int, original: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fileformat.save(graph, folder / f"graph-autosave-{pid}.json")
    (folder / f"graph-session-{pid}.json").write_text(json.dumps({"pid": pid, "path": original}))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_autosave_restore_is_offered_after_a_crash(qtbot, state_dir, errors):
    graph = build_example("f4")
    pid = _dead_pid()
    _write_crash_leftovers(state_dir, graph, pid, "/somewhere/f4.json")
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    tab = win.select_tab("graph")
    assert tab.banner.isVisibleTo(tab) and "f4.json" in tab.banner.label.text()
    tab.banner.restore_button.click()
    assert tab.graph.same_as(graph)
    assert tab.document.modified and tab.document.path == Path("/somewhere/f4.json")
    assert not tab.banner.isVisibleTo(tab)
    assert not (state_dir / f"graph-autosave-{pid}.json").exists()
    tab.document._modified_extra = False
    win.close()


def test_autosave_writes_while_dirty_and_a_clean_exit_leaves_nothing(qtbot, state_dir):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    tab = win.select_tab("graph")
    assert tab.autosaver.marker.exists()
    assert not tab.banner.isVisibleTo(tab)  # a running session is not a crash
    tab.editor.add_node("input", (0.0, 0.0), "x", 3.0)
    assert tab.autosaver.tick()
    saved = fileformat.load(tab.autosaver.autosave)
    assert saved.same_as(tab.graph)
    assert not tab.autosaver.tick()  # nothing new to write
    tab.stack.setClean()
    tab.autosaver.tick()
    assert not tab.autosaver.autosave.exists()  # saved work needs no autosave
    win.close()
    assert not list(state_dir.glob("graph-*"))


@pytest.mark.slow
def test_killed_app_process_offers_restore_on_next_start(qtbot, state_dir, tmp_path):
    """The real thing: an app process with an unsaved edit is killed with SIGKILL."""
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from gui.app import make_application\n"
        "from gui.main_window import MainWindow\n"
        "app = make_application([])\n"
        "w = MainWindow(remember=False)\n"
        "tab = w.select_tab('graph')\n"
        "tab.editor.add_node('input', (0.0, 0.0), 'survivor', 42.0)\n"
        "assert tab.autosaver.tick()\n"
        "print('autosaved', flush=True)\n"
        "app.exec()\n"
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "autosaved"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    crashed_dir = tmp_path / "xdg-state" / autosave.APP_NAME
    assert list(crashed_dir.glob("graph-session-*.json"))  # the killed session's marker

    # Next start, in this process: point the autosave folder at the killed app's.
    autosave_dir = crashed_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    for item in autosave_dir.iterdir():
        item.rename(state_dir / item.name)
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    tab = win.select_tab("graph")
    assert isinstance(tab, GraphTab)
    assert tab.banner.isVisibleTo(tab)
    tab.restore_crashed()
    assert tab.graph.node(tab.graph.id_of("survivor")).value == 42.0
    tab.document._modified_extra = False
    win.close()


def test_examples_exports_and_dropped_files(tab, window, tmp_path, errors, qtbot):
    for name in ("f1", "f2", "f3", "f4"):
        assert tab.open_example(name)
        assert same_structure(tab.graph, build_example(name))
        assert tab.document.path is None  # Save never overwrites the built-in file
    tab.steps.run_all()
    for kind in ("png", "svg", "py", "dot"):
        target = tmp_path / f"out.{kind}"
        assert tab.export_to(kind, target), errors
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "out.svg").read_bytes()
    compile((tmp_path / "out.py").read_text(), "out.py", "exec")
    assert (tmp_path / "out.dot").read_text().startswith("digraph")

    program = tmp_path / "neuron.py"
    program.write_text("x = 2.0\nw = -3.0\nb = 1.0\nn = x*w + b\no = n.tanh()\n")
    assert tab.accepts_path(program) and not tab.accepts_path(tmp_path / "x.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(program))])
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)  # the window opens dropped files once the drop is over
    qtbot.waitUntil(lambda: tab.graph.find("o") is not None, timeout=3000)
    assert tab.graph.find("o") is not None


_HEADER = '{"format": "backprop-explorer-graph", "version": 1, '
BAD_FILES = {
    "empty": b"",
    "truncated": _HEADER.encode()[:30],
    "not_utf8": b"\xff\xfe\x00{",
    "not_json": b"hello, graph",
    "nan_literal": (
        _HEADER + '"nodes": [{"id": "n1", "name": "x", "op": "input", "value": NaN}], "edges": []}'
    ).encode(),
    "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
    "huge_number": (
        _HEADER
        + '"nodes": [{"id": "n1", "name": "x", "op": "input", "value": '
        + "9" * 5000
        + '}], "edges": []}'
    ).encode(),
    "unknown_op": (
        _HEADER + '"nodes": [{"id": "n1", "name": "x", "op": "frob"}], "edges": []}'
    ).encode(),
    "cycle": (
        _HEADER + '"nodes": [{"id": "a", "name": "a", "op": "neg"}, '
        '{"id": "b", "name": "b", "op": "neg"}], "edges": ['
        '{"from": "a", "to": "b", "port": "x"}, {"from": "b", "to": "a", "port": "x"}]}'
    ).encode(),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES) + ["200MB"])
def test_bad_graph_files_are_refused_and_the_graph_stays(tab, tmp_path, errors, kind):
    """Issue 9 cases 1 and 2, GUI side: a clear message, the open graph untouched."""
    tab.open_example("f2")
    before = tab.graph.copy()
    path = tmp_path / f"{kind}.json"
    if kind == "200MB":
        with open(path, "wb") as f:
            f.truncate(200 * 1024 * 1024)  # sparse: refused from its size, never read
    else:
        path.write_bytes(BAD_FILES[kind])
    assert not tab.open_file(path)
    assert errors and errors[-1][0] == "Cannot open the graph"
    assert "Traceback" not in errors[-1][1]
    assert tab.graph.same_as(before) and tab.document.path is None


def test_a_graph_larger_than_the_tab_draws_is_refused_at_once(tab, tmp_path, errors, monkeypatch):
    from gui.graph_tab import document as document_mod

    big = tmp_path / "big.py"
    big.write_text("\n".join(f"x{i} = {i}.0" for i in range(200_000)) + "\ns = x0 + x1\n")

    def never(*_a, **_k):
        raise AssertionError("refused from a count, before parsing or building")

    monkeypatch.setattr(document_mod.fileformat, "load_any", never)
    before = tab.graph.copy() if hasattr(tab.graph, "copy") else None
    assert tab.document.open(big) is False
    assert errors[-1][0] == "Graph too large for the tab"
    assert "200,001 nodes; the Graph tab draws at most 5,000" in errors[-1][1]
    if before is not None:
        assert tab.graph.same_as(before)
