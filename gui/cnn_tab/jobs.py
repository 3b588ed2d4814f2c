"""The tab's background work as plain generators (run by ``gui.worker``; no Qt here).

Each job yields small frozen dataclasses: loading progress (``gui.jobs.Progress``), the
loaded data (so the tab can keep it for the next run), then the ``nets.training`` events
of the CNN's training or the result of a test. torch is imported only inside these
functions, i.e. in the worker thread once the user asks for training, testing or a
checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gui.cnn_tab.data_panel import DataChoice
from gui.jobs import Progress, Result, with_progress

if TYPE_CHECKING:
    import numpy as np

#: Test images shown in the predictions grid (wrong ones first, then right ones).
GALLERY_SIZE = 48


@dataclass(frozen=True)
class DataReady:
    """The dataset for ``key`` was loaded (the tab caches it for later runs and tests)."""

    key: tuple
    dataset: Any = field(repr=False)  # nets.data.ImageDataset


@dataclass(frozen=True)
class TrainingData:
    """What ``nets.cnn.train.train`` reads: uint8 (N, H, W, C) images and int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class TestResult:
    """The test-set evaluation: accuracy, predictions (N,) and the counts matrix (K, K)."""

    accuracy: float
    n: int
    predictions: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    confusion: np.ndarray = field(repr=False)
    gallery_index: np.ndarray = field(repr=False)  # test indices shown in the grid
    trained: Any = field(repr=False)  # the TrainedCnn with its updated test record


def prepare_torch() -> None:
    """Before torch's first import: idle OpenMP threads spin only briefly before they sleep,
    so the GUI thread (and other programs) get a core when they need one (see
    nets.cnn.config.limit_openmp_spin)."""
    from nets.cnn.config import limit_openmp_spin

    limit_openmp_spin()


def subset_for_training(dataset: Any, choice: DataChoice) -> TrainingData:
    """The dataset's train/validation split, with ``choice.num_train`` training images
    picked by a seeded shuffle (sorted, so the original order is kept)."""
    from nets.data.dataset import training_subset

    X, y = dataset.X_train, dataset.y_train
    keep = training_subset(y, choice.num_train, choice.seed)
    if keep is not None:
        X, y = X[keep], y[keep]
    return TrainingData(X, y, dataset.X_val, dataset.y_val, tuple(dataset.class_names))


def load_data(choice: DataChoice, cancel: Callable[[], bool]) -> Iterator[Any]:
    """Yield Progress items, then DataReady with the loaded dataset."""
    from nets.data import load_dataset

    yield Progress("load", 0, 0, f"loading {choice.spec}")
    options = {"num_val": choice.num_val, "seed": choice.seed, "image_size": choice.image_size}
    for item in with_progress("load", load_dataset, cancel, spec=choice.spec, **options):
        if isinstance(item, Result):
            yield DataReady(choice.load_key(), item.value)
        else:
            yield item


@dataclass(frozen=True)
class DataDownloaded:
    spec: str


def download_job(spec: str) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: download Fashion-MNIST (or CIFAR-10) with progress."""

    def factory(token) -> Iterator[Any]:
        from nets.data import download_dataset

        yield Progress("download", 0, 0, f"downloading {spec}")
        for item in with_progress("download", download_dataset, token, spec=spec):
            if isinstance(item, Result):
                yield DataDownloaded(spec)
            else:
                yield item

    return factory


def _dataset(
    choice: DataChoice, cached: Any | None, cancel: Callable[[], bool]
) -> Generator[Any, None, Any]:
    """Yield loading items unless ``cached`` is given (the last is DataReady); return the
    dataset, or None when loading stopped early: ``dataset = yield from _dataset(...)``."""
    dataset = None
    items = [DataReady(choice.load_key(), cached)] if cached is not None else None
    for item in items if items is not None else load_data(choice, cancel):
        if isinstance(item, DataReady):
            dataset = item.dataset
        yield item
    return dataset


def training_job(
    choice: DataChoice,
    cached: Any | None,
    arch: Sequence[Any],
    config: Any,
    **options: Any,
) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: load the data (unless cached), then train (``options`` go to
    ``nets.cnn.train.train``: ``snapshots``, ``fork``)."""

    def factory(token) -> Iterator[Any]:
        prepare_torch()
        from nets.cnn.train import train

        dataset = yield from _dataset(choice, cached, token)
        if dataset is None or token():
            return  # stopped while loading: no run starts
        data = subset_for_training(dataset, choice)
        yield from train(arch, data, config, cancel=token, data_source=choice.spec, **options)

    return factory


def lr_find_job(
    choice: DataChoice,
    cached: Any | None,
    arch: Sequence[Any],
    config: Any,
) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: load the data (unless cached), then yield the learning-rate
    range test's ``RangeTest`` (``nets.lr_find``) for ``arch`` and ``config``."""

    def factory(token) -> Iterator[Any]:
        prepare_torch()
        from nets.lr_find import cnn_range_test

        dataset = yield from _dataset(choice, cached, token)
        if dataset is None or token():
            return
        yield cnn_range_test(arch, subset_for_training(dataset, choice), config, cancel=token)

    return factory


def pick_gallery(
    labels: np.ndarray, predictions: np.ndarray, size: int, seed: int = 0
) -> np.ndarray:
    """Indices of test images to show: about half wrong ones (when there are) and the
    rest right ones, each picked at random with ``seed``. int64 (<= size,)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    wrong = np.flatnonzero(labels != predictions)
    right = np.flatnonzero(labels == predictions)
    n_wrong = min(len(wrong), size // 2)
    n_right = min(len(right), size - n_wrong)
    n_wrong = min(len(wrong), size - n_right)
    chosen = np.concatenate(
        [rng.permutation(wrong)[:n_wrong], rng.permutation(right)[:n_right]]
    ).astype(np.int64)
    return chosen


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:4])
    return shown + (", ..." if len(names) > 4 else "")


@dataclass(frozen=True)
class Note:
    """Something worth telling the user that is not an error."""

    text: str


def test_job(
    choice: DataChoice, cached: Any | None, trained: Any, record_in: str | None = None
) -> Callable[[Any], Iterator[Any]]:
    """A worker factory: load the data (unless cached), evaluate once on the test split.

    With ``record_in`` (the checkpoint the model came from or was saved to), the test is
    also recorded in that file, as ``cnn test`` does, so the warning before a second test
    survives a restart.
    """

    import numpy as np

    def factory(token) -> Iterator[Any]:

        prepare_torch()

        from nets.cnn.trained import evaluate
        from nets.errors import DataError
        from nets.metrics import confusion_matrix

        dataset = yield from _dataset(choice, cached, token)
        if dataset is None:
            return
        if dataset.X_test is None or dataset.y_test is None:
            raise DataError(
                f"{choice.spec} has no test split (a folder needs DIR/test/<class>/): "
                "there is nothing to test on"
            )
        if tuple(dataset.class_names) != tuple(trained.class_names):
            raise DataError(
                f"the model was trained on {trained.num_classes} classes "
                f"({_names(trained.class_names)}) but {choice.spec} has "
                f"{len(dataset.class_names)} ({_names(dataset.class_names)}): choose the "
                "data it was trained on"
            )
        yield Progress("test", 0, 0, f"testing on {len(dataset.y_test):,} test images")
        result = evaluate(trained, dataset.X_test, dataset.y_test, cancel=token)
        labels = np.asarray(dataset.y_test, dtype=np.int64)
        matrix = confusion_matrix(labels, result.predictions, trained.num_classes)
        record = trained.test_record.tested(result.accuracy, len(labels), choice.spec)
        tested = trained.with_test_record(record)
        yield TestResult(
            accuracy=result.accuracy,
            n=len(labels),
            predictions=result.predictions,
            labels=labels,
            confusion=matrix,
            gallery_index=pick_gallery(labels, result.predictions, GALLERY_SIZE),
            trained=tested,
        )
        if record_in:
            from nets.cnn.checkpoint import save_checkpoint
            from nets.errors import CheckpointError

            try:
                save_checkpoint(record_in, tested)
            except CheckpointError as exc:
                yield Note(f"the test was not recorded in the checkpoint: {exc}")
            else:
                yield Note(f"recorded the test in {record_in}")

    return factory


def trained_from_snapshot(snapshot: Any, name: str) -> Any:
    """The ``TrainedCnn`` of a CNN ``nets.training.Snapshot`` (for opening one as a run,
    in the job's thread); CheckpointError when it does not record its input shape."""
    prepare_torch()
    import torch

    from nets.cnn.config import TrainConfig, default_num_threads
    from nets.cnn.fork import arch_of, model_from_snapshot
    from nets.cnn.trained import TrainedCnn
    from nets.errors import CheckpointError

    about = snapshot.state.get("data") or {}
    if "input_shape" not in about:
        raise CheckpointError(
            f"the snapshot {name}/{snapshot.name} does not record its input shape (an "
            "older one): fork it with `cnn train --fork` instead"
        )
    torch.set_num_threads(default_num_threads())
    input_shape = tuple(int(v) for v in about["input_shape"])
    class_names = tuple(str(c) for c in about.get("class_names") or ())
    model = model_from_snapshot(snapshot, input_shape, len(class_names))
    cli = snapshot.state.get("cli") or {}
    return TrainedCnn(
        model,
        tuple(arch_of(snapshot)),
        input_shape,  # type: ignore[arg-type]
        class_names,
        tuple(float(v) for v in snapshot.state["mean"]),
        tuple(float(v) for v in snapshot.state["std"]),
        TrainConfig.from_dict(snapshot.config),
        data_source=str(cli.get("data") or about.get("source") or ""),
        iterations=snapshot.step,
        val_acc=snapshot.state.get("last_val"),
    )
