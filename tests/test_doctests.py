"""The ``>>>`` examples in the docstrings of equitools.so3, ict, tp, nn and models run and print
what they say, and every public name of so3, ict and tp has at least one."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["equitools.so3", "equitools.ict", "equitools.tp"]  # every public name has an example
RUN = PACKAGES + ["equitools.nn", "equitools.models"]  # the examples there run too
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def modules(package: str) -> list[str]:
    """The package and every module in it."""
    root = importlib.import_module(package)
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules(root.__path__)]


@pytest.mark.parametrize("name", [m for p in RUN for m in modules(p)])
def test_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS, verbose=False, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_has_an_example(package):
    module = importlib.import_module(package)
    parser = doctest.DocTestParser()
    missing = [name for name in module.__all__ if not parser.get_examples(getattr(module, name).__doc__ or "")]
    assert not missing, f"{package}: no >>> example in the docstring of {missing}"
