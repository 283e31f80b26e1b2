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


def main() -> None:
    batch = batch_of(7, 5)
    entries = {}
    for name in TINY:
        model = tiny(name)
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
