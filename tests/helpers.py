"""Small helpers shared by several test modules (torch side)."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: one thread avoids thread start-up and contention costs on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_float64(*shape, seed=0):
    """A reproducible standard-normal float64 tensor."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def float64(make):
    """Build a module with float64 buffers (as ``models.build(..., dtype="float64")`` does)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return make()
    finally:
        torch.set_default_dtype(previous)


def finite_difference_forces(energy, atoms, h=1e-5):
    """-∂E/∂positions ``(n_atoms, 3)`` by central differences of ``energy(atoms) -> float``
    (ASE ``Atoms``; each displaced copy keeps ``atoms.calc``)."""
    import numpy as np

    numeric = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for d in range(3):
            for sign in (1, -1):
                moved = atoms.copy()
                moved.calc = atoms.calc
                moved.positions[i, d] += sign * h
                numeric[i, d] -= sign * energy(moved) / (2 * h)
    return numeric
