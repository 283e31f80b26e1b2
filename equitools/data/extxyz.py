"""Any file ``ase.io`` reads (extended XYZ above all) as ``Data``, with configurable keys."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from .dataset import CachedDataset
from .errors import DataFormatError
from .frames import Frames
from .units import energy_factor
from .validate import check_frames


class ExtXYZ(CachedDataset):
    """Frames of ``path`` read by ``ase.io`` (``format`` as ``ase.io.read``; ``.xyz`` and
    ``.extxyz`` are read as extended XYZ).

    energy_key / forces_key: where the labels are, in ``atoms.info`` / ``atoms.arrays`` or the
    results of the calculator ASE attaches (``energy``, ``forces``); None to read structures
    only. energy_unit: the file's energy unit (forces: that unit per Å), converted to eV.
    options: ``transform``, ``dtype``, ``cache_dir``, ``use_cache``, ``min_distance``, as
    :class:`~equitools.data.dataset.CachedDataset` (``min_distance``: Cartesian distance within
    the cell, periodic images are not compared).
    Every frame also carries ``cell`` ``(1, 3, 3)`` Å and ``pbc`` ``(1, 3)`` bool, for
    :class:`~equitools.data.graphs.RadiusGraph` on periodic systems.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        energy_key: str | None = "energy",
        forces_key: str | None = "forces",
        energy_unit: str = "eV",
        format: str | None = None,
        **options,
    ):
        path = Path(path)
        factor = energy_factor(energy_unit)
        if format is None and path.suffix in (".xyz", ".extxyz"):
            format = "extxyz"

        def build(min_distance: float) -> tuple[Frames, dict]:
            frames = [
                _frame(path, k, atoms, energy_key, forces_key, factor, min_distance)
                for k, atoms in enumerate(_read(path, format))
            ]
            if not frames:
                raise DataFormatError(path, "no frames")
            metadata = {
                "source": str(path.resolve()),
                "format": f"ase:{format or 'auto'}",
                "units": {"pos": "Å", "energy": "eV", "forces": "eV/Å", "cell": "Å"},
                "converted_from": {"energy": energy_unit, "forces": f"{energy_unit}/Å"},
                "keys": {"energy": energy_key, "forces": forces_key},
            }
            return Frames.concatenate(frames), metadata

        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        settings = {"energy_key": energy_key, "forces_key": forces_key, "energy_unit": energy_unit, "format": format}
        super().__init__("extxyz", [path], settings, build, **options)


def _read(path: Path, format: str | None):
    """Frames of ``path`` one by one; a parse error names the frame it happened in."""
    if path.stat().st_size == 0:
        raise DataFormatError(path, "file is empty")
    k = 0
    try:
        for atoms in ase.io.iread(path, index=":", format=format):
            yield atoms
            k += 1
    except DataFormatError:
        raise
    except Exception as exc:  # ase raises many types (XYZError, ValueError, IndexError, ...)
        raise DataFormatError(path, f"ase.io cannot read it: {type(exc).__name__}: {exc}", where=f"frame {k}") from exc


def _label(atoms: Atoms, key: str, per_atom: bool):
    """A label from ``info``/``arrays`` or, for ASE's standard names, the attached calculator."""
    store = atoms.arrays if per_atom else atoms.info
    if key in store:
        return store[key]
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    return results.get(key)


def _frame(path: Path, k: int, atoms: Atoms, energy_key, forces_key, factor: float, min_distance: float) -> Frames:
    labels = {}
    for field, key, per_atom in (("energy", energy_key, False), ("forces", forces_key, True)):
        if key is None:
            continue
        value = _label(atoms, key, per_atom)
        if value is None:
            raise DataFormatError(path, f"missing {field} label", where=f"key {key!r}: frame {k}")
        labels[field] = np.asarray(value)
    energy = labels.get("energy")
    if energy is not None:
        energy = energy.reshape(1) if energy.size == 1 else energy[None]
    forces = labels.get("forces")
    cell, pbc = np.asarray(atoms.cell.array, dtype=np.float64), np.asarray(atoms.pbc, dtype=bool)
    z = check_frames(
        path,
        atoms.numbers,
        atoms.positions[None],
        energy,
        None if forces is None else forces[None],
        extra={"cell": cell[None]},
        keys={"z": "species", "pos": "pos", "energy": energy_key, "forces": forces_key},
        first=k,
        min_distance=min_distance,
    )
    return Frames.from_fixed(
        z,
        atoms.positions[None],
        None if energy is None else energy.astype(np.float64) * factor,
        None if forces is None else forces[None].astype(np.float64) * factor,
        graph={"cell": cell[None], "pbc": pbc[None]},
    )
