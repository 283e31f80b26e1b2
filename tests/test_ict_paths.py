import pytest

from equitools.ict import coupling_paths, irreps_string, product_paths


@pytest.mark.parametrize("n,count", list(enumerate([1, 3, 7, 19, 51, 141, 393, 1107, 3139], start=1)))
def test_number_of_coupling_paths(n, count):
    assert len(coupling_paths(n)) == count


@pytest.mark.parametrize("n", range(1, 8))
def test_paths_follow_the_parentage_scheme_in_documented_order(n):
    paths = coupling_paths(n)
    assert len(set(paths)) == len(paths)
    for p in paths:
        assert p[0] == 1 and len(p) == n
        assert all(abs(a - 1) <= b <= a + 1 for a, b in zip(p, p[1:]))
    assert list(paths) == sorted(paths, key=lambda p: p[::-1])


def test_general_product_paths_and_irreps_string():
    assert product_paths((2, 1)) == ((2, 1), (2, 2), (2, 3))
    assert product_paths((1, 1, 2))[:3] == ((1, 2, 0), (1, 1, 1), (1, 2, 1))
    assert irreps_string(coupling_paths(4)) == "3x0e+6x1e+6x2e+3x3e+1x4e"
    assert irreps_string(coupling_paths(3), parity=-1) == "1x0o+3x1o+2x2o+1x3o"


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "3"])
def test_bad_rank_is_rejected(bad):
    with pytest.raises(ValueError, match="rank"):
        coupling_paths(bad)


def test_bad_degrees_are_rejected():
    with pytest.raises(ValueError):
        product_paths((1, -1))
    with pytest.raises(ValueError, match="at least one"):
        product_paths(())
