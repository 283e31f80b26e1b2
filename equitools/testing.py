"""Shared helpers for equivariance tests (numpy float64; torch only if a torch object is passed).

Used by the project's own tests and available to users who check their own modules.
"""

from __future__ import annotations

import numpy as np

from .so3.irreps import Irreps


def random_rotation(seed: int | None = None, count: int | None = None) -> np.ndarray:
    """Haar-random proper rotation(s), float64: ``(3, 3)`` or ``(count, 3, 3)``."""
    rng = np.random.default_rng(seed)
    shape = (3, 3) if count is None else (count, 3, 3)
    q, r = np.linalg.qr(rng.standard_normal(shape))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    det = np.linalg.det(q)
    q[..., :, 0] *= det[..., None]
    return q


def random_orthogonal(seed: int | None = None) -> np.ndarray:
    """A random improper orthogonal matrix (a rotation times inversion), float64 ``(3, 3)``."""
    return -random_rotation(seed)


def kron_power(R: np.ndarray, n: int) -> np.ndarray:
    """``R ⊗ R ⊗ … ⊗ R`` (n factors): the action on flattened rank-n Cartesian tensors."""
    out = np.ones((1, 1))
    for _ in range(n):
        out = np.kron(out, R)
    return out


def assert_close(actual, expected, rtol: float = 1e-10, atol: float = 1e-12, what: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol * max|expected|`` elementwise, with a clear message.

    Real or complex numpy arrays, torch tensors, or nested lists; compared in (complex) float64.
    """
    a, e = (_as_numpy(x) for x in (actual, expected))
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} != {e.shape}")
    err = float(np.abs(a - e).max()) if a.size else 0.0
    bound = atol + rtol * (float(np.abs(e).max()) if e.size else 0.0)
    if not err <= bound:
        raise AssertionError(f"{what}: max abs error {err:.3e} > {bound:.3e}")


def _as_numpy(x) -> np.ndarray:
    x = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)


def _transformed(data, pos=None, perm=None):
    """A copy of a torch_geometric batch with new positions and/or atoms reordered by ``perm``."""
    import torch

    out = data.clone()
    if perm is not None:
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.numel(), device=perm.device)
        for key in ("z", "pos", "batch", "forces"):
            value = getattr(out, key, None)
            if value is not None:
                setattr(out, key, value[perm])
        if getattr(out, "edge_index", None) is not None:
            out.edge_index = inverse[out.edge_index]
    if pos is not None:
        out.pos = pos
    return out


def check_potential_symmetries(
    model,
    data,
    *,
    seed: int = 0,
    rotations: int = 2,
    reflections: bool = True,
    translations: bool = True,
    permutations: bool = True,
    rtol: float = 1e-10,
    assert_ok: bool = True,
) -> dict[str, float]:
    """Check that a potential's energy is invariant and its forces equivariant (float64 advised).

    ``model(data)`` must return ``{"energy": (n_graphs,), "forces": (n_atoms, 3)}`` for a
    ``torch_geometric`` batch ``data`` (``z``, ``pos``, ``batch``). Tried: random rotations
    (``pos R^T``: E same, F R^T), a random improper orthogonal map (if ``reflections``; for O(3)
    models), a random translation of each structure, and a random reordering of the atoms inside
    each structure (E same, F reordered). Returns the worst relative error of each check
    (max abs difference / max abs reference value); raises ``AssertionError`` naming the first
    check above ``rtol`` when ``assert_ok``.
    """
    import torch

    rng = np.random.default_rng(seed)
    pos = data.pos
    ref = model(data)
    e0, f0 = ref["energy"].detach(), ref["forces"].detach()

    def rel(actual, expected):
        scale = float(expected.abs().max()) if expected.numel() else 0.0
        diff = float((actual.detach() - expected).abs().max()) if expected.numel() else 0.0
        return diff / scale if scale > 0 else diff

    errors: dict[str, float] = {}
    maps = [("rotation", random_rotation(int(rng.integers(1 << 31)))) for _ in range(rotations)]
    if reflections:
        maps.append(("reflection", random_orthogonal(int(rng.integers(1 << 31)))))
    for k, (name, matrix) in enumerate(maps):
        R = torch.as_tensor(matrix, dtype=pos.dtype, device=pos.device)
        out = model(_transformed(data, pos=pos @ R.T))
        errors[f"{name}{k} energy"] = rel(out["energy"], e0)
        errors[f"{name}{k} forces"] = rel(out["forces"], f0 @ R.T)
    batch = getattr(data, "batch", None)
    if batch is None:
        batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    if translations:
        n_graphs = int(batch.max()) + 1
        shift = torch.as_tensor(rng.normal(scale=5.0, size=(n_graphs, 3)), dtype=pos.dtype, device=pos.device)
        out = model(_transformed(data, pos=pos + shift[batch]))
        errors["translation energy"] = rel(out["energy"], e0)
        errors["translation forces"] = rel(out["forces"], f0)
    if permutations:
        order = np.lexsort((rng.random(pos.shape[0]), batch.cpu().numpy()))  # shuffle inside each structure
        perm = torch.as_tensor(order, device=pos.device)
        out = model(_transformed(data, perm=perm))
        errors["permutation energy"] = rel(out["energy"], e0)
        errors["permutation forces"] = rel(out["forces"], f0[perm])
    if assert_ok:
        bad = {k: v for k, v in errors.items() if not v <= rtol}
        if bad:
            raise AssertionError(
                f"symmetry violated beyond rtol={rtol:.0e}: " + ", ".join(f"{k}: {v:.2e}" for k, v in bad.items())
            )
    return errors


def check_forces_are_gradient(
    model, data, *, eps: float = 1e-5, atoms: int = 3, seed: int = 0, rtol: float = 1e-6, assert_ok: bool = True
) -> float:
    """Compare ``model(data)["forces"]`` with central finite differences of ``-energy.sum()``.

    Checks every Cartesian component of ``atoms`` randomly chosen atoms (float64 advised); returns
    the worst error relative to the largest force, raising ``AssertionError`` above ``rtol``.
    """
    rng = np.random.default_rng(seed)
    forces = model(data)["forces"].detach()
    pos = data.pos.detach()
    chosen = rng.choice(pos.shape[0], size=min(atoms, pos.shape[0]), replace=False)
    worst = 0.0
    scale = max(float(forces.abs().max()), 1e-12)
    for a in chosen:
        for c in range(3):
            values = []
            for sign in (1.0, -1.0):
                moved = pos.clone()
                moved[a, c] += sign * eps
                values.append(float(model(_transformed(data, pos=moved))["energy"].detach().sum()))
            fd = -(values[0] - values[1]) / (2 * eps)
            worst = max(worst, abs(fd - float(forces[a, c])) / scale)
    if assert_ok and not worst <= rtol:
        raise AssertionError(
            f"forces differ from -dE/dpos (finite differences, eps={eps}) by {worst:.2e} relative > {rtol:.0e}"
        )
    return worst


def random_molecule(n_atoms: int, seed: int):
    """A random molecule-like ``torch_geometric`` ``Data`` (float64 positions, Å): elements H, C, N
    and O, atoms at least 0.9 Å apart within a ball of about 2.5 Å."""
    import torch
    from torch_geometric.data import Data

    rng = np.random.default_rng(seed)
    pos = []
    while len(pos) < n_atoms:
        p = rng.normal(scale=1.2, size=3)
        if all(np.linalg.norm(p - q) > 0.9 for q in pos):
            pos.append(p)
    z = rng.choice([1, 6, 7, 8], size=n_atoms)
    return Data(z=torch.as_tensor(z), pos=torch.as_tensor(np.array(pos), dtype=torch.float64))


def check_isolated_atom(model, molecule, z: int = 6, distance: float = 30.0, rtol: float = 1e-12) -> None:
    """Raise ``AssertionError`` unless an atom of element ``z`` placed ``distance`` Å from the
    ``torch_geometric`` ``Data`` ``molecule`` (beyond any cutoff) gets finite outputs, zero force,
    and an energy of its own: the molecule's plus that of the atom alone."""
    import torch
    from torch_geometric.data import Batch, Data

    position = torch.zeros(1, 3, dtype=molecule.pos.dtype)
    far = Data(z=torch.cat([molecule.z, torch.tensor([z])]), pos=torch.cat([molecule.pos, position + distance]))
    out = model(Batch.from_data_list([far]))
    assert torch.isfinite(out["energy"]).all() and torch.isfinite(out["forces"]).all(), "non-finite outputs"
    assert_close(out["forces"][-1], torch.zeros(3), atol=0, what="force on an isolated atom")
    parts = model(Batch.from_data_list([molecule, Data(z=torch.tensor([z]), pos=position)]))
    assert_close(out["energy"][0], parts["energy"].sum(), rtol=rtol, what="energy of molecule + far atom")


def check_batch_equals_one_by_one(model, molecules, rtol: float = 1e-12) -> None:
    """Raise ``AssertionError`` unless ``model`` on a batch of the ``torch_geometric`` ``Data``
    ``molecules`` gives each molecule's energy and forces as ``model`` on it alone."""
    from torch_geometric.data import Batch

    together = model(Batch.from_data_list(molecules))
    start = 0
    for k, molecule in enumerate(molecules):
        alone = model(Batch.from_data_list([molecule]))
        assert_close(together["energy"][k], alone["energy"][0], rtol=rtol, what=f"energy of molecule {k}")
        n = molecule.num_nodes
        assert_close(together["forces"][start : start + n], alone["forces"], rtol=rtol, what=f"forces of molecule {k}")
        start += n


def assert_module_equivariant(
    fn,
    irreps_in,
    irreps_out,
    *,
    batch: tuple = (3,),
    seed: int = 0,
    reflection: bool = True,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> None:
    """Assert ``fn(D_1 x_1, ..., D_k x_k) == D_out fn(x_1, ..., x_k)`` in float64 for a random
    rotation and, with ``reflection``, a random improper orthogonal matrix.

    fn: a callable (e.g. a torch module) of k tensors ``(*batch, irreps_in[i].dim)`` returning
    ``(*batch, irreps_out.dim)``; irreps_in: a list of k irreps; irreps may be ``so3.Irreps``,
    strings or e3nn ``Irreps``, acting by ``so3.Irreps.D``. Inputs are random normal tensors.
    """
    import torch

    irreps_in, irreps_out = [Irreps(i) for i in irreps_in], Irreps(irreps_out)
    rng = np.random.default_rng(seed)
    xs = [torch.tensor(rng.standard_normal(tuple(batch) + (i.dim,))) for i in irreps_in]
    out = fn(*xs)
    matrices = [random_rotation(seed)] + ([random_orthogonal(seed + 1)] if reflection else [])
    for R in matrices:
        R = torch.tensor(R)
        rotated = fn(*[x @ i.D(R).T for x, i in zip(xs, irreps_in)])
        expected = out @ irreps_out.D(R).T
        kind = "rotation" if torch.linalg.det(R) > 0 else "reflection"
        assert_close(rotated, expected, rtol=rtol, atol=atol, what=f"equivariance under a {kind}")
