"""Bases of index-symmetric Cartesian tensors (equitools.ict.reduced) against e3nn's
ReducedTensorProducts, and their use as spaces of equivariant maps."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from e3nn import o3
from helpers import float64

from equitools.ict import Space, equivariant_basis, reduced_basis
from equitools.ict.reduced import MAX_RANK, _irreducible_rows, _orbit_basis, _parse
from equitools.so3 import Irreps
from equitools.testing import assert_close, random_orthogonal, random_rotation

ELASTICITY = "ijkl=jikl=ijlk=klij"
PIEZO = "ijk=ikj"


def fully_symmetric(n):
    """Adjacent transpositions of n letters: they generate every permutation."""
    letters = "abcdefghij"[:n]
    swaps = [letters[:k] + letters[k + 1] + letters[k] + letters[k + 2 :] for k in range(n - 1)]
    return "=".join([letters] + swaps)


def rotate(T, R, n):
    """R acting on each of the last n indices of T (the Cartesian action, without kron(R, …))."""
    for axis in range(T.ndim - n, T.ndim):
        T = np.moveaxis(np.tensordot(T, R, axes=([axis], [1])), -1, axis)
    return T


def projector(rows):
    """Orthogonal projector onto the span of ``rows`` (orthonormalised first)."""
    q, _ = np.linalg.qr(rows.T)
    return q @ q.T


def degrees(irreps):
    return Irreps(irreps).degree_index()


def terms(formula):
    """``(sign, term)`` per term: T[first] = sign · T[term]."""
    parts = formula.split("=")
    return parts[0], [(-1 if t.startswith("-") else 1, t.lstrip("-")) for t in parts[1:]]


@pytest.mark.parametrize(
    "formula",
    ["ij=ji", "ij=-ji", PIEZO, ELASTICITY, "ijk=-jik=-ikj", fully_symmetric(3), fully_symmetric(4), fully_symmetric(5)],
)
def test_irreps_and_subspace_per_degree_agree_with_e3nn(formula):
    ours = reduced_basis(formula)
    letters = formula.split("=")[0]
    theirs = float64(lambda: o3.ReducedTensorProducts(formula, **{c: "1o" for c in letters}))
    assert ours.irreps == str(theirs.irreps_out.simplify())
    Q = theirs.change_of_basis.detach().numpy().reshape(theirs.irreps_out.dim, 3 ** len(letters))
    S, ours_l, theirs_l = ours.stacked(), degrees(ours.irreps), Irreps.from_e3nn(theirs.irreps_out).degree_index()
    for L in sorted(set(ours_l.tolist())):
        assert_close(projector(S[ours_l == L]), projector(Q[theirs_l == L]), rtol=0, atol=1e-10, what=f"L={L}")


@pytest.mark.parametrize(
    "formula,dim",
    [(ELASTICITY, 21), (PIEZO, 18), ("ij=ji", 6), ("ij=-ji", 3), ("ijk", 27)]
    + [(fully_symmetric(n), (n + 1) * (n + 2) // 2) for n in (2, 3, 4, 5, 6, 8)],
)
def test_dimension_orthonormality_and_index_symmetry(formula, dim):
    basis = reduced_basis(formula)
    S = basis.stacked()
    n = len(formula.split("=")[0])
    assert (basis.dim, basis.rank, S.shape, Irreps(basis.irreps).dim) == (dim, n, (dim, 3**n), dim)
    assert_close(S @ S.T, np.eye(dim), rtol=0, atol=1e-13, what="orthonormal rows")
    first, others = terms(formula)
    rows = S.reshape((dim,) + (3,) * n)
    for sign, term in others:  # every row satisfies T[first] = sign · T[term]
        assert_close(rows, sign * np.einsum(f"...{term}->...{first}", rows), rtol=0, atol=1e-13, what=term)


@pytest.mark.parametrize("formula", ["ij=ji", ELASTICITY, PIEZO, "ijkl=jikl", "ijk=-ikj"])
def test_the_subspace_is_every_solution_of_the_constraints(formula):
    """An independent count: the null space of the stacked constraints (I - s·permutation)."""
    first, others = terms(formula)
    n = len(first)
    identity = np.eye(3**n).reshape((3**n,) + (3,) * n)
    constraints = [identity - s * np.einsum(f"...{t}->...{first}", identity) for s, t in others]
    singular = np.linalg.svd(np.concatenate([c.reshape(3**n, 3**n) for c in constraints]), compute_uv=False)
    assert reduced_basis(formula).dim == int(np.sum(singular < 1e-9))


@pytest.mark.parametrize("formula", ["ij=ji", "ij=-ji", PIEZO, ELASTICITY, "ijk=-jik=-ikj", fully_symmetric(8)])
def test_rows_of_degree_l_transform_with_wigner_d(formula):
    basis = reduced_basis(formula)
    n = basis.rank
    coefficients = np.random.default_rng(0).standard_normal((3, basis.dim))
    tensors = basis.reconstruct(coefficients)
    for R in [random_rotation(1), random_rotation(2), random_orthogonal(3), np.diag([1.0, 1.0, -1.0])]:
        rotated = rotate(tensors, R, n)
        expected = coefficients @ Irreps(basis.irreps).D(R).T
        assert_close(basis.decompose(rotated), expected, rtol=0, atol=1e-12, what=f"det {np.linalg.det(R):+.0f}")
        assert_close(basis.reconstruct(expected), rotated, rtol=0, atol=1e-12, what="stays in the subspace")


def test_rank8_fully_symmetric_basis():
    basis = reduced_basis(fully_symmetric(8))
    assert basis.irreps == "1x0e+1x2e+1x4e+1x6e+1x8e"
    S = basis.stacked()
    rows = S.reshape((45,) + (3,) * 8)
    assert_close(rows, np.einsum("...abcdefgh->...hgfedcba", rows), rtol=0, atol=1e-13, what="reversed indices")
    trace = np.einsum("zaabcdefg->zbcdefg", rows).reshape(45, -1)  # only the degree-0..6 rows have a trace
    assert np.abs(trace[degrees(basis.irreps) == 8]).max() < 1e-13 < np.abs(trace[degrees(basis.irreps) == 6]).max()


def test_decompose_is_the_signed_symmetrisation_and_reconstruct_inverts_it():
    T = np.random.default_rng(1).standard_normal((4, 3, 3, 3, 3))
    group = ["ijkl", "jikl", "ijlk", "jilk", "klij", "lkij", "klji", "lkji"]  # the elasticity group, 8 elements
    symmetrised = sum(np.einsum(f"z{g}->zijkl", T) for g in group) / 8
    basis = reduced_basis(ELASTICITY)
    c = basis.decompose(T)
    assert c.shape == (4, 21)
    assert_close(basis.reconstruct(c), symmetrised, rtol=0, atol=1e-13, what="projection = symmetrisation")
    assert_close(basis.decompose(basis.reconstruct(c)), c, rtol=0, atol=1e-13, what="round trip")
    M, antisymmetric = T[0, 0, 0], reduced_basis("ij=-ji")
    assert_close(antisymmetric.reconstruct(antisymmetric.decompose(M)), (M - M.T) / 2, rtol=0, what="ij=-ji")


@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-13), (torch.float32, 1e-5)])
def test_torch_inputs_keep_their_dtype_and_match_numpy(dtype, tolerance):
    basis = reduced_basis(PIEZO)
    T = np.random.default_rng(2).standard_normal((5, 3, 3, 3))
    c = basis.decompose(torch.tensor(T, dtype=dtype))
    back = basis.reconstruct(c)
    assert (c.dtype, back.dtype, tuple(back.shape)) == (dtype, dtype, (5, 3, 3, 3))
    assert_close(c, basis.decompose(T), rtol=0, atol=tolerance)
    assert_close(back, basis.reconstruct(basis.decompose(T)), rtol=0, atol=tolerance)


def test_levi_civita_is_the_fully_antisymmetric_rank3_tensor():
    basis = reduced_basis("ijk=-jik=-ikj")
    epsilon = np.zeros((3, 3, 3))
    for (i, j, k), sign in zip(itertools.permutations(range(3)), [1, -1, -1, 1, 1, -1]):
        epsilon[i, j, k] = sign
    assert basis.irreps == "1x0o"
    assert_close(np.abs(basis.stacked() @ epsilon.reshape(-1)), [np.sqrt(6)], rtol=1e-14)


def test_an_empty_subspace_has_no_rows_and_no_maps():
    basis = reduced_basis("ijkl=-jikl=-ikjl=-ijlk")  # fully antisymmetric rank 4 vanishes in 3D
    assert (basis.dim, basis.irreps, basis.stacked().shape) == (0, "", (0, 81))
    with pytest.raises(ValueError, match="empty"):
        equivariant_basis(basis, 4)


def test_the_basis_does_not_depend_on_how_the_generators_are_written():
    a, b = reduced_basis(ELASTICITY), reduced_basis("ijkl = klij = ijlk = jikl")
    assert b.formula == "ijkl = klij = ijlk = jikl"
    assert np.array_equal(a.stacked(), b.stacked()) and a.irreps == b.irreps


@pytest.mark.parametrize("formula", [ELASTICITY, PIEZO])
def test_the_irrep_copies_depend_on_the_subspace_only(formula):
    """Any orthonormal basis of the subspace (here: the orbit sums mixed by a random rotation of
    R^dim) gives the same rows, also where a degree has several copies."""
    n, generators = _parse(formula)
    orbit_rows = _orbit_basis(n, generators)
    mix, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((orbit_rows.shape[0],) * 2))
    rows, counts = _irreducible_rows(n, orbit_rows)
    mixed_rows, mixed_counts = _irreducible_rows(n, sp.csr_matrix(mix @ orbit_rows.toarray()))
    assert counts == mixed_counts and max(copies for copies, _ in counts) == 2
    assert_close(mixed_rows, rows, rtol=0, atol=1e-12)


def test_cached_and_stacked_returns_a_copy():
    basis = reduced_basis(ELASTICITY)
    assert reduced_basis(ELASTICITY) is basis
    rows = basis.stacked()
    rows[:] = 0
    assert np.abs(basis.stacked()).max() > 0


def equivariance_checks(basis, source, target):
    """Orthonormal maps that commute with the group, vanish off the source subspace and land in the
    target subspace; their number is the commutant dimension of the restricted representations."""
    B = basis.matrices()
    assert_close(np.einsum("aij,bij->ab", B, B), np.eye(len(basis)), rtol=0, atol=1e-12)
    Qv, _ = source.reduction()
    Qw, _ = target.reduction()
    assert_close(B @ Qv.T @ Qv, B, rtol=0, atol=1e-12, what="vanishes off the source")
    assert_close(Qw.T @ Qw @ B, B, rtol=0, atol=1e-12, what="lands in the target")
    elements = [random_rotation(7), random_rotation(8)] + ([random_orthogonal(9)] if basis.group == "O(3)" else [])
    for g in elements:
        assert_close(target.representation(g) @ B, B @ source.representation(g), rtol=0, atol=1e-12)
    rows = []
    for g in elements:
        dv, dw = Qv @ source.representation(g) @ Qv.T, Qw @ target.representation(g) @ Qw.T
        rows.append(np.kron(dw, np.eye(len(dv))) - np.kron(np.eye(len(dw)), dv.T))
    singular = np.linalg.svd(np.concatenate(rows), compute_uv=False)
    assert len(basis) == int(np.sum(singular < 1e-9))


def test_elasticity_equivariant_basis_between_reduced_spaces():
    strain, stiffness = reduced_basis("ij=ji"), reduced_basis(ELASTICITY)
    basis = equivariant_basis(strain, stiffness)
    assert len(basis) == 4  # 0e: 1 x 2 copies, 2e: 1 x 2 copies
    assert basis.matrices().shape == (4, 81, 9)
    equivariance_checks(basis, Space(strain), Space(stiffness))


def test_isotropic_stiffness_is_spanned_by_lame_tensors():
    strain = reduced_basis("ij=ji")
    basis = equivariant_basis(strain, strain)
    equivariance_checks(basis, Space(strain), Space(strain))
    d = np.eye(3)
    lame = [np.einsum("ij,kl->ijkl", d, d), np.einsum("ik,jl->ijkl", d, d) + np.einsum("il,jk->ijkl", d, d)]
    lame = np.stack([t.reshape(-1) for t in lame])
    assert_close(projector(basis.matrices().reshape(2, -1)), projector(lame), rtol=0, atol=1e-12)


def test_so3_admits_the_axial_vector_map_that_o3_forbids():
    axial = reduced_basis("ij=-ji")  # 1e
    assert len(equivariant_basis(axial, 1)) == 0
    basis = equivariant_basis(axial, 1, group="SO(3)")
    equivariance_checks(basis, Space(axial), Space(1))
    assert len(basis) == 1


def test_a_reduced_space_inside_a_tensor_product():
    """[symmetric pair] ⊗ vector is the same subspace of rank-3 tensors as "ijk=jik"."""
    product, direct = [reduced_basis("ij=ji"), 1], reduced_basis("ijk=jik")
    a, b = equivariant_basis(product, 1), equivariant_basis(direct, 1)
    assert len(a) == len(b) == 2  # (0e + 2e) ⊗ 1o holds 1o twice
    equivariance_checks(a, Space(product), Space(1))
    assert_close(projector(a.matrices().reshape(2, -1)), projector(b.matrices().reshape(2, -1)), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "formula,message",
    [
        ("", "is not a signed run"),
        ("ij=", "is not a signed run"),
        ("ij=j i", "is not a signed run"),
        ("i1=1i", "is not a signed run"),
        ("ij=jk", "not a permutation"),
        ("ij=jii", "not a permutation"),
        ("-ij=ji", "first term"),
        ("iij=iji", "repeats"),
        ("abcdefghijk", f"above the supported {MAX_RANK}"),
        ("abcdefghi", "entries supported"),
    ],
)
def test_malformed_formulas_are_named_in_the_error(formula, message):
    with pytest.raises(ValueError, match=message) as error:
        reduced_basis(formula)
    assert repr(formula.strip()) in str(error.value) or repr(formula) in str(error.value)


@pytest.mark.parametrize("formula", [3, None, ["ij=ji"]])
def test_a_formula_must_be_a_string(formula):
    with pytest.raises(ValueError, match="formula must be a string"):
        reduced_basis(formula)


def test_bad_shapes_are_rejected():
    basis = reduced_basis("ij=ji")
    with pytest.raises(ValueError, match=r"trailing shape \(3, 3\)"):
        basis.decompose(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="last axis 6"):
        basis.reconstruct(np.zeros((2, 5)))
