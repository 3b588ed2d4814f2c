"""Downloads with a progress callback, cancel, and an MD5 check (torchvision's URLs and sums)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from nets.data.dataset import CancelToken, ProgressCallback, is_cancelled, report
from nets.errors import DownloadError

_CHUNK = 1 << 16


def md5_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class ChecksumError(DownloadError):
    """The bytes arrived but their digest is not the expected one."""


def fetch(
    url: str,
    dest: Path,
    *,
    hash_name: str = "md5",
    check: Callable[[str], str | None] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float = 30.0,
    message: str = "",
) -> Path:
    """Download ``url`` to ``dest`` atomically, the one downloader of ``nets``.

    The bytes go to ``<dest>.part`` (flushed, fsynced) while their ``hash_name`` digest is
    computed; ``check(hexdigest)`` returns a problem (ChecksumError) or None, and only then
    is the file renamed into place. A cancelled, failed or corrupted download never leaves
    a file that looks usable. Raises DownloadError when cancelled, ChecksumError, or the
    network's own error (urllib.error.URLError, OSError, ValueError) for the caller to word.
    """
    import urllib.request  # 50 ms (http, ssl): only when something downloads

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    label = message or f"downloading {url}"
    digest = hashlib.new(hash_name, usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": "backprop-explorer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            report(progress, 0, total, label)
            while block := response.read(_CHUNK):
                if is_cancelled(cancel):
                    raise DownloadError("download cancelled")
                out.write(block)
                digest.update(block)
                done += len(block)
                report(progress, done, total, label)
            out.flush()
            os.fsync(out.fileno())
        problem = check(digest.hexdigest()) if check is not None else None
        if problem:
            raise ChecksumError(problem)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def download_file(
    urls: list[str],
    dest: Path,
    md5: str | None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the first URL that works to ``dest`` (atomically), checking its MD5.

    Raises DownloadError with the reason when every URL fails, the download is
    cancelled, or the checksum is wrong; a partial file never remains.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and (md5 is None or md5_of(dest) == md5):
        return dest

    def check(digest: str) -> str | None:
        return None if md5 is None or digest == md5 else "the downloaded file's MD5 is wrong"

    import urllib.error

    errors = []
    for url in urls:
        try:
            return fetch(url, dest, check=check, progress=progress, cancel=cancel, timeout=timeout)
        except ChecksumError as exc:
            errors.append(f"{url}: {exc}")
        except DownloadError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
    raise DownloadError(
        f"could not download {dest.name} ({'; '.join(errors)}). Check the internet "
        f"connection, or fetch the file by hand and put it in {dest.parent}"
    )
