"""The data side of training: datasets from the ``data`` section of a config, the
train/validation/test split, and a ``LightningDataModule`` that batches them.

Formats and the default ``data.path`` of each:

- ``rmd17``: the folder holding ``rmd17_<molecule>_{train,test}_0<k>.npz`` or the release
  (default: the shared data folder); train and validation come from the official split's
  train file, the test set is its test file. A ``.npz`` path is read as one rMD17-schema file.
- ``md17`` / ``extxyz``: one file (required).
- ``qm9``: a qm9pack CSV or a raw folder, or ``qm9pack`` for all molecules of the installed
  qm9pack (default: the shared 3,000-molecule sample); ``data.target`` is learnt as the
  "energy" (default U0).
- ``embedded``: a data set shipped in the repository (default ``ethanol_xtb_500K``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DistributedSampler
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from equitools import data as datasets
from equitools.paths import shared_data_dir


class SelectTarget:
    """Transform: put the per-graph property ``name`` (``(1,)``) in ``data.energy``."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, data: Data) -> Data:
        data.energy = data[self.name]
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def load_datasets(section: dict[str, Any], dtype: torch.dtype) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({"train", "val", "test"}: datasets, info)`` for a resolved ``data`` section.

    ``info``: ``source``, ``target`` and ``unit`` (the unit of the learnt "energy"),
    ``has_forces``. Raises ``FileNotFoundError`` naming the missing file or folder.
    """
    fmt = section["format"]
    transform, target, unit = None, "energy", "eV"
    if fmt == "qm9":
        target = section["target"] or "U0"
        if target not in datasets.QM9.targets:
            raise ValueError(f"data.target {target!r} is not a QM9 target; valid targets: {list(datasets.QM9.targets)}")
        transform, unit = SelectTarget(target), datasets.QM9.units[target]
    main, test = _read(fmt, section, transform, dtype)
    sizes = [section["n_train"], section["n_val"]]
    if test is None:
        sizes.append(section["n_test"])
    parts = datasets.split_dataset(main, sizes, seed=section["seed"])
    splits = {"train": parts[0], "val": parts[1], "test": test if test is not None else parts[2]}
    if section["n_test"] is not None and test is not None:
        splits["test"] = test[: section["n_test"]]
    has_forces = main.frames.forces is not None
    info = {
        "source": main.metadata.get("source"),
        "format": fmt,
        "target": target,
        "unit": unit,
        "has_forces": has_forces,
        "sizes": {k: len(v) for k, v in splits.items()},
    }
    return splits, info


def _read(fmt: str, section: dict[str, Any], transform, dtype):
    """``(main, test)`` data sets of a ``data`` section; ``test`` is None when the split of
    ``main`` provides it."""
    path = section["path"]
    options = {"transform": transform, "dtype": dtype, "min_distance": section["min_distance"]}
    if fmt == "extxyz":
        options["energy_unit"] = section["energy_unit"]
    if fmt == "embedded":
        main = datasets.embedded(path or "ethanol_xtb_500K", **options)
    elif fmt == "rmd17" and Path(path or "").suffix != ".npz":
        root = Path(path) if path else _shared("rmd17")
        main = datasets.RMD17(root, section["molecule"], "train", section["split_index"], **options)
        if not section["test_path"]:
            return main, datasets.RMD17(root, section["molecule"], "test", section["split_index"], **options)
    elif fmt == "qm9" and (not path or path == "qm9pack"):  # the installed qm9pack, or the shared sample
        main = datasets.QM9(None if path else _shared("qm9") / "qm9" / "qm9_sample_3000.csv", **options)
    else:
        main = datasets.read(_required(path, fmt), fmt, **options)
    file_format = "rmd17" if fmt == "embedded" else fmt  # the embedded sets are rMD17-schema files
    test = datasets.read(section["test_path"], file_format, **options) if section["test_path"] else None
    return main, test


def _shared(name: str) -> Path:
    root = shared_data_dir()
    if root is None:
        raise FileNotFoundError(
            f"data.path is not set and there is no shared data folder for {name} (set EQUITOOLS_DATA or data.path)"
        )
    return root


def _required(path, fmt: str) -> str:
    if not path:
        raise ValueError(f"data.format {fmt!r} needs data.path (the data file)")
    return path


def _world() -> tuple[int, int]:
    """``(world size, rank)`` of this process: ``(1, 0)`` outside ``torch.distributed``."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


def training_sampler(dataset, seed: int) -> DistributedSampler:
    """The shuffle of the training set: epoch ``e``'s order is a pure function of ``(seed, e)``
    (Lightning calls ``set_epoch`` before each epoch), so a resumed run sees the batches of the
    uninterrupted one; under DDP each rank takes its shard of that permutation."""
    replicas, rank = _world()
    return DistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=True, seed=seed)


class EvaluationSampler(DistributedSampler):
    """Every frame exactly once across the processes (rank r takes frames r, r + W, ...).

    Lightning's own distributed sampler pads the data set to a multiple of the world size, so
    validation and test metrics would count some frames twice; this one does not pad (ranks may
    get one frame more or less), and being a ``DistributedSampler`` Lightning leaves it in place.
    """

    def __init__(self, dataset):
        replicas, rank = _world()
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=False, drop_last=False)
        self.indices = list(range(rank, len(dataset), replicas))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class AtomsDataModule(pl.LightningDataModule):
    """Batches of the train/val/test views (``torch_geometric`` ``DataLoader``): training
    shuffled by :func:`training_sampler`, validation and test by :class:`EvaluationSampler`
    (both shard across DDP processes)."""

    def __init__(
        self, splits: dict[str, Any], batch_size: int, val_batch_size: int, num_workers: int = 0, seed: int = 0
    ):
        super().__init__()
        self.splits = splits
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        self.seed = seed

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.splits["train"],
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            sampler=training_sampler(self.splits["train"], self.seed),
        )

    def val_dataloader(self) -> DataLoader:
        return self._evaluation_loader(self.splits["val"])

    def test_dataloader(self) -> DataLoader:
        return self._evaluation_loader(self.splits["test"])

    def _evaluation_loader(self, dataset) -> DataLoader:
        return DataLoader(
            dataset, batch_size=self.val_batch_size, num_workers=self.num_workers, sampler=EvaluationSampler(dataset)
        )
