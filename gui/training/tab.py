"""The one training tab controller: ``TrainingTab``, the base of the "Two-layer net"
tab (``gui.mlp_tab``) and the "CNN" tab (``gui.cnn_tab``).

What it owns, for every trainer alike: the runs list and its plots, Start / Pause /
Resume / Stop with the progress bar, the status line, the run lifecycle (one training
worker at a time, driven by the ``nets.training`` events ``Started``, ``Step``,
``Evaluation`` and one of ``Finished`` / ``Stopped`` / ``Diverged``), side jobs (test,
load, download) with their errors, test once with its warning, checkpoint save and load,
plot and CSV export (one suffix rule, one remembered export folder), and the question
before quitting with unsaved runs (``can_close``). These live in ``gui.training.tab``
(lifecycle, side jobs), ``gui.training.tab_layout`` (widgets, actions, layout),
``gui.training.run_events`` (what each training event does) and
``gui.training.run_files`` (files, test once, quitting).

What a tab configures (override; each has a docstring below): its left column (forms
and data panel, given to ``finish_layout``), ``start_problems``, ``plan_run`` (what a
new run trains: a ``RunPlan`` whose factory yields ``Progress`` while loading, then the
trainer's events and any items of the tab's own), ``on_train_item`` (those own items),
``on_run_ended``, ``model_of``, ``test_use`` / ``test_problem`` / ``test_job`` /
``on_test_item``, ``write_checkpoint`` / ``load_job`` / ``on_run_loaded`` and
``show_run`` (fill its result views for the selected run). Run payloads subclass
``RunState``, which holds the lifecycle's own per-run facts.

Extending it (the internals view, searches, the network graph, snapshots and forks):
  * ``add_view(widget, title)`` adds a page next to the tab's result views (the
    ``result_tabs`` tab widget under the plots, right of the runs list); pages are plain
    widgets that follow the selected run through ``selected_run_changed``;
  * ``add_page(widget, title)`` adds a page beside the whole training view (the CNN's
    Inspect): the first call puts the training view itself into the ``views`` tab
    widget, as its first page (``main_page_title``); ``show_page(widget)`` brings it to
    the front. A page or view that is costly and often unseen is added as a
    ``gui.lazy.LazyWidget`` (built when first shown: Network graph, Search, Inspect);
  * ``add_listener(fn)``: ``fn(run, event)`` is called in the GUI thread for every item
    a training worker delivers, in order: the ``nets.training`` events one by one (a
    batch of steps is unpacked) and the tab's own items (e.g. weight snapshots). A
    listener must be quick (it runs between redraws); ``remove_listener(fn)``;
  * ``add_shutdown(fn)``: ``fn()`` when the window closes (a search stops its workers);
    ``add_lazy_page(factory, title)``: ``add_page`` of a ``LazyWidget`` whose page, once
    built, is shut down with the tab;
  * ``run_side_job(kind, run_id, factory, on_item)`` runs any other generator in the
    worker layer with the same progress, error and busy handling.
  * snapshots (``gui.training.forks``): every run keeps its epoch snapshots; the
    timeline's selection is ``snapshot_selected(run_id, step)`` / ``selected_snapshot()``,
    the tab's views follow it in ``show_snapshot``; "Fork from here" fills the form
    (``fill_settings``) and ``plan_run`` passes ``pending_fork()`` on to its trainer;
  * File > Export runs to TensorBoard (``gui.training.tensorboard_export``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui import dialogs
from gui.jobs import Progress, batched
from gui.lazy import LazyWidget, W
from gui.tab_base import AppContext, AppTab
from gui.throttle import Throttle
from gui.training.controls import TrainingControls
from gui.training.forks import PendingFork, SnapshotControl
from gui.training.plot_pair import TrainingPlots
from gui.training.run_events import RunEvents, RunState
from gui.training.run_files import JobFailed, RunFiles, friendly
from gui.training.runs import Run, RunsModel, RunsView
from gui.training.tab_layout import TrainingLayout
from gui.training.tensorboard_export import RunRecorder, export_runs
from gui.worker import GeneratorFactory, GeneratorWorker
from nets.errors import NetsError
from nets.snapshots import kept
from nets.training import END_EVENTS, Ended, Snapshot, Started

ERROR_STYLE = "QLabel { color: #a61b1b; }"
#: ``plan_run`` returns this when the run starts later (the tab calls ``launch_run``).
DEFERRED = object()
#: Training items delivered on their own, at once (the rest arrive in ``Batch`` items).
_URGENT = (Started, *END_EVENTS, JobFailed, Progress)


@dataclass(frozen=True)
class RunPlan:
    """A run about to start: its list entry and the worker factory that trains it."""

    name: str
    settings: dict
    payload: RunState
    factory: GeneratorFactory
    fork: PendingFork | None = None  # the snapshot it goes on from (its curves branch there)


class TrainingTab(TrainingLayout, RunEvents, RunFiles, AppTab):
    """Signals: ``training_done(run_id, status)`` after a training worker ended (status
    as the worker's ``done``); ``test_done(run_id)`` after a test evaluation;
    ``job_done(kind)`` after any side job; ``selected_run_changed(run_id)`` (0 = none);
    ``snapshot_selected(run_id, step)`` when an epoch of the timeline is selected (step -1:
    back to the run's latest model; ``selected_snapshot()`` gives it, ``gui.training.forks``)."""

    training_done = Signal(int, str)
    test_done = Signal(int)
    job_done = Signal(str)
    selected_run_changed = Signal(int)
    snapshot_selected = Signal(int, int)

    #: whether tests, loads and downloads may run while a model trains
    side_jobs_while_training = True
    #: the training view's title once ``add_page`` puts it beside other pages
    main_page_title = "Design && train"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._train_worker: GeneratorWorker | None = None
        self._train_run_id = 0
        self._side_worker: GeneratorWorker | None = None
        self._side_kind = ""
        self._side_run_id = 0
        self._preparing = False
        self._shut_down = False
        self._status_is_idle = True
        self._listeners: list[Callable[[Run, Any], None]] = []
        self._step_throttle = Throttle(self._show_training_step, 200, self)
        self._on_shutdown: list[Callable[[], None]] = []

        self.runs = RunsModel(self)
        # Built right after the tab's first paint: pyqtgraph need not load before the
        # window with a restored training tab is on screen (issue 22).
        self.plots = TrainingPlots(self.runs, after_paint=True)
        self.runs_view = RunsView(self.runs)
        self.runs_view.can_delete = self._refuse_delete
        self.snapshot_control = SnapshotControl(self)
        self.tb_recorder = RunRecorder(self)
        self.controls = TrainingControls()
        self._build_widgets()
        self._build_training_actions()

        self.controls.start_requested.connect(self.start_training)
        self.controls.pause_requested.connect(self.pause_training)
        self.controls.resume_requested.connect(self.resume_training)
        self.controls.stop_requested.connect(self.stop_training)
        self.runs_view.selected_run_changed.connect(self._on_selected_run)
        self.runs_view.delete_refused.connect(lambda text: self.status_message.emit(text, 5000))
        self.runs.run_changed.connect(self._on_run_changed)
        self.runs.run_removed.connect(lambda _id: self._on_selected_run(self.selected_run_id()))
        self.test_button.clicked.connect(self.evaluate_test)
        self.save_button.clicked.connect(lambda: self.save_checkpoint())
        self.load_button.clicked.connect(lambda: self.load_checkpoint())
        self.export_plots_button.clicked.connect(lambda: self.export_plots())
        self.export_csv_button.clicked.connect(lambda: self.export_metrics())

    def add_listener(self, fn: Callable[[Run, Any], None]) -> None:
        """``fn(run, event)`` for every item a training worker delivers (see the module
        docstring)."""
        self._listeners.append(fn)

    def add_shutdown(self, fn: Callable[[], None]) -> None:
        """``fn()`` when the tab shuts down (the window closes): stop what it started."""
        self._on_shutdown.append(fn)

    def add_lazy_page(self, factory: Callable[[], W], title: str) -> LazyWidget[W]:
        """``add_page`` of a page built when first shown (``gui.lazy.LazyWidget``); once
        built, its ``shutdown()`` runs when the tab shuts down."""
        slot: LazyWidget[W] = LazyWidget(factory)
        self.add_page(slot, title)

        def stop() -> None:
            page = slot.created
            if page is not None:
                page.shutdown()  # type: ignore[attr-defined]

        self.add_shutdown(stop)
        return slot

    def remove_listener(self, fn: Callable[[Run, Any], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    # -- hooks a tab overrides -------------------------------------------------------
    def start_problems(self) -> list[str]:
        """Why Start is disabled now, in the order a user would fix them ([] = ready)."""
        return []

    def plan_run(self, source: Run | None) -> RunPlan | object:
        """What Start (``source`` None) or Train further trains: a ``RunPlan``, or
        ``DEFERRED`` when the tab must prepare first and calls ``launch_run`` (or
        ``abandon_start``) itself. Raise ``NetsError`` to refuse with a message."""
        raise NotImplementedError

    def cancel_preparation(self) -> None:
        """Stop was pressed while a ``DEFERRED`` start prepares."""
        self.abandon_start("")

    def on_train_item(self, run: Run, item: Any) -> None:
        """An item of the tab's own from the training worker (not a ``nets.training``
        event, a ``Progress`` or a ``Batch``)."""

    def on_run_ended(self, run: Run, event: Ended) -> None:
        """The trainer's last event: keep its result (``event.result``) in the payload."""

    def fill_settings(self, config: dict) -> None:
        """Put a snapshot's configuration (its trainer's ``to_dict()``) into the form."""

    def show_snapshot(self, run: Run | None, snapshot: Snapshot | None) -> None:
        """Show the tab's result views at ``snapshot`` of ``run`` (None: its latest model)."""

    # -- snapshots (gui.training.forks) ------------------------------------------------
    def selected_snapshot(self) -> Snapshot | None:
        """The snapshot selected on the timeline (None: views show the latest model)."""
        return self.snapshot_control.selected()

    def select_snapshot(self, run_id: int, step: int) -> None:
        self.snapshot_control.select(run_id, step)

    def snapshots_of(self, run_id: int) -> list[tuple[int, int]]:
        """``(epoch, step)`` of every epoch snapshot the run keeps."""
        return self.snapshot_control.snapshots_of(run_id)

    def export_tensorboard(self, folder: str | None = None) -> bool:
        """File > Export runs to TensorBoard (``gui.training.tensorboard_export``)."""
        return export_runs(self, folder)

    def pending_fork(self) -> PendingFork | None:
        """What the next run forks from ("Fork from here…"), for ``plan_run``."""
        return self.snapshot_control.pending_fork()

    def model_of(self, run: Run | None) -> Any:
        """The run's trained model, or None (nothing to test, save or train further)."""
        return None

    def show_run(self, run: Run | None) -> None:
        """Fill the tab's result views for the selected run (None = none selected)."""

    def test_summary(self, run: Run | None) -> str:
        """One line under the runs list about the selected run's test evaluation."""
        if run is None or self.model_of(run) is None:
            return ""
        count, acc = self.test_use(run)
        if not count:
            return "Not evaluated on the test set yet."
        shown = "?" if acc is None else f"{100 * acc:.2f}%"
        times = "" if count == 1 else f" ({count} evaluations)"
        return f"<b>Test accuracy: {shown}</b>{times}"

    # -- state -----------------------------------------------------------------------
    def is_training(self) -> bool:
        return self._train_worker is not None or self._preparing

    def is_busy(self) -> bool:
        return self.is_training() or self._side_worker is not None

    def selected_run_id(self) -> int:
        return self.runs_view.selected_run_id()

    def selected_run(self) -> Run | None:
        """The selected run, else the newest one."""
        run = self.runs.run(self.selected_run_id())
        if run is None and len(self.runs):
            run = self.runs.runs()[-1]
        return run

    def _idle_model(self, run: Run | None) -> bool:
        return (
            run is not None
            and self.model_of(run) is not None
            and run.status not in ("running", "paused")
        )

    def update_start(self) -> None:
        """Re-check whether Start is allowed; call when a form or the data changes."""
        problems = list(self.start_problems())
        if self._side_worker is not None and not self.side_jobs_while_training:
            problems.append(f"Wait for the {self._side_kind} to finish")
        self.controls.set_can_start(not problems, problems[0] if problems else "")
        if self._status_is_idle and not self.is_busy():
            text = "Ready." if not problems else f"Not ready: {problems[0]}"
            self.say(text, error=False, idle=True)
        self.update_run_buttons()

    def update_run_buttons(self) -> None:
        run = self.selected_run()
        idle_model = self._idle_model(run)
        side_free = self._side_worker is None and (
            self.side_jobs_while_training or not self.is_training()
        )
        problem = self.test_problem(run) if idle_model else ""
        for w in (self.test_button, self.test_action):
            w.setEnabled(idle_model and side_free and not problem)
        self.test_button.setToolTip(
            problem
            or "Measure the selected model's accuracy on the test split. Do it once, at the "
            "end: tune on validation, test once (Ctrl+T)."
        )
        for w in (self.save_button, self.save_action):
            w.setEnabled(idle_model)
        self.test_label.setText(self.test_summary(run))
        for w in (self.load_button, self.load_action, self.open_snapshot_action):
            w.setEnabled(side_free)
        has_runs = len(self.runs) > 0
        for w in (
            self.export_plots_button,
            self.export_plots_action,
            self.export_csv_button,
            self.export_csv_action,
            self.export_tb_action,
        ):
            w.setEnabled(has_runs)

    def say(self, text: str, *, error: bool = False, idle: bool = False) -> None:
        """Show ``text`` on the status line (red for an error)."""
        self._status_is_idle = idle
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")
        self.status_label.setText(text)

    # -- starting --------------------------------------------------------------------
    def start_training(self) -> None:
        """Start a fresh run with the form's settings (the Start button)."""
        self.request_run(None)

    def request_run(self, source_id: int | None) -> None:
        """Start a run, from the selected model when ``source_id`` is given."""
        if self.is_training() or self._shut_down:
            return  # never two training workers
        problems = list(self.start_problems())
        if self._side_worker is not None and not self.side_jobs_while_training:
            problems.append(f"Wait for the {self._side_kind} to finish")
        if problems:
            self.controls.set_finished()
            self.update_start()
            self.say(problems[0], error=True)
            return
        source = self.runs.run(source_id) if source_id else None
        if self.controls.state == "idle":
            self.controls.reset_progress()
            self.controls.set_running()
        try:
            plan = self.plan_run(source)
        except NetsError as exc:
            self.abandon_start(str(exc))
            return
        if plan is DEFERRED:
            self._preparing = True
            self.update_run_buttons()
            return
        assert isinstance(plan, RunPlan)
        self.launch_run(plan)

    def abandon_start(self, message: str) -> None:
        """A start that could not go on (a failed load, a refusal): back to idle."""
        self._preparing = False
        self.controls.set_finished(message if len(message) < 40 else "")
        if message:
            self.say(message, error=True)
        self.update_start()

    def launch_run(self, plan: RunPlan) -> Run | None:
        """Add the run and start its training worker."""
        self._preparing = False
        if self._shut_down or self._train_worker is not None:
            return None
        run = self.runs.add_run(plan.name, plan.settings, payload=plan.payload)
        self._train_run_id = run.run_id
        inner = friendly(plan.factory)
        store = self.snapshot_control.new_store(run.run_id)
        if plan.fork is not None:
            self.snapshot_control.start_branch(run, plan.fork)

        def factory(token):
            # Everything but a run's first and last events travels in batches (at most
            # 20 deliveries a second): on tiny data a trainer yields a step and an
            # evaluation thousands of times a second, one signal each froze the window.
            return batched(kept(inner(token), store), lambda e: not isinstance(e, _URGENT))

        worker = self.context.workers.start(factory, name=f"{self.tab_id}-train")
        self._train_worker = worker
        rid = run.run_id
        worker.item.connect(lambda item, rid=rid: self._on_train_item(rid, item))
        worker.failed.connect(lambda message, tb, rid=rid: self._on_train_failed(rid, message, tb))
        worker.done.connect(lambda status, rid=rid: self._on_train_done(rid, status))
        if self.controls.state == "idle":
            self.controls.reset_progress()
            self.controls.set_running()
        self.runs_view.select_run(run.run_id)
        self.say(f"Starting {run.name}…")
        self.status_message.emit(f"Training {run.name}…", 3000)
        self.update_start()
        return run

    # -- pause, resume, stop ---------------------------------------------------------
    def pause_training(self) -> None:
        if self._train_worker is not None:
            self._train_worker.pause()
            run = self.runs.run(self._train_run_id)
            if run is not None and run.status == "running":
                self.runs.set_status(run.run_id, "paused")
            self.say("Paused. Resume to go on, or Stop to keep the model so far.")

    def resume_training(self) -> None:
        if self._train_worker is not None:
            self._train_worker.resume()
            run = self.runs.run(self._train_run_id)
            if run is not None and run.status == "paused":
                self.runs.set_status(run.run_id, "running")
            self.say("Resumed.")

    def stop_training(self) -> None:
        """Stop after the current step: the run keeps its model (testable, savable)."""
        if self._preparing:
            self.cancel_preparation()
        elif self._train_worker is not None:
            self._train_worker.stop()
        else:
            self.controls.set_finished()

    # -- side jobs -------------------------------------------------------------------
    def run_side_job(
        self, kind: str, run_id: int, factory: GeneratorFactory, on_item: Callable[[Any], None]
    ) -> bool:
        """Run ``factory`` in the worker layer (one side job at a time): ``Progress``
        items go to the status line, expected errors (``NetsError``, ``OSError``) to a
        message box, anything else to ``on_item``. False when it cannot start now."""
        if self._side_worker is not None or self._shut_down:
            return False
        if self.is_training() and not self.side_jobs_while_training:
            self.status_message.emit("Wait for the training to finish first.", 4000)
            return False
        self._side_kind = kind
        self._side_run_id = run_id
        worker = self.context.workers.start(friendly(factory), name=f"{self.tab_id}-{kind}")
        self._side_worker = worker
        worker.item.connect(lambda item: self._on_side_item(kind, item, on_item))
        worker.failed.connect(
            lambda message, detail: dialogs.show_error(self, "Unexpected error", message, detail)
        )
        worker.done.connect(lambda _status: self._on_side_done(kind, run_id))
        self.update_start()
        return True

    def _on_side_item(self, kind: str, item: Any, on_item: Callable[[Any], None]) -> None:
        if isinstance(item, Progress):
            self.say(f"{item.message[:1].upper()}{item.message[1:]}…")
        elif isinstance(item, JobFailed):
            titles = {
                "test": "Test failed",
                "load": "Cannot load the checkpoint",
                "snapshot": "Cannot open the snapshot",
                "download": "Download failed",
            }
            self.say(item.message, error=True)
            self.status_message.emit(item.message, 8000)
            dialogs.show_error(self, titles.get(kind, "Error"), item.message)
        else:
            on_item(item)

    def _on_side_done(self, kind: str, run_id: int) -> None:
        self._side_worker = None
        self._side_kind = ""
        self.update_start()
        if kind == "test":
            self.test_done.emit(run_id)
        self.job_done.emit(kind)

    # -- runs ------------------------------------------------------------------------
    def _refuse_delete(self, run_id: int) -> str:
        if run_id == self._train_run_id and self._train_worker is not None:
            return "Stop the run before deleting it"
        if run_id == self._side_run_id and self._side_worker is not None:
            return f"Wait for the {self._side_kind} to finish before deleting the run"
        return ""

    def _on_run_changed(self, run_id: int) -> None:
        if run_id == self.selected_run_id():
            self.update_run_buttons()

    def _on_selected_run(self, run_id: int) -> None:
        self.snapshot_control.follow_run(run_id)
        self.show_run(self.runs.run(run_id))
        self.update_run_buttons()
        self.selected_run_changed.emit(run_id)

    def test_state(self) -> dict:
        """What the training view shows, for the real-window tests' hook."""
        return {
            "runs": [
                {"name": r.name, "status": r.status, "steps": r.metrics.num_steps}
                for r in self.runs.runs()
            ],
            "controls": self.controls.state,
            "progress": self.controls.progress.text(),
            "eta": self.controls.eta_label.text(),
            "status": self.status_label.text(),
            "test_enabled": self.test_button.isEnabled(),
            "test_tooltip": self.test_button.toolTip(),
        }

    # -- lifecycle -------------------------------------------------------------------
    def shutdown(self) -> None:
        self._shut_down = True
        self._preparing = False
        for fn in self._on_shutdown:
            fn()
        for worker in (self._train_worker, self._side_worker):
            if worker is not None:
                worker.cancel()
        self.plots.stop()
        self.snapshot_control.shutdown()
