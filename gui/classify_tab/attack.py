"""The Classify tab's adversarial examples: ``AttackController``.

While the Attack tab is shown, every change of method, target, epsilon, steps or step
size re-runs the attack on the current photo in a worker (the previous run is
cancelled), and the panel shows the perturbed photo, the amplified perturbation, both
top-5s and Grad-CAM before and after. The adversarial photo is exported as a lossless
PNG and checked by classifying the written file again; the report figure puts the
original, the perturbed photo, the perturbation and both top-5s side by side.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from gui import dialogs
from gui.classify_tab import backend, lab_jobs
from gui.classify_tab.attack_panel import AttackPanel
from gui.classify_tab.current import fill_class_combo
from gui.classify_tab.imaging import heat_to_qimage, rgb_to_qimage
from gui.classify_tab.report import render_attack_report
from gui.classify_tab.slots import WorkerSlot
from gui.files import atomic_write_bytes, png_bytes

if TYPE_CHECKING:
    from gui.classify_tab.tab import ClassifyTab

UNTARGETED = -1
LIVE_DELAY_MS = 150  # a slider drag settles before the attack starts


def _percent(prediction: tuple[int, str, float]) -> str:
    return f"{prediction[1]} ({100 * prediction[2]:.1f}%)"


class AttackController(QObject):
    """The Attack tab of a ``ClassifyTab`` (see the module docstring)."""

    #: an attack's result is shown (its AttackResult)
    attack_shown = Signal(object)
    #: an exported adversarial PNG was classified again: (path, its top-5)
    verified = Signal(object, list)

    def __init__(self, tab: ClassifyTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.panel = AttackPanel()
        self.last: lab_jobs.AttackDone | None = None

        def failed(title: str):
            return lambda message, tb: tab.report_failure(title, message, tb)

        workers = lambda: tab.context.workers  # noqa: E731 - read when a worker starts
        self.slot = WorkerSlot(workers, "classify-attack", failed("The attack failed"), self)
        self.verify_slot = WorkerSlot(
            workers, "classify-verify", failed("Reading back failed"), self
        )
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(LIVE_DELAY_MS)
        self._timer.timeout.connect(self.run)
        panel = self.panel
        panel.method_combo.currentIndexChanged.connect(self._changed)
        panel.target_combo.activated.connect(self._changed)
        panel.epsilon_slider.valueChanged.connect(self._changed)
        panel.steps_spin.valueChanged.connect(self._changed)
        panel.step_spin.valueChanged.connect(self._changed)
        panel.live_button.clicked.connect(self.run)
        panel.progress.cancel_requested.connect(self.slot.cancel)
        panel.save_png_button.clicked.connect(self.save_png)
        panel.save_report_button.clicked.connect(self.save_report)
        panel.update_labels()
        self._update_buttons()

    @property
    def busy(self) -> bool:
        return self.slot.busy or self.verify_slot.busy

    def slots(self) -> tuple[WorkerSlot, ...]:
        return (self.slot, self.verify_slot)

    def _visible(self) -> bool:
        return self.tab.view.side_shown(self.panel)

    def detail_changed(self) -> None:
        """A new current image: offer its classes as targets, attack it if shown."""
        self.slot.cancel()
        self.last = None
        detail = self.tab.current.detail
        combo = self.panel.target_combo
        if detail is not None:
            fill_class_combo(combo, list(detail.top), self.tab.models.labels(), None)
            combo.insertItem(0, "untargeted: away from the top-1", UNTARGETED)
            combo.setCurrentIndex(0)
        for tile in (
            self.panel.perturbed,
            self.panel.perturbation,
            self.panel.heat_before,
            self.panel.heat_after,
        ):
            tile.set_picture(None, None, "")
        self.panel.chart_before.clear()
        self.panel.chart_after.clear()
        self._update_buttons()
        if detail is not None and self._visible():
            self._timer.start()

    def _changed(self, *_args: Any) -> None:
        self.panel.update_labels()
        if self._visible():
            self._timer.start()

    def settings(self) -> Any:
        panel = self.panel
        target = panel.target_combo.currentData()
        step = panel.step_spin.value()
        return backend.attack_settings(
            method=panel.method(),
            epsilon=panel.epsilon_levels() / 255.0,
            steps=panel.steps_spin.value(),
            step_size=step / 255.0 if step else None,
            target=None if target in (None, UNTARGETED) else int(target),
        )

    def run(self) -> None:
        """Attack the current photo with the panel's settings (cancelling a running one)."""
        self._timer.stop()
        detail, model = self.tab.current.detail, self.tab.models.model
        if detail is None or model is None:
            return
        try:
            settings = self.settings()
        except Exception as exc:
            self.panel.verdict.setText(str(exc))
            return
        self.panel.progress.start(f"{settings.method.upper()}...")
        factory = lab_jobs.attack_job(detail.key, detail.image, model, settings)
        self.slot.start(factory, self._on_item, lambda _s: self.panel.progress.finish())

    def _on_item(self, item: Any) -> None:
        if isinstance(item, lab_jobs.Progress):
            self.panel.progress.set_progress(item.done, item.total, item.text)
        elif isinstance(item, lab_jobs.LabError):
            self.panel.verdict.setText(item.message)
        elif isinstance(item, lab_jobs.AttackDone):
            self._show(item)

    def _show(self, done: lab_jobs.AttackDone) -> None:
        self.last = done
        result, panel = done.result, self.panel
        original, adversarial = rgb_to_qimage(result.original), rgb_to_qimage(result.adversarial)
        panel.perturbed.set_picture(adversarial, None, f"max change {result.linf}/255")
        panel.perturbation.set_picture(rgb_to_qimage(done.perturbation), None, "grey = unchanged")
        panel.heat_before.set_picture(
            original, heat_to_qimage(done.heat_before), f"for {done.before[0][1]}"
        )
        panel.heat_after.set_picture(
            adversarial, heat_to_qimage(done.heat_after), f"for {done.after[0][1]}"
        )
        for tile in (panel.heat_before, panel.heat_after):
            tile.view.set_opacity(self.tab.view.opacity_slider.value() / 100.0)
        panel.chart_before.set_predictions(list(done.before))
        panel.chart_after.set_predictions(list(done.after))
        panel.verdict.setText(self.describe(done))
        self._update_buttons()
        self.attack_shown.emit(result)

    def describe(self, done: lab_jobs.AttackDone) -> str:
        result = done.result
        levels = round(result.epsilon * 255)
        what = "FGSM" if result.method == "fgsm" else f"PGD ({result.steps} steps)"
        text = f"{what}, \u03b5 = {levels}/255: {_percent(done.before[0])} \u2192 "
        text += _percent(done.after[0])
        if result.target is not None:
            label = self.tab.models.label(result.target)
            text += f"; target {label} " + ("reached" if result.reached_target else "not reached")
        elif result.flipped:
            text += ": the top-1 class changed"
        else:
            text += ": the top-1 class held; try a larger \u03b5 or PGD"
        return text + ". Judged on the 8-bit pixels a PNG keeps."

    def _update_buttons(self) -> None:
        ready = self.last is not None
        self.panel.save_png_button.setEnabled(ready)
        self.panel.save_report_button.setEnabled(ready)

    # -- exports -------------------------------------------------------------------------
    def _default_name(self, suffix: str) -> str:
        source = self.tab.current.source
        stem = Path(source.name).stem if source is not None else "photo"
        stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "photo"
        result = self.last.result if self.last is not None else None
        tag = f"{result.method}_eps{round(result.epsilon * 255)}" if result else "attack"
        return f"{stem}_{tag}{suffix}.png"

    def _ask_path(self, title: str, name: str) -> Path | None:
        asked = self.tab._ask_save_path(title, name)
        if asked is None:
            return None
        return asked if asked.suffix.lower() == ".png" else asked.with_name(asked.name + ".png")

    def save_png(self) -> None:
        """Export the adversarial photo as a lossless PNG, then classify the file again."""
        done, detail, model = self.last, self.tab.current.detail, self.tab.models.model
        if done is None or detail is None or model is None:
            return
        path = self._ask_path("Save Adversarial Image", self._default_name(""))
        if path is None:
            return
        try:
            written = atomic_write_bytes(
                path, backend.adversarial_png(model, detail.image, done.result)
            )
        except OSError as exc:
            dialogs.show_error(self.tab, "Not saved", f"cannot write {path}: {exc.strerror or exc}")
            return
        self.tab.status_message.emit(f"Saved {written}; reading it back...", 5000)
        self.verify_slot.start(lab_jobs.verify_job(written, model), self._on_verified)

    def _on_verified(self, item: Any) -> None:
        if isinstance(item, lab_jobs.LabError):
            self.panel.verdict.setText(item.message)
            return
        top = list(item.top)
        expected = self.last.after[0][0] if self.last is not None else None
        same = bool(top) and top[0][0] == expected
        verdict = "still fools the model" if same else "is classified differently"
        self.panel.verdict.setText(
            f"Saved {item.path.name}: read back from the file it {verdict}: {_percent(top[0])}."
        )
        self.verified.emit(item.path, top)

    def save_report(self) -> None:
        done = self.last
        if done is None:
            return
        path = self._ask_path("Save Attack Report Figure", self._default_name("_report"))
        if path is None:
            return
        source = self.tab.current.source
        figure = render_attack_report(
            done.result.original,
            done.result.adversarial,
            done.perturbation,
            list(done.before),
            list(done.after),
            f"Adversarial example: {done.before[0][1]} \u2192 {done.after[0][1]}",
            f"{source.name if source else ''} \u00b7 {self.tab.models.title} \u00b7 "
            + self.describe(done),
        )
        try:
            written = atomic_write_bytes(path, png_bytes(figure))
        except OSError as exc:
            dialogs.show_error(self.tab, "Not saved", f"cannot write {path}: {exc.strerror or exc}")
            return
        self.tab.status_message.emit(f"Wrote {written}", 8000)
