"""Image folders: ``DIR/train/<class>/*`` and optionally ``DIR/test/<class>/*``.

Any format Pillow reads (through ``nets.images.open_image``). Images are centre-cropped
to a square and resized to ``image_size`` (32 by default, so CIFAR-sized images stay as
they are). Unusable files are skipped and counted by reason. Decoding runs in two worker
processes; the decoded arrays are cached as an uncompressed .npz (no pickle) next to the
data when the folder is writable, else in the user cache folder, and the cache is
rebuilt whenever a file's name, size or modification time changes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nets.data.dataset import (
    CancelToken,
    DatasetInfo,
    ImageDataset,
    ProgressCallback,
    is_cancelled,
    make_dataset,
    report,
    small_page_array,
)
from nets.data.spec import DatasetSpec
from nets.errors import Cancelled, DataError
from nets.fileio import atomic_write, shown

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

DEFAULT_IMAGE_SIZE = 32
CACHE_VERSION = 1
# Below this many files, starting worker processes costs more than it saves.
_POOL_MIN_FILES = 3000
_CHUNK = 1000
_WORKERS = 2
# Reader threads per decoding process, each reading _READ_BLOCK files in a row. A CIFAR
# JPEG is about 1 KB: from a cold disk each costs one small read, and with one read in
# flight per process the decoders mostly wait; many in flight are served together.
_READERS = 16
_READ_BLOCK = 8
# The bytes a decoding process holds read ahead, about (see _read_ahead).
_READ_AHEAD_BYTES = 32 << 20

REASON_EMPTY = "empty file"
REASON_NOT_IMAGE = "not an image"
REASON_TRUNCATED = "truncated or corrupt image"
REASON_TOO_LARGE = "image too large"
REASON_PERMISSION = "unreadable (permission denied)"
REASON_BROKEN_LINK = "broken or looping symlink"
REASON_DIR_LOOP = "symlink loop (folder visited twice)"
REASON_UNREADABLE = "unreadable file"
REASON_OUTSIDE_CLASS = "not inside a class folder"
REASON_UNKNOWN_CLASS = "test class not in train/"
# A symlink is followed only to a file or folder inside its own class folder: a link
# into another class would silently give that class's images this label, and a link
# to a parent would make every class visit every other one.
REASON_LINK_OUT = "symlink leading out of its class folder"


def _link_reason(link: str, root: Path) -> str:
    """The skip reason for one link, naming it, so the summary lists every such link."""
    rel = shown(os.path.relpath(link, root))
    try:
        target = shown(os.readlink(link))
    except OSError:
        target = "?"
    return f"{REASON_LINK_OUT} ({rel} -> {target})"


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class _Scan:
    """The files found under one split folder (train/ or test/)."""

    paths: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    fingerprint_rows: list[str] = field(default_factory=list)


def _class_dirs(split_dir: Path, skipped: Counter, root: Path) -> list[str]:
    try:
        entries = sorted(os.scandir(split_dir), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"cannot list {split_dir}: {exc.strerror or exc}") from exc
    names: list[str] = []
    reals: dict[str, str] = {}
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            if e.is_dir():
                names.append(e.name)
                reals[e.name] = os.path.realpath(e.path)
            else:
                skipped[REASON_OUTSIDE_CLASS] += 1
        except OSError:
            skipped[REASON_BROKEN_LINK] += 1
    # A class folder that is a link to (or into, or around) another class folder would
    # count the same images under two labels: it is skipped and named.
    kept = []
    for name in names:
        path = os.path.join(split_dir, name)
        if os.path.islink(path) and any(
            other != name
            and (_inside(reals[name], reals[other]) or _inside(reals[other], reals[name]))
            for other in names
        ):
            skipped[_link_reason(path, root)] += 1
            continue
        kept.append(name)
    return kept


def _walk_class(
    class_dir: Path, label: int, scan: _Scan, root: Path, seen_dirs: set[tuple[int, int]]
) -> None:
    """Collect every non-hidden file under class_dir, following symlinks that stay inside
    it (see REASON_LINK_OUT) but never looping."""
    class_real = os.path.realpath(class_dir)
    # Every path below starts with root and a separator (names from scandir are never
    # "." or ".."): cutting that prefix gives what os.path.relpath would, at a tenth of
    # its cost (relpath took two thirds of the scan of 50,000 files).
    prefix = os.path.join(os.fspath(root), "")
    stack = [class_dir]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            scan.skipped[REASON_BROKEN_LINK] += 1
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            scan.skipped[REASON_DIR_LOOP] += 1
            continue
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except PermissionError:
            scan.skipped[REASON_PERMISSION] += 1
            continue
        except OSError:
            scan.skipped[REASON_UNREADABLE] += 1
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            if (
                e.is_symlink()
                and os.path.exists(e.path)  # a dangling link is counted as broken below
                and not _inside(os.path.realpath(e.path), class_real)
            ):
                scan.skipped[_link_reason(e.path, root)] += 1
                continue
            try:
                est = e.stat()  # follows symlinks
            except OSError as exc:
                reason = (
                    REASON_BROKEN_LINK
                    if exc.errno in (errno.ELOOP, errno.ENOENT)
                    else REASON_UNREADABLE
                )
                scan.skipped[reason] += 1
                continue
            if stat.S_ISDIR(est.st_mode):
                stack.append(Path(e.path))
                continue
            rel = (
                e.path[len(prefix) :]
                if e.path.startswith(prefix)
                else os.path.relpath(e.path, root)
            )
            scan.fingerprint_rows.append(f"{rel}\0{est.st_size}\0{est.st_mtime_ns}")
            if not stat.S_ISREG(est.st_mode):
                scan.skipped[REASON_UNREADABLE] += 1
            elif est.st_size == 0:
                scan.skipped[REASON_EMPTY] += 1
            else:
                scan.paths.append(e.path)
                scan.labels.append(label)


def _scan_split(
    split_dir: Path, class_names: list[str] | None, root: Path
) -> tuple[list[str], _Scan]:
    scan = _Scan()
    found = _class_dirs(split_dir, scan.skipped, root)
    if class_names is None:
        class_names = found
    index = {name: i for i, name in enumerate(class_names)}
    seen: set[tuple[int, int]] = set()
    for name in found:
        if name not in index:
            scan.skipped[REASON_UNKNOWN_CLASS] += sum(1 for _ in _iter_files(split_dir / name))
            continue
        _walk_class(split_dir / name, index[name], scan, root, seen)
    return class_names, scan


def _iter_files(folder: Path):
    try:
        for e in os.scandir(folder):
            if not e.name.startswith("."):
                yield e
    except OSError:
        return


def _classify(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return REASON_PERMISSION
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).lower()
    if "bomb" in text or "too large" in text or "too big" in text or "pixels" in text:
        return REASON_TOO_LARGE
    if "truncat" in text or "corrupt" in text or "broken" in text:
        return REASON_TRUNCATED
    if "permission denied" in text:
        return REASON_PERMISSION
    if "not an image" in text or "cannot read" in text or "cannot identify" in text:
        return REASON_NOT_IMAGE
    if "empty" in text or "0 bytes" in text:
        return REASON_EMPTY
    return REASON_UNREADABLE


def _read_block(paths: list[str]) -> list[bytes | Exception]:
    """The bytes of each file, or the exception reading it raised. Runs in a reader thread."""
    from nets.images import read_image_bytes

    blobs: list[bytes | Exception] = []
    for p in paths:
        try:
            blobs.append(read_image_bytes(p))
        except Exception as exc:
            blobs.append(exc)
    return blobs


def _read_ahead(paths: list[str]) -> Iterator[bytes | Exception]:
    """Each file's bytes (or the exception reading it raised), in order, read ahead by
    reader threads.

    What is read but not yet taken stays near ``_READ_AHEAD_BYTES``, judged from the
    mean size of the files read so far: the first file is read alone, and files too large
    for blocks of ``_READ_BLOCK`` within the budget go one per task (a folder of 5 MB
    photos keeps about six reads ahead, a folder of CIFAR JPEGs ``2 * _READERS`` blocks).
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    readers = max(1, min(_READERS, len(paths)))
    pending: deque[tuple[Future[list[bytes | Exception]], int]] = deque()
    start = ahead = done = done_bytes = 0
    with ThreadPoolExecutor(readers, thread_name_prefix="read-images") as pool:
        while start < len(paths) or pending:
            while start < len(paths) and len(pending) < 2 * readers:
                if done == 0:
                    if pending:
                        break
                    block = 1
                else:
                    mean = done_bytes / done
                    fits = mean * _READ_BLOCK * 2 * readers <= _READ_AHEAD_BYTES
                    block = _READ_BLOCK if fits else 1
                    if pending and (ahead + block) * mean > _READ_AHEAD_BYTES:
                        break
                pending.append((pool.submit(_read_block, paths[start : start + block]), block))
                start += block
                ahead += block
            future, block = pending.popleft()
            blobs = future.result()
            ahead -= block
            done += block
            done_bytes += sum(len(b) for b in blobs if isinstance(b, bytes))
            yield from blobs


def _decode_into(dst: np.ndarray, data: bytes, path: str, size: int) -> None:
    """Decode one file's bytes into ``dst`` (size, size, 3) uint8, in place."""
    import numpy as np

    from nets.images import fit_image, open_image

    # min_size lets a large JPEG decode at a reduced scale (DCT draft), still >= size.
    img = fit_image(open_image(data, min_size=size, name=path), (size, size))
    if img.mode != "RGB":
        img = img.convert("RGB")
    # One copy, straight from Pillow's bytes into the chunk's array.
    dst[...] = np.frombuffer(img.tobytes(), np.uint8).reshape(dst.shape)


def decode_chunk(paths: list[str], size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode ``paths`` into (images uint8 (n, size, size, 3), ok bool (n,), reasons).

    ``reasons`` has one entry per failed file, in order. Runs in a worker process: reader
    threads fetch the files' bytes ahead (they wait on the disk, not on the GIL) while
    this thread decodes them in order.
    """
    import numpy as np

    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    reasons: list[str] = []
    for i, data in enumerate(_read_ahead(paths)):
        try:
            if isinstance(data, Exception):
                raise data
            _decode_into(out[i], data, paths[i], size)
            ok[i] = True
        except Exception as exc:
            reasons.append(_classify(exc))
    return out, ok, reasons


def _decode_all(
    paths: list[str],
    size: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    done_before: int,
    total: int,
) -> tuple[np.ndarray, np.ndarray, Counter]:
    import numpy as np

    images = small_page_array((len(paths), size, size, 3), np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    skipped: Counter = Counter()
    chunks = [(i, paths[i : i + _CHUNK]) for i in range(0, len(paths), _CHUNK)]
    workers = min(_WORKERS, os.cpu_count() or 1)

    def store(start: int, result: tuple[np.ndarray, np.ndarray, list[str]]) -> None:
        arr, good, reasons = result
        images[start : start + len(arr)] = arr
        ok[start : start + len(arr)] = good
        skipped.update(reasons)

    if len(paths) < _POOL_MIN_FILES or workers < 2:
        for start, chunk in chunks:
            if is_cancelled(cancel):
                raise Cancelled("loading cancelled")
            store(start, decode_chunk(chunk, size))
            report(progress, done_before + start + len(chunk), total, "decoding images")
        return images, ok, skipped

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the GUI calls this from a worker thread of a Qt process.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [(start, len(c), pool.submit(decode_chunk, c, size)) for start, c in chunks]
        done = 0
        try:
            for start, n, fut in futures:
                while True:
                    if is_cancelled(cancel):
                        raise Cancelled("loading cancelled")
                    try:
                        result = fut.result(timeout=0.2)
                        break
                    except TimeoutError:
                        continue
                store(start, result)
                done += n
                report(progress, done_before + done, total, "decoding images")
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return images, ok, skipped


# ---------------------------------------------------------------------------- the cache


def _fingerprint(rows: list[str], size: int) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}\0{size}\0".encode())
    for row in sorted(rows):
        digest.update(row.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


def cache_paths(root: Path, size: int) -> list[Path]:
    """Where the decoded-array cache for ``root`` may live, preferred first."""
    import platformdirs

    name = f".backprop-explorer-cache-{size}px.npz"
    key = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:20]
    user = (
        Path(platformdirs.user_cache_dir("backprop-explorer")) / "folders" / f"{key}-{size}px.npz"
    )
    return [root / name, user]


def _read_cache(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["fingerprint"]) != fingerprint:
                return None
            return {k: npz[k] for k in npz.files}
    except Exception:
        return None


def _write_cache(paths: list[Path], arrays: dict[str, np.ndarray]) -> Path | None:
    import numpy as np

    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return atomic_write(
                path, lambda f: np.savez(f, allow_pickle=False, **arrays), DataError
            )
        except (OSError, DataError):  # not writable here: try the next place
            continue
    return None


# ---------------------------------------------------------------------------- public


def _check_root(root: Path) -> Path:
    if not root.exists():
        raise DataError(f"folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    train = root / "train"
    if not train.is_dir():
        raise DataError(
            f"{root} has no train/ folder: expected {root}/train/<class>/<images> "
            f"(and optionally {root}/test/<class>/<images>)"
        )
    return train


def probe(spec: DatasetSpec) -> DatasetInfo:
    root = spec.path
    assert root is not None  # parse_spec guarantees a folder
    try:
        train = _check_root(root)
    except DataError as exc:
        return DatasetInfo(
            spec=spec.text,
            kind="folder",
            found=False,
            location=root,
            description=str(exc),
            hint=f"choose a folder laid out as DIR/train/<class>/<images>; {exc}",
        )
    counts = {}
    for name in _class_dirs(train, Counter(), root):
        counts[name] = sum(1 for e in _iter_files(train / name) if not e.is_dir())
    test_dir = root / "test"
    num_test = None
    if test_dir.is_dir():
        num_test = sum(
            sum(1 for e in _iter_files(test_dir / n) if not e.is_dir())
            for n in _class_dirs(test_dir, Counter(), root)
        )
    found = len(counts) >= 2 and sum(counts.values()) > 0
    hint = ""
    if not counts:
        hint = f"{train} has no class folders: put images in {train}/<class>/"
    elif len(counts) == 1:
        hint = f"{train} has only one class ({next(iter(counts))}): a classifier needs two or more"
    return DatasetInfo(
        spec=spec.text,
        kind="folder",
        found=found,
        location=root,
        description=f"image folder {root}: {len(counts)} classes, {sum(counts.values())} files",
        class_names=tuple(counts),
        class_counts=counts,
        num_train=sum(counts.values()),
        num_test=num_test,
        hint=hint,
    )


def load(
    spec: DatasetSpec,
    *,
    num_val: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    image_size: int = DEFAULT_IMAGE_SIZE,
    use_cache: bool = True,
) -> ImageDataset:
    import numpy as np

    root = spec.path
    assert root is not None
    train_dir = _check_root(root)
    report(progress, 0, 0, f"listing {root}")
    class_names, train_scan = _scan_split(train_dir, None, root)
    if not class_names:
        raise DataError(f"{train_dir} has no class folders: put images in {train_dir}/<class>/")
    if len(class_names) < 2:
        raise DataError(
            f"{train_dir} has only one class ({class_names[0]}): a classifier needs two or more"
        )
    test_dir = root / "test"
    test_scan = _scan_split(test_dir, class_names, root)[1] if test_dir.is_dir() else None
    rows = train_scan.fingerprint_rows + (test_scan.fingerprint_rows if test_scan else [])
    # Skipped links are not files, but they change the summary: a new one must not be
    # hidden by a cache written before it.
    rows += sorted(r for sc in (train_scan, test_scan) if sc for r in sc.skipped)
    fingerprint = _fingerprint(rows + [f"class\0{n}" for n in class_names], image_size)

    cached = None
    locations = cache_paths(root, image_size)
    if use_cache:
        for loc in locations:
            cached = _read_cache(loc, fingerprint)
            if cached is not None:
                report(progress, 1, 1, f"read cached images from {loc}")
                break
    if cached is None:
        cached = _decode_folder(
            train_scan, test_scan, class_names, image_size, fingerprint, progress, cancel
        )
        if use_cache:
            _write_cache(locations, cached)

    X, y = cached["X_train"], cached["y_train"]
    skipped = Counter(
        {str(r): int(n) for r, n in zip(cached["skip_reasons"], cached["skip_counts"], strict=True)}
    )
    if len(y) == 0:
        raise DataError(f"no readable images in {train_dir} ({sum(skipped.values())} skipped)")
    counts = np.bincount(y, minlength=len(class_names))
    if np.count_nonzero(counts) < 2:
        raise DataError(
            f"only one class of {train_dir} has readable images: a classifier needs two or more"
        )
    has_test = bool(cached["has_test"])
    if num_val is None:
        num_val = max(1, len(y) // 10) if len(y) >= 2 else 0
    return make_dataset(
        X,
        y,
        cached["X_test"] if has_test else None,
        cached["y_test"] if has_test else None,
        num_val=num_val,
        seed=seed,
        class_names=tuple(str(c) for c in cached["class_names"]),
        source=f"image folder {root}",
        skipped_by_reason=skipped,
    )


def _kept(rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``rows[ok]``, without the copy when every file decoded (the usual case): copying the
    150 MB of the CIFAR images took 0.1 to 2 s here, fresh memory being slow to fault in."""
    return rows if ok.all() else rows[ok]


def _decode_folder(
    train_scan: _Scan,
    test_scan: _Scan | None,
    class_names: list[str],
    size: int,
    fingerprint: str,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> dict[str, np.ndarray]:
    import numpy as np

    test_paths = test_scan.paths if test_scan else []
    total = len(train_scan.paths) + len(test_paths)
    images, ok, skipped = _decode_all(
        train_scan.paths + test_paths, size, progress, cancel, 0, total
    )
    skipped.update(train_scan.skipped)
    if test_scan:
        skipped.update(test_scan.skipped)
    labels = np.asarray(train_scan.labels + (test_scan.labels if test_scan else []), np.int64)
    n_train = len(train_scan.paths)
    tr_ok, te_ok = ok[:n_train], ok[n_train:]
    reasons = sorted(skipped)
    empty = np.zeros((0, size, size, 3), np.uint8)
    return {
        "fingerprint": np.array(fingerprint),
        "class_names": np.array(class_names, dtype=str),
        "X_train": _kept(images[:n_train], tr_ok),
        "y_train": _kept(labels[:n_train], tr_ok),
        "has_test": np.array(test_scan is not None),
        "X_test": _kept(images[n_train:], te_ok) if test_scan else empty,
        "y_test": _kept(labels[n_train:], te_ok) if test_scan else np.zeros(0, np.int64),
        "skip_reasons": np.array(reasons, dtype=str),
        "skip_counts": np.array([skipped[r] for r in reasons], dtype=np.int64),
    }
