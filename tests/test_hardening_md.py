"""MD hardening: every argument of ``run_md`` and ``equitools md`` is checked, and the blow-up
check stops a run that explodes, keeps what it logged and makes ``equitools md`` exit 3."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.calculators.calculator import Calculator, all_changes
from ase.io import read, write

from equitools.calculators.md import MDBlowUpError, default_max_temperature, run_md
from equitools.calculators.plots import plot_md
from equitools.calculators.structures import read_structure
from equitools.cli import main
from equitools.commands.md import format_report
from equitools.models import build, save


class Tethered(Calculator):
    """Each atom on a spring of ``k`` eV/Å² to its start position; a NaN energy from the
    ``nan_from``-th calculation on (if given). Stable Verlet needs timestep < ~6 fs at k = 10."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, origin, k=10.0, nan_from=None):
        super().__init__()
        self.origin, self.k, self.nan_from, self.calls = np.array(origin), k, nan_from, 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        d = self.atoms.positions - self.origin
        energy = 0.5 * self.k * (d**2).sum()
        self.results = {
            "energy": math.nan if self.nan_from and self.calls >= self.nan_from else energy,
            "forces": -self.k * d,
        }


def water():
    return molecule("H2O")


def tethered_md(tmp_path=None, **kwargs):
    atoms = water()
    calc = Tethered(atoms.positions, **{k: kwargs.pop(k) for k in ("k", "nan_from") if k in kwargs})
    trajectory = None if tmp_path is None else tmp_path / "md.traj"
    return run_md(atoms, calc, **{"steps": 40, "interval": 2, "trajectory": trajectory, **kwargs})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"timestep_fs": 0}, "timestep_fs must be a finite number > 0 fs, got 0"),
        ({"timestep_fs": -0.5}, "timestep_fs must be a finite number > 0 fs, got -0.5"),
        ({"timestep_fs": math.nan}, "timestep_fs must be a finite number > 0 fs, got nan"),
        ({"temperature_K": -1.0}, "temperature_K must be a finite number >= 0 K, got -1.0"),
        ({"temperature_K": math.inf}, "temperature_K must be a finite number >= 0 K, got inf"),
        ({"friction_per_fs": -0.01}, "friction_per_fs must be a finite number >= 0 1/fs, got -0.01"),
        ({"steps": 0}, "steps must be an integer >= 1, got 0"),
        ({"interval": 0}, "interval must be an integer >= 1, got 0"),
        ({"interval": 41}, "interval must be <= steps (40), got 41"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"max_force_eV_per_A": 0.0}, "max_force_eV_per_A must be a finite number > 0 eV/Å, got 0.0"),
        ({"max_temperature_K": math.nan}, "max_temperature_K must be a finite number > 0 K, got nan"),
    ],
)
def test_run_md_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tethered_md(**kwargs)


def test_run_md_trajectory_must_be_writable(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="cannot write the trajectory .*file/md.traj"):
        tethered_md(tmp_path / "file")


@pytest.mark.parametrize("integrator", ["verlet", "langevin"])
def test_a_sound_run_is_not_stopped(integrator, tmp_path):
    report = tethered_md(tmp_path, steps=200, interval=10, integrator=integrator, temperature_K=500)
    assert report.stopped is None and report.summary()["stopped"] is None
    assert len(read(tmp_path / "md.traj", index=":")) == len(report.time_ps) == 21
    assert report.temperature.max() < default_max_temperature(500) == 5000
    assert default_max_temperature(0) == 1000 and default_max_temperature(300) == 3000


def test_an_unstable_timestep_stops_the_run_and_keeps_its_frames(tmp_path):
    with pytest.raises(MDBlowUpError) as caught:
        tethered_md(tmp_path, timestep_fs=7.0, interval=1)  # hydrogen: omega * dt = 2.2 > 2, Verlet diverges
    report = caught.value.report
    assert re.fullmatch(r"temperature \S+ K exceeds 3e\+03 K at step \d+ \(\d+ fs\)", report.stopped)
    assert str(caught.value) == f"MD stopped: {report.stopped}"
    assert 2 <= len(report.time_ps) < 41 and report.temperature.max() <= 3000
    assert report.summary()["stopped"] == report.stopped
    frames = read(report.trajectory, index=":")
    assert len(frames) == len(report.time_ps) and report.trajectory == str(tmp_path / "md.traj")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["md.traj"]  # no temporary file left


def test_a_non_finite_energy_stops_the_run():
    with pytest.raises(MDBlowUpError, match=r"potential energy nan eV is not finite at step 5 \(2\.5 fs\)") as caught:
        tethered_md(nan_from=6, timestep_fs=0.5)  # calculation 1 is step 0
    assert len(caught.value.report.time_ps) == 3  # steps 0, 2, 4
    assert caught.value.report.trajectory is None


def test_a_large_force_stops_the_run_or_rejects_the_start(tmp_path):
    with pytest.raises(MDBlowUpError, match=r"max force \S+ eV/Å exceeds 0.05 eV/Å at step \d+"):
        tethered_md(max_force_eV_per_A=0.05)  # starts at the springs' rest: force 0
    atoms = water()
    calc = Tethered(atoms.positions + 0.1)
    with pytest.raises(
        ValueError,
        match=r"start structure fails the blow-up check: max force 1.73 eV/Å "
        r"exceeds 1 eV/Å at step 0",
    ) as caught:
        run_md(atoms, calc, steps=10, max_force_eV_per_A=1.0, trajectory=tmp_path / "md.traj")
    assert not isinstance(caught.value, MDBlowUpError) and not list(tmp_path.iterdir())


def test_the_drift_needs_two_frames(tmp_path):
    with pytest.raises(MDBlowUpError) as caught:
        tethered_md(timestep_fs=10.0, interval=20)
    report = caught.value.report
    assert len(report.time_ps) == 1 and report.drift_meV_per_atom_ps is None
    text = format_report({**report.summary(), "plot": "p.png"})
    assert "NVE total-energy drift: not available" in text and "stopped early: temperature" in text
    assert plot_md(report, tmp_path / "md.png").is_file()


def test_read_structure_checks_the_index(tmp_path):
    first, second = water(), water()
    second.positions += 1.0
    write(tmp_path / "two.xyz", [first, second])
    np.testing.assert_allclose(read_structure(tmp_path / "two.xyz", -1).positions, second.positions)
    for index in (2, -3):
        with pytest.raises(ValueError, match=f"two.xyz: no frame {index} \\(the file has 2\\)"):
            read_structure(tmp_path / "two.xyz", index)


# the command


def steep_or_calm_model(scale: float):
    """An untrained TensorNet with its readout perturbed: forces ~0.1 eV/Å (scale 0.3) or ~1 eV/Å (1.0)."""
    torch.manual_seed(0)
    potential = build(
        {
            "model": "tensornet",
            "hidden_channels": 8,
            "num_layers": 1,
            "num_rbf": 8,
            "cutoff": 4.0,
            "dtype": "float64",
            "atomic_energies": {1: -13.6, 6: -1029.0, 8: -2040.0},
        }
    )
    with torch.no_grad():
        for p in potential.readout.parameters():
            p.add_(scale * torch.randn_like(p))
    return potential.eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("md")
    for name, scale in (("calm", 0.3), ("steep", 1.0)):
        save(steep_or_calm_model(scale), root / f"{name}.pt")
    write(root / "ethanol.xyz", molecule("CH3CH2OH"))
    return root


def md(files, *args):
    return main(["md", str(files / "calm.pt"), str(files / "ethanol.xyz"), *args])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--timestep", "-0.5"], "argument --timestep: must be a finite number > 0 fs, got -0.5"),
        (["--timestep", "0"], "argument --timestep: must be a finite number > 0 fs, got 0.0"),
        (["--timestep", "nan"], "argument --timestep: must be a finite number > 0 fs, got nan"),
        (["--temperature", "-1"], "argument --temperature: must be a finite number >= 0 K, got -1.0"),
        (["--temperature", "inf"], "argument --temperature: must be a finite number >= 0 K, got inf"),
        (["--friction", "-0.1"], "argument --friction: must be a finite number >= 0 1/fs, got -0.1"),
        (["--steps", "0"], "argument --steps: must be an integer >= 1, got 0"),
        (["--steps", "1.5"], "argument --steps: invalid int value: '1.5'"),
        (["--interval", "0"], "argument --interval: must be an integer >= 1, got 0"),
        (["--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
        (["--max-force", "0"], "argument --max-force: must be a finite number > 0 eV/Å, got 0.0"),
        (["--max-temperature", "-5"], "argument --max-temperature: must be a finite number > 0 K, got -5.0"),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as caught:
        main(["md", "model.pt", "start.xyz", "-o", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and f"equitools md: error: {message}\n" in err and "Traceback" not in err


def test_cli_rejects_an_interval_beyond_the_steps(tmp_path, capsys):
    assert main(["md", "model.pt", "start.xyz", "--steps", "5", "--interval", "10", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "equitools md: error: --interval must be <= --steps (5), got 10\n"
    assert not list(tmp_path.iterdir())


def test_cli_index_and_output_errors(files, tmp_path, capsys):
    assert md(files, "--index", "1", "-o", str(tmp_path)) == 1
    assert "ethanol.xyz: no frame 1 (the file has 1)" in capsys.readouterr().err
    (tmp_path / "taken").write_text("")
    assert md(files, "-o", str(tmp_path / "taken")) == 1
    err = capsys.readouterr().err
    assert err.startswith("equitools md: error: cannot write the trajectory") and err.count("\n") == 1


def test_cli_a_sound_run(files, tmp_path, capsys):
    assert md(files, "--steps", "4", "--interval", "2", "-o", str(tmp_path)) == 0
    assert re.search(r"NVE total-energy drift: [+-]\d", capsys.readouterr().out)
    report = json.loads((tmp_path / "md_report.json").read_text())
    assert report["stopped"] is None and report["drift_meV_per_atom_ps"] is not None


def test_cli_a_blow_up_exits_3_and_keeps_the_outputs(files, tmp_path, capsys):
    assert (
        main(
            [
                "md",
                str(files / "steep.pt"),
                str(files / "ethanol.xyz"),
                "--timestep",
                "100",
                "--steps",
                "10",
                "--interval",
                "5",
                "-o",
                str(tmp_path),
            ]
        )
        == 3
    )
    out, err = capsys.readouterr()
    assert re.fullmatch(
        r"equitools md: error: MD stopped: temperature \S+ K exceeds 3e\+03 K at step 1 \(100 fs\); "
        r"the frames before it are in \S+md.traj, the report in \S+md_report.json\n",
        err,
    )
    assert "stopped early: temperature" in out and "drift: not available" in out
    report = json.loads((tmp_path / "md_report.json").read_text())
    assert report["stopped"].startswith("temperature") and report["drift_meV_per_atom_ps"] is None
    assert len(read(tmp_path / "md.traj", index=":")) == 1 and (tmp_path / "md_energy.png").is_file()
