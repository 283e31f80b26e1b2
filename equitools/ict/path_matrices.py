"""Path matrices: the orthonormal change of basis from a tensor product to a direct sum of irreps.

For a coupling path ``(L_1, …, L_n)`` of ``l_1 ⊗ … ⊗ l_n`` (see :mod:`equitools.ict.paths`) the path
matrix P has shape ``(2L_n+1, Π(2l_k+1))`` and is built from its parent path by one CG contraction
(Shao et al. 2024, "High-Rank Irreducible Cartesian Tensor Decomposition", eq. for path matrices):

    P_child[M, (I, i)] = Σ_m C(L_{n-1}, l_n, L_n)[m, i, M] · P_parent[m, I],

the new factor's index i being the fastest (flattened tensors are C-ordered: first index
slowest, so ``np.kron(R, …, R)`` acts on them). Stacked in path order the P's form an orthonormal
square matrix; its rows for final weight L transform with ``wigner_D(L)``.

The recursion is vectorised per *block*: all parents of one weight L feeding children of one
weight L' are contiguous rows of the parent stack and produce contiguous rows of the child stack,
so each block is one batched matrix product (new index slowest, cache-sized chunks) followed by a
per-row transpose into place. Chunks run on a thread pool with BLAS pinned to one thread. Float
entries below ``ZERO_TOLERANCE`` are rounding residues of exact cancellations (genuine entries are
≥ 1e-4 up to rank 8) and are set to exactly zero, so dense and sparse forms agree.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..so3.clebsch_gordan import clebsch_gordan
from .paths import _as_degrees, check_rank, irreps_string, product_paths

ZERO_TOLERANCE = 1e-12
CHUNK_ELEMENTS = 1 << 18  # child entries computed per task (2 MB of float64, cache-sized)


@dataclass(frozen=True)
class _Block:
    """Children of weight ``L_new`` made from the ``count`` parents of weight ``L``."""

    L: int
    L_new: int
    count: int
    parent_start: int  # first parent row
    child_start: int  # first child row


def _row_offsets(paths) -> np.ndarray:
    """Start row of every path in the stack, plus the total number of rows at the end."""
    sizes = [2 * p[-1] + 1 for p in paths]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _plan(parent_paths, l: int) -> list[_Block]:
    """The blocks of the step that appends a factor of degree ``l``, in child row order."""
    first_row, count = {}, {}
    row = 0
    for p in parent_paths:
        first_row.setdefault(p[-1], row)
        count[p[-1]] = count.get(p[-1], 0) + 1
        row += 2 * p[-1] + 1
    blocks, child_row = [], 0
    for L_new in range(max(count) + l + 1):
        for L in sorted(count):
            if abs(L - l) <= L_new <= L + l:
                blocks.append(_Block(L, L_new, count[L], first_row[L], child_row))
                child_row += count[L] * (2 * L_new + 1)
    return blocks


def _coupling_matrix(L: int, l: int, L_new: int, exact: bool) -> np.ndarray:
    """CG(L, l, L_new) as ``((2L_new+1)(2l+1), 2L+1)``, rows (M, i): new index slowest."""
    c = clebsch_gordan(L, l, L_new, exact=exact)
    c = np.array(c.tolist(), dtype=object) if exact else c
    return np.ascontiguousarray(c.transpose(2, 1, 0).reshape((2 * L_new + 1) * (2 * l + 1), 2 * L + 1))


def _child_rows(parent, block: _Block, lo: int, hi: int, l: int, coupling: np.ndarray, out=None) -> np.ndarray:
    """Child rows of parents ``lo:hi`` of ``block``: ``((hi-lo)(2L_new+1), D(2l+1))``.

    Written into ``out`` (a row slice of the stack) when given, else into a new array.
    """
    width_in = 2 * block.L + 1
    rows = parent[block.parent_start + lo * width_in : block.parent_start + hi * width_in]
    rows = rows.toarray() if sp.issparse(rows) else rows
    n, D, d, width_out = hi - lo, rows.shape[1], 2 * l + 1, 2 * block.L_new + 1
    product = np.matmul(coupling, rows.reshape(n, width_in, D))  # [p, (M, i), I], contiguous
    if product.dtype != object:
        product[np.abs(product) < ZERO_TOLERANCE] = 0.0
    if out is None:
        out = np.empty((n * width_out, D * d), dtype=product.dtype)
    np.copyto(out.reshape(n, width_out, D, d), product.reshape(n, width_out, d, D).transpose(0, 1, 3, 2))
    return out


def _tasks(blocks, D: int, l: int):
    """Split blocks into chunks of about ``CHUNK_ELEMENTS`` child entries."""
    for block in blocks:
        per_parent = (2 * block.L_new + 1) * D * (2 * l + 1)
        step = max(1, CHUNK_ELEMENTS // per_parent)
        for lo in range(0, block.count, step):
            yield block, lo, min(block.count, lo + step)


def _extend(parent, parent_paths, l: int, *, dtype, sparse: bool, exact: bool, progress=None):
    """One step of the recursion: the stack for ``parent_paths`` ⊗ (degree l).

    Dense: chunks are written in place into the preallocated stack. Sparse: two passes, one
    counting the nonzeros of every row, one writing them into CSR arrays allocated once, so
    the peak memory is the parent plus the result.
    """
    from threadpoolctl import threadpool_limits

    blocks = _plan(parent_paths, l)
    size = parent.shape[1] * (2 * l + 1)
    couplings = {(b.L, b.L_new): _coupling_matrix(b.L, l, b.L_new, exact) for b in blocks}
    tasks = list(_tasks(blocks, parent.shape[1], l))
    passes = 2 if sparse else 1

    def rows_of(task) -> slice:
        block, lo, hi = task
        first = block.child_start + lo * (2 * block.L_new + 1)
        return slice(first, first + (hi - lo) * (2 * block.L_new + 1))

    def compute(task, out=None):
        block, lo, hi = task
        return _child_rows(parent, block, lo, hi, l, couplings[(block.L, block.L_new)], out=out)

    def run_all(function):
        workers = 1 if exact else (os.cpu_count() or 1)
        with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
            results = []
            for result in pool.map(function, tasks):
                results.append(result)
                if progress is not None:
                    progress(1, passes * len(tasks))
        return results

    if not sparse:
        out = np.empty((size, size), dtype=object if exact else dtype)
        run_all(lambda task: compute(task, out=out[rows_of(task)]))
        return out

    counts = np.concatenate(run_all(lambda task: np.count_nonzero(compute(task), axis=1)))
    nnz = int(counts.sum())
    index_dtype = np.int32 if max(nnz, size) < 2**31 else np.int64
    indptr = np.zeros(size + 1, dtype=index_dtype)
    np.cumsum(counts, out=indptr[1:])
    data = np.empty(nnz, dtype=dtype)
    indices = np.empty(nnz, dtype=index_dtype)

    def fill(task):
        child = compute(task)
        rows = rows_of(task)
        mask = child != 0
        at = slice(indptr[rows.start], indptr[rows.stop])
        data[at] = child[mask]
        indices[at] = np.nonzero(mask)[1]

    run_all(fill)
    return sp.csr_matrix((data, indices, indptr), shape=(size, size))


class PathMatrices:
    """All path matrices of ``l_1 ⊗ … ⊗ l_n``, stacked.

    ``pm.paths``: the coupling paths in order; ``pm.irreps``: e3nn Irreps string of the rows;
    ``pm[path]``: the ``(2L+1, dim)`` path matrix (numpy view, CSR slice, or sympy Matrix);
    ``pm.stacked()``: the ``(dim, dim)`` orthonormal change of basis, rows in ``paths`` order.

    >>> pm = path_matrices(2)
    >>> pm
    PathMatrices(degrees=(1, 1), paths=3, dim=9, float64)
    >>> pm.paths, pm.irreps, pm[(1, 2)].shape, pm.rows((1, 2))
    (((1, 0), (1, 1), (1, 2)), '1x0e+1x1e+1x2e', (5, 9), slice(4, 9, None))
    """

    def __init__(self, degrees, paths, matrix, parity: int, exact: bool):
        self.degrees = tuple(degrees)
        self.paths = tuple(paths)
        self.parity = parity
        self.exact = exact
        self._matrix = matrix
        offsets = _row_offsets(self.paths)
        self._rows = {p: slice(int(a), int(b)) for p, a, b in zip(self.paths, offsets[:-1], offsets[1:])}

    @property
    def dim(self) -> int:
        """Dimension of the product space, Π (2l_k + 1) (3ⁿ for a rank-n Cartesian tensor)."""
        return self._matrix.shape[0]

    @property
    def rank(self) -> int:
        """Number of factors n."""
        return len(self.degrees)

    @property
    def sparse(self) -> bool:
        """Whether the stack is stored as a CSR matrix."""
        return sp.issparse(self._matrix)

    @property
    def irreps(self) -> str:
        """The irreps of the stacked rows, e3nn's string form (e.g. ``"1x0e+1x1e+1x2e"`` for rank 2)."""
        return irreps_string(self.paths, self.parity)

    def rows(self, path) -> slice:
        """Rows of ``stacked()`` that belong to ``path``."""
        try:
            return self._rows[tuple(path)]
        except KeyError:
            raise KeyError(f"{tuple(path)} is not a coupling path of {self.degrees}") from None

    def weight_rows(self, L: int) -> slice:
        """Rows of all paths with final weight ``L`` (contiguous by the path order)."""
        selected = [self._rows[p] for p in self.paths if p[-1] == L]
        if not selected:
            raise KeyError(f"no path of {self.degrees} ends in weight {L}")
        return slice(selected[0].start, selected[-1].stop)

    def __getitem__(self, path):
        block = self._matrix[self.rows(path)]
        return _to_sympy(block) if self.exact else block

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self):
        return iter(self.paths)

    def stacked(self):
        """The ``(dim, dim)`` stack: numpy array, ``scipy.sparse.csr_matrix``, or sympy Matrix."""
        return _to_sympy(self._matrix) if self.exact else self._matrix

    def array(self) -> np.ndarray:
        """The stack as a dense float64 numpy array (exact entries evaluated)."""
        if self.sparse:
            return self._matrix.toarray()
        return np.asarray(self._matrix, dtype=np.float64)

    def __repr__(self) -> str:
        kind = "exact" if self.exact else ("sparse " if self.sparse else "") + str(self._matrix.dtype)
        return f"PathMatrices(degrees={self.degrees}, paths={len(self.paths)}, dim={self.dim}, {kind})"


def _to_sympy(block):
    import sympy

    return sympy.ImmutableMatrix(block.tolist())


def _identity(size: int, exact: bool) -> np.ndarray:
    """The rank-1 stack: the identity (float64, or sympy integers in an object array)."""
    if not exact:
        return np.eye(size)
    import sympy

    return np.array(sympy.eye(size).tolist(), dtype=object)


def product_path_matrices(
    degrees, parities=None, *, dtype=np.float64, exact: bool = False, sparse: bool = False, progress=None
) -> PathMatrices:
    """Path matrices of the tensor product of irreps of the given degrees (real e3nn basis).

    parities: optional ±1 per factor (O(3)); the rows' parity is their product.
    progress: optional callable ``(done_increment, total)`` called as chunks of the last step finish.

    >>> pm = product_path_matrices([1, 2], parities=[-1, 1])  # 1o ⊗ 2e
    >>> pm.irreps, pm.stacked().shape
    ('1x1o+1x2o+1x3o', (15, 15))
    """
    degrees = _as_degrees(tuple(degrees))
    parities = (1,) * len(degrees) if parities is None else tuple(parities)
    if len(parities) != len(degrees) or any(p not in (1, -1) for p in parities):
        raise ValueError(f"parities must be ±1, one per factor, got {parities}")
    dtype = np.dtype(dtype)
    if not exact and dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if exact and sparse:
        raise ValueError("exact path matrices are dense sympy objects; use exact=False with sparse=True")
    matrix = _identity(2 * degrees[0] + 1, exact)
    paths = product_paths(degrees[:1])
    for k, l in enumerate(degrees[1:], start=2):
        last = k == len(degrees)
        matrix = _extend(
            matrix,
            paths,
            l,
            dtype=dtype if last else np.float64,
            sparse=sparse and last,
            exact=exact,
            progress=progress if last else None,
        )
        paths = product_paths(degrees[:k])
    if len(degrees) == 1 and not exact:
        matrix = sp.csr_matrix(matrix, dtype=dtype) if sparse else matrix.astype(dtype)
    return PathMatrices(degrees, paths, matrix, int(np.prod(parities)), exact)


def path_matrices(n: int, dtype=np.float64, exact: bool = False, sparse: bool = False, progress=None) -> PathMatrices:
    """Path matrices of a rank-n Cartesian tensor: ``(3**n, 3**n)`` stacked, parity (-1)^n.

    The l = 1 basis is Cartesian (x, y, z), so no extra change of basis is needed.
    dtype: float64 or float32 (float32 is computed in float64 and rounded once);
    exact: sympy entries (practical up to rank 7: 13 s at rank 6, about 2.5 min at rank 7);
    sparse: CSR (``scipy.sparse``), the form for high rank (about 13% of entries are nonzero at rank 8–9).

    >>> pm = path_matrices(3)
    >>> len(pm), pm.irreps, pm.stacked().shape
    (7, '1x0o+3x1o+2x2o+1x3o', (27, 27))
    >>> bool(np.allclose(pm.stacked() @ pm.stacked().T, np.eye(27)))  # orthonormal
    True
    >>> path_matrices(2, exact=True)[(1, 0)]  # the trace, exactly
    Matrix([[sqrt(3)/3, 0, 0, 0, sqrt(3)/3, 0, 0, 0, sqrt(3)/3]])
    """
    n = check_rank(n)
    return product_path_matrices((1,) * n, (-1,) * n, dtype=dtype, exact=exact, sparse=sparse, progress=progress)
