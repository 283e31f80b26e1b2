"""Gathers and aggregations over ``edge_index`` (``index_add``: deterministic on CPU)."""

from __future__ import annotations

import torch


class _IndexAdd(torch.autograd.Function):
    """``out.index_add(0, index, src)`` whose backward keeps only ``index`` (differentiable twice)."""

    @staticmethod
    def forward(ctx, out: torch.Tensor, index: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        return out.index_add(0, index, src)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (index,) = ctx.saved_tensors
        grad_out = grad if ctx.needs_input_grad[0] else None
        grad_src = grad.index_select(0, index) if ctx.needs_input_grad[2] else None
        return grad_out, None, grad_src


def index_add(out: torch.Tensor, index: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """``out.index_add(0, index, src)``, out of place: ``out[index[e]] += src[e]``.

    Same values and gradients as torch's, but its autograd node keeps only ``index``: torch's
    keeps ``src`` alive for the backward (for its shape), one (E, …) tensor per aggregation,
    through both backward passes of a force training step.
    """
    return _IndexAdd.apply(out, index, src)


class _Gather(torch.autograd.Function):
    """``x.index_select(0, index)`` whose backward is :func:`scatter_sum` (keeps only ``index``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.rows = x.shape[0]
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (index,) = ctx.saved_tensors
        return scatter_sum(grad, index, ctx.rows), None


def gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x.index_select(0, index)``: rows of node values ``x`` for each edge.

    Same values and gradients as torch's; the difference is in a force training step, whose
    backward builds a graph (create_graph): torch's backward of ``index_select`` is an
    ``index_add`` that keeps the (E, …) incoming gradient alive until the second backward; this
    one's keeps only ``index``.
    """
    return _Gather.apply(x, index)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """``out[i] = Σ_{e: index[e] = i} src[e]`` along dim 0; ``out`` has ``dim_size`` rows."""
    return index_add(src.new_zeros((dim_size,) + tuple(src.shape[1:])), index, src)


def scatter_mean(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """Mean of the rows of ``src`` sent to each index (0 where none is)."""
    total = scatter_sum(src, index, dim_size)
    count = torch.zeros(dim_size, dtype=src.dtype, device=src.device).index_add(
        0, index, torch.ones_like(index, dtype=src.dtype)
    )
    return total / count.clamp(min=1).view((-1,) + (1,) * (src.dim() - 1))


def scatter_softmax(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """Softmax of ``src`` (edges × …) over the edges sharing an index (numerically stabilised)."""
    shape = (dim_size,) + tuple(src.shape[1:])
    idx = index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
    high = src.new_full(shape, float("-inf")).scatter_reduce(0, idx, src.detach(), "amax", include_self=True)
    e = torch.exp(src - high.index_select(0, index))
    return e / scatter_sum(e, index, dim_size).index_select(0, index)
