"""Matrix-free ICT transforms: apply the stacked path matrices to data without forming them.

The stacked path matrices S of a rank-n Cartesian tensor (:mod:`equitools.ict.path_matrices`)
have 9ⁿ entries, but S is a product of small Clebsch–Gordan couplings along the parentage chain
(Shao et al. 2024, "High-Rank Irreducible Cartesian Tensor Decomposition", the path-matrix
recursion P_child[M, (I, i)] = Σ_m C(L_{n-1}, 1, L_n)[m, i, M] · P_parent[m, I]). Applied to a
tensor t (flattened in C order, first index slowest) it reads

    (S_k t)[M] = Σ_{m, i} C(L_{k-1}, 1, L_k)[m, i, M] · (S_{k-1} t[:, i])[m],

so ``to_irreps`` runs the recursion on the data: step k couples the coefficients of the first
k-1 indices with index k. A step costs 3(2L+1) multiply-adds per entry for the rows of parent
weight L, the transform O(batch · 3ⁿ · n^{3/2}) time and O(batch · 3ⁿ) memory, instead of the
9ⁿ entries of the dense matrix (26 GiB at rank 10).

Choices where the paper is silent:

- The couplings of a parent weight L with a vector, stacked over the child weights
  L' = |L-1|..L+1, form one orthogonal square matrix Q_L of size 3(2L+1) (CG coefficients are an
  orthonormal change of basis). It is the same at every step, so one Q_L per L is cached (numpy,
  and torch per dtype/device through :func:`equitools.so3._backend.table`); ``from_irreps``
  applies the transposes in reverse order (S is orthogonal: its inverse is its transpose).
- Layout: between steps the data are held per final weight L ("groups", below) as
  ``(2L+1, rest, paths of weight L)``, ``rest`` being the tensor indices not yet coupled and then
  the batch. Rows (m, next index) are then contiguous, so a step is one large matrix product
  ``Q_L @ group`` per parent weight and one concatenation per child weight; the path order of
  :mod:`equitools.ict.paths` (child weight, then parent weight, then the parent's position) is
  the order of that concatenation.
- Restricted inverses (used by :func:`equitools.ict.decompose` at high rank): coefficients of a
  few final weights only are mapped back skipping every block that would carry zeros, and one
  path's coefficients along that path's own chain of couplings.
- numpy inputs are computed in float64 (or wider), with BLAS held to one thread during the call:
  the products are small and skinny, and BLAS threads fighting for busy cores cost up to 10x
  (measured on 2 busy cores, rank 10, batch 64: 0.18 s on one thread, 1.5 s on two).
- torch inputs keep dtype and device and support autograd (only differentiable torch operations
  are used; torch's own threading is left alone).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..so3._backend import is_torch, table
from ..so3.clebsch_gordan import clebsch_gordan
from .paths import check_rank


@cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread(x):
    """Context for work on ``x``: numpy, BLAS limited to one thread (see the module docstring);
    torch, nothing."""
    return contextlib.nullcontext() if is_torch(x) else _blas_controller().limit(limits=1, user_api="blas")


@cache
def _coupling(L: int) -> np.ndarray:
    """Q_L: rows (L', M) for L' = |L-1|..L+1 ascending, columns (m, i) with i (the vector) fastest.

    ``Q_L[(L', M), (m, i)] = C(L, 1, L')[m, i, M]``; square ``3(2L+1)`` (``3`` for L = 0), orthogonal.
    """
    blocks = [
        clebsch_gordan(L, 1, child).transpose(2, 0, 1).reshape(2 * child + 1, 3 * (2 * L + 1))
        for child in range(abs(L - 1), L + 2)
    ]
    out = np.concatenate(blocks)
    out.setflags(write=False)
    return out


@cache
def _coupling_transposed(L: int) -> np.ndarray:
    out = np.ascontiguousarray(_coupling(L).T)
    out.setflags(write=False)
    return out


def _coupling_offset(L: int, child: int) -> int:
    """First row of child weight ``child`` in Q_L."""
    return sum(2 * c + 1 for c in range(abs(L - 1), child))


@cache
def _multiplicities(k: int) -> dict[int, int]:
    """Number of rank-k coupling paths per final weight L (ascending), by the parentage rule."""
    if k == 1:
        return {1: 1}
    out: dict[int, int] = {}
    for L, count in _multiplicities(k - 1).items():
        for child in range(abs(L - 1), L + 2):
            out[child] = out.get(child, 0) + count
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class _Piece:
    """The children of weight ``child`` made from all rank-(k-1) paths of weight ``parent``:
    rows ``rows`` of Q_parent, and paths ``paths`` of the child weight's group."""

    parent: int
    child: int
    rows: slice
    paths: slice


@cache
def _step(k: int) -> tuple[_Piece, ...]:
    """The pieces of step rank k-1 → k in the path order of :mod:`equitools.ict.paths`: child weight
    ascending, then parent weight ascending (then the parents' own order)."""
    parents = _multiplicities(k - 1)
    pieces = []
    for child in _multiplicities(k):
        start = 0
        for L in (child - 1, child, child + 1):
            if L in parents and abs(L - 1) <= child:
                offset = _coupling_offset(L, child)
                paths = slice(start, start + parents[L])
                pieces.append(_Piece(L, child, slice(offset, offset + 2 * child + 1), paths))
                start = paths.stop
    return tuple(pieces)


# groups[L], at rank k: ``(2L+1, rest, count)``: the component M, then the tensor indices k+1..n
# and the batch ("rest", C order), then the ``count`` rank-k paths of weight L in stack order.


def _concat(pieces, axis: int):
    if len(pieces) == 1:
        return pieces[0]
    if is_torch(pieces[0]):
        import torch

        return torch.cat(pieces, dim=axis)
    return np.concatenate(pieces, axis=axis)


def _forward_step(groups: dict, k: int) -> dict:
    """Rank k-1 groups → rank k groups: couple index k."""
    products = {}
    for L, G in groups.items():
        rows = 3 * (2 * L + 1)  # (m, index k)
        Q = table(_coupling, L, reference=G)
        products[L] = (Q @ G.reshape(rows, -1)).reshape(rows, G.shape[1] // 3, G.shape[2])
    children: dict[int, list] = {}
    for p in _step(k):
        children.setdefault(p.child, []).append(products[p.parent][p.rows])
    return {child: _concat(pieces, axis=-1) for child, pieces in children.items()}


def _inverse_step(groups: dict, k: int) -> dict:
    """The transpose of ``_forward_step``; absent groups are zero and cost nothing."""
    feeds: dict[int, list[_Piece]] = {}
    for p in _step(k):
        if p.child in groups:
            feeds.setdefault(p.parent, []).append(p)
    parents = {}
    for L, pieces in feeds.items():  # the pieces of one parent are consecutive rows of Q_L
        QT = table(_coupling_transposed, L, reference=groups[pieces[0].child])
        QT = QT[:, pieces[0].rows.start : pieces[-1].rows.stop]
        Z = _concat([groups[p.child][..., p.paths] for p in pieces], axis=0)
        parents[L] = (QT @ Z.reshape(Z.shape[0], -1)).reshape(2 * L + 1, 3 * Z.shape[1], Z.shape[2])
    return parents


def _to_groups(coefficients, n: int, weights: range | None = None) -> dict:
    """``(B, 3**n)`` coefficients in stack order → groups (only the weights in ``weights`` if given)."""
    groups, start = {}, 0
    for L, count in _multiplicities(n).items():
        stop = start + count * (2 * L + 1)
        if weights is None or L in weights:
            block = coefficients[:, start:stop].reshape(-1, count, 2 * L + 1)
            groups[L] = block.permute(2, 0, 1) if is_torch(block) else block.transpose(2, 0, 1)
        start = stop
    return groups


def _from_groups(groups: dict):
    """Rank-n groups ``(2L+1, B, count)`` → ``(B, 3**n)`` coefficients in stack order."""
    pieces = []
    for L in sorted(groups):
        G = groups[L]
        G = G.permute(1, 2, 0) if is_torch(G) else G.transpose(1, 2, 0)
        pieces.append(G.reshape(G.shape[0], G.shape[1] * G.shape[2]))
    return _concat(pieces, axis=1)


def _forward(tensors, n: int):
    """``(B, 3**n)`` flattened tensors → ``(B, 3**n)`` coefficients in stack order."""
    groups = {1: tensors.T.reshape(3, -1, 1)}
    for k in range(2, n + 1):
        groups = _forward_step(groups, k)
    return _from_groups(groups)


def _inverse(coefficients, n: int, weights: range | None = None):
    """``(B, 3**n)`` coefficients → ``(B, 3**n)`` flattened tensors (the transpose of ``_forward``).

    weights: if given (a ``range`` of final weights), only their coefficients are used: the others
    read as zero, and the blocks they would feed are skipped. (The nonzero weights of every
    level then form a range too, so the rows of Q_L that a parent needs are consecutive.)
    """
    groups = _to_groups(coefficients, n, weights)
    for k in range(n, 1, -1):
        groups = _inverse_step(groups, k)
    return groups[1].reshape(3**n, -1).T


def _path_inverse(coefficients, path: tuple[int, ...]):
    """``(B, 2L+1)`` coefficients of one coupling path → ``(B, 3**n)`` flattened tensors."""
    x = coefficients.T
    for L, child in zip(path[-2::-1], path[:0:-1]):
        offset = _coupling_offset(L, child)
        QT = table(_coupling_transposed, L, reference=x)[:, offset : offset + 2 * child + 1]
        x = QT @ x.reshape(2 * child + 1, -1)
    return x.reshape(3 ** len(path), -1).T


def _batch(tensor, rank: int, name: str, cartesian: bool = True):
    """Validate ``tensor`` (``(..., 3**rank)``, or ``(..., 3, …, 3)`` if ``cartesian``); return it
    as ``(B, 3**rank)`` of a float kind, and the batch shape."""
    rank = check_rank(rank)
    if is_torch(tensor):
        if not (tensor.is_floating_point() or tensor.is_complex()):
            raise ValueError(f"{name} must be a floating-point torch tensor, got {tensor.dtype}")
    else:
        tensor = np.asarray(tensor)
        tensor = tensor.astype(np.result_type(tensor.dtype, np.float64), copy=False)
    shape = tuple(tensor.shape)
    if cartesian and len(shape) >= rank and shape[len(shape) - rank :] == (3,) * rank:
        batch = shape[: len(shape) - rank]
    elif shape and shape[-1] == 3**rank:
        batch = shape[:-1]
    else:
        expected = f"(..., {3**rank})" + (f" or (..., {', '.join(['3'] * rank)})" if cartesian else "")
        raise ValueError(f"{name} must have shape {expected} for rank {rank}, got {shape}")
    return tensor.reshape(-1, 3**rank), batch


def _unbatch(x, batch: tuple):
    """``(B, D)`` → ``batch + (D,)``, contiguous."""
    x = x.contiguous() if is_torch(x) else np.ascontiguousarray(x)
    return x.reshape(batch + (x.shape[-1],))


def to_irreps(tensor, rank: int):
    """Coefficients of rank-n Cartesian tensors in the stacked path-matrix basis, matrix-free.

    tensor: numpy array or torch tensor ``(..., 3**rank)`` or ``(..., 3, …, 3)`` (``rank`` axes of
    size 3, flattened in C order); no leading axes for a single tensor.
    Returns ``(..., 3**rank)``: equal to ``T.reshape(-1, 3**rank) @ path_matrices(rank).stacked().T``,
    in the stack's row order (irreps ``path_matrices(rank).irreps``). Torch keeps dtype/device and
    autograd; numpy is computed in float64. O(3ⁿ · n^{3/2}) per tensor, no 9ⁿ matrix; works at rank 12.

    >>> from equitools.ict import path_matrices
    >>> T = np.arange(9.0).reshape(3, 3)
    >>> c = to_irreps(T, rank=2)  # irreps 1x0e+1x1e+1x2e
    >>> c.shape, bool(np.isclose(c[0], np.trace(T) / np.sqrt(3)))  # the trace coefficient
    ((9,), True)
    >>> bool(np.allclose(c, path_matrices(2).stacked() @ T.reshape(9)))
    True
    """
    tensors, batch = _batch(tensor, rank, "tensor")
    with _one_blas_thread(tensors):
        return _unbatch(_forward(tensors, rank), batch)


def from_irreps(coefficients, rank: int):
    """The inverse (= transpose) of :func:`to_irreps`: coefficients ``(..., 3**rank)`` → flattened
    Cartesian tensors ``(..., 3**rank)`` (C order; reshape to ``(..., 3, …, 3)`` if wanted).

    >>> T = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
    >>> back = from_irreps(to_irreps(T, rank=3), rank=3)
    >>> back.shape, bool(np.allclose(back.reshape(T.shape), T))
    ((4, 27), True)
    """
    flat, batch = _batch(coefficients, rank, "coefficients", cartesian=False)
    with _one_blas_thread(flat):
        return _unbatch(_inverse(flat, rank), batch)
