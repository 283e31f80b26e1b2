"""Neighbour graphs: molecules through radius_graph, periodic systems through vesin, against ASE."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list
from data_helpers import shared
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from equitools.data import ExtXYZ, RadiusGraph, edge_vectors, embedded
from equitools.nn.graph import radius_graph


def as_data(atoms: Atoms) -> Data:
    return Data(
        pos=torch.tensor(atoms.positions),
        z=torch.tensor(atoms.numbers),
        cell=torch.tensor(atoms.cell.array)[None],
        pbc=torch.tensor(atoms.pbc)[None],
    )


def ase_edges(atoms: Atoms, cutoff: float) -> set:
    """(source, target, rounded edge vector) from ASE's neighbour list, in our convention."""
    i, j, vec = neighbor_list("ijD", atoms, cutoff)
    return {(int(b), int(a), *np.round(v, 6)) for a, b, v in zip(i, j, vec)}


def our_edges(data: Data) -> set:
    vec = edge_vectors(data).detach().numpy()
    return {(int(s), int(t), *np.round(v, 6)) for (s, t), v in zip(data.edge_index.T.tolist(), vec)}


@pytest.mark.parametrize("cutoff", [2.6, 4.0])
def test_periodic_graph_equals_ase(cutoff):
    crystal = bulk("Si", cubic=True).repeat((2, 2, 1))
    crystal.rattle(0.05, seed=2)
    g = RadiusGraph(cutoff)(as_data(crystal))
    assert g.cell_shift.dtype == torch.long and g.cell_shift.abs().max() > 0
    assert our_edges(g) == ase_edges(crystal, cutoff)
    assert float(edge_vectors(g).norm(dim=1).max()) < cutoff


def test_small_cell_and_mixed_periodicity():
    copper = bulk("Cu", "fcc", a=3.6)  # one atom; every neighbour is a periodic image of itself
    g = RadiusGraph(3.0)(as_data(copper))
    assert g.edge_index.shape[1] == 12 and bool((g.edge_index[0] == g.edge_index[1]).all())
    assert our_edges(g) == ase_edges(copper, 3.0)
    slab = bulk("Si", cubic=True).repeat((2, 2, 2))
    slab.pbc = [True, True, False]
    assert our_edges(RadiusGraph(3.0)(as_data(slab))) == ase_edges(slab, 3.0)


def test_periodic_batch_offsets_and_loops():
    a, b = bulk("Si", cubic=True), bulk("Cu", "fcc", a=3.6, cubic=True)
    batch = Batch.from_data_list([as_data(a), as_data(b)])
    g = RadiusGraph(2.9)(batch)
    single = [RadiusGraph(2.9)(as_data(x)) for x in (a, b)]
    assert g.edge_index.shape[1] == sum(s.edge_index.shape[1] for s in single)
    assert torch.equal(g.edge_index[:, single[0].edge_index.shape[1] :], single[1].edge_index + len(a))
    assert torch.allclose(edge_vectors(g), torch.cat([edge_vectors(s) for s in single]))
    looped = RadiusGraph(2.9, loop=True)(as_data(a))
    assert looped.edge_index.shape[1] == single[0].edge_index.shape[1] + len(a)


def test_molecule_batches_use_the_vectorised_graph():
    ds = embedded(use_cache=False)
    batch = next(iter(DataLoader(ds, batch_size=16)))
    g = RadiusGraph(2.0)(batch.clone())
    assert torch.equal(g.edge_index, radius_graph(batch.pos, 2.0, batch.batch))
    per_frame = [RadiusGraph(2.0)(ds[k]) for k in range(16)]
    assert g.edge_index.shape[1] == sum(d.edge_index.shape[1] for d in per_frame)
    # as a dataset transform: graphs are built per frame and batch correctly
    ds.transform = RadiusGraph(2.0)
    assert next(iter(DataLoader(ds, batch_size=16))).edge_index.shape == g.edge_index.shape


def test_non_periodic_cell_gives_zero_shifts_and_matches_ase():
    mol = molecule("CH3CH2OH")
    g = RadiusGraph(2.5)(as_data(mol))  # cell zero, pbc False: radius_graph, cell_shift zeros
    assert g.cell_shift.shape == (g.edge_index.shape[1], 3) and not g.cell_shift.any()
    assert our_edges(g) == ase_edges(mol, 2.5)


def test_edge_set_is_invariant_under_rotation_and_translation():
    ds = ExtXYZ(shared("extxyz", "3bpa_train_300K.xyz"), use_cache=False, dtype=torch.float64)
    d = ds[0]
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    moved = d.clone()
    moved.pos = d.pos @ q.T + torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    a, b = RadiusGraph(4.0)(d.clone()), RadiusGraph(4.0)(moved)
    assert set(map(tuple, a.edge_index.T.tolist())) == set(map(tuple, b.edge_index.T.tolist()))
    assert torch.allclose(edge_vectors(a) @ q.T, edge_vectors(b), atol=1e-10)


def test_periodic_without_cell_and_bad_cutoff_are_rejected():
    with pytest.raises(ValueError, match="needs a cell"):
        RadiusGraph(3.0)(Data(pos=torch.zeros(2, 3), pbc=torch.tensor([[True, True, True]])))
    with pytest.raises(ValueError, match="positive"):
        RadiusGraph(0.0)
