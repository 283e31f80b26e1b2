"""What a potential refuses to answer: non-finite geometry and coincident atoms.

A NaN or infinite coordinate would otherwise fall out of the radius graph (every distance
comparison with NaN is false) and leave a plausible, finite energy; two atoms at one place make
every model's edge direction 0/0. Both raise :class:`GeometryError` naming the atom (pair) and
its structure. The check costs one fused reduction (and one host sync) per call: the positions
and outputs are tested together, and only a failure pays for locating the culprit.
"""

from __future__ import annotations

import torch

COINCIDENT = 1e-6
"""Å: atoms closer than this are reported as coincident when the outputs are not finite."""


class GeometryError(ValueError):
    """Positions or cells a potential cannot evaluate; the message names the atom (pair) and structure."""


def check_cell(cell: torch.Tensor) -> None:
    """Raise :class:`GeometryError` when a cell ``(n_graphs, 3, 3)`` (Å) has a non-finite entry."""
    bad = ~torch.isfinite(cell).reshape(cell.shape[0], -1).all(-1)
    if bool(bad.any()):
        k = int(bad.nonzero()[0])
        raise GeometryError(f"cell of structure {k} has a NaN or infinite entry: {cell[k].tolist()}")


def check_positions(pos: torch.Tensor, batch: torch.Tensor) -> None:
    """Raise :class:`GeometryError` naming the first atom of ``pos`` ``(n_atoms, 3)`` (Å) with a
    NaN or infinite coordinate."""
    bad = ~torch.isfinite(pos.detach()).all(-1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise GeometryError(
            f"atom {i} (structure {int(batch[i])}) has a NaN or infinite position {pos[i].detach().tolist()} Å"
        )


def check_result(
    pos: torch.Tensor, batch: torch.Tensor, outputs: list[torch.Tensor], length: torch.Tensor, edge_index: torch.Tensor
) -> None:
    """After a forward pass: raise :class:`GeometryError` for non-finite positions, or for
    coincident atoms when an output is not finite (the models are undefined at r = 0).

    pos ``(n_atoms, 3)``; outputs: energy, forces, ... (any shapes); length ``(E,)`` edge
    lengths (Å) of ``edge_index`` ``(2, E)``. Non-finite outputs from other causes (non-finite
    weights) are left to the caller, which sees them.
    """
    flags = [torch.isfinite(pos.detach()).all()] + [torch.isfinite(x.detach()).all() for x in outputs]
    if bool(torch.stack(flags).all()):
        return
    check_positions(pos, batch)
    if length.numel():
        length = length.detach()
        e = int(torch.argmin(length))
        r = float(length[e])
        if r < COINCIDENT:
            j, i = (int(v) for v in edge_index[:, e])
            raise GeometryError(
                f"atoms {min(i, j)} and {max(i, j)} (structure {int(batch[i])}) are {r:.3g} Å "
                f"apart: the model is undefined for coincident atoms"
            )
