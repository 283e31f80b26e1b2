"""Write ``models.pt``: for every small model variant of ``test_models_potentials.TINY``, its
config, seeded weights, a batch of two molecules and the energies and forces (float64) that the
code of the time gives. ``test_models_reference.py`` checks that today's code gives the same
numbers for the same weights. Regenerate only when a change of the numbers is intended and
explained:

    python tests/reference/make_models.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_models_potentials import TINY, batch_of, tiny  # noqa: E402

EXTRA = {"escn-3-layers": ("escn", {"num_layers": 3})}
"""Variants kept for this check only (name → TINY model, changed keys): with three layers the m > 0
edge-frame paths of eSCN reach the energy (the first layer's are zero, the last layer's feed l > 0)."""


def main() -> None:
    batch = batch_of(7, 5)
    entries = {}
    variants = {**{name: (name, {}) for name in TINY}, **EXTRA}
    for name, (base, changes) in variants.items():
        model = tiny(base, **changes)
        out = model(batch)
        entries[name] = {
            "config": dict(model.config),
            "state_dict": model.state_dict(),
            "energy": out["energy"].detach(),
            "forces": out["forces"].detach(),
        }
    payload = {"z": batch.z, "pos": batch.pos, "batch": batch.batch, "models": entries}
    torch.save(payload, HERE / "models.pt")


if __name__ == "__main__":
    main()
