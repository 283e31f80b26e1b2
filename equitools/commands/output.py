"""The ``-o/--output DIR`` option of the commands that write a folder of results."""

from __future__ import annotations

import argparse


def add_output_option(parser: argparse.ArgumentParser, default: str, contents: str) -> None:
    """``-o/--output DIR``, default ``default``; ``contents`` says what the folder receives."""
    parser.add_argument("-o", "--output", default=default, metavar="DIR", help=f"{contents} (default {default})")
