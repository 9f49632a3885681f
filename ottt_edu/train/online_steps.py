"""The trainer's online steps: SLTT (with SLTT-K), FPTT with a running average kept across batches.

English
    Per-batch steps with the signature of ``train.loops.STEP_FUNCTIONS``, for ``fit`` and
    ``python -m ottt_edu train --method sltt|fptt``: ``sltt_step`` (with the paper's SLTT-K:
    back-propagate at only K randomly chosen steps of T), ``fptt_step`` / ``FPTTStep`` (FPTT
    through ``ottt_edu.functional.online_training``; ``FPTTStep`` keeps ``w_ra`` across batches
    and saves it in checkpoints), and ``online_backward`` (per-step backward with the state
    detached after each step) for measurements at fixed weights.
中文
    训练器的在线方法: ``sltt_step`` (含 SLTT-K), ``fptt_step`` / ``FPTTStep`` (跨 batch 保存
    ``w_ra``), 以及固定权重下测量用的 ``online_backward``。

Shapes: ``x_seq (T, B, ...)``, ``y (B,)``.

Reference: Meng et al., "Towards Memory- and Time-Efficient Backpropagation for Training Spiking
Neural Networks", ICCV 2023 (arXiv 2302.14311), Sec. 4.3 (SLTT-K); Kag & Saligrama, ICML 2021
(FPTT); Xiao et al., NeurIPS 2022 (arXiv 2210.04195).
"""
from __future__ import annotations

import contextlib
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..functional.online_training import (_check_alpha, _checked_loss, _fptt_sequence,
                                          check_finite_input, check_w_ra,
                                          fptt_online_training_init_w_ra,
                                          warn_unoptimized_gradients)
from ..functional.state import reset_net
from .steps import LossFn, StepResult, SyncContext, ottt_backward

__all__ = ["online_backward", "sltt_step", "fptt_step", "FPTTStep", "DEFAULT_FPTT_ALPHA"]

#: ``alpha`` of the trainer's FPTT (``TrainConfig.fptt_alpha``, ``--fptt-alpha``).
DEFAULT_FPTT_ALPHA = 0.1

def _check_batch(x_seq: Any, y: Any, where: str) -> int:
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
        shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
        raise ValueError(f"{where}: x_seq must be shaped (T, B, ...), got {shape}.")
    if x_seq.shape[0] == 0:
        raise ValueError(f"{where}: x_seq {tuple(x_seq.shape)} is an empty sequence (T = 0).")
    if x_seq.shape[1] != y.shape[0]:
        raise ValueError(f"{where}: batch sizes differ: x_seq {tuple(x_seq.shape)} (T, B, ...) vs "
                         f"y {tuple(y.shape)}.")
    return int(x_seq.shape[0])


def online_backward(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                    loss_fn: LossFn = F.cross_entropy,
                    sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """Per-step forward and ``backward()`` of ``loss_fn(out[t], y)/T``, ``detach_net`` after each.

    The gradient of online learning at fixed weights, for any network: OTTT's with OTTT neurons,
    SLTT's with SLTT neurons, and, with plain ``LIFNode`` s (whose state ``detach_net`` cuts),
    the data gradient of FPTT's first steps (equal to SLTT's for the same dynamics). Gradients
    accumulate in ``.grad``; the network is neither reset nor are gradients zeroed. Steps
    ``0..T-2`` run inside ``sync_context()`` (DDP's ``no_sync``), as ``train.ottt_backward``.
    ``x_seq`` is ``(T, B, ...)``.
    """
    _check_batch(x_seq, y, "online_backward")
    return ottt_backward(model, x_seq, y, loss_fn, sync_context, detach_state=True)


def sltt_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn = F.cross_entropy,
              sync_context: SyncContext = contextlib.nullcontext, *, k: Optional[int] = None,
              generator: Optional[torch.Generator] = None) -> StepResult:
    """SLTT: a backward of ``loss_fn(out[t], y)/T`` after every step, one optimizer step; reset.

    With SLTT neurons this is the paper's SLTT (the same loop as OTTT_A). With ``k`` (SLTT-K),
    only ``k`` steps drawn at random (``torch.randperm(T, generator=generator)[:k]``, as the
    paper's code; the global RNG when ``generator`` is None) run with a graph and a backward
    pass; the others run forward only, under ``torch.no_grad()``; the loss is still divided by
    T. The reported loss is ``(1/T) sum_t loss_fn(out[t], y)`` over all T steps, as for the
    other methods. Under DDP the chosen steps except the last chosen one run inside
    ``sync_context()`` (one all-reduce per batch). ``x_seq`` is ``(T, B, ...)``.

    Reference: Meng et al., ICCV 2023, Sec. 4.3 and Algorithm 1 (SLTT, SLTT-K).
    """
    where = "sltt_step"
    T = _check_batch(x_seq, y, where)
    check_finite_input(x_seq, 0, where)
    if k is None:
        chosen = set(range(T))
    else:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= T:
            raise ValueError(f"{where}: k (SLTT-K, the number of steps with a backward pass) must "
                             f"be an integer in [1, T={T}], got {k!r}; None means all T steps.")
        chosen = set(torch.randperm(T, generator=generator)[:k].tolist())
    last = max(chosen)
    reset_net(model)
    optimizer.zero_grad(set_to_none=True)
    total, out_sum = 0.0, None
    for t in range(T):
        if t in chosen:
            with (sync_context() if t < last else contextlib.nullcontext()):
                out = model(x_seq[t])                   # (B, n_classes)
                loss = _checked_loss(loss_fn(out, y), t, where, name="loss_fn") / T
                loss.backward()
        else:
            with torch.no_grad():
                out = model(x_seq[t])
                loss = _checked_loss(loss_fn(out, y), t, where, name="loss_fn") / T
        total += loss.item()
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    warn_unoptimized_gradients(model, optimizer, where)
    optimizer.step()
    reset_net(model)
    return StepResult(total, out_sum)


def fptt_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn = F.cross_entropy,
              sync_context: SyncContext = contextlib.nullcontext, *,
              alpha: float = DEFAULT_FPTT_ALPHA, w_ra: Optional[list] = None) -> StepResult:
    """FPTT on one batch: ``fptt_online_training`` with ``f_loss_t = loss_fn(out, y)/T``; reset.

    The label ``y`` is the target at every step. ``w_ra`` is updated in place; pass the same
    list for every batch (``FPTTStep`` does; ``fit`` uses one). With ``w_ra=None`` a new one
    is taken from the current weights, i.e. the running average restarts at this batch.
    Returns the loss ``(1/T) sum_t loss_fn(out[t], y)`` of the training passes (without the
    regulariser) and the outputs summed over T; every step's gradient is applied and
    synchronised at once, so ``sync_context`` is not used. ``x_seq`` is ``(T, B, ...)``.

    Convention: only the data loss is divided by T, the regulariser is not. Step t minimises
    ``loss_fn(out[t], y)/T + alpha/2 * mse(...)``, which is ``1/T`` times SpikingJelly's
    ``fptt_online_training`` objective with ``alpha' = T * alpha`` (and the loss not divided).
    So ``fptt_step(alpha, lr)`` equals ``fptt_online_training(alpha=T*alpha)`` with ``lr/T``
    for plain SGD; with Adam (nearly invariant to the loss scale) it equals it at the same lr,
    up to Adam's eps. The ``/T`` barely matters for OTTT/SLTT with Adam, but for FPTT it sets
    the balance of data loss against regulariser.
    """
    where = "fptt_step"
    T = _check_batch(x_seq, y, where)
    alpha = _check_alpha(alpha, where)
    check_finite_input(x_seq, 0, where)
    if w_ra is None:
        w_ra = fptt_online_training_init_w_ra(optimizer)
    check_w_ra(w_ra, optimizer, where)
    target_seq = y.unsqueeze(0).expand(T, *y.shape)     # (T, B): the label at every step
    reset_net(model)
    record = _fptt_sequence(model, optimizer, x_seq, target_seq,
                            lambda out, target: loss_fn(out, target) / T, alpha, w_ra,
                            "fptt_step")
    reset_net(model)
    total = sum(float(loss) for loss, _ in record)
    return StepResult(total, _summed([out for _, out in record]))


class FPTTStep:
    """The trainer's FPTT step: ``fptt_step`` with a running average kept across batches.

    A callable with the signature of ``train.STEP_FUNCTIONS``' entries. ``w_ra`` is taken from
    the optimizer's parameters at the first call (the weights training starts from) unless
    ``load_state_dict`` restored one. ``state_dict()`` (``{'alpha', 'w_ra'}``, tensors and a
    float: checkpoint-safe) is what resuming a run exactly needs besides the model and the
    optimizer.

    Args:
        alpha: FPTT's regularisation strength (> 0).
    """

    def __init__(self, alpha: float = DEFAULT_FPTT_ALPHA) -> None:
        self.alpha = _check_alpha(alpha, "FPTTStep")
        self.w_ra: Optional[list[torch.Tensor]] = None

    def __call__(self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                 optimizer: torch.optim.Optimizer, loss_fn: LossFn = F.cross_entropy,
                 sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
        if self.w_ra is None:
            self.w_ra = fptt_online_training_init_w_ra(optimizer)
        return fptt_step(model, x_seq, y, optimizer, loss_fn, sync_context, alpha=self.alpha,
                         w_ra=self.w_ra)

    def state_dict(self) -> dict[str, Any]:
        """``{'alpha': float, 'w_ra': list of tensors or None}`` (copies)."""
        w_ra = None if self.w_ra is None else [w.detach().clone() for w in self.w_ra]
        return {"alpha": self.alpha, "w_ra": w_ra}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (``w_ra`` is moved to the parameters' device on use)."""
        if not isinstance(state, dict) or "w_ra" not in state:
            raise ValueError(f"FPTTStep.load_state_dict expects {{'alpha', 'w_ra'}}, got "
                             f"{type(state).__name__} with keys {sorted(state) if isinstance(state, dict) else '-'}.")
        alpha = _check_alpha(state.get("alpha", self.alpha), "FPTTStep.load_state_dict")
        if alpha != self.alpha:
            raise ValueError(f"FPTTStep.load_state_dict: the state was saved with alpha={alpha} "
                             f"but this step has alpha={self.alpha}.")
        w_ra = state["w_ra"]
        if w_ra is not None:
            if not isinstance(w_ra, (list, tuple)) or not all(
                    isinstance(w, torch.Tensor) and w.is_floating_point() for w in w_ra):
                raise ValueError(f"FPTTStep.load_state_dict: w_ra must be a list of float tensors "
                                 f"(one per optimizer parameter), got {type(w_ra).__name__}.")
            bad = [i for i, w in enumerate(w_ra) if not bool(torch.isfinite(w).all())]
            if bad:
                raise FloatingPointError(
                    f"FPTTStep.load_state_dict: w_ra[{bad[0]}] holds NaN or inf ({len(bad)} of "
                    f"{len(w_ra)} tensors): the run had diverged before this state was saved. "
                    f"Resume from an earlier checkpoint, or start FPTT afresh (w_ra=None).")
        self.w_ra = None if w_ra is None else [w.detach().clone() for w in w_ra]

    def __repr__(self) -> str:
        return f"FPTTStep(alpha={self.alpha})"


def _summed(outs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``outs[0] + outs[1] + ...`` in step order (as the other steps accumulate ``out_sum``)."""
    total = outs[0]
    for o in outs[1:]:
        total = total + o
    return total
