"""Dataset specs: the one-line names the command line and the GUI use for a dataset.

Accepted forms::

    cifar10[:DIR]          the cifar-10-batches-py pickles (in DIR or DIR/cifar-10-batches-py)
    fashion-mnist[:DIR]    the four IDX files, gzipped or raw
    folder:DIR             DIR/train/<class>/<images> and optionally DIR/test/<class>/<images>

Without DIR, CIFAR-10 and Fashion-MNIST are looked for in the standard places (see
``default_locations``); a download goes to the app's data folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nets.errors import DataError
from nets.fileio import user_data_folder

DatasetKind = Literal["cifar10", "fashion-mnist", "folder"]

ACCEPTED_FORMS = "cifar10[:DIR], fashion-mnist[:DIR] or folder:DIR"

# Debian's dataset-fashion-mnist package installs the IDX files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_ALIASES: dict[str, DatasetKind] = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "fashion-mnist": "fashion-mnist",
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "folder": "folder",
}


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed dataset spec.

    ``path`` is None when the spec named no folder (CIFAR-10 and Fashion-MNIST then use
    their default locations). ``text`` is the spec as the user wrote it.
    """

    kind: DatasetKind
    path: Path | None
    text: str

    def __str__(self) -> str:
        return self.text


def data_home() -> Path:
    """The app's own folder for downloaded datasets (torchvision-style layout inside);
    ``BACKPROP_EXPLORER_DATA`` overrides it."""
    return user_data_folder("datasets", "BACKPROP_EXPLORER_DATA")


def default_locations(kind: DatasetKind) -> list[Path]:
    """Where a spec without DIR is looked for, in order."""
    if kind == "fashion-mnist":
        return [DEBIAN_FASHION_MNIST, data_home() / "FashionMNIST" / "raw"]
    if kind == "cifar10":
        return [data_home() / "cifar-10-batches-py"]
    return []


def parse_spec(spec: str | DatasetSpec) -> DatasetSpec:
    """Parse ``"cifar10:DIR"``, ``"fashion-mnist[:DIR]"`` or ``"folder:DIR"``.

    Raises DataError naming the accepted forms when the spec is not one of them.
    """
    if isinstance(spec, DatasetSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"empty dataset spec: use {ACCEPTED_FORMS}")
    text = spec.strip()
    name, sep, rest = text.partition(":")
    kind = _ALIASES.get(name.strip().lower())
    if kind is None:
        raise DataError(f"unknown dataset spec {text!r}: use {ACCEPTED_FORMS}")
    rest = rest.strip()
    if not rest:
        if kind == "folder":
            raise DataError(f"dataset spec {text!r} needs a folder: use folder:DIR")
        return DatasetSpec(kind, None, text)
    return DatasetSpec(kind, Path(rest).expanduser(), text)
