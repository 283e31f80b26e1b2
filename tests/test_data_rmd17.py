"""rMD17 on the real files: counts, units, official splits, the release layout."""

import numpy as np
import pytest
import torch
from ase import units
from data_helpers import shared

from equitools.data import RMD17, official_split, read_rmd17
from equitools.data.rmd17 import MOLECULES

KCAL = units.kcal / units.mol


@pytest.fixture
def aspirin(tmp_path):
    return RMD17(shared("rmd17"), "aspirin", "train", cache_dir=tmp_path)


def test_aspirin_counts_and_units(aspirin):
    raw = np.load(shared("rmd17", "rmd17_aspirin_train_01.npz"))
    assert len(aspirin) == 1000
    d = aspirin[0]
    assert d.z.dtype == torch.long and d.z.tolist() == raw["nuclear_charges"].tolist()
    assert d.pos.shape == (21, 3) and d.forces.shape == (21, 3) and d.energy.shape == (1,)
    # kcal/mol -> eV: an aspirin total energy is about -17,618 eV (-406,274 kcal/mol)
    assert -17700 < float(d.energy) < -17500
    assert float(d.energy) == pytest.approx(raw["energies"][0] * KCAL, abs=1e-9)
    assert torch.allclose(aspirin[999].forces.double(), torch.tensor(raw["forces"][999] * KCAL), atol=1e-5)
    assert torch.allclose(aspirin[-1].pos.double(), torch.tensor(raw["coords"][-1]), atol=1e-5)
    assert aspirin.metadata["units"] == {"pos": "Å", "energy": "eV", "forces": "eV/Å"}


def test_aspirin_forces_sum_to_zero(aspirin):
    net = torch.stack([aspirin[i].forces.double().sum(0) for i in range(0, 1000, 37)])
    mean_norm = torch.stack([aspirin[i].forces.norm(dim=1).mean() for i in range(0, 1000, 37)])
    assert float(net.norm(dim=1).max()) < 1e-4  # eV/Å, against forces of ~1 eV/Å
    assert float(mean_norm.min()) > 0.1


def test_train_and_test_are_disjoint(tmp_path):
    for molecule in ("aspirin", "ethanol"):
        train = np.load(shared("rmd17", f"rmd17_{molecule}_train_01.npz"))["old_indices"]
        test = np.load(shared("rmd17", f"rmd17_{molecule}_test_01.npz"))["old_indices"]
        assert len(set(train)) == 1000 and len(set(test)) == 1000
        assert not set(train) & set(test)
    tr = RMD17(shared("rmd17"), "ethanol", "train", cache_dir=tmp_path)
    te = RMD17(shared("rmd17"), "ethanol", "test", cache_dir=tmp_path)
    assert not {tuple(p) for p in tr.frames.pos.view(1000, -1)[:, :3].tolist()} & {
        tuple(p) for p in te.frames.pos.view(1000, -1)[:, :3].tolist()
    }


@pytest.mark.parametrize("molecule", MOLECULES)
def test_every_molecule_loads(molecule, tmp_path):
    for split in ("train", "test"):
        ds = RMD17(shared("rmd17"), molecule, split, cache_dir=tmp_path)
        assert len(ds) == 1000
        assert ds.n_atoms.unique().numel() == 1
        assert torch.isfinite(ds.energies).all()


def test_release_layout_with_official_split_files(tmp_path):
    """The figshare layout (npz_data/ + splits/) gives the same frames as the pre-split file."""
    train = np.load(shared("rmd17", "rmd17_benzene_train_01.npz"))
    test = np.load(shared("rmd17", "rmd17_benzene_test_01.npz"))
    keys = ("nuclear_charges", "coords", "energies", "forces")
    rng = np.random.default_rng(1)
    order = rng.permutation(2000)  # the release's frames in some order; splits point into it
    full = {k: train[k] if k == "nuclear_charges" else np.concatenate([train[k], test[k]])[order] for k in keys}
    where = np.argsort(order)  # where frame k of concat(train, test) sits in the full file
    root = tmp_path / "rmd17"
    (root / "npz_data").mkdir(parents=True)
    (root / "splits").mkdir()
    np.savez(root / "npz_data" / "rmd17_benzene.npz", **full)
    np.savetxt(root / "splits" / "index_train_01.csv", where[:1000], fmt="%d")
    np.savetxt(root / "splits" / "index_test_01.csv", where[1000:], fmt="%d")

    from_release = RMD17(tmp_path, "benzene", "train", cache_dir=tmp_path / "cache")
    from_files = RMD17(shared("rmd17"), "benzene", "train", cache_dir=tmp_path / "cache")
    assert torch.equal(from_release.frames.pos, from_files.frames.pos)
    assert torch.equal(from_release.energies, from_files.energies)
    assert len(RMD17(root, "benzene", "all", cache_dir=tmp_path / "cache")) == 2000
    split = official_split(root, "benzene", 1)
    assert sorted(np.concatenate([split["train"], split["test"]]).tolist()) == list(range(2000))
    with pytest.raises(FileNotFoundError, match="index_train_02.csv"):
        RMD17(root, "benzene", "train", split_index=2, cache_dir=tmp_path / "cache")


def test_missing_molecule_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="rMD17 molecules: aspirin"):
        RMD17(tmp_path, "caffeine")
    with pytest.raises(ValueError, match="split must be"):
        RMD17(tmp_path, "aspirin", "valid")
    with pytest.raises(ValueError, match="1..5"):
        RMD17(tmp_path, "aspirin", "train", split_index=6)


def test_read_rmd17_reads_a_single_file(tmp_path):
    ds = read_rmd17(shared("rmd17", "rmd17_uracil_test_01.npz"), cache_dir=tmp_path)
    assert len(ds) == 1000 and ds.metadata["format"] == "rmd17"
