"""The spiking VGG of the OTTT paper: scaled weight-standardized convolutions, no BatchNorm.

English
    OTTT trains one time step at a time, so it cannot use BatchNorm statistics that depend on
    the whole sequence. The paper (Sec. 5, App. C) instead normalizes the *weights*: every
    convolution is a scaled weight-standardized convolution (sWS, from NF-Nets, Brock et al.
    2021), and every spiking neuron is followed by a fixed ``Scale(2.74)`` that restores the
    variance of the spikes. The CIFAR-10 network is

        [64, 128, A, 256, 256, A, 512, 512, A, 512, 512] -> AdaptiveAvgPool(1) -> Linear

    where a number ``c`` is ``ScaledWSConv2d(., c, 3, padding=1) -> neuron -> Scale(2.74)`` and
    ``A`` is ``AvgPool2d(2)``. ``width`` multiplies every channel count, so a narrow version
    (e.g. ``width=1/16``) runs in a test on a laptop CPU.
中文
    论文中的脉冲 VGG: 卷积使用缩放权重标准化 (sWS), 不使用 BatchNorm, 每个神经元后乘固定
    常数 2.74; ``width`` 按比例缩放所有通道数。

Scaled weight standardization, per output channel ``o`` (``N = fan_in = C_in*k*k``)::

    W_hat[o] = gamma * gain[o] * (W[o] - mean(W[o])) / sqrt(N * var(W[o]) + eps)

(``var`` unbiased, ``eps = 1e-4``, ``gain`` learnable, initialized to 1; the paper's code uses
``gamma = 1`` and puts the 2.74 after the neuron instead.)

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS
2022 (arXiv 2210.04195), Sec. 5 and App. C; authors' code github.com/pkuxmq/OTTT-SNN;
SpikingJelly ``activation_based.model.spiking_vggws_ottt`` (``ottt_spiking_vggws``, cfg 'S');
Brock et al., "Characterizing signal propagation to close the performance gap in unnormalized
ResNets", ICLR 2021 (scaled WS).
"""
from __future__ import annotations

from typing import Union

import torch
from torch import nn

from ..layer.dropout import Dropout
from ..neuron.lif import LIFNode, OTTTLIFNode
from ..layer.ottt_sequential import OTTTSequential

__all__ = ["ScaledWSConv2d", "Scale", "OTTTSpikingVGG", "spiking_vgg", "VGG_CFG", "WS_SCALE"]

#: The paper's CIFAR configuration (SpikingJelly cfg 'S'): channel counts and 'A' = AvgPool2d(2).
VGG_CFG: tuple[Union[int, str], ...] = (64, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512)
#: Fixed scale after every neuron when weights are standardized (paper's code, ``Scale(2.74)``).
WS_SCALE = 2.74


class ScaledWSConv2d(nn.Conv2d):
    """``Conv2d`` with scaled weight standardization / 缩放权重标准化卷积。

    English
        The stored parameter ``weight`` is unconstrained; the convolution uses
        ``get_weight()``, its per-output-channel standardized version times a learnable
        ``gain`` (one per output channel) and a fixed ``gamma``. Gradients reach ``weight``
        through the standardization. ``get_weight()`` is the protocol other code relies on to
        find the effective weight of a layer.
    中文
        参数 ``weight`` 不受约束; 卷积使用 ``get_weight()``: 按输出通道标准化后的权重乘以可学习
        的 ``gain`` 与固定的 ``gamma``。

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode: as ``torch.nn.Conv2d``.
        gain: whether to learn a per-output-channel gain (shape ``(C_out, 1, 1, 1)``).
        gamma: fixed multiplier of the standardized weight (1.0 in the OTTT paper).
        eps: added to ``N * var`` before the square root (1e-4 in the paper's code).

    Shapes: input ``(B, C_in, H, W)``, output ``(B, C_out, H', W')``, as ``nn.Conv2d``.

    Reference: Brock et al., ICLR 2021; Xiao et al., NeurIPS 2022, App. C; SpikingJelly
    ``layer.WSConv2d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Union[int, tuple[int, int]],
        stride: Union[int, tuple[int, int]] = 1,
        padding: Union[int, tuple[int, int], str] = 0,
        dilation: Union[int, tuple[int, int]] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        gain: bool = True,
        gamma: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode)
        if not eps > 0.0:
            raise ValueError(f"eps must be positive (it keeps the square root away from 0), got {eps}.")
        if self.weight[0].numel() < 2:
            raise ValueError(
                f"ScaledWSConv2d standardizes each output channel over its fan-in, which must hold "
                f"at least 2 weights to have a variance; got fan-in {self.weight[0].numel()} "
                f"(in_channels/groups={in_channels // groups}, kernel_size={self.kernel_size})."
            )
        self.gain = nn.Parameter(torch.ones(out_channels, 1, 1, 1)) if gain else None
        self.gamma = float(gamma)
        self.eps = float(eps)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", gamma={self.gamma}, eps={self.eps}"

    def get_weight(self) -> torch.Tensor:
        """The effective weight ``gamma * gain * (W - mean) / sqrt(N var + eps)``, (C_out, C_in/g, kH, kW)."""
        fan_in = self.weight[0].numel()
        var, mean = torch.var_mean(self.weight, dim=(1, 2, 3), keepdim=True)  # (C_out, 1, 1, 1)
        weight = (self.weight - mean) / torch.sqrt(var * fan_in + self.eps)
        if self.gamma != 1.0:
            weight = weight * self.gamma
        if self.gain is not None:
            weight = weight * self.gain
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.get_weight(), self.bias)


class Scale(nn.Module):
    """Multiply by a fixed constant: ``y = scale * x`` / 乘以固定常数。

    Parameter-free, so ``OTTTSequential`` applies it to spike and trace alike
    (``SpikeTraceOp``). After a neuron of a weight-standardized network, ``scale = 2.74``.

    Reference: Xiao et al., NeurIPS 2022, authors' code; SpikingJelly
    ``model.spiking_vggws_ottt.Scale``.
    """

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def _make_neuron(neuron: str, tau: float, v_threshold: float) -> LIFNode:
    if neuron == "ottt":
        return OTTTLIFNode(tau=tau, v_threshold=v_threshold)
    if neuron == "sltt":  # same dynamics, no gradient through time (SLTT)
        from ..neuron.sltt import SLTTLIFNode

        return SLTTLIFNode(tau=tau, decay_input=False, v_threshold=v_threshold, v_reset=None,
                           detach_reset=True)
    if neuron == "bptt":  # same dynamics as OTTTLIFNode, full graph through time
        return LIFNode(tau=tau, decay_input=False, v_threshold=v_threshold, v_reset=None,
                       detach_reset=True, step_mode="s")
    raise ValueError(
        f"neuron must be 'ottt' (OTTTLIFNode, for OTTT_A / OTTT_O), 'bptt' (LIFNode with the "
        f"same dynamics, for BPTT and FPTT) or 'sltt' (SLTTLIFNode, same dynamics, for SLTT), "
        f"got {neuron!r}."
    )


class OTTTSpikingVGG(nn.Module):
    """Spiking VGG with scaled weight standardization / 使用缩放权重标准化的脉冲 VGG。

    English
        ``features``: for each entry of ``cfg``, an int ``c`` adds
        ``ScaledWSConv2d(3x3, pad 1) -> neuron -> Scale(2.74)`` with ``c`` output channels,
        ``'A'`` adds ``AvgPool2d(2)`` (with ``dropout > 0``, an ``ottt_edu.Dropout`` follows every
        ``Scale``); ``classifier``: ``AdaptiveAvgPool2d(1) -> Flatten ->
        Linear``. Both are ``OTTTSequential``, so in training mode with ``OTTTLIFNode`` every
        layer after a neuron gets its weight gradient from the trace, and in eval mode the net is
        an ordinary single-step network. Call it once per time step, then ``reset_net``.
    中文
        单步调用 (每个时间步一次), 序列结束后调用 ``reset_net``。

    Args:
        cfg: layer configuration (default the paper's ``VGG_CFG``).
        num_classes: number of outputs.
        width: multiplier of every channel count (``max(1, round(c * width))``).
        tau: membrane time constant of every neuron.
        neuron: ``'ottt'`` or ``'bptt'`` (see ``spiking_vgg``).
        in_channels: input image channels.
        v_threshold: firing threshold of every neuron.
        dropout: probability of ``ottt_edu.Dropout`` (one mask per sequence) after every
            neuron's ``Scale`` (0: none, as in the paper's CIFAR-10 network).

    Shapes: input ``(B, in_channels, H, W)`` (one time step, direct encoding), output
    ``(B, num_classes)``.

    Reference: Xiao et al., NeurIPS 2022, Sec. 5; SpikingJelly ``OTTTSpikingVGG``.
    """

    def __init__(
        self,
        cfg: tuple[Union[int, str], ...] = VGG_CFG,
        num_classes: int = 10,
        width: float = 1.0,
        tau: float = 2.0,
        neuron: str = "ottt",
        in_channels: int = 3,
        v_threshold: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        if not width > 0:
            raise ValueError(f"width must be positive (1.0 is the paper's network), got {width}.")
        if num_classes < 1 or in_channels < 1:
            raise ValueError(f"num_classes and in_channels must be >= 1, got {num_classes}, {in_channels}.")
        layers: list[nn.Module] = []
        c_in = in_channels
        for v in cfg:
            if v == "A":
                layers.append(nn.AvgPool2d(kernel_size=2, stride=2))
            elif isinstance(v, int) and v > 0:
                c_out = max(1, round(v * width))
                layers += [ScaledWSConv2d(c_in, c_out, 3, padding=1),
                           _make_neuron(neuron, tau, v_threshold), Scale(WS_SCALE)]
                if dropout > 0.0:
                    layers.append(Dropout(dropout))
                c_in = c_out
            else:
                raise ValueError(f"cfg entries must be positive ints or 'A' (AvgPool2d(2)), got {v!r}.")
        if c_in == in_channels:
            raise ValueError("cfg must contain at least one convolution (an int entry).")
        self.num_features = c_in
        self.features = OTTTSequential(*layers)
        self.classifier = OTTTSequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                                         nn.Linear(c_in, num_classes))
        self._initialize_weights()

    def _initialize_weights(self) -> None:
        # As the paper's code: Kaiming-normal (fan_out) convolutions, N(0, 0.01) classifier, zero biases.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)       # (B, C, H/8, W/8), or [spike, trace] in OTTT training
        return self.classifier(x)  # (B, num_classes)


def spiking_vgg(
    num_classes: int = 10,
    width: float = 1.0,
    tau: float = 2.0,
    neuron: str = "ottt",
    in_channels: int = 3,
    v_threshold: float = 1.0,
    dropout: float = 0.0,
) -> OTTTSpikingVGG:
    """The OTTT paper's CIFAR spiking VGG (sWS, no BatchNorm) / 论文中的脉冲 VGG。

    ``neuron='ottt'`` uses ``OTTTLIFNode`` (train with OTTT_A or OTTT_O); ``neuron='bptt'`` uses
    ``LIFNode(decay_input=False, v_reset=None, detach_reset=True)`` with the same dynamics, for
    a BPTT baseline. ``width=1.0`` is the paper's network (about 9.2 M parameters); ``width=1/16``
    is a narrow version for tests.

    Reference: Xiao et al., NeurIPS 2022; SpikingJelly ``ottt_spiking_vggws``.
    """
    return OTTTSpikingVGG(VGG_CFG, num_classes=num_classes, width=width, tau=tau, neuron=neuron,
                          in_channels=in_channels, v_threshold=v_threshold, dropout=dropout)
