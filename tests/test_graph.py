import numpy as np
import pytest
import torch

from equitools.nn.graph import radius_graph


def brute_force(pos, cutoff, batch):
    pairs = set()
    for i in range(len(pos)):
        for j in range(len(pos)):
            if i != j and batch[i] == batch[j] and np.linalg.norm(pos[i] - pos[j]) < cutoff:
                pairs.add((j, i))
    return pairs


def test_radius_graph_equals_brute_force_on_a_batch():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 4, (23, 3))
    batch = np.repeat([0, 1, 2, 3], [5, 1, 9, 8])
    edges = radius_graph(torch.tensor(pos), 2.0, torch.tensor(batch))
    assert set(map(tuple, edges.T.tolist())) == brute_force(pos, 2.0, batch)
    assert edges.shape[1] == len(brute_force(pos, 2.0, batch))


def test_radius_graph_single_atom_and_empty():
    assert radius_graph(torch.zeros(1, 3), 5.0).shape == (2, 0)
    assert radius_graph(torch.zeros(0, 3), 5.0).shape == (2, 0)
    assert radius_graph(torch.zeros(2, 3), 5.0, loop=True).shape == (2, 4)


def test_radius_graph_rejects_unsorted_batch_and_bad_shape():
    with pytest.raises(ValueError, match="sorted"):
        radius_graph(torch.zeros(3, 3), 1.0, torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="shape"):
        radius_graph(torch.zeros(3, 2), 1.0)
