"""Reference answers to the notebooks' "your turn" exercises (notebooks 01-06), for the tests.

They live here, not in the installed package, so that no notebook of the student edition puts an
answer one keystroke from its exercise (issue 25): the notebooks' cells after an exercise use the
library's own modules, or the student's answer once its checker has said Correct. The build-it
classes (``MyReplaceforGrad``, ``MyGradwithTrace``, ``MySpikeTraceOp``) have no entry here; their
checkers compare with the library's ``ReplaceforGrad``, ``GradwithTrace`` and ``SpikeTraceOp``.

练习的参考答案，仅供测试使用：它们不在安装的库中，学生版笔记本里没有一键可见的答案。

Each is checked by its checker in ``tests/course/test_reference.py``. Reference: Xiao et al.,
NeurIPS 2022 (arXiv 2210.04195); SpikingJelly ``activation_based.layer.online_learning``.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu.layer.grad_with_trace import GradwithTrace
from ottt_edu.layer.ottt_sequential import OTTTSequential
from ottt_edu.functional.state import reset_net
from ottt_edu.neuron.lif import LIFNode
from ottt_edu.layer.spike_trace_op import SpikeTraceOp
from ottt_edu.neuron.surrogate import heaviside

__all__ = ["first_spike_time", "surrogate_spike", "replace_by_detach", "ottt_lif_step",
           "trace_closed_form", "ottt_weight_grad", "ottt_forward", "ottt_a_step"]


def first_spike_time(x: float, tau: float, v_threshold: float) -> Optional[int]:
    """01: first step t (from 0) at which a LIF neuron (``decay_input=False``, soft reset, v = 0
    at the start) with the constant input ``x`` fires, or ``None`` if it never does.
    Before the first spike ``v[t] = x (1 - k^(t+1)) / (1 - k)``, ``k = 1 - 1/tau``."""
    k = 1.0 - 1.0 / tau
    if x * tau <= v_threshold:       # v only approaches x * tau from below
        return None
    if x >= v_threshold:             # fires at once: v[0] = x
        return 0
    return math.ceil(math.log(1.0 - v_threshold * (1.0 - k) / x) / math.log(k)) - 1


def surrogate_spike(x: torch.Tensor, alpha: float = 4.0) -> torch.Tensor:
    """02: value ``H(x)``, gradient ``alpha * sigmoid'(alpha x)`` (the detach trick)."""
    smooth = torch.sigmoid(alpha * x)
    return heaviside(x).detach() + (smooth - smooth.detach())


def replace_by_detach(x: torch.Tensor, x_r: torch.Tensor) -> torch.Tensor:
    """03: the value of ``x_r`` (up to rounding), the gradient to ``x`` only."""
    return x + (x_r - x).detach()


def ottt_lif_step(x: torch.Tensor, v: torch.Tensor, trace: torch.Tensor, tau: float,
                  v_threshold: float, surrogate: Callable[[torch.Tensor], torch.Tensor],
                  training: bool) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """04: one step of ``OTTTLIFNode``; returns ``([spike, trace] or spike, v, trace)``."""
    k = 1.0 - 1.0 / tau
    v = k * v.detach() + x                       # 1. charge; v detached: OTTT's cut in time
    spike = surrogate(v - v_threshold)           # 2. fire (step forward, surrogate backward)
    v = v - spike.detach() * v_threshold         # 3. soft reset, detached
    if not training:
        return spike, v, trace
    with torch.no_grad():
        trace = k * trace + spike                # 4. the trace, without gradient
    return [spike, trace], v, trace


def trace_closed_form(spikes: torch.Tensor, tau: float) -> torch.Tensor:
    """04: ``a[t] = sum_{t' <= t} k^(t - t') s[t']`` for ``spikes`` of shape (T, N)."""
    T = spikes.shape[0]
    t = torch.arange(T, dtype=spikes.dtype)
    lag = t[:, None] - t[None, :]                                    # (T, T): t - t'
    K = torch.where(lag >= 0, (1.0 - 1.0 / tau) ** lag.clamp(min=0), torch.zeros_like(lag))
    return K @ spikes                                                # (T, T) @ (T, N)


def ottt_weight_grad(g: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """04: ``dW = sum_t g[t]^T a[t]`` for ``g`` (T, B, N_out) and ``a`` (T, B, N_in)."""
    return torch.einsum("tbo,tbi->oi", g, a)


def ottt_forward(layers: list, x: Any, log: Optional[list] = None) -> Any:
    """05: ``OTTTSequential``'s dispatch over ``layers``; appends how each layer ran to ``log``."""
    for m in layers:
        if not (isinstance(x, list) and len(x) == 2):
            how, x = "as itself (plain tensor in)", m(x)
        elif isinstance(m, OTTTSequential):
            how, x = "as itself (a nested OTTTSequential)", m(x)
        elif isinstance(m, LIFNode):
            how, x = "neuron (spike only)", m(x[0])
        elif any(True for _ in m.parameters()):
            how, x = "GradwithTrace", GradwithTrace(m)(x)
        else:
            how, x = "SpikeTraceOp", SpikeTraceOp(m)(x)
        if log is not None:
            log.append(how)
    return x


def ottt_a_step(net: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                optimizer: torch.optim.Optimizer) -> float:
    """06: one OTTT_A update on one sequence ``x_seq`` (T, B, ...); returns its loss."""
    T = x_seq.shape[0]
    optimizer.zero_grad()
    total = 0.0
    for t in range(T):
        loss = F.cross_entropy(net(x_seq[t]), y) / T
        loss.backward()
        total += loss.item()
    optimizer.step()
    reset_net(net)
    return total
