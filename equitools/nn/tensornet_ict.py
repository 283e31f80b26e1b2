"""Higher-rank TensorNet: per-channel irreducible Cartesian tensors of ranks 0…max_rank, coupled by
irreducible Cartesian tensor products (TensorNet, Simeon & De Fabritiis, NeurIPS 2023,
arXiv:2306.06482, with the ICT products of ICTP, Zaverkin et al., NeurIPS 2024, arXiv:2405.14253).

``TensorNet(max_rank=3)`` (config ``max_rank: 3``) runs TensorNet's embedding, interaction layers and
readout (:mod:`equitools.nn.tensornet`, unchanged code) on the layout and algebra defined here,
:class:`ICTTensors`, in place of the 3×3 I/A/S tensors of ``max_rank: 2``.

Paper → code (TensorNet's sections; what changes with the rank):

* Features (Sec. 3.1): X_i holds, per channel, one ICT of every rank l = 0…L (L = max_rank)
  where TensorNet holds I (l = 0), A (l = 1) and S (l = 2). Stored compactly as ICT coefficients
  (``nn.cartesian_product.ict_rows``), channels-last ``(n, (L+1)², C)``, ranks in order: the
  irreps "0e+1o+2e+3o" (natural parity (-1)^l) of the library's layout.
* Embedding (Sec. 3.2): edge tensors E_l(r̂) = the traceless part of r̂^{⊗l} (ICTP's
  building block), scaled to unit Frobenius norm (the traceless part of a unit vector's l-th power
  has norm² l!/(2l-1)!!), one radial function f_l⁰ per rank, as TensorNet's f_I⁰, f_A⁰, f_S⁰.
* Interaction (Sec. 3.3): unchanged up to the product. TensorNet's matrix products M Y + Y M
  (O(3)) or 2 Y M (SO(3)) become the ICT product of M and Y, ``CartesianTensorProduct`` with all
  rank pairs a, b <= L into every rank c <= L, no learnable weights (as TensorNet's product has
  none: the per-rank channel mixings before and after it carry the weights), path normalisation
  1/sqrt(paths into c). The update's dX² becomes the ICT product of dX with itself.
* Output (Sec. 3.4): LayerNorm of the L+1 squared norms per channel → Linear((L+1) C → C) → SiLU.

Choices where the papers are silent:

* O(3) vs SO(3): under "O(3)" only the paths with a+b+c even (plain contractions, no
  Levi-Civita symbol) couple the ranks, so every feature keeps the parity (-1)^l and the energy
  is invariant under reflections too; under "SO(3)" also the odd (cross-product-like) paths,
  which mix the grades: rotations only (as TensorNet's one-sided SO(3) product). In the square
  dX ⊗ dX the odd paths cancel, so it is the same under both.
* Product outputs above L (c up to 2L) are dropped, as TensorNet's matrix product keeps rank 2.
* Unlike ``max_rank: 2``, whose l = 1 part A is the pseudovector of a skew matrix, the rank-1
  ICT here is a polar vector (r̂ itself); the two models are different architectures, and
  ``max_rank: 2`` keeps the paper's.
* Cost: the product couples the (L+1)² ICT coefficients of M and Y per channel and atom by the
  sparse coupling of ``CartesianTensorProduct`` (502 multiply-adds at L = 3 under O(3)), about
  9 ms for 32 aspirin frames at 128 channels on one CPU core per call, 14 calls per layer in a
  force training step (forward, the forces' backward, the loss's backward); every other tensor
  operation grows as (L+1)², 16/9 from L = 2 to 3. A training step at L = 3 takes about 1.7× that
  of ``max_rank: 2`` (rMD17 aspirin, 32 frames, 128 channels, CPU): 1.3× from the wider tensors
  alone, the rest the product.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import torch

from ..so3.irreps import Irreps
from .cartesian_product import CartesianTensorProduct, ict_rows
from .tensornet import PartLinear, PartTensors, check_equivariance_group


def edge_norm(rank: int) -> float:
    """‖traceless part of r̂^{⊗rank}‖ for a unit vector r̂: sqrt(rank! / (2 rank - 1)!!)."""
    return math.sqrt(math.factorial(rank) / math.prod(range(1, 2 * rank, 2)))


class ICTTensors(PartTensors):
    """The compact layout of ICTs of ranks 0…``max_rank`` per channel, ``(n, (max_rank+1)², C)``, and
    its algebra (edge tensors, per-rank channel mixing, the ICT product of ``group``).

    >>> ops = ICTTensors(3, "O(3)")
    >>> ops.sizes, ops.edge_tensors(torch.tensor([[0.0, 0.6, 0.8]], dtype=torch.float64)).shape
    ((1, 3, 5, 7), torch.Size([1, 16]))
    """

    def __init__(self, max_rank: int, group: str = "O(3)"):
        super().__init__()
        self.max_rank = max_rank
        self.group = check_equivariance_group(group)
        self.sizes = tuple(2 * l + 1 for l in range(max_rank + 1))
        irreps = Irreps.spherical_harmonics(max_rank)
        self.tp = CartesianTensorProduct(irreps, irreps, irreps, group=group, compact=True)
        # rows: the powers r̂^{⊗l} (C order, l = 0…L concatenated) → unit-norm ICT coefficients
        basis = scipy.linalg.block_diag(*(ict_rows(l) / edge_norm(l) for l in range(max_rank + 1)))
        self.register_buffer("edge_basis", torch.from_numpy(np.ascontiguousarray(basis.T)), persistent=False)

    def linear(self, in_channels: int, out_channels: int) -> PartLinear:
        """Channel mixing without bias, one matrix per rank (``linear_0`` … ``linear_L``)."""
        return PartLinear(in_channels, out_channels, self.sizes, tuple(str(l) for l in range(self.max_rank + 1)))

    def edge_tensors(self, r: torch.Tensor) -> torch.Tensor:
        """``(E, (L+1)²)``: the unit-norm traceless parts of r̂^{⊗l}, l = 0…L, for unit ``r`` ``(E, 3)``."""
        power = torch.ones_like(r[:, :1])
        powers = [power]
        for _ in range(self.max_rank):
            power = (power.unsqueeze(-1) * r.unsqueeze(1)).reshape(r.shape[0], -1)
            powers.append(power)
        return torch.cat(powers, dim=1) @ self.edge_basis.to(r.dtype)

    def product(self, M: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """The ICT product of the messages M and the features Y, ``(n, (L+1)², C)`` each."""
        return self.tp(M, Y)

    def square(self, x: torch.Tensor) -> torch.Tensor:
        """The ICT product of ``x`` with itself."""
        return self.tp.square(x)
