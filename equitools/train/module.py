"""The Lightning module: an ``equitools.models`` potential trained on energies and forces.

loss = energy_weight · MSE(E) + force_weight · MSE(F) in eV² and (eV/Å)², on energies relative
to per-element reference energies (fitted on the training set, kept in float64 outside the
network). An exponential moving average (EMA) of the weights is validated, tested and exported.
Validation/test metrics: energy MAE/RMSE per structure in meV (milli-units of the target),
force MAE/RMSE per component in meV/Å, accumulated in float64.

Every optimiser step checks the loss and the gradient norm (the one norm that clipping needs,
one host sync) and raises :class:`TrainingDivergedError` when either is not finite; the
plateau schedule steps at the end of validation, before the epoch's checkpoint is written, so a
resumed run continues it exactly.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchmetrics import MeanAbsoluteError, MeanSquaredError

from equitools.models import Potential, build

METRICS = ("energy_mae", "energy_rmse", "forces_mae", "forces_rmse")


class TrainingDivergedError(RuntimeError):
    """Training met a non-finite loss, gradient or weight; the message names where."""


def _metrics() -> torch.nn.ModuleDict:
    """Energy and force MAE/RMSE, accumulated in float64."""
    metrics = {
        "energy_mae": MeanAbsoluteError(),
        "energy_rmse": MeanSquaredError(squared=False),
        "forces_mae": MeanAbsoluteError(),
        "forces_rmse": MeanSquaredError(squared=False),
    }
    return torch.nn.ModuleDict({name: metric.set_dtype(torch.float64) for name, metric in metrics.items()})


class ForceFieldModule(pl.LightningModule):
    """Train ``build(model_config)`` with the ``training`` section of a config.

    references: per-element energies ``(max_z + 1,)`` (eV); energy_scale / energy_shift: the
    readout's scale and shift (set in the built model's config).
    """

    def __init__(
        self,
        model_config: dict[str, Any],
        training: dict[str, Any],
        references: list[float],
        energy_scale: float = 1.0,
        energy_shift: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        config = {**model_config, "atomic_energies": None, "energy_scale": energy_scale, "energy_shift": energy_shift}
        self.model = build(config)
        self.training_options = dict(training)
        self.use_forces = training["force_weight"] > 0
        self.register_buffer("references", torch.tensor(references, dtype=torch.float64))
        self.ema = None
        if training["ema_decay"]:
            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(training["ema_decay"]), use_buffers=True
            )
            self.ema.requires_grad_(False)
        self.metrics = torch.nn.ModuleDict({stage: _metrics() for stage in ("val", "test")})
        self._step_loss: torch.Tensor | None = None

    @property
    def inference_model(self) -> Potential:
        """The weights that are validated and exported: the EMA ones when EMA is on."""
        return self.model if self.ema is None else self.ema.module

    def reference_energy(self, batch) -> torch.Tensor:
        """Σ_atoms E_ref[z] per structure, ``(n_graphs,)`` float64 eV."""
        per_atom = self.references.index_select(0, batch.z)
        return per_atom.new_zeros(batch.num_graphs).index_add(0, batch.batch, per_atom)

    def _predict(self, model: Potential, batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        out = model(batch, compute_forces=self.use_forces)
        target = (batch.energy.reshape(-1) - self.reference_energy(batch)).to(out["energy"].dtype)
        return out, target

    def _loss(self, out: dict[str, torch.Tensor], energy: torch.Tensor, batch) -> torch.Tensor:
        options = self.training_options
        loss = options["energy_weight"] * torch.mean((out["energy"] - energy) ** 2)
        if self.use_forces:
            loss = loss + options["force_weight"] * torch.mean((out["forces"] - batch.forces) ** 2)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        out, energy = self._predict(self.model, batch)
        loss = self._loss(out, energy, batch)
        self.log(
            "train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch.num_graphs, sync_dist=True
        )
        self._step_loss = loss.detach()
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        """Linear learning-rate warm-up over ``lr_warmup_steps``, then the plateau schedule."""
        warmup = self.training_options["lr_warmup_steps"]
        step = self.trainer.global_step
        if warmup and step < warmup:
            for group in optimizer.param_groups:
                group["lr"] = self.training_options["lr"] * (step + 1) / warmup
        optimizer.step(closure=optimizer_closure)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Raise :class:`TrainingDivergedError` on a non-finite loss or gradient norm, then clip
        the norm to ``training.gradient_clip`` (one fused norm, one host sync per step)."""
        parameters = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        loss = self._step_loss
        if not torch.isfinite(torch.stack([loss, norm.to(loss.dtype)])).all():
            where = f"training diverged in epoch {self.current_epoch + 1}, step {self.global_step + 1}"
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"{where}: the loss is {loss.item()}; lower training.lr or check the data for non-finite values"
                )
            name = next(
                (
                    n
                    for n, p in self.model.named_parameters()
                    if p.grad is not None and not torch.isfinite(p.grad).all()
                ),
                None,
            )
            what = f"the gradient of {name} is not finite" if name else f"the gradient norm is {norm.item()}"
            raise TrainingDivergedError(f"{where}: {what}; lower training.lr")
        if self.training_options["gradient_clip"]:
            torch.nn.utils.clip_grads_with_norm_(parameters, self.training_options["gradient_clip"], norm)

    def lr_scheduler_step(self, scheduler, metric) -> None:
        """Nothing: the plateau schedule steps in :meth:`on_validation_epoch_end` (Lightning would
        step it after the epoch's checkpoint, and skip that step on resume)."""

    def _evaluate_step(self, stage: str, batch) -> None:
        with torch.enable_grad():
            out, energy = self._predict(self.inference_model, batch)
        metrics = self.metrics[stage]
        metrics["energy_mae"].update(1000 * out["energy"].detach(), 1000 * energy)
        metrics["energy_rmse"].update(1000 * out["energy"].detach(), 1000 * energy)
        if self.use_forces:
            metrics["forces_mae"].update(1000 * out["forces"].detach(), 1000 * batch.forces)
            metrics["forces_rmse"].update(1000 * out["forces"].detach(), 1000 * batch.forces)

    def _evaluate_epoch_end(self, stage: str) -> None:
        metrics = self.metrics[stage]
        names = METRICS if self.use_forces else METRICS[:2]
        values = {name: metrics[name].compute() for name in names}
        for metric in metrics.values():
            metric.reset()
        loss = self.training_options["energy_weight"] * (values["energy_rmse"] / 1000) ** 2
        if self.use_forces:
            loss = loss + self.training_options["force_weight"] * (values["forces_rmse"] / 1000) ** 2
        if stage == "val" and not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"training diverged in epoch {self.current_epoch + 1}: the validation loss is "
                f"{loss.item()} ({', '.join(f'{k} {v.item()}' for k, v in values.items())})"
            )
        if stage == "val" and self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self.lr_schedulers().step(loss)
        self.log(f"{stage}_loss", loss, prog_bar=stage == "val", sync_dist=True)  # equal on every rank
        for name, value in values.items():
            self.log(f"{stage}_{name}", value, prog_bar=name.endswith("mae") and stage == "val", sync_dist=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._evaluate_epoch_end("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate_step("test", batch)

    def on_test_epoch_end(self) -> None:
        self._evaluate_epoch_end("test")

    def configure_optimizers(self):
        options = self.training_options
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=options["lr"], weight_decay=options["weight_decay"])
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=options["lr_factor"],
            patience=options["lr_patience"],
            min_lr=options["lr_min"],
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch", "strict": False},
        }

    def export(self) -> Potential:
        """A stand-alone potential (``equitools.models`` format) with the inference weights and
        the reference energies folded in as its ``atomic_energies``."""
        source = self.inference_model
        present = torch.nonzero(self.references).reshape(-1).tolist()
        atomic = {int(z): float(self.references[z]) for z in present}
        potential = build({**source.config, "atomic_energies": atomic})
        state = {k: v for k, v in source.state_dict().items() if k != "atomic_energies"}
        bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise TrainingDivergedError(
                f"{len(bad)} weight tensor(s) are not finite ({', '.join(bad[:3])}); the model is not exported"
            )
        state["atomic_energies"] = potential.atomic_energies
        potential.load_state_dict(state)
        return potential.eval()
