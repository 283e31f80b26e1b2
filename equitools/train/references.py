"""Per-element reference energies and the readout's scale, fitted on the training set."""

from __future__ import annotations

import math

import torch


def element_counts(dataset, max_z: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts ``(n_frames, max_z + 1)`` float64 of each element per frame, and the frames'
    targets ``(n_frames,)`` float64 (``data.energy`` after the dataset's transform)."""
    counts = torch.zeros(len(dataset), max_z + 1, dtype=torch.float64)
    energies = torch.empty(len(dataset), dtype=torch.float64)
    for i in range(len(dataset)):
        data = dataset[i]
        if int(data.z.max()) > max_z:
            raise ValueError(f"frame {i} has atomic number {int(data.z.max())} > the model's max_z = {max_z}")
        counts[i] = torch.bincount(data.z, minlength=max_z + 1).to(torch.float64)
        energies[i] = float(data.energy.reshape(-1)[0])
    return counts, energies


def fit_reference_energies(dataset, max_z: int) -> torch.Tensor:
    """Least-squares per-element energies ``(max_z + 1,)`` float64 (eV): E ≈ Σ_atoms E_ref[z].

    Elements absent from ``dataset`` get 0; where compositions do not separate the elements
    (one molecule, as in rMD17) the minimum-norm solution is taken, which still fits the mean.
    """
    counts, energies = element_counts(dataset, max_z)
    present = counts.sum(0) > 0
    solution = torch.linalg.lstsq(counts[:, present], energies[:, None], driver="gelsd").solution[:, 0]
    out = torch.zeros(max_z + 1, dtype=torch.float64)
    out[present] = solution
    return out


def readout_scale(dataset, references: torch.Tensor, use_forces: bool, readout: str = "sum") -> tuple[float, float]:
    """``(scale, shift)`` of the atomic readout. "sum": shift = mean residual energy per atom
    (eV); scale = RMS force component (eV/Å) when forces are learnt, else the std of the
    residual energy per atom (1 when that is 0). "mean": the same per structure. "dipole":
    (1, 0) (a shift cancels in neutral charges)."""
    if readout == "dipole":
        return 1.0, 0.0
    counts, energies = element_counts(dataset, references.shape[0] - 1)
    n_atoms = counts.sum(1)
    per_atom = (energies - counts @ references) / (n_atoms if readout == "sum" else 1.0)
    shift = float(per_atom.mean())
    if use_forces:
        squares = sum(float((dataset[i].forces.double() ** 2).sum()) for i in range(len(dataset)))
        scale = math.sqrt(squares / (3 * float(n_atoms.sum())))
    else:
        scale = float(per_atom.std()) if len(dataset) > 1 else 0.0
    return (scale if scale > 0 else 1.0), shift
