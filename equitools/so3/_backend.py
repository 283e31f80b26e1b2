"""numpy/torch dispatch for the few so3 functions that accept either (torch imported lazily)."""

from __future__ import annotations

import sys
from functools import cache

import numpy as np

_TORCH_TABLES: dict = {}  # (make's name, args, dtype, device) -> tensor: constant tables, one copy each


def is_torch(x) -> bool:
    """True if ``x`` is a torch tensor (without importing torch when it is not loaded)."""
    return type(x).__module__.startswith("torch")


def like(array: np.ndarray, reference):
    """``array`` as the same kind (numpy, or torch with dtype/device) as ``reference``."""
    if is_torch(reference):
        import torch

        # torch.tensor copies: the cached algebra arrays are read-only, which torch warns about
        return torch.tensor(array, dtype=reference.dtype, device=reference.device)
    return np.asarray(array, dtype=np.result_type(reference.dtype, np.float64))


def table(make, *args, reference):
    """The constant table ``make(*args)`` (a cached numpy array) as the kind of ``reference``.

    For torch the tensor is made once per (make, args, dtype, device) and kept, so that a call
    copies nothing from numpy and ``torch.compile`` traces a constant. Once dynamo is loaded the
    table is made through ``torch.compiler.disable`` (so the numpy algebra runs eagerly, never
    traced, even when first asked for inside a compiled region); before that nothing can be
    compiling, and the plain call spares the seconds that importing dynamo takes.
    """
    if not is_torch(reference):
        return like(make(*args), reference)
    key = (f"{make.__module__}.{make.__qualname__}", args, reference.dtype, reference.device)
    out = _TORCH_TABLES.get(key)
    if out is None:
        store = _eager_store() if "torch._dynamo" in sys.modules else _store
        out = store(key, make, args, reference)
    return out


@cache
def _eager_store():
    """:func:`_store` behind ``torch.compiler.disable`` (made once)."""
    import torch

    return torch.compiler.disable(_store)


def _store(key: tuple, make, args: tuple, reference):
    out = _TORCH_TABLES[key] = like(make(*args), reference)
    return out


def einsum(equation: str, *operands):
    """``einsum`` of numpy arrays or of torch tensors."""
    if is_torch(operands[0]):
        import torch

        return torch.einsum(equation, *operands)
    return np.einsum(equation, *operands, optimize=True)


def concatenate(arrays: list):
    """Concatenate numpy arrays or torch tensors along the last axis."""
    if is_torch(arrays[0]):
        import torch

        return torch.cat(arrays, dim=-1)
    return np.concatenate(arrays, axis=-1)


def sign_det(R):
    """Sign of the determinant of ``R (..., 3, 3)``: ``(...)``, the kind of R (float)."""
    if is_torch(R):
        import torch

        return torch.sign(torch.linalg.det(R))
    return np.sign(np.linalg.det(np.asarray(R, dtype=np.result_type(R.dtype, np.float64))))


def zeros(shape: tuple, reference):
    """Zeros of ``shape`` of the kind of ``reference`` (float64 or wider for numpy)."""
    if is_torch(reference):
        return reference.new_zeros(shape)
    return np.zeros(shape, dtype=np.result_type(reference.dtype, np.float64))
