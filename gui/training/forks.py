"""Snapshots and forks in the training tabs (both trainers, through ``TrainingTab``).

Every run the tab starts keeps a ``nets.snapshots.SnapshotStore`` (``new_store``):
the trainer yields a snapshot at each epoch's end and ``nets.snapshots.kept`` stores it
in the training thread (older ones spill to a temporary folder of the run).

``SnapshotTimeline`` is the strip under the plots: one mark per epoch snapshot of the
selected run; a click there (or on an epoch of the accuracy plot) selects it, "Latest"
goes back to the run's current model. The selection shows as a vertical line on both
plots and is published as ``TrainingTab.snapshot_selected(run_id, step)`` (step -1: none)
with ``TrainingTab.selected_snapshot()``; the tab's own views follow it through its
``show_snapshot`` hook, the Inside view jumps to the step.

"Fork from here…" puts the snapshot's settings into the tab's form (``fill_settings``)
and arms the next Start: the new run goes on from the snapshot (the tab passes
``pending_fork()`` to its trainer) and its curves start at the parent's point, so they
draw as a branch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QWidget

from gui.throttle import Throttle
from gui.training.runs import Run
from nets.snapshots import DEFAULT_BUDGET, SnapshotInfo, SnapshotPlan, SnapshotStore
from nets.training import Snapshot

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class PendingFork:
    """What the next Start forks: ``snapshot`` of the run ``parent_id``."""

    parent_id: int
    parent_name: str
    snapshot: Snapshot


class _Strip(QWidget):
    """The painted marks: one per epoch snapshot; emits ``clicked(step)``."""

    clicked = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[int, int]] = []  # (epoch, step)
        self.selected = -1
        self.color = QColor("#0072B2")
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:
        return QSize(300, 22)

    def _xs(self) -> np.ndarray:
        """Where each mark sits: by its epoch, so a fork's later epochs line up (one
        pass: a long run has thousands of marks, and a paint per mark each looking for
        the last epoch made a repaint quadratic)."""
        import numpy as np

        if not self.marks:
            return np.empty(0)
        epochs = np.fromiter((e for e, _ in self.marks), dtype=np.float64, count=len(self.marks))
        last = max(float(epochs.max()), 1.0)
        return 10 + (self.width() - 20) * (epochs - 0.5) / last

    def _x(self, i: int) -> float:
        """Where mark ``i`` sits."""
        return float(self._xs()[i])

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        mid = self.height() / 2
        p.setPen(QPen(QColor("#999"), 1))
        p.drawLine(QPointF(6, mid), QPointF(self.width() - 6, mid))
        n = len(self.marks)
        if not n:  # no numpy for an empty strip (a training tab's first frame)
            p.end()
            return
        label_every = max(1, math.ceil(n * 28 / max(self.width(), 1)))
        xs = self._xs()
        drawn_at = -1.0e9
        for i, (epoch, step) in enumerate(self.marks):
            x = float(xs[i])
            chosen = step == self.selected
            if not chosen and x - drawn_at < 2.0:
                continue  # marks closer than 2 px would overdraw each other
            drawn_at = x
            p.setPen(QPen(self.color, 1.5))
            p.setBrush(self.color if chosen else QColor("white"))
            r = 6.0 if chosen else 4.0
            p.drawEllipse(QRectF(x - r, mid - r, 2 * r, 2 * r))
            if chosen or (epoch % label_every == 0 and n < 200):
                p.setPen(QColor("#333"))
                p.drawText(QRectF(x + 6, 0, 40, mid), Qt.AlignmentFlag.AlignLeft, str(epoch))
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        import numpy as np

        if not self.marks:
            return
        x = event.position().x()
        i = int(np.argmin(np.abs(self._xs() - x)))
        self.clicked.emit(self.marks[i][1])


class SnapshotTimeline(QWidget):
    """ "Snapshots: o-o-o-o [Latest] [Fork from here…]" under the plots."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("snapshotTimeline")
        self.label = QLabel("Epoch snapshots:")
        self.strip = _Strip()
        self.latest_button = QPushButton("Latest")
        self.latest_button.setToolTip("Show the run's current model in every view again")
        self.fork_button = QPushButton("Fork from here…")
        self.fork_button.setObjectName("forkButton")
        self.fork_button.setToolTip(
            "Start a new run from the selected epoch's snapshot (weights, optimizer state, "
            "batch order): the settings go into the form for you to change, Start runs it"
        )
        self.info = QLabel()
        self.info.setStyleSheet("color: #555")
        self.every_spin = QSpinBox()
        self.every_spin.setRange(0, 1_000_000)
        self.every_spin.setSpecialValueText("epochs only")
        self.every_spin.setPrefix("also every ")
        self.every_spin.setSuffix(" steps")
        self.every_spin.setToolTip(
            "Runs started from now on also keep a snapshot every N steps (a click on the "
            "loss plot selects the nearest one); 0: only at every epoch's end"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.every_spin)
        layout.addWidget(self.latest_button)
        layout.addWidget(self.fork_button)
        self.set_marks([], -1, "")

    def set_marks(self, marks: list[tuple[int, int]], selected: int, info: str) -> None:
        self.strip.marks = marks
        self.strip.selected = selected
        self.strip.update()
        self.info.setText(info)
        self.latest_button.setEnabled(selected >= 0)
        self.fork_button.setEnabled(selected >= 0)


class SnapshotControl(QObject):
    """The timeline's logic for one ``TrainingTab`` (see the module docstring).

    ``plan_changed()``: the snapshots a run started now would take changed (its tab's
    memory estimate counts them)."""

    plan_changed = Signal()

    def __init__(self, tab: Any) -> None:
        super().__init__(tab)
        self.tab = tab
        self.timeline = SnapshotTimeline()
        self.banner = QWidget()
        self.banner_label = QLabel()
        self.banner_label.setObjectName("forkBanner")
        self.banner_label.setWordWrap(True)
        cancel = QPushButton("Cancel fork")
        cancel.clicked.connect(self.cancel_fork)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.banner_label, 1)
        row.addWidget(cancel)
        self.banner.setStyleSheet("QWidget { background: #fff4d6; }")
        self.banner.hide()
        self._run_id = 0
        self._step = -1
        self._pending: PendingFork | None = None
        self._stores: dict[int, SnapshotStore] = {}
        # The selected snapshot as read: one on disk (spilled, or opened from files) is a
        # file read, and one selection asks for it several times (the tab's views, the
        # Network graph page, Fork from here).
        self._read: tuple[tuple[int, int], Snapshot] | None = None
        self._lines: dict[str, Any] = {}  # pg.InfiniteLine by plot, once the plots exist
        tab.plots.when_built(self._attach_plots)
        self.timeline.strip.clicked.connect(lambda step: self.select(self._run_id, step))
        self.timeline.latest_button.clicked.connect(lambda: self.select(self._run_id, -1))
        self.timeline.fork_button.clicked.connect(self.fork_from_selected)
        self.timeline.every_spin.valueChanged.connect(lambda _v: self.plan_changed.emit())
        tab.runs.run_removed.connect(self._on_run_removed)
        # A snapshot comes every epoch, thousands a second on tiny data: the timeline
        # follows on a timer, not per event (each refresh lists the whole store).
        self._refresh_throttle = Throttle(self._refresh, 250, self)
        tab.training_done.connect(lambda *_: self._refresh_throttle.flush())
        tab.add_listener(self._on_event)

    # -- stores ----------------------------------------------------------------------
    def plan(self) -> SnapshotPlan:
        """When a run started now takes snapshots (the timeline's "every N steps") and
        how many bytes of them its store keeps in memory."""
        return SnapshotPlan(int(self.timeline.every_spin.value()), DEFAULT_BUDGET)

    def new_store(self, run_id: int) -> SnapshotStore:
        """The store of a run about to train (closed when the run is deleted), with the
        memory budget its trainer's estimate counted."""
        store = self._stores[run_id] = SnapshotStore(self.plan().memory_budget)
        return store

    def adopt(self, run_id: int, infos: Sequence[SnapshotInfo]) -> None:
        """A run opened from snapshot files: its timeline is those files, read (never
        moved) when selected."""
        store = self._stores[run_id] = SnapshotStore(0)
        for info in infos:
            store.adopt(info)
        if run_id == self._run_id:
            self._refresh()

    def store_of(self, run: Run | None) -> SnapshotStore | None:
        return self._stores.get(run.run_id) if run is not None else None

    def snapshots_of(self, run_id: int) -> list[tuple[int, int]]:
        """``(epoch, step)`` of the run's epoch snapshots, in order."""
        store = self._stores.get(run_id)
        if store is None:
            return []
        return [(epoch, step) for step, epoch, end in store.steps() if end]

    # -- selection -------------------------------------------------------------------
    def selected(self) -> Snapshot | None:
        """The selected snapshot (None: the latest model), read once per selection."""
        if self._step < 0:
            return None
        key = (self._run_id, self._step)
        if self._read is not None and self._read[0] == key:
            return self._read[1]
        store = self.store_of(self.tab.runs.run(self._run_id))
        snapshot = store.get(self._step) if store is not None else None
        self._read = (key, snapshot) if snapshot is not None else None
        return snapshot

    def selected_run_id(self) -> int:
        return self._run_id

    def follow_run(self, run_id: int) -> None:
        """The runs list selected another run: its timeline, nothing selected."""
        changed = run_id != self._run_id
        self._run_id = run_id
        if changed and self._step >= 0:
            self._step = -1
            self._emit()
        self._refresh()

    def select(self, run_id: int, step: int) -> None:
        """Select the snapshot after ``step`` of run ``run_id`` (-1: the latest model)."""
        store = self.store_of(self.tab.runs.run(run_id))
        if step >= 0 and (store is None or all(s != step for s, _, _ in store.steps())):
            return
        if run_id != self.tab.selected_run_id():
            self.tab.runs_view.select_run(run_id)
        self._run_id = run_id
        if step == self._step:
            return
        self._step = step
        self._refresh()
        self._emit()

    def _emit(self) -> None:
        run = self.tab.runs.run(self._run_id)
        self.tab.show_snapshot(run, self.selected() if run is not None else None)
        self.tab.snapshot_selected.emit(self._run_id, self._step)

    def _refresh(self) -> None:
        run = self.tab.runs.run(self._run_id)
        marks = self.snapshots_of(self._run_id)
        if run is not None:
            self.timeline.strip.color = QColor(run.color)
        info = ""
        if self._step >= 0:
            epoch = next((e for e, s in marks if s == self._step), None)
            info = f"epoch {epoch} (step {self._step:,})" if epoch else f"step {self._step:,}"
        elif marks:
            info = "latest"
        self.timeline.set_marks(marks, self._step, info)
        self._place_lines()

    def _attach_plots(self) -> None:
        """The selected snapshot's line on both plots, and their clicks (the plots are
        built after the tab's first paint, ``gui.training.plot_pair``)."""
        import pyqtgraph as pg

        plots = {"loss": self.tab.plots.loss, "accuracy": self.tab.plots.accuracy}
        pen = pg.mkPen(QColor("#444"), width=1.5, style=Qt.PenStyle.DashDotLine)
        for key, plot in plots.items():
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen)
            line.setZValue(950)
            line.hide()
            plot.plot_item.addItem(line, ignoreBounds=True)
            self._lines[key] = line
            scene = plot.plot_item.scene()
            if scene is not None:
                scene.sigMouseClicked.connect(lambda ev, p=plot: self._on_plot_click(p, ev))
        plots["accuracy"].x_combo.currentIndexChanged.connect(lambda _i: self._place_lines())
        self._place_lines()

    def _place_lines(self) -> None:
        if not self._lines:
            return
        run = self.tab.runs.run(self._run_id)
        if self._step < 0 or run is None:
            for line in self._lines.values():
                line.hide()
            return
        self._lines["loss"].setPos(self._step)
        state = run.payload.started if run.payload is not None else None
        spe = getattr(state, "steps_per_epoch", 0) or 1
        on_epochs = self.tab.plots.accuracy.x_axis == "epoch"
        self._lines["accuracy"].setPos(self._step / spe if on_epochs else self._step)
        for line in self._lines.values():
            line.show()

    def _on_plot_click(self, plot: Any, event: Any) -> None:
        """An epoch of the accuracy plot selects its snapshot; a step of the loss plot
        the nearest snapshot of any kind."""
        item = plot.plot_item
        if not item.sceneBoundingRect().contains(event.scenePos()):
            return
        store = self._stores.get(self._run_id)
        if store is None or not store.steps():
            return
        x = item.vb.mapSceneToView(event.scenePos()).x()
        if plot is self.tab.plots.accuracy:
            on_epochs = plot.x_axis == "epoch"
            points = [(e if on_epochs else s, s) for e, s in self.snapshots_of(self._run_id)]
        else:
            points = [(s, s) for s, _, _ in store.steps()]
        if points:
            self.select(self._run_id, min(points, key=lambda p: abs(p[0] - x))[1])

    # -- events ----------------------------------------------------------------------
    def _on_event(self, run: Run, event: Any) -> None:
        if isinstance(event, Snapshot) and run.run_id == self._run_id:
            self._refresh_throttle.request()

    def _on_run_removed(self, run_id: int) -> None:
        if self._read is not None and self._read[0][0] == run_id:
            self._read = None
        store = self._stores.pop(run_id, None)
        if store is not None:
            store.close()
        if self._pending is not None and self._pending.parent_id == run_id:
            self.cancel_fork()
        if run_id == self._run_id:
            self._step = -1
            self._run_id = 0
            self._refresh()

    # -- forks -----------------------------------------------------------------------
    def fork_from_selected(self) -> None:
        snapshot = self.selected()
        run = self.tab.runs.run(self._run_id)
        if snapshot is None or run is None:
            return
        self._pending = PendingFork(run.run_id, run.name, snapshot)
        self.tab.fill_settings(snapshot.config)
        self.banner_label.setText(
            f"<b>Start forks {run.name} at epoch {snapshot.epoch}</b> (step "
            f"{snapshot.step:,}) with the settings in the form: change any of them first "
            "(not the network or its data)."
        )
        self.banner.show()
        self.tab.say(
            f"Fork of {run.name} at epoch {snapshot.epoch}: the form holds its settings; "
            "press Start."
        )

    def pending_fork(self) -> PendingFork | None:
        return self._pending

    def cancel_fork(self) -> None:
        self._pending = None
        self.banner.hide()

    def start_branch(self, run: Run, fork: PendingFork) -> None:
        """A forked run starts: its curves begin at the parent's point of the fork."""
        import numpy as np

        self.cancel_fork()
        parent = self.tab.runs.run(fork.parent_id)
        if parent is None:
            return
        m, step = parent.metrics, fork.snapshot.step
        hits = np.flatnonzero(m.step_x.view() == step)
        if hits.size:
            i = int(hits[0])
            run.metrics.add_step(float(step), float(m.loss.view()[i]), float(m.lr.view()[i]))
        ends = np.flatnonzero(m.epoch_iter.view() == step)
        if ends.size:
            i = int(ends[-1])
            run.metrics.add_epoch(
                float(m.epoch.view()[i]),
                float(m.train_acc.view()[i]),
                float(m.val_acc.view()[i]),
                iteration=float(step),
            )

    def shutdown(self) -> None:
        for store in self._stores.values():
            store.close()
        self._stores.clear()
