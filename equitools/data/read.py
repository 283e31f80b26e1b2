"""One data file of any supported format: :func:`read` guesses the format (:func:`guess_format`)
and calls its loader. Every command, the training data module and ``read_structure`` read
data files through here."""

from __future__ import annotations

from pathlib import Path

from equitools.safe_npz import READ_ERRORS, open_npz

from .dataset import AtomsDataset
from .extxyz import ExtXYZ
from .md17 import read_md17
from .qm9 import QM9
from .rmd17 import read_rmd17

LOADERS = {"rmd17": read_rmd17, "md17": read_md17, "qm9": QM9, "extxyz": ExtXYZ}
"""The loader of each format."""

EXTXYZ_OPTIONS = ("energy_key", "forces_key", "energy_unit")
"""Options only the extxyz loader takes (the npz and QM9 files have fixed keys and units)."""


def guess_format(path: str | Path) -> str:
    """The format of ``path``: md17 for an npz with any sGDML key (``R``, ``E``, ``F``), else
    rmd17; qm9 for CSVs, folders and tar archives; else extxyz (anything ase.io reads)."""
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with open_npz(path) as archive:
                return "md17" if {"R", "E", "F"} & set(archive.files) else "rmd17"
        except READ_ERRORS:
            return "rmd17"  # the loader reports what is wrong with the file
    if path.is_dir() or path.suffix == ".csv" or ".tar" in path.suffixes:
        return "qm9"
    return "extxyz"


def read(path: str | Path, format: str | None = None, **options) -> AtomsDataset:
    """The data set in ``path`` (a file, or a QM9 folder), read by the loader of ``format``
    (one of :data:`LOADERS`; None: :func:`guess_format`). ``options`` go to the loader:
    ``transform``, ``dtype``, ``min_distance``, ``cache_dir``, ``use_cache``, and for extxyz
    ``energy_key``, ``forces_key``, ``energy_unit``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no data file at {path}: no such file or folder")
    format = format or guess_format(path)
    if format not in LOADERS:
        raise ValueError(f"{path}: unknown data format {format!r}; known: {', '.join(LOADERS)}")
    if format != "extxyz" and (misplaced := sorted(set(options) & set(EXTXYZ_OPTIONS))):
        raise ValueError(f"{path} reads as {format}: {', '.join(misplaced)} only apply to extxyz files")
    return LOADERS[format](path, **options)
