"""``equitools.data.read``: the format guess and the one dispatch to the loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.io import write
from data_helpers import QM9_METHANE, fake_frames, write_npz

from equitools import data
from equitools.data import guess_format, read


def sgdml_npz(path):
    frames = fake_frames()
    return write_npz(
        path, z=frames["nuclear_charges"], R=frames["coords"], E=frames["energies"][:, None], F=frames["forces"]
    )


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("a.npz", lambda p: write_npz(p, **fake_frames()), "rmd17"),
        ("b.npz", sgdml_npz, "md17"),
        ("broken.npz", lambda p: p.write_bytes(b"not a zip"), "rmd17"),
        ("c.csv", lambda p: p.write_text(""), "qm9"),
        ("raw", lambda p: p.mkdir(), "qm9"),
        ("d.xyz", lambda p: p.write_text(""), "extxyz"),
    ],
)
def test_guess_format(tmp_path, name, make, expected):
    make(tmp_path / name)
    assert guess_format(tmp_path / name) == expected


def test_read_dispatches_on_the_guessed_or_given_format(tmp_path):
    rmd17 = write_npz(tmp_path / "a.npz", **fake_frames())
    assert read(rmd17, use_cache=False).metadata["format"] == "rmd17"
    assert read(sgdml_npz(tmp_path / "b.npz"), use_cache=False).metadata["format"] == "md17"
    (tmp_path / "dsgdb9nsd_000001.xyz").write_text(QM9_METHANE)
    assert len(read(tmp_path, "qm9", use_cache=False)) == 1
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    water.info["energy_kcal"] = -10.0
    write(tmp_path / "w.xyz", water, format="extxyz")
    frames = read(
        tmp_path / "w.xyz", energy_key="energy_kcal", forces_key=None, energy_unit="kcal/mol", use_cache=False
    )
    assert frames.metadata["format"] == "ase:extxyz"
    np.testing.assert_allclose(frames.frames.energy.numpy(), [-10.0 * data.KCAL_PER_MOL], rtol=1e-6)


def test_read_passes_min_distance_to_the_loader(tmp_path):
    path = write_npz(tmp_path / "a.npz", **fake_frames())
    with pytest.raises(ValueError, match="minimum 2 Å"):
        read(path, min_distance=2.0, use_cache=False)
    assert len(read(path, min_distance=0.0, use_cache=False)) == 6


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data file at .*none.npz: no such file or folder"):
        read(tmp_path / "none.npz")
    path = write_npz(tmp_path / "a.npz", **fake_frames())
    with pytest.raises(ValueError, match="unknown data format 'pdb'; known: rmd17, md17, qm9, extxyz"):
        read(path, "pdb")
    with pytest.raises(ValueError, match="a.npz reads as rmd17: energy_unit only apply to extxyz files"):
        read(path, energy_unit="kcal/mol")


def _water_xyz(path):
    write(path, Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]], info={"energy": -1.0}))
    return path


LOADERS = {
    "RMD17": lambda p, **o: data.RMD17(p, "water", **o),
    "MD17": lambda p, **o: data.MD17(p, "water", **o),
    "read_rmd17": lambda p, **o: data.read_rmd17(p / "rmd17_water_train_01.npz", **o),
    "read_md17": lambda p, **o: data.read_md17(p / "md17_water.npz", **o),
    "ExtXYZ": lambda p, **o: data.ExtXYZ(p / "w.xyz", forces_key=None, **o),
    "QM9": lambda p, **o: data.QM9(p, **o),
}


@pytest.mark.parametrize("name", LOADERS)
def test_every_loader_takes_the_shared_options_and_refuses_a_misspelt_one(tmp_path, name):
    write_npz(tmp_path / "rmd17_water_train_01.npz", **fake_frames(z=(8, 1, 1)))
    sgdml_npz(tmp_path / "md17_water.npz")
    _water_xyz(tmp_path / "w.xyz")
    (tmp_path / "dsgdb9nsd_000001.xyz").write_text(QM9_METHANE)
    load = LOADERS[name]

    seen = []
    dataset = load(tmp_path, transform=lambda d: seen.append(d) or d, dtype=torch.float64, cache_dir=tmp_path / "c")
    assert dataset[0].pos.dtype == torch.float64 and len(seen) == 1
    assert len(list((tmp_path / "c").iterdir())) == 1
    with pytest.raises(ValueError, match="apart"):
        load(tmp_path, min_distance=5.0, use_cache=False)
    with pytest.raises(TypeError, match="cache_directory"):
        load(tmp_path, cache_directory=tmp_path / "c")
