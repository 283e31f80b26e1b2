"""``so3.Irreps``: parsing, layout, the representation D(R), selection rules, e3nn interop."""

import numpy as np
import pytest
import torch
from e3nn import o3
from helpers import float64

from equitools.so3 import Irrep, Irreps, allowed, check_group, wigner_D
from equitools.testing import assert_close, random_orthogonal, random_rotation

MIXED = "2x0e+1x1o+3x2e+1x0o+2x3o+1x1e"


def block_diagonal(blocks):
    out = np.zeros((sum(b.shape[0] for b in blocks),) * 2)
    at = 0
    for b in blocks:
        out[at : at + b.shape[0], at : at + b.shape[0]] = b
        at += b.shape[0]
    return out


# -- parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec,canonical",
    [
        ("8x0e+8x1o+4x2e", "8x0e+8x1o+4x2e"),
        (" 1o + 2 x 2e ", "1x1o+2x2e"),
        ("0e+1y+2y+3y", "1x0e+1x1o+1x2e+1x3o"),
        ("", ""),
        ("0x1o+1x0e", "0x1o+1x0e"),
        ([(2, (1, -1)), (1, "2e"), Irrep("0o"), "3x1e"], "2x1o+1x2e+1x0o+3x1e"),
        (Irrep("2e"), "1x2e"),
        (Irreps("1x1o"), "1x1o"),
        (o3.Irreps("2x0e+1x1o"), "2x0e+1x1o"),
    ],
)
def test_parsing_and_canonical_string(spec, canonical):
    irreps = Irreps(spec)
    assert str(irreps) == repr(irreps) == canonical
    assert Irreps(str(irreps)) == irreps


@pytest.mark.parametrize(
    "bad",
    [
        "1x",
        "2x3q",
        "1o+",
        "x1o",
        "-1o",
        "1.5x1o",
        "1ox",
        0,
        2.0,
        True,
        None,
        [(1, -1)],
        [(-1, "1o")],
        [(True, "1o")],
        [("a", "1o")],
        [3],
    ],
)
def test_bad_irreps_are_a_value_error_that_shows_the_input(bad):
    with pytest.raises(ValueError, match="irrep|multiplicit|parity|non-negative"):
        Irreps(bad)


@pytest.mark.parametrize("bad", ["1x1o", "1", "o", "-1e", (1, 0), (-1, 1), (1, True), 3])
def test_bad_irrep(bad):
    with pytest.raises(ValueError):
        Irrep(bad)


def test_irrep_forms_and_products():
    assert Irrep("1o") == Irrep(1, -1) == Irrep((1, -1)) == Irrep(o3.Irrep("1o")) == (1, -1)
    assert Irrep("2y").p == 1 and Irrep("3y").p == -1 and Irrep("3e").dim == 7
    assert Irrep("1o") * Irrep("2e") == (Irrep("1o"), Irrep("2o"), Irrep("3o"))
    names = ("1e", "0e", "2o", "1o", "0o")
    assert [str(ir) for ir in sorted(map(Irrep, names))] == [str(ir) for ir in sorted(map(o3.Irrep, names))]


# -- sizes and layout -------------------------------------------------------------------------
def test_sizes_blocks_and_slices():
    irreps = Irreps(MIXED)
    assert len(irreps) == 6 and irreps.num_irreps == 10 and irreps.lmax == 3
    assert irreps.dim == 2 * 1 + 3 + 3 * 5 + 1 + 2 * 7 + 3 == 38
    assert [(mul, ir.l, ir.p) for mul, ir in irreps] == [
        (2, 0, 1),
        (1, 1, -1),
        (3, 2, 1),
        (1, 0, -1),
        (2, 3, -1),
        (1, 1, 1),
    ]
    assert irreps[2].mul == 3 and irreps[2].ir == Irrep("2e") and irreps[2].dim == 15
    assert irreps[1:3] == Irreps("1o+3x2e")
    slices = irreps.slices()
    assert [(s.start, s.stop) for s in slices] == [(0, 2), (2, 5), (5, 20), (20, 21), (21, 35), (35, 38)]
    degrees = irreps.degree_index()
    assert degrees.dtype == np.int64 and degrees.shape == (38,)
    for (_, ir), s in zip(irreps, slices):
        assert (degrees[s] == ir.l).all()
    assert Irreps.spherical_harmonics(3).degree_index().tolist() == [0] + [1] * 3 + [2] * 5 + [3] * 7


def test_empty_irreps():
    empty = Irreps("")
    assert empty.dim == 0 and len(empty) == 0 and empty.slices() == [] and empty.degree_index().shape == (0,)
    assert empty.D(random_rotation(0)).shape == (0, 0)
    with pytest.raises(ValueError, match="lmax"):
        _ = empty.lmax


def test_equality_hash_and_concatenation():
    a = Irreps("2x0e+1x1o")
    assert a == Irreps([(2, "0e"), (1, "1o")]) and hash(a) == hash(Irreps("2x0e+1x1o"))
    assert a != Irreps("1x1o+2x0e") and a != Irreps("2x0e+1x1e") and a != "2x0e+1x1o"
    assert {a: 1}[Irreps("2x0e + 1o")] == 1
    assert a + "3x2e" == a + Irreps("3x2e") == Irreps("2x0e+1x1o+3x2e")
    assert "1x0o" + a == Irreps("0o+2x0e+1o")
    assert a == a.to_e3nn() and a.to_e3nn() == a and hash(a) == hash(a.to_e3nn())


def test_sort_like_e3nn():
    irreps = Irreps("1x1e+2x0o+1x1o+3x0e+1x1e")
    ours, theirs = irreps.sort(), o3.Irreps(str(irreps)).sort()
    assert ours.irreps == theirs.irreps
    assert tuple(ours.p) == tuple(theirs.p) and tuple(ours.inv) == tuple(theirs.inv)
    assert [irreps[k] for k in ours.inv] == list(ours.irreps)


def test_spherical_harmonics_irreps():
    assert Irreps.spherical_harmonics(3) == o3.Irreps.spherical_harmonics(3)
    assert Irreps.spherical_harmonics(2, p=1) == o3.Irreps.spherical_harmonics(2, p=1)
    with pytest.raises(ValueError):
        Irreps.spherical_harmonics(-1)


# -- groups and selection rules --------------------------------------------------------------
def test_group_spelling():
    assert check_group("O(3)") == "O(3)" and check_group("SO(3)") == "SO(3)"
    assert check_group("O3") == "O(3)" and check_group("SO3") == "SO(3)"  # the older spelling, read as the same
    for bad in ("SU(2)", "o3", None):
        with pytest.raises(ValueError, match="group"):
            check_group(bad)


@pytest.mark.parametrize("l1,l2", [(0, 0), (1, 1), (1, 2), (2, 3), (3, 3)])
def test_selection_rules_o3_and_so3(l1, l2):
    for p1 in (1, -1):
        for p2 in (1, -1):
            ir1, ir2 = Irrep(l1, p1), Irrep(l2, p2)
            for l3 in range(8):
                for p3 in (1, -1):
                    triangle = abs(l1 - l2) <= l3 <= l1 + l2
                    assert allowed(ir1, ir2, (l3, p3), "SO(3)") == triangle
                    assert allowed(ir1, ir2, (l3, p3)) == (triangle and p3 == p1 * p2)
                    assert (
                        allowed(ir1, ir2, (l3, p3))
                        == (Irrep(l3, p3) in ir1 * ir2)
                        == (o3.Irrep(l3, p3) in o3.Irrep(ir1) * o3.Irrep(ir2))
                    )


def test_so3_selects_paths_that_o3_forbids():
    """The cross product 1o x 1o -> 1o: an SO(3) path only (the O(3) one is 1e)."""
    assert allowed("1o", "1o", "1e") and not allowed("1o", "1o", "1o") and allowed("1o", "1o", "1o", "SO(3)")
    o3_paths = [
        (a, b, c)
        for a in ("1o", "2e")
        for b in ("1o", "2e")
        for c in ("0e", "1o", "1e", "2e", "3o")
        if allowed(a, b, c)
    ]
    so3_paths = [
        (a, b, c)
        for a in ("1o", "2e")
        for b in ("1o", "2e")
        for c in ("0e", "1o", "1e", "2e", "3o")
        if allowed(a, b, c, "SO(3)")
    ]
    assert set(o3_paths) < set(so3_paths) and ("1o", "1o", "1o") in so3_paths


# -- the representation -------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [MIXED, "1x0e", "4x1o", "1x5e+2x6o"])
def test_D_is_an_orthogonal_homomorphism(spec):
    irreps = Irreps(spec)
    for g1, g2 in (
        (random_rotation(1), random_rotation(2)),
        (random_orthogonal(3), random_rotation(4)),
        (random_orthogonal(5), random_orthogonal(6)),
    ):
        d1, d2 = irreps.D(g1), irreps.D(g2)
        assert d1.shape == (irreps.dim, irreps.dim) and d1.dtype == np.float64
        assert_close(d1 @ d1.T, np.eye(irreps.dim), rtol=0, atol=1e-12)
        assert_close(irreps.D(g1 @ g2), d1 @ d2, rtol=0, atol=1e-12, what="D(R1 R2) = D(R1) D(R2)")
    assert_close(irreps.D(np.eye(3)), np.eye(irreps.dim), rtol=0, atol=1e-14)


def test_D_is_the_block_diagonal_of_wigner_D_with_parity():
    irreps = Irreps(MIXED)
    R = random_rotation(7)
    expected = block_diagonal([wigner_D(ir.l, R) for mul, ir in irreps for _ in range(mul)])
    assert_close(irreps.D(R), expected, rtol=0, atol=1e-14)
    improper = -R
    expected = block_diagonal([ir.p * wigner_D(ir.l, R) for mul, ir in irreps for _ in range(mul)])
    assert_close(irreps.D(improper), expected, rtol=0, atol=1e-14, what="D(-R) = p D(R) per irrep")


def test_parity_under_inversion():
    D = Irreps("1x0e+1x0o+1x1o+1x1e+1x2e+1x2o").D(-np.eye(3))
    assert_close(np.diag(D), [1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1], rtol=0, atol=1e-14)
    assert_close(D, np.diag(np.diag(D)), rtol=0, atol=1e-14)


def test_D_batched_numpy_equals_torch_and_autograd():
    irreps = Irreps(MIXED)
    Rs = np.concatenate([random_rotation(8, count=3), -random_rotation(9, count=2)])
    d = irreps.D(Rs)
    assert d.shape == (5, irreps.dim, irreps.dim)
    for k in range(5):
        assert_close(d[k], irreps.D(Rs[k]), rtol=0, atol=1e-15)
    R = torch.tensor(Rs, requires_grad=True)
    t = irreps.D(R)
    assert t.dtype == torch.float64 and t.shape == d.shape
    assert_close(t, d, rtol=0, atol=1e-14, what="torch == numpy (float64)")
    t.square().sum().backward()
    assert torch.isfinite(R.grad).all()
    t32 = irreps.D(R.detach().float())
    assert t32.dtype == torch.float32
    assert_close(t32, d, rtol=0, atol=1e-5, what="torch float32")


# -- e3nn interop --------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [MIXED, "8x0e+8x1o+4x2e", "1x0o+3x4e+2x5o"])
def test_e3nn_round_trip_string_layout_and_D(spec):
    irreps = Irreps(spec)
    theirs = irreps.to_e3nn()
    assert isinstance(theirs, o3.Irreps) and str(theirs) == str(irreps)
    assert Irreps.from_e3nn(theirs) == irreps == Irreps(theirs)
    assert theirs.dim == irreps.dim and theirs.slices() == irreps.slices()
    # the flat layout is e3nn's: the same D acts on the same components (e3nn's D_from_matrix
    # makes some constants in the default dtype: float64 for a float64 comparison)
    for R in (torch.tensor(random_rotation(10)), torch.tensor(random_orthogonal(11))):
        ref = float64(lambda R=R: theirs.D_from_matrix(R))
        assert_close(irreps.D(R.numpy()), ref, rtol=0, atol=1e-10, what="numpy D == e3nn Irreps.D_from_matrix")
        assert_close(irreps.D(R), ref, rtol=0, atol=1e-10, what="torch D == e3nn Irreps.D_from_matrix")


def test_spherical_harmonics_features_transform_with_D_like_e3nn():
    irreps = Irreps.spherical_harmonics(4)
    v = torch.randn(6, 3, dtype=torch.float64)
    R = torch.tensor(random_orthogonal(13))
    sh = o3.spherical_harmonics(irreps.to_e3nn(), v, normalize=True)  # an e3nn feature, used as is
    assert_close(
        o3.spherical_harmonics(irreps.to_e3nn(), v @ R.T, normalize=True), sh @ irreps.D(R).T, rtol=0, atol=1e-12
    )
