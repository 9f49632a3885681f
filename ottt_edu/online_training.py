"""SpikingJelly's online training functions (OTTT/SLTT, FPTT) and the trainer's SLTT and FPTT steps.

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

    For the trainer (``ottt_edu.train``, ``--method sltt|fptt``) this module also gives the
    per-batch steps ``sltt_step`` (with the paper's SLTT-K: back-propagate at only K randomly
    chosen steps of T) and ``fptt_step`` / ``FPTTStep`` (which keeps ``w_ra`` across batches
    and saves it in checkpoints), with the signature of ``train.STEP_FUNCTIONS``, plus
    ``online_backward`` (per-step backward with the state detached after each step) for
    measurements at fixed weights.
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
``target_seq (T, N, ...)``. Trainer steps: ``x_seq (T, B, ...)``, ``y (B,)``.

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

import contextlib
import copy
import math
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .memory import MemoryModule, detach_net, reset_net

if TYPE_CHECKING:  # train imports this module; import its types lazily
    from .train import StepResult

__all__ = [
    "SequenceMismatchError",
    "ottt_online_training",
    "fptt_online_training_init_w_ra",
    "fptt_online_training",
    "check_w_ra",
    "online_backward",
    "sltt_step",
    "fptt_step",
    "FPTTStep",
    "DEFAULT_FPTT_ALPHA",
]

#: ``alpha`` of the trainer's FPTT (``TrainConfig.fptt_alpha``, ``--fptt-alpha``).
DEFAULT_FPTT_ALPHA = 0.1

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SyncContext = Callable[[], ContextManager]


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


def _optimizer_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


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
        loss.backward()
        if online:
            optimizer.step()
        detach_net(model)                               # the next step must not reach this graph
        batch_loss += loss.detach()
        y_all.append(y_t.detach())
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
                   w_ra: list) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """FPTT over ``x_seq`` (T, N, ...); returns each step's detached ``(f_loss_t, y_t)`` of the
    first (training) pass. Inputs must be checked by the caller."""
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
        data_loss = f_loss_t(y_t, target_t)
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
    alpha = _check_alpha(alpha, where)
    check_w_ra(w_ra, optimizer, where)
    _fptt_sequence(model, optimizer, x_seq, target_seq, f_loss_t, alpha, w_ra)


# ---------------------------------------------------------------------------------------------
# the trainer's steps (signature of train.STEP_FUNCTIONS)
# ---------------------------------------------------------------------------------------------
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
                    sync_context: SyncContext = contextlib.nullcontext) -> "StepResult":
    """Per-step forward and ``backward()`` of ``loss_fn(out[t], y)/T``, ``detach_net`` after each.

    The gradient of online learning at fixed weights, for any network: OTTT's with OTTT neurons,
    SLTT's with SLTT neurons, and, with plain ``LIFNode`` s (whose state ``detach_net`` cuts),
    the data gradient of FPTT's first steps (equal to SLTT's for the same dynamics). Gradients
    accumulate in ``.grad``; the network is neither reset nor are gradients zeroed. Steps
    ``0..T-2`` run inside ``sync_context()`` (DDP's ``no_sync``), as ``train.ottt_backward``.
    ``x_seq`` is ``(T, B, ...)``.
    """
    from .train import ottt_backward

    _check_batch(x_seq, y, "online_backward")
    return ottt_backward(model, x_seq, y, loss_fn, sync_context, detach_state=True)


def sltt_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn = F.cross_entropy,
              sync_context: SyncContext = contextlib.nullcontext, *, k: Optional[int] = None,
              generator: Optional[torch.Generator] = None) -> "StepResult":
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
    from .train import StepResult

    where = "sltt_step"
    T = _check_batch(x_seq, y, where)
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
                loss = loss_fn(out, y) / T
                loss.backward()
        else:
            with torch.no_grad():
                out = model(x_seq[t])
                loss = loss_fn(out, y) / T
        total += loss.item()
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    optimizer.step()
    reset_net(model)
    return StepResult(total, out_sum)


def fptt_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn = F.cross_entropy,
              sync_context: SyncContext = contextlib.nullcontext, *,
              alpha: float = DEFAULT_FPTT_ALPHA, w_ra: Optional[list] = None) -> "StepResult":
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
    from .train import StepResult

    where = "fptt_step"
    T = _check_batch(x_seq, y, where)
    alpha = _check_alpha(alpha, where)
    if w_ra is None:
        w_ra = fptt_online_training_init_w_ra(optimizer)
    check_w_ra(w_ra, optimizer, where)
    target_seq = y.unsqueeze(0).expand(T, *y.shape)     # (T, B): the label at every step
    reset_net(model)
    record = _fptt_sequence(model, optimizer, x_seq, target_seq,
                            lambda out, target: loss_fn(out, target) / T, alpha, w_ra)
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
                 sync_context: SyncContext = contextlib.nullcontext) -> "StepResult":
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
        self.w_ra = None if w_ra is None else [w.detach().clone() for w in w_ra]

    def __repr__(self) -> str:
        return f"FPTTStep(alpha={self.alpha})"


def _summed(outs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``outs[0] + outs[1] + ...`` in step order (as the other steps accumulate ``out_sum``)."""
    total = outs[0]
    for o in outs[1:]:
        total = total + o
    return total
