"""The CNN tab's architecture files: open and save the layer list as JSON, and export
or copy it as PyTorch source (a mixin of ``CnnTab``; uses its ``arch_model``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication

from gui import dialogs
from gui.files import atomic_write_bytes
from gui.training.run_files import with_suffix
from nets.cnn.arch import load_architecture, save_architecture
from nets.errors import NetsError

ARCH_FILTER = "CNN architecture (*.json)"
SOURCE_FILTER = "Python source (*.py)"
ARCH_KIND = "cnn-architecture"


class ArchitectureFiles:
    """Mixin: ``open_architecture``, ``save_architecture``, ``pytorch_source``,
    ``export_source``, ``copy_source``."""

    def _error(self, title: str, message: str) -> None:
        self.status_message.emit(message, 8000)
        dialogs.show_error(self, title, message)

    def _arch_path(self, title: str, filters: str, name: str, suffix: str) -> Path | None:
        chosen = self._ask_save_path(title, filters, str(self._folder(ARCH_KIND) / name))
        if not chosen:
            return None
        path = with_suffix(chosen, (suffix,))
        self._remember(ARCH_KIND, path.parent)
        return path

    def open_architecture(self, path: Path | None = None) -> bool:
        if path is None:
            chosen = self._ask_open_path(
                "Open architecture", ARCH_FILTER, str(self._folder(ARCH_KIND))
            )
            if not chosen:
                return False
            path = Path(chosen)
            self._remember(ARCH_KIND, path.parent)
        try:
            layers = load_architecture(path)
        except NetsError as exc:
            self._error("Cannot open the architecture", str(exc))
            return False
        self.arch_model.replace_all(layers, Path(path).stem, f"Open {Path(path).name}")
        self.setup_tabs.setCurrentIndex(0)
        self.status_message.emit(f"Opened architecture {path}", 5000)
        return True

    def save_architecture(self) -> bool:
        path = self._arch_path("Save architecture", ARCH_FILTER, "architecture.json", ".json")
        if path is None:
            return False
        try:
            save_architecture(path, self.arch_model.layers, self.arch_model.name)
        except NetsError as exc:
            self._error("Cannot save the architecture", str(exc))
            return False
        self.status_message.emit(f"Saved architecture to {path}", 5000)
        return True

    def pytorch_source(self) -> str:
        """The architecture as an ``nn.Module`` class (with the selected model's
        normalisation in its docstring when it has the same architecture)."""
        from nets.cnn.model import to_pytorch_source

        normalization = None
        class_names = self.data_panel.class_names() or None
        trained = self.model_of(self.selected_run())
        if trained is not None and tuple(trained.arch) == tuple(self.arch_model.layers):
            normalization = (trained.mean, trained.std)
            class_names = trained.class_names
        return to_pytorch_source(
            self.arch_model.layers,
            self.arch_model.input_shape,
            self.arch_model.num_classes,
            normalization=normalization,
            class_names=class_names,
        )

    def export_source(self) -> bool:
        try:
            source = self.pytorch_source()
        except NetsError as exc:
            self._error("Cannot export the architecture", str(exc))
            return False
        path = self._arch_path("Export PyTorch source", SOURCE_FILTER, "cnn_model.py", ".py")
        if path is None:
            return False
        try:
            atomic_write_bytes(path, source.encode("utf-8"))
        except OSError as exc:
            self._error(
                "Cannot export the architecture", f"cannot write {path}: {exc.strerror or exc}"
            )
            return False
        self.status_message.emit(f"Exported the model class to {path}", 5000)
        return True

    def copy_source(self) -> bool:
        try:
            source = self.pytorch_source()
        except NetsError as exc:
            self._error("Cannot copy the architecture", str(exc))
            return False
        QGuiApplication.clipboard().setText(source)
        self.status_message.emit("Copied the nn.Module source code to the clipboard", 4000)
        return True
