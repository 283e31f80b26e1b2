"""Force-field ``.npz`` files (the rMD17 and sGDML/MD17 schemas) read into :class:`Frames`."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import DataFormatError
from .frames import Frames
from .units import energy_factor
from .validate import check_frames

_UNREADABLE = (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, KeyError)


def read_npz_arrays(path: str | Path, keys: Mapping[str, str]) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays ``keys`` (field -> key in the file) of an ``.npz`` file, and its scalar extras.

    Returns ``({field: array}, {key: value})``; the second holds the file's 0-d entries other
    than ``keys`` (e.g. sGDML's ``theory``, generated sets' ``temperature_K``).
    Raises :class:`DataFormatError` for an empty, truncated or non-npz file, a missing key or an
    unreadable array.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataFormatError(path, "file is empty")
    try:
        archive = np.load(path, allow_pickle=False)
    except _UNREADABLE as exc:
        raise DataFormatError(path, f"not a readable .npz archive (truncated or corrupt?): {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataFormatError(path, "a single .npy array, not an .npz archive of named arrays")
    with archive:
        present = set(archive.files)
        for key in keys.values():
            if key not in present:
                raise DataFormatError(path, f"missing key (the file has: {', '.join(sorted(present)) or 'nothing'})",
                                      where=f"key {key!r}")
        arrays = {}
        for field, key in keys.items():
            try:
                arrays[field] = archive[key]
            except _UNREADABLE as exc:
                raise DataFormatError(path, f"cannot be read (truncated archive or object array?): {exc}",
                                      where=f"key {key!r}") from exc
        extras = {key: archive[key].item() for key in sorted(present - set(keys.values()))
                  if _is_small_scalar(archive, key)}
    return arrays, extras


def _is_small_scalar(archive: np.lib.npyio.NpzFile, key: str) -> bool:
    """Whether entry ``key`` is a readable 0-d number or string (read from its header only)."""
    try:
        with archive.zip.open(f"{key}.npy") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
    except _UNREADABLE:
        return False
    return shape == () and dtype.kind in "biufU"


def read_npz_frames(path: str | Path, keys: Mapping[str, str], energy_unit: str,
                    indices: np.ndarray | None = None) -> tuple[Frames, dict]:
    """Frames of an npz file with fields ``z``, ``pos``, ``energy``, ``forces`` under ``keys``.

    Energies ``(N,)`` or ``(N, 1)`` and forces in ``energy_unit`` (per Å) are converted to eV and
    eV/Å; positions are Å. ``indices`` (into the file's frames) selects frames after the whole
    file is validated. Returns frames and metadata (source, units, the file's scalar extras).
    """
    arrays, extras = read_npz_arrays(path, keys)
    energy = arrays["energy"]
    if energy.ndim == 2 and energy.shape[1] == 1:
        energy = energy[:, 0]
    z = check_frames(path, arrays["z"], arrays["pos"], energy, arrays["forces"], keys=keys)
    factor = energy_factor(energy_unit)
    pos, forces = arrays["pos"], arrays["forces"]
    if indices is not None:
        pos, energy, forces = pos[indices], energy[indices], forces[indices]
    frames = Frames.from_fixed(z, pos, energy * factor, forces * factor)
    metadata = {
        "source": str(Path(path).resolve()),
        "units": {"pos": "Å", "energy": "eV", "forces": "eV/Å"},
        "converted_from": {"energy": energy_unit, "forces": f"{energy_unit}/Å"},
        "keys": dict(keys),
        "attributes": extras,
    }
    return frames, metadata
