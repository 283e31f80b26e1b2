"""Data-parallel training: 2 CPU processes on the gloo backend, launched by Lightning from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml

from equitools.train import evaluate, load_datasets, resolve_config
from equitools.train.checkpoint import load_potential

CONFIG = {
    "model": {"model": "tensornet", "hidden_channels": 4, "num_layers": 1, "num_rbf": 4, "cutoff": 4.0},
    "data": {"format": "embedded", "n_train": 40, "n_val": 9, "n_test": 9, "batch_size": 10},
    "training": {"max_epochs": 2, "lr_warmup_steps": 0},
    "trainer": {"progress_bar": False, "accelerator": "cpu", "devices": 2, "strategy": "ddp", "num_threads": 1},
}


@pytest.mark.slow
def test_two_process_gloo_ddp(tmp_path):
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "output": {"dir": str(tmp_path / "run")}}))
    done = subprocess.run(
        [sys.executable, "-m", "equitools.cli", "train", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    # each process sees half of the 40 frames: 2 batches of 10 per epoch, not 4
    assert metrics["global_steps"] == 2 * 2
    # 9 test frames on 2 processes: each counted once (no padding), so the DDP test metrics equal
    # a single-process evaluation of the exported model
    resolved = resolve_config(CONFIG)
    splits, _ = load_datasets(resolved["data"], torch.float32)
    single = evaluate(load_potential(tmp_path / "run" / "model.pt"), splits["test"], batch_size=9)
    assert single["n_frames"] == 9
    for key in ("energy_mae", "forces_mae", "forces_rmse"):
        assert metrics["test"][key] == pytest.approx(single[key], rel=1e-4), key
