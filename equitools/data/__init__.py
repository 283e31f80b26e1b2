"""Data: loaders for the published formats (rMD17, MD17, QM9, extxyz/ASE), units, splits,
neighbour graphs, and reference-data generation with GFN2-xTB.

Every dataset yields ``torch_geometric.data.Data`` in Å, eV and eV/Å (other targets in the
units listed in ``dataset.metadata["units"]``), reads the files as published, caches the
processed form (rebuilt when a source changes) and rejects bad input with a
:class:`DataFormatError` naming the file and the key, frame or line.
"""

from equitools.paths import EMBEDDED_DATA

from .cache import default_cache_dir
from .dataset import AtomsDataset
from .errors import DataFormatError
from .extxyz import ExtXYZ
from .frames import Frames
from .graphs import RadiusGraph, edge_vectors, periodic_neighbour_list
from .md17 import MD17, read_md17
from .qm9 import QM9
from .read import guess_format, read
from .rmd17 import RMD17, official_split, read_rmd17
from .splits import random_split, read_index_file, split_dataset
from .units import HARTREE, KCAL_PER_MOL

EMBEDDED = {"ethanol_xtb_500K": EMBEDDED_DATA / "ethanol_xtb_500K.npz"}
"""Data sets shipped with the package (the checkout's ``data/`` folder; see ``data/README.md``)."""


def embedded(name: str = "ethanol_xtb_500K", **options) -> AtomsDataset:
    """A data set shipped with equitools (default: 1,000 frames of ethanol, GFN2-xTB MD at
    500 K), loaded like any rMD17 file; ``options`` as :func:`read_rmd17`."""
    if name not in EMBEDDED:
        raise KeyError(f"no embedded data set {name!r}; available: {', '.join(EMBEDDED)}")
    return read_rmd17(EMBEDDED[name], **options)


__all__ = [
    "AtomsDataset",
    "DataFormatError",
    "ExtXYZ",
    "Frames",
    "MD17",
    "QM9",
    "RMD17",
    "RadiusGraph",
    "EMBEDDED",
    "HARTREE",
    "KCAL_PER_MOL",
    "default_cache_dir",
    "edge_vectors",
    "embedded",
    "official_split",
    "guess_format",
    "periodic_neighbour_list",
    "random_split",
    "read",
    "read_index_file",
    "read_md17",
    "read_rmd17",
    "split_dataset",
]
