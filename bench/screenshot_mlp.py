"""README screenshot of the "Two-layer net" tab: two short real runs overlaid.

Uses the extracted CIFAR-10 JPEG folder (``$CIFAR10_FOLDER``, else ``/work/cifar`` or
``/work/data``, the images in ``train/<class>/``) when there is one, else a small synthetic
image folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import cifar_folder, open_main_window, wait_until  # noqa: E402

# Two short runs to compare: the tuned preset cut to a few epochs, then a smaller
# learning rate and a narrower hidden layer.
RUNS = (
    {"num_epochs": "4"},
    {"num_epochs": "4", "learning_rate": "5e-4", "hidden_dim": "256"},
)


def _synthetic(root: Path) -> Path:
    from tests.gui.mlp_tab_setup import make_folder

    return make_folder(root, n_train=150, n_test=30, size=32)


def capture(path: Path) -> None:

    app, window = open_main_window(1280, 820)
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
        wait_until(lambda: tab.data_panel.info is not None, f"the data panel to find {root}", 60)
        done: list[int] = []
        tab.training_done.connect(lambda run_id, _status: done.append(run_id))
        for count, fields in enumerate(RUNS, start=1):
            tab.form.apply_preset("tuned")
            for name, text in fields.items():
                tab.form.set_field(name, text)
            tab.controls.start_button.click()
            wait_until(
                lambda n=count: len(done) >= n,
                lambda n=count: f"run {n} to end (the tab says {tab.status_label.text()!r})",
                600,
            )
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
