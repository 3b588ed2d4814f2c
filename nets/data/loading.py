"""``load_dataset`` and ``probe_dataset``: one entry point for every kind of dataset spec."""

from __future__ import annotations

from nets.data import cifar10, fashion_mnist, folder
from nets.data.dataset import CancelToken, DatasetInfo, ImageDataset, ProgressCallback
from nets.data.spec import DatasetSpec, parse_spec


def load_dataset(
    spec: str | DatasetSpec,
    *,
    num_val: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    download: bool = False,
    cancel: CancelToken | None = None,
    image_size: int = folder.DEFAULT_IMAGE_SIZE,
) -> ImageDataset:
    """Load a dataset named by a spec (see ``nets.data.spec``) as uint8 images.

    Args:
        num_val: validation images carved out of train (default 5,000 for CIFAR-10,
            10,000 for Fashion-MNIST, 10% of the images for a folder; at most a tenth
            or a sixth of smaller files).
        seed: the seed of the deterministic stratified train/validation split.
        progress: ``progress(done, total, message)``, called from this thread.
        download: download CIFAR-10 / Fashion-MNIST when missing (else DataError saying
            what to do).
        cancel: a callable returning True or a threading.Event; raises
            ``nets.errors.Cancelled`` when set.
        image_size: side of the square images a folder is resized to.

    Raises:
        DataError (missing, malformed, failed integrity check), DownloadError, Cancelled.
    """
    parsed = parse_spec(spec)
    if parsed.kind == "cifar10":
        return cifar10.load(
            parsed,
            num_val=num_val,
            seed=seed,
            progress=progress,
            download_missing=download,
            cancel=cancel,
        )
    if parsed.kind == "fashion-mnist":
        return fashion_mnist.load(
            parsed,
            num_val=num_val,
            seed=seed,
            progress=progress,
            download_missing=download,
            cancel=cancel,
        )
    return folder.load(
        parsed, num_val=num_val, seed=seed, progress=progress, cancel=cancel, image_size=image_size
    )


def probe_dataset(spec: str | DatasetSpec) -> DatasetInfo:
    """Cheaply say whether a dataset is there, where, and (for a folder) its classes.

    Never decodes images or checks sums; for a missing dataset ``hint`` says what to do
    and ``can_download`` whether ``load_dataset(..., download=True)`` can fetch it.
    """
    parsed = parse_spec(spec)
    if parsed.kind == "cifar10":
        return cifar10.probe(parsed)
    if parsed.kind == "fashion-mnist":
        return fashion_mnist.probe(parsed)
    return folder.probe(parsed)


def download_dataset(
    spec: str | DatasetSpec,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Download CIFAR-10 or Fashion-MNIST into the spec's folder (or the app's data folder)."""
    from nets.errors import DataError

    parsed = parse_spec(spec)
    if parsed.kind == "cifar10":
        cifar10.download(parsed, progress=progress, cancel=cancel)
    elif parsed.kind == "fashion-mnist":
        fashion_mnist.download(parsed, progress=progress, cancel=cancel)
    else:
        raise DataError("an image folder cannot be downloaded: choose a folder on disk")
