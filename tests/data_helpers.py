"""Shared helpers for the data tests: the real-data folder, and small files written on the spot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from equitools.paths import shared_data_dir


def shared(*parts: str) -> Path:
    """A path in the real-data folder; skips the test (with the reason) when there is none."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("real data folder not found: set EQUITOOLS_DATA or put it at ../shared/data")
    return Path(root, *parts)


def fake_frames(n_frames: int = 6, z=(8, 1, 1), seed: int = 0) -> dict[str, np.ndarray]:
    """Random frames in the rMD17 schema (kcal/mol), every array well formed: atoms on a 1.5 Å
    grid, moved by 0.05 Å noise, so no two are closer than the loaders' minimum distance."""
    rng = np.random.default_rng(seed)
    z = np.asarray(z, dtype=np.uint8)
    grid = 1.5 * np.array([(k % 3, k // 3 % 3, k // 9) for k in range(z.size)], dtype=np.float64)
    return {
        "nuclear_charges": z,
        "coords": grid + rng.normal(scale=0.05, size=(n_frames, z.size, 3)),
        "energies": rng.normal(-1000.0, 1.0, size=n_frames),
        "forces": rng.normal(size=(n_frames, z.size, 3)),
    }


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


QM9_METHANE = """5
gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t
C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689
H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921
H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922
H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923
H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923
1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078
C\tC\t
InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4
"""
"""Molecule 1 of QM9 exactly as the release's dsgdb9nsd_000001.xyz."""
