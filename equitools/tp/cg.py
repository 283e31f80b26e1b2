"""Clebsch–Gordan tensor product with sparse coupling (only nonzero coefficients are touched).

For each path (i_in1, i_in2, i_out) coupling blocks of degrees (l1, l2) into l3,

    out[i_out][m3] += w_path · n_path · Σ_{m1 m2} C(l1, l2, l3)[m1, m2, m3] x1[i_in1][m1] x2[i_in2][m2],

with C the library's orthonormal real Clebsch–Gordan tensor (over all l3 the path outputs keep
the norm: Σ_l3 |out_l3|^2 = |x1|^2 |x2|^2; e3nn's ``FullTensorProduct`` equals this product up to
one sign per path) and n_path = 1/sqrt(number of paths into out[i_out]) when
``path_normalization``. All paths are one
sparse matrix applied to the outer product x1 ⊗ x2 of the blocks the paths use; the real CG
tensors have at most two nonzero m3 per (m1, m2), so the work is O(L^5) for all paths up to L
instead of O(L^6) dense.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import torch

from ..so3 import clebsch_gordan
from ..so3.irreps import Irrep, Irreps, allowed, check_group
from .irreps import as_irreps, common_multiplicity, from_channel_layout, stripped, to_channel_layout

Path = namedtuple("Path", "i_in1 i_in2 i_out l1 l2 l3")
Path.__doc__ = """One coupling of a tensor product: input blocks ``i_in1``, ``i_in2`` (degrees ``l1``, ``l2``)
into output block ``i_out`` (degree ``l3``).

>>> CGTensorProduct("1o", "1o").paths[1]
Path(i_in1=0, i_in2=0, i_out=1, l1=1, l2=1, l3=1)
"""
# elements of the outer product formed at once: 4 MiB in float32, small enough to stay in the
# allocator's reused heap (2**26 faulted in fresh pages per chunk: forward + backward 2-4.5x slower
# at 10^4 rows x 64 channels); bounds peak memory, not results
_CHUNK = 2**20


def _output_irrep(ir1: Irrep, ir2: Irrep, l3: int, group: str) -> Irrep:
    """The output irrep of degree l3 of ir1 ⊗ ir2: parity p1 p2 under O(3), (-1)^l3 under SO(3)."""
    return Irrep(l3, ir1.p * ir2.p if group == "O(3)" else (-1) ** l3)


def _matches(entry, ir1: Irrep, ir2: Irrep, ir3: Irrep, group: str) -> bool:
    """Whether a requested ``(l1, l2, l3)`` or ``(ir1, ir2, ir3)`` entry names the path ir1 ⊗ ir2 → ir3."""
    if all(isinstance(e, (int, np.integer)) for e in entry):
        return tuple(entry) == (ir1.l, ir2.l, ir3.l)
    e1, e2, e3 = (Irrep(e) for e in entry)
    return (e1, e2) == (ir1, ir2) and (e3 == ir3 if group == "O(3)" else e3.l == ir3.l)


def allowed_paths(irreps_in1: Irreps, irreps_in2: Irreps, paths=None, group: str = "O(3)") -> list:
    """``(i_in1, i_in2, ir1, ir2, ir3)`` for every coupling ir1 ⊗ ir2 → ir3 that ``paths`` asks for.

    ``paths``: None (all) or ``(l1, l2, l3)`` / ``("1o", "1o", "2e")`` triples; a requested path
    that the triangle rule or (under "O(3)") parity forbids is a ``ValueError``. Under "SO(3)"
    parity is ignored and the output of degree l3 is labelled (-1)^l3 (as a spherical harmonic).

    >>> [str(p[-1]) for p in allowed_paths(Irreps("1o"), Irreps("1o"), group="SO(3)")]
    ['0e', '1o', '2e']
    """
    group = check_group(group)
    requested = None if paths is None else [tuple(p) for p in paths]
    if requested is not None and any(len(p) != 3 for p in requested):
        raise ValueError(f"paths must be (l1, l2, l3) or (ir1, ir2, ir3) triples, got {paths!r}")
    used: set = set()
    found = []
    for i1, (_, ir1) in enumerate(irreps_in1):
        for i2, (_, ir2) in enumerate(irreps_in2):
            for l3 in range(abs(ir1.l - ir2.l), ir1.l + ir2.l + 1):
                ir3 = _output_irrep(ir1, ir2, l3, group)
                hits = [k for k, entry in enumerate(requested or ()) if _matches(entry, ir1, ir2, ir3, group)]
                used.update(hits)
                if requested is None or hits:
                    found.append((i1, i2, ir1, ir2, ir3))
    if requested is not None and len(used) < len(requested):
        missing = [requested[k] for k in range(len(requested)) if k not in used]
        raise ValueError(
            f"paths {missing} are not allowed for {irreps_in1} ⊗ {irreps_in2} under {group} (triangle rule or parity)"
        )
    return found


class CGTensorProduct(torch.nn.Module):
    """Sparse Clebsch–Gordan tensor product of two irreps features.

    Args:
        irreps_in1, irreps_in2: ``so3.Irreps`` or their strings ("8x0e+8x1o+8x2e"), or e3nn's.
        irreps_out: output irreps; None → every allowed output, one block per path, sorted like
            e3nn's ``FullTensorProduct``. Blocks no path reaches stay zero.
        paths: restrict to these couplings: ``(l1, l2, l3)`` degrees or ``("1o", "1o", "1e")``
            irreps; each must exist. ``instructions``: explicit ``(i_in1, i_in2, i_out)`` block
            indices instead (needs ``irreps_out``).
        weights: None, "path" (one weight per path) or "channel" (per path and channel, elementwise
            mode only). ``internal_weights=False`` makes them an argument of ``forward`` instead
            of learnable parameters (initialised to 1).
        group: "O(3)" (parity must match: p3 = p1 p2) or "SO(3)" (parity ignored, e.g. the cross
            product 1o ⊗ 1o → 1o; outputs of degree l labelled (-1)^l unless ``irreps_out`` says).
        channels: C for the library's channels-last features ``(..., irreps.dim, C)``, the irreps
            those of one channel (multiplicity 1); C = 1 broadcasts.
        channel_mode: "elementwise" (channel u of x1 with channel u of x2, multiplicities equal or
            1 = broadcast; output multiplicity C) or "outer" (e3nn's "uvuv": output mul1·mul2).
        path_normalization: scale each path by 1/sqrt(number of paths into its output block).
        coupling: "sparse" (default) or "dense" (the same matrix stored dense: the baseline).

    Shapes: with ``channels``, x1 ``(..., irreps_in1.dim, C)`` and x2 ``(..., irreps_in2.dim, C)``
    → ``(..., irreps_out.dim, C)``; without, e3nn's flat multiplicity-major ``(..., irreps.dim)``
    (for interop) → ``(..., irreps_out.dim)``. Leading dims broadcast. ``weight`` in ``forward``:
    ``(..., *weight_shape)``, leading dims broadcasting with those of x1 and x2 (without the
    channel axis): ``(..., n_paths)`` for "path", ``(..., C, n_paths)`` for "channel" — e.g. one
    weight per edge and path from a radial network.

    >>> tp = CGTensorProduct("0e+1o", "0e+1o")
    >>> tp.irreps_out, len(tp.paths), tp(torch.randn(10, 4), torch.randn(10, 4)).shape
    (1x0e+1x0e+1x1o+1x1o+1x1e+1x2e, 6, torch.Size([10, 16]))
    >>> cross = CGTensorProduct("1o", "1o", paths=[(1, 1, 1)])  # 1o ⊗ 1o → 1e: the cross product / √2
    >>> a, b = torch.randn(3), torch.randn(3)
    >>> torch.allclose(cross(a, b), torch.linalg.cross(a, b) / -2 ** 0.5, atol=1e-6)
    True
    >>> tp = CGTensorProduct("0e+1o+2e", "1o", channels=16, group="SO(3)")  # channels last
    >>> tp.irreps_out, tp(torch.randn(10, 9, 16), torch.randn(10, 3, 1)).shape
    (1x0e+1x1o+1x1o+1x1o+1x2e+1x2e+1x3o, torch.Size([10, 27, 16]))
    """

    def __init__(
        self,
        irreps_in1,
        irreps_in2,
        irreps_out=None,
        paths=None,
        weights: str | None = None,
        group: str = "O(3)",
        channels: int | None = None,
        channel_mode: str = "elementwise",
        internal_weights: bool = True,
        path_normalization: bool = True,
        instructions=None,
        coupling: str = "sparse",
    ):
        super().__init__()
        self.irreps_in1 = as_irreps(irreps_in1, "irreps_in1")
        self.irreps_in2 = as_irreps(irreps_in2, "irreps_in2")
        if channel_mode not in ("elementwise", "outer"):
            raise ValueError(f"channel_mode must be 'elementwise' or 'outer', got {channel_mode!r}")
        if weights not in (None, "path", "channel"):
            raise ValueError(f"weights must be None, 'path' or 'channel', got {weights!r}")
        if coupling not in ("sparse", "dense"):
            raise ValueError(f"coupling must be 'sparse' or 'dense', got {coupling!r}")
        if paths is not None and instructions is not None:
            raise ValueError("give paths or instructions, not both")
        self.group = check_group(group)
        self.outer = channel_mode == "outer"
        self.channel_axis = channels is not None
        self.channels = self._channels(channels, weights)
        out_mul = (lambda m1, m2: m1 * m2) if self.outer else (lambda m1, m2: 1 if self.channel_axis else self.channels)

        if instructions is not None:
            if irreps_out is None:
                raise ValueError("instructions need irreps_out")
            self.irreps_out = as_irreps(irreps_out, "irreps_out")
            found = [self._instruction(i, out_mul) for i in instructions]
        else:
            found = self._find_paths(irreps_out, paths, out_mul)
        if not found:
            raise ValueError(f"no allowed path from {self.irreps_in1} ⊗ {self.irreps_in2} to {irreps_out}")
        self._paths = tuple(sorted(found, key=lambda p: p.i_out))
        self.weight_mode = weights
        self.weight_shape = {None: (), "path": (len(self._paths),), "channel": (self.channels, len(self._paths))}[
            weights
        ]
        self.internal_weights = internal_weights and weights is not None
        if self.internal_weights:
            self.weight = torch.nn.Parameter(torch.ones(self.weight_shape))
        self._build(path_normalization, coupling)

    # -- construction ---------------------------------------------------------------------
    def _channels(self, channels, weights) -> int:
        if self.outer:
            if channels is not None or weights == "channel":
                raise ValueError("channel_mode='outer' pairs every channel: no channels= and no 'channel' weights")
            return 1
        m1 = common_multiplicity(self.irreps_in1, "irreps_in1")
        m2 = common_multiplicity(self.irreps_in2, "irreps_in2")
        if channels is not None:
            if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
                raise ValueError(f"channels must be a positive int, got {channels!r}")
            if (m1, m2) != (1, 1):
                raise ValueError("channels= is for inputs (..., dim, channels) whose irreps have multiplicity 1")
            return channels
        if m1 != m2 and 1 not in (m1, m2):
            raise ValueError(f"elementwise channels need equal multiplicities (or 1), got {m1} and {m2}")
        return max(m1, m2)

    def _find_paths(self, irreps_out, paths, out_mul) -> list:
        found, blocks = [], []
        out = None if irreps_out is None else as_irreps(irreps_out, "irreps_out")
        for i1, i2, ir1, ir2, ir3 in allowed_paths(self.irreps_in1, self.irreps_in2, paths, self.group):
            mul1, mul2 = self.irreps_in1[i1].mul, self.irreps_in2[i2].mul
            if out is None:
                blocks.append((out_mul(mul1, mul2), ir3))
                found.append(Path(i1, i2, len(blocks) - 1, ir1.l, ir2.l, ir3.l))
                continue
            for i3, (mul3, ir_o) in enumerate(out):
                if ir_o.l == ir3.l and allowed(ir1, ir2, ir_o, self.group):
                    self._check_mul(mul3, out_mul(mul1, mul2), (i1, i2, i3))
                    found.append(Path(i1, i2, i3, ir1.l, ir2.l, ir3.l))
        if out is None:
            out, permutation, _ = Irreps(blocks).sort()
            found = [p._replace(i_out=permutation[p.i_out]) for p in found]
        self.irreps_out = out
        return found

    def _instruction(self, instruction, out_mul) -> Path:
        i1, i2, i3 = instruction
        for i, irreps, name in (
            (i1, self.irreps_in1, "irreps_in1"),
            (i2, self.irreps_in2, "irreps_in2"),
            (i3, self.irreps_out, "irreps_out"),
        ):
            if not 0 <= i < len(irreps):
                raise ValueError(f"instruction {instruction}: no block {i} in {name} = {irreps}")
        (mul1, ir1), (mul2, ir2), (mul3, ir3) = self.irreps_in1[i1], self.irreps_in2[i2], self.irreps_out[i3]
        if not allowed(ir1, ir2, ir3, self.group):
            raise ValueError(
                f"instruction {instruction}: {ir1} ⊗ {ir2} has no {ir3} under {self.group} (triangle rule or parity)"
            )
        self._check_mul(mul3, out_mul(mul1, mul2), instruction)
        return Path(i1, i2, i3, ir1.l, ir2.l, ir3.l)

    def _check_mul(self, got: int, expected: int, where) -> None:
        if got != expected:
            raise ValueError(
                f"path {where}: output multiplicity {got}, expected {expected} for channel_mode "
                f"{'outer' if self.outer else 'elementwise'}"
            )

    def _build(self, path_normalization: bool, coupling: str) -> None:
        """Sparse coupling matrix (rows: outputs, or per-path outputs when weighted; columns: pairs
        of used input components), layout gathers and the per-path bookkeeping, as buffers."""
        canonical = (lambda irreps: irreps) if self.outer else stripped
        in1, in2, out = canonical(self.irreps_in1), canonical(self.irreps_in2), canonical(self.irreps_out)
        used1 = np.unique(np.concatenate([np.arange(*in1.slices()[p.i_in1].indices(in1.dim)) for p in self._paths]))
        used2 = np.unique(np.concatenate([np.arange(*in2.slices()[p.i_in2].indices(in2.dim)) for p in self._paths]))
        column1 = np.full(in1.dim, -1)
        column1[used1] = np.arange(len(used1))
        column2 = np.full(in2.dim, -1)
        column2[used2] = np.arange(len(used2))
        fan_in = np.bincount([p.i_out for p in self._paths], minlength=len(out))
        weighted = self.weight_mode is not None
        rows, cols, values, path_of_full, out_of_full = [], [], [], [], []
        full_offset = 0
        for k, p in enumerate(self._paths):
            (mul1, ir1), (mul2, ir2), (_, ir3) = in1[p.i_in1], in2[p.i_in2], out[p.i_out]
            a, b, m3 = np.nonzero(clebsch_gordan(p.l1, p.l2, p.l3))
            value = clebsch_gordan(p.l1, p.l2, p.l3)[a, b, m3] / (
                np.sqrt(fan_in[p.i_out]) if path_normalization else 1.0
            )
            start1, start2, start3 = (
                in1.slices()[p.i_in1].start,
                in2.slices()[p.i_in2].start,
                out.slices()[p.i_out].start,
            )
            for u in range(mul1):
                for v in range(mul2):
                    w = (u * mul2 + v) * ir3.dim
                    rows.append((full_offset if weighted else start3) + w + m3)
                    cols.append(column1[start1 + u * ir1.dim + a] * len(used2) + column2[start2 + v * ir2.dim + b])
                    values.append(value)
            size = mul1 * mul2 * ir3.dim
            out_of_full.append(start3 + np.arange(size))
            path_of_full.append(np.full(size, k))
            full_offset += size
        n_rows = full_offset if weighted else out.dim
        matrix = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(cols)])),
            torch.from_numpy(np.concatenate(values)),
            (n_rows, len(used1) * len(used2)),
            check_invariants=True,
        ).coalesce()
        self.coupling = coupling
        if coupling == "dense":
            self.register_buffer("coupling_dense", matrix.to_dense(), persistent=False)
        else:
            self.register_buffer("coupling_index", matrix.indices(), persistent=False)
            self.register_buffer("coupling_value", matrix.values(), persistent=False)
        self.coupling_size = tuple(matrix.shape)
        self.register_buffer("used1", torch.from_numpy(used1), persistent=False)
        self.register_buffer("used2", torch.from_numpy(used2), persistent=False)
        self.out_dim = out.dim
        # per-path → output reduction, needed only when weights sit between the two
        reduce = weighted and not (
            full_offset == out.dim and np.array_equal(np.concatenate(out_of_full), np.arange(out.dim))
        )
        self.register_buffer(
            "path_of_full", torch.from_numpy(np.concatenate(path_of_full)) if weighted else None, persistent=False
        )
        self.register_buffer(
            "out_of_full", torch.from_numpy(np.concatenate(out_of_full)) if reduce else None, persistent=False
        )
        self._build_layouts()

    def _build_layouts(self) -> None:
        """Gathers between e3nn's flat layout and channels-last (None where they coincide)."""
        gather = not self.outer and not self.channel_axis
        for name, irreps in (("1", self.irreps_in1), ("2", self.irreps_in2)):
            index = to_channel_layout(irreps) if gather and irreps[0].mul > 1 else None
            self.register_buffer(
                f"layout{name}", None if index is None else torch.from_numpy(index.copy()), persistent=False
            )
        index = from_channel_layout(self.irreps_out) if gather and self.channels > 1 else None
        self.register_buffer("layout_out", None if index is None else torch.from_numpy(index.copy()), persistent=False)

    # -- evaluation -----------------------------------------------------------------------
    @property
    def paths(self) -> tuple:
        """The paths, in weight order: ``Path(i_in1, i_in2, i_out, l1, l2, l3)``."""
        return self._paths

    def _canonical(self, x: torch.Tensor, irreps: Irreps, layout, name: str) -> torch.Tensor:
        """Input as ``(..., D, C_x)``: channels last (C_x = 1 when broadcast)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor")
        if self.channel_axis:
            if x.dim() < 2 or x.shape[-2] != irreps.dim or x.shape[-1] not in (1, self.channels):
                raise ValueError(
                    f"{name} has shape {tuple(x.shape)}; expected (..., {irreps.dim}, {self.channels}) "
                    f"for {irreps} with channels={self.channels}"
                )
            return x
        if x.shape[-1:] != (irreps.dim,):
            raise ValueError(f"{name} has shape {tuple(x.shape)}; expected (..., {irreps.dim}) for {irreps}")
        if layout is None:
            return x.unsqueeze(-1)
        return x[..., layout].reshape(x.shape[:-1] + (-1, irreps[0].mul))

    def _weight(self, weight):
        if self.weight_mode is None:
            if weight is not None:
                raise ValueError("this product has no weights (weights=None); do not pass weight")
            return None
        if self.internal_weights:
            if weight is not None:
                raise ValueError("this product owns its weights (internal_weights=True); do not pass weight")
            weight = self.weight
        elif weight is None:
            raise ValueError(f"weight of shape (..., {', '.join(map(str, self.weight_shape))}) is required")
        if weight.shape[-len(self.weight_shape) :] != self.weight_shape:
            raise ValueError(
                f"weight has shape {tuple(weight.shape)}; expected (..., {', '.join(map(str, self.weight_shape))})"
            )
        full = weight[..., self.path_of_full]
        return full.unsqueeze(-1) if self.weight_mode == "path" else full.transpose(-1, -2)

    def _couple(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``a (n1, N)``, ``b (n2, N)`` → coupling @ (a ⊗ b): ``(rows, N)``, in chunks of N."""
        if self.coupling == "dense":
            matrix = self.coupling_dense.to(a.dtype)
        else:
            matrix = torch.sparse_coo_tensor(
                self.coupling_index,
                self.coupling_value.to(a.dtype),
                self.coupling_size,
                is_coalesced=True,
                check_invariants=False,
            )
        if a.shape[1] == 0:
            return a.new_zeros(self.coupling_size[0], 0)
        step = max(1, _CHUNK // (a.shape[0] * b.shape[0]))
        multiply = torch.mm if self.coupling == "dense" else torch.sparse.mm
        # (split, not slices: the backward of a split is one concatenation, of a slice a zero-filled copy)
        parts = [
            multiply(matrix, (x[:, None] * y[None, :]).reshape(-1, x.shape[1]))
            for x, y in zip(a.split(step, dim=1), b.split(step, dim=1))
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        x1 = self._canonical(x1, self.irreps_in1, self.layout1, "x1")[..., self.used1, :]
        x2 = self._canonical(x2, self.irreps_in2, self.layout2, "x2")[..., self.used2, :]
        if x1.dtype != x2.dtype:
            raise TypeError(f"x1 and x2 have different dtypes ({x1.dtype}, {x2.dtype})")
        weight = self._weight(weight)
        batch = torch.broadcast_shapes(x1.shape[:-2] + x1.shape[-1:], x2.shape[:-2] + x2.shape[-1:])  # (..., C)
        # the sparse coupling works on component-major rows (D, N), contiguous: one copy of each input (with one
        # channel the reshape is a transposed view, whose outer product the sparse product reads 10x slower)
        a, b = (
            x.expand(batch[:-1] + x.shape[-2:-1] + batch[-1:]).movedim(-2, 0).reshape(x.shape[-2], -1).contiguous()
            for x in (x1, x2)
        )
        y = self._couple(a, b).view((-1,) + batch).movedim(0, -2)  # (..., rows, C)
        if weight is not None:
            y = y * weight.to(y.dtype)
            if self.out_of_full is not None:
                y = y.new_zeros(y.shape[:-2] + (self.out_dim, y.shape[-1])).index_add(-2, self.out_of_full, y)
        if self.channel_axis:
            return y
        if self.layout_out is None:
            return y.squeeze(-1)
        return y.reshape(y.shape[:-2] + (-1,))[..., self.layout_out]
