"""What ``gui.training.tab.TrainingTab`` does with the items of a training worker (a
mixin): the ``nets.training`` events update the run's metrics, status, progress bar and
status line, in one place for both trainers; every item then goes to the listeners.

One duration for a run's end: the ``Ended`` event's ``elapsed``, so the progress bar's
"finished in 0:10" and the status line's "... in 0:10" always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gui import dialogs
from gui.jobs import Batch, Progress
from gui.training.run_files import JobFailed
from gui.training.runs import Run, format_percent
from nets.training import (
    END_EVENTS,
    Diverged,
    Ended,
    Evaluation,
    Finished,
    Started,
    Step,
    Stopped,
)
from nets.units import format_bytes


def _duration(seconds: float) -> str:
    from gui.training.controls import format_duration

    return format_duration(seconds)


@dataclass(eq=False)
class RunState:
    """What the controller keeps per run; tabs subclass it for their payloads."""

    started: Started | None = None
    last_step: Step | None = None
    last_eval: Evaluation | None = None
    ended: Ended | None = None
    checkpoint: Path | None = None  # the file this model was loaded from or saved to
    saved: bool = False  # the model as it is now is in ``checkpoint``
    result_text: str = ""  # the runs list's Result cell, set once per delivery


class RunEvents:
    """Mixin of ``TrainingTab`` (uses its ``runs``, ``controls``, ``say``, hooks...)."""

    def _on_train_item(self, run_id: int, item: Any) -> None:
        run = self.runs.run(run_id)
        if run is None:
            return
        events = item.items if isinstance(item, Batch) else (item,)
        state: RunState = run.payload
        shown_result = state.result_text
        for event in events:
            self._handle(run, event)
            for listener in list(self._listeners):
                listener(run, event)
        # Once per delivery, not per event: a batch may hold hundreds of epochs.
        if state.result_text != shown_result:
            self.runs.set_result(run.run_id, state.result_text)
        if isinstance(item, Batch) or isinstance(item, Step):
            # The progress bar and status line at most five times a second: each new
            # text of the word-wrapped status line re-lays out the column it sits in.
            self._step_throttle.request()

    def _handle(self, run: Run, item: Any) -> None:
        state: RunState = run.payload
        if isinstance(item, Step):
            run.metrics.add_step(item.step, item.loss, item.lr)
            state.last_step = item
        elif isinstance(item, Evaluation):
            spe = state.started.steps_per_epoch if state.started is not None else 0
            x = item.step / spe if spe else float(item.epoch)
            run.metrics.add_epoch(x, item.train_acc, item.val_acc, iteration=item.step)
            state.last_eval = item
            if item.end_of_epoch:
                state.result_text = f"val {format_percent(item.val_acc)}"
        elif isinstance(item, Progress):
            self.controls.show_activity(item.message, item.done, item.total)
            self.say(f"{item.message[:1].upper()}{item.message[1:]}…")
        elif isinstance(item, Started):
            state.started = item
            self.controls.reset_progress()
            self.controls.set_progress(item.start_step, item.total_steps, item.elapsed)
            threads = f"{item.num_threads} CPU thread{'s' if item.num_threads != 1 else ''}"
            self.say(
                f"Training {run.name} on {item.device} with {threads} in {item.precision}: "
                f"{item.epochs} epochs × "
                f"{item.steps_per_epoch:,} steps, {item.params:,} parameters, memory "
                f"~{format_bytes(item.memory_bytes)}."
            )
        elif isinstance(item, END_EVENTS):
            self._on_ended(run, item)
        elif isinstance(item, JobFailed):
            self.runs.set_status(run.run_id, "failed", item.message)
            self.say(item.message, error=True)
            dialogs.show_error(self, "Training failed", item.message)
        else:
            self.on_train_item(run, item)

    def _show_training_step(self) -> None:
        run = self.runs.run(self._train_run_id)
        if run is not None:
            self._show_step(run)

    def _show_step(self, run: Run) -> None:
        state: RunState = run.payload
        step = state.last_step
        if step is None or run.status != "running":
            return
        self.controls.set_progress(step.step, step.total_steps, step.elapsed)
        epochs = state.started.epochs if state.started is not None else "?"
        val = ""
        last = state.last_eval
        if last is not None:
            sample = "" if last.end_of_epoch else f" ({last.val_n:,}-image sample)"
            val = f" · val {format_percent(last.val_acc)}{sample}"
        self.say(
            f"Epoch {step.epoch}/{epochs} · step {step.step:,}/{step.total_steps:,} · "
            f"loss {step.loss:.4g} · lr {step.lr:.3g}{val}"
        )

    def _on_ended(self, run: Run, event: Ended) -> None:
        self._step_throttle.flush()  # the bar shows the last step; the text below replaces it
        state: RunState = run.payload
        state.ended = event
        state.saved = False
        self.on_run_ended(run, event)
        took = _duration(event.elapsed)
        if isinstance(event, Diverged):
            self.runs.set_status(run.run_id, "diverged", event.reason)
            self.say(f"{run.name} {event.reason}. Try a smaller learning rate.", error=True)
        elif isinstance(event, Stopped):
            self.runs.set_status(run.run_id, "stopped", event.reason)
            self.say(
                f"Stopped {run.name} after step {event.step:,} ({took}); the model so far is kept."
            )
        elif isinstance(event, Finished):
            self.runs.set_status(run.run_id, "finished")
            last = state.last_eval
            val = f", validation {format_percent(last.val_acc)}" if last is not None else ""
            self.say(
                f"Finished {run.name}: {event.step:,} steps in {took}{val}. Evaluate on the "
                "test set once you have picked your model."
            )

    def _on_train_failed(self, run_id: int, message: str, detail: str) -> None:
        self.runs.set_status(run_id, "failed", message)
        self.say(f"Training failed: {message}", error=True)
        dialogs.show_error(self, "Unexpected error", message, detail)

    def _on_train_done(self, run_id: int, status: str) -> None:
        self._train_worker = None
        run = self.runs.run(run_id)
        ended = run.payload.ended if run is not None else None
        if run is not None and run.status in ("running", "paused"):
            # Cancelled before the trainer could report (closing, a stop while loading).
            no_model = self.model_of(run) is None
            reason = "stopped before training produced a model" if no_model else "stopped"
            self.runs.set_status(run_id, "stopped", reason)
            if no_model:
                self.say("Stopped before training began.")
        if ended is not None:
            took = _duration(ended.elapsed)
            message = {
                "finished": f"finished in {took}",
                "stopped": f"stopped after {took}",
            }.get(run.status, run.status)
        else:
            message = run.status if run is not None else status
        self.controls.set_finished(message)
        self.plots.refresh()
        self.update_start()
        if run is not None:
            self.status_message.emit(f"{run.name}: {run.status_text()}", 6000)
        self.training_done.emit(run_id, status)
