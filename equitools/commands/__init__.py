"""The subcommands of ``equitools``, one module each, with ``add_arguments(parser)`` and
``run(args) -> int``. They import only the standard library and light ``equitools`` modules at
import time, so that ``equitools COMMAND --help`` answers at once; ``run`` imports the library
code (torch, Lightning, ASE, ...) it needs."""
