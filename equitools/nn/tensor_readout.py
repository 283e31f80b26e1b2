"""Per-structure tensorial readout: equivariant atomic features → a Cartesian tensor per structure.

Paper → code. A tensorial property of a structure (dipole, polarisability, a rank-3 response) is
predicted as a sum of atomic contributions, each an equivariant linear map of the atom's
features onto the irreducible parts of the target tensor, lifted to Cartesian components by the
target space's orthonormal basis: the irreducible parts of a Cartesian tensor and their
Cartesian embedding are the path matrices of Shao et al. 2024 ("High-Rank Irreducible Cartesian
Tensor Decomposition", arXiv:2412.18263), the irreducible Cartesian tensors that ICTP (Zaverkin et
al., NeurIPS 2024, arXiv:2405.14253) carries as features; the map onto them is a combination of
the orthonormal equivariant basis of Shao et al.:

    T_s = Σ_{i in s} Σ_k Σ_c W[k, c] B_k x_i[:, c]          (B, 3**rank)

with {B_k} the orthonormal basis of equivariant maps from the input irreps to the target space
(``ict.equivariant_basis``; through :class:`equitools.nn.cartesian.EquivariantLinear`). Each B_k
sends an input irrep copy to a copy of the same irrep in the target and then to Cartesian
components through the target's rows: ``ict.path_matrices(rank).stacked()`` for a general tensor
(``symmetry=None``) or ``ict.reduced_basis(formula).stacked()`` for an index symmetry such as
"ij=ji". So the output is equivariant by construction (a rank-r tensor transforms with
R ⊗ … ⊗ R and has parity (-1)^r under O(3)) and has exactly the requested index symmetry.

Choices where the paper is silent:

* The atoms are summed first and the map applied once per structure (the map is linear, so this
  is the same number as summing the atomic tensors, with one map per structure instead of one
  per atom).
* Target irreps that no input irrep reaches are zero: a general rank-2 polar tensor read from
  "0e+1o+2e" features has no antisymmetric (1e) part under O(3). ``group="SO(3)"`` ignores
  parity. A readout that reaches no target irrep at all is a ``ValueError``.
* Initialisation as ``EquivariantLinear`` (each reached irrep coefficient of an atomic
  contribution has unit variance for unit-variance features); no bias (a constant tensor is not
  equivariant unless isotropic).
* Input irreps may carry multiplicities; the layout is the library's ``(N, irreps_in.dim, C)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ict import path_matrices, reduced_basis
from ..ict.paths import check_rank
from ..tp.irreps import as_irreps
from .cartesian import EquivariantLinear, _check_channels
from .scatter import scatter_sum


class TensorReadout(nn.Module):
    """Sum over each structure's atoms of an equivariant map: features → Cartesian tensor.

    Args:
        irreps_in: irreps of one channel of the atomic features (``so3.Irreps`` or its string,
            e.g. "1x0e+1x1o+1x2e").
        channels: C, the number of feature channels.
        rank: the tensor rank (may be omitted when ``symmetry`` is given).
        symmetry: None (a general rank-``rank`` tensor) or an e3nn-style index-symmetry formula,
            such as "ij=ji" (symmetric) or "ijk=jik=ikj" (fully symmetric rank 3).
        group: "O(3)" or "SO(3)".

    Shapes: x ``(N, irreps_in.dim, C)``, batch ``(N,)`` (structure of each atom; None: one
    structure) → ``(num_graphs, 3**rank)``, components in C order (x, y, z per index, first
    index slowest); ``num_graphs`` defaults to ``batch.max() + 1``.

    >>> readout = TensorReadout("1x0e+1x1o+1x2e", channels=8, symmetry="ij=ji")  # polarisability
    >>> readout.rank, readout.irreps_out, len(readout.linear.basis)
    (2, '1x0e+1x2e', 2)
    >>> T = readout(torch.randn(5, 9, 8), batch=torch.tensor([0, 0, 0, 1, 1])).view(2, 3, 3)
    >>> T.shape, bool(torch.allclose(T, T.transpose(1, 2)))
    (torch.Size([2, 3, 3]), True)
    >>> TensorReadout("1x0e+1x1o", channels=4, rank=1)(torch.randn(3, 4, 4)).shape  # a dipole
    torch.Size([1, 3])
    """

    def __init__(
        self, irreps_in, channels: int, rank: int | None = None, symmetry: str | None = None, group: str = "O(3)"
    ):
        super().__init__()
        self.irreps_in = as_irreps(irreps_in, "irreps_in")
        self.channels = _check_channels(channels, "channels")
        if symmetry is None:
            if rank is None:
                raise ValueError("give rank (a general tensor) or symmetry (an index-symmetry formula), got neither")
            check_rank(rank)
            target = rank
            self.irreps_out = path_matrices(rank).irreps
        else:
            target = reduced_basis(symmetry)
            if rank is not None and check_rank(rank) != target.rank:
                raise ValueError(f"rank={rank} does not match symmetry={symmetry!r} (rank {target.rank})")
            if target.dim == 0:
                raise ValueError(f"symmetry={symmetry!r} leaves no nonzero tensor")
            rank = target.rank
            self.irreps_out = target.irreps
        self.rank, self.symmetry = rank, symmetry
        self.linear = EquivariantLinear(str(self.irreps_in), target, self.channels, 1, group)

    def forward(self, x: torch.Tensor, batch: torch.Tensor | None = None, num_graphs: int | None = None):
        expected = (self.irreps_in.dim, self.channels)
        if not torch.is_tensor(x) or x.dim() != 3 or tuple(x.shape[1:]) != expected:
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"x has shape {shape}; expected (N, {expected[0]}, {expected[1]})")
        if batch is None:
            pooled = x.sum(0, keepdim=True)
        else:
            if not torch.is_tensor(batch) or batch.dtype != torch.long or tuple(batch.shape) != (x.shape[0],):
                shape = tuple(batch.shape) if torch.is_tensor(batch) else type(batch).__name__
                raise ValueError(f"batch must be a long tensor of shape ({x.shape[0]},), got {shape}")
            if num_graphs is None:
                num_graphs = int(batch.max()) + 1 if batch.numel() else 0
            pooled = scatter_sum(x, batch, num_graphs)
        return self.linear(pooled)[..., 0]

    def extra_repr(self) -> str:
        kind = f"symmetry={self.symmetry!r}" if self.symmetry else "general"
        return f"{self.irreps_in} x {self.channels} -> rank {self.rank} ({kind}, {self.irreps_out})"
