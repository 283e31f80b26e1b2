"""Original MD17 in the sGDML npz format, built from the real rMD17 files' original labels."""

import numpy as np
import pytest
import torch
from ase import units
from data_helpers import shared

from equitools.data import MD17, read_md17

KCAL = units.kcal / units.mol


@pytest.fixture
def sgdml_file(tmp_path):
    """The original-MD17 labels of the rMD17 ethanol frames (``old_*``) under sGDML keys."""
    raw = np.load(shared("rmd17", "rmd17_ethanol_train_01.npz"))
    path = tmp_path / "md17_ethanol.npz"
    np.savez(
        path,
        R=raw["coords"],
        z=raw["nuclear_charges"].astype(np.int64),
        E=raw["old_energies"][:, None],
        F=raw["old_forces"],
        name=np.array("ethanol"),
        theory=np.array("DFT: PBE+TS"),
    )
    return path, raw


def test_md17_reads_sgdml_keys_and_converts(sgdml_file, tmp_path):
    path, raw = sgdml_file
    ds = MD17(path.parent, "ethanol", cache_dir=tmp_path / "cache")
    assert len(ds) == 1000
    assert float(ds[3].energy) == pytest.approx(raw["old_energies"][3] * KCAL, abs=1e-9)
    assert torch.allclose(ds[3].forces.double(), torch.tensor(raw["old_forces"][3] * KCAL), atol=1e-5)
    assert ds.metadata["attributes"] == {"name": "ethanol", "theory": "DFT: PBE+TS"}
    assert ds.metadata["format"] == "md17"
    # the original and revised labels differ (that is why rMD17 exists) but by little per atom
    revised = raw["energies"][3] * KCAL
    assert float(ds[3].energy) != pytest.approx(revised, abs=1e-6)


def test_md17_energy_of_shape_n_is_accepted(tmp_path):
    raw = np.load(shared("rmd17", "rmd17_ethanol_test_01.npz"))
    path = tmp_path / "ethanol_dft.npz"
    np.savez(path, R=raw["coords"], z=raw["nuclear_charges"], E=raw["old_energies"], F=raw["old_forces"])
    assert len(MD17(tmp_path, "ethanol", cache_dir=tmp_path / "c")) == 1000
    assert len(read_md17(path, use_cache=False)) == 1000


def test_md17_missing_file_names_what_was_tried(tmp_path):
    with pytest.raises(FileNotFoundError, match="md17_toluene.npz"):
        MD17(tmp_path, "toluene")
