"""numpy/torch dispatch for the few so3 functions that accept either (torch imported lazily)."""

from __future__ import annotations

import numpy as np


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


def einsum(equation: str, *operands):
    """``einsum`` of numpy arrays or of torch tensors."""
    if is_torch(operands[0]):
        import torch

        return torch.einsum(equation, *operands)
    return np.einsum(equation, *operands, optimize=True)
