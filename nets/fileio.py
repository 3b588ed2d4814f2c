"""Safe file access for every nets module: atomic writes and regular-file reads.

Writing: the bytes go to a temporary file in the target's folder, are flushed and
fsynced, then replace the target in one ``os.replace``; the folder is fsynced so the
rename is durable. If anything fails the temporary file is removed and the old file
stays whole. Before anything is written the target is looked at: a device, FIFO, socket
or folder is refused (renaming over it would destroy it), a symlink is written through to
the file it names, and an existing file keeps its permission bits (a new one gets the
user's umask). Temporary files left behind by a killed process are removed the next time
the same target is written.

Reading: :func:`open_regular` refuses anything that is not a regular file before reading
a byte (a FIFO would block forever, ``/dev/zero`` never ends) and can refuse files over
a size limit unread.

``graph`` has the same two mechanisms in ``graph/files.py``: the import contract keeps
the two packages independent, so each boundary has its own copy.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nets.errors import NetsError

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENXIO: "no such device",
}


def describe_os_error(exc: OSError) -> str:
    """A short reason in plain words for an OSError (no errno numbers)."""
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc))


def kind_of(mode: int) -> str | None:
    """What a non-regular file is, in words ("a FIFO", "a device", ...); None if regular."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def refusal(
    error: type[NetsError], action: str, path: str | os.PathLike[str], reason: str
) -> NetsError:
    """``error("cannot <action> <path>: <reason>")`` with the bare reason kept as
    ``.reason`` (so a caller with its own wording can use just that)."""
    exc = error(f"cannot {action} {shown(path)}: {reason}")
    exc.reason = reason  # type: ignore[attr-defined]
    return exc


def shown(path: str | os.PathLike[str] | bytes) -> str:
    """A path as it may be printed: undecodable bytes, newlines and other control
    characters escaped (``\\udcff``, ``\\n``), so a hostile name never breaks a line,
    a UTF-8 stream or a JSON document."""
    text = os.fsdecode(path)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


# ------------------------------------------------------------------------------ writing


def write_target(
    path: str | os.PathLike[str],
    error: type[NetsError],
    action: str = "write",
    allow_read_only: bool = False,
) -> tuple[Path, int | None]:
    """Look at ``path`` before writing it: return the file to replace (a symlink resolved
    to the file it names) and its permission bits (None if it does not exist yet).

    Raises ``error`` for a folder, device, FIFO or socket, for a missing folder, and for
    a read-only file unless ``allow_read_only`` (then its mode is kept as it is).
    """
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise refusal(error, action, path, "the folder does not exist") from None
        return target, None
    except OSError as exc:
        raise refusal(error, action, path, describe_os_error(exc)) from None
    kind = kind_of(st.st_mode)
    if kind is not None:
        raise refusal(error, action, path, f"it is {kind}, not a regular file")
    if not st.st_mode & 0o222 and not allow_read_only:
        raise refusal(error, action, path, "the file is read-only")
    return target, stat.S_IMODE(st.st_mode)


def user_data_folder(name: str, override: str) -> Path:
    """The app's folder ``name`` in the user's data folder (``platformdirs``), or the
    folder the environment variable ``override`` names when it is set."""
    chosen = os.environ.get(override)
    if chosen:
        return Path(chosen).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("backprop-explorer")) / name


def temp_name(target: Path) -> Path:
    import secrets  # hmac and hashlib: not for a form that only reads (a tab's first frame)

    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` may still run on this machine: True for this process and,
    on Windows (where ``os.kill`` would end the process), for any pid; True when it runs
    as another user (no permission to signal it); False when no such process exists."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):  # OverflowError: a pid too large for any process
        return False
    return True


def remove_stale_temps(target: Path) -> int:
    """Remove temporary files of ``target`` left by processes that no longer run (a
    SIGKILL leaves them); return how many were removed."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp$")
    removed = 0
    try:
        names = os.listdir(target.parent)
    except OSError:
        return 0
    for name in names:
        m = pattern.match(name)
        if m is None or process_alive(int(m.group(1))):
            continue
        try:
            os.unlink(target.parent / name)
            removed += 1
        except OSError:
            pass
    return removed


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], object],
    error: type[NetsError],
    action: str = "write",
    allow_read_only: bool = False,
) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it over
    ``path``; return the path written (a symlink's target).

    OSError (disk full, read-only or missing folder...) becomes ``error`` with the one-line
    message ``cannot <action> <path>: <reason>``; other exceptions propagate unchanged.
    """
    target, mode = write_target(path, error, action, allow_read_only)
    remove_stale_temps(target)
    tmp = temp_name(target)
    try:
        # "x" (not mkstemp): the new file gets the usual umask-based permissions.
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise refusal(error, action, path, describe_os_error(exc)) from None
        raise
    try:  # make the rename itself durable; not every file system allows this
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return target


def atomic_write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    error: type[NetsError],
    action: str = "write",
    allow_read_only: bool = False,
) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data), error, action, allow_read_only)


def check_writable(path: str | os.PathLike[str], error: type[NetsError], action: str) -> None:
    """Refuse, before any work, a destination that :func:`atomic_write` would refuse or
    could not create a file in (a read-only or forbidden folder)."""
    target, _ = write_target(path, error, action)
    probe = temp_name(target)
    try:
        with open(probe, "xb"):
            pass
    except OSError as exc:
        raise refusal(error, action, path, describe_os_error(exc)) from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass


# ------------------------------------------------------------------------------ reading


def _open_checked(
    path: str | os.PathLike[str], error: type[NetsError], what: str, max_bytes: int | None
) -> tuple[int, os.stat_result]:
    """A blocking file descriptor of ``path`` and its stat, after the refusals of
    :func:`open_regular`; the caller closes the descriptor."""
    try:
        # O_NONBLOCK so that opening a FIFO returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise refusal(error, "open", path, f"no such {what}") from None
    except OSError as exc:
        raise refusal(error, "open", path, describe_os_error(exc)) from None
    try:
        st = os.fstat(fd)
        kind = kind_of(st.st_mode)
        if kind is not None:
            raise refusal(error, "open", path, f"it is {kind}, not {_a(what)}")
        if max_bytes is not None and st.st_size > max_bytes:
            raise refusal(
                error,
                "open",
                path,
                f"{_size(st.st_size)} is larger than the {_size(max_bytes)} {_a(what)} may have",
            )
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def open_regular(
    path: str | os.PathLike[str],
    error: type[NetsError],
    what: str = "file",
    max_bytes: int | None = None,
) -> BinaryIO:
    """Open ``path`` for binary reading, refusing what is not a regular file (a folder,
    FIFO, device or socket, also through a symlink) and, with ``max_bytes``, a file larger
    than that, all before reading a byte. The caller closes the returned file.

    Raises ``error`` with a one-line message naming the file.
    """
    fd, _ = _open_checked(path, error, what, max_bytes)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: str | os.PathLike[str],
    error: type[NetsError],
    what: str = "file",
    max_bytes: int | None = None,
) -> bytes:
    """The whole content of a regular file (see :func:`open_regular`)."""
    fd, st = _open_checked(path, error, what, max_bytes)
    limit = None if max_bytes is None else max_bytes + 1
    parts: list[bytes] = []
    total = 0
    # Asking for the size fstat gave (plus one byte) reads the usual file at once;
    # BufferedReader.read(max_bytes + 1) allocated all of max_bytes first (256 MB for
    # every image: 24 us a 1 KB file instead of 5 us).
    want = st.st_size + 1
    try:
        while limit is None or total < limit:
            part = os.read(fd, want if limit is None else min(want, limit - total))
            if not part:
                break
            parts.append(part)
            total += len(part)
            want = max(want, 1 << 16)  # it grew since the fstat: read on in larger pieces
    finally:
        os.close(fd)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if max_bytes is not None and len(data) > max_bytes:  # it grew while being read
        raise refusal(error, "open", path, f"larger than {_size(max_bytes)}")
    return data


def check_zip_contents(
    path: str | os.PathLike[str],
    error: type[NetsError],
    what: str,
    max_total: int,
    max_ratio: float = 100.0,
) -> list[str]:
    """Refuse a zip archive (``.npz``, ``.pt``) whose members would inflate past
    ``max_total`` bytes in all, or whose compression ratio marks a deflate bomb, from the
    sizes its directory declares and before a byte is decompressed; return the names.

    Archives this app writes are stored uncompressed or nearly (weights do not
    compress), so a member inflating more than ``max_ratio`` times is never one of them.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise error(
            f"{what} corrupted: {shown(path)} is a damaged or truncated archive ({exc})"
        ) from None
    except OSError as exc:
        raise refusal(error, "open", path, describe_os_error(exc)) from None
    total = sum(i.file_size for i in infos)
    if total > max_total:
        raise refusal(
            error,
            "open",
            path,
            f"its contents would take {_size(total)} in memory, more than the "
            f"{_size(max_total)} {_a(what)} may have: refused before reading it",
        )
    for i in infos:
        if i.file_size > (1 << 20) and i.file_size > max_ratio * max(i.compress_size, 1):
            raise refusal(
                error,
                "open",
                path,
                f"{i.filename} inflates from {_size(i.compress_size)} to "
                f"{_size(i.file_size)}: refused as a compression bomb",
            )
    return [i.filename for i in infos]


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
