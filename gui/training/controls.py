"""Start / Pause-Resume / Stop buttons with a progress bar and an ETA.

The widget is a small state machine (``idle``, ``running``, ``paused``, ``stopping``)
that can never start twice: clicking Start moves it to ``running`` *before* it emits
``start_requested``, so a second click (or a queued double-click) finds Start disabled.
The owner calls ``set_finished()`` when its worker's ``done`` arrives.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from nets.units import format_duration

__all__ = ["STATES", "TrainingControls", "format_duration"]

STATES = ("idle", "running", "paused", "stopping")


class TrainingControls(QWidget):
    """Signals: ``start_requested``, ``pause_requested``, ``resume_requested``,
    ``stop_requested``. Methods: ``set_can_start(ok, reason)``, ``set_running()``,
    ``set_finished()``, ``set_progress(done, total, elapsed_s=None)``, ``state``."""

    PROGRESS_INTERVAL_MS = 200

    start_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, start_text: str = "&Start") -> None:
        super().__init__(parent)
        self._state = "idle"
        self._can_start = True
        self._start_reason = ""
        self._started_at = 0.0
        self._latest: tuple[float, float, float] | None = None
        self._shown: tuple[float, float, float] | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(self.PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._flush_progress)

        self.start_button = QPushButton(start_text)
        self.start_button.setObjectName("startButton")
        self.start_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.pause_button = QPushButton("&Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip("Pause training after the current step; click again to resume")
        self.stop_button = QPushButton("S&top")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop training after the current step (Esc)")
        self.stop_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("etaLabel")
        self.eta_label.setMinimumWidth(150)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.start_button)
        layout.addWidget(self.pause_button)
        layout.addWidget(self.stop_button)
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.eta_label)

        self.start_button.clicked.connect(self._on_start)
        self.pause_button.clicked.connect(self._on_pause)
        self.stop_button.clicked.connect(self._on_stop)
        self._update()

    # -- state -----------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def is_busy(self) -> bool:
        return self._state != "idle"

    def set_can_start(self, ok: bool, reason: str = "") -> None:
        """Whether Start is allowed when idle (e.g. the form is valid); ``reason`` becomes
        Start's tooltip when it is not."""
        self._can_start = bool(ok)
        self._start_reason = reason
        self._update()

    def set_running(self) -> None:
        """Enter ``running`` (the owner started work some other way, e.g. a menu)."""
        self._state = "running"
        self._started_at = time.perf_counter()
        self._update()

    def set_finished(self, message: str = "") -> None:
        """Back to ``idle``; ``message`` replaces the ETA text (e.g. "finished in 1:02")."""
        self._flush_progress()
        self._progress_timer.stop()
        self._latest = self._shown = None
        self._state = "idle"
        if self.progress.maximum() == 0:  # still busy with pre-training work
            self.progress.setRange(0, 1000)
            self.progress.setValue(0)
            self.progress.setFormat("")
        self.eta_label.setText(message)
        self._update()

    def set_progress(self, done: float, total: float, elapsed_s: float | None = None) -> None:
        """Show ``done/total`` and an ETA from the elapsed time (measured from Start when
        ``elapsed_s`` is None). Cheap to call per training step: the bar and the label are
        updated at most every ``PROGRESS_INTERVAL_MS``, always with the latest values."""
        if elapsed_s is None:
            elapsed_s = time.perf_counter() - self._started_at if self._started_at else 0.0
        self._latest = (done, total, elapsed_s)
        if not self._progress_timer.isActive():
            self._apply_progress()
            self._progress_timer.start()

    def _flush_progress(self) -> None:
        if self._latest is not None and self._latest != self._shown:
            self._apply_progress()
        else:
            self._progress_timer.stop()

    def _apply_progress(self) -> None:
        if self._latest is None:
            return
        done, total, elapsed_s = self._latest
        self._shown = self._latest
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        if elapsed_s is None:
            elapsed_s = time.perf_counter() - self._started_at if self._started_at else 0.0
        fraction = done / total if total and total > 0 else 0.0
        fraction = min(max(fraction, 0.0), 1.0)
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"{100 * fraction:.0f}%")
        eta = elapsed_s * (1 - fraction) / fraction if fraction > 0 else math.nan
        self.eta_label.setText(f"elapsed {format_duration(elapsed_s)}, ETA {format_duration(eta)}")

    def show_activity(self, message: str, done: int = 0, total: int = 0) -> None:
        """Work before the first step (loading the data): the bar shows that work's own
        progress (busy when ``total`` is 0, or once that work is done and training has not
        begun) and the label its message, never an ETA: a full bar would read as a
        finished run."""
        self._latest = self._shown = None
        self._progress_timer.stop()
        if 0 < total and done < total:
            self.progress.setRange(0, 1000)
            fraction = min(max(done / total, 0.0), 1.0)
            self.progress.setValue(int(round(fraction * 1000)))
            self.progress.setFormat(f"{100 * fraction:.0f}%")
        else:
            self.progress.setRange(0, 0)
        self.eta_label.setText(message[:60])

    def reset_progress(self) -> None:
        self._latest = self._shown = None
        self._progress_timer.stop()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.eta_label.setText("")

    # -- buttons ---------------------------------------------------------------------
    def _on_start(self) -> None:
        if self._state != "idle" or not self._can_start:
            return
        self.reset_progress()
        self.set_running()  # before emitting: a second click finds Start disabled
        self.start_requested.emit()

    def _on_pause(self) -> None:
        if self._state == "running":
            self._state = "paused"
            self._update()
            self.pause_requested.emit()
        elif self._state == "paused":
            self._state = "running"
            self._update()
            self.resume_requested.emit()

    def _on_stop(self) -> None:
        if self._state in ("running", "paused"):
            self._state = "stopping"
            self._update()
            self.stop_requested.emit()

    def _update(self) -> None:
        idle = self._state == "idle"
        self.start_button.setEnabled(idle and self._can_start)
        if idle and not self._can_start and self._start_reason:
            self.start_button.setToolTip(self._start_reason)
        else:
            self.start_button.setToolTip("Start training with these settings (Ctrl+Enter)")
        self.pause_button.setEnabled(self._state in ("running", "paused"))
        self.pause_button.setText("&Resume" if self._state == "paused" else "&Pause")
        self.stop_button.setEnabled(self._state in ("running", "paused"))
        if self._state == "stopping":
            self.eta_label.setText("stopping...")
