"""The malformed-input corpus: data files of every format, configs, command-line arguments, ICT
files and model files, each fed to the ``equitools`` command (in process) or, for ICT files, to
``equitools.ict.load``.

Every command case must end with a non-zero exit and exactly one ``error:`` line on stderr that
names the file (or argument) and the problem, and no traceback; every ICT case must raise
``PathMatricesFileError`` with a one-line message naming the file and the entry. The README's
reliability section reports this corpus's tally (``test_the_corpus_is_large_enough``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from data_helpers import QM9_METHANE, fake_frames, write_npz
from test_data_malformed import EXTXYZ_CASES, HEADER, NPZ_CASES, QM9_CSV_CASES, QM9_RAW_CASES, ROW

from equitools.cli import main
from equitools.ict import PathMatricesFileError, path_matrices
from equitools.ict import load as load_path_matrices
from equitools.ict import save as save_path_matrices
from equitools.models import build
from equitools.models import save as save_model

TINY_MODEL = {"model": "tensornet", "hidden_channels": 8, "num_layers": 1, "num_rbf": 8, "cutoff": 4.0}


# ------------------------------------------------------------------------------------- assets
@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Path]:
    """A good model file, a good structure, a good data file and a good config, shared by cases."""
    root = tmp_path_factory.mktemp("assets")
    torch.manual_seed(0)
    save_model(build(TINY_MODEL), root / "model.pt")
    water = "3\nwater\nO 0.0 0.0 0.0\nH 0.96 0.0 0.0\nH -0.24 0.93 0.0\n"
    (root / "water.xyz").write_text(water)
    write_npz(root / "good.npz", **fake_frames(4))
    return root


def base_config(out: Path) -> dict:
    return {
        "model": dict(TINY_MODEL),
        "data": {"format": "embedded", "n_train": 8, "n_val": 4, "n_test": 4},
        "training": {"max_epochs": 1},
        "trainer": {"progress_bar": False},
        "output": {"dir": str(out / "run")},
    }


def write_config(tmp: Path, edit) -> Path:
    config = base_config(tmp)
    edit(config)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def setting(section: str, key: str, value):
    def edit(config):
        config[section][key] = value

    return edit


# --------------------------------------------------------------------------- command cases
# Each maker takes (tmp_path, assets) and returns (argv, parts the error line must contain).
# "{path}" in a part stands for the file the case wrote.


def data_info_npz(make, expected):
    def case(tmp, assets):
        path = make(tmp)
        return ["data", "info", str(path), "--no-cache"], [str(path), *expected]

    return case


def data_info_text(name, text, expected, binary=False):
    def case(tmp, assets):
        path = tmp / name
        path.write_bytes(text) if binary else path.write_text(text)
        return ["data", "info", str(path), "--no-cache"], [str(path), *expected]

    return case


def qm9_folder(text, expected):
    def case(tmp, assets):
        (tmp / "dsgdb9nsd_000002.xyz").write_text(QM9_METHANE.replace("gdb 1\t", "gdb 2\t"))
        bad = tmp / "dsgdb9nsd_000001.xyz"
        bad.write_bytes(text) if isinstance(text, bytes) else bad.write_text(text)
        return ["data", "info", str(tmp), "--no-cache"], [str(bad), *expected]

    return case


def npz_with(**changes):
    def make(tmp):
        arrays = fake_frames(4)
        arrays.update(changes)
        return write_npz(tmp / "bad.npz", **arrays)

    return make


def coincident_npz(tmp):
    arrays = fake_frames(4)
    arrays["coords"][2, 1] = arrays["coords"][2, 0]
    return write_npz(tmp / "bad.npz", **arrays)


def huge_header_npz(tmp):
    """An .npz whose ``coords`` header claims 10¹² × 3 × 3 float64 (about 65 TiB)."""
    arrays = fake_frames(4)
    path = tmp / "bad.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as f:
                if key == "coords":
                    np.lib.format.write_array_header_1_0(
                        f, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 3, 3)}
                    )
                    f.write(b"\0" * 64)
                else:
                    np.lib.format.write_array(f, array)
    return path


def bomb_npz(tmp):
    """A deflated ``forces`` member: 1 MiB of zeros (a few kB packed) under a header that claims
    2⁴⁰ float64 values (8 TiB), the shape of a decompression bomb."""
    arrays = fake_frames(4)
    path = tmp / "bad.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as f:
                if key == "forces":
                    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
                    f.write(bytes(2**20))
                else:
                    np.lib.format.write_array(f, array)
    return path


def md17_npz(**arrays_or_none):
    def make(tmp):
        f = fake_frames(4)
        arrays = {"z": f["nuclear_charges"], "R": f["coords"], "E": f["energies"][:, None], "F": f["forces"]}
        for key, value in arrays_or_none.items():
            if value is None:
                arrays.pop(key)
            else:
                arrays[key] = value
        return write_npz(tmp / "md17_bad.npz", **arrays)

    return make


XYZ_OK = (
    '3\nProperties=species:S:1:pos:R:3:forces:R:3 energy=-1.0 pbc="F F F"\n'
    "O 0.0 0.0 0.0 0.1 0.0 0.0\nH 0.96 0.0 0.0 0.0 0.1 0.0\nH -0.24 0.93 0.0 0.0 0.0 0.1\n"
)

COMMAND_CASES = {
    **{f"npz: {k}": data_info_npz(make, expected) for k, (make, expected) in NPZ_CASES.items()},
    "npz: coincident atoms": data_info_npz(coincident_npz, ["frame 2", "atoms 0 and 1", "Å apart"]),
    "npz: header claims 65 TiB": data_info_npz(huge_header_npz, ["'coords'"]),
    "npz: deflated member claiming 8 TiB": data_info_npz(bomb_npz, ["'forces'"]),
    "npz: float atomic numbers": data_info_npz(
        npz_with(nuclear_charges=np.array([8.5, 1.0, 1.0])), ["'nuclear_charges'", "integers"]
    ),
    "npz: 2-D atomic numbers": data_info_npz(
        npz_with(nuclear_charges=np.array([[8, 1, 1]])), ["'nuclear_charges'", "1-D"]
    ),
    "md17: missing R": data_info_npz(md17_npz(R=None), ["'R'"]),
    "md17: energy per atom": data_info_npz(md17_npz(E=np.zeros((4, 3))), ["'E'", "(4,)"]),
    "md17: NaN forces": data_info_npz(md17_npz(F=np.full((4, 3, 3), np.nan)), ["'F'", "NaN or infinite"]),
    **{f"extxyz: {k}": data_info_text("frames.xyz", text, expected) for k, (text, expected) in EXTXYZ_CASES.items()},
    "extxyz: coincident atoms": data_info_text(
        "frames.xyz", XYZ_OK.replace("H 0.96 0.0 0.0 ", "H 0.0 0.0 0.0 "), ["frame 0", "atoms 0 and 1"]
    ),
    "extxyz: infinite cell": data_info_text(
        "frames.xyz", XYZ_OK.replace('pbc="F F F"', 'Lattice="inf 0 0 0 5 0 0 0 5" pbc="T T T"'), ["cell"]
    ),
    "extxyz: binary garbage": data_info_text(
        "frames.xyz", bytes(range(256)) * 4, ["ase.io cannot read it"], binary=True
    ),
    "extxyz: atom count too large": data_info_text("frames.xyz", XYZ_OK.replace("3\n", "7\n", 1), ["frame 0"]),
    "extxyz: text coordinate": data_info_text("frames.xyz", XYZ_OK.replace("0.96", "abc"), ["frame 0"]),
    **{f"qm9 raw: {k}": qm9_folder(text, expected) for k, (text, expected) in QM9_RAW_CASES.items()},
    "qm9 raw: invalid UTF-8": qm9_folder(b"5\n\xff\xfe\x00gdb 1\n", []),
    "qm9 raw: coincident atoms": qm9_folder(
        QM9_METHANE.replace(
            "H\t 0.002150416\t-0.0060313176\t 0.0019761204", "H\t-0.0126981359\t 1.0858041578\t 0.0080009958"
        ),
        ["atoms 0 and 1"],
    ),
    **{f"qm9 csv: {k}": data_info_text("qm9.csv", text, expected) for k, (text, expected) in QM9_CSV_CASES.items()},
    "qm9 csv: header only": data_info_text("qm9.csv", HEADER, []),
    "qm9 csv: text property": data_info_text("qm9.csv", HEADER + ROW.replace("0.5048", "x"), ["line 2"]),
    "data info: missing file": lambda tmp, a: (["data", "info", str(tmp / "none.npz")], [str(tmp / "none.npz")]),
    "data info: empty folder": lambda tmp, a: (["data", "info", str(tmp)], [str(tmp)]),
}


def train_case(edit, parts):
    def case(tmp, assets):
        path = write_config(tmp, edit)
        return ["train", str(path), "--no-progress"], [str(path), *parts]

    return case


def raw_config(text: str | bytes, parts):
    def case(tmp, assets):
        path = tmp / "config.yaml"
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        return ["train", str(path)], [str(path), *parts]

    return case


def train_output_under_a_file(tmp, assets):
    blocker = tmp / "file"
    blocker.write_text("x")
    path = write_config(tmp, lambda c: c["output"].update(dir=str(blocker / "run")))
    return ["train", str(path), "--no-progress"], [str(blocker)]


def train_missing_data(tmp, assets):
    path = write_config(tmp, lambda c: c["data"].update(format="extxyz", path=str(tmp / "absent.xyz")))
    return ["train", str(path), "--no-progress"], [str(tmp / "absent.xyz")]


def train_bad_data(tmp, assets):
    bad = tmp / "bad.xyz"
    bad.write_text(XYZ_OK.replace("0.96", "nan"))
    path = write_config(tmp, lambda c: c["data"].update(format="extxyz", path=str(bad)))
    return ["train", str(path), "--no-progress"], [str(bad), "NaN"]


def train_config_is_a_folder(tmp, assets):
    folder = tmp / "config.yaml"
    folder.mkdir()
    return ["train", str(folder)], [str(folder)]


COMMAND_CASES.update(
    {
        "config: max_epochs -1": train_case(setting("training", "max_epochs", -1), ["training.max_epochs"]),
        "config: max_epochs 2.5": train_case(setting("training", "max_epochs", 2.5), ["training.max_epochs"]),
        "config: max_epochs true": train_case(setting("training", "max_epochs", True), ["training.max_epochs"]),
        "config: lr negative": train_case(setting("training", "lr", -1e-3), ["training.lr"]),
        "config: lr zero": train_case(setting("training", "lr", 0), ["training.lr"]),
        "config: lr NaN": train_case(setting("training", "lr", float("nan")), ["training.lr"]),
        "config: lr text": train_case(setting("training", "lr", "fast"), ["training.lr"]),
        "config: weight_decay negative": train_case(setting("training", "weight_decay", -1), ["training.weight_decay"]),
        "config: lr_factor 1.5": train_case(setting("training", "lr_factor", 1.5), ["training.lr_factor"]),
        "config: ema_decay 2": train_case(setting("training", "ema_decay", 2.0), ["training.ema_decay"]),
        "config: gradient_clip negative": train_case(
            setting("training", "gradient_clip", -1.0), ["training.gradient_clip"]
        ),
        "config: max_time negative": train_case(setting("training", "max_time", -5), ["training.max_time"]),
        "config: energy_weight negative": train_case(
            setting("training", "energy_weight", -1), ["training.energy_weight"]
        ),
        "config: both weights zero": train_case(
            lambda c: c["training"].update(energy_weight=0, force_weight=0), ["energy_weight", "force_weight"]
        ),
        "config: seed negative": train_case(setting("training", "seed", -3), ["training.seed"]),
        "config: reference_energies": train_case(
            setting("training", "reference_energies", "guess"), ["training.reference_energies"]
        ),
        "config: unknown training key": train_case(setting("training", "epochs", 3), ["epochs", "training"]),
        "config: n_train zero": train_case(setting("data", "n_train", 0), ["data.n_train"]),
        "config: batch_size text": train_case(setting("data", "batch_size", "eight"), ["data.batch_size"]),
        "config: num_workers negative": train_case(setting("data", "num_workers", -1), ["data.num_workers"]),
        "config: min_distance negative": train_case(setting("data", "min_distance", -0.1), ["data.min_distance"]),
        "config: unknown data format": train_case(setting("data", "format", "pdb"), ["data.format"]),
        "config: rmd17 without molecule": train_case(setting("data", "format", "rmd17"), ["data.molecule"]),
        "config: devices zero": train_case(setting("trainer", "devices", 0), ["trainer.devices"]),
        "config: log_every_n_steps zero": train_case(
            setting("trainer", "log_every_n_steps", 0), ["trainer.log_every_n_steps"]
        ),
        "config: num_layers 1.5": train_case(setting("model", "num_layers", 1.5), ["model.num_layers"]),
        "config: hidden_channels text": train_case(
            setting("model", "hidden_channels", "eight"), ["model.hidden_channels"]
        ),
        "config: hidden_channels zero": train_case(setting("model", "hidden_channels", 0), ["model.hidden_channels"]),
        "config: cutoff negative": train_case(setting("model", "cutoff", -5.0), ["model.cutoff"]),
        "config: cutoff infinite": train_case(setting("model", "cutoff", float("inf")), ["model.cutoff"]),
        "config: num_rbf zero": train_case(setting("model", "num_rbf", 0), ["model.num_rbf"]),
        "config: max_z 0": train_case(setting("model", "max_z", 0), ["model.max_z"]),
        "config: unknown model": train_case(setting("model", "model", "nequip"), ["nequip"]),
        "config: unknown model key": train_case(setting("model", "layers", 2), ["layers"]),
        "config: dtype float16": train_case(setting("model", "dtype", "float16"), ["dtype"]),
        "config: unknown section": train_case(lambda c: c.update(optimizer={"name": "adam"}), ["optimizer"]),
        "config: section not a mapping": train_case(lambda c: c.update(training=[1, 2]), ["training"]),
        "config: not YAML": raw_config("model: [unclosed\n", ["not valid YAML"]),
        "config: a list": raw_config("- 1\n- 2\n", ["mapping"]),
        "config: invalid UTF-8": raw_config(b"model:\n  model: \xff\xfe\n", []),
        "config: a folder": train_config_is_a_folder,
        "config: missing file": lambda tmp, a: (["train", str(tmp / "none.yaml")], [str(tmp / "none.yaml")]),
        "config: output under a file": train_output_under_a_file,
        "config: data file missing": train_missing_data,
        "config: data file with NaN": train_bad_data,
        "train: malformed override": lambda tmp, a: (
            ["train", str(write_config(tmp, lambda c: None)), "training.lr"],
            ["training.lr", "section.key=value"],
        ),
        "train: override unknown section": lambda tmp, a: (
            ["train", str(write_config(tmp, lambda c: None)), "optim.lr=1"],
            ["optim"],
        ),
        "train: resume without a run": lambda tmp, a: (
            ["train", str(write_config(tmp, lambda c: None)), "--resume"],
            ["last.ckpt"],
        ),
    }
)


def md(*extra, structure=None):
    def case(tmp, assets):
        argv = [
            "md",
            str(assets / "model.pt"),
            str(structure(tmp) if structure else assets / "water.xyz"),
            "--steps",
            "4",
            "--interval",
            "2",
            "-o",
            str(tmp / "md"),
            *extra,
        ]
        return argv, []

    return case


def md_expect(parts, *extra, structure=None):
    inner = md(*extra, structure=structure)

    def case(tmp, assets):
        argv, _ = inner(tmp, assets)
        return argv, [p.format(tmp=tmp) for p in parts]

    return case


def nan_structure(tmp):
    path = tmp / "nan.xyz"
    path.write_text("3\nwater\nO 0.0 0.0 0.0\nH nan 0.0 0.0\nH -0.24 0.93 0.0\n")
    return path


def coincident_structure(tmp):
    path = tmp / "twin.xyz"
    path.write_text("3\nwater\nO 0.0 0.0 0.0\nH 0.0 0.0 0.0\nH -0.24 0.93 0.0\n")
    return path


def unknown_element_structure(tmp):
    path = tmp / "u.xyz"
    path.write_text("3\nwater\nO 0.0 0.0 0.0\nXq 0.96 0.0 0.0\nH -0.24 0.93 0.0\n")
    return path


def empty_structure(tmp):
    path = tmp / "empty.xyz"
    path.write_text("")
    return path


def corrupt_model(content: bytes, parts):
    def case(tmp, assets):
        path = tmp / "model.pt"
        path.write_bytes(content)
        return (
            ["md", str(path), str(assets / "water.xyz"), "--steps", "2", "--interval", "1", "-o", str(tmp / "md")],
            [str(path), *parts],
        )

    return case


def model_file(payload_of, parts, command="evaluate"):
    """A model file holding ``payload_of(good payload)``, used by ``command``."""

    def case(tmp, assets):
        payload = torch.load(assets / "model.pt", weights_only=True)
        path = tmp / "model.pt"
        torch.save(payload_of(payload), path)
        data = assets / "good.npz"
        argv = (
            ["evaluate", str(path), str(data), "-o", str(tmp / "eval")]
            if command == "evaluate"
            else ["md", str(path), str(assets / "water.xyz"), "--steps", "2", "--interval", "1", "-o", str(tmp / "md")]
        )
        return argv, [str(path), *parts]

    return case


def truncated_model(tmp, assets):
    path = tmp / "model.pt"
    data = (assets / "model.pt").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return ["evaluate", str(path), str(assets / "good.npz"), "-o", str(tmp / "eval")], [str(path)]


def nan_weights_model(tmp, assets):
    model = build(TINY_MODEL)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    path = tmp / "nan.pt"
    save_model(model, path)
    return ["evaluate", str(path), str(assets / "good.npz"), "-o", str(tmp / "eval")], ["NaN"]


def edit_state(payload, key, value):
    payload["state_dict"][key] = value
    return payload


COMMAND_CASES.update(
    {
        "md: negative timestep": md_expect(["--timestep"], "--timestep", "-0.5"),
        "md: zero timestep": md_expect(["--timestep"], "--timestep", "0"),
        "md: NaN timestep": md_expect(["--timestep"], "--timestep", "nan"),
        "md: negative temperature": md_expect(["--temperature"], "--temperature", "-10"),
        "md: infinite temperature": md_expect(["--temperature"], "--temperature", "inf"),
        "md: negative friction": md_expect(["--friction"], "--friction", "-0.1", "--integrator", "langevin"),
        "md: zero steps": md_expect(["--steps"], "--steps", "0"),
        "md: interval above steps": md_expect(["--interval"], "--interval", "10"),
        "md: zero interval": md_expect(["--interval"], "--interval", "0"),
        "md: text steps": md_expect(["--steps"], "--steps", "many"),
        "md: unknown integrator": md_expect(["--integrator"], "--integrator", "leapfrog"),
        "md: frame out of range": md_expect(["5"], "--index", "5"),
        "md: NaN structure": md_expect(["atom 1", "NaN"], structure=nan_structure),
        "md: coincident atoms": md_expect(["atoms 0 and 1"], structure=coincident_structure),
        "md: unknown element": md_expect(["u.xyz"], structure=unknown_element_structure),
        "md: empty structure": md_expect(["empty.xyz"], structure=empty_structure),
        "md: missing structure": lambda tmp, a: (
            ["md", str(a / "model.pt"), str(tmp / "none.xyz")],
            [str(tmp / "none.xyz")],
        ),
        "md: missing model": lambda tmp, a: (
            ["md", str(tmp / "none.pt"), str(a / "water.xyz")],
            [str(tmp / "none.pt")],
        ),
        "md: output under a file": lambda tmp, a: (
            (tmp / "f").write_text("x")
            and [
                "md",
                str(a / "model.pt"),
                str(a / "water.xyz"),
                "--steps",
                "2",
                "--interval",
                "1",
                "-o",
                str(tmp / "f" / "md"),
            ],
            [str(tmp / "f")],
        ),
        "model: empty file": corrupt_model(b"", []),
        "model: text file": corrupt_model(b"this is not a model\n", []),
        "model: zip of nothing": corrupt_model(b"PK\x05\x06" + bytes(18), []),
        "model: truncated": truncated_model,
        "model: foreign dict": model_file(lambda p: {"weights": [1, 2, 3]}, ["not an equitools potential"]),
        "model: future format": model_file(lambda p: {**p, "format_version": 99}, ["format version 99"]),
        "model: no config": model_file(lambda p: {**p, "config": None}, ["config"]),
        "model: unknown architecture": model_file(
            lambda p: {**p, "config": {**p["config"], "model": "painn"}}, ["painn"]
        ),
        "model: bad config value": model_file(
            lambda p: {**p, "config": {**p["config"], "num_layers": -1}}, ["num_layers"]
        ),
        "model: weight of wrong shape": model_file(
            lambda p: edit_state(p, next(iter(p["state_dict"])), torch.zeros(7, 7)), ["weights"]
        ),
        "model: missing weights": model_file(lambda p: {**p, "state_dict": {}}, ["missing"]),
        "model: NaN weights": nan_weights_model,
        "model: foreign dict (md)": model_file(lambda p: [1, 2], ["not an equitools potential"], command="md"),
        "evaluate: missing data": lambda tmp, a: (
            ["evaluate", str(a / "model.pt"), str(tmp / "none.npz")],
            [str(tmp / "none.npz")],
        ),
        "evaluate: bad data": lambda tmp, a: (
            ["evaluate", str(a / "model.pt"), str(coincident_npz(tmp)), "-o", str(tmp / "e")],
            ["atoms 0 and 1"],
        ),
        "evaluate: unknown QM9 target": lambda tmp, a: (
            (tmp / "q.csv").write_text(HEADER + ROW)
            and ["evaluate", str(a / "model.pt"), str(tmp / "q.csv"), "--target", "energy", "-o", str(tmp / "e")],
            ["--target"],
        ),
        "evaluate: batch size zero": lambda tmp, a: (
            ["evaluate", str(a / "model.pt"), str(a / "good.npz"), "--batch-size", "0", "-o", str(tmp / "e")],
            ["--batch-size"],
        ),
        "evaluate: output under a file": lambda tmp, a: (
            (tmp / "f").write_text("x")
            and ["evaluate", str(a / "model.pt"), str(a / "good.npz"), "-o", str(tmp / "f" / "e")],
            [str(tmp / "f")],
        ),
        "evaluate: wrong architecture": lambda tmp, a: (
            ["evaluate", str(a / "model.pt"), str(a / "good.npz"), "--model", "escn", "-o", str(tmp / "e")],
            ["escn"],
        ),
        "ict: rank 0": lambda tmp, a: (["ict", "--rank", "0"], ["--rank"]),
        "ict: rank text": lambda tmp, a: (["ict", "--rank", "two"], ["--rank"]),
        "ict: output under a file": lambda tmp, a: (
            (tmp / "f").write_text("x") and ["ict", "--rank", "2", "--out", str(tmp / "f" / "r2.npz")],
            [str(tmp / "f")],
        ),
        "ict: unknown dtype": lambda tmp, a: (["ict", "--dtype", "float16"], ["--dtype"]),
        "generate: zero frames": lambda tmp, a: (
            ["data", "generate", "ethanol", "-o", str(tmp / "g.npz"), "--frames", "0"],
            ["frames"],
        ),
        "generate: negative temperature": lambda tmp, a: (
            ["data", "generate", "ethanol", "-o", str(tmp / "g.npz"), "--temperature", "-5"],
            ["temperature"],
        ),
        "generate: unknown molecule": lambda tmp, a: (
            ["data", "generate", "unobtainium", "-o", str(tmp / "g.npz")],
            ["unobtainium"],
        ),
        "unknown command": lambda tmp, a: (["simulate"], ["simulate"]),
    }
)


def run_command(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse: usage line + one error line, exit code 2
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("case", COMMAND_CASES, ids=list(COMMAND_CASES))
def test_command_case(case, tmp_path, assets, capsys):
    argv, parts = COMMAND_CASES[case](tmp_path, assets)
    code, output = run_command(argv, capsys)
    assert isinstance(code, int) and code != 0, (code, output)
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if "error:" in line]
    assert len(errors) == 1, output
    for part in parts:
        assert part in errors[0], errors[0]


# ------------------------------------------------------------------------------ ICT file cases
@pytest.fixture(scope="module")
def ict_files(tmp_path_factory) -> dict[str, dict]:
    """The arrays of good dense, sparse and exact rank-3 files (as ``save`` writes them)."""
    root = tmp_path_factory.mktemp("ict")
    contents = {}
    for kind, options in {"dense": {}, "sparse": {"sparse": True}, "exact": {"exact": True}}.items():
        path = save_path_matrices(path_matrices(3, **options), root / f"{kind}.npz")
        with np.load(path) as archive:
            contents[kind] = {k: archive[k] for k in archive.files}
    return contents


def ict_case(kind, edit, parts, raw_metadata=None):
    """A copy of the good ``kind`` file after ``edit(arrays, metadata)`` (which edits in place or
    returns the new metadata); ``raw_metadata`` replaces the metadata text as is."""

    def case(tmp, files):
        arrays = {k: v.copy() for k, v in files[kind].items()}
        metadata = json.loads(str(arrays["metadata"]))
        result = edit(arrays, metadata)
        metadata = metadata if result is None else result
        arrays["metadata"] = np.array(json.dumps(metadata) if raw_metadata is None else raw_metadata)
        path = tmp / "bad.npz"
        np.savez(path, **arrays)
        return path, parts

    return case


def set_value(index, text):
    def edit(arrays, metadata):
        values = arrays["values"].astype(object)
        values[index] = text
        arrays["values"] = np.array([str(v) for v in values])

    return edit


def without(key, in_metadata=False):
    def edit(arrays, metadata):
        (metadata if in_metadata else arrays).pop(key)

    return edit


MARKER = "equitools-corpus-marker"

ICT_CASES = {
    "exact: code in a value": ict_case(
        "exact", set_value(0, f"__import__('os').system('touch {MARKER}')"), ["'values'"]
    ),
    "exact: lambda": ict_case("exact", set_value(1, "(lambda: 1)()"), ["'values'"]),
    "exact: attribute access": ict_case("exact", set_value(0, "sqrt.__globals__"), ["'values'"]),
    "exact: symbol": ict_case("exact", set_value(0, "x"), ["'values'"]),
    "exact: transcendental": ict_case("exact", set_value(0, "exp(1)"), ["'values'"]),
    "exact: float literal": ict_case("exact", set_value(0, "1e5"), ["'values'"]),
    "exact: root of a negative": ict_case("exact", set_value(0, "sqrt(-1)"), ["'values'"]),
    "exact: empty value": ict_case("exact", set_value(0, ""), ["'values'"]),
    "exact: division by zero": ict_case("exact", set_value(0, "1/0"), ["'values'"]),
    "exact: row out of range": ict_case("exact", lambda a, m: a.update(rows=a["rows"] + 100), ["'rows'"]),
    "exact: float rows": ict_case("exact", lambda a, m: a.update(rows=a["rows"] + 0.5), ["'rows'"]),
    "exact: values missing": ict_case("exact", without("values"), ["'values'"]),
    "dense: NaN entry": ict_case("dense", lambda a, m: a["matrix"].__setitem__((0, 0), np.nan), ["'matrix'"]),
    "dense: wrong shape": ict_case("dense", lambda a, m: a.update(matrix=a["matrix"][:5]), ["'matrix'"]),
    "sparse: infinite entry": ict_case("sparse", lambda a, m: a["data"].__setitem__(0, np.inf), ["'data'"]),
    "sparse: broken indptr": ict_case("sparse", lambda a, m: a.update(indptr=a["indptr"][::-1].copy()), ["CSR"]),
    "metadata: unknown kind": ict_case("dense", lambda a, m: m.update(kind="hologram"), ["kind"]),
    "metadata: missing kind": ict_case("dense", without("kind", in_metadata=True), ["kind"]),
    "metadata: missing dim": ict_case("dense", without("dim", in_metadata=True), ["dim"]),
    "metadata: a list": ict_case("dense", lambda a, m: [1, 2], ["'metadata'"]),
    "metadata: a string": ict_case("dense", lambda a, m: "dense", ["'metadata'"]),
    "metadata: other format": ict_case("dense", lambda a, m: m.update(format="e3nn/1"), ["format"]),
    "metadata: not JSON": ict_case("dense", lambda a, m: None, ["'metadata'"], raw_metadata="{oops"),
    "paths: wrong shape": ict_case("dense", lambda a, m: a.update(paths=a["paths"].reshape(-1)), ["'paths'"]),
}


@pytest.mark.parametrize("case", ICT_CASES, ids=list(ICT_CASES))
def test_ict_case(case, tmp_path, ict_files, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, parts = ICT_CASES[case](tmp_path, ict_files)
    with pytest.raises(PathMatricesFileError) as info:
        load_path_matrices(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for part in parts:
        assert part in message, message
    assert not (tmp_path / MARKER).exists()


def test_the_corpus_is_large_enough():
    """The README's reliability section quotes this tally: at least 100 cases in all."""
    assert len(COMMAND_CASES) + len(ICT_CASES) >= 100
