"""Original MD17 (Chmiela et al. 2017) in the sGDML npz format: ``R`` [N, A, 3] Å, ``z`` [A],
``E`` [N, 1] kcal/mol, ``F`` [N, A, 3] kcal/mol/Å; converted on read to eV and eV/Å."""

from __future__ import annotations

from pathlib import Path

import torch

from .cache import load_or_build
from .dataset import AtomsDataset
from .npz import read_npz_frames
from .validate import MIN_DISTANCE

KEYS = {"z": "z", "pos": "R", "energy": "E", "forces": "F"}
ENERGY_UNIT = "kcal/mol"


class MD17(AtomsDataset):
    """All frames of ``root/md17_<molecule>.npz`` (or ``<molecule>_dft.npz``, as some files of
    the sGDML site are named) as ``Data``. Other arguments as :class:`RMD17`."""

    def __init__(
        self,
        root: str | Path,
        molecule: str,
        *,
        transform=None,
        dtype: torch.dtype | None = None,
        cache_dir=None,
        use_cache: bool = True,
        min_distance: float = MIN_DISTANCE,
    ):
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
        frames, metadata = _load(path, cache_dir, use_cache, min_distance)
        super().__init__(frames, {**metadata, "molecule": molecule}, transform=transform, dtype=dtype)


def read_md17(
    path: str | Path,
    *,
    transform=None,
    dtype: torch.dtype | None = None,
    cache_dir=None,
    use_cache: bool = True,
    min_distance: float = MIN_DISTANCE,
) -> AtomsDataset:
    """All frames of one sGDML/MD17 npz file; arguments as :class:`RMD17`."""
    frames, metadata = _load(Path(path), cache_dir, use_cache, min_distance)
    return AtomsDataset(frames, metadata, transform=transform, dtype=dtype)


def _load(path: Path, cache_dir, use_cache: bool, min_distance: float):
    frames, metadata = load_or_build(
        "md17",
        [path],
        {"min_distance": min_distance},
        lambda: read_npz_frames(path, KEYS, ENERGY_UNIT, min_distance=min_distance),
        cache_dir,
        use_cache,
    )
    return frames, {**metadata, "format": "md17"}
