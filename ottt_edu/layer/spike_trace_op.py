"""``SpikeTraceOp``: apply one parameter-free operation to the spike and to the trace alike.

English
    Between a neuron and the next parametric layer there are often operations without
    parameters: average pooling, flattening, scaling, dropout. The trace must go through the
    same operation as the spike, or the next layer's gradient ``g^T a`` would pair the wrong
    entries. ``SpikeTraceOp(m)`` returns ``[m(spike), m(trace)]``; the spike keeps its graph
    (so gradients flow back through ``m``), the trace is computed without one.
中文
    对脉冲和迹进行相同的运算, 如 Dropout、AvgPool 等; 脉冲保留计算图, 迹不求梯度。

Equations::

    spike' = m(spike)              (with gradient)
    trace' = m(trace)              (torch.no_grad)

Shapes: spike and trace ``(B, ...)`` of the same shape; outputs ``m``'s output shape, twice.

Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning.SpikeTraceOp``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._checks import check_spike_trace_pair, has_parameters
from .pair_module import apply_to_trace, check_pair_module

__all__ = ["SpikeTraceOp"]


def check_spike_trace_op_module(module: nn.Module) -> None:
    """Reject modules that would silently break ``SpikeTraceOp``'s contract."""
    if has_parameters(module):
        names = [n for n, _ in module.named_parameters()]
        raise ValueError(
            f"SpikeTraceOp wraps parameter-free operations, but {type(module).__name__} has "
            f"parameters {names}: through SpikeTraceOp they would be trained on spikes only. "
            f"Wrap it in GradwithTrace instead (OTTTSequential chooses for you)."
        )
    if isinstance(module, nn.modules.dropout._DropoutNd):
        raise ValueError(
            f"torch.nn.{type(module).__name__} draws a new random mask on every call, so spike and "
            f"trace would be dropped differently. Use ottt_edu.Dropout, which keeps one mask per "
            f"sequence (until reset_net) for both."
        )


class SpikeTraceOp(nn.Module):
    """Perform the same operation on spike and trace / 对脉冲和迹进行相同的运算。

    English
        Wraps a parameter-free module (pooling, flatten, ``ottt_edu.Dropout``, scaling).
        Called on ``[spike, trace]`` it returns ``[module(spike), module(trace)]``.
    中文
        包装无参数模块 (池化、展平、``ottt_edu.Dropout``、缩放), 返回
        ``[module(spike), module(trace)]``。

    Args:
        module: the parameter-free module to wrap / 需要包装的模块。

    Raises:
        ValueError: if ``module`` has parameters (use ``GradwithTrace``), or is a
            ``torch.nn`` dropout (use ``ottt_edu.Dropout``); at the first call, if it would
            differ between spike and trace (BatchNorm in training, a nested ``torch.nn`` dropout,
            ``RReLU``, a neuron, any module that draws random numbers or updates a buffer per
            call).

    Reference: Xiao et al., NeurIPS 2022; SpikingJelly
    ``activation_based.layer.online_learning.SpikeTraceOp``.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"SpikeTraceOp wraps an nn.Module, got {type(module).__name__}.")
        check_spike_trace_op_module(module)
        self.module = module

    def forward(self, x: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        spike, trace = check_spike_trace_pair(x, "SpikeTraceOp")
        info = check_pair_module(self.module, "SpikeTraceOp")  # cached after the first call
        spike = self.module(spike)
        with torch.no_grad():
            trace = apply_to_trace(self.module, info, trace, "SpikeTraceOp")
        return [spike, trace]
