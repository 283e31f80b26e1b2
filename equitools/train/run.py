"""``train(config)``: one training run on PyTorch Lightning, from a resolved config to a run
folder::

    OUT/config.yaml                 the resolved config
    OUT/checkpoints/last.ckpt       Lightning checkpoint after every validated epoch (resume)
    OUT/checkpoints/best-epoch=EEEE.ckpt  the checkpoint with the lowest validation loss (epoch EEEE)
    OUT/logs/csv/version_K/metrics.csv  per-step/epoch metrics, one version per (resumed) segment
    OUT/logs/tensorboard/           TensorBoard event files
    OUT/model.pt                    the best (EMA) weights as an ``equitools.models`` file
    OUT/metrics.json                test and best validation metrics, sizes, timings
    OUT/learning_curves.png

Epochs are counted from 1 in the checkpoint names, ``metrics.json`` (``epochs``: how many ran)
and the plots; only Lightning's own logs (``metrics.csv``, the ``epoch`` inside a checkpoint)
count from 0.

The output folder is created and probed for writing before the data is read. A non-finite loss,
gradient or validation loss stops the run with :class:`TrainingDivergedError` and nothing is
exported. A resumed run repeats the uninterrupted one: the shuffle of epoch e depends on (seed,
e) only, and the checkpoint holds the optimiser, plateau-schedule, EMA and early-stopping state.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from equitools.models import save

from ..atomic import atomic_write_text
from .checkpoint import check_compatible
from .config import dump_config
from .data import AtomsDataModule, load_datasets
from .io import AtomicCheckpointIO, writable_folder
from .module import ForceFieldModule
from .references import fit_reference_energies, readout_scale


def train(
    config: dict[str, Any], resume: bool | str | None = None, callbacks: list | None = None, plots: bool = True
) -> dict[str, Any]:
    """Train as ``config`` (resolved by :func:`equitools.train.config.resolve_config`) says.

    resume: a Lightning checkpoint path, or True for ``OUT/checkpoints/last.ckpt``. A run folder
    that already holds checkpoints is only continued with ``resume``. ``trainer.progress_bar``:
    true, false, or "auto" (bars only when stderr is a terminal). Returns the metrics written
    to ``OUT/metrics.json`` (on the main process; other DDP processes return ``{}``).
    """
    started = time.time()
    out = Path(config["output"]["dir"])
    ckpt_path = _resume_path(out, resume)
    writable_folder(out, "output.dir")
    training = config["training"]
    if config["trainer"]["num_threads"]:
        torch.set_num_threads(int(config["trainer"]["num_threads"]))
    pl.seed_everything(training["seed"], workers=True, verbose=False)
    dtype = torch.float64 if config["model"]["dtype"] == "float64" else torch.float32
    splits, info = load_datasets(config["data"], dtype)
    use_forces = training["force_weight"] > 0
    if use_forces and not info["has_forces"]:
        raise ValueError(
            f"training.force_weight = {training['force_weight']} but the data ({info['source']}) has "
            "no forces; set training.force_weight=0"
        )
    max_z = config["model"]["max_z"]
    references = (
        fit_reference_energies(splits["train"], max_z)
        if training["reference_energies"] == "fit"
        else torch.zeros(max_z + 1, dtype=torch.float64)
    )
    scale, shift = readout_scale(splits["train"], references, use_forces, config["model"]["readout"])
    module = ForceFieldModule(config["model"], training, references.tolist(), scale, shift)
    if ckpt_path is not None:
        check_compatible(ckpt_path, config["model"])
    datamodule = AtomsDataModule(
        splits,
        config["data"]["batch_size"],
        config["data"]["val_batch_size"],
        config["data"]["num_workers"],
        seed=training["seed"],
    )
    checkpoint = _EpochFromOneCheckpoint(
        dirpath=out / "checkpoints",
        filename="best-{epoch:04d}",
        monitor="val_loss",
        mode="min",
        save_top_k=1,
        save_last=True,
    )
    progress_bar = config["trainer"]["progress_bar"]
    trainer = pl.Trainer(
        max_epochs=training["max_epochs"],
        max_time=None if training["max_time"] is None else {"minutes": float(training["max_time"])},
        accelerator=config["trainer"]["accelerator"],
        devices=config["trainer"]["devices"],
        num_nodes=config["trainer"]["num_nodes"],
        strategy=config["trainer"]["strategy"],
        precision="64-true" if dtype == torch.float64 else "32-true",
        inference_mode=False,
        callbacks=[
            checkpoint,
            EarlyStopping("val_loss", patience=training["early_stopping_patience"]),
            LearningRateMonitor("epoch"),
            *(callbacks or []),
        ],
        logger=[
            CSVLogger(out / "logs", name="csv", flush_logs_every_n_steps=1),
            TensorBoardLogger(out, name="logs", version="tensorboard"),
        ],
        plugins=[AtomicCheckpointIO()],
        default_root_dir=out,
        enable_progress_bar=sys.stderr.isatty() if progress_bar == "auto" else bool(progress_bar),
        enable_model_summary=False,
        log_every_n_steps=config["trainer"]["log_every_n_steps"],
        check_val_every_n_epoch=config["trainer"]["check_val_every_n_epoch"],
    )
    if trainer.is_global_zero:
        dump_config(config, out / "config.yaml")
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    last_val = {k.removeprefix("val_"): float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
    best = checkpoint.best_model_path or None
    tested = trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False)
    if not trainer.is_global_zero:
        return {}
    save(module.export(), out / "model.pt")
    metrics = {
        "test": {k.removeprefix("test_"): float(v) for k, v in tested[0].items()},
        "last_val": last_val,
        "best_val_loss": None if checkpoint.best_model_score is None else float(checkpoint.best_model_score),
        "epochs": trainer.current_epoch,
        "global_steps": trainer.global_step,
        "world_size": trainer.world_size,
        "wall_time_s": round(time.time() - started, 1),
        "best_checkpoint": best,
        "data": info,
        "units": {"energy": f"m{info['unit']}", "forces": f"m{info['unit']}/Å"},
        "model": config["model"]["model"],
        "parameters": sum(p.numel() for p in module.model.parameters()),
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, default=str))
    if plots:
        from .plots import plot_learning_curves

        plot_learning_curves(
            out / "logs" / "csv",
            out / "learning_curves.png",
            unit=info["unit"],
            title=f"{config['model']['model']} on {info['format']} data ({info['target']}), "
            f"{info['sizes']['train']} training frames",
        )
    return metrics


class _EpochFromOneCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose file names count epochs from 1 (``best-epoch=0001.ckpt`` holds the
    first epoch), as ``metrics.json`` and the plots do."""

    def format_checkpoint_name(self, metrics, filename=None, ver=None, prefix=None) -> str:
        if "epoch" in metrics:
            metrics = {**metrics, "epoch": metrics["epoch"] + 1}
        return super().format_checkpoint_name(metrics, filename, ver, prefix)

    @property
    def state_key(self) -> str:
        """``ModelCheckpoint``'s key, so that checkpoints written before this class still resume."""
        return "ModelCheckpoint" + super().state_key.removeprefix(type(self).__qualname__)


def _resume_path(out: Path, resume: bool | str | None) -> str | None:
    last = out / "checkpoints" / "last.ckpt"
    if resume is None or resume is False:
        if last.exists():
            raise FileExistsError(
                f"{out} already holds a run ({last}); resume it (--resume) or choose another output.dir"
            )
        return None
    path = last if resume is True else Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from at {path}")
    return str(path)
