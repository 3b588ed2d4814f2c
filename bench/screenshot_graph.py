"""README screenshot of the Graph tab: f3 (softmax cross-entropy) mid backward pass.

The forward pass is complete and four backward steps are done, so the picture shows
values, the gradients computed so far, the current node with its highlighted edges,
the step explanation and the fan-out sums.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BACKWARD_STEPS = 5


def capture(path: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from assets import asset_path
    from gui.app import make_application
    from gui.main_window import MainWindow

    app = make_application([])
    window = MainWindow(remember=False)
    window.resize(1280, 820)
    window.show()
    try:
        tab = window.select_tab("graph")
        tab.banner.hide()  # never show a crash-restore offer in a README picture
        if not tab.open_file(asset_path("graphs", "f3.json")):
            raise RuntimeError("cannot open assets/graphs/f3.json")
        while tab.steps.step_forward() is not None:
            pass
        for _ in range(BACKWARD_STEPS):
            tab.steps.step_backward()
        for _ in range(5):
            app.processEvents()
        tab.view.fit()
        tab.view.settle()
        QApplication.processEvents()
        if not window.grab().save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
    finally:
        window.close()
        window.shutdown()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("graph.png")
    capture(target)
    print(target)
