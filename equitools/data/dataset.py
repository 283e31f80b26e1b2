"""``AtomsDataset``: frames as ``torch_geometric.data.Data``, the base of every loader; and
``CachedDataset``, the base of the loaders that read files: the one place of the options they
share (``transform``, ``dtype``, ``cache_dir``, ``use_cache``, ``min_distance``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from .cache import load_or_build
from .frames import Frames
from .validate import MIN_DISTANCE


class AtomsDataset(torch.utils.data.Dataset):
    """Indexable frames; ``dataset[i]`` is a ``Data`` with

    ``z`` ``(A,)`` long, ``pos`` ``(A, 3)`` Å, ``energy`` ``(1,)`` eV (float64: totals of
    10⁴ eV lose meV in float32), ``forces`` ``(A, 3)`` eV/Å, and every per-frame field of the
    store with a leading dimension 1 (targets ``(1,)``, ``cell`` ``(1, 3, 3)``, ...). ``pos``,
    ``forces`` and ``cell`` have ``dtype`` (default float32); other targets stay
    float64. ``dataset[[i, j, ...]]`` / ``dataset[a:b]`` / ``subset(indices)`` give a view.
    A boolean mask of length ``len(dataset)`` selects too. ``metadata`` says where the data
    came from and in which units each field is.
    Works with ``torch_geometric.loader.DataLoader``.
    """

    def __init__(
        self,
        frames: Frames,
        metadata: dict,
        *,
        transform: Callable[[Data], Data] | None = None,
        dtype: torch.dtype | None = None,
    ):
        dtype = dtype or torch.float32
        self.frames = frames
        self.metadata = metadata
        self.transform = transform
        self.dtype = dtype
        self._pos = frames.pos.to(dtype)
        self._forces = None if frames.forces is None else frames.forces.to(dtype)
        self._graph = {k: v.to(dtype) if k == "cell" else v for k, v in frames.graph.items()}
        self._ptr = frames.ptr.tolist()
        self._indices: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.frames) if self._indices is None else self._indices.numel()

    @property
    def indices(self) -> torch.Tensor:
        """Positions of this view's frames in the underlying store, ``(len(self),)`` long."""
        return torch.arange(len(self.frames)) if self._indices is None else self._indices

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) or (torch.is_tensor(index) and index.dim() == 0):
            return self.get(int(index))
        if isinstance(index, slice):
            return self.subset(self.indices[index])
        if isinstance(index, (Sequence, np.ndarray, torch.Tensor)):
            return self.subset(index)
        raise TypeError(f"cannot index an AtomsDataset with {type(index).__name__}")

    def get(self, i: int) -> Data:
        """Frame ``i`` of this view (negative counts from the end) as ``Data``."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for a dataset of {n} frames")
        k = int(self._indices[i % n]) if self._indices is not None else i % n
        a, b = self._ptr[k], self._ptr[k + 1]
        # copies of what a transform might edit in place (augmentation, centring), so that it
        # cannot change the stored frames; the rest are views
        fields = {"z": self.frames.z[a:b], "pos": self._pos[a:b].clone()}
        if self.frames.energy is not None:
            fields["energy"] = self.frames.energy[k : k + 1].clone()
        if self._forces is not None:
            fields["forces"] = self._forces[a:b].clone()
        fields.update((key, value[k : k + 1]) for key, value in self._graph.items())
        data = Data(**fields)
        return data if self.transform is None else self.transform(data)

    def subset(self, indices) -> AtomsDataset:
        """A view on the frames at ``indices`` (positions in this view; any order, may repeat)."""
        idx = torch.as_tensor(np.asarray(indices))
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise IndexError(f"a boolean mask must have shape ({len(self)},), got {tuple(idx.shape)}")
            idx = idx.nonzero()
        idx = idx.to(torch.long).reshape(-1)
        n = len(self)
        if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise IndexError(f"indices out of range for a dataset of {n} frames")
        view = copy.copy(self)
        view._indices = self.indices[idx % max(n, 1)]
        return view

    @property
    def energies(self) -> torch.Tensor | None:
        """Energies of this view's frames, ``(len(self),)`` float64 eV (None without energies)."""
        return None if self.frames.energy is None else self.frames.energy[self.indices]

    @property
    def n_atoms(self) -> torch.Tensor:
        """Atoms per frame of this view, ``(len(self),)`` long."""
        return (self.frames.ptr[1:] - self.frames.ptr[:-1])[self.indices]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} frames, source={self.metadata.get('source')!r})"


class CachedDataset(AtomsDataset):
    """The frames ``build(min_distance)`` reads from the files ``sources``, through the cache.

    For a loader: kind, sources, options: the cache key (:func:`~equitools.data.cache.load_or_build`;
    ``min_distance`` is added to ``options``); build: ``min_distance -> (frames, metadata)``, which
    reads, checks and converts ``sources``; metadata: entries added to the built metadata that the
    frames do not depend on (the molecule, the split), not cached.

    For a user, the keyword arguments every file loader takes: transform, dtype: as
    :class:`AtomsDataset`; cache_dir: where processed frames are kept (default
    :func:`~equitools.data.cache.default_cache_dir`); use_cache: False to neither read nor write
    the cache; min_distance: the closest two atoms of a frame may be, in Å (a closer frame is
    rejected as broken; 0 disables).
    """

    def __init__(
        self,
        kind: str,
        sources: list[Path],
        options: dict,
        build: Callable[[float], tuple[Frames, dict]],
        metadata: dict | None = None,
        *,
        transform: Callable[[Data], Data] | None = None,
        dtype: torch.dtype | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        min_distance: float = MIN_DISTANCE,
    ):
        options = {**options, "min_distance": min_distance}
        frames, built = load_or_build(kind, sources, options, lambda: build(min_distance), cache_dir, use_cache)
        super().__init__(frames, {**built, **(metadata or {})}, transform=transform, dtype=dtype)
