"""The one validation helper every loader calls before it converts or stores anything."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import DataFormatError

MAX_ATOMIC_NUMBER = 118
MIN_DISTANCE = 0.1
"""Å: atoms closer than this in a frame are a broken file (two atoms in one place give NaN)."""
_CHUNK = 1 << 15  # squared distances computed at a time (256 KiB of float64, cache-sized)


def check_frames(
    path: str | Path,
    z: np.ndarray,
    pos: np.ndarray,
    energy: np.ndarray | None = None,
    forces: np.ndarray | None = None,
    *,
    extra: Mapping[str, np.ndarray] | None = None,
    keys: Mapping[str, str] | None = None,
    label: str = "frame",
    first: int = 0,
    min_distance: float = MIN_DISTANCE,
) -> np.ndarray:
    """Check frames of one composition; raise :class:`DataFormatError` naming file, key and frame.

    z: ``(A,)`` atomic numbers; pos: ``(N, A, 3)``; energy: ``(N,)``; forces: ``(N, A, 3)``;
    extra: other per-frame arrays ``(N, ...)`` by name. ``keys`` maps the field names
    (``z``, ``pos``, ``energy``, ``forces``) to the names used in the file, for messages;
    frames are reported as ``f"{label} {first + i}"``. Checks: shapes and atom counts agree,
    numbers are real and finite, atomic numbers are known (1..118), at least one frame and atom,
    no two atoms of a frame closer than ``min_distance`` Å (0 disables; plain Cartesian
    distance, so for periodic frames periodic images are not considered). Returns z as int64.
    """
    if not min_distance >= 0:
        raise ValueError(f"min_distance must be >= 0 Å, got {min_distance}")
    keys = dict(keys or {})
    name = {field: keys.get(field, field) for field in ("z", "pos", "energy", "forces")}

    def fail(key: str, problem: str, frame: int | None = None) -> DataFormatError:
        where = f"key {key!r}" + ("" if frame is None else f": {label} {first + frame}")
        return DataFormatError(path, problem, where=where)

    arrays = {"pos": pos, "energy": energy, "forces": forces}
    for field, array in [("z", z), *arrays.items(), *(extra or {}).items()]:
        if array is not None and np.asarray(array).dtype.kind not in "biuf":
            raise fail(name.get(field, field), f"expected numbers, got dtype {np.asarray(array).dtype}")

    z = np.asarray(z)
    if z.ndim != 1:
        raise fail(name["z"], f"expected a 1-D array of atomic numbers, got shape {z.shape}")
    if z.size == 0:
        raise fail(name["z"], "no atoms")
    if z.dtype.kind == "f":
        if not np.all(np.isfinite(z)) or np.any(z != np.round(z)):
            raise fail(name["z"], "atomic numbers must be integers")
    z = z.astype(np.int64)
    unknown = np.flatnonzero((z < 1) | (z > MAX_ATOMIC_NUMBER))
    if unknown.size:
        atom = int(unknown[0])
        raise fail(name["z"], f"unknown atomic number {z[atom]} at atom {atom}")

    n_atoms = z.size
    pos = np.asarray(pos)
    if pos.ndim != 3 or pos.shape[1:] != (n_atoms, 3):
        raise fail(
            name["pos"], f"expected shape (N, {n_atoms}, 3) for {n_atoms} atoms (from {name['z']!r}), got {pos.shape}"
        )
    n_frames = pos.shape[0]
    if n_frames == 0:
        raise fail(name["pos"], "no frames")
    expected = {"energy": (n_frames,), "forces": (n_frames, n_atoms, 3)}
    for field, shape in expected.items():
        array = arrays[field]
        if array is not None and np.shape(array) != shape:
            raise fail(
                name[field],
                f"expected shape {shape} ({n_frames} frames of {n_atoms} atoms "
                f"in {name['pos']!r}), got {np.shape(array)}",
            )
    for key, array in (extra or {}).items():
        if np.shape(array)[:1] != (n_frames,):
            raise fail(key, f"expected {n_frames} values (one per {label}), got shape {np.shape(array)}")

    for field, array in [*arrays.items(), *(extra or {}).items()]:
        if array is None:
            continue
        finite = np.isfinite(np.asarray(array, dtype=np.float64).reshape(n_frames, -1)).all(axis=1)
        if not finite.all():
            raise fail(name.get(field, field), "NaN or infinite value", int(np.argmin(finite)))
    close = _close_pair(pos, min_distance)
    if close is not None:
        frame, i, j = close
        distance = float(np.linalg.norm(pos[frame, i] - pos[frame, j]))
        raise fail(name["pos"], f"atoms {i} and {j} are {distance:.3f} Å apart (minimum {min_distance:g} Å)", frame)
    return z


def _close_pair(pos: np.ndarray, min_distance: float) -> tuple[int, int, int] | None:
    """``(frame, i, j)``: the first frame with two atoms closer than ``min_distance`` Å and
    such a pair in it (i < j); None if there is none. pos: ``(N, A, 3)`` Å, finite.

    Squared distances in blocks of frames and rows of about ``_CHUNK`` entries, so memory
    stays bounded at any N and A.
    """
    n, a = pos.shape[:2]
    if min_distance == 0 or a < 2:
        return None
    rows = min(a, max(1, _CHUNK // a))
    step = max(1, _CHUNK // (rows * a))
    for start in range(0, n, step):
        xyz = np.asarray(pos[start : start + step], dtype=np.float64).transpose(2, 0, 1).copy()  # (3, frames, A)
        for r in range(0, a, rows):
            upper = np.arange(a)[None, :] > np.arange(r, min(r + rows, a))[:, None]  # pairs i < j
            d2 = sum((c[:, r : r + rows, None] - c[:, None, :]) ** 2 for c in xyz)  # (frames, rows, A)
            hit = np.flatnonzero(((d2 < min_distance**2) & upper).any(axis=(1, 2)))
            if hit.size:
                f = int(hit[0])
                i, j = np.unravel_index(int(np.argmin(np.where(upper, d2[f], np.inf))), upper.shape)
                return start + f, r + int(i), int(j)
    return None
