"""Reading ``.npz`` archives without trusting them: a bare ``.npy`` or pickle is refused unread,
and a member is refused before anything is allocated when it decompresses to more bytes than
memory holds (a decompression bomb) or its ``.npy`` header claims more bytes than the member
holds (a forged shape). Used by every layer that reads ``.npz`` files (``data``, ``ict``)."""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

READ_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, KeyError)
"""What reading a damaged archive or member raises (truncation, bad CRC, bad header, ...)."""

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
    (3, 0): np.lib.format.read_array_header_2_0,
}  # 3.0 is 2.0 with a UTF-8 header


class UnsafeNpzError(ValueError):
    """An archive or member refused unread: ``key`` the member (None: the whole file), ``problem`` why."""

    def __init__(self, problem: str, key: str | None = None):
        self.problem, self.key = problem, key
        super().__init__(problem if key is None else f"key {key!r}: {problem}")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``, else free
    physical pages), or None where the system does not say."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def open_npz(path: str | Path) -> np.lib.npyio.NpzFile:
    """``np.load(path)`` for an ``.npz`` archive only; a bare ``.npy`` (which ``np.load`` would
    read whole) raises :class:`UnsafeNpzError`, anything else one of ``READ_ERRORS``."""
    with open(path, "rb") as f:
        if f.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX:
            raise UnsafeNpzError("a single .npy array, not an .npz archive of named arrays")
    return np.load(path, allow_pickle=False)


def npy_header(archive: np.lib.npyio.NpzFile, key: str) -> tuple[tuple[int, ...], np.dtype, int] | None:
    """Shape, dtype and data bytes after the header of member ``key``, from its ``.npy`` header only;
    None when the member is not ``.npy`` (``archive[key]`` then gives its raw bytes)."""
    info = _member(archive, key)
    with archive.zip.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            return None
        if version not in _HEADER_READERS:
            raise UnsafeNpzError(f"unknown .npy format version {version}", key)
        shape, _, dtype = _HEADER_READERS[version](f)
        return shape, dtype, info.file_size - f.tell()


def read_member(archive: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """``archive[key]``, after checking from the zip directory and the ``.npy`` header alone that
    it fits in memory and holds the bytes its shape needs; else :class:`UnsafeNpzError`."""
    info = _member(archive, key)
    memory = available_memory()
    if memory is not None and info.file_size > memory:
        raise UnsafeNpzError(
            f"decompresses to {info.file_size:,} bytes (from {info.compress_size:,}), "
            f"more than the {memory:,} bytes of memory available",
            key,
        )
    header = npy_header(archive, key)
    if header is not None and not header[1].hasobject:
        shape, dtype, held = header
        claimed = math.prod(shape) * dtype.itemsize
        if claimed > held:
            raise UnsafeNpzError(
                f"header claims shape {shape} {dtype} ({claimed:,} bytes) but the member holds {held:,} bytes", key
            )
    return archive[key]


def _member(archive: np.lib.npyio.NpzFile, key: str) -> zipfile.ZipInfo:
    """The zip entry ``archive[key]`` reads: ``key`` itself, else ``key.npy`` (as ``NpzFile``)."""
    try:
        return archive.zip.getinfo(key)
    except KeyError:
        return archive.zip.getinfo(f"{key}.npy")
