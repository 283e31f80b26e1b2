"""QM9 (Ramakrishnan et al., Sci. Data 1, 140022, 2014) as ``Data``: 19 targets in
documented units, from the raw figshare files or the qm9pack CSVs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from ..extras import locate
from .dataset import CachedDataset
from .errors import DataFormatError
from .frames import Frames
from .qm9_parse import ELEMENTS, PROPERTIES, Molecule, iter_csv, iter_raw_archive, iter_raw_folder, read_exclusions
from .units import HARTREE
from .validate import check_frames

TARGETS = (
    "mu",
    "alpha",
    "homo",
    "lumo",
    "gap",
    "r2",
    "zpve",
    "U0",
    "U",
    "H",
    "G",
    "Cv",
    "U0_atom",
    "U_atom",
    "H_atom",
    "G_atom",
    "A",
    "B",
    "C",
)
"""Targets in the order of ``data.y`` (the order of torch_geometric's QM9: 12 standard targets,
4 atomisation energies, 3 rotational constants)."""

UNITS = {
    "mu": "D",
    "alpha": "bohr^3",
    "homo": "eV",
    "lumo": "eV",
    "gap": "eV",
    "r2": "bohr^2",
    "zpve": "eV",
    "U0": "eV",
    "U": "eV",
    "H": "eV",
    "G": "eV",
    "Cv": "cal/(mol K)",
    "U0_atom": "eV",
    "U_atom": "eV",
    "H_atom": "eV",
    "G_atom": "eV",
    "A": "GHz",
    "B": "GHz",
    "C": "GHz",
}
"""Units of each target: energies converted from Hartree to eV, the rest as published."""

ATOM_REFERENCES = {
    # Hartree; B3LYP/6-31G(2df,p) free-atom energies, the QM9 release's atomref.txt
    # (Ramakrishnan et al. 2014): U0 (0 K), U, H, G (298.15 K).
    "U0": {1: -0.500273, 6: -37.846772, 7: -54.583861, 8: -75.064579, 9: -99.718730},
    "U": {1: -0.498857, 6: -37.845355, 7: -54.582445, 8: -75.063162, 9: -99.717314},
    "H": {1: -0.497912, 6: -37.844411, 7: -54.581501, 8: -75.062219, 9: -99.716370},
    "G": {1: -0.510927, 6: -37.861317, 7: -54.598897, 8: -75.079532, 9: -99.733544},
}
"""Atom reference energies (Hartree) for the atomisation energies ``X_atom = X - Σ_atoms ref``."""

_EV = {"homo", "lumo", "gap", "zpve", "U0", "U", "H", "G"}


def qm9pack_csvs() -> list[Path]:
    """The CSVs of an installed ``qm9pack`` (all 130,831 molecules), without importing it."""
    data = locate("qm9pack", "qm9", "QM9 without a root (the qm9pack CSVs)") / "data"
    files = sorted(data.glob("qm9_part*.csv"))
    if not files:
        raise FileNotFoundError(f"qm9pack is installed but {data} holds no qm9_part*.csv")
    return files


def targets_of(molecule: Molecule) -> np.ndarray:
    """The ``TARGETS`` of one molecule ``(19,)`` in ``UNITS``, from its raw properties."""
    raw = dict(zip(PROPERTIES, molecule.props))
    out = {k: raw[k] * HARTREE if k in _EV else raw[k] for k in PROPERTIES}
    for key, ref in ATOM_REFERENCES.items():
        out[f"{key}_atom"] = (raw[key] - sum(ref[int(z)] for z in molecule.z)) * HARTREE
    return np.array([out[k] for k in TARGETS])


class QM9(CachedDataset):
    """QM9 molecules as ``Data``: ``z``, ``pos`` (Å), ``energy`` (U0, eV, ``(1,)``), ``y``
    ``(1, 19)`` in ``TARGETS`` order, each target also by name (``data.gap``, ``(1,)``) and
    ``idx`` (the QM9 index). No forces: QM9 holds relaxed geometries without gradients.

    root: None (the installed qm9pack CSVs), a qm9pack CSV, a folder of ``dsgdb9nsd_*.xyz``
    files, the ``dsgdb9nsd.xyz.tar.bz2`` archive, or a folder holding the archive or
    ``qm9_part*.csv``. exclude: QM9 indices to drop, or the path of the release's
    ``uncharacterized.txt`` (the 3,054 molecules that failed its consistency check; qm9pack
    already leaves them out). options: ``transform``, ``dtype``, ``cache_dir``, ``use_cache``,
    ``min_distance``, as :class:`~equitools.data.dataset.CachedDataset`. Molecules are ordered by
    QM9 index.
    """

    targets = TARGETS
    units = UNITS

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        exclude: Iterable[int] | str | Path | None = None,
        **options,
    ):
        kind, sources = _locate(root)
        excluded = sorted(read_exclusions(exclude) if isinstance(exclude, (str, Path)) else set(exclude or ()))
        extra = [Path(exclude)] if isinstance(exclude, (str, Path)) else []

        def build(min_distance: float) -> tuple[Frames, dict]:
            return _build(_molecules(kind, sources), sources, set(excluded), min_distance)

        super().__init__(f"qm9-{kind}", sources + extra, {"exclude": excluded}, build, **options)

    def target_index(self, name: str) -> int:
        """Column of ``name`` in ``data.y``."""
        return TARGETS.index(name)


def _locate(root) -> tuple[str, list[Path]]:
    if root is None:
        return "csv", qm9pack_csvs()
    root = Path(root)
    if root.is_file():
        return ("csv", [root]) if root.suffix == ".csv" else ("archive", [root])
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or folder")
    raw = sorted(root.glob("dsgdb9nsd_*.xyz"))
    if raw:
        return "raw", raw
    if (root / "dsgdb9nsd.xyz.tar.bz2").is_file():
        return "archive", [root / "dsgdb9nsd.xyz.tar.bz2"]
    csvs = sorted(root.glob("qm9_part*.csv"))
    if csvs:
        return "csv", csvs
    raise FileNotFoundError(f"{root}: no dsgdb9nsd_*.xyz files, dsgdb9nsd.xyz.tar.bz2 or qm9_part*.csv")


def _molecules(kind: str, sources: list[Path]) -> Iterator[Molecule]:
    if kind == "raw":
        yield from iter_raw_folder(sources[0].parent)
    else:
        for path in sources:
            yield from (iter_csv(path) if kind == "csv" else iter_raw_archive(path))


def _build(
    molecules: Iterable[Molecule], sources: list[Path], excluded: set[int], min_distance: float
) -> tuple[Frames, dict]:
    parts, seen = [], {}
    for m in molecules:
        if m.index in seen:
            raise DataFormatError(m.source, f"QM9 index {m.index} already read from {seen[m.index]}")
        seen[m.index] = m.source if m.line is None else f"{m.source} line {m.line}"
        if m.index in excluded:
            continue
        check_frames(
            m.source,
            m.z,
            m.pos[None],
            extra={p: m.props[None, k] for k, p in enumerate(PROPERTIES)},
            keys={"z": "elements", "pos": "coordinates"},
            label="molecule" if m.line is None else f"line {m.line}: molecule",
            first=m.index,
            min_distance=min_distance,
        )
        parts.append((m.index, m.z, m.pos, targets_of(m)))
    if not parts:
        raise DataFormatError(sources[0], "no molecules left" + (" after exclusions" if excluded else ""))
    parts.sort(key=lambda p: p[0])
    sizes = np.array([len(p[1]) for p in parts])
    y = np.stack([p[3] for p in parts])
    graph = {"y": torch.as_tensor(y), "idx": torch.as_tensor([p[0] for p in parts], dtype=torch.long)}
    graph.update({name: torch.as_tensor(y[:, k]) for k, name in enumerate(TARGETS)})
    frames = Frames(
        z=torch.as_tensor(np.concatenate([p[1] for p in parts])),
        pos=torch.as_tensor(np.concatenate([p[2] for p in parts])),
        ptr=torch.as_tensor(np.concatenate([[0], np.cumsum(sizes)]), dtype=torch.long),
        energy=torch.as_tensor(y[:, TARGETS.index("U0")]),
        graph=graph,
    )
    metadata = {
        "source": str((sources[0] if len(sources) == 1 else sources[0].parent).resolve()),
        "format": "qm9",
        "n_molecules": len(parts),
        "excluded": len(excluded & set(seen)),
        "targets": list(TARGETS),
        "units": {"pos": "Å", "energy": "eV (U0)", **UNITS},
        "atom_references": "B3LYP/6-31G(2df,p) atomref.txt of the QM9 release (Ramakrishnan et al. 2014)",
        "elements": sorted(ELEMENTS.values()),
    }
    return frames, metadata
