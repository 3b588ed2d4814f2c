"""Datasets for the numpy networks and the CNN: specs, loaders, preprocessing, sampling.

Public API::

    parse_spec("cifar10:DIR" | "fashion-mnist[:DIR]" | "folder:DIR") -> DatasetSpec
    probe_dataset(spec) -> DatasetInfo                 cheap: found? where? classes?
    load_dataset(spec, *, num_val, seed, progress, download, cancel) -> ImageDataset
    download_dataset(spec, *, progress, cancel)
    Preprocessor.fit(X_train).transform(X) -> float32 (N, D)
    DataSampler(X, y, batch_size, seed)                shuffled minibatches
    safe_extract(archive, dest)
"""

from nets.data.archives import safe_extract
from nets.data.dataset import DatasetInfo, ImageDataset, split_train_val
from nets.data.idx import parse_idx, read_idx
from nets.data.loading import download_dataset, load_dataset, probe_dataset
from nets.data.preprocess import DataSampler, Preprocessor
from nets.data.spec import ACCEPTED_FORMS, DatasetSpec, data_home, parse_spec

__all__ = [
    "ACCEPTED_FORMS",
    "DataSampler",
    "DatasetInfo",
    "DatasetSpec",
    "ImageDataset",
    "Preprocessor",
    "data_home",
    "download_dataset",
    "load_dataset",
    "parse_idx",
    "parse_spec",
    "probe_dataset",
    "read_idx",
    "safe_extract",
    "split_train_val",
]
