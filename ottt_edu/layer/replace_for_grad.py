"""``ReplaceforGrad``: one tensor supplies the forward value, two receive the gradient.

English
    OTTT computes a layer's *value* from the spikes but its *weight gradient* from the
    presynaptic traces. ``ReplaceforGrad.apply(x, x_r)`` is the switch that makes this possible:
    the forward pass returns ``x_r`` (the value), and the backward pass hands the incoming
    gradient, unchanged, to both ``x`` and ``x_r``. Whatever graph produced ``x`` therefore
    receives the gradient of a tensor whose value it never produced.
中文
    在 OTTT 在线训练中用于替换前向值与梯度路径的自定义自动求导函数: 前向返回 ``x_r``,
    反向时把传入的梯度原样同时传给 ``x`` 和 ``x_r``。

Equations::

    forward   y = x_r
    backward  dL/dx = dL/dy,   dL/dx_r = dL/dy

Shapes: ``x`` and ``x_r`` have the same shape; ``y`` has it too.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks",
NeurIPS 2022 (arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning.ReplaceforGrad``.
"""
from __future__ import annotations

import torch

__all__ = ["ReplaceforGrad"]


class ReplaceforGrad(torch.autograd.Function):
    """Forward returns ``x_r``; backward passes the gradient to both ``x`` and ``x_r``.

    前向返回 ``x_r``; 反向把梯度同时传给 ``x`` 与 ``x_r``。

    Example::

        >>> x = torch.zeros(3, requires_grad=True)
        >>> x_r = torch.ones(3)
        >>> y = ReplaceforGrad.apply(x, x_r)   # y == x_r
        >>> (2 * y).sum().backward()           # x.grad == 2, though y's value came from x_r
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, x_r: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not isinstance(x_r, torch.Tensor):
            raise TypeError(
                f"ReplaceforGrad.apply(x, x_r) takes two tensors of the same shape, got x: "
                f"{type(x).__name__} and x_r: {type(x_r).__name__}. Convert numbers with "
                f"torch.as_tensor first."
            )
        if x.shape != x_r.shape:
            raise ValueError(
                f"ReplaceforGrad needs x and x_r of the same shape, got {tuple(x.shape)} "
                f"and {tuple(x_r.shape)}."
            )
        # Return a new tensor: autograd must not see an input returned as-is from forward.
        return x_r.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, grad
