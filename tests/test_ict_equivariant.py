from collections import Counter

import numpy as np
import pytest
from e3nn import o3

from equitools.ict import Space, coupling_paths, equivariant_basis
from equitools.testing import assert_close, random_rotation


def multiplicities(n):
    return Counter(p[-1] for p in coupling_paths(n))


def commutant_dimension(source, target, group_elements):
    """Dimension of {X : D_W X = X D_V} by SVD: an independent count of equivariant maps."""
    rows = [
        np.kron(target.representation(g), np.eye(source.dim)) - np.kron(np.eye(target.dim), source.representation(g).T)
        for g in group_elements
    ]
    singular = np.linalg.svd(np.concatenate(rows), compute_uv=False)
    return int(np.sum(singular < 1e-9)) + max(0, target.dim * source.dim - len(singular))


def test_rank4_to_rank4_has_91_maps_fewer_than_105_brauer_diagrams():
    assert len(equivariant_basis(4, 4, "O3")) == 91 < 105


@pytest.mark.parametrize("n,m", [(1, 1), (2, 2), (1, 3), (2, 3), (3, 3), (2, 4), (1, 2)])
@pytest.mark.parametrize("group", ["O3", "SO3"])
def test_basis_size_orthonormality_equivariance_and_completeness(n, m, group):
    basis = equivariant_basis(n, m, group)
    mn, mm = multiplicities(n), multiplicities(m)
    expected = sum(mn[L] * mm[L] for L in mn) if (group == "SO3" or (n - m) % 2 == 0) else 0
    assert len(basis) == expected
    source, target = Space(n), Space(m)
    elements = [random_rotation(1), random_rotation(2)] + ([-random_rotation(3)] if group == "O3" else [])
    assert commutant_dimension(source, target, elements) == expected
    if not expected:
        return
    B = basis.matrices()
    assert B.shape == (expected, 3**m, 3**n)
    assert_close(np.einsum("aij,bij->ab", B, B), np.eye(expected), rtol=0, atol=1e-12, what="Frobenius orthonormal")
    for g in elements:
        assert_close(target.representation(g) @ B, B @ source.representation(g), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "source,target,group",
    [
        ("2x0e+1x1o+1x2e", [1, "1o"], "O3"),
        ([1, "1e"], 2, "SO3"),
        (["1o", "1o"], "0e+1e+2e", "O3"),
        (o3.Irreps("1x1o+1x2e"), [2, "0e"], "O3"),
    ],
)
def test_bases_between_irreps_products_and_direct_sums(source, target, group):
    basis = equivariant_basis(source, target, group)
    V, W = Space(source), Space(target)
    elements = [random_rotation(4), random_rotation(5)] + ([-random_rotation(6)] if group == "O3" else [])
    assert len(basis) == commutant_dimension(V, W, elements) > 0
    B = basis.matrices()
    assert_close(np.einsum("aij,bij->ab", B, B), np.eye(len(basis)), rtol=0, atol=1e-12)
    for g in elements:
        assert_close(W.representation(g) @ B, B @ V.representation(g), rtol=0, atol=1e-12)


def test_space_reduction_is_orthonormal():
    Q, blocks = Space(["1o", "2e", "0e+1o"]).reduction()
    assert_close(Q @ Q.T, np.eye(Q.shape[0]), rtol=0, atol=1e-13)
    assert sum(b[3].stop - b[3].start for b in blocks) == Q.shape[0]


@pytest.mark.parametrize("bad", ["1x", "2x3q", 0, True, ""])
def test_bad_spaces_and_group_are_rejected(bad):
    with pytest.raises(ValueError):
        equivariant_basis(bad, 1)
    with pytest.raises(ValueError, match="group"):
        equivariant_basis(1, 1, group="SU2")
