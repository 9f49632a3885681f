"""``OTTTSequential``: an ``nn.Sequential`` that routes ``[spike, trace]`` pairs correctly.

English
    In training mode an ``OTTTLIFNode`` returns ``[spike, trace]``. Every layer after it must
    then be applied in the OTTT way: layers with parameters through ``GradwithTrace`` (value
    from the spike, gradient from the trace), parameter-free ones through ``SpikeTraceOp``
    (same operation on both). ``OTTTSequential`` does this wrapping on the fly, so the same
    model definition works in training (pairs) and in evaluation (plain spike tensors, where it
    is an ordinary ``nn.Sequential``).
中文
    用于 OTTT 的顺序容器, 扩展自 ``nn.Sequential``。若输入为 ``[spike, trace]`` 列表, 则自动把
    有参数的模块包装为 ``GradwithTrace``, 把无参数的模块包装为 ``SpikeTraceOp``。

Routing rule, for each module ``m`` and current input ``x``::

    x a tensor                      -> m(x)                      (plain nn.Sequential)
    x = [spike, trace] and m is
        a spiking neuron (LIFNode)  -> m(spike)                  (one step, once)
        an OTTTSequential / wrapper -> m(x)                      (it routes the pair itself)
        a module with parameters    -> GradwithTrace(m)(x)
        a parameter-free module     -> SpikeTraceOp(m)(x)

A neuron that receives a pair is called once, on the spike; SpikingJelly's container would wrap
it in ``SpikeTraceOp`` and step it twice. ``torch.nn.Dropout`` is rejected at construction (it
would give spike and trace different masks): use ``ottt_edu.Dropout``.

Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning.OTTTSequential``.
"""
from __future__ import annotations

from typing import Any, Union

import torch
from torch import nn

from ._checks import has_parameters, is_spike_trace_pair
from .fast_path import check_grad_path
from .grad_with_trace import GradwithTrace
from .neuron import LIFNode
from .spike_trace_op import SpikeTraceOp, check_spike_trace_op_module

__all__ = ["OTTTSequential", "wrapper_for"]

_PASS_THROUGH = (GradwithTrace, SpikeTraceOp)


def wrapper_for(module: nn.Module) -> str:
    """Name of the way ``OTTTSequential`` applies ``module`` to a ``[spike, trace]`` pair.

    One of ``'neuron (spike only)'``, ``'itself'``, ``'GradwithTrace'``, ``'SpikeTraceOp'``.
    """
    if isinstance(module, LIFNode):
        return "neuron (spike only)"
    if isinstance(module, (OTTTSequential,) + _PASS_THROUGH):
        return "itself"
    return "GradwithTrace" if has_parameters(module) else "SpikeTraceOp"


class OTTTSequential(nn.Sequential):
    """Sequential container for OTTT / 用于 OTTT 在线训练的顺序容器。

    English
        Extends ``nn.Sequential``. During ``forward``, once the input is a ``[spike, trace]``
        list, modules with parameters are wrapped by ``GradwithTrace`` and parameter-free ones by
        ``SpikeTraceOp``; a spiking neuron is called on the spike alone.
    中文
        扩展自 ``nn.Sequential``; 在 ``forward`` 中, 若输入为 ``[spike, trace]`` 列表,
        有参数的模块自动包装为 ``GradwithTrace``, 无参数的模块包装为 ``SpikeTraceOp``。

    Args:
        *args: modules to run in order / 需要顺序执行的模块。
        grad_path: how ``GradwithTrace`` computes each wrapped layer: ``'auto'`` (default:
            single pass for layers linear in their input, two passes otherwise), ``'fast'`` or
            ``'two_pass'`` (see ``GradwithTrace``). Settable later: ``net.grad_path = 'two_pass'``.
            Nested ``OTTTSequential`` containers keep their own setting.
            ``GradwithTrace`` 的计算方式, 见 ``GradwithTrace``。

    Example::

        net = OTTTSequential(nn.Linear(64, 100), OTTTLIFNode(), nn.Linear(100, 10))
        for t in range(T):                # training: one step at a time
            out = net(x[t])               # (B, 10); the second Linear sees [spike, trace]

    Reference: Xiao et al., NeurIPS 2022; SpikingJelly
    ``activation_based.layer.online_learning.OTTTSequential``.
    """

    def __init__(self, *args: Any, grad_path: str = "auto") -> None:
        super().__init__(*args)
        self.grad_path = grad_path
        for i, m in enumerate(self):
            if not has_parameters(m) and not isinstance(m, (LIFNode, OTTTSequential) + _PASS_THROUGH):
                try:
                    check_spike_trace_op_module(m)
                except ValueError as e:
                    raise ValueError(f"OTTTSequential layer {i}: {e}") from None

    @property
    def grad_path(self) -> str:
        """``'auto'``, ``'fast'`` or ``'two_pass'``, passed to every ``GradwithTrace``."""
        return self._grad_path

    @grad_path.setter
    def grad_path(self, value: str) -> None:
        self._grad_path = check_grad_path(value)

    def wrapping(self) -> list[tuple[str, str]]:
        """``(layer, wrapper)`` for every layer, as applied to a ``[spike, trace]`` input."""
        return [(f"{i}: {type(m).__name__}", wrapper_for(m)) for i, m in enumerate(self)]

    def forward(self, x: Union[torch.Tensor, list[torch.Tensor]]) -> Any:
        for m in self:
            if not is_spike_trace_pair(x):
                x = m(x)
                continue
            how = wrapper_for(m)
            if how == "neuron (spike only)":
                x = m(x[0])
            elif how == "itself":
                x = m(x)
            elif how == "GradwithTrace":
                x = GradwithTrace(m, self._grad_path)(x)
            else:
                x = SpikeTraceOp(m)(x)
        return x
