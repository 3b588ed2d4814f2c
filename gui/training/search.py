"""The Search page of a training tab: an Optuna study of the tab's own run form.

``install(tab, kind, labels, base)`` adds a "Search" page beside the training view
(``tab.add_page``) for either tab. ``base()`` returns a ``SearchBase`` (the data, the
run form's configuration, the CNN's layers) or a string saying why no search can start.

Start creates (or reopens) the study named in the form, in a file under the user's data
folder or the database its storage URL names, and starts the workers: separate
processes (``nets.search.pool``) with one thread each, started from the GUI thread so
that they outlive no part of the app. The GUI thread never touches the storage (a
remote database may take seconds to answer): a watch (``nets.search.watch`` in a
``gui.worker`` thread) opens the study, reads its trials once a second and sends each
read as a signal to the views (``gui.training.search_views``); a timer only checks that
the worker processes are alive. Attach watches a study that other processes or machines
run, without starting any. Selecting trials overlays their
learning curves in the tab's main plots; "Train this one" puts a trial's settings into
the run form (through the tab's ``_apply_suggestion``) for the normal run flow, where
"test once" applies as to any run. Cancel stops every worker (SIGTERM, then SIGKILL
after a grace period) without blocking the window; closing the window stops them too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.training.search_form import SearchForm
from gui.training.search_views import (
    BestCurve,
    ImportanceBars,
    ParallelCoordinates,
    ParamScatter,
    TrialsTable,
)
from nets.errors import NetsError
from nets.search.space import SearchSpace, space_from_json
from nets.search.storage import TrialRow, is_url

#: Seconds between two reads of the study, and between two importance computations.
POLL_SECONDS = 1.0
IMPORTANCE_SECONDS = 5.0
_OVERLAY_COLORS = ("#e377c2", "#17becf", "#bcbd22", "#8c564b", "#9467bd", "#ff7f0e")


@dataclass(frozen=True)
class SearchBase:
    """What every trial starts from: ``config`` is the tab's trainer configuration."""

    data: str
    config: Any
    arch: dict[str, Any] | None = None
    fit_classes: bool = False
    num_val: int | None = None
    split_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class SearchPanel(QWidget):
    """Signals ``trials_changed()`` after each read that changed the trials, and
    ``search_done(str)`` when the workers have all ended (the status line's text)."""

    trials_changed = Signal()
    search_done = Signal(str)

    def __init__(
        self,
        tab: Any,
        kind: str,
        labels: dict[str, str],
        base: Callable[[], SearchBase | str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"{kind}Search")
        self.tab = tab
        self.kind = kind
        self.base = base
        self.pool: Any = None
        self.space: SearchSpace = ()
        self.rows: list[TrialRow] = []
        self._signature: tuple = ()
        self._terminated_at: float | None = None
        # "" (idle), opening, searching, finishing (the last read), attaching, watching
        self._phase = ""
        self._watch: Any = None  # the GeneratorWorker running nets.search.watch
        self._requests: Any = None
        self._final_request = 0
        self._job: Any = None
        self._workers = self._trials = 0
        self._where = ""
        self._errors: list[str] = []
        self._cancelled = False
        self._overlays: list[pg.PlotDataItem] = []

        self.form = SearchForm(kind, labels)
        self.start_button = QPushButton("Start search")
        self.start_button.setObjectName("searchStart")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("searchCancel")
        self.cancel_button.setEnabled(False)
        self.attach_button = QPushButton("Attach")
        self.attach_button.setObjectName("searchAttach")
        self.attach_button.setToolTip(
            "Watch the study named above (at the storage above) live, without starting "
            "workers here: another process or machine runs it"
        )
        self.train_button = QPushButton("Train this one")
        self.train_button.setObjectName("searchTrainThis")
        self.train_button.setToolTip("Put the selected trial's settings into the run form")
        self.train_button.setEnabled(False)
        self.clear_brush_button = QPushButton("Clear brushes")
        self.status = QLabel("Set the ranges, then Start.")
        self.status.setObjectName("searchStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = TrialsTable()
        self.table.trials.labels = dict(labels)
        self.best = BestCurve()
        self.parallel = ParallelCoordinates()
        self.scatter = ParamScatter()
        self.importance = ImportanceBars()
        self.views = QTabWidget()
        self.views.addTab(self.best, "Best so far")
        parallel_page = QWidget()
        pl = QVBoxLayout(parallel_page)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.parallel, 1)
        hint = QLabel("Drag a band on an axis (or its ends) to keep only the trials inside it.")
        row = QHBoxLayout()
        row.addWidget(hint, 1)
        row.addWidget(self.clear_brush_button)
        pl.addLayout(row)
        self.views.addTab(parallel_page, "Parallel coordinates")
        self.views.addTab(self.scatter, "Accuracy vs each")
        self.views.addTab(self.importance, "Importance")

        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.attach_button):
            buttons.addWidget(b)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 4, 0)
        ll.addWidget(self.form)
        ll.addLayout(buttons)
        ll.addWidget(self.status)
        ll.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(380)
        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.table, 1)
        trow = QHBoxLayout()
        trow.addWidget(QLabel("Select trials to overlay their curves on the training plots."))
        trow.addStretch(1)
        trow.addWidget(self.train_button)
        tl.addLayout(trow)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(table_box)
        right.addWidget(self.views)
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(scroll)
        main.addWidget(right)
        main.setStretchFactor(1, 1)
        main.setSizes([420, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(main)

        self.timer = QTimer(self)
        self.timer.setInterval(int(POLL_SECONDS * 1000))
        self.timer.timeout.connect(self._check_workers)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.attach_button.clicked.connect(self.attach)
        self.train_button.clicked.connect(self.train_selected)
        self.clear_brush_button.clicked.connect(self.parallel.clear_bands)
        self.table.selection_changed.connect(self._on_selection)
        self.parallel.brushed.connect(self.table.proxy.set_keep)

    # -- starting and stopping -------------------------------------------------------
    def is_running(self) -> bool:
        """True from Start until the workers have ended and their last trials are read."""
        return self.pool is not None or self._phase in ("opening", "finishing")

    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("QLabel { color: #a61b1b; }" if error else "")

    def start(self) -> bool:
        """Open (or create) the study off the GUI thread, then start its workers; False
        (with the reason shown) when the form or the base is not usable."""
        from nets.search.objective import make_job
        from nets.search.storage import location_for, make_pruner, make_sampler, open_study

        if self.is_running():
            return False
        base = self.base()
        if isinstance(base, str):
            self.say(base, error=True)
            return False
        f = self.form
        try:
            space = f.space()
            name = f.study.text().strip()
            location = location_for(name, f.storage.text().strip() or None)
            budget = f.budget_seconds()
            job = make_job(
                self.kind,
                base.data,
                base.config,
                space,
                name,
                location,
                sampler=f.sampler.currentText(),
                pruner=f.pruner.currentText(),
                deadline=None if budget is None else time.time() + budget,
                num_val=base.num_val,
                split_seed=base.split_seed,
                arch=base.arch,
                extra={"fit_classes": base.fit_classes, **base.extra},
            )
        except NetsError as exc:
            self.say(str(exc), error=True)
            return False
        attrs = {"kind": self.kind, "data": base.data, "space": job.space, "base": job.base}

        def opener() -> Any:
            return open_study(
                name,
                location,
                sampler=make_sampler(job.sampler, space),
                pruner=make_pruner(job.pruner, job.epochs()),
                attrs=attrs,
            )

        self.space = space
        self._job, self._workers, self._trials = job, f.workers.value(), f.trials.value()
        self._where = "the database" if is_url(location) else "your data folder"
        self._phase = "opening"
        self._terminated_at = None
        self._set_running(True)
        self.say(f"Opening study {name!r}…")
        self._watch_study(opener)
        return True

    def attach(self) -> bool:
        """Watch the study named in the form without starting workers; False when the
        name is not usable (a study that is not there is said when the watch finds out)."""
        from nets.search.storage import location_for, open_study

        if self.is_running():
            return False
        try:
            name = self.form.study.text().strip()
            location = location_for(name, self.form.storage.text().strip() or None)
        except NetsError as exc:
            self.say(str(exc), error=True)
            return False
        self._phase = "attaching"
        self.say(f"Attaching to study {name!r}…")
        self._watch_study(lambda: open_study(name, location, create=False), check_orphans=True)
        return True

    def _watch_study(self, opener: Callable[[], Any], check_orphans: bool = False) -> None:
        """Replace the watch: every read of the storage happens in its worker thread."""
        from nets.search.watch import Requests, watch_study

        self._stop_watch()
        self.rows, self._signature, self._final_request = [], (), 0
        requests = self._requests = Requests()

        def factory(token: Any) -> Any:
            return watch_study(opener, token, requests, POLL_SECONDS, IMPORTANCE_SECONDS,
                               check_orphans=check_orphans)  # fmt: skip

        worker = self.tab.context.workers.start(factory, name=f"{self.kind}-search-watch")
        self._watch = worker
        worker.item.connect(lambda item, w=worker: self._on_watch_item(w, item))
        worker.failed.connect(lambda message, _tb, w=worker: self._on_watch_failed(w, message))
        worker.done.connect(lambda _status, w=worker: self._on_watch_done(w))

    def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()  # the registry waits for it when the window closes
            self._watch = None
        self._requests = None

    def cancel(self) -> None:
        """Stop every worker without waiting here: the timer finishes the job."""
        if self._phase == "opening":
            self._stop_watch()
            self._phase = ""
            self._set_running(False)
            self.say("Cancelled before the study opened: no worker was started.")
            self.search_done.emit(self.status.text())
            return
        if self.pool is None or self._terminated_at is not None:
            return
        self.pool.terminate()
        self._terminated_at = time.monotonic()
        self.cancel_button.setEnabled(False)
        self.say("Cancelling: stopping every worker…")

    def shutdown(self) -> None:
        """The window closes: stop and reap every worker (blocks up to a few seconds)."""
        self.timer.stop()
        self._stop_watch()
        self._phase = ""
        if self.pool is not None:
            self.pool.cancel()
            self.pool.close()
            self.pool = None

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.attach_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.form.setEnabled(not running)

    # -- the watch's items (GUI thread) ----------------------------------------------
    def _on_watch_item(self, worker: Any, item: Any) -> None:
        from nets.search.watch import StudyOpened, StudyRead, WatchFailed

        if worker is not self._watch:
            return  # a replaced watch's last items
        if isinstance(item, WatchFailed):
            self._watch_ended(item.message)
        elif isinstance(item, StudyOpened):
            self._on_opened(item)
        elif isinstance(item, StudyRead):
            self._on_read(item)

    def _on_watch_failed(self, worker: Any, message: str) -> None:
        if worker is self._watch:
            self._watch_ended(f"Cannot read the study: {message.splitlines()[0]}")

    def _on_watch_done(self, worker: Any) -> None:
        if worker is self._watch and self._phase in ("opening", "attaching"):
            self._watch_ended("The study could not be opened.")
        elif worker is self._watch and self._phase == "finishing":
            self._finish()

    def _watch_ended(self, message: str) -> None:
        """The watch cannot go on: say why; a search that had not started ends here."""
        self._stop_watch()
        if self._phase == "finishing":
            self._finish()
        elif self._phase == "opening":
            self._phase = ""
            self._set_running(False)
            self.say(message, error=True)
            self.search_done.emit(message)
        else:  # a running search goes on: its end is seen from the worker processes
            if self._phase in ("attaching", "watching"):
                self._phase = ""
            self.say(message, error=True)

    def _on_opened(self, item: Any) -> None:
        from nets.search.pool import WorkerPool

        kind = item.attrs.get("kind")
        if self._phase == "attaching":
            if kind not in (None, self.kind):
                self._watch_ended(f"study {item.name!r} searches the {kind} network, not this one")
                return
            space_json = item.attrs.get("space")
            try:
                self.space = space_from_json(space_json) if space_json else ()
            except NetsError as exc:
                self._watch_ended(str(exc))
                return
            if space_json:
                self.form.set_space(space_json)
            self._phase = "watching"
            self.say(f"Watching study {item.name!r}: its trials appear as its workers finish them.")
            return
        if self._phase != "opening":
            return
        self._phase = "searching"
        self.pool = WorkerPool(self._job, self._workers, self._trials)
        self.pool.start()
        self.say(
            f"Searching: {len(self.pool.shares)} worker processes, {self._trials} trials "
            f"(study {item.name!r} in {self._where})."
        )
        self.timer.start()

    def _check_workers(self) -> None:
        """The timer's tick: are the worker processes still there? (no storage here)"""
        pool = self.pool
        if pool is None:
            return
        if pool.running():
            if self._terminated_at is not None and time.monotonic() - self._terminated_at > 4:
                pool.kill()
            return
        self._errors = pool.errors()
        self._cancelled = self._terminated_at is not None
        pool.close()
        self.pool = None
        self.timer.stop()
        self._phase = "finishing"
        if self._requests is None:
            self._finish()
            return
        # One last read (after failing trials whose worker died): what the workers wrote.
        self._final_request = self._requests.read_now(fail_orphans=True)

    def _finish(self) -> None:
        self._phase = "watching" if self._watch is not None else ""
        self._set_running(False)
        counts = self._counts()
        if self._errors:
            text = f"A worker failed: {self._errors[0]}"
        elif self._cancelled:
            text = f"Cancelled: every worker stopped ({counts})."
        else:
            text = f"Search finished ({counts})."
        self.say(text, error=bool(self._errors))
        self.search_done.emit(text)

    def _counts(self) -> str:
        states = [r.state for r in self.rows]
        parts = [f"{states.count(s)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL")]
        best = self.best_row()
        tail = f"; best: trial {best.number}, {100 * (best.value or 0):.2f}%" if best else ""
        return ", ".join(parts) + tail

    # -- reading the study -----------------------------------------------------------
    def refresh(self) -> int:
        """Ask the watch for a read now (the views follow when it arrives); returns the
        request's number (0: nothing is watched)."""
        return self._requests.read_now() if self._requests is not None else 0

    def _on_read(self, read: Any) -> None:
        """A read arrived from the watch: update every view that changed."""
        if read.error:
            self.say(f"Cannot read the study: {read.error}", error=True)
        else:
            self._show_rows(list(read.rows))
            if read.importances is not None:
                self.importance.set_importances(read.importances, read.importance_note)
        if self._phase == "finishing" and read.served >= self._final_request:
            self._finish()

    def _show_rows(self, rows: list[TrialRow]) -> None:
        signature = tuple((r.number, r.state, len(r.intermediate)) for r in rows)
        if signature != self._signature:
            self._signature = signature
            self.rows = rows
            if not self.space:
                self.space = _space_of(rows)
            params = [r.name for r in self.space]
            selected = self.table.selected_numbers()
            self.table.trials.set_rows(rows, params)
            if selected:
                self.table.select_numbers(selected)
            self.best.set_rows(rows)
            self.parallel.set_rows(rows, self.space)
            self.scatter.set_rows(rows, self.space)
            self._on_selection(self.table.selected_numbers())
            self.trials_changed.emit()
        else:
            self.table.trials.set_rows(rows, [r.name for r in self.space])  # running times

    def best_row(self) -> TrialRow | None:
        done = [r for r in self.rows if r.state == "COMPLETE" and r.value is not None]
        return max(done, key=lambda r: r.value or 0.0, default=None)

    # -- selection -------------------------------------------------------------------
    def _on_selection(self, numbers: list[int]) -> None:
        self.parallel.set_highlight(numbers)
        self.scatter.set_highlight(numbers)
        self.train_button.setEnabled(len(numbers) == 1)
        self._overlay([r for r in self.rows if r.number in numbers])

    def _overlay(self, rows: list[TrialRow]) -> None:
        """Each selected trial's loss and accuracy curves, dashed, on the tab's plots."""
        loss_plot, acc_plot = self.tab.plots.loss.plot_item, self.tab.plots.accuracy.plot_item
        for item in self._overlays:
            for plot in (loss_plot, acc_plot):
                if item in plot.items:
                    plot.removeItem(item)
        self._overlays = []
        by_iteration = self.tab.plots.accuracy.x_axis == "iteration"
        for i, r in enumerate(rows[: len(_OVERLAY_COLORS) * 2]):
            color = QColor(_OVERLAY_COLORS[i % len(_OVERLAY_COLORS)])
            dash = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine)
            xs = r.attrs.get("loss_x") or []
            ys = [v if v is not None else float("nan") for v in r.attrs.get("loss") or []]
            if xs:
                item = pg.PlotDataItem(
                    xs, ys, pen=dash, connect="finite", name=f"trial {r.number} loss"
                )
                loss_plot.addItem(item)
                self._overlays.append(item)
            val = r.attrs.get("epoch_val_acc") or [
                r.intermediate[e] for e in sorted(r.intermediate)
            ]
            if val:
                spe = int(r.attrs.get("steps_per_epoch") or 1)
                epochs = [e + 1 for e in range(len(val))]
                x = [e * spe for e in epochs] if by_iteration else epochs
                y = [100 * v if v is not None else float("nan") for v in val]
                item = pg.PlotDataItem(
                    x, y, pen=dash, symbol="t", symbolBrush=color, name=f"trial {r.number} val"
                )
                acc_plot.addItem(item)
                self._overlays.append(item)

    def train_selected(self) -> None:
        numbers = self.table.selected_numbers()
        rows = [r for r in self.rows if r.number in numbers]
        if len(rows) != 1 or not rows[0].params:
            return
        self.tab._apply_suggestion(dict(rows[0].params))
        self.tab.show_page(self.tab.main_splitter)  # the form and Start
        self.tab.say(
            f"Trial {rows[0].number}'s settings are in the form: press Start to train it "
            "(the test set stays for the one model you choose)."
        )


def _space_of(rows: list[TrialRow]) -> SearchSpace:
    """A study without a recorded space (made elsewhere): its parameters as choices."""
    from nets.search.space import Choices

    names: dict[str, set] = {}
    for r in rows:
        for k, v in r.params.items():
            names.setdefault(k, set()).add(v)
    return tuple(Choices(k, tuple(sorted(v, key=str))) for k, v in names.items())
