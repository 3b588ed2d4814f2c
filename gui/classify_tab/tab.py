"""The Classify tab: drop photos on a pretrained ImageNet model (the seed's Task 6).

For the current image it shows the photo, the exact tensor the model received
(de-normalised), a top-5 bar chart, and a Grad-CAM heat-map for any class; for many
images a table filled in progressively by a worker. Images can be marked "reasonable"
or "unreasonable" and exported as report figures. The lab beside the table explains the
current photo with seven attribution methods, checks them by randomising the model, and
attacks it with FGSM or PGD.

The tab is a view and controllers, as the Graph tab is: ``view.ClassifyView`` holds the
widgets; ``models`` (the current model), ``batch`` (the table's images), ``current``
(the detail view and heat-map), ``marks`` (marks and report export), ``explain`` (the
attribution grid and the sanity check) and ``attack`` (adversarial examples) each own
their state and workers. ``ClassifyTab`` wires them, and owns actions, menus, drops, the
clipboard and the recent images.

All model work (loading, classifying, Grad-CAM) runs in workers; torch is imported the
first time a model is needed, never when the tab is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui import dialogs, file_dialogs
from gui.classify_tab import jobs
from gui.classify_tab.attack import AttackController
from gui.classify_tab.batch import BatchController
from gui.classify_tab.batch_table import REASONABLE, UNREASONABLE
from gui.classify_tab.current import CurrentImage
from gui.classify_tab.explain import ExplainController
from gui.classify_tab.imaging import rgb_to_qimage
from gui.classify_tab.marks import Marks
from gui.classify_tab.models import ModelController
from gui.classify_tab.recent_strip import MAX_RECENT
from gui.classify_tab.slots import WorkerSlot
from gui.classify_tab.view import ClassifyView
from gui.files import png_bytes
from gui.tab_base import AppContext, AppTab

RECENT_KEY = "classify/recent"


def _image_filter() -> str:
    from nets.images import IMAGE_EXTENSIONS

    patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
    return f"Images ({patterns});;All files (*)"


class ClassifyTab(AppTab):
    """Classify photos with a pretrained ImageNet model; see the module docstring."""

    tab_id = "classify"
    title = "Classify"

    #: False keeps the recent-images list out of the settings (screenshots, benchmarks)
    persist_recent = True
    #: load the current model this long after the tab is first shown (None: on first use)
    warm_up_delay_ms: int | None = 600

    #: the registry name of a model that just became the current one
    model_ready = Signal(str)
    #: the key of the image now shown in the detail view (its chart is filled)
    detail_shown = Signal(str)
    #: (image key, class index) of the heat-map now painted
    heat_shown = Signal(str, int)
    #: a batch worker ended: "finished" | "cancelled" | "failed"
    batch_done = Signal(str)
    #: report figures written (their paths)
    report_exported = Signal(list)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("classifyTab")
        self.setAcceptDrops(True)
        self.view = ClassifyView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        # The widgets tests and scripts reach for, under their familiar names.
        view = self.view
        self.model_picker, self.photo_view, self.input_view = (
            view.model_picker,
            view.photo_view,
            view.input_view,
        )
        self.input_caption, self.chart, self.table, self.table_model = (
            view.input_caption,
            view.chart,
            view.table,
            view.table_model,
        )
        self.heat_toggle, self.class_combo, self.opacity_slider = (
            view.heat_toggle,
            view.class_combo,
            view.opacity_slider,
        )
        self.reasonable_button, self.unreasonable_button = (
            view.reasonable_button,
            view.unreasonable_button,
        )
        self.batch_label, self.cancel_batch_button = view.batch_label, view.cancel_batch_button
        self.rerun_button, self.clear_button = view.rerun_button, view.clear_button
        self.export_button, self.recent = view.export_button, view.recent
        self._paste_count = 0
        self._recent_thumbs_loaded = False

        self._build_actions()
        self.models = ModelController(self)
        self.batch = BatchController(self)
        self.current = CurrentImage(self)
        self.marks = Marks(self)
        self.explain = ExplainController(self)
        self.attack = AttackController(self)
        view.add_side(self.explain.panel, "Explain")
        view.add_side(self.explain.sanity_panel, "Sanity check")
        view.add_side(self.attack.panel, "Attack")
        # A recent file that is gone just has no icon: failures are not reported.
        self._thumbs = WorkerSlot(
            lambda: context.workers, "classify-thumbs", lambda _m, _t: None, self
        )
        self._connect()
        self.models.refresh()
        self._load_recent()
        self.update_enabled()

    # == building ========================================================================
    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut: QKeySequence | str | None = None) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            return act

        self.open_action = action(
            "&Open Images...", self.open_images, QKeySequence.StandardKey.Open
        )
        self.open_folder_action = action("Open &Folder...", self.open_folder, "Ctrl+Shift+O")
        self.export_action = action("&Export Report Figures...", self.export_report, "Ctrl+E")
        self.weights_action = action(
            "Load &Weights File...",
            lambda: self.models.choose_weights(self.model_picker.chosen_name()),
        )
        self.paste_action = action("&Paste Image", self.paste, QKeySequence.StandardKey.Paste)
        self.mark_reasonable_action = action(
            "Mark &Reasonable", lambda: self.set_mark(REASONABLE, toggle=True), "R"
        )
        self.mark_unreasonable_action = action(
            "Mark &Unreasonable", lambda: self.set_mark(UNREASONABLE, toggle=True), "U"
        )
        self.rerun_action = action("Classify All &Again", self.classify_again)
        self.clear_action = action("&Clear Images", self.clear_images)
        self.heat_action = QAction("Show &Heat-map", self, checkable=True)
        self.heat_action.setShortcut(QKeySequence("H"))
        self.heat_action.toggled.connect(self.heat_toggle.setChecked)
        # Single-key shortcuts must not fire while the class combo is being typed in;
        # the menu bar owns them only while this tab is current.
        for act in (self.mark_reasonable_action, self.mark_unreasonable_action, self.heat_action):
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(act)

    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return [
                self.open_action,
                self.open_folder_action,
                None,
                self.weights_action,
                None,
                self.export_action,
            ]
        if menu == "Edit":
            return [
                self.paste_action,
                None,
                self.mark_reasonable_action,
                self.mark_unreasonable_action,
                None,
                self.rerun_action,
                self.clear_action,
            ]
        if menu == "View":
            return [self.heat_action]
        return []

    def _connect(self) -> None:
        self.models.ready.connect(self._on_model_ready)
        self.models.unavailable.connect(self._on_model_unavailable)
        self.batch.done.connect(self.batch_done)
        self.current.detail_shown.connect(self._on_detail_shown)
        self.view.side_tabs.currentChanged.connect(self._on_side_tab)
        self.current.heat_shown.connect(self.heat_shown)
        self.marks.exported.connect(self.report_exported)
        self.cancel_batch_button.clicked.connect(self.cancel_batch)
        self.rerun_button.clicked.connect(self.classify_again)
        self.clear_button.clicked.connect(self.clear_images)
        self.recent.path_clicked.connect(lambda path: self.open_paths([path]))

    def _on_model_ready(self, name: str) -> None:
        self.current.model_changed()
        self.batch.model_ready()
        self.update_enabled()
        self.model_ready.emit(name)

    def _on_detail_shown(self, key: str) -> None:
        self.explain.detail_changed()
        self.attack.detail_changed()
        self.detail_shown.emit(key)

    def _on_side_tab(self, _index: int) -> None:
        # The labs compute for the current photo when their tab is opened.
        if self.view.side_shown(self.explain.panel):
            self.explain.run()
        elif self.view.side_shown(self.attack.panel) and self.attack.last is None:
            self.attack.run()

    def _on_model_unavailable(self, message: str) -> None:
        self.batch.model_unavailable()
        self.current.model_unavailable(message)

    # == AppTab ==========================================================================
    def accepts_path(self, path: Path) -> bool:
        from nets.images import is_image_path

        return path.is_dir() or is_image_path(path)

    def open_paths(self, paths: list[Path]) -> None:
        """Classify dropped or opened files and folders; the first becomes current."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        self.batch.select_first_found = True
        self.batch.submit(paths)

    def test_state(self) -> dict:
        """For the real-window tests' hook: the image shown and the results table."""
        m = self.table_model
        return {
            "image": self.view.name_label.text(),
            "current": self.current_key(),
            "idle": self.is_idle(),
            "heat_on_photo": self.photo_view.heat_shown(),
            "heat_on_input": self.input_view.heat_shown(),
            "rows": [
                [m.data(m.index(r, c)) for c in range(m.columnCount())] for r in range(m.rowCount())
            ],
        }

    def shutdown(self) -> None:
        for slot in self._slots():
            slot.cancel()
        self._save_recent()

    def prepare_screenshot(self) -> None:
        """Wait (up to a minute) for the open images, then show the top-1 heat-map."""
        self.wait_idle(60_000)
        if self.current.detail is not None:
            self.heat_toggle.setChecked(True)
            self.wait_idle(30_000)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._recent_thumbs_loaded:
            self._recent_thumbs_loaded = True
            QTimer.singleShot(0, self._load_recent_thumbnails)
            if self.warm_up_delay_ms is not None:
                QTimer.singleShot(self.warm_up_delay_ms, self._warm_up)

    def _warm_up(self) -> None:
        # Importing torch holds the GIL for a few hundred milliseconds, which freezes the
        # GUI. Doing it once the tab is on screen, before anything is dropped, keeps that
        # pause away from the drop and the progressive results that follow it.
        if self.isVisible():
            self.models.ensure()

    # == the controllers' public faces ===================================================
    def load_model(self, name: str, weights: Path | None = None) -> None:
        self.models.load(name, weights)

    def set_model(self, name: str, model: Any, weights: str | None = None) -> None:
        """Use an already loaded ``model`` (tests, benchmarks); same as a finished load."""
        self.models.set_model(name, model, weights)
        self.update_enabled()

    def cancel_load(self) -> None:
        self.models.cancel()

    def cancel_batch(self) -> None:
        self.batch.cancel()

    def classify_again(self) -> None:
        """Classify every image of the table again (e.g. with another model)."""
        self.batch.classify_again()
        if self.models.model is not None:
            self.current.start()

    def clear_images(self) -> None:
        self.batch.clear()
        self.current.clear()
        self.explain.detail_changed()
        self.attack.detail_changed()
        self.update_enabled()

    def current_key(self) -> str | None:
        return self.current.key()

    def current_detail(self) -> jobs.Detail | None:
        return self.current.detail

    def selected_class(self) -> int | None:
        return self.current.selected_class()

    def choose_class(self, index: int) -> None:
        """Show the heat-map of ImageNet class ``index`` (turns the heat-map on)."""
        self.current.choose_class(index)

    def set_mark(self, mark: str | None, toggle: bool = False) -> None:
        self.marks.set(mark, toggle)

    def marked_rows(self):
        return self.marks.marked_rows()

    def export_report(self) -> None:
        self.marks.export()

    # == drops, files, clipboard =========================================================
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or mime.hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            # Every dropped file goes in, whatever its name: the content decides, and a
            # file that is not an image gets its own row with the reason.
            QTimer.singleShot(0, lambda: self.open_paths(paths))
        elif mime.hasImage():
            event.acceptProposedAction()
            image = QImage(mime.imageData())
            QTimer.singleShot(0, lambda: self.classify_qimage(image, "dropped image"))
        else:
            event.ignore()

    def _ask_open_paths(self) -> list[Path]:
        settings = self.context.settings
        return file_dialogs.open_files(self, settings, "images", "Open Images", _image_filter())

    def _ask_open_folder(self) -> Path | None:
        settings = self.context.settings
        return file_dialogs.open_folder(self, settings, "images", "Open Folder of Images")

    def _ask_export_dir(self) -> Path | None:
        settings = self.context.settings
        return file_dialogs.open_folder(self, settings, "report", "Export Report Figures To")

    def _ask_weights_path(self, arch_title: str) -> Path | None:
        return file_dialogs.open_file(
            self,
            self.context.settings,
            "weights",
            f"Weights File for {arch_title}",
            "PyTorch weights (*.pth *.pt *.bin *.ckpt);;All files (*)",
        )

    def _ask_save_path(self, title: str, name: str) -> Path | None:
        settings = self.context.settings
        return file_dialogs.save_file(self, settings, "figure", title, name, "PNG images (*.png)")

    def open_images(self) -> None:
        paths = self._ask_open_paths()
        if paths:
            self.open_paths(paths)

    def open_folder(self) -> None:
        folder = self._ask_open_folder()
        if folder is not None:
            self.open_paths([folder])

    def paste(self) -> None:
        """Ctrl+V: an image on the clipboard, or copied image files."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            self.status_message.emit("The clipboard is empty", 5000)
            return
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if files:
            self.open_paths(files)
        elif mime.hasImage():
            self.classify_qimage(QImage(mime.imageData()), "pasted image")
        else:
            self.status_message.emit("The clipboard holds no image and no image files", 6000)

    def classify_qimage(self, image: QImage, what: str = "pasted image") -> None:
        """Classify an in-memory image (clipboard, dragged from a browser)."""
        if image.isNull():
            self.status_message.emit(f"The {what} is empty or unreadable", 6000)
            return
        self._paste_count += 1
        name = f"{what} {self._paste_count}.png"
        try:
            data = png_bytes(image)
        except OSError as exc:
            self.status_message.emit(f"Cannot use the {what}: {exc}", 8000)
            return
        source = jobs.Source(key=f"pasted:{self._paste_count}", name=name, data=data)
        self.batch.add_sources([source])
        self.batch.submit((source,))
        self.current.show(source)

    # == recent images ===================================================================
    def _load_recent(self) -> None:
        value = self.context.settings.value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value]
        paths = [Path(v) for v in (value or []) if isinstance(v, str) and v]
        self.recent.set_paths([p for p in paths if p.is_file()][:MAX_RECENT])

    def _save_recent(self) -> None:
        if self.persist_recent:
            self.context.settings.setValue(RECENT_KEY, [str(p) for p in self.recent.paths()])

    def push_recent(self, path: Path, photo) -> None:
        self.recent.push(path)
        small = rgb_to_qimage(photo).scaled(
            120,
            120,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.recent.set_thumbnail(path, QPixmap.fromImage(small))
        self._save_recent()

    def _load_recent_thumbnails(self) -> None:
        missing = self.recent.missing_thumbnails()
        if not missing or self._thumbs.busy:
            return
        self._thumbs.start(
            jobs.thumbnails_job(missing),
            lambda item: self.recent.set_thumbnail(
                item.path, QPixmap.fromImage(rgb_to_qimage(item.thumb))
            ),
        )

    # == state ===========================================================================
    def _slots(self):
        return (
            self.models.slot,
            self.batch.slot,
            self.current.detail_slot,
            self.current.heat_slot,
            self.marks.slot,
            self._thumbs,
            *self.explain.slots(),
            *self.attack.slots(),
        )

    def is_idle(self) -> bool:
        """No load, batch, detail, heat-map, lab or export work running."""
        return not any(slot.busy for slot in self._slots()) and not self.batch.waiting

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Run the event loop until the tab is idle (screenshots, scripts); True if it is."""
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: loop.quit() if self.is_idle() else None)
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        timer.start()
        deadline.start(timeout_ms)
        if not self.is_idle():
            loop.exec()
        timer.stop()
        deadline.stop()
        return self.is_idle()

    def update_enabled(self) -> None:
        """Enable what applies to the current image, the table and the running work."""
        has_detail = self.current.detail is not None
        key = self.current.key()
        in_table = key is not None and self.table_model.find(key) >= 0
        for widget in (
            self.reasonable_button,
            self.unreasonable_button,
            self.mark_reasonable_action,
            self.mark_unreasonable_action,
        ):
            widget.setEnabled(has_detail and in_table)
        self.class_combo.setEnabled(has_detail)
        has_rows = self.table_model.rowCount() > 0
        self.export_button.setEnabled(bool(self.marks.marked_rows()) and not self.marks.slot.busy)
        self.export_action.setEnabled(self.export_button.isEnabled())
        idle_batch = not self.batch.slot.busy
        self.rerun_button.setEnabled(has_rows and idle_batch)
        self.rerun_action.setEnabled(has_rows and idle_batch)
        self.clear_button.setEnabled(has_rows)
        self.clear_action.setEnabled(has_rows)
        self.batch.update_label()

    def report_failure(self, title: str, message: str, traceback_text: str) -> None:
        """An unexpected error in a worker: the message, with the traceback as detail."""
        self.status_message.emit(f"{title}: {message}", 10000)
        dialogs.show_error(self, title, message, traceback_text)
