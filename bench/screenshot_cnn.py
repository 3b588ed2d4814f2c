"""README screenshot of the CNN tab mid-run: a real short training on Fashion-MNIST (or a
small generated image folder when Fashion-MNIST is absent), grabbed while the loss and
accuracy curves are growing.

    python bench/screenshot_cnn.py [OUT.png]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _synthetic_folder(root: Path) -> Path:
    """Three classes of 28x28 stripe patterns, 200 train and 40 test images each."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 200), ("test", 40)):
        for k, name in enumerate(("horizontal", "vertical", "diagonal")):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 90, (28, 28)).astype(np.uint8)
                if k == 0:
                    img[::4, :] = 255
                elif k == 1:
                    img[:, ::4] = 255
                else:
                    img[np.eye(28, dtype=bool)] = 255
                Image.fromarray(img).save(folder / f"{i}.png")
    return root


def _pump(app, seconds: float = 0.05) -> None:
    from PySide6.QtCore import QEventLoop

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def _start(tab) -> None:
    problems = tab.problems()
    if problems:
        raise RuntimeError(f"cannot start the screenshot run: {problems[0]}")
    tab.controls.start_button.click()


def capture(path: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import make_application
    from gui.main_window import MainWindow

    app = make_application([])
    window = MainWindow(remember=False)
    window.resize(1280, 820)
    window.show()
    tmp = None
    try:
        tab = window.select_tab("cnn")
        if (FASHION / "train-images-idx3-ubyte.gz").is_file():
            tab.data_panel.set_spec("fashion-mnist")
            train, epochs = 12_000, 2
        else:
            tmp = tempfile.TemporaryDirectory(prefix="bpe-cnn-shot-")
            tab.data_panel.set_spec(f"folder:{_synthetic_folder(Path(tmp.name))}")
            tab.data_panel.size_field.set_value(28)
            train, epochs = None, 6
        tab.data_panel.probe_now()
        deadline = time.perf_counter() + 30
        while tab.data_panel.info is None and time.perf_counter() < deadline:
            _pump(app)
        if train is not None:
            tab.data_panel.val_field.set_value(5_000)
            tab.data_panel.train_field.set_value(train)
        # A finished run of the seed's small network first, to show the runs overlay...
        tab.apply_preset("seed")
        tab.settings_panel.epochs_field.set_value(1)
        _start(tab)
        deadline = time.perf_counter() + 600
        while tab.is_busy() and time.perf_counter() < deadline:
            _pump(app, 0.1)
        tab.runs.rename(tab.runs.runs()[-1].run_id, "seed net")
        # ...then the default network, grabbed mid-run.
        tab.apply_preset("default")
        tab.settings_panel.epochs_field.set_value(epochs)
        tab.editor.select_row(0)
        _start(tab)
        run = tab.runs.runs()[-1]
        tab.runs.rename(run.run_id, "default net")
        # Grab once the curves have shape: past 60% of the run, with accuracy points.
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline and tab.is_busy():
            payload = run.payload
            total = payload.total_iterations if payload is not None else 0
            if total and run.metrics.num_steps >= 0.6 * total and run.metrics.num_epochs >= 5:
                break
            _pump(app, 0.1)
        tab.plots.refresh()
        _pump(app, 0.3)
        _pump(app, 0.1)
        if not window.grab().save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        tab.stop_training()
        deadline = time.perf_counter() + 30
        while tab.is_busy() and time.perf_counter() < deadline:
            _pump(app)
    finally:
        window.shutdown()  # first: closing with unsaved runs would ask Save/Discard/Cancel
        window.close()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("cnn.png")
    capture(target)
    print(target)
