"""``equitools ict``: build, verify and save the path matrices of a rank-n Cartesian tensor."""

from __future__ import annotations

import argparse
import time

from ..ranges import COUNT, argument
from .progress import add_progress_option, show_progress

DEFAULT_RANK = 6
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rank",
        type=argument(COUNT),
        default=DEFAULT_RANK,
        metavar="N",
        help=f"tensor rank n (default {DEFAULT_RANK})",
    )
    parser.add_argument(
        "--exact", action="store_true", help="exact sympy entries, practical up to rank 5-6 (default: floating point)"
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
    from tqdm import tqdm

    from ..ict.io import save
    from ..ict.path_matrices import path_matrices

    bar = tqdm(desc=f"rank {args.rank}", unit="chunk", disable=args.rank < 8 or not show_progress(args), leave=False)

    def progress(step: int, total: int) -> None:
        bar.total = total
        bar.update(step)

    start = time.perf_counter()
    pm = path_matrices(args.rank, dtype=np.dtype(args.dtype), exact=args.exact, sparse=args.sparse, progress=progress)
    elapsed = time.perf_counter() - start
    bar.close()
    print(f"ICT path matrices, rank {pm.rank}: {len(pm.paths)} paths, dimension {pm.dim}")
    print(f"  irreps   {pm.irreps}")
    print(f"  built in {elapsed:.2f} s; {storage(pm)}")
    ok = args.no_verify or verified(pm, TOLERANCE["float64" if args.exact else args.dtype])
    if args.out:
        print(f"  saved    {save(pm, args.out)}")
    return 0 if ok else 1


def storage(pm) -> str:
    """How ``pm`` is stored, and its size."""
    if pm.exact:
        return "exact (sympy)"
    stack = pm.stacked()
    if pm.sparse:
        nbytes = stack.data.nbytes + stack.indices.nbytes + stack.indptr.nbytes
        return f"CSR, {stack.nnz:,} nonzeros ({stack.nnz / pm.dim**2:.1%}), {nbytes / 1e9:.3f} GB"
    return f"dense {stack.dtype}, {stack.nbytes / 1e9:.3f} GB"


def verified(pm, tolerance: float) -> bool:
    """Check ``pm`` under a rotation and a rotation x inversion, print the errors; all within ``tolerance``?"""
    from ..ict.verify import verify
    from ..testing import random_rotation

    ok = True
    for name, R in (("rotation", random_rotation(0)), ("rotation x inversion", -random_rotation(1))):
        errors = verify(pm, R)
        good = max(errors[k] for k in ("orthonormality", "equivariance", "completeness")) <= tolerance
        ok &= good
        print(
            f"  check ({name}, {errors['rows_checked']} rows): orthonormality {errors['orthonormality']:.1e}, "
            f"equivariance {errors['equivariance']:.1e}, completeness {errors['completeness']:.1e} "
            f"-> {'OK' if good else 'FAILED'}"
        )
    return ok
