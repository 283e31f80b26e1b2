"""GFN2-xTB reference data: the generator, the command line, and the embedded ethanol set."""

import os

import numpy as np
import pytest
import torch
from ase import units

import equitools.data.generate as generate_module
from equitools.cli import main
from equitools.data import embedded, read_rmd17
from equitools.data.generate import generate, load_structure

os.environ.setdefault("OMP_NUM_THREADS", "1")
from tblite.ase import TBLite  # noqa: E402

KCAL = units.kcal / units.mol


def xtb(numbers, positions):
    """GFN2-xTB energy (eV) and forces (eV/Å) of one structure, SCF as tight as the generator's."""
    from ase import Atoms

    atoms = Atoms(numbers=numbers, positions=positions)
    atoms.calc = TBLite(method="GFN2-xTB", accuracy=0.01, verbosity=0)
    return atoms.get_potential_energy(), atoms.get_forces()


def test_generate_writes_the_rmd17_schema_with_real_labels(tmp_path):
    threads = torch.get_num_threads()
    out = generate(
        load_structure("water"),
        tmp_path / "water.npz",
        n_frames=4,
        interval=3,
        equilibration_steps=10,
        temperature_K=300,
        seed=1,
        progress=False,
    )
    assert torch.get_num_threads() == threads  # tblite ran on one OpenMP thread, then restored
    raw = np.load(out)
    assert raw["nuclear_charges"].dtype == np.uint8 and raw["nuclear_charges"].tolist() == [8, 1, 1]
    assert raw["coords"].shape == (4, 3, 3) and raw["forces"].shape == (4, 3, 3) and raw["energies"].shape == (4,)
    assert str(raw["theory"]).startswith("GFN2-xTB (tblite")
    assert float(raw["temperature_K"]) == 300.0 and int(raw["interval"]) == 3
    # the labels are GFN2-xTB's for the stored geometry, in kcal/mol like the published files
    energy, forces = xtb(raw["nuclear_charges"], raw["coords"][2])
    assert raw["energies"][2] == pytest.approx(energy / KCAL, abs=1e-5)
    assert np.allclose(raw["forces"][2], forces / KCAL, atol=1e-3)  # SCF converged to accuracy 0.01
    assert not np.allclose(raw["coords"][0], raw["coords"][1])  # the molecule moves
    ds = read_rmd17(out, use_cache=False)
    assert float(ds[2].energy) == pytest.approx(energy, abs=1e-6)
    assert ds.metadata["attributes"]["seed"] == 1
    again = generate(
        load_structure("H2O"),
        tmp_path / "again.npz",
        n_frames=4,
        interval=3,
        equilibration_steps=10,
        temperature_K=300,
        seed=1,
        progress=False,
    )
    assert np.array_equal(np.load(again)["coords"], raw["coords"])  # reproducible from the seed


def test_failed_run_writes_nothing(tmp_path, monkeypatch):
    calls = []

    class Exploding(generate_module.Langevin):
        def run(self, steps):
            calls.append(steps)
            if len(calls) > 2:
                raise RuntimeError("SCF did not converge")
            return super().run(steps)

    monkeypatch.setattr(generate_module, "Langevin", Exploding)
    with pytest.raises(RuntimeError, match="SCF"):
        generate(
            load_structure("water"), tmp_path / "w.npz", n_frames=5, interval=2, equilibration_steps=0, progress=False
        )
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="neither a file nor a molecule name"):
        load_structure("unobtainium")
    with pytest.raises(ValueError, match="n_frames must be positive"):
        generate(load_structure("water"), "x.npz", n_frames=0)


def test_command_line_generate_and_info(tmp_path, capsys):
    xyz = tmp_path / "start.xyz"
    xyz.write_text("3\nwater\nO 0 0 0.1\nH 0.76 0 -0.45\nH -0.76 0 -0.45\n")
    out = tmp_path / "cli.npz"
    assert (
        main(
            [
                "data",
                "generate",
                str(xyz),
                "-o",
                str(out),
                "--frames",
                "3",
                "--interval",
                "2",
                "--equilibration",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "wrote 3 frames of H2O" in capsys.readouterr().out
    assert np.load(out)["coords"].shape == (3, 3, 3) and str(np.load(out)["name"]) == "start"
    assert main(["data", "info", str(out), "--no-cache"]) == 0
    text = capsys.readouterr().out
    assert "frames:    3" in text and "elements:  H O" in text and "theory:" in text
    assert main(["data", "generate", "unobtainium", "-o", str(tmp_path / "x.npz")]) == 1
    assert "neither a file nor a molecule name" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_embedded_ethanol_set_is_real_gfn2_xtb_data():
    ds = embedded(use_cache=False, dtype=torch.float64)
    assert len(ds) == 1000 and ds.n_atoms.unique().tolist() == [9]
    assert sorted(ds[0].z.tolist()) == [1, 1, 1, 1, 1, 1, 6, 6, 8]
    attributes = ds.metadata["attributes"]
    assert attributes["temperature_K"] == 500.0 and attributes["theory"].startswith("GFN2-xTB")
    for k in (0, 517, 999):  # spot checks: the stored labels are GFN2-xTB's
        energy, forces = xtb(ds[k].z.numpy(), ds[k].pos.numpy())
        assert float(ds[k].energy) == pytest.approx(energy, abs=1e-4)
        assert np.allclose(ds[k].forces.numpy(), forces, atol=1e-5)
    net = torch.stack([ds[k].forces.double().sum(0) for k in range(0, 1000, 50)])
    assert float(net.norm(dim=1).max()) < 1e-4
    # a 500 K trajectory: energies spread by ~0.1-0.3 eV, frames decorrelate
    assert 0.05 < float(ds.energies.std()) < 0.5
    assert not torch.allclose(ds[0].pos, ds[1].pos, atol=1e-3)
    assert os.path.getsize(ds.metadata["source"]) < 2_000_000


def test_cli_info_on_other_formats(capsys):
    from data_helpers import shared

    assert main(["data", "info", str(shared("qm9", "raw")), "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "frames:    20" in out and "mu D" in out
    assert main(["data", "info", str(shared("extxyz", "3bpa_train_300K.xyz")), "--no-cache"]) == 0
    assert "frames:    500" in capsys.readouterr().out
    assert main(["data", "info", "/nonexistent/file.npz"]) == 1
    assert "no such file" in capsys.readouterr().err
