"""Surrogate spike functions: a Heaviside step forward, a smooth derivative backward.

English
    The spike ``s = H(v - v_threshold)`` has derivative zero almost everywhere, so no error
    signal could reach the weights. Surrogate-gradient learning keeps the exact step in the
    forward pass and replaces its derivative, in the backward pass only, by that of a smooth
    function. This module gives SpikingJelly's default, ``surrogate.Sigmoid(alpha=4)``.
中文
    脉冲 ``s = H(v - v_threshold)`` 的导数几乎处处为零, 误差无法传到权重。替代梯度法在前向
    保留精确的阶跃函数, 仅在反向把它的导数换成一个光滑函数的导数。本模块给出 SpikingJelly 的
    默认替代函数 ``surrogate.Sigmoid(alpha=4)``。

Equations (x = v - v_threshold)::

    forward   s = H(x) = 1 if x >= 0 else 0
    backward  ds/dx := g'(x) = alpha * sigmoid(alpha*x) * (1 - sigmoid(alpha*x))

Reference: Neftci, Mostafa, Zenke, "Surrogate Gradient Learning in Spiking Neural Networks",
IEEE Signal Processing Magazine 2019; SpikingJelly ``activation_based.surrogate.Sigmoid``.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["heaviside", "sigmoid_surrogate_grad", "SigmoidSpike", "Sigmoid"]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Heaviside step, ``1`` where ``x >= 0`` (SpikingJelly's convention) / 阶跃函数。"""
    return (x >= 0).to(x)


def sigmoid_surrogate_grad(x: torch.Tensor, alpha: float = 4.0) -> torch.Tensor:
    """The surrogate derivative ``g'(x) = alpha*sigmoid(alpha*x)*(1-sigmoid(alpha*x))``.

    Peaks at ``alpha/4`` for ``x = 0`` and integrates to 1 over the real line.
    替代导数, 在 ``x = 0`` 处取最大值 ``alpha/4``, 在实数轴上积分为 1。
    """
    sg = torch.sigmoid(alpha * x)
    return alpha * sg * (1.0 - sg)


class SigmoidSpike(torch.autograd.Function):
    """``forward: H(x)``; ``backward: grad * g'(x)`` (the sigmoid surrogate).

    Shapes: ``x`` any shape, output the same shape. ``alpha`` is a Python float and
    receives no gradient.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        if x.requires_grad:
            ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output * sigmoid_surrogate_grad(x, ctx.alpha), None


class Sigmoid(nn.Module):
    """Sigmoid surrogate spike function / Sigmoid 替代脉冲函数。

    English
        With ``spiking=True`` (default) the forward is the Heaviside step and the backward is
        the derivative of ``sigmoid(alpha*x)``. With ``spiking=False`` the forward is the smooth
        ``sigmoid(alpha*x)`` itself (useful for plots and for checking the surrogate).
    中文
        ``spiking=True`` (默认) 时前向为阶跃函数, 反向为 ``sigmoid(alpha*x)`` 的导数;
        ``spiking=False`` 时前向即为光滑的 ``sigmoid(alpha*x)``。

    Args:
        alpha: steepness; larger is closer to the step, with a taller, narrower gradient.
        spiking: whether the forward pass emits binary spikes.
    """

    def __init__(self, alpha: float = 4.0, spiking: bool = True) -> None:
        super().__init__()
        from .._checks import real_number

        alpha = real_number(alpha, "alpha", "surrogate.Sigmoid")
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha!r}; try the default alpha=4.0.")
        self.alpha = alpha
        self.spiking = spiking

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return SigmoidSpike.apply(x, self.alpha)
        return torch.sigmoid(self.alpha * x)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, spiking={self.spiking}"
