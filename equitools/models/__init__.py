"""Potentials: a representation + readout → energy, forces (= -∂E/∂pos), stress.

``build(config)`` from a plain dict, ``save(model, path)`` / ``load(path)`` as one file.
"""

from .io import load, save
from .potential import Potential
from .registry import COMMON_DEFAULTS, MODEL_DEFAULTS, MODELS, build, default_config

__all__ = ["COMMON_DEFAULTS", "MODEL_DEFAULTS", "MODELS", "Potential", "build", "default_config", "load", "save"]
