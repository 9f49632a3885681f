"""``SLTTLIFNode``: the LIF neuron of Spatial Learning Through Time (SLTT).

English
    SLTT (Meng et al., ICCV 2023) observes that in BPTT the gradient through the membrane
    potential *over time* (``v[t-1] -> v[t]``) contributes little, and drops it: every step's
    graph starts from a detached ``v[t-1]``, so a per-step ``backward()`` runs through the
    *spatial* path of that one step only, and memory does not grow with T. Unlike OTTT there is
    no presynaptic trace: the neuron returns its spike alone, so the network is a plain
    ``nn.Sequential`` and the next layer's weight gradient uses the spike ``s[t]`` itself.
    Same defaults as SpikingJelly's ``neuron.SLTTLIFNode`` (``decay_input=True``, hard reset to
    ``v_reset=0``, ``detach_reset=True``, sigmoid surrogate, single step only) — note that they
    differ from ``OTTTLIFNode``'s (``decay_input=False``, soft reset).
中文
    SLTT 观察到 BPTT 中沿时间 (``v[t-1] -> v[t]``) 的梯度贡献很小, 于是把它去掉: 每个时间步的
    计算图都从切断的 ``v[t-1]`` 开始, 每步反向传播只经过该步的空间路径, 显存不随 T 增长。
    与 OTTT 不同, 没有突触前迹: 神经元只返回脉冲。默认参数与 SpikingJelly 的
    ``neuron.SLTTLIFNode`` 相同 (与 ``OTTTLIFNode`` 不同)。

Discrete-time equations (as ``LIFNode``; ``H`` the Heaviside step with a surrogate gradient)::

    charge, decay_input=True:   v[t] = v[t-1].detach() + (x[t] - (v[t-1].detach() - v_reset))/tau
    charge, decay_input=False:  v[t] = v[t-1].detach() - (v[t-1].detach() - v_reset)/tau + x[t]
    fire:                       s[t] = H(v[t] - v_threshold)
    reset, hard (default):      v[t] = (1 - s[t])*v[t] + s[t]*v_reset
    reset, soft (v_reset=None): v[t] = v[t] - s[t]*v_threshold

    gradient of one step:       ds[t]/dx[t] = H'(v[t] - v_threshold) * (1/tau if decay_input else 1)
                                ds[t]/dx[t'] = 0 for t' < t          (no temporal path)

The ``.detach()`` is applied in training mode only; in eval mode the neuron is a plain LIF step
(no graph is kept anyway). The reset only feeds the next step, whose charge detaches it, so
``detach_reset`` changes nothing (kept for SpikingJelly's interface, as there). Shapes: any
``(B, ...)`` in, the spike ``(B, ...)`` out, one time step per call. SLTT-K (the paper's variant
that runs the backward pass at only K of the T steps) is a training-loop matter: see
``ottt_edu.train.online_steps.sltt_step(k=...)``.

Reference: Meng, Xiao, Yan, Wang, Lin, Luo, "Towards Memory- and Time-Efficient Backpropagation
for Training Spiking Neural Networks", ICCV 2023 (arXiv 2302.14311), Sec. 4 (SLTT, SLTT-K);
SpikingJelly 2.0.0 ``activation_based.neuron.SLTTLIFNode``.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from .lif import LIFNode

__all__ = ["SLTTLIFNode"]


class SLTTLIFNode(LIFNode):
    """LIF neuron for SLTT: no gradient through time, no trace / 用于 SLTT 的 LIF 神经元。

    English
        Single-step only. In training mode ``v[t-1]`` is detached before the charge, so the
        graph of a step never reaches earlier steps; the spike is returned alone (a plain
        tensor, unlike ``OTTTLIFNode``'s ``[spike, trace]``). Train it with a ``backward()``
        after every step (``ottt_online_training``, ``sltt_step``, ``--method sltt``). State is
        created from the first input and cleared by ``reset_net``.
    中文
        仅支持单步模式。训练模式下充电前切断 ``v[t-1]``, 只返回脉冲 (不返回迹)。

    Args: as ``LIFNode``, with SpikingJelly's SLTT defaults ``decay_input=True``,
    ``v_reset=0.0`` (hard reset) and ``detach_reset=True`` (no effect here), plus

        store_v_seq: keep ``v`` after every step in ``self.v_seq`` (``(steps, B, ...)``, no
            gradient), until ``reset_net``; for plots and debugging.

    Example (defaults, ``tau=2``)::

        x     = 1.0  3.0  0.5  2.5
        v     = 0.5  1.75 0.25 1.375    (before reset)
        spike = 0    1    0    1
        v     = 0.5  0    0.25 0        (after reset)

    Reference: Meng et al., "Towards Memory- and Time-Efficient Backpropagation for Training
    Spiking Neural Networks", ICCV 2023; SpikingJelly ``activation_based.neuron.SLTTLIFNode``.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        surrogate_function: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
        detach_reset: bool = True,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        if step_mode != "s":
            raise ValueError(
                f"SLTTLIFNode supports only step_mode='s' (got {step_mode!r}): SLTT runs a "
                f"backward pass per time step. Call the network once per step in a loop over T, "
                f"or use LIFNode(step_mode='m') for BPTT."
            )
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, step_mode, store_v_seq=False)
        self.store_v_seq = store_v_seq
        if store_v_seq:
            self.register_memory("v_seq", None)

    @staticmethod
    def supported_step_modes() -> tuple[str, ...]:
        return ("s",)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        if self.training:
            self.v = self.v.detach()                  # SLTT: no gradient through time
        super().neuronal_charge(x)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        spike = super().single_step_forward(x)
        if self.store_v_seq:
            v = self.v.detach().unsqueeze(0)
            self.v_seq = v if self.v_seq is None else torch.cat([self.v_seq, v])
        return spike
