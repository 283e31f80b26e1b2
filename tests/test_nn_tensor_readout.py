"""TensorReadout: equivariance (rank 1, symmetric and general rank 2, symmetric rank 3), index
symmetry of the output, reconstruction of Σ r ⊗ r from atomic features, batching and errors."""

import numpy as np
import pytest
import torch

from equitools.nn import TensorReadout
from equitools.so3 import Irreps, spherical_harmonics
from equitools.testing import assert_close, kron_power, random_orthogonal, random_rotation

IRREPS = "1x0e+1x1o+1x2e+1x3o"


def _random(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize(
    "rank, symmetry, irreps_out",
    [
        (1, None, "1x1o"),  # a dipole
        (2, "ij=ji", "1x0e+1x2e"),  # a polarisability
        (2, None, "1x0e+1x1e+1x2e"),  # a general rank-2 tensor
        (3, "ijk=jik=ikj", "1x1o+1x3o"),  # a fully symmetric rank-3 tensor
    ],
)
def test_equivariant_and_symmetric(rank, symmetry, irreps_out):
    readout = TensorReadout(IRREPS, channels=4, rank=rank, symmetry=symmetry).double()
    assert readout.irreps_out == irreps_out and readout.rank == rank
    x, batch = _random(7, 16, 4), torch.tensor([0, 0, 0, 1, 1, 1, 1])
    y = readout(x, batch)
    assert y.shape == (2, 3**rank) and y.abs().max() > 0.1
    for R in (random_rotation(1), random_orthogonal(2)):
        D = torch.as_tensor(Irreps(IRREPS).D(R))
        expected = y @ torch.as_tensor(kron_power(R, rank)).T
        assert_close(readout(D @ x, batch), expected, rtol=1e-10, what=f"rank {rank} {symmetry}")
    T = y.view((2,) + (3,) * rank)
    if symmetry == "ij=ji":
        assert_close(T, T.transpose(1, 2), atol=1e-14, what="symmetric")
    if symmetry == "ijk=jik=ikj":
        for perm in [(0, 2, 1, 3), (0, 1, 3, 2), (0, 3, 2, 1)]:
            assert_close(T, T.permute(perm), atol=1e-14, what=f"symmetric under {perm}")
    if rank == 2 and symmetry is None:
        # a polar rank-2 tensor read from 0e+1o+2e features has no antisymmetric (1e) part under O(3) ...
        assert_close(T, T.transpose(1, 2), atol=1e-14, what="no 1e source")
        # ... but it has one under SO(3), where the 1o features reach the antisymmetric part
        so3 = TensorReadout(IRREPS, channels=4, rank=2, group="SO(3)").double()
        S = so3(x, batch).view(2, 3, 3)
        assert (S - S.transpose(1, 2)).abs().max() > 0.1
        R = random_rotation(3)
        D = torch.as_tensor(Irreps(IRREPS).D(R))
        assert_close(so3(D @ x, batch), so3(x, batch) @ torch.as_tensor(kron_power(R, 2)).T, rtol=1e-10, what="SO(3)")


def test_equivariant_float32():
    readout = TensorReadout(IRREPS, channels=4, symmetry="ijk=jik=ikj")
    x, batch = _random(7, 16, 4, dtype=torch.float32), torch.tensor([0, 0, 1, 1, 1, 2, 2])
    y = readout(x, batch)
    assert y.dtype == torch.float32
    R = random_orthogonal(5)
    D = torch.as_tensor(Irreps(IRREPS).D(R), dtype=torch.float32)
    expected = y @ torch.as_tensor(kron_power(R, 3), dtype=torch.float32).T
    assert_close(readout(D @ x, batch), expected, rtol=1e-5, atol=1e-6, what="float32")


def _structures(count: int, seed: int):
    """Random structures of 3-8 atoms: positions relative to each centroid and the batch index."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 9, size=count)
    pos = rng.normal(scale=1.5, size=(int(sizes.sum()), 3))
    batch = np.repeat(np.arange(count), sizes)
    centroid = np.stack([pos[batch == s].mean(0) for s in range(count)])
    return torch.from_numpy(pos - centroid[batch]), torch.from_numpy(batch)


def _features(r: torch.Tensor) -> torch.Tensor:
    """Per atom, irreps 0e+1o+2e, two channels: the solid harmonics |r|^l Y_l(r̂) and |r|^2 times them."""
    solid = spherical_harmonics(range(3), r, normalize=False)  # (N, 9), homogeneous polynomials
    return torch.stack([solid, solid * (r * r).sum(-1, keepdim=True)], dim=-1)


def _target(r, batch, count, traceless):
    outer = r[:, :, None] * r[:, None, :]
    if traceless:
        outer = outer - torch.eye(3, dtype=r.dtype) * (r * r).sum(-1)[:, None, None] / 3
    return torch.zeros(count, 3, 3, dtype=r.dtype).index_add(0, batch, outer).reshape(count, 9)


def _fit(readout, x, batch, count, target):
    """Closed-form least squares for the weights: the output is linear in them."""
    weight = readout.linear.weight
    columns = []
    with torch.no_grad():
        for k in range(weight.numel()):
            weight.zero_()
            weight.view(-1)[k] = 1.0
            columns.append(readout(x, batch, count).reshape(-1))
        solution = torch.linalg.lstsq(torch.stack(columns, dim=1), target.reshape(-1, 1)).solution
        weight.copy_(solution.view_as(weight))


@pytest.mark.parametrize("symmetry", ["ij=ji", None])
@pytest.mark.parametrize("traceless", [False, True])
def test_reconstructs_the_sum_of_outer_products(symmetry, traceless):
    """Σ_i r_i ⊗ r_i is exactly representable: its l = 0 part is |r|^2 / √3 (the trace row), and
    its l = 2 part is proportional to the degree-2 solid harmonic |r|^2 Y_2(r̂) (the path matrix
    (1, 2) couples r with r by the same CG tensor that defines Y_2), both linear in the features;
    its l = 1 (antisymmetric) part is zero. A sum over atoms of linear maps is what the readout
    computes, so two weights fit it to rounding on any structure, held out or not."""
    readout = TensorReadout("1x0e+1x1o+1x2e", channels=2, rank=2, symmetry=symmetry).double()
    r, batch = _structures(12, seed=0)
    _fit(readout, _features(r), batch, 12, _target(r, batch, 12, traceless))
    r_test, batch_test = _structures(20, seed=1)
    expected = _target(r_test, batch_test, 20, traceless)
    with torch.no_grad():
        predicted = readout(_features(r_test), batch_test)
    assert float((predicted - expected).abs().max()) < 1e-6  # entries are O(10) Å^2
    assert_close(predicted, expected, rtol=1e-9, what="held-out Σ r ⊗ r")


def test_batching_and_atom_order():
    readout = TensorReadout(IRREPS, channels=3, symmetry="ij=ji").double()
    x, batch = _random(9, 16, 3, seed=4), torch.tensor([0, 0, 1, 1, 1, 1, 2, 2, 2])
    y = readout(x, batch, num_graphs=4)  # a fourth, empty structure
    assert y.shape == (4, 9)
    for s in range(3):
        assert_close(readout(x[batch == s]), y[s : s + 1], atol=1e-14, what=f"structure {s}")
    assert torch.all(y[3] == 0)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(0))
    assert_close(readout(x[perm], batch[perm], num_graphs=4), y, atol=1e-13, what="atom order")


def test_gradients_reach_features_and_weights():
    readout = TensorReadout("1x0e+1x2e", channels=2, symmetry="ij=ji").double()
    x = _random(3, 6, 2).requires_grad_()
    readout(x).square().sum().backward()
    assert x.grad.abs().sum() > 0 and readout.linear.weight.grad.abs().min() > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"symmetry": "ij=jk"}, "not a permutation"),
        ({"symmetry": "ij=-ij"}, "no nonzero tensor"),
        ({"symmetry": 3}, "formula"),
        ({"rank": 3, "symmetry": "ij=ji"}, "does not match"),
        ({}, "give rank"),
        ({"rank": 0}, "rank"),
        ({"rank": 2.0}, "rank"),
        ({"rank": 1, "irreps_in": "1x0e+1x2e"}, "no O\\(3\\)-equivariant"),
        ({"rank": 1, "irreps_in": "1x0e+1x1o+"}, "irreps_in"),
        ({"rank": 1, "channels": 0}, "channels"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs = {"irreps_in": IRREPS, "channels": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        TensorReadout(**kwargs)


def test_bad_inputs():
    readout = TensorReadout(IRREPS, channels=2, rank=1)
    with pytest.raises(ValueError, match=r"expected \(N, 16, 2\)"):
        readout(torch.randn(3, 9, 2))
    with pytest.raises(ValueError, match=r"expected \(N, 16, 2\)"):
        readout(torch.randn(16, 2))
    with pytest.raises(ValueError, match="batch"):
        readout(torch.randn(3, 16, 2), batch=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="batch"):
        readout(torch.randn(3, 16, 2), batch=torch.zeros(3))
