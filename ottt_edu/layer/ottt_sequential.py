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
it in ``SpikeTraceOp`` and step it twice. ``torch.nn.Dropout`` is rejected at construction, at
any depth (it would give spike and trace different masks): use ``ottt_edu.Dropout``. Also
rejected at construction: one neuron instance at two places, and an ``OTTTLIFNode`` followed by
other layers inside a plain ``nn.Sequential``. At the first call on a pair, a module that would
differ between spike and trace (BatchNorm in training, ``RReLU``, a neuron inside a wrapped
block, anything that draws random numbers or updates a buffer per call) is rejected; between
layers only tensors and ``[spike, trace]`` lists are passed (a layer returning a tuple raises).

Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning.OTTTSequential``.
"""
from __future__ import annotations

from typing import Any, Union

import torch
from torch import nn

from .._checks import PairError, describe_value, has_parameters, is_spike_trace_pair
from .fast_path import check_grad_path
from .grad_with_trace import GradwithTrace
from ..neuron.lif import LIFNode, OTTTLIFNode
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
            if not isinstance(m, nn.Module):        # pragma: no cover - nn.Sequential refuses
                raise TypeError(f"OTTTSequential layer {i} is a {type(m).__name__}, not an nn.Module.")
            if isinstance(m, (LIFNode, OTTTSequential)):
                continue
            if not has_parameters(m) and not isinstance(m, _PASS_THROUGH):
                try:
                    check_spike_trace_op_module(m)
                except ValueError as e:
                    raise ValueError(f"OTTTSequential layer {i}: {e}") from None
            _check_nested(i, m)
        _check_no_shared_neuron(self, "OTTTSequential")

    @staticmethod
    def _layer_output_error(i: int, m: nn.Module, x: Any) -> TypeError:
        return TypeError(
            f"OTTTSequential layer {i} ({type(m).__name__}) returned {describe_value(x)}; between "
            f"layers OTTTSequential passes a tensor, or a [spike, trace] list as OTTTLIFNode returns "
            f"in training. For a module with several outputs (nn.LSTM, MaxPool2d(return_indices="
            f"True), ...) wrap it in a small module that returns the one tensor the next layer needs."
        )

    @property
    def grad_path(self) -> str:
        """``'auto'``, ``'fast'`` or ``'two_pass'``, passed to every ``GradwithTrace``."""
        return self._grad_path

    @grad_path.setter
    def grad_path(self, value: str) -> None:
        self._grad_path = check_grad_path(value)

    def wrapping(self) -> list[tuple[str, str]]:
        """``(layer, wrapper)`` for every layer, as applied to a ``[spike, trace]`` input.

        A neuron that keeps no trace (``SLTTLIFNode``, a plain ``LIFNode``) hands the next layers
        a plain spike tensor, so those run as ``'itself'`` (not wrapped, no trace) until the next
        ``OTTTLIFNode``: an SLTT network in this container trains as plain SLTT."""
        report, traced = [], True
        for i, m in enumerate(self):
            how = wrapper_for(m)
            if not traced and how in ("GradwithTrace", "SpikeTraceOp"):
                how = "itself"
            if isinstance(m, LIFNode):
                traced = isinstance(m, OTTTLIFNode)
            report.append((f"{i}: {type(m).__name__}", how))
        return report

    def forward(self, x: Union[torch.Tensor, list[torch.Tensor]]) -> Any:
        if not isinstance(x, torch.Tensor) and not is_spike_trace_pair(x):
            raise TypeError(
                f"OTTTSequential expects one time step, a tensor (B, ...), or a [spike, trace] pair "
                f"of two tensors, got {describe_value(x)}. Call the network once per time step: "
                f"for t in range(T): out = net(x_seq[t])."
            )
        last = len(self) - 1
        for i, m in enumerate(self):
            if isinstance(x, torch.Tensor):
                x = m(x)
            else:
                how = wrapper_for(m)
                if how == "neuron (spike only)":
                    x = m(x[0])
                elif how == "itself":
                    x = m(x)
                else:
                    try:
                        if how == "GradwithTrace":
                            x = GradwithTrace(m, self._grad_path)(x)
                        else:
                            x = SpikeTraceOp(m)(x)
                    except PairError as e:
                        raise PairError(f"OTTTSequential layer {i} ({type(m).__name__}): {e}") from None
            if i < last and not isinstance(x, torch.Tensor) and not (
                    type(x) is list and is_spike_trace_pair(x)):
                raise self._layer_output_error(i, m, x)
        return x


def _check_nested(i: int, layer: nn.Module) -> None:
    """Construction checks inside one layer: no ``torch.nn`` dropout at any depth, no
    ``OTTTLIFNode`` followed by other layers inside a plain ``nn.Sequential``."""
    for name, sub in layer.named_modules():
        if name and isinstance(sub, nn.modules.dropout._DropoutNd):
            raise ValueError(
                f"OTTTSequential layer {i} ({type(layer).__name__}), submodule {name!r}: "
                f"torch.nn.{type(sub).__name__} draws a new random mask on every call, so spike and "
                f"trace would be dropped differently. Use ottt_edu.Dropout, which keeps one mask per "
                f"sequence (until reset_net) for both."
            )
        if type(sub) is nn.Sequential:
            children = list(sub.named_children())
            for j, (child_name, child) in enumerate(children[:-1]):
                if isinstance(child, OTTTLIFNode):
                    where = f"submodule {name!r}, " if name else ""
                    raise ValueError(
                        f"OTTTSequential layer {i} ({where}a plain nn.Sequential) holds an "
                        f"OTTTLIFNode at position {child_name!r} followed by "
                        f"{type(children[j + 1][1]).__name__}: in training the neuron returns "
                        f"[spike, trace], which a plain nn.Sequential hands unchanged to the next "
                        f"layer. Make the inner block an OTTTSequential too (or flatten it into "
                        f"this one)."
                    )


def _check_no_shared_neuron(net: nn.Module, where: str) -> None:
    """Raise if one neuron instance sits at two places of ``net`` (stepped twice per step)."""
    seen: dict[int, str] = {}
    for name, m in net.named_modules(remove_duplicate=False):
        if isinstance(m, LIFNode):
            if id(m) in seen:
                raise ValueError(
                    f"{where}: the same {type(m).__name__} instance is at {seen[id(m)]!r} and at "
                    f"{name!r}; it would be stepped twice per time step, with one shared state. "
                    f"Create a separate neuron for every place (e.g. OTTTLIFNode() in each)."
                )
            seen[id(m)] = name
