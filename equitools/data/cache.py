"""Processed-data cache: one ``.pt`` file per (loader, sources, options), written atomically and
rebuilt when a source's content changes. The stamp keys on each source's resolved path, size and
content: for zip archives (``.npz``) the CRC-32 and sizes of every member, read from the zip
directory alone; for other files a BLAKE2b hash of the bytes. Modification times are ignored, so
a rewrite that keeps size and mtime is still seen.

Location: ``cache_dir`` argument, else ``$EQUITOOLS_CACHE``, else ``$XDG_CACHE_HOME/equitools``,
else ``~/.cache/equitools``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from ..atomic import atomic_write
from .frames import Frames

FORMAT_VERSION = 2
"""Bumped whenever the processed layout or a conversion changes; older caches are rebuilt."""


def default_cache_dir() -> Path:
    """``$EQUITOOLS_CACHE``, else ``$XDG_CACHE_HOME/equitools``, else ``~/.cache/equitools``."""
    if os.environ.get("EQUITOOLS_CACHE"):
        return Path(os.environ["EQUITOOLS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "equitools"


def fingerprint(sources: Iterable[Path]) -> str:
    """Digest of the resolved path, size and content (:func:`content_digest`) of every source file."""
    h = hashlib.sha256()
    for path in map(Path, sources):
        h.update(f"{path.resolve()}\0{path.stat().st_size}\0{content_digest(path)}\n".encode())
    return h.hexdigest()


def content_digest(path: Path) -> str:
    """What ``path`` holds: the name, CRC-32 and sizes of every member of a zip archive (from its
    directory, without decompressing), else a BLAKE2b digest of the bytes read in 1 MiB chunks."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "zip:" + ";".join(
                f"{i.filename}:{i.CRC:08x}:{i.file_size}:{i.compress_size}" for i in archive.infolist()
            )
    except zipfile.BadZipFile:
        pass  # not a zip archive: hash the bytes
    h = hashlib.blake2b()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "blake2b:" + h.hexdigest()


def cache_path(kind: str, sources: list[Path], options: dict, cache_dir: str | Path | None = None) -> Path:
    """Where the processed form of ``sources`` read with ``options`` lives."""
    key = json.dumps([kind, [str(Path(p).resolve()) for p in sources], options], sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    stem = Path(sources[0]).name.split(".")[0] if sources else kind
    return Path(cache_dir or default_cache_dir()) / f"{kind}-{stem}-{digest}.pt"


def load_or_build(
    kind: str,
    sources: list[Path],
    options: dict,
    build: Callable[[], tuple[Frames, dict]],
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> tuple[Frames, dict]:
    """The processed frames and metadata of ``sources``: from the cache when it is current,
    else from ``build()`` (then stored). A stale, foreign or unreadable cache file is rebuilt."""
    if not use_cache:
        return build()
    path = cache_path(kind, sources, options, cache_dir)
    try:
        stamp = {"version": FORMAT_VERSION, "fingerprint": fingerprint(sources)}
    except OSError:  # a missing or unreadable source: build() reports it, naming the file
        return build()
    if path.exists():
        try:
            payload = torch.load(path, weights_only=True)
            if payload.get("stamp") == stamp:
                return Frames.from_dict(payload["frames"]), payload["metadata"]
        except Exception as exc:  # a corrupt cache is never fatal: it is rebuilt below
            warnings.warn(f"rebuilding unreadable cache {path}: {exc}", stacklevel=2)
    frames, metadata = build()
    payload = {"stamp": stamp, "frames": frames.to_dict(), "metadata": metadata}
    try:
        atomic_write(path, lambda f: torch.save(payload, f))
    except OSError as exc:  # read-only or full disk: the data is still good, only not cached
        warnings.warn(f"could not write cache {path}: {exc}", stacklevel=2)
    return frames, metadata
