"""TensorNet's compact I/A/S layout is the ICT core's: its basis is the stack of the rank-2 path
matrices (``equitools.ict.path_matrices(2)``), its parts are ``ict.decompose(T, rank=2)``'s and
the paper's (Simeon & De Fabritiis, NeurIPS 2023, Sec. 3.1), and the model's numbers do not
depend on the orthonormal basis chosen within each part (the hand-written basis it replaced gives
the same energies and forces)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import float64, random_float64

from equitools.ict import decompose, path_matrices
from equitools.models import build
from equitools.nn.tensornet import ICT_PATHS, PARTS, CompactTensors
from equitools.testing import assert_close

S2, S3, S6 = 2**0.5, 3**0.5, 6**0.5
# the compact basis TensorNet used before the ICT core (rows: flattened 3×3 basis matrices):
# I = 1/√3; A = [e_x]_×, [e_y]_×, [e_z]_× over √2; S = xy, xz, yz, (xx - yy)/√2, (xx + yy - 2zz)/√6
_ROWS = {0: (0, 4, 8), 1: (7, 5), 2: (2, 6), 3: (3, 1), 4: (1, 3), 5: (2, 6), 6: (5, 7), 7: (0, 4), 8: (0, 4, 8)}
_VALUES = {
    0: (1 / S3,) * 3,
    1: (1 / S2, -1 / S2),
    2: (1 / S2, -1 / S2),
    3: (1 / S2, -1 / S2),
    4: (1 / S2,) * 2,
    5: (1 / S2,) * 2,
    6: (1 / S2,) * 2,
    7: (1 / S2, -1 / S2),
    8: (1 / S6, 1 / S6, -2 / S6),
}
HAND_WRITTEN = np.zeros((9, 9))
for row, columns in _ROWS.items():
    HAND_WRITTEN[row, list(columns)] = _VALUES[row]

# HAND_WRITTEN = RELATION @ ICT: identity on I and A; on S (ICT rows xz, xy, (2yy - xx - zz)/√6,
# yz, (zz - xx)/√2: e3nn's l = 2 with y the polar axis) a signed permutation of the first three
# and a rotation by 150° in the plane of the last two (the old basis had z as the polar axis)
RELATION = np.zeros((9, 9))
RELATION[:4, :4] = np.eye(4)
RELATION[4, 5] = RELATION[5, 4] = RELATION[6, 7] = 1.0
RELATION[7:, [6, 8]] = [[-S3 / 2, -1 / 2], [1 / 2, -S3 / 2]]


def paper_parts(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The paper's I = (tr X / 3) 1, A = (X - Xᵀ)/2, S = (X + Xᵀ)/2 - I of ``(..., 3, 3)``."""
    I = X.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None] / 3 * torch.eye(3, dtype=X.dtype)
    return I, (X - X.transpose(-2, -1)) / 2, (X + X.transpose(-2, -1)) / 2 - I


def test_the_compact_basis_is_the_stack_of_the_ict_path_matrices():
    pm = path_matrices(2)
    assert pm.paths == ICT_PATHS and tuple(2 * path[-1] + 1 for path in ICT_PATHS) == PARTS
    ops = float64(CompactTensors)
    np.testing.assert_array_equal(ops.to_compact.numpy(), pm.stacked())
    np.testing.assert_array_equal(ops.to_full.numpy(), pm.stacked().T)


def test_the_hand_written_basis_is_the_documented_change_of_the_ict_basis():
    assert np.allclose(RELATION @ RELATION.T, np.eye(9), atol=1e-15) and np.isclose(
        np.linalg.det(RELATION[7:, [6, 8]]), 1
    )
    np.testing.assert_allclose(HAND_WRITTEN, RELATION @ path_matrices(2).array(), atol=1e-15)


def test_compact_parts_are_the_ict_and_the_paper_parts():
    ops = float64(CompactTensors)
    X = random_float64(6, 3, 3, seed=1)
    compact = ops.compact(X.unsqueeze(-1))  # (6, 9, 1)
    ict = decompose(X, rank=2)
    offsets = np.cumsum((0,) + PARTS)
    for k, (path, paper) in enumerate(zip(ICT_PATHS, paper_parts(X))):
        only = torch.zeros_like(compact)
        only[:, offsets[k] : offsets[k + 1]] = compact[:, offsets[k] : offsets[k + 1]]
        part = ops.full(only)[..., 0]
        assert_close(part, ict[path], atol=1e-14, what=f"compact part {path} vs ict.decompose")
        assert_close(part, paper, atol=1e-14, what=f"compact part {path} vs the paper's formula")


@pytest.mark.parametrize("group", ["O(3)", "SO(3)"])
@pytest.mark.parametrize("basis", ["hand-written", "random within each part"])
def test_tensornet_numbers_do_not_depend_on_the_basis_within_each_part(group, basis):
    torch.manual_seed(0)
    model = build(
        {
            "model": "tensornet",
            "hidden_channels": 4,
            "num_layers": 2,
            "num_rbf": 6,
            "cutoff": 4.0,
            "equivariance_group": group,
            "dtype": "float64",
        }
    )
    z = torch.tensor([8, 1, 1, 6, 7])
    pos = 1.3 * random_float64(5, 3, seed=2)
    before = model.compute(z, pos)
    if basis == "hand-written":
        change = RELATION
    else:
        rng = np.random.default_rng(3)
        change = np.zeros((9, 9))
        for a, b in zip(np.cumsum((0,) + PARTS)[:-1], np.cumsum(PARTS)):
            change[a:b, a:b] = np.linalg.qr(rng.normal(size=(b - a, b - a)))[0]
    new = torch.as_tensor(change @ path_matrices(2).array())
    for ops in (m for m in model.modules() if isinstance(m, CompactTensors)):
        ops.to_compact, ops.to_full = new.clone(), new.t().contiguous()
    after = model.compute(z, pos)
    assert not torch.equal(new, float64(CompactTensors).to_compact)
    assert_close(after["energy"], before["energy"], rtol=1e-13, atol=1e-13, what=f"energy, {basis} basis")
    assert_close(after["forces"], before["forces"], rtol=1e-12, atol=1e-13, what=f"forces, {basis} basis")
