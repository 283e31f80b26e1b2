import types

import numpy as np
import pytest
import torch

from equitools.ict import decompose, decomposition_matrices, path_matrices
from equitools.testing import assert_close, kron_power, random_rotation


@pytest.mark.parametrize("n", range(1, 6))
def test_projectors_sum_to_identity_are_idempotent_orthogonal_and_commute(n):
    dm = decomposition_matrices(n)
    projectors = dict(dm)
    assert_close(sum(projectors.values()), np.eye(3**n), rtol=0, atol=1e-13, what="completeness")
    action = kron_power(random_rotation(n), n)
    improper = kron_power(-random_rotation(n + 7), n)  # a rotation times the inversion
    first = next(iter(projectors.values()))
    for path, P in projectors.items():
        assert_close(P @ P, P, rtol=0, atol=1e-13, what=f"idempotent {path}")
        assert_close(P @ action, action @ P, rtol=0, atol=1e-12, what=f"commutes {path}")
        assert_close(P @ improper, improper @ P, rtol=0, atol=1e-12, what=f"commutes with inversion {path}")
        if P is not first:
            assert_close(P @ first, np.zeros_like(P), rtol=0, atol=1e-13)
        assert round(np.trace(P)) == 2 * path[-1] + 1


def test_weight_projector_is_sum_of_its_paths_and_iteration_is_lazy():
    dm = decomposition_matrices(4)
    for L in dm.weights:
        total = sum(dm[p] for p in dm.paths if p[-1] == L)
        assert_close(dm.weight(L), total, rtol=0, atol=1e-13)
    assert isinstance(iter(dm), types.GeneratorType)
    assert len(dm) == 19


def test_sparse_decomposition_matrices_match_dense():
    sparse, dense = decomposition_matrices(4, sparse=True), decomposition_matrices(4)
    assert abs(sparse[(1, 2, 2, 2)] - dense[(1, 2, 2, 2)]).max() < 1e-15


@pytest.mark.parametrize("n", [2, 3, 4])
def test_decompose_numpy_batch_sums_back_and_parts_rotate(n):
    rng = np.random.default_rng(n)
    T = rng.standard_normal((4, 2) + (3,) * n)
    parts = decompose(T, rank=n)
    assert set(parts) == set(path_matrices(n).paths)
    assert_close(sum(parts.values()), T, rtol=0, atol=1e-13)
    R = random_rotation(n + 1)

    def rotate(x):
        return (x.reshape(8, -1) @ kron_power(R, n).T).reshape(x.shape)

    rotated_parts = decompose(rotate(T), rank=n)
    for path, part in parts.items():
        assert_close(rotated_parts[path], rotate(part), rtol=0, atol=1e-12, what=f"part {path} is equivariant")
    by_weight = decompose(T, rank=n, by="weight")
    for L, part in by_weight.items():
        assert_close(part, sum(v for p, v in parts.items() if p[-1] == L), rtol=0, atol=1e-13)


def test_decompose_torch_keeps_dtype_device_and_gradients():
    T = torch.randn(5, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    parts = decompose(T, rank=3)
    total = sum(parts.values())
    assert total.dtype == torch.float64
    assert torch.allclose(total, T, atol=1e-13)
    parts[(1, 2, 3)].pow(2).sum().backward()
    assert T.grad is not None and torch.isfinite(T.grad).all()


def test_decompose_rejects_bad_shapes():
    with pytest.raises(ValueError, match="trailing shape"):
        decompose(np.zeros((3, 4)), rank=2)
    with pytest.raises(ValueError, match="trailing shape"):
        decompose(np.zeros((3, 3)), rank=3)
    with pytest.raises(ValueError, match="by must be"):
        decompose(np.zeros((3, 3)), by="l")
