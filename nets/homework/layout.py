"""The homework's starter-code layout: which files hold which functions, and finding them.

A PATH is one of the files or a folder: the homework's own layout
(``backprop/functions.py``, ``neuralnet/layers.py``...), or the flat folder the Canvas
submission asks for (``functions.py``, ``layers.py``... side by side), or a folder one
level above either (a zip extracted into ``username/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nets.errors import NetsError

#: file name -> (its place in the starter code, the functions it holds), in check order.
HOMEWORK_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "functions.py": ("backprop/functions.py", ("f1", "f2", "f3", "f4")),
    "layers.py": (
        "neuralnet/layers.py",
        (
            "fc_forward",
            "fc_backward",
            "relu_forward",
            "relu_backward",
            "l2_loss",
            "softmax_loss",
            "l2_regularization",
        ),
    ),
    "two_layer_net.py": ("neuralnet/two_layer_net.py", ("TwoLayerNet",)),
    "train.py": ("neuralnet/train.py", ("training_step",)),
}
#: Read by the files above but not checked (the starter code's, not the student's work).
SUPPORT_FILES = ("classifier.py",)


class HomeworkError(NetsError):
    """A PATH that is not (or holds no) homework file."""


@dataclass(frozen=True)
class HomeworkFiles:
    """The homework files found: file name (``"layers.py"``) -> path."""

    files: dict[str, Path]

    @property
    def folders(self) -> list[Path]:
        """The folders to put on the import path, in a stable order, each once."""
        out: list[Path] = []
        for path in self.files.values():
            if path.parent not in out:
                out.append(path.parent)
        return out

    def functions(self) -> list[tuple[str, str]]:
        """(file name, function) for every function the found files should hold."""
        return [
            (name, fn)
            for name, (_, fns) in HOMEWORK_FILES.items()
            if name in self.files
            for fn in fns
        ]


def _expected() -> str:
    return ", ".join(place for place, _ in HOMEWORK_FILES.values())


def _search_folder(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    bases = [folder] + sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    for name, (place, _) in HOMEWORK_FILES.items():
        for base in bases:
            hit = next((c for c in (base / place, base / name) if c.is_file()), None)
            if hit is not None:
                found[name] = hit.resolve()
                break
    return found


def find_homework(paths: Sequence[Path | str]) -> HomeworkFiles:
    """Resolve the command line's PATHs. Raises HomeworkError naming the PATH at fault."""
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            try:
                hits = _search_folder(path)
            except OSError as exc:
                raise HomeworkError(f"{path}: cannot read the folder ({exc.strerror})") from None
            if not hits:
                raise HomeworkError(
                    f"{path}: no homework files in this folder (looked for {_expected()})"
                )
            found.update(hits)
        elif path.is_file():
            if path.name not in HOMEWORK_FILES:
                raise HomeworkError(
                    f"{path}: not one of the homework's files "
                    f"({', '.join(HOMEWORK_FILES)}; "
                    f"{', '.join(SUPPORT_FILES)} is read, not checked)"
                )
            found[path.name] = path.resolve()
        elif path.exists():
            raise HomeworkError(f"{path}: not a file or folder")
        else:
            raise HomeworkError(f"{path}: no such file or folder")
    if not found:
        raise HomeworkError("no homework files given")
    return HomeworkFiles(found)
