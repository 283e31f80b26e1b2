"""Same weights, same numbers: every model variant gives the energies and forces frozen in
``reference/models.pt`` (written by ``reference/make_models.py`` with the code of 29 Nov 2026,
before the hardening and feature-type changes; its ``escn-3-layers`` entry, whose m > 0 edge-frame
paths reach the energy, was added later from the code of 6d6288f, before eSCN's edge-frame blocks,
Gauss products and one frame per pair), float64, to 1e-10."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from equitools.models import build

REFERENCE = torch.load(Path(__file__).parent / "reference" / "models.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(REFERENCE["models"]))
def test_same_weights_give_the_frozen_numbers(name):
    entry = REFERENCE["models"][name]
    model = build(entry["config"])
    model.load_state_dict(entry["state_dict"])
    out = model.compute(REFERENCE["z"], REFERENCE["pos"], REFERENCE["batch"])
    torch.testing.assert_close(out["energy"], entry["energy"], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out["forces"], entry["forces"], rtol=1e-10, atol=1e-10)
