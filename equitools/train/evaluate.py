"""Evaluate a potential on a data set: energy/force errors and the predictions themselves."""

from __future__ import annotations

import numpy as np
from torch_geometric.loader import DataLoader

from equitools.models import Potential


def predict(model: Potential, dataset, batch_size: int = 64) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(reference, predicted)``: ``"energy"`` ``(n_frames,)`` eV and, where the data has
    forces, ``"forces"`` ``(n_atoms_total, 3)`` eV/Å, float64 numpy."""
    model.eval()
    dtype = next(model.parameters()).dtype
    has_forces = len(dataset) > 0 and "forces" in dataset[0]
    reference: dict[str, list] = {"energy": [], "forces": []}
    predicted: dict[str, list] = {"energy": [], "forces": []}
    for batch in DataLoader(dataset, batch_size=batch_size):
        batch.pos = batch.pos.to(dtype)
        out = model(batch, compute_forces=has_forces)
        reference["energy"].append(batch.energy.reshape(-1).double().numpy())
        predicted["energy"].append(out["energy"].detach().double().numpy())
        if has_forces:
            reference["forces"].append(batch.forces.double().numpy())
            predicted["forces"].append(out["forces"].detach().double().numpy())
    keys = ["energy", "forces"] if has_forces else ["energy"]
    return ({k: np.concatenate(reference[k]) for k in keys}, {k: np.concatenate(predicted[k]) for k in keys})


def error_metrics(reference: dict[str, np.ndarray], predicted: dict[str, np.ndarray]) -> dict[str, float]:
    """MAE and RMSE ×1000 (meV per structure; meV/Å per force component) of each key."""
    out = {}
    for key in reference:
        diff = np.asarray(predicted[key], dtype=np.float64) - np.asarray(reference[key], dtype=np.float64)
        out[f"{key}_mae"] = float(1000 * np.mean(np.abs(diff)))
        out[f"{key}_rmse"] = float(1000 * np.sqrt(np.mean(diff**2)))
    return out


def evaluate(model: Potential, dataset, batch_size: int = 64) -> dict[str, float]:
    """Error metrics of ``model`` on ``dataset`` (see :func:`error_metrics`), plus ``n_frames``."""
    reference, predicted = predict(model, dataset, batch_size)
    return {**error_metrics(reference, predicted), "n_frames": len(dataset)}
