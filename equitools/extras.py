"""Optional dependencies (the package's extras): imported or located through :func:`require` and
:func:`locate`, which fail with one line naming the ``pip install`` to run."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


def _missing(module: str, extra: str, purpose: str, cause: str) -> MissingExtraError:
    return MissingExtraError(
        f"{purpose} needs the {extra!r} extra: pip install 'equitools[{extra}]' ({cause})", name=module
    )


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import and return ``module``; :class:`MissingExtraError` if it (or what it imports) is
    missing, e.g. ``require("vesin", "periodic", "the periodic neighbour list")``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise _missing(module, extra, purpose, str(err)) from err


def locate(package: str, extra: str, purpose: str) -> Path:
    """The folder of the installed ``package``, found without importing it (for data-only
    packages); :class:`MissingExtraError` if it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(package, extra, purpose, f"no package {package!r}")
    return Path(next(iter(spec.submodule_search_locations)))
