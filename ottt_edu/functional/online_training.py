"""SpikingJelly's online training functions: ``ottt_online_training`` (OTTT/SLTT) and FPTT's.

English
    Three ways to train a spiking network *online*, i.e. with a ``backward()`` at every time
    step and a graph that never spans more than one step, so memory does not grow with T:

    - **OTTT** (Xiao et al. 2022) and **SLTT** (Meng et al. 2023): the network's neurons cut the
      gradient through time themselves (``OTTTLIFNode``, ``SLTTLIFNode``); every step's loss is
      back-propagated at once and the gradients either add up over T (one optimizer step per
      sequence, ``online=False``: OTTT_A) or are applied at every step (``online=True``:
      OTTT_O). ``ottt_online_training`` runs this loop, as SpikingJelly's function of that name.
    - **FPTT** (Kag & Saligrama 2021; for SNNs Yin et al. 2021): an optimizer step at every time
      step on the step's loss plus a *dynamic regulariser* that pulls the weights towards a
      running average ``w_ra`` of the past weights, corrected by the last gradient; the state
      is detached after every step. ``fptt_online_training`` (with
      ``fptt_online_training_init_w_ra``) runs it, as SpikingJelly's functions.

    The two SpikingJelly functions keep SpikingJelly 2.0.0's signatures, tensor layouts and
    return values (same results on the same model and data), including two of its choices:
    ``ottt_online_training`` takes **batch-first** sequences ``[N, T, ...]`` (FPTT takes
    time-first ``[T, N, ...]``), and it does **not** divide the loss by T (the loss and the
    gradients are sums over the T steps; the trainers of ``ottt_edu.train`` divide by T).

    The trainer's per-batch steps built on them (``sltt_step`` with SLTT-K, ``fptt_step`` /
    ``FPTTStep``, ``online_backward``) are in ``ottt_edu.train.online_steps``.
中文
    三种在线训练方法, 每个时间步都反向传播, 计算图从不跨越一个时间步, 显存不随 T 增长:
    OTTT 与 SLTT (由神经元自己切断时间方向的梯度; ``ottt_online_training``), 以及 FPTT (每步
    更新参数, 损失加上把权重拉向历史权重运行平均 ``w_ra`` 的动态正则项;
    ``fptt_online_training``)。两个函数与 SpikingJelly 2.0.0 同名函数的签名、张量布局与返回值
    一致: ``ottt_online_training`` 的输入为 batch 在前 ``[N, T, ...]``, 且损失不除以 T。

FPTT, one step ``t`` (``p_i`` the parameters in ``optimizer.param_groups`` order, ``g_i`` the
previous step's gradient, 0 at ``t = 0``; ``mse`` is the *mean* over elements, as SpikingJelly's
``F.mse_loss``, where the papers write a squared norm)::

    L[t]   = f_loss_t(model(x[t]), target[t])
             + (alpha/2) * sum_i mse(p_i, w_ra_i + g_i / (2 alpha))
    p      = optimizer.step() on dL[t]/dp;   detach_net(model)
    (t < T-1 only)  g_i    = d f_loss_t(model(x[t]), target[t]) / dp_i     (new weights, no regulariser)
                    w_ra_i = (w_ra_i + p_i)/2 - g_i / (2 alpha)
                    (the neuron state is restored to what it was before this extra pass)

SpikingJelly runs that extra pass from the state *after* step ``t`` (``x[t]`` is fed a second
time); this module does the same, for equal results.

Shapes: ``ottt_online_training``: ``x_seq (N, T, ...)``, ``target_seq (N, T, ...)``, returns
``(batch_loss (), y_all (N, T, ...))``. ``fptt_online_training``: ``x_seq (T, N, ...)``,
``target_seq (T, N, ...)``.

A loss at some steps only (e.g. notebook 08's flash task, loss at the last step): give those
steps' targets and mark the others with ``-100``, with
``f_loss_t = lambda y_t, tgt: F.cross_entropy(y_t, tgt, ignore_index=-100, reduction="sum") / y_t.shape[0]``
(a step with every target ignored then has loss 0).

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); Meng et al., "Towards Memory- and Time-Efficient Backpropagation for Training
Spiking Neural Networks", ICCV 2023 (arXiv 2302.14311), Sec. 4.3 (SLTT-K); Kag & Saligrama,
"Training Recurrent Neural Networks via Forward Propagation Through Time", ICML 2021; Yin, Corradi,
Bohté, "Accurate online training of dynamical spiking neural networks through Forward Propagation
Through Time", arXiv 2112.11231 (2021); SpikingJelly 2.0.0
``activation_based.learning.online_learning``.
"""
from __future__ import annotations

import copy
import math
import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..neuron.memory import MemoryModule
from .state import detach_net

__all__ = [
    "SequenceMismatchError",
    "ottt_online_training",
    "fptt_online_training_init_w_ra",
    "fptt_online_training",
    "check_w_ra",
    "UnoptimizedGradientWarning",
    "warn_unoptimized_gradients",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SequenceMismatchError(ValueError, IndexError):
    """Sequences (or ``w_ra`` and the optimizer's parameters) that do not line up.

    A ``ValueError`` like the library's other input errors, and also an ``IndexError``, which
    is what SpikingJelly raises in the same situations, so code written for it still catches it.
    """


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _check_seq(x: Any, name: str, layout: str, where: str) -> int:
    """Number of steps of ``x`` (a tensor laid out as ``layout``); raise if it has none."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a tensor shaped {layout}, got {type(x).__name__}.")
    axis = 1 if layout.startswith("[N, T") else 0
    if x.dim() < axis + 1:
        raise ValueError(f"{where}: {name} must be shaped {layout}, got shape {tuple(x.shape)}.")
    return int(x.shape[axis])


def _check_sequences(x_seq: Any, target_seq: Any, layout: str, where: str) -> int:
    T = _check_seq(x_seq, "x_seq", layout, where)
    T_target = _check_seq(target_seq, "target_seq", layout, where)
    if T == 0:
        raise ValueError(
            f"{where}: x_seq {tuple(x_seq.shape)} is an empty sequence (T = 0 steps along "
            f"{'dim 1' if layout.startswith('[N, T') else 'dim 0'} of {layout}). Give at least one "
            f"time step."
        )
    if T_target != T:
        raise SequenceMismatchError(
            f"{where}: target_seq has {T_target} time steps but x_seq has {T} (layout {layout}; "
            f"shapes {tuple(target_seq.shape)} and {tuple(x_seq.shape)}). Give one target per "
            f"step, e.g. target_seq = y.unsqueeze({1 if layout.startswith('[N, T') else 0})"
            f".expand(...) for a label y that holds at every step."
        )
    if layout.startswith("[N, T") and target_seq.shape[0] != x_seq.shape[0]:
        raise SequenceMismatchError(
            f"{where}: batch sizes differ: x_seq {tuple(x_seq.shape)} and target_seq "
            f"{tuple(target_seq.shape)} (both batch first, {layout})."
        )
    return T


def _check_call(model: Any, optimizer: Any, x_seq: torch.Tensor, f_loss_t: Any, batch_axis: int,
                where: str) -> None:
    """What cannot train right, refused before the first step, each with its fix."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{where}: model must be an nn.Module (the network), got {type(model).__name__}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"{where}: optimizer must be a torch.optim.Optimizer, e.g. "
                        f"torch.optim.Adam(model.parameters()), got {type(optimizer).__name__}.")
    if not callable(f_loss_t):
        raise TypeError(f"{where}: f_loss_t must be a function (y_t, target_t) -> scalar loss, e.g. "
                        f"F.cross_entropy, got {type(f_loss_t).__name__}.")
    if not model.training:
        raise ValueError(f"{where}: the model is in eval mode, where OTTT neurons return spikes "
                         f"without traces and dropout is off, so it would train without the OTTT "
                         f"gradient. Call model.train() first (and model.eval() to evaluate).")
    if not (x_seq.is_floating_point() or x_seq.is_complex()):
        raise TypeError(f"{where}: x_seq must be a floating-point tensor, got {x_seq.dtype}; "
                        f"convert it with x_seq.float().")
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    if param is not None and x_seq.dtype != param.dtype:
        raise TypeError(f"{where}: x_seq is {x_seq.dtype} but the model's parameters are "
                        f"{param.dtype}; convert one to the other, e.g. x_seq.to({param.dtype}) "
                        f"(or model.to(torch.float64) to train in double precision).")
    multi = [name or type(model).__name__ for name, m in model.named_modules()
             if getattr(m, "step_mode", "s") == "m"]
    if multi:
        raise ValueError(f"{where}: {multi[0]} is in multi-step mode (step_mode='m'), but this "
                         f"function feeds the network one time step at a time, so the neuron "
                         f"would read the batch as time. Build the neurons with step_mode='s'.")
    if x_seq.shape[batch_axis] == 0:
        raise ValueError(f"{where}: x_seq {tuple(x_seq.shape)} is an empty batch (N = 0 along dim "
                         f"{batch_axis}): there is nothing to train on.")
    check_finite_input(x_seq, 1 - batch_axis, where)


def check_finite_input(x_seq: torch.Tensor, time_axis: int, where: str) -> None:
    """Refuse NaN or inf in ``x_seq``: a neuron fed NaN silently stops firing, so the loss stays
    finite while the network learns from garbage."""
    bad = ~torch.isfinite(x_seq)
    if bad.any():
        t = int(bad.nonzero()[0, time_axis])
        raise FloatingPointError(
            f"{where}: x_seq holds {int(bad.sum())} NaN or inf value(s), the first at step t={t}; "
            f"no parameter was changed. Clean the input (torch.isfinite(x_seq).all() must be True), "
            f"e.g. with torch.nan_to_num, or drop those samples.")


def _checked_loss(loss: Any, t: int, where: str, name: str = "f_loss_t") -> torch.Tensor:
    """The step's loss: a finite scalar tensor, or an error that names the step and the fix."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"{where}: {name} must return one number (a scalar tensor), got {shape} "
                         f"at step t={t}; use a reduced loss (reduction='mean' or 'sum').")
    if not torch.isfinite(loss.detach()).all():
        raise FloatingPointError(
            f"{where}: the loss at step t={t} is {loss.item()}; no parameter was changed by this "
            f"step. Check x_seq for NaN/inf (torch.isfinite(x_seq).all()) and the targets, or "
            f"lower the learning rate if training diverged.")
    return loss


def _optimizer_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class UnoptimizedGradientWarning(UserWarning):
    """Some parameters of the model receive gradients that no optimizer step applies."""


def warn_unoptimized_gradients(model: nn.Module, optimizer: torch.optim.Optimizer, where: str) -> None:
    """Warn (once per message, Python's default warning filter) when parameters of ``model``
    get a gradient but are not in ``optimizer``: they stay untrained while their ``.grad``
    grows call after call, which is rarely meant (call it after a ``backward()``)."""
    optimized = {id(p) for p in _optimizer_parameters(optimizer)}
    left = [name for name, p in model.named_parameters() if p.grad is not None and id(p) not in optimized]
    if left:
        shown = ", ".join(left[:4]) + (f" and {len(left) - 4} more" if len(left) > 4 else "")
        warnings.warn(
            f"{where}: {len(left)} parameter(s) of the model get gradients but are not in the "
            f"optimizer, so they are never updated and their .grad keeps growing: {shown}. Build "
            f"the optimizer on model.parameters(), or freeze them with p.requires_grad_(False).",
            UnoptimizedGradientWarning, stacklevel=3)


def check_w_ra(w_ra: Any, optimizer: torch.optim.Optimizer, where: str = "fptt_online_training") -> None:
    """Raise a clear error unless ``w_ra`` has one tensor per optimizer parameter, same shapes.

    ``w_ra`` must come from ``fptt_online_training_init_w_ra(optimizer)`` for this optimizer.
    """
    params = _optimizer_parameters(optimizer)
    fix = ("Create it with w_ra = fptt_online_training_init_w_ra(optimizer) for this optimizer "
           "(again after adding parameter groups).")
    if not isinstance(w_ra, list):
        raise TypeError(f"{where}: w_ra must be a list of tensors, got {type(w_ra).__name__}. {fix}")
    if len(w_ra) != len(params):
        raise SequenceMismatchError(
            f"{where}: w_ra has {len(w_ra)} tensor(s) but the optimizer has {len(params)} "
            f"parameter(s). {fix}"
        )
    for i, (w, p) in enumerate(zip(w_ra, params)):
        if not isinstance(w, torch.Tensor) or w.shape != p.shape:
            got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise ValueError(
                f"{where}: w_ra[{i}] is {got} but optimizer parameter {i} has shape "
                f"{tuple(p.shape)}. {fix}"
            )


def _check_alpha(alpha: Any, where: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (
            math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"{where}: alpha must be a positive number (it divides the gradient "
                         f"term, 1/(2 alpha)), got {alpha!r}. SpikingJelly's example uses 0.1.")
    return float(alpha)


# ---------------------------------------------------------------------------------------------
# SpikingJelly's functions
# ---------------------------------------------------------------------------------------------
def ottt_online_training(model: nn.Module, optimizer: torch.optim.Optimizer, x_seq: torch.Tensor,
                         target_seq: torch.Tensor, f_loss_t: LossFn,
                         online: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Train ``model`` online over one sequence, OTTT or SLTT style / OTTT (或 SLTT) 在线训练一个序列。

    English
        ``x_seq`` and ``target_seq`` are **batch first**, ``[N, T, ...]`` (transposed to time
        first inside). For each step ``t``: ``y_t = model(x_t)`` (a list/tuple output, e.g. an
        ``OTTTLIFNode``'s ``[spike, trace]``, is reduced to its first element), the loss
        ``f_loss_t(y_t, target_t)`` is back-propagated **without dividing by T**, and the
        network's state is detached (``detach_net``). ``online=False`` (OTTT_A-like): one
        ``zero_grad`` before the loop and one ``optimizer.step()`` after it; ``online=True``
        (OTTT_O-like): ``zero_grad``, backward and ``step`` at every step. The network is
        *not* reset: call ``reset_net(model)`` before the next sequence. Works for OTTT networks
        (``OTTTSequential`` + ``OTTTLIFNode``) and SLTT networks (``SLTTLIFNode``).
    中文
        输入为 batch 在前的 ``[N, T, ...]``; 每步前向、反向 (损失不除以 T) 并 ``detach_net``;
        ``online`` 为 True 时每步更新参数, 否则整段序列结束后更新一次。不重置网络。

    Returns:
        ``(batch_loss, y_all)``: the sum of the detached per-step losses (a 0-d tensor) and the
        detached outputs stacked along dim 1, ``[N, T, ...]``.

    Raises:
        SequenceMismatchError: ``target_seq`` has another number of steps (or batch size) than
            ``x_seq`` (SpikingJelly: ``IndexError``). ValueError: an empty sequence.

    Reference: SpikingJelly 2.0.0 ``learning.online_learning.ottt_online_training``; Xiao et
    al., NeurIPS 2022; Meng et al., ICCV 2023.
    """
    where = "ottt_online_training"
    _check_sequences(x_seq, target_seq, "[N, T, ...] (batch first)", where)
    if not isinstance(online, bool):
        raise TypeError(f"{where}: online must be True (a step per time step) or False (one step "
                        f"per sequence), got {online!r}.")
    _check_call(model, optimizer, x_seq, f_loss_t, 0, where)
    x_seq = x_seq.transpose(0, 1)                       # (T, N, ...)
    target_seq = target_seq.transpose(0, 1)             # (T, N, ...)
    batch_loss: Any = 0.0
    y_all = []
    if not online:
        optimizer.zero_grad()
    for t, x_t in enumerate(x_seq):
        target_t = target_seq[t]
        if online:
            optimizer.zero_grad()
        y_t = model(x_t)                                # (N, ...)
        if isinstance(y_t, (list, tuple)):
            y_t = y_t[0]
        loss = f_loss_t(y_t, target_t.contiguous())     # not divided by T (SpikingJelly's choice)
        _checked_loss(loss, t, "ottt_online_training").backward()
        if online:
            optimizer.step()
        detach_net(model)                               # the next step must not reach this graph
        batch_loss += loss.detach()
        y_all.append(y_t.detach())
    warn_unoptimized_gradients(model, optimizer, where)
    if not online:
        optimizer.step()
    return batch_loss, torch.stack(y_all, dim=1)        # (), (N, T, ...)


def fptt_online_training_init_w_ra(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """FPTT's running average at the start: a detached copy of every parameter / 初始化 ``w_ra``。

    In the order of ``optimizer.param_groups``. Call it once before training (not per batch);
    ``fptt_online_training`` updates the list in place.
    """
    return [p.detach().clone() for p in _optimizer_parameters(optimizer)]


def _fptt_sequence(model: nn.Module, optimizer: torch.optim.Optimizer, x_seq: torch.Tensor,
                   target_seq: torch.Tensor, f_loss_t: LossFn, alpha: float,
                   w_ra: list, where: str = "fptt_online_training"
                   ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """FPTT over ``x_seq`` (T, N, ...); returns each step's detached ``(f_loss_t, y_t)`` of the
    first (training) pass. Inputs must be checked by the caller (``_check_call``)."""
    params = _optimizer_parameters(optimizer)
    for i, p in enumerate(params):                      # e.g. a w_ra restored on the CPU
        if w_ra[i].device != p.device or w_ra[i].dtype != p.dtype:
            w_ra[i] = w_ra[i].to(device=p.device, dtype=p.dtype)
    prev_grads: list[Any] = [0.0] * len(params)
    memory_modules = [m for m in model.modules() if isinstance(m, MemoryModule)]
    T = x_seq.shape[0]
    record = []
    for t, x_t in enumerate(x_seq):
        target_t = target_seq[t]
        optimizer.zero_grad()
        y_t = model(x_t)                                # (N, ...)
        if not isinstance(y_t, torch.Tensor):
            raise TypeError(f"{where}: the model returned {type(y_t).__name__} at step t={t}, not "
                            f"a tensor (a network ending in an OTTT neuron returns [spike, trace] "
                            f"while training); end it with a layer such as nn.Linear, or use "
                            f"neurons that return spikes (LIFNode) for FPTT.")
        data_loss = _checked_loss(f_loss_t(y_t, target_t), t, where)
        loss = data_loss + (alpha / 2.0) * sum(
            F.mse_loss(p, w_ra[i] + prev_grads[i] / (2.0 * alpha)) for i, p in enumerate(params))
        loss.backward()
        optimizer.step()
        detach_net(model)
        record.append((data_loss.detach(), y_t.detach()))
        states = [copy.deepcopy(m._memories) for m in memory_modules]
        optimizer.zero_grad()
        if t < T - 1:                                   # the gradient at the new weights
            f_loss_t(model(x_t), target_t).backward()
            with torch.no_grad():
                for i, p in enumerate(params):
                    g = torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                    prev_grads[i] = g
                    w_ra[i] = (w_ra[i] + p) / 2.0 - g / (2.0 * alpha)
        optimizer.zero_grad()
        for m, state in zip(memory_modules, states):   # undo the extra pass's state change
            m._memories = state
    warn_unoptimized_gradients(model, optimizer, where)
    return record


def fptt_online_training(model: nn.Module, optimizer: torch.optim.Optimizer, x_seq: torch.Tensor,
                         target_seq: torch.Tensor, f_loss_t: LossFn, alpha: float,
                         w_ra: list) -> None:
    """Train ``model`` over one sequence with FPTT / 用 FPTT 在线训练一个序列。

    English
        ``x_seq`` and ``target_seq`` are **time first**, ``[T, N, ...]``. At every step: the
        step's loss plus FPTT's regulariser (see the module docstring for the equations), one
        ``optimizer.step()``, ``detach_net``; then (except at the last step) a second forward
        and backward without the regulariser at the new weights gives the gradient that
        updates ``w_ra`` (in place: the list's items are replaced) and the next step's
        regulariser, and the neuron state is restored. ``w_ra`` comes from
        ``fptt_online_training_init_w_ra(optimizer)`` and is carried from sequence to sequence;
        the previous-gradient term starts at 0 for every call. Not reset: call
        ``reset_net(model)`` before the next sequence. Returns nothing, as SpikingJelly's.
    中文
        输入为时间在前的 ``[T, N, ...]``; 每步: 损失加动态正则项、更新参数、``detach_net``;
        除最后一步外再做一次不含正则项的前向与反向, 更新 ``w_ra`` 并恢复神经元状态。

    Raises:
        SequenceMismatchError: ``target_seq`` has another number of steps than ``x_seq``, or
            ``w_ra`` another number of tensors than the optimizer has parameters (SpikingJelly:
            ``IndexError`` where they are shorter). ValueError: an empty sequence, a ``w_ra``
            tensor of the wrong shape, ``alpha <= 0``.

    Reference: Kag & Saligrama, ICML 2021, Algorithm 1; Yin et al., arXiv 2112.11231;
    SpikingJelly 2.0.0 ``learning.online_learning.fptt_online_training``.
    """
    where = "fptt_online_training"
    _check_sequences(x_seq, target_seq, "[T, N, ...] (time first)", where)
    _check_call(model, optimizer, x_seq, f_loss_t, 1, where)
    alpha = _check_alpha(alpha, where)
    check_w_ra(w_ra, optimizer, where)
    _fptt_sequence(model, optimizer, x_seq, target_seq, f_loss_t, alpha, w_ra, where)
