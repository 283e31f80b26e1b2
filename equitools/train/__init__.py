"""Training on PyTorch Lightning: configs, data module, loss/metrics/EMA/schedules, atomic
checkpoints and resume, export to the ``equitools.models`` file format, evaluation and plots.

``train(load_config("configs/rmd17/tensornet/aspirin.yaml"))`` or ``equitools train CONFIG``.
Needs the 'train' extra (``pip install 'equitools[train]'``); inference does not (``equitools.models.load``).
"""

from equitools.extras import require

for _module in ("lightning", "torchmetrics", "tensorboard", "yaml"):  # the [train] extra, checked first
    require(_module, "train", "training (equitools.train)")
del _module

from .checkpoint import check_compatible, export_checkpoint, read_checkpoint
from .config import ConfigError, apply_overrides, default_config, load_config, resolve_config
from .data import AtomsDataModule, SelectTarget, load_datasets
from .evaluate import error_metrics, evaluate, predict
from .module import ForceFieldModule, TrainingDivergedError
from .references import fit_reference_energies, readout_scale
from .run import train

__all__ = [
    "AtomsDataModule",
    "ConfigError",
    "ForceFieldModule",
    "SelectTarget",
    "TrainingDivergedError",
    "apply_overrides",
    "check_compatible",
    "default_config",
    "error_metrics",
    "evaluate",
    "export_checkpoint",
    "fit_reference_energies",
    "load_config",
    "load_datasets",
    "predict",
    "read_checkpoint",
    "readout_scale",
    "resolve_config",
    "train",
]
