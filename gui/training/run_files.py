"""The file and test side of ``gui.training.tab.TrainingTab``: test once (with its
warning), checkpoint save and load, plot and CSV export, and the question before
quitting with runs that are not saved.

One suffix rule for every file the training tabs write (``with_suffix``): a name whose
suffix is not one the format allows keeps what was typed and gets the default suffix
appended (``plot.jpg`` -> ``plot.jpg.png``), so nothing typed is silently replaced. One
export folder, remembered in QSettings (``EXPORT_DIR_KEY``) and shared by both tabs;
checkpoints remember their folder per tab (``<tab_id>/checkpoint_dir``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui import dialogs, file_dialogs
from gui.training.export import CSV_FILTER, PLOT_FILTER, PLOT_FORMATS, export_metrics_csv
from gui.training.runs import Run
from nets.errors import NetsError

EXPORT_KIND = "training-export"
EXPORT_DIR_KEY = file_dialogs.setting_key(EXPORT_KIND)
#: how long quitting with Save waits for a running run to stop
STOP_WAIT_MS = 15_000


@dataclass(frozen=True)
class JobFailed:
    """An expected error inside a job (bad data, bad settings, a bad file): shown as a
    one-line message, never as a traceback."""

    message: str


@dataclass(frozen=True)
class LoadedRun:
    """What a load job yields: a new runs-list entry (status "loaded"). Opened from
    snapshots, ``snapshots`` lists the run's snapshot files (``nets.snapshots.SnapshotInfo``)
    for its timeline and ``chosen_step`` the one to select."""

    name: str
    settings: dict
    payload: Any = field(repr=False)
    result: str = ""  # the runs list's result column, e.g. "val 48.1% · test 47.0%"
    snapshots: tuple[Any, ...] = ()
    chosen_step: int = -1


#: Snapshot files have no suffix (``DIR/epoch-K``, ``DIR/step-S``).
SNAPSHOT_FILTER = "snapshot (epoch-* step-*);;all files (*)"


def friendly(factory: Callable[[Any], Iterator[Any]]) -> Callable[[Any], Iterator[Any]]:
    """Turn the app's own errors inside a job into a ``JobFailed`` item (no traceback
    dialog); a cancel ends the job quietly; unexpected exceptions still reach
    ``worker.failed``."""

    def wrapped(token):
        from nets.errors import Cancelled

        try:
            yield from factory(token)
        except Cancelled:
            return
        except (NetsError, OSError) as exc:
            yield JobFailed(str(exc).strip() or type(exc).__name__)

    return wrapped


def with_suffix(path: str | Path, allowed: tuple[str, ...]) -> Path:
    """``path`` if its suffix is one of ``allowed`` (any case), else ``path`` with
    ``allowed[0]`` appended to its whole name."""
    target = Path(path)
    if target.suffix.lower() in allowed:
        return target
    return target.with_name(target.name + allowed[0])


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class RunFiles:
    """Mixin of ``TrainingTab`` (uses its ``runs``, ``say``, ``run_side_job``...)."""

    checkpoint_suffix = ".npz"
    checkpoint_filter = "checkpoint (*.npz)"
    export_stem = "training"

    # -- hooks a tab overrides -------------------------------------------------------
    def test_use(self, run: Run) -> tuple[int, float | None]:
        """How often the run's model was evaluated on the test set, and the last
        accuracy (a fraction, or None)."""
        return (0, None)

    def test_problem(self, run: Run | None) -> str:
        """Why the selected model cannot be tested now ("" = it can): e.g. the data has
        no test split. Shown as the test button's tooltip."""
        return ""

    def test_job(self, run: Run) -> Callable[[Any], Iterator[Any]]:
        """The worker factory that evaluates ``run``'s model on the test split."""
        raise NotImplementedError

    def on_test_item(self, run: Run, item: Any) -> None:
        """An item of the test job (the tab's result): record it in the payload."""

    def write_checkpoint(self, run: Run, path: Path) -> None:
        """Save ``run``'s model to ``path`` (in the GUI thread: the model's library is
        imported already). Raise ``NetsError`` or ``OSError``."""
        raise NotImplementedError

    def load_job(self, path: Path) -> Callable[[Any], Iterator[Any]]:
        """The worker factory that reads a checkpoint; it yields one ``LoadedRun``."""
        raise NotImplementedError

    def on_run_loaded(self, run: Run) -> None:
        """A loaded run is in the list: plot its history, analyse it."""

    def snapshot_run(self, snapshot: Any, name: str) -> LoadedRun:
        """A runs-list entry whose model is ``snapshot``'s (a ``nets.training.Snapshot``
        of this tab's trainer), called in the load job's thread: build data, touch no
        widget. Raise ``NetsError`` when the snapshot cannot be shown."""
        raise NotImplementedError

    # -- dialogs (tests replace these) -----------------------------------------------
    def _ask_save_path(self, title: str, filters: str, suggestion: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, suggestion, filters)
        return path

    def _ask_open_path(self, title: str, filters: str, start: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, start, filters)
        return path

    def _folder(self, kind: str) -> Path:
        """Where a dialog for ``kind`` files starts (``gui.file_dialogs``: the last
        folder used for it, else the documents folder; never the working directory)."""
        return file_dialogs.start_folder(self.context.settings, kind)

    def _remember(self, kind: str, path: Path) -> None:
        file_dialogs.remember(self.context.settings, kind, path)

    # -- test once -------------------------------------------------------------------
    def evaluate_test(self) -> bool:
        """Evaluate the selected model on the test split: once; warn before another."""
        run = self.selected_run()
        if not self._idle_model(run) or self._side_worker is not None:
            return False
        problem = self.test_problem(run)
        if problem:
            self.say(problem, error=True)
            self.status_message.emit(problem, 6000)
            return False
        count, acc = self.test_use(run)
        if count:
            shown = "an unknown accuracy" if acc is None else f"{100 * acc:.2f}%"
            times = "once" if count == 1 else f"{count} times"
            answer = dialogs.ask(
                self,
                "Test set already used",
                f"{run.name} was already evaluated on the test set ({times}, {shown}).\n\n"
                "The test set is meant to be used once, at the very end: choosing or tuning "
                "a model by its test score turns the test set into a validation set, and the "
                "score stops being an honest estimate of how the model does on new "
                "images.\n\nEvaluate on the test set again anyway?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.status_message.emit("Test evaluation skipped", 4000)
                return False
        try:
            factory = self.test_job(run)
        except NetsError as exc:
            self.say(str(exc), error=True)
            return False
        run_id = run.run_id

        def on_item(item: Any) -> None:
            live = self.runs.run(run_id)
            if live is not None:
                self.on_test_item(live, item)

        if not self.run_side_job("test", run_id, factory, on_item):
            return False
        self.say(f"Evaluating {run.name} on the test set…")
        return True

    # -- checkpoints -----------------------------------------------------------------
    def _checkpoint_key(self) -> str:
        return f"{self.tab_id}-checkpoint"

    def save_checkpoint(self, path: str | Path | None = None, run_id: int = 0) -> Path | None:
        """Save the selected run's model (or run ``run_id``'s); the path from a dialog
        when not given. Returns the file written, None when cancelled or refused."""
        run = self.runs.run(run_id) if run_id else self.selected_run()
        if not self._idle_model(run):
            self.status_message.emit("Select a trained run to save", 4000)
            return None
        if not path:
            start = self._folder(self._checkpoint_key())
            suggestion = start / f"{safe_name(run.name)}{self.checkpoint_suffix}"
            path = self._ask_save_path(f"Save {run.name}", self.checkpoint_filter, str(suggestion))
            if not path:
                return None
        target = with_suffix(path, (self.checkpoint_suffix,))
        try:
            self.write_checkpoint(run, target)
        except (NetsError, OSError) as exc:
            message = f"Could not save {target.name}: {exc}"
            self.say(message, error=True)
            dialogs.show_error(self, "Save model", message)
            return None
        run.payload.checkpoint = target
        run.payload.saved = True
        self._remember(self._checkpoint_key(), target.parent)
        self.say(f"Saved {run.name} to {target}.")
        self.status_message.emit(f"Saved {target}", 5000)
        return target

    def load_checkpoint(self, path: str | Path | None = None) -> bool:
        """Load a checkpoint as a new run (in the worker layer); False if it cannot start."""
        if not path:
            path = self._ask_open_path(
                "Load model", self.checkpoint_filter, str(self._folder(self._checkpoint_key()))
            )
            if not path:
                return False
        source = Path(path)
        try:
            factory = self.load_job(source)
        except NetsError as exc:
            dialogs.show_error(self, "Cannot load the checkpoint", str(exc))
            return False
        if not self.run_side_job("load", 0, factory, self._on_loaded):
            return False
        self._remember(self._checkpoint_key(), source.parent)
        self.say(f"Loading {source.name}…")
        return True

    def accepts_snapshot(self, path: Path) -> bool:
        """``path`` is a snapshot file or folder of this tab's trainer (a drop, --open)."""
        from nets.snapshots import snapshot_trainer

        return snapshot_trainer(path) == self.tab_id

    def open_snapshot(self, path: str | Path | None = None) -> bool:
        """Open a snapshot file (``--snapshot-dir DIR/epoch-K``) or such a folder as a new
        run, through the checkpoints' load flow: its model is the run's latest snapshot,
        its timeline every snapshot of the run beside it, the chosen one selected (so
        the views show it and "Fork from here" forks it). False if it cannot start."""
        key = f"{self.tab_id}-snapshot"
        if not path:
            path = self._ask_open_path("Open snapshot", SNAPSHOT_FILTER, str(self._folder(key)))
            if not path:
                return False
        source = Path(path)
        trainer, make_run = self.tab_id, self.snapshot_run

        def factory(_token: Any) -> Iterator[Any]:
            from nets.errors import CheckpointError
            from nets.fileio import shown
            from nets.snapshots import load_snapshot, run_snapshots

            chosen, infos = run_snapshots(source)
            if chosen.trainer != trainer:
                raise CheckpointError(
                    f"{shown(chosen.path)} is a snapshot of a {chosen.trainer} run: open it "
                    f"in the {'CNN' if chosen.trainer == 'cnn' else 'Two-layer net'} tab"
                )
            latest = load_snapshot(infos[-1].path)
            folder = chosen.path.parent
            try:
                loaded = make_run(latest, folder.name or str(folder))
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                # Well-formed archive, damaged contents: still one line, naming the file.
                raise CheckpointError(
                    f"snapshot corrupted: {shown(infos[-1].path)} cannot be shown ({exc!r:.80})"
                ) from None
            yield dataclasses.replace(loaded, snapshots=tuple(infos), chosen_step=chosen.step)

        if not self.run_side_job("snapshot", 0, factory, self._on_loaded):
            return False
        self._remember(key, source if source.is_dir() else source.parent)
        self.say(f"Opening {source.name}…")
        return True

    def _on_loaded(self, item: Any) -> None:
        if not isinstance(item, LoadedRun):
            return
        run = self.runs.add_run(item.name, item.settings, status="loaded", payload=item.payload)
        run.payload.saved = True
        if item.result:
            self.runs.set_result(run.run_id, item.result)
        self.say(f"Loaded {item.name}.")
        self.status_message.emit(f"Loaded model {item.name}", 5000)
        self.on_run_loaded(run)
        self.runs_view.select_run(run.run_id)
        if item.snapshots:
            self.snapshot_control.adopt(run.run_id, item.snapshots)
            self.snapshot_control.select(run.run_id, item.chosen_step)
            chosen = next(i for i in item.snapshots if i.step == item.chosen_step)
            self.say(
                f"Opened {item.name}: {len(item.snapshots)} snapshots; "
                f"{chosen.path.name} is selected (Fork from here starts a run from it)."
            )

    # -- exports ---------------------------------------------------------------------
    def _export_target(self, title: str, filters: str, name: str, allowed, path) -> Path | None:
        if not path:
            path = self._ask_save_path(title, filters, str(self._folder(EXPORT_KIND) / name))
            if not path:
                return None
        return with_suffix(path, allowed)

    def export_plots(self, path: str | Path | None = None) -> Path | None:
        """Both plots as PNG, SVG or PDF (by suffix), as they look on screen."""
        target = self._export_target(
            "Export plots", PLOT_FILTER, f"{self.export_stem}.png", tuple(PLOT_FORMATS), path
        )
        if target is None:
            return None
        try:
            written = self.plots.export(target)
        except (OSError, ValueError) as exc:
            dialogs.show_error(self, "Export plots", f"Could not export {target.name}: {exc}")
            return None
        self._remember(EXPORT_KIND, target.parent)
        self.status_message.emit(f"Exported the plots to {written}", 5000)
        return written

    def export_metrics(self, path: str | Path | None = None) -> Path | None:
        """Every run's loss and accuracy as one long-form CSV."""
        target = self._export_target(
            "Export metrics", CSV_FILTER, f"{self.export_stem}.csv", (".csv",), path
        )
        if target is None:
            return None
        try:
            written = export_metrics_csv(self.runs.runs(), target)
        except OSError as exc:
            message = f"Could not export {target.name}: {exc.strerror or exc}"
            dialogs.show_error(self, "Export metrics", message)
            return None
        self._remember(EXPORT_KIND, target.parent)
        self.status_message.emit(f"Exported the metrics to {written}", 5000)
        return written

    # -- quitting --------------------------------------------------------------------
    def unsaved_runs(self) -> list[Run]:
        """Runs whose model is not in a file: trained (or training) and not saved since.

        A run added to the runs list without the tab's payload (an overlay, a plot fed by
        hand) holds no model and so is never unsaved."""
        return [
            run
            for run in self.runs.runs()
            if not getattr(run.payload, "saved", True)
            and (self.model_of(run) is not None or run.status in ("running", "paused"))
        ]

    def can_close(self) -> bool:
        """Asked before the window closes: Save / Discard / Cancel when runs are unsaved."""
        unsaved = self.unsaved_runs()
        training = self.is_training()
        if not unsaved and not training:
            return True
        n = len(unsaved)
        runs = f"{n} run{'s are' if n != 1 else ' is'} not saved"
        head = f"Training is running; {runs}." if training else f"{runs[:1].upper()}{runs[1:]}."
        buttons = (
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        answer = dialogs.ask(
            self,
            "Unsaved runs",
            f"{self.title}: {head[:1].lower() if training else head[:1]}{head[1:]}\n"
            f"Save {'it' if n == 1 else 'them'} before you quit?",
            buttons,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Discard:
            return True
        if answer != QMessageBox.StandardButton.Save:
            return False
        if training and not self._stop_and_wait():
            return False
        for run in self.unsaved_runs():
            if self.model_of(run) is None:
                continue  # stopped before it had weights: nothing to save
            self.runs_view.select_run(run.run_id)
            if self.save_checkpoint(run_id=run.run_id) is None:
                return False
        return True

    def _stop_and_wait(self) -> bool:
        """Stop the running run and wait (events flowing) until its worker has ended."""
        loop = QEventLoop()
        self.training_done.connect(loop.quit)
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        self.stop_training()
        if self.is_training():
            timer.start(STOP_WAIT_MS)
            loop.exec()
        self.training_done.disconnect(loop.quit)
        return not self.is_training()
