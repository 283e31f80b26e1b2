"""Revised MD17 (Christensen & von Lilienfeld 2020): the figshare release and pre-split files.

Layouts found under ``root`` (or ``root/rmd17``):

- the release: ``npz_data/rmd17_<molecule>.npz`` (100,000 frames) with the official splits
  ``splits/index_{train,test}_0<k>.csv`` (k = 1..5, 1,000 indices each);
- pre-split files ``rmd17_<molecule>_{train,test}_0<k>.npz`` (as in ``$EQUITOOLS_DATA/rmd17``).

Keys as published: ``nuclear_charges`` [A], ``coords`` [N, A, 3] Å, ``energies`` [N] kcal/mol,
``forces`` [N, A, 3] kcal/mol/Å; converted on read to eV and eV/Å.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .npz import NpzDataset, NpzSchema, count_frames
from .splits import read_index_file

MOLECULES = (
    "aspirin",
    "azobenzene",
    "benzene",
    "ethanol",
    "malonaldehyde",
    "naphthalene",
    "paracetamol",
    "salicylic",
    "toluene",
    "uracil",
)
SCHEMA = NpzSchema(
    "rmd17", {"z": "nuclear_charges", "pos": "coords", "energy": "energies", "forces": "forces"}, "kcal/mol"
)
SPLITS = ("train", "test", "all")


def official_split(root: str | Path, molecule: str, split_index: int = 1) -> dict[str, np.ndarray]:
    """The official rMD17 split ``split_index`` (1..5) of the release under ``root``:
    ``{"train": (1000,), "test": (1000,)}`` frame indices into ``rmd17_<molecule>.npz``."""
    npz, splits_dir = _release(Path(root), molecule)
    if npz is None:
        raise FileNotFoundError(f"no rMD17 release (npz_data/rmd17_{molecule}.npz) under {root}")
    n_frames = count_frames(npz, SCHEMA)
    return {
        part: read_index_file(splits_dir / f"index_{part}_{split_index:02d}.csv", n_frames)
        for part in ("train", "test")
    }


class RMD17(NpzDataset):
    """rMD17 frames of ``molecule`` as ``Data`` (energy eV, forces eV/Å).

    split: ``"train"`` or ``"test"`` (official split ``split_index``, 1..5: pre-split files if
    present, else the release npz with its index CSVs) or ``"all"`` (the release npz, 100,000
    frames). options: ``transform``, ``dtype``, ``cache_dir``, ``use_cache``, ``min_distance``,
    as :class:`~equitools.data.dataset.CachedDataset` (processed frames are cached, see
    :mod:`equitools.data.cache`).
    """

    def __init__(self, root: str | Path, molecule: str, split: str = "train", split_index: int = 1, **options):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not 1 <= split_index <= 5:
            raise ValueError(f"split_index must be 1..5 (the official rMD17 splits), got {split_index}")
        npz, index_file = _locate(Path(root), molecule, split, split_index)
        metadata = {"molecule": molecule, "split": split, "split_index": split_index}
        super().__init__(npz, SCHEMA, index_file, metadata, **options)


def read_rmd17(path: str | Path, **options) -> NpzDataset:
    """All frames of one npz file in the rMD17 schema (published, pre-split or generated);
    ``options`` as :class:`RMD17`."""
    return NpzDataset(path, SCHEMA, **options)


def _release(root: Path, molecule: str) -> tuple[Path | None, Path]:
    for base in (root, root / "rmd17"):
        npz = base / "npz_data" / f"rmd17_{molecule}.npz"
        if npz.is_file():
            return npz, base / "splits"
    return None, root / "splits"


def _locate(root: Path, molecule: str, split: str, split_index: int) -> tuple[Path, Path | None]:
    """The npz file to read and the index file to apply to it, if any."""
    tried = []
    if split != "all":
        for base in (root, root / "rmd17"):
            pre = base / f"rmd17_{molecule}_{split}_{split_index:02d}.npz"
            if pre.is_file():
                return pre, None
            tried.append(pre)
    npz, splits_dir = _release(root, molecule)
    tried.append(root / "npz_data" / f"rmd17_{molecule}.npz")
    if npz is not None:
        if split == "all":
            return npz, None
        index_file = splits_dir / f"index_{split}_{split_index:02d}.csv"
        if not index_file.is_file():
            raise FileNotFoundError(f"{npz} found but not its official split file {index_file}")
        return npz, index_file
    hint = "" if molecule in MOLECULES else f" (rMD17 molecules: {', '.join(MOLECULES)})"
    raise FileNotFoundError(
        f"no rMD17 data for {molecule!r} {split}{hint}; looked for: " + ", ".join(str(p) for p in tried)
    )
