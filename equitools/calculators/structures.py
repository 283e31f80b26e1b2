"""Read one structure for a simulation: any file ``ase.io`` reads, or a frame of a data set
equitools loads (rMD17/MD17 ``.npz``, QM9)."""

from __future__ import annotations

from pathlib import Path

from ase import Atoms


def read_structure(path: str | Path, index: int = 0) -> Atoms:
    """Frame ``index`` of ``path`` as ``ase.Atoms``; clear errors for a missing file or frame."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no structure file at {path}")
    if path.suffix == ".npz" or path.suffix == ".csv":
        from equitools.data.command import load

        dataset = load(path)
        if not -len(dataset) <= index < len(dataset):
            raise ValueError(f"{path}: no frame {index} (the file has {len(dataset)})")
        data = dataset[index]
        return Atoms(numbers=data.z.numpy(), positions=data.pos.double().numpy())
    import ase.io

    try:
        return ase.io.read(path, index=index)
    except IndexError as err:
        raise ValueError(f"{path}: no frame {index}") from err
    except Exception as err:
        raise ValueError(f"{path}: ase.io cannot read a structure from this file "
                         f"({type(err).__name__}: {err})") from err
