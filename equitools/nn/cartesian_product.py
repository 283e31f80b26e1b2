"""The irreducible Cartesian tensor product: two ICTs of ranks a and b coupled into an ICT of rank c.

Paper → code. An irreducible Cartesian tensor (ICT) of rank l is a traceless symmetric rank-l
tensor, 3**l components of which 2l+1 are independent (Zaverkin et al., "Higher-Rank Irreducible
Cartesian Tensors for Equivariant Message Passing" (ICTP), NeurIPS 2024, arXiv:2405.14253, Sec. 3).
Its coefficients in an orthonormal basis are the rows of the path matrix of the path
(1, 2, …, l) of a rank-l tensor (Shao et al. 2024, arXiv:2412.18263; ``ict.path_matrices(l)``):
``q = P_l t`` and back ``t = P_lᵀ q`` (:func:`ict_rows`). ICTP's product of ICTs x (rank a) and
y (rank b) into rank c, for |a-b| <= c <= a+b, is the traceless symmetric part of x contracted
with y over k = (a+b-c)/2 index pairs (a+b-c even), or of that contraction with one more index
pair through the Levi-Civita symbol (a+b-c odd, the cross-product-like paths); it is equivariant,
and up to one constant per (a, b, c) it is the coupling of the two coefficient vectors by the
path matrix of the path (a, c) of the product space a ⊗ b (``ict.product_path_matrices((a, b))``,
a Clebsch–Gordan tensor in the real basis). Here, with weights w and normalisation n per path,

    out_c = P_cᵀ Σ_paths w n Q_(a,c) (P_a x ⊗ P_b y)          (Cartesian layout)
    out_c =      Σ_paths w n Q_(a,c) (x ⊗ y)                  (``compact=True``: coefficients)

so the output is traceless and symmetric by construction and equals
``equitools.tp.CGTensorProduct`` of the spherical irreps up to the fixed change of basis P.

Choices where the paper is silent (or that are this library's):

* Normalisation: the path matrices are orthonormal (an ICT keeps its Frobenius norm as
  coefficients), so a path keeps the norm, ‖Q(q_a ⊗ q_b)‖ over all c = ‖x‖ ‖y‖; ICTP's
  per-path constants are replaced by this one convention, the library's CG convention.
  ``path_normalization`` divides each path by sqrt(number of paths into its output block), as
  ``CGTensorProduct`` does.
* Parity and ``group`` follow ``tp.cg``: blocks are labelled like irreps ("2e": an ICT of rank 2
  and parity +1; a rank given as an int has the parity (-1)**rank of a tensor built from vectors;
  "1e" is a pseudovector stored as 3 components). Under "O(3)" a path a ⊗ b → c exists when
  p_c = p_a p_b: the odd (a+b-c) paths reach the *pseudo*tensor of rank c (the cross product of two
  vectors is the pseudovector "1e"), so ask for that label; under "SO(3)" parity is ignored and
  every triangle path exists.
* Inputs that are not traceless symmetric are projected onto their ICT part (``P_lᵀ P_l``)
  first; for an ICT that is the identity.
* Implementation: the paths are summed into one constant tensor K[k, i, j] (one row block per
  path when the weights are learnable; the weights then multiply the path outputs, so autograd
  computes their gradients only when asked). ``_Bilinear`` applies it on chunks of columns of the
  channels-last features: the products x_i y_j of the coupled pairs, then one matrix product per
  class of components, the classes being the characters of the axis sign flips (D2h, or its
  rotations for "SO(3)") that K respects: a component of class c couples only pairs whose classes
  multiply to c, so about 1/8 of the dense (dim_out · dim1 · dim2) work is done. Its backward is
  the same operation with K's axes permuted, so gradients of any order exist (forces in training)
  and no (N, dim1 · dim2, C) tensor is kept. :meth:`CartesianTensorProduct.square` (x ⊗ x) runs on
  half the block pairs.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch import nn

from ..ict import path_matrices, product_path_matrices
from ..so3.irreps import Irrep, Irreps, allowed, check_group
from ..tp.cg import Path, allowed_paths
from ..tp.irreps import as_irreps

_CHUNK = 1 << 20
"""Elements of the products x_i y_j formed at once (4 MiB in float32)."""


@cache
def _ict_rows(rank: int) -> np.ndarray:
    rows = np.ones((1, 1)) if rank == 0 else path_matrices(rank)[tuple(range(1, rank + 1))]
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    rows.setflags(write=False)
    return rows


def ict_rows(rank: int) -> np.ndarray:
    """``(2 rank + 1, 3**rank)`` float64 orthonormal rows: the coefficients of a rank-``rank`` ICT.

    The path matrix of the path (1, 2, …, rank) of ``ict.path_matrices(rank)`` (rank 0: ``[[1]]``):
    ``q = rows @ t`` are the coefficients of a traceless symmetric ``t`` (flattened in C order),
    ``rows.T @ q`` the tensor again, and ``rows.T @ rows`` the projector onto the ICTs. The
    coefficients transform with ``so3.wigner_D(rank, R)`` (e3nn's real basis).

    >>> rows = ict_rows(2)
    >>> rows.shape, bool(np.allclose(rows @ rows.T, np.eye(5)))
    ((5, 9), True)
    """
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise ValueError(f"rank must be a non-negative integer, got {rank!r}")
    return _ict_rows(int(rank))


def _as_ict_irreps(spec, name: str) -> Irreps:
    """A rank (int), ranks (ints), or irreps with multiplicity 1 per block, as ``so3.Irreps``."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        spec = [spec]
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(r, (int, np.integer)) for r in spec):
        if any(isinstance(r, bool) or r < 0 for r in spec):
            raise ValueError(f"{name}: ranks must be non-negative integers, got {spec!r}")
        spec = [Irrep(int(r), (-1) ** int(r)) for r in spec]
    irreps = as_irreps(spec, name)
    if any(mul != 1 for mul, _ in irreps):
        raise ValueError(f"{name} = {irreps}: one ICT per block (multiplicity 1); channels go on the last axis")
    return irreps


@cache
def _pair_coupling(a: int, b: int, c: int) -> np.ndarray:
    """Q_(a,c) of ``ict.product_path_matrices((a, b))`` as ``(2c+1, 2a+1, 2b+1)``."""
    return product_path_matrices((a, b))[(a, c)].reshape(2 * c + 1, 2 * a + 1, 2 * b + 1)


_REFLECTIONS = (np.diag([-1.0, 1.0, 1.0]), np.diag([1.0, -1.0, 1.0]), np.diag([1.0, 1.0, -1.0]))
_SIGN_GROUP = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))
"""The sign flips of the coordinate axes (subsets of x, y, z flipped), the group D2h ⊂ O(3)."""


def _signs(irreps: Irreps) -> np.ndarray:
    """``(dim, 3)`` ±1: the sign of each compact component under the flip of x, y and z (the real
    basis is made of polynomials even or odd in each coordinate, so these act diagonally)."""
    D = np.stack([irreps.D(R) for R in _REFLECTIONS])
    signs = np.rint(np.diagonal(D, axis1=1, axis2=2))
    if not np.allclose(D, signs[:, :, None] * np.eye(irreps.dim), atol=1e-9):
        raise RuntimeError("the axis flips should act diagonally in the real basis")
    return signs.T.astype(np.int64)


class _Coupling:
    """A constant bilinear map ``out[k] = Σ_ij K[k, i, j] x[i] y[j]`` on channels-last features.

    ``orientation`` (o, a, b) applies ``K.transpose(o, a, b)`` (the orientations the gradients
    need). The sign flips of the axes that K respects (all of D2h for parity-keeping products,
    the rotations among them otherwise) sort the components into classes, and a component of
    class c couples only pairs of classes (c1, c2) with c1 c2 = c: per output class one matrix
    over its pairs (x_i y_j gathered), about 1/8 of the dense work. Plans are cached per
    orientation, dtype and device.
    """

    def __init__(self, K: np.ndarray, signs):
        self.K = K
        k, i, j = np.nonzero(K)
        s = [sign[index] for sign, index in zip(signs, (k, i, j))]
        kept = [S for S in _SIGN_GROUP if np.all(np.prod(s[0][:, S], 1) == np.prod(s[1][:, S] * s[2][:, S], 1))]
        # class of a component: bit n set when it changes sign under the n-th kept flip; c1 c2 = c1 ^ c2
        self.classes = [
            sum((np.prod(sign[:, S], 1) < 0).astype(np.int64) << n for n, S in enumerate(kept)) for sign in signs
        ]
        self._plans: dict = {}

    def _plan(self, orientation, dtype, device):
        key = (orientation, dtype, device)
        if key not in self._plans:
            K = self.K.transpose(orientation)
            out_class, class1, class2 = (self.classes[axis] for axis in orientation)
            first, second, blocks, rows = [], [], [], []
            for c in np.unique(out_class):
                r = np.nonzero(out_class == c)[0]
                i, j = np.nonzero(((class1[:, None] ^ class2[None, :]) == c) & np.any(K[r] != 0, axis=0))
                if len(i):
                    first.append(i), second.append(j), rows.append(r)
                    blocks.append(torch.as_tensor(K[r][:, i, j], dtype=dtype, device=device))
            rows = np.concatenate(rows)
            order = np.full(K.shape[0], len(rows), dtype=np.int64)  # rows no pair reaches read a zero row
            order[rows] = np.arange(len(rows))
            index = (torch.as_tensor(np.concatenate(part), device=device) for part in (first, second))
            self._plans[key] = (*index, blocks, torch.as_tensor(order, device=device), len(rows))
        return self._plans[key]

    def apply(self, x: torch.Tensor, y: torch.Tensor, orientation) -> torch.Tensor:
        """``x (n, D1, C)``, ``y (n, D2, C)`` → ``(n, R, C)``, in chunks of columns of n·C."""
        first, second, blocks, order, used = self._plan(orientation, x.dtype, x.device)
        n, d1, C = x.shape
        columns = n * C
        xt = x.transpose(0, 1).reshape(d1, columns)
        yt = y.transpose(0, 1).reshape(y.shape[1], columns)
        out = x.new_empty(used + 1, columns)  # in class order, plus one zero row
        out[used].zero_()
        width = max(1, _CHUNK // len(first))
        for start in range(0, columns, width):
            stop = min(columns, start + width)
            pairs = xt[:, start:stop].index_select(0, first)
            pairs.mul_(yt[:, start:stop].index_select(0, second))
            row, column = 0, 0
            for block in blocks:
                rows, cols = block.shape
                torch.mm(block, pairs[column : column + cols], out=out[row : row + rows, start:stop])
                row, column = row + rows, column + cols
        # (n, R, C) as a view of (R, n·C): the next product reads it without a copy
        return out.index_select(0, order).view(order.shape[0], n, C).transpose(0, 1)


class _Bilinear(torch.autograd.Function):
    """``out = K(x, y)`` for a constant :class:`_Coupling`; differentiable to any order."""

    @staticmethod
    def forward(ctx, x, y, coupling: _Coupling, orientation):
        ctx.save_for_backward(x, y)
        ctx.coupling, ctx.orientation = coupling, orientation
        return coupling.apply(x, y, orientation)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        o, a, b = ctx.orientation
        grad_x = _Bilinear.apply(grad, y, ctx.coupling, (a, o, b)) if ctx.needs_input_grad[0] else None
        grad_y = _Bilinear.apply(x, grad, ctx.coupling, (b, a, o)) if ctx.needs_input_grad[1] else None
        return grad_x, grad_y, None, None


class _Square(torch.autograd.Function):
    """``out = K(x, x)`` for a K symmetric in its two inputs, evaluated on half the block pairs."""

    @staticmethod
    def forward(ctx, x, symmetric: _Coupling, half: _Coupling):
        ctx.save_for_backward(x)
        ctx.symmetric = symmetric
        return half.apply(x, x, (0, 1, 2))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2.0 * _Bilinear.apply(grad, x, ctx.symmetric, (1, 0, 2)), None, None


def _block_slices(irreps: Irreps, compact: bool) -> list[slice]:
    sizes = [ir.dim if compact else 3**ir.l for _, ir in irreps]
    ends = np.cumsum([0] + sizes)
    return [slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])]


def _to_compact(irreps: Irreps) -> np.ndarray:
    """Block-diagonal ``(Σ 2l+1, Σ 3**l)``: Cartesian components → ICT coefficients."""
    rows, cols = _block_slices(irreps, True), _block_slices(irreps, False)
    out = np.zeros((rows[-1].stop, cols[-1].stop))
    for (_, ir), r, c in zip(irreps, rows, cols):
        out[r, c] = ict_rows(ir.l)
    return out


class CartesianTensorProduct(nn.Module):
    """Irreducible Cartesian tensor product ``x1 ⊗ x2 → out``: every path ``a ⊗ b → c`` allowed.

    Args:
        irreps_in1, irreps_in2: the ICTs of one channel: a rank (int; parity (-1)**rank), a list
            of ranks, or irreps with multiplicity 1 per block ("2e", "0e+1o+2e+3o"); block "lp" is
            an ICT of rank l and parity p (p ≠ (-1)**l: a pseudotensor).
        irreps_out: the output ICTs (same forms); None → every irrep a path reaches, once, sorted.
            Blocks no path reaches stay zero.
        group: "O(3)" (a path needs p_out = p1 p2: the odd a+b-c paths reach pseudotensors) or
            "SO(3)" (parity ignored).
        weights: None (fixed coupling), "path" (one learnable weight per path) or "channel" (per
            channel and path; needs ``channels``); initialised to 1, shape ``weight_shape``.
        channels: C, the last axis (needed for ``weights="channel"`` only).
        compact: features as ICT coefficients ``(2l+1)`` per block instead of ``3**l``
            Cartesian components (C order).
        path_normalization: scale each path by 1/sqrt(number of paths into its output block).

    Shapes: x1 ``(..., dim_in1, C)``, x2 ``(..., dim_in2, C)`` (C = 1 broadcasts, leading dims
    broadcast) → ``(..., dim_out, C)``; ``dim`` = Σ 3**l (Cartesian) or Σ (2l+1) (compact),
    blocks in the order of the irreps. ``paths``: ``tp.Path(i_in1, i_in2, i_out, l1, l2, l3)``,
    in weight order (as ``CGTensorProduct``'s).

    >>> dot = CartesianTensorProduct(1, 1, 0)  # rank 1 ⊗ rank 1 → rank 0: a·b / √3
    >>> a, b = torch.randn(4, 3, 1), torch.randn(4, 3, 1)
    >>> torch.allclose(dot(a, b)[:, 0, 0], (a * b).sum((1, 2)) / 3**0.5, atol=1e-6)
    True
    >>> outer = CartesianTensorProduct(1, 1, 2)  # the traceless symmetric part of a ⊗ b
    >>> t = outer(a, b).view(4, 3, 3)
    >>> ab = a[:, :, None, 0] * b[:, None, :, 0]
    >>> part = (ab + ab.transpose(1, 2)) / 2 - torch.eye(3) * (a * b).sum((1, 2))[:, None, None] / 3
    >>> torch.allclose(t, part, atol=1e-6)
    True
    >>> tp = CartesianTensorProduct("0e+1o+2e", "0e+1o+2e", "0e+1o+2e", compact=True, weights="path")
    >>> len(tp.paths), tp.weight_shape, tp(torch.randn(10, 9, 16), torch.randn(10, 9, 16)).shape
    (11, (11,), torch.Size([10, 9, 16]))
    """

    def __init__(
        self,
        irreps_in1,
        irreps_in2,
        irreps_out=None,
        *,
        group: str = "O(3)",
        weights: str | None = None,
        channels: int | None = None,
        compact: bool = False,
        path_normalization: bool = True,
    ):
        super().__init__()
        self.irreps_in1 = _as_ict_irreps(irreps_in1, "irreps_in1")
        self.irreps_in2 = _as_ict_irreps(irreps_in2, "irreps_in2")
        self.group = check_group(group)
        if weights not in (None, "path", "channel"):
            raise ValueError(f"weights must be None, 'path' or 'channel', got {weights!r}")
        if weights == "channel" and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
            raise ValueError(f"weights='channel' needs channels, a positive int; got channels={channels!r}")
        if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int) or channels < 1):
            raise ValueError(f"channels must be a positive int or None, got {channels!r}")
        if not isinstance(compact, bool):
            raise ValueError(f"compact must be True or False, got {compact!r}")
        self.compact = compact
        self.channels = channels
        self.weight_mode = weights
        self._paths = self._find_paths(irreps_out)
        self.weight_shape = {None: (), "path": (len(self._paths),), "channel": (channels, len(self._paths))}[weights]
        if weights is not None:
            self.weight = nn.Parameter(torch.ones(self.weight_shape))
        self._build(path_normalization)

    # -- construction -------------------------------------------------------------------------
    def _find_paths(self, irreps_out) -> tuple:
        triples = allowed_paths(self.irreps_in1, self.irreps_in2, group=self.group)
        if irreps_out is None:
            self.irreps_out = Irreps(sorted({ir3 for *_, ir3 in triples}))
        else:
            self.irreps_out = _as_ict_irreps(irreps_out, "irreps_out")
        found = [
            Path(i1, i2, i3, ir1.l, ir2.l, ir_o.l)
            for i3, (_, ir_o) in enumerate(self.irreps_out)
            for i1, i2, ir1, ir2, ir3 in triples
            if ir3.l == ir_o.l and allowed(ir1, ir2, ir_o, self.group)
        ]
        if not found:
            raise ValueError(
                f"no path from {self.irreps_in1} ⊗ {self.irreps_in2} to {self.irreps_out} under {self.group} "
                "(triangle rule or parity: under O(3) the odd paths reach pseudotensors, e.g. 1o ⊗ 1o → 1e)"
            )
        return tuple(sorted(found, key=lambda p: (p.i_out, p.i_in1, p.i_in2)))

    def _build(self, path_normalization: bool) -> None:
        """The coupling tensor (folded over paths, or one row block per path when weighted), the
        symmetric and half couplings of :meth:`square`, and the Cartesian ↔ compact matrices."""
        in1, in2 = _block_slices(self.irreps_in1, True), _block_slices(self.irreps_in2, True)
        out = _block_slices(self.irreps_out, True)
        fan_in = np.bincount([p.i_out for p in self._paths], minlength=len(self.irreps_out))
        weighted = self.weight_mode is not None
        rows = sum(2 * p.l3 + 1 for p in self._paths) if weighted else out[-1].stop
        K = np.zeros((rows, in1[-1].stop, in2[-1].stop))
        path_of_row, out_of_row, start = [], [], 0
        for k, p in enumerate(self._paths):
            scale = 1.0 / np.sqrt(fan_in[p.i_out]) if path_normalization else 1.0
            target = slice(start, start + 2 * p.l3 + 1) if weighted else out[p.i_out]
            K[target, in1[p.i_in1], in2[p.i_in2]] += scale * _pair_coupling(p.l1, p.l2, p.l3)
            path_of_row.append(np.full(2 * p.l3 + 1, k))
            out_of_row.append(np.arange(out[p.i_out].start, out[p.i_out].stop))
            start += 2 * p.l3 + 1
        signs_out = _signs(self.irreps_out)
        signs = (signs_out[np.concatenate(out_of_row)] if weighted else signs_out, _signs(self.irreps_in1))
        self._coupling = _Coupling(K, signs + (_signs(self.irreps_in2),))
        if weighted:
            self.register_buffer("path_of_row", torch.from_numpy(np.concatenate(path_of_row)), persistent=False)
            self.register_buffer("out_of_row", torch.from_numpy(np.concatenate(out_of_row)), persistent=False)
        self._square = None
        if self.irreps_in1 == self.irreps_in2:
            symmetric = (K + K.transpose(0, 2, 1)) / 2
            half = symmetric.copy()  # x_i x_j for block pairs a < b twice, a > b never: the same sum
            for a, block_a in enumerate(in1):
                for b, block_b in enumerate(in1):
                    half[:, block_a, block_b] *= 2.0 if a < b else (0.0 if a > b else 1.0)
            self._square = (_Coupling(symmetric, signs + signs[1:]), _Coupling(half, signs + signs[1:]))
        for name, irreps in (("in1", self.irreps_in1), ("in2", self.irreps_in2), ("out", self.irreps_out)):
            matrix = None if self.compact else torch.from_numpy(_to_compact(irreps))
            self.register_buffer(f"to_compact_{name}", matrix, persistent=False)
        irreps = (self.irreps_in1, self.irreps_in2, self.irreps_out)
        self.dim_in1, self.dim_in2, self.dim_out = (_block_slices(i, self.compact)[-1].stop for i in irreps)

    def extra_repr(self) -> str:
        layout = "compact" if self.compact else "Cartesian"
        paths = f"{len(self._paths)} paths"
        return f"{self.irreps_in1} ⊗ {self.irreps_in2} → {self.irreps_out}, {self.group}, {paths}, {layout}"

    # -- evaluation ---------------------------------------------------------------------------
    @property
    def paths(self) -> tuple:
        """The paths, in weight order: ``Path(i_in1, i_in2, i_out, l1, l2, l3)``."""
        return self._paths

    def _input(self, x, dim: int, projection, name: str) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor")
        if x.dim() < 2 or x.shape[-2] != dim:
            layout = "Cartesian components" if not self.compact else "ICT coefficients"
            raise ValueError(f"{name} has shape {tuple(x.shape)}; expected (..., {dim}, C) ({layout})")
        if self.weight_mode == "channel" and x.shape[-1] not in (1, self.channels):
            raise ValueError(f"{name} has {x.shape[-1]} channels; expected {self.channels} (or 1)")
        return x if projection is None else torch.matmul(projection.to(x.dtype), x)

    def _output(self, y: torch.Tensor, batch) -> torch.Tensor:
        """Per-path rows → weighted output blocks; compact → Cartesian; leading dims restored."""
        if self.weight_mode is not None:
            weight = self.weight.to(y.dtype)
            w = weight[self.path_of_row][:, None] if self.weight_mode == "path" else weight[:, self.path_of_row].t()
            full = y.new_zeros(y.shape[0], _block_slices(self.irreps_out, True)[-1].stop, y.shape[-1])
            y = full.index_add(1, self.out_of_row, y * w)
        if not self.compact:
            y = torch.matmul(self.to_compact_out.to(y.dtype).t(), y)
        return y.reshape(batch[:-1] + y.shape[1:2] + batch[-1:])

    @staticmethod
    def _flat(x: torch.Tensor, batch) -> torch.Tensor:
        return x.expand(batch[:-1] + x.shape[-2:-1] + batch[-1:]).reshape((-1,) + x.shape[-2:-1] + batch[-1:])

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x1 = self._input(x1, self.dim_in1, self.to_compact_in1, "x1")
        x2 = self._input(x2, self.dim_in2, self.to_compact_in2, "x2")
        if x1.dtype != x2.dtype:
            raise TypeError(f"x1 and x2 have different dtypes ({x1.dtype}, {x2.dtype})")
        batch = torch.broadcast_shapes(x1.shape[:-2] + x1.shape[-1:], x2.shape[:-2] + x2.shape[-1:])
        y = _Bilinear.apply(self._flat(x1, batch), self._flat(x2, batch), self._coupling, (0, 1, 2))
        return self._output(y, batch)

    def square(self, x: torch.Tensor) -> torch.Tensor:
        """``self(x, x)``, evaluated on half the block pairs (the product is symmetric on x ⊗ x);
        needs ``irreps_in1 == irreps_in2``."""
        if self._square is None:
            raise ValueError(f"square needs equal input irreps, got {self.irreps_in1} and {self.irreps_in2}")
        x = self._input(x, self.dim_in1, self.to_compact_in1, "x")
        batch = x.shape[:-2] + x.shape[-1:]
        y = _Square.apply(self._flat(x, batch), *self._square)
        return self._output(y, batch)
