"""``GradwithTrace``: a layer whose value comes from spikes and whose weight gradient from traces.

English
    OTTT's weight update for a layer ``y[t] = W s[t]`` is the BPTT gradient with the temporal
    terms dropped, which leaves the presynaptic *trace* in place of the spike:
    ``dL/dW = sum_t g[t]^T a[t]`` with ``g[t] = dL[t]/dy[t]`` and
    ``a[t] = sum_{t'<=t} (1 - 1/tau)^(t-t') s[t']``. ``GradwithTrace(m)`` builds exactly that
    with autograd: the output value is ``m(spike)`` (computed without a graph), the graph is
    ``m(ReplaceforGrad(spike, trace))`` — ``m`` evaluated on the trace values, so its parameters
    get ``g^T a`` — and the two are joined by ``ReplaceforGrad(m(trace-path), m(spike))``. The
    gradient with respect to the input flows back to the spike (and on, through the surrogate,
    to the previous layer at the same time step).
中文
    用于随时间在线训练: 输出数值为 ``m(spike)``, 梯度则经由 ``m(trace)`` 传播, 因此参数得到
    ``sum_t g[t]^T a[t]``, 而输入梯度回传给脉冲。

Equations for one time step (``m`` a layer with parameters ``W``)::

    forward   y = m(s)                                  # value from the spike  (B, N_out)
    backward  dL/dW = dm(a)/dW ^T g    (Linear: g^T a)   # gradient from the trace
              dL/ds = dm(a)/da ^T g    (Linear: g W)     # input gradient to the spike

Shapes: spike and trace ``(B, ...)`` of the same shape; output ``m``'s output shape.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022,
Eq. (9)-(11); SpikingJelly ``activation_based.layer.online_learning.GradwithTrace``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ._checks import check_spike_trace_pair
from .replace_for_grad import ReplaceforGrad

__all__ = ["GradwithTrace"]


class GradwithTrace(nn.Module):
    """Compute a layer's gradients from the neurons' traces / 根据神经元的迹计算梯度。

    English
        Wraps a module with parameters (``nn.Linear``, ``nn.Conv2d``, ...). Called on
        ``[spike, trace]``, it returns a tensor whose value is ``module(spike)`` and whose
        gradient flows through ``module(trace)``.
    中文
        包装一个有参数的模块; 输入 ``[spike, trace]``, 输出数值为 ``module(spike)``,
        梯度经由 ``module(trace)`` 计算。

    Args:
        module: the module to wrap / 需要包装的模块。

    Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195); SpikingJelly
    ``activation_based.layer.online_learning.GradwithTrace``.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"GradwithTrace wraps an nn.Module, got {type(module).__name__}.")
        self.module = module

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        spike, trace = check_spike_trace_pair(x, "GradwithTrace")
        with torch.no_grad():
            out = self.module(spike)                           # value from the spike
        in_for_grad = ReplaceforGrad.apply(spike, trace)       # value: trace; grad -> spike
        out_for_grad = self.module(in_for_grad)                # graph: module on the trace
        return ReplaceforGrad.apply(out_for_grad, out)         # value: out; grad -> graph
