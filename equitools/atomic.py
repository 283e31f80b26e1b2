"""Atomic file writes, used by every layer: a temporary file in the target folder, fsync, then
``os.replace`` and an fsync of the folder, so a reader sees the old file or the complete new one,
never a half-written one, and the rename survives a crash."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

_NO_FOLDER_SYNC = {errno.EACCES, errno.EPERM, errno.EINVAL, errno.ENOTSUP, errno.EBADF}


def atomic_write(path: str | Path, write: Callable[[IO], None], mode: str = "wb") -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers see the old file or the complete new one, never a half-written one; if anything
    fails, the temporary file is closed and removed and ``path`` is untouched. An existing
    ``path`` keeps its permission bits; a new one gets ``0o666`` less the umask (applied by
    the kernel: the umask is never changed, so this is safe with threads).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        keep = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        keep = None
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    exclusive = os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        with open(
            tmp,
            mode,
            encoding=None if "b" in mode else "utf-8",
            opener=lambda name, flags: os.open(name, flags | exclusive, 0o666),
        ) as f:
            if keep is not None:
                os.fchmod(f.fileno(), keep)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; skipped where folders cannot be opened (Windows, no
    read permission) or synced (some file systems)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno not in _NO_FOLDER_SYNC:
            raise


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text), mode="w")
