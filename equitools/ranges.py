"""The type and range of a number a user gives (config values, command-line options, keyword
arguments): one spec, :class:`Number`, checked the same way everywhere, with messages such as
``"must be an integer >= 1, got 1.5"``. :func:`argument` makes it an argparse ``type``, so a bad
option ends with argparse's one-line message (exit 2)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Number:
    """An integer or a finite float within bounds (inclusive unless ``open_*``), in ``unit``."""

    kind: type  # int or float; a float value must be finite, a bool is not a number
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    optional: bool = False  # None allowed
    unit: str = ""

    def problem(self, value: Any) -> str | None:
        """None when ``value`` fits, else what it must be (``"must be an integer >= 1"``)."""
        if value is None and self.optional:
            return None
        fits = isinstance(value, int if self.kind is int else (int, float)) and not isinstance(value, bool)
        fits = fits and math.isfinite(value)
        if fits and self.low is not None:
            fits = value > self.low if self.open_low else value >= self.low
        if fits and self.high is not None:
            fits = value < self.high if self.open_high else value <= self.high
        return None if fits else f"must be {self}"

    def check(self, name: str, value: Any) -> None:
        """Raise ``ValueError("<name> must be ..., got <value>")`` when ``value`` does not fit."""
        if problem := self.problem(value):
            raise ValueError(f"{name} {problem}, got {value!r}")

    def __str__(self) -> str:
        text = "an integer" if self.kind is int else "a finite number"
        if self.high is not None:
            text += f" in {'(' if self.open_low else '['}{self.low}, {self.high}{')' if self.open_high else ']'}"
        elif self.low is not None:
            text += f" {'>' if self.open_low else '>='} {self.low}"
        text += f" {self.unit}" if self.unit else ""
        return text + (" or null" if self.optional else "")


COUNT = Number(int, 1)
NON_NEGATIVE_INT = Number(int, 0)
POSITIVE = Number(float, 0, open_low=True)
NON_NEGATIVE = Number(float, 0)


def argument(spec: Number):
    """An argparse ``type`` that converts with ``spec.kind`` and checks the range of ``spec``."""

    def parse(text: str):
        value = spec.kind(text)
        if problem := spec.problem(value):
            raise argparse.ArgumentTypeError(f"{problem}, got {value!r}")
        return value

    parse.__name__ = spec.kind.__name__  # argparse's "invalid float value: 'x'"
    return parse
