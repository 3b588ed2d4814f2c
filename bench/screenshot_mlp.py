"""README screenshot of the "Two-layer net" tab: two short real runs overlaid.

Uses the extracted CIFAR-10 JPEG folder (``$CIFAR10_FOLDER``, else ``/work/cifar`` or
``/work/data``, the images in ``train/<class>/``) when there is one, else a small synthetic
image folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import cifar_folder  # noqa: E402

# Two short runs to compare: the tuned preset cut to a few epochs, then a smaller
# learning rate and a narrower hidden layer.
RUNS = (
    {"num_epochs": "4"},
    {"num_epochs": "4", "learning_rate": "5e-4", "hidden_dim": "256"},
)


def _synthetic(root: Path) -> Path:
    from tests.gui.mlp_tab_setup import make_folder

    return make_folder(root, n_train=150, n_test=30, size=32)


def _wait(app, condition, timeout_s: float) -> None:
    """Run the event loop (sleeping between events) until ``condition()`` holds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: loop.quit() if condition() else None)
    poll.start(20)
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the tab did not get there in time")
        loop.exec()
    poll.stop()


def capture(path: Path) -> None:
    from gui.app import make_application
    from gui.main_window import MainWindow

    app = make_application([])
    window = MainWindow(remember=False)
    window.resize(1280, 820)
    window.show()
    tmp = None
    try:
        tab = window.select_tab("mlp")
        real = cifar_folder()
        if real is not None:
            root = real
        else:
            tmp = tempfile.TemporaryDirectory(prefix="bpe-mlp-shot-")
            root = _synthetic(Path(tmp.name))
        tab.data_panel.set_source("folder", root)
        _wait(app, lambda: tab.data_panel.info is not None, 60)
        done: list[int] = []
        tab.training_done.connect(lambda run_id, _status: done.append(run_id))
        for count, fields in enumerate(RUNS, start=1):
            tab.form.apply_preset("tuned")
            for name, text in fields.items():
                tab.form.set_field(name, text)
            tab.controls.start_button.click()
            _wait(app, lambda n=count: len(done) >= n, 600)
        tab.runs_view.select_run(tab.runs.runs()[0].run_id)
        tab.prepare_screenshot()
        for _ in range(10):
            app.processEvents()
        if not window.grab().save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
    finally:
        window.shutdown()  # first: closing with unsaved runs would ask Save/Discard/Cancel
        window.close()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "mlp.png")
    capture(target)
    print(target)
