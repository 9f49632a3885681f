"""``Dropout`` for spiking networks: one mask per sequence, shared by spike and trace.

English
    ``torch.nn.Dropout`` draws a fresh mask on every call. In a spiking network that is wrong
    twice over: a neuron would be dropped at some time steps and not at others, and under OTTT
    the spike and its trace (two calls per step) would get different masks. This ``Dropout``, like
    SpikingJelly's ``layer.Dropout``, draws its mask on the first call after ``reset_net`` and
    reuses it until the next reset; in eval mode it is the identity.
中文
    与 SpikingJelly 的 ``layer.Dropout`` 相同: 每个序列 (两次 ``reset_net`` 之间) 只生成一次掩码,
    脉冲与迹共用; 推理模式下为恒等映射。

Equation: ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` of ``x``'s shape, fixed over T.

Reference: Srivastava et al., JMLR 2014; SpikingJelly ``activation_based.layer.Dropout``.
"""
from __future__ import annotations

import torch

from ..neuron.memory import MemoryModule

__all__ = ["Dropout"]


class Dropout(MemoryModule):
    """Dropout whose mask is fixed over the time steps of a sequence / 时间步间共享掩码的 Dropout。

    Args:
        p: probability of dropping an element, in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1), got {p}.")
        self.p = p
        self.register_memory("mask", None)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.mask is None:
            self.mask = torch.bernoulli(torch.full_like(x, 1.0 - self.p)) / (1.0 - self.p)
        elif self.mask.shape != x.shape:
            raise ValueError(
                f"Dropout holds a mask of shape {tuple(self.mask.shape)} but got an input of shape "
                f"{tuple(x.shape)}; call reset_net(model) between sequences."
            )
        return x * self.mask
