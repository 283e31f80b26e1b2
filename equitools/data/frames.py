"""Storage behind every dataset: frames of atoms concatenated into flat tensors."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import torch


@dataclass
class Frames:
    """``n`` frames with ``A_i`` atoms each, in library units, float64.

    z: ``(ΣA_i,)`` long; pos: ``(ΣA_i, 3)`` Å; ptr: ``(n + 1,)`` long, frame ``i`` owns atoms
    ``ptr[i]:ptr[i+1]``; energy: ``(n,)`` eV or None; forces: ``(ΣA_i, 3)`` eV/Å or None;
    graph: other per-frame fields, each with leading dimension ``n`` (targets, cell, pbc, ...).
    """

    z: torch.Tensor
    pos: torch.Tensor
    ptr: torch.Tensor
    energy: torch.Tensor | None = None
    forces: torch.Tensor | None = None
    graph: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.ptr.numel() - 1

    @classmethod
    def from_fixed(
        cls,
        z: np.ndarray,
        pos: np.ndarray,
        energy: np.ndarray | None = None,
        forces: np.ndarray | None = None,
        graph: dict[str, np.ndarray] | None = None,
    ) -> Frames:
        """Frames of one composition: z ``(A,)``, pos/forces ``(N, A, 3)``, energy ``(N,)``."""
        n, a = pos.shape[:2]
        return cls(
            z=torch.as_tensor(np.asarray(z, dtype=np.int64)).repeat(n),
            pos=_float(pos).reshape(n * a, 3),
            ptr=torch.arange(n + 1, dtype=torch.long) * a,
            energy=None if energy is None else _float(energy),
            forces=None if forces is None else _float(forces).reshape(n * a, 3),
            graph={
                k: _float(v) if np.asarray(v).dtype.kind == "f" else torch.as_tensor(np.asarray(v))
                for k, v in (graph or {}).items()
            },
        )

    @classmethod
    def concatenate(cls, parts: list[Frames]) -> Frames:
        """Frames of all ``parts`` in order (they must carry the same fields)."""
        if not parts:
            raise ValueError("no frames to concatenate")
        sizes = torch.cat([torch.zeros(1, dtype=torch.long)] + [p.ptr[1:] - p.ptr[:-1] for p in parts])

        def cat(getter):
            values = [getter(p) for p in parts]
            return None if values[0] is None else torch.cat(values)

        return cls(
            z=cat(lambda p: p.z),
            pos=cat(lambda p: p.pos),
            ptr=torch.cumsum(sizes, 0),
            energy=cat(lambda p: p.energy),
            forces=cat(lambda p: p.forces),
            graph={k: cat(lambda p, k=k: p.graph[k]) for k in parts[0].graph},
        )

    def to_dict(self) -> dict:
        """Plain tensors, for ``torch.save`` (loads with ``weights_only=True``): every field by
        name, ``graph`` a copy."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "graph": dict(self.graph)}

    @classmethod
    def from_dict(cls, d: dict) -> Frames:
        """The inverse of :meth:`to_dict`."""
        return cls(**d)


def _float(a) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float64))
