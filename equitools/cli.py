"""The ``equitools`` command. Each subcommand lives in the package it belongs to and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "ict": ("equitools.ict.command", "ICT path/decomposition matrices: build, verify, save"),
    "data": ("equitools.data.command", "data sets: inspect, generate reference data with GFN2-xTB"),
    "train": ("equitools.train.command_train", "train a potential from a YAML config (PyTorch Lightning)"),
    "evaluate": ("equitools.train.command_evaluate", "error metrics and a parity plot of a model on a data file"),
    "md": ("equitools.calculators.command_md", "molecular dynamics with a trained model (ASE)"),
    "bench": ("equitools.train.command_bench", "run the benchmarks in benchmarks/"),
    "demo": ("equitools.demo", "train, evaluate and run MD on the embedded data in a few minutes"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="equitools", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        modules[name] = module_name
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(modules[args.command])
    command_parser = argparse.ArgumentParser(prog=f"equitools {args.command}", description=COMMANDS[args.command][1])
    module.add_arguments(command_parser)
    command_args = command_parser.parse_args(rest)
    try:
        return int(module.run(command_args) or 0)
    except KeyboardInterrupt:
        print(f"equitools {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:  # bad input or an OS refusal: one line, no traceback
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
