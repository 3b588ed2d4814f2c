"""Downloads with a progress callback, cancel, and an MD5 check (torchvision's URLs and sums)."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
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
    part = dest.with_name(dest.name + ".part")
    errors = []
    for url in urls:
        try:
            _fetch(url, part, progress, cancel, timeout)
        except DownloadError:
            part.unlink(missing_ok=True)
            raise
        except (urllib.error.URLError, OSError, ValueError) as exc:
            part.unlink(missing_ok=True)
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        if md5 is not None and md5_of(part) != md5:
            part.unlink(missing_ok=True)
            errors.append(f"{url}: the downloaded file's MD5 is wrong")
            continue
        os.replace(part, dest)
        return dest
    raise DownloadError(
        f"could not download {dest.name} ({'; '.join(errors)}). Check the internet "
        f"connection, or fetch the file by hand and put it in {dest.parent}"
    )


def _fetch(
    url: str,
    part: Path,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    timeout: float,
) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "backprop-explorer"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        report(progress, 0, total, f"downloading {url}")
        while block := response.read(_CHUNK):
            if is_cancelled(cancel):
                raise DownloadError("download cancelled")
            out.write(block)
            done += len(block)
            report(progress, done, total, f"downloading {url}")
        out.flush()
        os.fsync(out.fileno())
