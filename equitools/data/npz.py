"""Force-field ``.npz`` files (the rMD17 and sGDML/MD17 schemas, :class:`NpzSchema`) read into
:class:`Frames`, and one such file as a dataset (:class:`NpzDataset`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..safe_npz import READ_ERRORS, UnsafeNpzError, npy_header, open_npz, read_member
from .dataset import CachedDataset
from .errors import DataFormatError
from .frames import Frames
from .splits import read_index_file
from .units import energy_factor
from .validate import MIN_DISTANCE, check_frames


@dataclass(frozen=True)
class NpzSchema:
    """A force-field npz format: its name, the key in the file of each field (``z``, ``pos``,
    ``energy``, ``forces``) and the unit of its energies (forces: that unit per Å)."""

    format: str
    keys: Mapping[str, str]
    energy_unit: str


def read_npz_arrays(path: str | Path, keys: Mapping[str, str]) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays ``keys`` (field -> key in the file) of an ``.npz`` file, and its scalar extras.

    Returns ``({field: array}, {key: value})``; the second holds the file's 0-d entries other
    than ``keys`` (e.g. sGDML's ``theory``, generated sets' ``temperature_K``).
    Raises :class:`DataFormatError` for an empty, truncated or non-npz file, a missing key, an
    unreadable array, or one too large for memory or larger than its member (checked unread).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataFormatError(path, "file is empty")
    try:
        archive = open_npz(path)
    except UnsafeNpzError as exc:
        raise DataFormatError(path, exc.problem) from None
    except READ_ERRORS as exc:
        raise DataFormatError(path, f"not a readable .npz archive (truncated or corrupt?): {exc}") from exc
    with archive:
        present = set(archive.files)
        for key in keys.values():
            if key not in present:
                raise DataFormatError(
                    path, f"missing key (the file has: {', '.join(sorted(present)) or 'nothing'})", where=f"key {key!r}"
                )
        arrays = {}
        for field, key in keys.items():
            try:
                arrays[field] = read_member(archive, key)
            except UnsafeNpzError as exc:
                raise DataFormatError(path, exc.problem, where=f"key {key!r}") from None
            except READ_ERRORS as exc:
                raise DataFormatError(
                    path, f"cannot be read (truncated archive or object array?): {exc}", where=f"key {key!r}"
                ) from exc
        extras = {
            key: value
            for key in sorted(present - set(keys.values()))
            if (value := _small_scalar(archive, key)) is not None
        }
    return arrays, extras


def _small_scalar(archive: np.lib.npyio.NpzFile, key: str) -> int | float | str | None:
    """Entry ``key`` if it is a readable 0-d number or string (judged from its header), else None."""
    try:
        header = npy_header(archive, key)
        if header is None or header[0] != () or header[1].kind not in "biufU":
            return None
        return read_member(archive, key).item()
    except READ_ERRORS:  # UnsafeNpzError included: such an extra is left out
        return None


def read_npz_frames(
    path: str | Path,
    keys: Mapping[str, str],
    energy_unit: str,
    indices: np.ndarray | None = None,
    *,
    min_distance: float = MIN_DISTANCE,
) -> tuple[Frames, dict]:
    """Frames of an npz file with fields ``z``, ``pos``, ``energy``, ``forces`` under ``keys``.

    Energies ``(N,)`` or ``(N, 1)`` and forces in ``energy_unit`` (per Å) are converted to eV and
    eV/Å; positions are Å. ``indices`` (into the file's frames) selects frames after the whole
    file is validated; ``min_distance`` (Å) as :func:`check_frames`. Returns frames and metadata
    (source, units, the file's scalar extras).
    """
    arrays, extras = read_npz_arrays(path, keys)
    energy = arrays["energy"]
    if energy.ndim == 2 and energy.shape[1] == 1:
        energy = energy[:, 0]
    z = check_frames(path, arrays["z"], arrays["pos"], energy, arrays["forces"], keys=keys, min_distance=min_distance)
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


def count_frames(path: str | Path, schema: NpzSchema) -> int:
    """How many frames the npz file ``path`` of ``schema`` holds (its energies are read, nothing else)."""
    return len(read_npz_arrays(path, {"energy": schema.keys["energy"]})[0]["energy"])


class NpzDataset(CachedDataset):
    """The frames of the npz file ``path`` in ``schema`` as ``Data``, in eV and eV/Å: all of them,
    or those at the indices listed in ``index_file`` (a CSV as rMD17's official splits).

    metadata: entries to add to the dataset's metadata (``format`` is the schema's). options:
    ``transform``, ``dtype``, ``cache_dir``, ``use_cache``, ``min_distance``, as
    :class:`~equitools.data.dataset.CachedDataset`.
    """

    def __init__(
        self,
        path: str | Path,
        schema: NpzSchema,
        index_file: str | Path | None = None,
        metadata: dict | None = None,
        **options,
    ):
        path = Path(path)

        def build(min_distance: float) -> tuple[Frames, dict]:
            indices = None if index_file is None else read_index_file(index_file, count_frames(path, schema))
            return read_npz_frames(path, schema.keys, schema.energy_unit, indices, min_distance=min_distance)

        sources = [path] if index_file is None else [path, Path(index_file)]
        metadata = {"format": schema.format, **(metadata or {})}
        super().__init__(schema.format, sources, {}, build, metadata, **options)
