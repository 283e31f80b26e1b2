"""Save and load path matrices as ``.npz`` with metadata; writes are atomic (temp file + rename).

File layout (all arrays; ``allow_pickle`` is never needed):
  ``metadata``  JSON string: format version, equitools version, degrees, parity, dtype, kind
  ``paths``     int ``(n_paths, n)``
  dense:  ``matrix`` ``(dim, dim)``
  sparse: ``data``, ``indices``, ``indptr`` (CSR)
  exact:  ``rows``, ``cols``, ``values`` (nonzero entries, values as sympy strings)
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .. import __version__
from ..atomic import atomic_write
from .path_matrices import PathMatrices

FORMAT = "equitools.path_matrices/1"
KIND_KEYS = {"dense": ("matrix",), "sparse": ("data", "indices", "indptr"), "exact": ("rows", "cols", "values")}


class PathMatricesFileError(ValueError):
    """A path-matrices file is missing, corrupt, or not in the expected format."""


def _kind(pm: PathMatrices) -> str:
    return "exact" if pm.exact else ("sparse" if pm.sparse else "dense")


def save(pm: PathMatrices, path) -> Path:
    """Write ``pm`` to ``path`` (``.npz``) atomically; returns the final path."""
    kind = _kind(pm)
    matrix = pm._matrix
    arrays = {"paths": np.array(pm.paths, dtype=np.int64)}
    if kind == "dense":
        arrays["matrix"] = matrix
    elif kind == "sparse":
        arrays.update(data=matrix.data, indices=matrix.indices, indptr=matrix.indptr)
    else:
        rows, cols = np.nonzero(matrix != 0)
        arrays.update(rows=rows, cols=cols, values=np.array([str(v) for v in matrix[rows, cols]]))
    metadata = {
        "format": FORMAT,
        "equitools": __version__,
        "degrees": list(pm.degrees),
        "parity": pm.parity,
        "kind": kind,
        "dtype": "sympy" if kind == "exact" else str(matrix.dtype),
        "dim": pm.dim,
        "irreps": pm.irreps,
    }
    arrays["metadata"] = np.array(json.dumps(metadata))
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load(path) -> PathMatrices:
    """Read path matrices written by :func:`save`; raises :class:`PathMatricesFileError`."""
    path = Path(path)
    if not path.is_file():
        raise PathMatricesFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise PathMatricesFileError(f"{path}: not a readable .npz file ({error})") from None
    for key in ("metadata", "paths"):
        if key not in contents:
            raise PathMatricesFileError(f"{path}: missing key '{key}'")
    try:
        metadata = json.loads(str(contents["metadata"]))
    except json.JSONDecodeError as error:
        raise PathMatricesFileError(f"{path}: key 'metadata' is not valid JSON ({error})") from None
    if metadata.get("format") != FORMAT:
        raise PathMatricesFileError(f"{path}: key 'metadata' has format {metadata.get('format')!r}, expected {FORMAT!r}")
    kind, dim = metadata["kind"], int(metadata["dim"])
    for key in KIND_KEYS[kind]:
        if key not in contents:
            raise PathMatricesFileError(f"{path}: missing key '{key}' for {kind} path matrices")
    paths = [tuple(int(v) for v in row) for row in contents["paths"]]
    if sum(2 * p[-1] + 1 for p in paths) != dim:
        raise PathMatricesFileError(f"{path}: key 'paths' does not add up to dimension {dim}")
    if kind == "dense":
        matrix = contents["matrix"]
        if matrix.shape != (dim, dim):
            raise PathMatricesFileError(f"{path}: key 'matrix' has shape {matrix.shape}, expected {(dim, dim)}")
    elif kind == "sparse":
        try:
            matrix = sp.csr_matrix((contents["data"], contents["indices"], contents["indptr"]), shape=(dim, dim))
            matrix.check_format(full_check=True)
        except ValueError as error:
            raise PathMatricesFileError(f"{path}: keys 'data'/'indices'/'indptr' are not a valid CSR matrix ({error})") from None
    else:
        import sympy

        matrix = np.full((dim, dim), sympy.Integer(0), dtype=object)
        for r, c, v in zip(contents["rows"], contents["cols"], contents["values"]):
            matrix[r, c] = sympy.sympify(str(v))
    return PathMatrices(metadata["degrees"], paths, matrix, int(metadata["parity"]), kind == "exact")
