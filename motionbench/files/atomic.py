"""Atomic, verified output files: nothing half-written, nothing silently broken.

Every output (checkpoint, results.json, CSV, PNG grid, video) goes through :func:`atomic_output`: it is
written to a temporary file in the destination folder, flushed and fsynced, **verified** by a
caller-supplied check that re-reads it (a video is re-opened and its frames counted), and only then
renamed over the destination; the folder is fsynced so the rename survives a power cut. On any failure
the temporary file is removed and the destination is untouched. A replaced file keeps its permission
bits, and a file the user made read-only is refused instead of being replaced.

Temporary names are ``.<name>.tmp-<pid><suffix>`` so :func:`clean_stale_temps` can remove the leftovers
of processes that were killed mid-write (SIGKILL runs no cleanup) without touching a live writer's file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

__all__ = ["OutputError", "atomic_output", "atomic_folder", "write_bytes_atomic", "write_text_atomic", "clean_stale_temps",
           "check_output_file", "check_output_dir", "temp_path"]

PathLike = Union[str, os.PathLike]


class OutputError(ValueError):
    """An output path that cannot be written, or a written file that failed verification."""


def temp_path(path: Path) -> Path:
    """Temporary sibling of ``path`` (same folder, same suffix so writers pick the right format)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")


_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)(\.[^.]*)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temps(folder: PathLike) -> int:
    """Remove ``.<name>.tmp-<pid>*`` files (and folders, see :func:`atomic_folder`) of processes that no longer
    run; returns how many."""
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.iterdir():
        m = _TMP.match(entry.name)
        if m and int(m.group("pid")) != os.getpid() and not _alive(int(m.group("pid"))):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            else:
                continue
            removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened / fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _writable(path: Path) -> bool:
    """Writable for this process *and* not marked read-only (root may write anything; a file or folder
    without any write bit was made read-only on purpose and is respected)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def check_output_dir(folder: PathLike, what: str) -> Path:
    """The folder an output goes to: created if missing; refused if it is a file or not writable."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what}: {folder} exists and is not a directory; choose another location")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what}: cannot create directory {folder} ({exc.strerror}); choose a writable location") from exc
    if not _writable(folder) or not os.access(folder, os.X_OK):
        raise OutputError(f"{what}: directory {folder} is not writable; choose a writable location or fix its permissions")
    return folder


def check_output_file(path: PathLike, what: str) -> Path:
    """Refuse, before any work, an output path that cannot be written: empty, a directory, a read-only
    file, or a folder that cannot be created / written."""
    if path is None or str(path).strip() == "":
        raise OutputError(f"{what} is empty; give a file path")
    path = Path(path).expanduser()
    if path.is_dir() or str(path).endswith(os.sep):
        raise OutputError(f"{what}: {path} is a directory; give a file path inside it")
    if path.exists() and not _writable(path):
        raise OutputError(f"{what}: {path} is read-only; make it writable (chmod u+w) or choose another file")
    check_output_dir(path.parent, what)
    return path


def _refuse_write_error(exc: OSError, what: str, path: Path) -> None:
    """A full disk, a quota or a read-only location becomes an OutputError naming the file."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
        raise OutputError(f"{what}: cannot write {path}: {exc.strerror}; nothing was written") from exc


@contextlib.contextmanager
def atomic_output(path: PathLike, verify: Optional[Callable[[Path], None]] = None,
                  what: str = "output") -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s content to; on leaving: fsync, ``verify(tmp)`` (raise
    to reject), keep the old file's permissions, rename into place, fsync the folder. Any exception
    (inside the block, in fsync or in verification) removes the temporary file and propagates."""
    path = Path(path)
    check_output_file(path, what)
    tmp = temp_path(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise OutputError(f"{what}: writing {path} produced no file")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if tmp.stat().st_size == 0:
            raise OutputError(f"{what}: writing {path} produced an empty file")
        if verify is not None:
            verify(tmp)
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        _refuse_write_error(exc, what, path)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_folder(path: PathLike, verify: Optional[Callable[[Path], None]] = None,
                  what: str = "output") -> Iterator[Path]:
    """A folder written like :func:`atomic_output` writes a file: the block fills a temporary sibling folder
    (``.<name>.tmp-<pid><suffix>``); on leaving, every file in it is fsynced, ``verify(tmp)`` runs, and the
    folder is renamed into place (an existing folder is first renamed aside, then removed). Any exception
    removes the temporary folder and leaves ``path`` untouched."""
    import shutil

    path = Path(path)
    check_output_dir(path.parent, what)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what}: {path} exists and is not a directory; move it away")
    tmp = temp_path(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    old = path.with_name(f".{path.name}.tmp-{os.getpid()}.old")
    try:
        yield tmp
        for entry in tmp.iterdir():
            if entry.is_file():
                with open(entry, "rb+") as f:
                    os.fsync(f.fileno())
        _fsync_dir(tmp)
        if verify is not None:
            verify(tmp)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        _refuse_write_error(exc, what, path)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_bytes_atomic(path: PathLike, data: bytes, verify: Optional[Callable[[Path], None]] = None,
                       what: str = "output") -> Path:
    """``data`` to ``path`` through :func:`atomic_output`; the file is re-read and compared by default."""
    def same(tmp: Path) -> None:
        if tmp.read_bytes() != data:
            raise OutputError(f"{what}: {path} read back differently from what was written")

    with atomic_output(path, verify or same, what) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
    return Path(path)


def write_text_atomic(path: PathLike, text: str, what: str = "output") -> Path:
    """UTF-8 ``text`` to ``path``: temp file, fsync, read back and compared, rename."""
    return write_bytes_atomic(path, text.encode("utf-8"), what=what)

