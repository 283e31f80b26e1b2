"""The Gaunt self-interaction (``nn.GauntSelfInteraction``) and the ``node_interaction`` option of
eSCN and FreeCG: equivariance, agreement with a direct evaluation of the product of spherical
functions, and the models' symmetries, forces, batching, save/load and config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from e3nn import o3
from helpers import one_torch_thread  # noqa: F401 (fixture)
from test_models_potentials import TINY as POTENTIALS
from test_models_potentials import batch_of

from equitools import so3
from equitools.models import build, default_config, load, save
from equitools.nn import GauntSelfInteraction
from equitools.testing import (
    assert_close,
    assert_module_equivariant,
    check_batch_equals_one_by_one,
    check_forces_are_gradient,
    check_potential_symmetries,
    random_molecule,
    random_orthogonal,
    random_rotation,
)
from equitools.train import ConfigError, resolve_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {name: POTENTIALS[name] for name in ("escn", "freecg")}
O3 = {"freecg"}  # eSCN is SO(3)-only, with or without the interaction


def interaction(lmax=3, channels=4, seed=0, dtype=torch.float64):
    """A block with a random (non-zero) output scale, so that the branch is not trivially zero."""
    torch.manual_seed(seed)
    block = GauntSelfInteraction(lmax, channels)
    with torch.no_grad():
        block.scale.normal_()
    return block.to(dtype)


def randomise_interactions(model, seed=1):
    """Give every Gaunt block of ``model`` random scales (they start at zero); returns how many."""
    generator = torch.Generator().manual_seed(seed)
    blocks = [m for m in model.modules() if isinstance(m, GauntSelfInteraction)]
    with torch.no_grad():
        for block in blocks:
            block.scale.copy_(torch.randn(block.scale.shape, generator=generator, dtype=torch.float64))
    return len(blocks)


def tiny(name, node_interaction="gaunt", dtype="float64"):
    torch.manual_seed(0)
    model = build({"model": name, **TINY[name], "node_interaction": node_interaction, "dtype": dtype})
    if node_interaction == "gaunt":
        assert randomise_interactions(model) == TINY[name]["num_layers"]
    return model


# ----------------------------------------------------------------------------------- the block
@pytest.mark.parametrize("p", [-1, 1], ids=["p=-1", "p=+1"])
@pytest.mark.parametrize("lmax", [0, 2, 3])
def test_block_is_o3_equivariant_float64(lmax, p):
    """Features with the parities of spherical harmonics (0e+1o+2e+... or 0e+1e+2e+...)."""
    block = interaction(lmax, channels=3)
    irreps = so3.Irreps.spherical_harmonics(lmax, p)

    def channels_last(x):  # x (n, C, dim) as the helper makes them → (n, C, dim)
        return block(x.transpose(1, 2)).transpose(1, 2)

    assert_module_equivariant(channels_last, [irreps], irreps, batch=(5, 3), seed=lmax, rtol=1e-10)


def test_block_is_equivariant_float32():
    block = interaction(3, channels=6, dtype=torch.float32)
    irreps = so3.Irreps.spherical_harmonics(3)
    x = torch.randn(7, 16, 6, generator=torch.Generator().manual_seed(3))
    out = block(x)
    for R in (random_rotation(5), random_orthogonal(6)):
        D = irreps.D(torch.tensor(R, dtype=torch.float32))
        assert_close(block(D @ x), D @ out, rtol=1e-5, atol=1e-6, what="float32 equivariance")


def test_block_equals_the_product_of_spherical_functions_projected_back():
    """Independent evaluation: synthesise a = W₁ x and b = W₂ x at random points with e3nn's
    harmonics, multiply, fit the product (degree 2L) by least squares, keep degrees <= L, and scale
    each degree by s / std, std² = Σ_{l1,l2} |gaunt(l1, l2, l3)|² / (2 l3 + 1)."""
    L, C = 3, 4
    block = interaction(L, channels=C, seed=2)
    x = torch.randn(6, (L + 1) ** 2, C, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    a, b = block.mix(x).detach().split(C, dim=-1)
    points = torch.nn.functional.normalize(torch.randn(600, 3, dtype=torch.float64), dim=-1)
    Y = o3.spherical_harmonics(list(range(2 * L + 1)), points, normalize=True, normalization="integral")
    f = torch.einsum("pk,nkc->npc", Y[:, : (L + 1) ** 2], a)
    g = torch.einsum("pk,nkc->npc", Y[:, : (L + 1) ** 2], b)
    fit = torch.linalg.lstsq(Y.expand(6, -1, -1), f * g).solution[:, : (L + 1) ** 2]  # (n, (L+1)^2, C)
    std = np.sqrt(
        [
            sum(
                float(np.sum(so3.gaunt(l1, l2, l3) ** 2))
                for l1 in range(L + 1)
                for l2 in range(abs(l1 - l3), min(l1 + l3, L) + 1)
            )
            / (2 * l3 + 1)
            for l3 in range(L + 1)
        ]
    )
    degree = so3.Irreps.spherical_harmonics(L).degree_index()
    expected = fit * (block.scale.detach() / torch.from_numpy(std).unsqueeze(-1))[degree]
    assert_close(block(x), expected, rtol=1e-10, atol=1e-12, what="Gaunt block vs grid-free product")


def test_block_normalisation_gives_unit_variance():
    """With unit scales, independent unit-variance inputs give unit-variance outputs per degree."""
    L, C = 3, 8
    block = GauntSelfInteraction(L, C, scale_init=1.0).double()
    generator = torch.Generator().manual_seed(7)
    a, b = (torch.randn(4000, (L + 1) ** 2, C, dtype=torch.float64, generator=generator) for _ in range(2))
    z = block.product(a, b) * block.inverse_std.index_select(0, block.degree)
    assert_close(z.var(dim=(0, 2)), torch.ones((L + 1) ** 2), atol=0.05, rtol=0, what="output variance")


def test_block_starts_at_zero_and_learns_its_scale():
    block = GauntSelfInteraction(2, 4).double()
    x = torch.randn(3, 9, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    out = block(x)
    assert torch.equal(out, torch.zeros_like(x))
    (out * torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(9))).sum().backward()
    assert block.scale.grad.abs().min() > 0  # every degree and channel of the scale learns
    assert torch.equal(block.mix.weight.grad, torch.zeros_like(block.mix.weight))  # W₁, W₂ from the next step


def test_block_input_errors_and_empty_input():
    block = GauntSelfInteraction(2, 4)
    with pytest.raises(ValueError, match=r"x has shape \(3, 16, 4\); expected \(n, 9, 4\)"):
        block(torch.zeros(3, 16, 4))
    with pytest.raises(ValueError, match="channels must be a positive int, got 0"):
        GauntSelfInteraction(2, 0)
    with pytest.raises(ValueError, match="lmax"):
        GauntSelfInteraction(-1, 4)
    assert block(torch.zeros(0, 9, 4)).shape == (0, 9, 4)


# ----------------------------------------------------------------------------------- the models
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}


@pytest.mark.parametrize("dtype", list(TOLERANCE), ids=str)
@pytest.mark.parametrize("name", list(TINY))
def test_models_with_gaunt_keep_their_symmetries(name, dtype):
    model = tiny(name).to(dtype)
    batch = batch_of(7, 5)
    batch.pos = batch.pos.to(dtype)
    errors = check_potential_symmetries(model, batch, reflections=name in O3, rtol=TOLERANCE[dtype])
    assert all(v <= TOLERANCE[dtype] for v in errors.values())


@pytest.mark.parametrize("name", list(TINY))
def test_models_with_gaunt_forces_are_minus_energy_gradient(name):
    check_forces_are_gradient(tiny(name), batch_of(6), eps=1e-5, atoms=3, rtol=1e-7)


@pytest.mark.parametrize("name", list(TINY))
def test_models_with_gaunt_batch_equals_one_by_one(name):
    model = tiny(name)
    molecules = [random_molecule(n, seed=30 + n) for n in (6, 3, 5)]
    check_batch_equals_one_by_one(model, molecules)


@pytest.mark.parametrize("name", list(TINY))
def test_gaunt_starts_at_the_baseline_and_then_changes_it(name):
    """The "none" model's weights in a "gaunt" model: identical numbers while the scales are zero
    (the branch starts switched off), different ones once they are not (the branch is live)."""
    baseline = tiny(name, "none")
    torch.manual_seed(0)
    model = build({"model": name, **TINY[name], "node_interaction": "gaunt", "dtype": "float64"})
    missing, unexpected = model.load_state_dict(baseline.state_dict(), strict=False)
    assert not unexpected and missing and all(".interaction" in key for key in missing)
    data = batch_of(6, 4)
    expected, out = baseline(data), model(data)
    assert torch.equal(out["energy"], expected["energy"]) and torch.equal(out["forces"], expected["forces"])
    randomise_interactions(model)
    changed = model(data)
    assert (changed["energy"] - expected["energy"]).abs().max() > 1e-6


@pytest.mark.parametrize("name", list(TINY))
def test_models_with_gaunt_save_and_load(tmp_path, name):
    model = tiny(name)
    data = batch_of(5)
    path = save(model, tmp_path / f"{name}.pt")
    again = load(path)
    assert again.config["node_interaction"] == "gaunt"
    expected, out = model(data), again(data)
    assert torch.equal(out["energy"], expected["energy"]) and torch.equal(out["forces"], expected["forces"])


@pytest.mark.parametrize("name", list(TINY))
def test_node_interaction_defaults_to_none_and_rejects_other_values(name):
    assert default_config(name)["node_interaction"] == "none"
    none = build({"model": name, **TINY[name]})
    assert not any(isinstance(m, GauntSelfInteraction) for m in none.modules())
    for value in ("foo", None, 1):
        with pytest.raises(ValueError, match=rf"^node_interaction must be one of \['none', 'gaunt'\], got {value!r}$"):
            build({"model": name, "node_interaction": value})
    with pytest.raises(ConfigError, match=r"^x\.yaml: model\.node_interaction must be one of .*, got 'foo'$"):
        resolve_config({"model": {"model": name, "node_interaction": "foo"}}, source="x.yaml")


def test_tensornet_has_no_node_interaction():
    with pytest.raises(ValueError, match="unknown config key.*'node_interaction'"):
        build({"model": "tensornet", "node_interaction": "gaunt"})
