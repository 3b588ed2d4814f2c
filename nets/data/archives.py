"""Safe archive extraction: no member may land outside the destination folder."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from nets.errors import DataError


def _check_name(name: str, archive: Path) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise DataError(f"archive {archive.name} rejected: member {name!r} has an absolute path")
    if ".." in pure.parts:
        raise DataError(f"archive {archive.name} rejected: member {name!r} points outside (../)")


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[Path]:
    """Extract a .tar(.gz/.bz2/.xz) or .zip archive into ``dest``; return the extracted files.

    Every member is checked before anything is written: an absolute path, a ``..``
    component, a symlink or hard link, or a device/fifo rejects the whole archive with a
    DataError. Extraction itself also runs tarfile's "data" filter as a second guard.
    """
    archive = Path(archive)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        if zipfile.is_zipfile(archive):
            return _extract_zip(archive, root)
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for m in members:
                _check_name(m.name, archive)
                if m.issym() or m.islnk():
                    raise DataError(f"archive {archive.name} rejected: member {m.name!r} is a link")
                if not (m.isfile() or m.isdir()):
                    raise DataError(
                        f"archive {archive.name} rejected: member {m.name!r} is not a plain file"
                    )
                target = (root / m.name).resolve()
                if target != root and root not in target.parents:
                    raise DataError(
                        f"archive {archive.name} rejected: member {m.name!r} points outside"
                    )
            tar.extractall(root, members=members, filter="data")
            return [root / m.name for m in members if m.isfile()]
    except DataError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"cannot extract {archive.name}: {exc}") from exc


def _extract_zip(archive: Path, root: Path) -> list[Path]:
    out = []
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_name(info.filename, archive)
            # Unix symlinks in zip files carry S_IFLNK in the high bits of external_attr.
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise DataError(
                    f"archive {archive.name} rejected: member {info.filename!r} is a link"
                )
            target = (root / info.filename).resolve()
            if target != root and root not in target.parents:
                raise DataError(
                    f"archive {archive.name} rejected: member {info.filename!r} points outside"
                )
        for info in infos:
            zf.extract(info, root)
            if not info.is_dir():
                out.append(root / info.filename)
    return out
