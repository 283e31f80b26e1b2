"""Progress bars only on a terminal: the one rule of every command that shows bars."""

from __future__ import annotations

import argparse
import sys


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (default: bars only when stderr is a terminal)"
    )


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to draw progress bars: stderr is a terminal and ``--no-progress`` is not given
    (a redirected log would fill up with bar updates)."""
    return not args.no_progress and sys.stderr.isatty()
