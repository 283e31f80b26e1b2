"""Splits: counts and fractions, seeds, disjointness, index files."""

import numpy as np
import pytest
import torch

from equitools.data import embedded, random_split, read_index_file, split_dataset
from equitools.data.splits import split_sizes


def test_split_sizes():
    assert split_sizes(1000, (950, 50)) == [950, 50]
    assert split_sizes(1000, (800, 100)) == [800, 100]  # the rest is unused
    assert split_sizes(1000, (100, None)) == [100, 900]
    assert split_sizes(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert split_sizes(7, (0.5, 0.5)) == [3, 4]  # fractions adding to 1 use every item
    assert split_sizes(7, (0.5, 0.25)) == [3, 1]
    with pytest.raises(ValueError, match="need 1001 items"):
        split_sizes(1000, (950, 51))
    with pytest.raises(ValueError, match="all as fractions"):
        split_sizes(1000, (950, 0.05))
    with pytest.raises(ValueError, match="> 1"):
        split_sizes(10, (0.8, 0.3))
    with pytest.raises(ValueError, match="at most one"):
        split_sizes(10, (None, None))
    with pytest.raises(ValueError, match="negative"):
        split_sizes(10, (-1, 5))


def test_random_split_is_disjoint_and_seeded():
    a, b, c = random_split(1000, (700, 200, None), seed=3)
    assert (len(a), len(b), len(c)) == (700, 200, 100)
    union = torch.cat([a, b, c])
    assert sorted(union.tolist()) == list(range(1000))
    again = random_split(1000, (700, 200, None), seed=3)
    assert all(torch.equal(x, y) for x, y in zip((a, b, c), again))
    other = random_split(1000, (700, 200, None), seed=4)
    assert not torch.equal(a, other[0])


def test_split_dataset_views_share_frames():
    ds = embedded(use_cache=False)
    train, valid = split_dataset(ds, (950, 50), seed=0)
    assert len(train) == 950 and len(valid) == 50
    assert not set(train.indices.tolist()) & set(valid.indices.tolist())
    k = int(valid.indices[7])
    assert torch.equal(valid[7].pos, ds[k].pos) and float(valid[7].energy) == float(ds[k].energy)
    assert torch.equal(valid.energies, ds.energies[valid.indices])
    # a view of a view indexes into its parent
    sub = valid[[7, 0]]
    assert sub.indices.tolist() == [k, int(valid.indices[0])]


def test_read_index_file(tmp_path):
    path = tmp_path / "index_train_01.csv"
    path.write_text("5\n3\n\n99\n")
    assert read_index_file(path, 100).tolist() == [5, 3, 99]
    np.savetxt(path, np.arange(10), fmt="%d")
    assert read_index_file(path).tolist() == list(range(10))


def test_views_masks_and_in_place_transforms():
    ds = embedded(use_cache=False)
    low = ds.energies < ds.energies.median()
    assert len(ds[low]) == int(low.sum()) and bool((ds[low].energies < ds.energies.median()).all())
    assert len(ds[10:20]) == 10 and torch.equal(ds[10:20][0].pos, ds[10].pos)
    assert torch.equal(ds[-1].pos, ds[999].pos)
    with pytest.raises(IndexError):
        ds[1000]
    with pytest.raises(IndexError, match="boolean mask"):
        ds[torch.ones(3, dtype=torch.bool)]
    before = ds[5].pos.clone()

    def shift(data):
        data.pos += 1.0  # an in-place augmentation must not reach the stored frames
        return data

    ds.transform = shift
    assert torch.allclose(ds[5].pos, before + 1.0)
    ds.transform = None
    assert torch.equal(ds[5].pos, before)
