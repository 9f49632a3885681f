"""One batch of OTTT_A, OTTT_O or BPTT: the per-method step functions and their backward passes.

English
    ``ottt_backward`` runs forward and ``backward()`` one time step at a time (gradients add up
    in ``.grad``; the graph of a step is freed at once); ``bptt_backward`` unrolls over T and
    runs one backward through the whole graph. The steps add the optimizer and the resets:
    ``ottt_a_step`` (one optimizer step per batch), ``ottt_o_step`` (one per time step),
    ``bptt_step``. Every step has the signature ``(model, x_seq, y, optimizer, loss_fn,
    sync_context) -> StepResult``; the backward passes of steps ``0..T-2`` run inside
    ``sync_context`` (DistributedDataParallel's ``model.no_sync``).
中文
    一个 batch 的 OTTT_A、OTTT_O 与 BPTT: 逐步反向传播 (``ottt_backward``) 或沿时间展开后一次反向
    传播 (``bptt_backward``), 以及加上优化器与重置的各方法步骤函数。

One OTTT_A batch (SpikingJelly style)::

    for t in range(T):
        out = model(x[t])                 # (B, n_classes)
        loss = loss_fn(out, y) / T
        loss.backward()                   # OTTT: every step;  BPTT: sum the losses, backward once
    optimizer.step(); reset_net(model)

Shapes: ``x_seq (T, B, ...)``, ``y (B,)``, ``StepResult.out_sum (B, n_classes)``.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Sec. 4.2 (OTTT_A / OTTT_O) and Algorithm 1; SpikingJelly's OTTT example.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch
import torch.nn.functional as F
from torch import nn

from ..functional.online_training import _checked_loss, check_finite_input, warn_unoptimized_gradients
from ..functional.state import detach_net, reset_net

__all__ = ["LossFn", "SyncContext", "cross_entropy_loss", "StepResult", "ottt_backward",
           "bptt_backward", "ottt_a_step", "ottt_o_step", "bptt_step"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (out (B, C), y (B,)) -> scalar
SyncContext = Callable[[], ContextManager]


def cross_entropy_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-step loss ``CE(out[t], y)``, averaged over the batch."""
    return F.cross_entropy(out, y)



@dataclass
class StepResult:
    """Loss (``(1/T) sum_t L[t]``, a float) and outputs summed over T ``(B, n_classes)``."""

    loss: float
    out_sum: torch.Tensor


def _check_sequence(x_seq: torch.Tensor, y: torch.Tensor, where: str = "step") -> int:
    """T, after refusing a wrong shape and NaN/inf in ``x_seq`` (before any parameter changes)."""
    if x_seq.dim() < 2:
        raise ValueError(f"x_seq must be shaped (T, B, ...), got {tuple(x_seq.shape)}.")
    if x_seq.shape[1] != y.shape[0]:
        raise ValueError(f"batch sizes differ: x_seq {tuple(x_seq.shape)} (T, B, ...) vs y {tuple(y.shape)}.")
    check_finite_input(x_seq, 0, where)
    return x_seq.shape[0]


def _loss(loss: torch.Tensor, t: int, where: str) -> torch.Tensor:
    """A step's loss, refused (FloatingPointError naming the step and the fix) if not finite:
    its ``backward()`` would turn every weight into NaN."""
    return _checked_loss(loss, t, where, name="loss_fn")


def ottt_backward(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                  loss_fn: LossFn = cross_entropy_loss,
                  sync_context: SyncContext = contextlib.nullcontext, *,
                  detach_state: bool = False) -> StepResult:
    """Forward and backward one time step at a time; gradients accumulate in ``.grad``.

    ``x_seq`` is ``(T, B, ...)``. Steps ``0..T-2`` run their forward *and* backward pass inside
    ``sync_context()`` (DDP: ``model.no_sync``; DDP decides at forward time whether the next
    backward all-reduces), the last step outside it, so gradients are averaged once. Does not
    reset the network and does not zero the gradients. ``detach_state``: ``detach_net`` after
    every step (``online_steps.online_backward``).
    """
    T = _check_sequence(x_seq, y, "ottt_backward")
    total, out_sum = 0.0, None
    for t in range(T):
        with (sync_context() if t < T - 1 else contextlib.nullcontext()):
            out = model(x_seq[t])                           # (B, n_classes)
            loss = _loss(loss_fn(out, y), t, "ottt_backward") / T
            loss.backward()
        if detach_state:
            detach_net(model)
        total += loss.item()
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    return StepResult(total, out_sum)


def bptt_backward(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                  loss_fn: LossFn = cross_entropy_loss,
                  sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """Unroll over T, then one ``backward()`` through the whole graph (``sync_context`` unused:
    there is only one backward pass). Does not reset the network nor zero the gradients."""
    T = _check_sequence(x_seq, y, "bptt_backward")
    loss, out_sum = 0.0, None
    for t in range(T):
        out = model(x_seq[t])                               # (B, n_classes)
        loss = loss + _loss(loss_fn(out, y), t, "bptt_backward") / T
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    loss.backward()
    return StepResult(loss.item(), out_sum)


def ottt_a_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                optimizer: torch.optim.Optimizer, loss_fn: LossFn = cross_entropy_loss,
                sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """OTTT_A: gradients accumulated over the T steps, then one optimizer step; reset."""
    reset_net(model)
    optimizer.zero_grad(set_to_none=True)
    result = ottt_backward(model, x_seq, y, loss_fn, sync_context)
    warn_unoptimized_gradients(model, optimizer, "ottt_a_step")
    optimizer.step()
    reset_net(model)
    return result


def ottt_o_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                optimizer: torch.optim.Optimizer, loss_fn: LossFn = cross_entropy_loss,
                sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """OTTT_O: an optimizer step after every time step's backward; reset after the batch.

    Every step's gradient is applied (and, under DDP, synchronised) at once, so
    ``sync_context`` is accepted for a uniform signature but not used.
    """
    T = _check_sequence(x_seq, y, "ottt_o_step")
    reset_net(model)
    total, out_sum = 0.0, None
    for t in range(T):
        optimizer.zero_grad(set_to_none=True)
        out = model(x_seq[t])                               # (B, n_classes)
        loss = _loss(loss_fn(out, y), t, "ottt_o_step") / T
        loss.backward()
        if t == 0:
            warn_unoptimized_gradients(model, optimizer, "ottt_o_step")
        optimizer.step()
        total += loss.item()
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    reset_net(model)
    return StepResult(total, out_sum)


def bptt_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn = cross_entropy_loss,
              sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """BPTT: unrolled forward over T, one backward, one optimizer step; reset."""
    reset_net(model)
    optimizer.zero_grad(set_to_none=True)
    result = bptt_backward(model, x_seq, y, loss_fn, sync_context)
    warn_unoptimized_gradients(model, optimizer, "bptt_step")
    optimizer.step()
    reset_net(model)
    return result
