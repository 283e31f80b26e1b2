"""Potentials: a representation + readout → energy, forces (= -∂E/∂pos), stress.

``build(config)`` from a plain dict (``{"model": "tensornet" | "escn" | "freecg", ...}``, every
other key optional with the published defaults), ``model(batch)`` on a ``torch_geometric`` batch,
``save(model, path)`` / ``load(path)`` as one file (config + weights + library version);
``register_model(name, representation, defaults)`` makes a representation of your own one more
``"model"`` for all of these and for ``equitools.train``.

Inference can run under ``torch.compile`` (``torch.compile(model.eval())``): the result equals
eager mode (tested; the ``so3`` and ``tp`` calls run eagerly inside the compiled model). Training
with force losses needs a double backward, which ``torch.compile`` does not support: train eagerly.
"""

from .checks import GeometryError
from .io import load, save
from .potential import Potential
from .registry import COMMON_DEFAULTS, MODEL_DEFAULTS, MODELS, build, default_config, register_model

__all__ = [
    "COMMON_DEFAULTS",
    "GeometryError",
    "MODEL_DEFAULTS",
    "MODELS",
    "Potential",
    "build",
    "default_config",
    "load",
    "register_model",
    "save",
]
