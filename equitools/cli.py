"""The ``equitools`` command. Each subcommand is a module of :mod:`equitools.commands` with
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

from .extras import MissingExtraError

DESCRIPTION = (
    "Equivariant deep learning on atoms: irreducible Cartesian tensors, data sets, training "
    "machine-learning force fields, evaluating them and running molecular dynamics with them."
)
EPILOG = "Run 'equitools COMMAND --help' for the options of a command. New here? Try 'equitools demo --quick'."

COMMANDS = {
    "ict": "ICT path matrices of a rank-n Cartesian tensor: build, verify, save",
    "data": "data files: summarise one, or generate reference data with GFN2-xTB",
    "train": "train a potential from a YAML config (PyTorch Lightning)",
    "evaluate": "error metrics and a parity plot of a model on a data file",
    "md": "molecular dynamics with a trained model (ASE)",
    "bench": "list the benchmark suites, or run them",
    "demo": "train, evaluate and run MD on the embedded data in a few minutes",
}
"""Each subcommand (the module ``equitools.commands.<name>``) and its one-line help."""


def main(argv: list[str] | None = None) -> int:
    """Run ``equitools COMMAND ...`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="equitools", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(f"equitools.commands.{args.command}")
    command_parser = argparse.ArgumentParser(prog=f"equitools {args.command}", description=COMMANDS[args.command])
    module.add_arguments(command_parser)
    command_args = command_parser.parse_args(rest)
    try:
        return int(module.run(command_args) or 0)
    except KeyboardInterrupt:
        print(f"equitools {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, MissingExtraError) as err:  # bad input, an OS refusal, a missing extra: one line
        print(f"equitools {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 1


def one_line(err: BaseException) -> str:
    """``err``'s message on one line (ASE and numpy messages can span several)."""
    text = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    return text or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
