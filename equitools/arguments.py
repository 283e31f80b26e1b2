"""Range checks for numbers given by a user, shared by the library calls and the command line
(as argparse ``type`` functions, so a bad value ends with argparse's one-line message, exit 2)."""

from __future__ import annotations

import argparse
import math


def range_error(value: float, low: float, strict: bool = False, unit: str = "") -> str | None:
    """Why ``value`` is not a finite number >= ``low`` (> ``low`` if ``strict``), or None."""
    if math.isfinite(value) and (value > low or (value == low and not strict)):
        return None
    return f"must be {'>' if strict else '>='} {low}{unit}, got {value}"


def bounded(convert, low: float, strict: bool = False, unit: str = ""):
    """An argparse ``type``: ``convert(text)``, finite and >= ``low`` (> ``low`` if ``strict``)."""
    def parse(text: str):
        value = convert(text)
        if why := range_error(value, low, strict, unit):
            raise argparse.ArgumentTypeError(why)
        return value

    parse.__name__ = convert.__name__  # argparse's "invalid float value: 'x'"
    return parse
