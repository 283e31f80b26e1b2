"""Read one structure for a simulation: any file ``ase.io`` reads, or a frame of a data set
equitools loads (rMD17/MD17 ``.npz``, QM9)."""

from __future__ import annotations

from pathlib import Path

from ase import Atoms

from equitools.data.read import guess_format, read


def read_structure(path: str | Path, index: int = 0) -> Atoms:
    """Frame ``index`` of ``path`` (negative: from the end) as ``ase.Atoms``; clear errors for a
    missing file or frame."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no structure file at {path}")
    if guess_format(path) == "extxyz":  # read by ase.io itself: the Atoms keep cell, pbc, tags, ...
        import ase.io

        try:
            frames = ase.io.read(path, index=":")  # all of them: ase.io clamps a negative index
        except Exception as err:
            raise ValueError(
                f"{path}: ase.io cannot read a structure from this file ({type(err).__name__}: {err})"
            ) from err
    else:
        frames = read(path)
    if not -len(frames) <= index < len(frames):
        raise ValueError(f"{path}: no frame {index} (the file has {len(frames)})")
    frame = frames[index]
    if isinstance(frame, Atoms):
        return frame
    return Atoms(numbers=frame.z.numpy(), positions=frame.pos.double().numpy())
