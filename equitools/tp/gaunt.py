"""Gaunt tensor product: one module, three methods (Luo et al., ICLR 2024; Xie et al., 2025).

The coefficient vectors x and y are read as spherical functions f = Σ x_lm Y_lm, g = Σ y_lm Y_lm
(real harmonics, "integral" normalisation) and the product returns the harmonic coefficients
of f·g up to degree L_out,

    z_l3m3 = Σ gaunt(l1, l2, l3)[m1, m2, m3] x_l1m1 y_l2m2 = Σ_paths g(l1, l2, l3) CG-path(x, y),

i.e. the Clebsch–Gordan product restricted to even l1+l2+l3 with the fixed path factors
``so3.gaunt_factor`` (no antisymmetric paths: no cross product). ``parity_odd=True`` adds the
odd paths through the spherical Poisson bracket {f, g} = r̂·(∇f × ∇g), with factors
``so3.bracket_factor``: together they reach every CG path.

With ``weights="degree"`` (per-degree weights, as in Luo et al.) each degree of x, of y and of
the output gets a learnable weight, so a path is scaled by w1[l1] w2[l2] w_out[l3]: a rank-one
family, not the free per-path weights of the CG product.

Features are the library's channels-last layout, ``(..., (L+1)^2, C)``, channel by channel.
There is no ``group`` argument, because it would change nothing: the inputs are spherical
functions (parities (-1)^l) and every path, even or parity-odd, is O(3)-equivariant with the
output parities of ``irreps_out``. So no path is "SO(3)-only" as 1o ⊗ 1o → 1o is for the CG
product; the choice is ``parity_odd``, which adds the bracket paths.
"""

from __future__ import annotations

import torch

from ..so3.basis import check_degree
from ..so3.irreps import Irreps
from .gaunt_dense import DenseGaunt
from .gaunt_fourier import FourierGaunt
from .gaunt_grid import GridGaunt

METHODS = {"fourier": FourierGaunt, "grid": GridGaunt, "dense": DenseGaunt}


class GauntTensorProduct(torch.nn.Module):
    """Gaunt tensor product of two channels-last stacked-harmonics features.

    Args:
        L1, L2, L_out: maximal degrees of x, y and the output.
        method: "grid" (Gauss–Legendre × uniform-φ grid, the fastest), "fourier" (2D Fourier basis,
            FFT convolution) or "dense" (dense Gaunt contraction, the reference). All are exact.
        weights: None or "degree" (learnable per-degree weights on x, y and the output, init 1).
        channels: with "degree" weights, one set per channel (C = channels); otherwise shared.
        parity_odd: also return the parity-odd (Poisson-bracket) paths.
        phi_transform: for "grid", the φ transform: "matmul" (folded into the Legendre tables,
            the default: fastest on CPU) or "fft" (real FFTs in φ); both exact.

    Shapes: x ``(..., (L1+1)^2, C)``, y ``(..., (L2+1)^2, C)``, channels last, leading dims and
    C = 1 broadcast. Returns ``(..., irreps_out.dim, C)``: ``(L_out+1)^2`` components with
    parities (-1)^l, followed with ``parity_odd`` by the bracket paths' ``(L_out+1)^2``, parities
    (-1)^(l+1).

    >>> tp = GauntTensorProduct(2, 2, 2)
    >>> tp.irreps_out, tp(torch.randn(10, 9, 16), torch.randn(10, 9, 1)).shape
    (1x0e+1x1o+1x2e, torch.Size([10, 9, 16]))
    >>> odd = GauntTensorProduct(1, 1, 2, parity_odd=True)
    >>> odd.irreps_out, odd(torch.randn(10, 4, 16), torch.randn(10, 4, 16)).shape
    (1x0e+1x1o+1x2e+1x0o+1x1e+1x2o, torch.Size([10, 18, 16]))
    >>> x, y = torch.randn(4, 9, 3, dtype=torch.float64), torch.randn(4, 9, 3, dtype=torch.float64)
    >>> fourier, dense = (GauntTensorProduct(2, 2, 2, method=m) for m in ("fourier", "dense"))
    >>> torch.allclose(fourier(x, y), dense(x, y))  # every method is exact
    True
    """

    def __init__(
        self,
        L1: int,
        L2: int,
        L_out: int,
        method: str = "grid",
        weights: str | None = None,
        channels: int | None = None,
        parity_odd: bool = False,
        phi_transform: str | None = None,
    ):
        super().__init__()
        self.L1, self.L2, self.L_out = (check_degree(L, name) for L, name in ((L1, "L1"), (L2, "L2"), (L_out, "L_out")))
        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
        if weights not in (None, "degree"):
            raise ValueError(f"weights must be None or 'degree', got {weights!r}")
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        self.method, self.parity_odd, self.channels = method, bool(parity_odd), channels
        if phi_transform is not None and method != "grid":
            raise ValueError(f"phi_transform applies to method='grid', not {method!r}")
        options = {} if phi_transform is None else {"phi_transform": phi_transform}
        self.product = METHODS[method](self.L1, self.L2, self.L_out, self.parity_odd, **options)
        self.weighted = weights == "degree"
        if self.weighted:
            width = 1 if channels is None else channels
            parts = 1 + self.parity_odd
            self.weight1 = torch.nn.Parameter(torch.ones(self.L1 + 1, width))
            self.weight2 = torch.nn.Parameter(torch.ones(self.L2 + 1, width))
            self.weight_out = torch.nn.Parameter(torch.ones(parts * (self.L_out + 1), width))
            out_degrees = [
                part * (self.L_out + 1) + l
                for part in range(parts)
                for l in Irreps.spherical_harmonics(self.L_out).degree_index()
            ]
            for name, degrees in (
                ("1", Irreps.spherical_harmonics(self.L1).degree_index()),
                ("2", Irreps.spherical_harmonics(self.L2).degree_index()),
                ("_out", out_degrees),
            ):
                self.register_buffer(f"degrees{name}", torch.as_tensor(degrees, dtype=torch.long), persistent=False)

    @property
    def irreps_out(self) -> Irreps:
        """Irreps of the output's component axis: degrees 0..L_out, then (``parity_odd``) the bracket's."""
        even = Irreps.spherical_harmonics(self.L_out)
        return even + Irreps([(1, (l, -p)) for _, (l, p) in even]) if self.parity_odd else even

    def _check(self, x: torch.Tensor, L: int, name: str) -> None:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor")
        channels = self.channels if self.weighted and self.channels is not None else None
        if x.dim() < 2 or x.shape[-2] != (L + 1) ** 2 or (channels is not None and x.shape[-1] not in (1, channels)):
            raise ValueError(
                f"{name} has shape {tuple(x.shape)}; expected (..., {(L + 1) ** 2}, {channels or 'C'}) "
                f"for degree {L}, channels last"
            )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self._check(x, self.L1, "x")
        self._check(y, self.L2, "y")
        if x.dtype != y.dtype:
            raise TypeError(f"x and y have different dtypes ({x.dtype}, {y.dtype})")
        if self.weighted:
            x = x * self.weight1[self.degrees1].to(x.dtype)
            y = y * self.weight2[self.degrees2].to(y.dtype)
        lead = torch.broadcast_shapes(x.shape[:-2], y.shape[:-2])
        channels = torch.broadcast_shapes(x.shape[-1:], y.shape[-1:])
        if lead.numel() == 0:  # no rows: nothing to transform (FFT libraries reject empty batches)
            return x.new_zeros(lead + (self.irreps_out.dim,) + channels)
        x, y = (t.expand(lead + t.shape[-2:]).reshape((-1,) + t.shape[-2:]) for t in (x, y))
        z = self.product(x, y)
        z = z.reshape(lead + z.shape[-2:])
        return z * self.weight_out[self.degrees_out].to(z.dtype) if self.weighted else z
