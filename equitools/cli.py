"""The ``equitools`` command. Each subcommand lives in the package it belongs to and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "ict": ("equitools.ict.command", "ICT path/decomposition matrices: build, verify, save"),
    "data": ("equitools.data.command", "data sets: inspect, generate reference data with GFN2-xTB"),
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
    return int(module.run(command_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
