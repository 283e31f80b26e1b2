"""Gaunt tensor product through the 2D Fourier basis (Luo et al., "Enabling Efficient Equivariant
Operations in the Fourier Basis via Gaunt Tensor Products", ICLR 2024).

Every real harmonic is a 2D trigonometric polynomial, Y_lm(θ, φ) = Σ_uv y^lm_uv e^{i(uθ + vφ)},
nonzero only for v = ±m and u ≡ l (mod 2), |u| <= l. The product of two spherical functions is
then the 2D convolution of their coefficient arrays, done here by the convolution theorem with
``torch.fft`` (inverse 2D FFT as an FFT in u and a real FFT in v → pointwise product → forward
2D FFT of the kept |v| <= L_out; sizes P_theta = 2(L1+L2)+1, no wrap-around, and
P_phi > L1+L2+L_out, no aliasing into the kept frequencies). The way back to harmonics uses the
exact integrals

    ∫_0^π e^{ikθ} sin θ dθ = (I(k+1) - I(k-1)) / 2i,   I(k) = ∫_0^π e^{ikθ} dθ = π [k=0] or ((-1)^k - 1)/(ik),

so both conversion tables are exact (no quadrature; the harmonics' coefficients come from
``so3.quadrature.polar_fourier``) and block-sparse in v: one small matmul per azimuthal
frequency (the pair layout), O(L^3) per product, plus O(L^2 log L) for the FFTs.

The parity-odd extension multiplies in the Fourier basis too: ∂θ and ∂φ are i u and i v, and
∫ Y {f, g} dΩ = ∫∫ Y (∂θf ∂φg - ∂φf ∂θg) dθ dφ needs the kernel I(k) instead of the sin θ one.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from ..so3.quadrature import polar_fourier
from .gaunt_grid import sphere_grid
from .harmonic_layout import flat_index, pair_index, pair_table


def fft_frequencies(n: int) -> np.ndarray:
    """Signed integer frequency of each FFT bin of length ``n``."""
    return np.fft.fftfreq(n, 1.0 / n).round().astype(np.int64)


def theta_integral(k: np.ndarray, sine: bool) -> np.ndarray:
    """Exact ∫_0^π e^{ikθ} (sin θ if ``sine``) dθ for integer arrays ``k`` (complex128)."""
    k = np.asarray(k)

    def plain(j):
        safe = np.where(j == 0, 1, j)
        return np.where(j == 0, np.pi, ((-1.0) ** np.abs(j) - 1) / (1j * safe))

    return (plain(k + 1) - plain(k - 1)) / 2j if sine else plain(k) + 0j


@cache
def to_fourier_table(L: int, p_theta: int) -> np.ndarray:
    """``(L+1, 2 (L+1), 2 p_theta)`` real: per v, (c, l) pair coefficients → (Re, Im) of the 2D
    coefficients X[u, v], u in FFT order (half spectrum in v: X[-u, -v] = conj X[u, v])."""
    coefficients = np.zeros(((L + 1) ** 2, p_theta), dtype=np.complex128)
    coefficients[:, np.arange(-L, L + 1) % p_theta] = polar_fourier(L)
    table = pair_table(coefficients, L)
    # cos(vφ) = (e^{ivφ} + e^{-ivφ}) / 2,  sin(vφ) = (e^{ivφ} - e^{-ivφ}) / 2i
    table[1:, 0] *= 0.5
    table[:, 1] *= -0.5j
    out = np.ascontiguousarray(np.stack([table.real, table.imag], axis=-1)).reshape(L + 1, 2 * (L + 1), 2 * p_theta)
    out.setflags(write=False)
    return out


@cache
def from_fourier_table(L: int, p_theta: int, sine: bool) -> np.ndarray:
    """``(L+1, 2 p_theta, 2 (L+1))`` real: per v, z_l,±v = Σ_(u,r) table[v, (u, r), (c, l)] (Re, Im)[r]
    of Z[u, v], the half spectrum of the product (norm="forward"); c = 0 for +v, 1 for -v."""
    T = polar_fourier(L)
    u = fft_frequencies(p_theta)
    # b_lm(u) = ∫_0^π e^{iuθ} Θ_lm(θ) (sin θ) dθ = Σ_u' T[lm, u'] ∫ e^{i(u+u')θ} (sin θ) dθ
    b = T @ theta_integral(np.arange(-L, L + 1)[:, None] + u[None, :], sine)
    b = np.moveaxis(pair_table(b, L), -1, 0)  # (u, v, c, l)
    # ∫ cos(vφ) → 2π Re(Z b),  ∫ sin(vφ) → -2π Im(Z b)
    table = (
        2
        * np.pi
        * np.stack(
            [
                np.stack([b[:, :, 0].real, -b[:, :, 1].imag], axis=2),
                np.stack([-b[:, :, 0].imag, -b[:, :, 1].real], axis=2),
            ],
            axis=2,
        )
    )  # (u, v, r, c, l)
    out = np.ascontiguousarray(np.moveaxis(table, 1, 0)).reshape(L + 1, 2 * p_theta, 2 * (L + 1))
    out.setflags(write=False)
    return out


class FourierGaunt(torch.nn.Module):
    """Gaunt product via 2D Fourier coefficients and FFT convolution.

    x: ``(N, (L1+1)^2, C1)``, y: ``(N, (L2+1)^2, C2)``, channels last (C1, C2 in {1, C}). Returns
    ``(N, k (L_out+1)^2, C)``: the Gaunt product, then with ``odd`` the bracket (k = 2).
    Internally the columns (N, C) sit between the frequency v (the batch of the per-v matmuls)
    and u, so each input is copied once into that order and the result once back.
    """

    def __init__(self, L1: int, L2: int, L_out: int, odd: bool = False):
        super().__init__()
        self.odd = odd
        self.L_out = L_out
        self.p_theta = 2 * (L1 + L2) + 1
        self.p_phi = sphere_grid(L1, L2, L_out)[1]
        for name, L in (("1", L1), ("2", L2)):
            self.register_buffer(
                f"pairs{name}", torch.from_numpy(pair_index(L).reshape(L + 1, -1).copy()), persistent=False
            )
            self.register_buffer(f"to_fourier{name}", torch.tensor(to_fourier_table(L, self.p_theta)), persistent=False)
        kernels = [from_fourier_table(L_out, self.p_theta, sine) for sine in (True, False)[: 1 + odd]]
        self.register_buffer("from_fourier", torch.tensor(np.stack(kernels)), persistent=False)
        self.register_buffer("flat", torch.from_numpy(flat_index(L_out).copy()), persistent=False)
        # ∂θ and ∂φ: i u on the u axis, i v on the v axis of the (v, N, u) coefficients
        self.register_buffer("du", torch.tensor(1j * fft_frequencies(self.p_theta)), persistent=False)
        self.register_buffer("dv", torch.tensor(1j * np.arange(max(L1, L2) + 1)[:, None, None]), persistent=False)

    def _values(self, x: torch.Tensor, pairs: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """``(N, (L+1)^2, C)`` → torus values ``(p_phi, k, N, C, p_theta)``: f (and ∂θ f, ∂φ f)."""
        columns = x.movedim(1, 0).reshape(x.shape[1], -1)  # ((L+1)^2, N C)
        gathered = torch.nn.functional.pad(columns, (0, 0, 0, 1))[pairs.reshape(-1)].view(*pairs.shape, -1)
        half = torch.bmm(gathered.transpose(1, 2), table.to(x.dtype))  # (v, N C, 2 p_theta)
        half = torch.view_as_complex(half.view(half.shape[:2] + (self.p_theta, 2)))
        fields = [half]
        if self.odd:
            fields += [half * self.du.to(half.dtype), half * self.dv[: half.shape[0]].to(half.dtype)]
        values = torch.fft.ifft(torch.stack(fields, dim=1), dim=-1, norm="forward")  # u → θ
        values = torch.fft.irfft(values, n=self.p_phi, dim=0, norm="forward")  # v → φ
        return values.view(values.shape[:2] + (x.shape[0], x.shape[2]) + values.shape[-1:])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        f = self._values(x, self.pairs1, self.to_fourier1)
        g = self._values(y, self.pairs2, self.to_fourier2)
        h = f[:, :1] * g[:, :1]
        if self.odd:
            h = torch.cat([h, f[:, 1:2] * g[:, 2:] - f[:, 2:] * g[:, 1:2]], dim=1)
        n, channels = h.shape[2:4]
        h = h.reshape(h.shape[:2] + (n * channels, -1))
        spectrum = torch.fft.rfft(h, dim=0, norm="forward")[: self.L_out + 1]  # φ → v
        spectrum = torch.view_as_real(torch.fft.fft(spectrum, dim=-1, norm="forward"))  # θ → u
        spectrum = spectrum.reshape(spectrum.shape[:3] + (-1,))  # (v, P, N C, 2 p_theta)
        table = self.from_fourier.to(h.dtype)
        z = torch.stack([torch.bmm(spectrum[:, p], table[p]) for p in range(len(table))])  # (P, v, N C, 2 (L+1))
        z = z.permute(2, 0, 1, 3).reshape(n, channels, len(table), -1)[..., self.flat]  # (N, C, P, (L_out+1)^2)
        return z.reshape(n, channels, -1).transpose(1, 2)
