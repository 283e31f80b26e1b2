"""Matrix-free ICT transforms (``to_irreps``/``from_irreps``) and ``decompose`` through them."""

import numpy as np
import pytest
import torch

import equitools.ict.decomposition as decomposition
from equitools.ict import decompose, decomposition_matrices, from_irreps, path_matrices, to_irreps
from equitools.testing import assert_close, random_orthogonal, random_rotation


def random_tensors(batch, n, seed=0):
    return np.random.default_rng(seed).standard_normal((batch,) + (3,) * n)


def act(R, T, n):
    """The Cartesian action of R on the last n axes of T: every index rotated."""
    for axis in range(T.ndim - n, T.ndim):
        T = np.moveaxis(np.tensordot(R, T, axes=([1], [axis])), 0, axis)
    return T


@pytest.fixture
def route(monkeypatch):
    """``route("dense")`` / ``route("matrix-free")``: force decompose's route at every rank."""

    def set_route(name):
        monkeypatch.setattr(decomposition, "MATRIX_FREE_MIN_RANK", 1 if name == "matrix-free" else 99)

    return set_route


@pytest.mark.parametrize("n", range(1, 8))
def test_to_irreps_equals_the_dense_stack(n):
    T = random_tensors(3, n, seed=n)
    flat = T.reshape(3, -1)
    expected = flat @ path_matrices(n).stacked().T
    assert_close(to_irreps(T, rank=n), expected, rtol=0, atol=1e-12, what=f"rank {n}")
    assert_close(to_irreps(flat, rank=n), expected, rtol=0, atol=1e-12, what=f"rank {n}, flat input")
    assert_close(from_irreps(expected, rank=n), flat, rtol=0, atol=1e-12, what=f"inverse, rank {n}")


def test_to_irreps_equals_the_stack_at_rank_8():
    S = path_matrices(8, sparse=True).stacked()  # equal to the dense stack (tests/test_ict_path_matrices.py)
    T = random_tensors(2, 8).reshape(2, -1)
    coefficients = to_irreps(T, rank=8)
    assert_close(coefficients, (S @ T.T).T, rtol=0, atol=1e-12)
    assert_close(from_irreps(coefficients, rank=8), T, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n, batch", [(9, 3), (10, 2), (11, 2), (12, 1)])
def test_round_trip_and_norms_at_high_rank(n, batch):
    T = random_tensors(batch, n, seed=n)
    coefficients = to_irreps(T, rank=n)
    assert coefficients.shape == (batch, 3**n)
    norms = np.linalg.norm(T.reshape(batch, -1), axis=1)
    assert_close(np.linalg.norm(coefficients, axis=1), norms, rtol=1e-13, atol=0, what="orthogonal")
    assert_close(from_irreps(coefficients, rank=n), T.reshape(batch, -1), rtol=0, atol=1e-12, what="round trip")


def test_single_tensor_and_leading_axes_and_empty_batch():
    T = random_tensors(1, 4)[0]
    c = to_irreps(T, rank=4)
    assert c.shape == (81,)
    assert_close(c, to_irreps(T[None], rank=4)[0], rtol=0, atol=0)
    stacked = np.stack([T, 2 * T, -T]).reshape(3, 1, 3, 3, 3, 3)
    assert to_irreps(stacked, rank=4).shape == (3, 1, 81)
    assert_close(to_irreps(stacked, rank=4)[1, 0], 2 * c, rtol=0, atol=1e-13)
    assert to_irreps(np.zeros((0, 81)), rank=4).shape == (0, 81)
    assert from_irreps(torch.zeros(0, 81), rank=4).shape == (0, 81)
    assert decompose(np.zeros((0,) + (3,) * 7), rank=7, by="weight")[3].shape == (0,) + (3,) * 7


@pytest.mark.parametrize("dtype, atol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_torch_matches_numpy_and_keeps_dtype(dtype, atol):
    T = random_tensors(4, 5)
    c = to_irreps(torch.tensor(T, dtype=dtype), rank=5)
    assert c.dtype == dtype and c.shape == (4, 243)
    assert_close(c, to_irreps(T, rank=5), rtol=0, atol=atol)
    back = from_irreps(c, rank=5)
    assert back.dtype == dtype
    assert_close(back, T.reshape(4, -1), rtol=0, atol=atol)
    assert to_irreps(T.astype(np.float32), rank=5).dtype == np.float64  # numpy: computed in float64


def test_torch_autograd():
    T = torch.randn(2, 27, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: to_irreps(x, rank=3), (T,))
    assert torch.autograd.gradcheck(lambda x: from_irreps(x, rank=3), (T,))
    # the transform is orthogonal: the gradient of |S T|^2 / 2 is T itself
    to_irreps(T, rank=3).pow(2).sum().div(2).backward()
    assert_close(T.grad, T.detach(), rtol=0, atol=1e-13)


def test_decompose_matrix_free_is_differentiable(route):
    route("matrix-free")
    T = torch.randn(2, 3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: decompose(x, rank=3, by="weight")[2], (T,))
    assert torch.autograd.gradcheck(lambda x: decompose(x, rank=3, by="path")[(1, 2, 1)], (T,))


@pytest.mark.parametrize("n", range(1, 7))
def test_isotypic_parts_equal_the_dense_projectors(n, route):
    route("matrix-free")
    T = random_tensors(3, n, seed=10 + n)
    parts = decompose(T, rank=n, by="weight")
    dm = decomposition_matrices(n)
    assert list(parts) == dm.weights
    flat = T.reshape(3, -1)
    for L, part in parts.items():
        assert part.shape == T.shape
        assert_close(part.reshape(3, -1), flat @ dm.weight(L), rtol=0, atol=1e-12, what=f"weight {L}")
    assert_close(sum(parts.values()), T, rtol=0, atol=1e-12, what="parts sum to T")


@pytest.mark.parametrize("n", [3, 5, 7])
@pytest.mark.parametrize("by", ["path", "weight"])
def test_both_routes_agree(n, by, route):
    T = random_tensors(2, n, seed=n)
    route("dense")
    dense = decompose(T, rank=n, by=by)
    route("matrix-free")
    matrix_free = decompose(torch.tensor(T) if n < 7 else T, rank=n, by=by)  # torch: slow with 393 paths
    assert list(dense) == list(matrix_free)
    for key in dense:
        assert_close(matrix_free[key], dense[key], rtol=0, atol=1e-12, what=f"{by} {key}")


def test_the_route_is_chosen_by_rank(monkeypatch):
    dense_ranks = []
    original = decomposition._path_matrices
    monkeypatch.setattr(decomposition, "_path_matrices", lambda n: dense_ranks.append(n) or original(n))
    for n in (6, 7):
        parts = decompose(random_tensors(1, n), rank=n, by="weight")
        assert len(parts) == n + 1
    assert dense_ranks == [6]  # rank 7 (MATRIX_FREE_MIN_RANK) and above never build the dense stack


@pytest.mark.parametrize("n", [10, 12])
def test_isotypic_parts_at_high_rank_sum_to_T_and_are_orthogonal(n):
    T = random_tensors(2, n, seed=n)
    parts = decompose(T, rank=n, by="weight")
    assert list(parts) == list(range(n + 1))
    assert_close(sum(parts.values()), T, rtol=0, atol=1e-12, what="sum")
    flat = np.stack([part.reshape(2, -1) for part in parts.values()])  # (L, batch, 3^n)
    gram = np.einsum("abi,cbi->bac", flat, flat)
    for b in range(2):
        assert_close(gram[b], np.diag(np.diag(gram[b])), rtol=0, atol=1e-11, what="mutually orthogonal")
    # the multiplicities of the weights: a random tensor has every weight present
    assert (np.diag(gram[0]) > 1e-3).all()


def test_isotypic_parts_are_equivariant_at_rank_10():
    n = 10
    T = random_tensors(2, n, seed=3)
    parts = decompose(T, rank=n, by="weight")
    for Q in (random_rotation(5), random_orthogonal(6)):
        rotated = decompose(act(Q, T, n), rank=n, by="weight")
        for L, part in parts.items():
            assert_close(rotated[L], act(Q, part, n), rtol=0, atol=1e-12, what=f"weight {L}")


def test_bad_input_is_rejected():
    for rank in (0, -1, 2.0, True, None):
        with pytest.raises(ValueError, match="rank must be a positive integer"):
            to_irreps(np.zeros((2, 9)), rank=rank)
        with pytest.raises(ValueError, match="rank must be a positive integer"):
            from_irreps(np.zeros((2, 9)), rank=rank)
    with pytest.raises(ValueError, match=r"tensor must have shape \(\.\.\., 27\) or \(\.\.\., 3, 3, 3\).*\(2, 9\)"):
        to_irreps(np.zeros((2, 9)), rank=3)
    with pytest.raises(ValueError, match=r"coefficients must have shape \(\.\.\., 9\).*\(3, 3\)"):
        from_irreps(np.zeros((3, 3)), rank=2)
    with pytest.raises(ValueError, match="floating-point torch tensor"):
        to_irreps(torch.zeros(2, 9, dtype=torch.long), rank=2)
    with pytest.raises(ValueError, match="trailing shape"):
        decompose(np.zeros((2, 3, 3, 4)), rank=7)
