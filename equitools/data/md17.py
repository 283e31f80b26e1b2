"""Original MD17 (Chmiela et al. 2017) in the sGDML npz format: ``R`` [N, A, 3] Å, ``z`` [A],
``E`` [N, 1] kcal/mol, ``F`` [N, A, 3] kcal/mol/Å; converted on read to eV and eV/Å."""

from __future__ import annotations

from pathlib import Path

from .npz import NpzDataset, NpzSchema

SCHEMA = NpzSchema("md17", {"z": "z", "pos": "R", "energy": "E", "forces": "F"}, "kcal/mol")


class MD17(NpzDataset):
    """All frames of ``root/md17_<molecule>.npz`` (or ``<molecule>_dft.npz``, as some files of
    the sGDML site are named) as ``Data``. options: ``transform``, ``dtype``, ``cache_dir``,
    ``use_cache``, ``min_distance``, as :class:`~equitools.data.dataset.CachedDataset`."""

    def __init__(self, root: str | Path, molecule: str, **options):
        root = Path(root)
        candidates = [
            root / f"md17_{molecule}.npz",
            root / f"{molecule}_dft.npz",
            *sorted(root.glob(f"md17_{molecule}*.npz")),
        ]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"no MD17 file for {molecule!r}; looked for: " + ", ".join(map(str, candidates[:2]))
            )
        super().__init__(path, SCHEMA, metadata={"molecule": molecule}, **options)


def read_md17(path: str | Path, **options) -> NpzDataset:
    """All frames of one sGDML/MD17 npz file; ``options`` as :class:`MD17`."""
    return NpzDataset(path, SCHEMA, **options)
