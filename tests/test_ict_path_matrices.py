import numpy as np
import pytest
import scipy.sparse as sp
import sympy
import torch
from e3nn import o3

from equitools.ict import path_matrices, product_path_matrices
from equitools.ict.verify import verify
from equitools.so3 import wigner_D
from equitools.testing import assert_close, kron_power, random_rotation


@pytest.mark.parametrize("n", range(1, 8))
def test_stack_is_orthonormal_change_of_basis(n):
    s = path_matrices(n).stacked()
    assert s.shape == (3**n, 3**n)
    assert_close(s @ s.T, np.eye(3**n), rtol=0, atol=1e-13, what=f"S S^T rank {n}")


@pytest.mark.parametrize("n", range(1, 6))
def test_each_path_block_is_equivariant_for_rotations_and_inversion(n):
    pm = path_matrices(n)
    for seed, sign in ((n, 1.0), (n + 10, -1.0)):
        R = sign * random_rotation(seed)
        action = kron_power(R, n)
        for path in pm.paths:
            P = pm[path]
            D = sign**n * wigner_D(path[-1], sign * R)  # parity (-1)^n
            assert_close(P @ action, D @ P, rtol=0, atol=1e-12, what=f"path {path}")


def test_flattening_convention_matches_kron_first_index_slowest():
    R = random_rotation(0)
    T = np.random.default_rng(1).standard_normal((3, 3, 3))
    rotated = np.einsum("ai,bj,ck,ijk->abc", R, R, R, T)
    assert_close(kron_power(R, 3) @ T.reshape(-1), rotated.reshape(-1), rtol=0, atol=1e-13)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0])
    trace_row = path_matrices(2)[(1, 0)]
    assert_close(trace_row @ np.kron(a, b), [a @ b / np.sqrt(3)], rtol=0, atol=1e-14)
    assert_close(path_matrices(1)[(1,)], np.eye(3), rtol=0, atol=0)  # l = 1 basis is (x, y, z)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_each_block_carries_irrep_L_by_its_character(n):
    pm = path_matrices(n)
    axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    for theta in (0.7, 2.1):
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        R = np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K
        action = kron_power(R, n)
        for path in pm.paths:
            L = path[-1]
            P = pm[path]
            character = np.trace(P @ action @ P.T)
            assert abs(character - np.sin((L + 0.5) * theta) / np.sin(theta / 2)) < 1e-11


@pytest.mark.parametrize("n", range(1, 7))
def test_multiplicities_equal_e3nn_reduced_tensor_products(n):
    indices = "ijklmn"[:n]
    rtp = o3.ReducedTensorProducts(indices, **{c: "1o" for c in indices})
    assert str(rtp.irreps_out.simplify()) == path_matrices(n).irreps


def test_rank_2_reproduces_trace_antisymmetric_symmetric_traceless():
    pm = path_matrices(2)
    T = np.random.default_rng(3).standard_normal((3, 3))
    parts = {p: (pm[p].T @ pm[p] @ T.reshape(-1)).reshape(3, 3) for p in pm.paths}
    trace = np.trace(T) / 3 * np.eye(3)
    assert_close(parts[(1, 0)], trace, rtol=0, atol=1e-14)
    assert_close(parts[(1, 1)], (T - T.T) / 2, rtol=0, atol=1e-14)
    assert_close(parts[(1, 2)], (T + T.T) / 2 - trace, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n", [2, 3])
def test_exact_stack_is_exactly_orthonormal(n):
    pm = path_matrices(n, exact=True)
    s = pm.stacked()
    assert isinstance(s, sympy.ImmutableMatrix)
    product = (s * s.T).applyfunc(sympy.nsimplify)
    assert product == sympy.eye(3**n)


@pytest.mark.parametrize("n", [4, 5])
def test_exact_matches_float_and_zero_pattern(n):
    exact = path_matrices(n, exact=True)
    numeric = path_matrices(n).stacked()
    assert_close(exact.array(), numeric, rtol=0, atol=1e-14)
    exact_nonzero = np.array([[v != 0 for v in row] for row in exact._matrix])
    assert np.array_equal(exact_nonzero, numeric != 0), "float zero pattern differs from the exact one"


def test_sparse_and_float32_match_dense():
    dense = path_matrices(6).stacked()
    sparse = path_matrices(6, sparse=True)
    assert sp.issparse(sparse.stacked()) and sparse.stacked().has_sorted_indices
    assert abs(sparse.stacked() - dense).max() == 0.0
    assert sparse.stacked().nnz == np.count_nonzero(dense)
    assert sp.issparse(sparse[(1, 2, 2, 2, 2, 3)])
    single = path_matrices(6, dtype=np.float32).stacked()
    assert single.dtype == np.float32
    assert_close(single, dense, rtol=0, atol=1e-7)


def test_rank_8_subset_is_orthonormal_and_equivariant():
    pm = path_matrices(8)
    [errors] = verify(pm, [-random_rotation(8)])
    assert errors["rows_checked"] >= 120
    assert max(errors["orthonormality"], errors["equivariance"], errors["completeness"]) < 1e-11
    assert 0.12 < np.count_nonzero(pm.stacked()) / 3**16 < 0.15  # about 13% nonzero


def test_item_access_rows_and_errors():
    pm = path_matrices(4)
    assert pm[(1, 2, 3, 4)].shape == (9, 81)
    assert pm.rows((1, 0, 1, 0)) == slice(0, 1)
    assert pm.weight_rows(4) == slice(81 - 9, 81)
    with pytest.raises(KeyError, match="not a coupling path"):
        pm[(1, 2, 2, 9)]
    with pytest.raises(ValueError, match="rank"):
        path_matrices(0)
    with pytest.raises(ValueError, match="dtype"):
        path_matrices(3, dtype=np.int64)
    with pytest.raises(ValueError, match="sparse"):
        path_matrices(3, exact=True, sparse=True)


def test_product_of_general_irreps_is_orthonormal_and_equivariant():
    pm = product_path_matrices((2, 1, 3), parities=(1, -1, 1))
    assert pm.parity == -1 and pm.dim == 5 * 3 * 7
    s = pm.stacked()
    assert_close(s @ s.T, np.eye(pm.dim), rtol=0, atol=1e-13)
    R = random_rotation(5)
    action = np.kron(np.kron(wigner_D(2, R), wigner_D(1, R)), wigner_D(3, R))
    for path in pm.paths:
        assert_close(pm[path] @ action, wigner_D(path[-1], R) @ pm[path], rtol=0, atol=1e-12)


def test_wigner_D_torch_consistent_with_path_blocks():
    pm = path_matrices(3)
    R = random_rotation(9)
    D = wigner_D(3, torch.tensor(R)).numpy()
    assert_close(pm[(1, 2, 3)] @ kron_power(R, 3), D @ pm[(1, 2, 3)], rtol=0, atol=1e-12)
