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

Two ways to compute it (``grad_path``):
    ``'two_pass'`` is the reference above (``m`` runs twice per step, for any module ``m``);
    ``'fast'`` runs ``m`` once, for layers linear in their input (``nn.Linear``, ``nn.Conv1d``,
    ``nn.Conv2d`` and weight-standardized variants that expose ``get_weight()``), with the same
    value and gradients (see ``ottt_edu.layer.fast_path``); ``'auto'`` (the default) takes the fast
    path when ``supports_fast_path(m)`` and the reference otherwise.
    ``grad_path`` 选择计算方式: ``'two_pass'`` 为参考实现 (每步两次前向), ``'fast'`` 对输入为
    线性的层只前向一次, ``'auto'`` (默认) 自动选择。

Shapes: spike and trace ``(B, ...)`` of the same shape; output ``m``'s output shape.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022,
Eq. (9)-(11); SpikingJelly ``activation_based.layer.online_learning.GradwithTrace``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._checks import check_spike_trace_pair
from .pair_module import apply_to_trace, check_pair_module
from .fast_path import check_grad_path, fast_path_forward, supports_fast_path, why_no_fast_path
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
        grad_path: ``'auto'`` (default: the single-pass fast path if
            ``supports_fast_path(module)``, else the two-pass reference), ``'fast'`` (always the
            fast path; ``ValueError`` if ``module`` does not qualify) or ``'two_pass'`` (always the
            reference). Values and gradients are the same either way (up to float rounding).
            计算方式: ``'auto'`` / ``'fast'`` / ``'two_pass'``。

    Raises:
        ValueError: for an unknown ``grad_path``, or ``'fast'`` with a module that is not
            linear in its input; at the first call, for a module that would differ between the
            spike's call and the trace's (BatchNorm in training, ``torch.nn`` dropout, ``RReLU``,
            a neuron inside, any module that draws random numbers or updates a buffer per call),
            and for spike and trace of different shapes, devices or dtypes.

    Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195); SpikingJelly
    ``activation_based.layer.online_learning.GradwithTrace``.
    """

    def __init__(self, module: nn.Module, grad_path: str = "auto") -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"GradwithTrace wraps an nn.Module, got {type(module).__name__}.")
        check_grad_path(grad_path)
        if grad_path == "fast":
            reason = why_no_fast_path(module)
            if reason is not None:
                raise ValueError(
                    f"GradwithTrace(grad_path='fast') cannot wrap this module: {reason}. Use "
                    f"grad_path='auto' (fast where possible) or 'two_pass'."
                )
        self.module = module
        self.grad_path = grad_path

    def uses_fast_path(self) -> bool:
        """Whether the next ``forward`` takes the single-pass fast path."""
        if self.grad_path == "two_pass":
            return False
        return self.grad_path == "fast" or supports_fast_path(self.module)

    def extra_repr(self) -> str:
        return f"grad_path={self.grad_path!r}"

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        spike, trace = check_spike_trace_pair(x, "GradwithTrace")
        info = check_pair_module(self.module, "GradwithTrace")  # cached after the first call
        if self.uses_fast_path():                              # one pass (see fast_path.py)
            return fast_path_forward(self.module, spike, trace)
        with torch.no_grad():
            out = self.module(spike)                           # value from the spike
        in_for_grad = ReplaceforGrad.apply(spike, trace)       # value: trace; grad -> spike
        out_for_grad = apply_to_trace(self.module, info, in_for_grad,   # graph: module(trace)
                                      "GradwithTrace")
        return ReplaceforGrad.apply(out_for_grad, out)         # value: out; grad -> graph
