"""Save and load path matrices as ``.npz`` with metadata; writes are atomic (temp file + rename).

File layout (all arrays; ``allow_pickle`` is never needed):
  ``metadata``  JSON object: format version, equitools version, degrees, parity, dtype, kind, dim
  ``paths``     int ``(n_paths, n)``: the coupling paths of the degrees, in order
  dense:  ``matrix`` float ``(dim, dim)``
  sparse: ``data``, ``indices``, ``indptr`` (CSR)
  exact:  ``rows``, ``cols`` int ``(nnz,)``, ``values`` str ``(nnz,)``: the nonzero entries as sympy
          prints them (``1/2``, ``-sqrt(6)/6``, ``3*sqrt(70)/70``)

:func:`load` checks every key and parses exact values with a strict grammar (a sign, a product of
integers and square roots of non-negative rationals, an integer denominator), never evaluating them.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .. import __version__
from ..atomic import atomic_write
from ..safe_npz import READ_ERRORS, UnsafeNpzError, open_npz, read_member
from .path_matrices import PathMatrices
from .paths import product_paths

if TYPE_CHECKING:
    import sympy

FORMAT = "equitools.path_matrices/1"
KIND_KEYS = {"dense": ("matrix",), "sparse": ("data", "indices", "indptr"), "exact": ("rows", "cols", "values")}

_NUMBER = re.compile(r"[0-9]{1,40}")  # 40 digits: far beyond any coefficient, and cheap for sympy's sqrt
_FACTOR = re.compile(rf"({_NUMBER.pattern})|sqrt\(({_NUMBER.pattern})(?:/({_NUMBER.pattern}))?\)")


class PathMatricesFileError(ValueError):
    """A path-matrices file is missing, corrupt, or not in the expected format.

    >>> load("no-such-file.npz")
    Traceback (most recent call last):
    ...
    equitools.ict.io.PathMatricesFileError: no-such-file.npz: no such file
    """


def _kind(pm: PathMatrices) -> str:
    return "exact" if pm.exact else ("sparse" if pm.sparse else "dense")


def save(pm: PathMatrices, path) -> Path:
    """Write ``pm`` to ``path`` (``.npz``) atomically; returns the final path.

    >>> import tempfile
    >>> from equitools.ict import path_matrices
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     saved = save(path_matrices(3, sparse=True), Path(folder) / "rank3.npz")
    ...     print(saved.name, load(saved))
    rank3.npz PathMatrices(degrees=(1, 1, 1), paths=7, dim=27, sparse float64)
    """
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
    """Read path matrices written by :func:`save`; anything else raises
    :class:`PathMatricesFileError` naming the file and the key (and entry).

    >>> from equitools.paths import EMBEDDED_DATA
    >>> pm = load(EMBEDDED_DATA / "ict" / "path_matrices_rank4.npz")  # shipped with the project
    >>> pm.irreps, pm.sparse
    ('3x0e+6x1e+6x2e+3x3e+1x4e', True)
    """
    path = Path(path)
    if not path.is_file():
        raise PathMatricesFileError(f"{path}: no such file")
    contents = _read(path)
    metadata = _metadata(path, contents)
    kind, dim, degrees = metadata["kind"], metadata["dim"], tuple(metadata["degrees"])
    for key in KIND_KEYS[kind]:
        if key not in contents:
            raise PathMatricesFileError(f"{path}: missing key '{key}' for {kind} path matrices")
    matrix = {"dense": _dense, "sparse": _sparse, "exact": _exact}[kind](path, contents, dim)
    expected = product_paths(degrees)  # after the arrays bound dim: degrees cannot ask for more
    paths = contents["paths"]
    if paths.dtype.kind not in "iu" or paths.shape != (len(expected), len(degrees)):
        raise _error(
            path,
            "paths",
            f"has shape {paths.shape} and dtype {paths.dtype}, expected "
            f"{(len(expected), len(degrees))} integers (the coupling paths of {degrees})",
        )
    if [tuple(row) for row in paths.tolist()] != list(expected):
        raise _error(path, "paths", f"are not the coupling paths of degrees {degrees} in order")
    return PathMatrices(degrees, expected, matrix, metadata["parity"], kind == "exact")


def parse_exact(text: str) -> sympy.Expr:
    """The sympy number ``text`` as :func:`save` writes it: an optional ``-``, a ``*``-product
    of integers and ``sqrt(p)`` or ``sqrt(p/q)``, an optional ``/d``; ValueError otherwise."""
    import sympy

    body = text[1:] if text.startswith("-") else text
    product, slash, denominator = body.rpartition("/")
    if not slash or not _NUMBER.fullmatch(denominator):
        product, denominator = body, "1"
    value = sympy.Integer(-1 if text.startswith("-") else 1)
    for factor in product.split("*"):
        match = _FACTOR.fullmatch(factor)
        if match is None:
            raise ValueError(f"unexpected {factor[:40]!r}")
        integer, numerator, under = match.groups()
        if under is not None and int(under) == 0:
            raise ValueError("division by zero")
        value *= sympy.Integer(int(integer)) if integer else sympy.sqrt(sympy.Rational(int(numerator), int(under or 1)))
    if int(denominator) == 0:
        raise ValueError("division by zero")
    return value / sympy.Integer(int(denominator))


def _error(path: Path, key: str, problem: str) -> PathMatricesFileError:
    return PathMatricesFileError(f"{path}: key {key!r}: {problem}")


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, each checked unread for size first (see :mod:`equitools.safe_npz`)."""
    try:
        archive = open_npz(path)
    except UnsafeNpzError as error:
        raise PathMatricesFileError(f"{path}: {error}") from None
    except READ_ERRORS as error:
        raise PathMatricesFileError(f"{path}: not a readable .npz file ({error})") from None
    contents = {}
    with archive:
        for key in archive.files:
            try:
                contents[key] = read_member(archive, key)
            except UnsafeNpzError as error:
                raise PathMatricesFileError(f"{path}: {error}") from None
            except READ_ERRORS as error:
                raise _error(path, key, f"cannot be read ({error})") from None
            if not isinstance(contents[key], np.ndarray):
                raise _error(path, key, "not a .npy array")
    return contents


def _metadata(path: Path, contents: dict) -> dict:
    """The checked metadata: a JSON object of this format with kind, degrees, dim and parity."""
    for key in ("metadata", "paths"):
        if key not in contents:
            raise PathMatricesFileError(f"{path}: missing key '{key}'")
    try:
        metadata = json.loads(str(contents["metadata"]))
    except (ValueError, RecursionError) as error:  # JSONDecodeError, over-long integers, deep nesting
        raise PathMatricesFileError(f"{path}: key 'metadata' is not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise _error(path, "metadata", f"expected a JSON object, got {type(metadata).__name__}")
    if metadata.get("format") != FORMAT:
        raise _error(path, "metadata", f"has format {metadata.get('format')!r}, expected {FORMAT!r}")
    for field in ("kind", "degrees", "dim", "parity"):
        if field not in metadata:
            raise _error(path, "metadata", f"no field {field!r}")
    kind, degrees, dim, parity = (metadata[k] for k in ("kind", "degrees", "dim", "parity"))
    if kind not in KIND_KEYS:
        raise _error(path, "metadata", f"kind {kind!r} is not one of {', '.join(KIND_KEYS)}")
    if not (isinstance(degrees, list) and degrees and all(_is_int(l) and l >= 0 for l in degrees)):
        raise _error(path, "metadata", f"degrees {degrees!r} is not a list of non-negative integers")
    if not _is_int(dim) or dim != math.prod(2 * l + 1 for l in degrees):
        raise _error(path, "metadata", f"dim {dim!r} does not match degrees {degrees}")
    if not _is_int(parity) or parity not in (1, -1):
        raise _error(path, "metadata", f"parity {parity!r} is not 1 or -1")
    return metadata


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _dense(path: Path, contents: dict, dim: int) -> np.ndarray:
    matrix = contents["matrix"]
    if matrix.dtype.kind != "f" or matrix.shape != (dim, dim):
        raise _error(path, "matrix", f"has shape {matrix.shape} and dtype {matrix.dtype}, expected {(dim, dim)} floats")
    _check_finite(path, "matrix", matrix)
    return matrix


def _sparse(path: Path, contents: dict, dim: int) -> sp.csr_matrix:
    data, indices, indptr = contents["data"], contents["indices"], contents["indptr"]
    for key, array, kinds in (("data", data, "f"), ("indices", indices, "iu"), ("indptr", indptr, "iu")):
        if array.dtype.kind not in kinds:
            raise _error(path, key, f"has dtype {array.dtype}, expected {'floats' if kinds == 'f' else 'integers'}")
    try:
        matrix = sp.csr_matrix((data, indices, indptr), shape=(dim, dim))
        matrix.check_format(full_check=True)
    except ValueError as error:
        raise PathMatricesFileError(
            f"{path}: keys 'data'/'indices'/'indptr' are not a valid CSR matrix ({error})"
        ) from None
    _check_finite(path, "data", data)
    return matrix


def _exact(path: Path, contents: dict, dim: int) -> np.ndarray:
    import sympy

    rows, cols, values = contents["rows"], contents["cols"], contents["values"]
    if values.dtype.kind != "U" or values.ndim != 1 or values.size < dim:
        raise _error(
            path,
            "values",
            f"has shape {values.shape} and dtype {values.dtype}, expected at least "
            f"{dim} strings (a nonzero entry in each of the {dim} rows)",
        )
    for key, index in (("rows", rows), ("cols", cols)):
        if index.dtype.kind not in "iu" or index.shape != values.shape:
            raise _error(
                path, key, f"has shape {index.shape} and dtype {index.dtype}, expected {values.shape} integers"
            )
        outside = np.flatnonzero((index < 0) | (index >= dim))
        if outside.size:
            raise _error(path, key, f"entry {outside[0]}: index {index[outside[0]]} out of range for dimension {dim}")
    matrix = np.full((dim, dim), sympy.Integer(0), dtype=object)
    parsed = {}
    for r, c, text in zip(rows.tolist(), cols.tolist(), values.tolist()):
        if text not in parsed:
            try:
                parsed[text] = parse_exact(text)
            except ValueError as error:
                raise _error(
                    path,
                    "values",
                    f"entry ({r}, {c}): {text[:60]!r} is not an exact value as save writes them ({error})",
                ) from None
        matrix[r, c] = parsed[text]
    return matrix


def _check_finite(path: Path, key: str, array: np.ndarray) -> None:
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        raise _error(path, key, f"NaN or infinite value at index {', '.join(map(str, bad[0]))}")
