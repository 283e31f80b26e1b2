"""``equitools ict``: build, verify and save the path matrices of a rank-n Cartesian tensor.

Before building, what cannot finish is refused with one ``error:`` line: a rank above
:data:`equitools.ict.sizes.MAX_RANK`, ``--exact`` above :data:`~equitools.ict.sizes.EXACT_MAX_RANK`,
and a stack whose peak memory (:func:`equitools.ict.sizes.memory_needed`) exceeds the memory
available, naming the forms that fit. Verification uses random probes
(:func:`equitools.ict.verify.verify`), O(dim²) like the build.
"""

from __future__ import annotations

import argparse
import time

from ..ranges import COUNT, argument
from .progress import add_progress_option, show_progress

DEFAULT_RANK = 6
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
MATRIX_FREE = 'the matrix-free equitools.ict.decompose(T, rank={rank}, by="weight")'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rank",
        type=argument(COUNT),
        default=DEFAULT_RANK,
        metavar="N",
        help=f"tensor rank n (default {DEFAULT_RANK}); a rank above the largest supported, or one this "
        "machine's memory cannot hold, is refused before building",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="exact sympy entries, about 10x slower per rank: 13 s at rank 6 (default: floating point)",
    )
    parser.add_argument("--sparse", action="store_true", help="CSR storage, the form for rank 9-10 (default: dense)")
    parser.add_argument(
        "--dtype",
        choices=sorted(TOLERANCE),
        default="float64",
        help="floating-point type of the entries (default float64)",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="write the path matrices to this .npz, atomically (default: not written)"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the orthonormality/equivariance/completeness checks"
    )
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..ict.io import save
    from ..ict.path_matrices import path_matrices

    refuse_what_cannot_finish(args)
    bar, progress = _progress_bar(args, f"rank {args.rank}", "chunk")
    start = time.perf_counter()
    pm = path_matrices(args.rank, dtype=np.dtype(args.dtype), exact=args.exact, sparse=args.sparse, progress=progress)
    elapsed = time.perf_counter() - start
    bar.close()
    print(f"ICT path matrices, rank {pm.rank}: {len(pm.paths)} paths, dimension {pm.dim}")
    print(f"  irreps   {pm.irreps}")
    print(f"  built in {elapsed:.2f} s; {storage(pm)}")
    ok = args.no_verify or verified(pm, TOLERANCE["float64" if args.exact else args.dtype], args)
    if args.out:
        print(f"  saved    {save(pm, args.out)}")
    return 0 if ok else 1


def refuse_what_cannot_finish(args: argparse.Namespace) -> None:
    """Raise ``ValueError`` (one line: the rank, the size, what to do instead) before anything is
    built, for a rank above the supported maximum, ``--exact`` above its practical rank, or a
    stack that needs more memory than is available."""
    from .. import safe_npz
    from ..ict.sizes import EXACT_MAX_RANK, MAX_RANK, format_bytes, memory_needed

    n = args.rank
    if n > MAX_RANK:
        raise ValueError(f"--rank {n} is above the largest supported rank, {MAX_RANK}")
    if args.exact and args.sparse:
        raise ValueError("--exact and --sparse cannot be combined: exact path matrices are dense sympy objects")
    if args.exact and n > EXACT_MAX_RANK:
        raise ValueError(
            f"--exact is practical up to rank {EXACT_MAX_RANK} (about 10x longer per rank, rank {EXACT_MAX_RANK} "
            f"takes minutes); drop --exact for floating-point entries"
        )
    memory = safe_npz.available_memory()
    need = memory_needed(n, sparse=args.sparse, dtype=args.dtype, exact=args.exact).peak
    if memory is None or need <= memory:
        return
    fits = []  # the smaller floating-point forms that fit, as the options that select them
    for sparse, dtype in [(False, "float64")] * args.exact + [(False, "float32"), (True, "float64"), (True, "float32")]:
        other = memory_needed(n, sparse=sparse, dtype=dtype).peak
        if other <= memory and other < need:
            flags = " ".join(["--sparse"] * sparse + ["--dtype float32"] * (dtype == "float32")) or "drop --exact"
            fits.append(f"{flags} ({format_bytes(other)})")
    form = "exact" if args.exact else ("sparse " if args.sparse else "dense ") + args.dtype
    raise ValueError(
        f"rank {n} {form} needs {format_bytes(need)} (this machine has {format_bytes(memory)} available); "
        f"use {', '.join(fits + [''])}{'or ' if fits else ''}{MATRIX_FREE.format(rank=n)}"
    )


def storage(pm) -> str:
    """How ``pm`` is stored, and its size."""
    if pm.exact:
        return "exact (sympy)"
    stack = pm.stacked()
    if pm.sparse:
        nbytes = stack.data.nbytes + stack.indices.nbytes + stack.indptr.nbytes
        return f"CSR, {stack.nnz:,} nonzeros ({stack.nnz / pm.dim**2:.1%}), {nbytes / 1e9:.3f} GB"
    return f"dense {stack.dtype}, {stack.nbytes / 1e9:.3f} GB"


def verified(pm, tolerance: float, args: argparse.Namespace) -> bool:
    """Probe ``pm`` under a rotation and a rotation x inversion, print the errors; all within ``tolerance``?"""
    from ..ict.verify import verify
    from ..testing import random_rotation

    checks = {"rotation": random_rotation(0), "rotation x inversion": -random_rotation(1)}
    bar, progress = _progress_bar(args, f"verify rank {pm.rank}", "block")
    start = time.perf_counter()
    reports = verify(pm, list(checks.values()), progress=progress)
    elapsed = time.perf_counter() - start
    bar.close()
    ok = True
    for name, errors in zip(checks, reports):
        good = max(errors[k] for k in ("orthonormality", "equivariance", "completeness")) <= tolerance
        ok &= good
        print(
            f"  check ({name}, all {errors['rows_checked']} rows, {errors['probes']} random probes): "
            f"orthonormality {errors['orthonormality']:.1e}, equivariance {errors['equivariance']:.1e}, "
            f"completeness {errors['completeness']:.1e} -> {'OK' if good else 'FAILED'}"
        )
    print(f"  verified in {elapsed:.2f} s")
    return ok


def _progress_bar(args: argparse.Namespace, description: str, unit: str):
    """A tqdm bar (drawn from rank 8 on, when :func:`show_progress`) and its ``(step, total)`` callback."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=unit, disable=args.rank < 8 or not show_progress(args), leave=False)

    def progress(step: int, total: int) -> None:
        bar.total = total
        bar.update(step)

    return bar, progress
