"""Processed-data cache: one ``.pt`` file per (loader, sources, options), rebuilt when a source
file changes (size or modification time) and written atomically.

Location: ``cache_dir`` argument, else ``$EQUITOOLS_CACHE``, else ``$XDG_CACHE_HOME/equitools``,
else ``~/.cache/equitools``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from ..atomic import atomic_write
from .frames import Frames

FORMAT_VERSION = 1
"""Bumped whenever the processed layout or a conversion changes; older caches are rebuilt."""


def default_cache_dir() -> Path:
    """``$EQUITOOLS_CACHE``, else ``$XDG_CACHE_HOME/equitools``, else ``~/.cache/equitools``."""
    if os.environ.get("EQUITOOLS_CACHE"):
        return Path(os.environ["EQUITOOLS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "equitools"


def fingerprint(sources: Iterable[Path]) -> str:
    """Digest of the resolved path, size and modification time (ns) of every source file."""
    h = hashlib.sha256()
    for path in sources:
        st = Path(path).stat()
        h.update(f"{Path(path).resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_path(kind: str, sources: list[Path], options: dict, cache_dir: str | Path | None = None) -> Path:
    """Where the processed form of ``sources`` read with ``options`` lives."""
    key = json.dumps([kind, [str(Path(p).resolve()) for p in sources], options], sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    stem = Path(sources[0]).name.split(".")[0] if sources else kind
    return Path(cache_dir or default_cache_dir()) / f"{kind}-{stem}-{digest}.pt"


def load_or_build(kind: str, sources: list[Path], options: dict, build: Callable[[], tuple[Frames, dict]],
                  cache_dir: str | Path | None = None, use_cache: bool = True) -> tuple[Frames, dict]:
    """The processed frames and metadata of ``sources``: from the cache when it is current,
    else from ``build()`` (then stored). A stale, foreign or unreadable cache file is rebuilt."""
    if not use_cache:
        return build()
    path = cache_path(kind, sources, options, cache_dir)
    stamp = {"version": FORMAT_VERSION, "fingerprint": fingerprint(sources)}
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
