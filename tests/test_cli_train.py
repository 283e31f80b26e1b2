"""The commands train / evaluate / md / demo / bench, end to end on the embedded data, and their
errors for a missing file, a bad config key and a checkpoint of another model."""

from __future__ import annotations

import json

import pytest
import yaml

from equitools.cli import main
from equitools.models import build, save
from equitools.paths import EMBEDDED_DATA

DATA = EMBEDDED_DATA / "ethanol_xtb_500K.npz"
TINY = {
    "model": {"model": "tensornet", "hidden_channels": 4, "num_layers": 1, "num_rbf": 4, "cutoff": 4.0},
    "data": {"format": "embedded", "n_train": 30, "n_val": 10, "n_test": 10, "batch_size": 10},
    "training": {"max_epochs": 1, "lr_warmup_steps": 0},
    "trainer": {"progress_bar": False, "accelerator": "cpu", "num_threads": 1},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    out = root / "run"
    assert main(["train", str(config), f"output.dir={out}", "training.max_epochs=2", "--no-progress"]) == 0
    return root, config, out


def test_train_with_overrides(trained, capsys):
    root, config, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2  # the override, not the file's 1
    assert yaml.safe_load((out / "config.yaml").read_text())["training"]["max_epochs"] == 2


def test_evaluate_prints_a_table_and_writes_a_parity_plot(trained, capsys):
    root, config, out = trained
    assert main(["evaluate", str(out / "model.pt"), str(DATA), "--limit", "20", "-o", str(root / "eval")]) == 0
    text = capsys.readouterr().out
    assert "energy" in text and "forces" in text and "meV/Å" in text
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    assert metrics["n_frames"] == 20 and metrics["forces_mae"] > 0
    assert (root / "eval" / "parity.png").stat().st_size > 10_000
    # the run folder and the Lightning checkpoint give the same model
    assert (
        main(
            [
                "evaluate",
                str(out / "checkpoints" / "last.ckpt"),
                str(DATA),
                "--limit",
                "20",
                "-o",
                str(root / "eval_ckpt"),
            ]
        )
        == 0
    )
    again = json.loads((root / "eval_ckpt" / "metrics.json").read_text())
    assert again["forces_mae"] != pytest.approx(0) and again["n_frames"] == 20


def test_md_writes_trajectory_report_and_plot(trained, capsys):
    root, config, out = trained
    assert (
        main(
            [
                "md",
                str(out),
                str(DATA),
                "--steps",
                "20",
                "--interval",
                "5",
                "--timestep",
                "0.25",
                "-o",
                str(root / "md"),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "NVE total-energy drift" in text and "temperature" in text
    report = json.loads((root / "md" / "md_report.json").read_text())
    assert report["steps"] == 20 and report["n_atoms"] == 9
    assert (root / "md" / "md.traj").is_file() and (root / "md" / "md_energy.png").is_file()


def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "-o", str(tmp_path), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "test (20 frames): energy MAE" in text and "NVE MD" in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["training"]["epochs"] == 2 and report["md"]["steps"] == 20
    for name in ("run/model.pt", "run/learning_curves.png", "parity.png", "md.traj", "md_energy.png"):
        assert (tmp_path / name).is_file(), name
    assert main(["demo", "--quick", "-o", str(tmp_path), "--no-progress"]) == 1  # will not overwrite a run
    assert "already holds a run" in capsys.readouterr().err


def test_errors_name_the_problem(trained, tmp_path, capsys):
    root, config, out = trained
    assert main(["train", str(tmp_path / "missing.yaml")]) == 1
    assert "no config file" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "training": {"max_epoch": 3}}))
    assert main(["train", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "max_epoch" in err and "max_epochs" in err and "valid keys" in err
    assert main(["train", str(config), "training.lr"]) == 1
    assert "section.key=value" in capsys.readouterr().err
    # a checkpoint of another architecture / another file
    assert main(["evaluate", str(out / "model.pt"), str(DATA), "--model", "escn", "-o", str(tmp_path)]) == 1
    assert "holds a 'tensornet' model, not 'escn'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "none.pt"), str(DATA)]) == 1
    assert "no model file" in capsys.readouterr().err
    assert main(["evaluate", str(out / "model.pt"), str(tmp_path / "none.npz")]) == 1
    assert "no data file" in capsys.readouterr().err
    assert main(["md", str(out / "model.pt"), str(tmp_path / "none.xyz")]) == 1
    assert "no structure file" in capsys.readouterr().err
    # resuming a run with a config for another model
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**TINY, "model": {**TINY["model"], "num_layers": 2}}))
    assert (
        main(["train", str(other), f"output.dir={tmp_path / 'r'}", "--resume", str(out / "checkpoints" / "last.ckpt")])
        == 1
    )
    assert "num_layers: 1 in the checkpoint, 2 in the config" in capsys.readouterr().err


def test_a_model_file_is_not_a_training_checkpoint(trained, tmp_path, capsys):
    root, config, out = trained
    save(build(TINY["model"]), tmp_path / "model.pt")
    assert main(["train", str(config), f"output.dir={tmp_path / 'r'}", "--resume", str(tmp_path / "model.pt")]) == 1
    assert "not an equitools training checkpoint (an exported model file" in capsys.readouterr().err


def test_bench_lists_the_benchmarks(capsys):
    assert main(["bench", "--list"]) == 0
    assert "ict" in capsys.readouterr().out
    assert main(["bench", "nonexistent"]) == 1
    assert "unknown benchmark" in capsys.readouterr().err
