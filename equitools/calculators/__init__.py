"""ASE integration: the :class:`EquiCalculator` and molecular dynamics with it.

Names are imported on first use, so that ``equitools.calculators.md_arguments`` (read by the
command line) loads without ASE or torch.
"""

from importlib import import_module

_EXPORTS = {"EquiCalculator": ".ase", "MDReport": ".md", "run_md": ".md"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name], __name__), name)
