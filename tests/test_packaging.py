"""Packaging: a lean core (no optional dependency imported by the core packages, inference without
Lightning), one clear error per missing extra, and a wheel that ships the modules and the data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
import torch
from ase.build import molecule

from equitools import __version__
from equitools.data.generate import generate
from equitools.data.graphs import periodic_neighbour_list
from equitools.data.qm9 import qm9pack_csvs
from equitools.extras import MissingExtraError, require

ROOT = Path(__file__).resolve().parent.parent
DIST_INFO = f"equitools-{__version__}.dist-info"
OPTIONAL = ["lightning", "torchmetrics", "tensorboard", "yaml", "tblite", "vesin", "qm9pack"]
CORE = [
    "equitools",
    "equitools.so3",
    "equitools.ict",
    "equitools.tp",
    "equitools.nn",
    "equitools.models",
    "equitools.data",
    "equitools.calculators",
]


def python(code: str, folder: Path) -> str:
    """Run ``code`` in a fresh interpreter in ``folder`` (``sys.argv[1]``); its stdout, or fail with its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, cwd=folder, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_core_packages_import_no_optional_dependency(tmp_path):
    loaded = python(f"import sys, {', '.join(CORE)}; print(sorted(set({OPTIONAL}) & set(sys.modules)))", tmp_path)
    assert loaded.strip() == "[]"


INFERENCE_WITHOUT_TRAIN = f"""
import sys
sys.modules.update(dict.fromkeys({OPTIONAL}))  # importing any of them now raises ImportError
from pathlib import Path
from ase.build import molecule
from equitools.calculators import EquiCalculator
from equitools.models import build, save

run = Path(sys.argv[1])
model = build({{"model": "tensornet", "hidden_channels": 4, "num_layers": 1, "num_rbf": 4, "cutoff": 4.0}})
atoms = molecule("CH3CH2OH")
atoms.calc = EquiCalculator(model)
expected = atoms.get_potential_energy()
save(model, run / "model.pt")
for source in (run, run / "model.pt"):
    atoms.calc = EquiCalculator(source)
    assert atoms.get_potential_energy() == expected
try:
    import equitools.train
except ImportError as err:
    print(type(err).__name__, err)
"""


def test_a_saved_model_or_run_folder_runs_without_the_train_extra(tmp_path):
    out = python(INFERENCE_WITHOUT_TRAIN, tmp_path).strip()
    assert out.startswith(
        "MissingExtraError training (equitools.train) needs the 'train' extra: pip install 'equitools[train]' ("
    )


@pytest.mark.parametrize(
    "modules, extra, call",
    [
        (
            ["vesin"],
            "periodic",
            lambda tmp: periodic_neighbour_list(torch.zeros(1, 3), torch.eye(3), torch.ones(3, dtype=bool), 1.0),
        ),
        (["tblite", "tblite.ase"], "xtb", lambda tmp: generate(molecule("H2O"), tmp / "w.npz", n_frames=1)),
        (["qm9pack"], "qm9", lambda tmp: qm9pack_csvs()),
    ],
)
def test_a_missing_extra_names_the_pip_install(monkeypatch, tmp_path, modules, extra, call):
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError, match=rf"needs the '{extra}' extra: pip install 'equitools\[{extra}\]'"):
        call(tmp_path)
    assert not list(tmp_path.iterdir())


def test_require_returns_the_module_or_a_one_line_import_error(monkeypatch):
    assert require("json", "train", "this") is sys.modules["json"]
    for name in ("lightning", "lightning.pytorch"):  # blocked even when an earlier test imported them
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError) as info:
        require("lightning.pytorch", "train", "equitools train")
    message = str(info.value)
    assert message.startswith("equitools train needs the 'train' extra: pip install 'equitools[train]' (")
    assert "\n" not in message and info.value.name == "lightning.pytorch"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    """The wheel of a copy of the checkout, built offline (no build isolation, no dependencies)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "runs", "equitools-demo"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
        ],
        check=True,
        timeout=300,
    )
    (path,) = (tmp / "dist").glob("equitools-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_holds_every_module_and_the_data_and_nothing_else(wheel):
    names = set(wheel.namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "equitools").rglob("*.py")}
    assert modules <= names, f"missing from the wheel: {sorted(modules - names)}"
    data = {p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*.npz")}
    assert {"ethanol_xtb_500K.npz", "ict/path_matrices_rank6.npz"} <= data
    for name in data:
        assert wheel.read(f"equitools/_data/{name}") == (ROOT / "data" / name).read_bytes()
    assert {n.split("/")[0] for n in names} == {"equitools", DIST_INFO}


def test_the_wheel_declares_a_lean_core_and_the_extras(wheel):
    metadata = Parser().parsestr(wheel.read(f"{DIST_INFO}/METADATA").decode())
    assert set(metadata.get_all("Provides-Extra")) == {"train", "xtb", "qm9", "periodic", "all", "test"}
    core = {
        r.split(";")[0].split(">")[0].split("=")[0].strip()
        for r in metadata.get_all("Requires-Dist")
        if "extra ==" not in r
    }
    assert "torch" in core and "e3nn" in core and not core & {"lightning", "tensorboard", "tblite", "vesin", "qm9pack"}
