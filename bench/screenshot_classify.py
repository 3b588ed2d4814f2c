"""README screenshot of the Classify tab: a real photo classified, its heat-map on, and the
batch table filled with a few more sample photos (synthetic pictures when the samples are
absent). ``capture(path)`` is called by bench/screenshots.py; run alone it writes
/tmp/classify.png.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SAMPLES = HERE.parent.parent / "shared" / "data" / "imagenet-samples"
# The first one is shown large; the others fill the table.
FAVOURITES = (
    "n02119789_kit_fox.JPEG",
    "n02090622_borzoi.JPEG",
    "n02480495_orangutan.JPEG",
    "n01704323_triceratops.JPEG",
    "n03495258_harp.JPEG",
    "n07753592_banana.JPEG",
    "n02966193_carousel.JPEG",
    "n01833805_hummingbird.JPEG",
)


def _photos(tmp: pathlib.Path) -> list[pathlib.Path]:
    found = [SAMPLES / name for name in FAVOURITES if (SAMPLES / name).is_file()]
    if found:
        return found
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        path = tmp / f"synthetic_{i}.png"
        Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    return paths


def capture(path: pathlib.Path) -> None:
    from gui.app import make_application
    from gui.main_window import MainWindow

    app = make_application([])
    window = MainWindow(remember=False)
    window.resize(1280, 820)
    window.show()
    try:
        tab = window.select_tab("classify")
        tab.persist_recent = False  # neither show nor overwrite the user's recent images
        tab.recent.set_paths([])
        with tempfile.TemporaryDirectory(prefix="classify-shot-") as tmp:
            photos = _photos(pathlib.Path(tmp))
            tab.open_paths(photos)
            if not tab.wait_idle(120_000):
                raise RuntimeError("the Classify tab did not finish classifying in 2 minutes")
            tab.set_mark("reasonable")
            tab.heat_toggle.setChecked(True)
            tab.wait_idle(60_000)
            tab.table.clearFocus()
            for _ in range(10):
                app.processEvents()
            if not window.grab().save(str(path), "PNG"):
                raise OSError(f"cannot write {path}")
    finally:
        window.close()
        window.shutdown()


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/classify.png")
    capture(target)
    print(target)
