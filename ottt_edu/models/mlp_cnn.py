"""Spiking MLP and CNN, built twice: for OTTT (``OTTTSequential`` + ``OTTTLIFNode``) and for BPTT.

English
    ``build_model(ModelConfig(kind="mlp"|"cnn", neuron="ottt"|"bptt", ...))`` returns a network
    that is called once per time step, ``out[t] = net(x[t])`` with ``x[t]`` of shape
    ``(B, C, H, W)`` and ``out[t]`` of shape ``(B, n_classes)`` (the read-out layer is a plain
    ``Linear`` without a neuron: its outputs are summed over T to predict). The OTTT and the BPTT
    versions have the same layers with the same names (``fc1``, ``lif1``, ..., ``readout``), so
    their ``state_dict`` keys agree and ``bptt.load_state_dict(ott.state_dict())`` gives both the
    same weights. The BPTT neuron is ``LIFNode(decay_input=False, v_reset=None,
    detach_reset=True)``: the same dynamics as ``OTTTLIFNode``, but with the full history of
    ``v`` in the graph. ``neuron="sltt"`` builds a third twin (``nn.Sequential`` + ``SLTTLIFNode``
    with those dynamics), for SLTT, with the same keys.
中文
    构建同一结构的两个版本: OTTT 版 (``OTTTSequential`` + ``OTTTLIFNode``) 与 BPTT 版
    (``nn.Sequential`` + ``LIFNode``), 层名一致, 权重可互相拷贝。

Per step (MLP with one hidden layer)::

    h[t] = W1 x[t] + b1                         (B, hidden)
    s[t] = LIF(h[t])                            (B, hidden)   spikes
    out[t] = W2 s[t] + b2                       (B, n_classes)
    prediction = argmax_c sum_t out[t]

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Sec. 5; SpikingJelly ``activation_based.layer.OTTTSequential``.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from torch import nn

from .._checks import int_tuple, integer, real_number
from ..layer.dropout import Dropout
from ..neuron.lif import LIFNode, OTTTLIFNode
from ..layer.ottt_sequential import OTTTSequential
from ..neuron.sltt import SLTTLIFNode

__all__ = [
    "ModelConfig",
    "MODELS",
    "NEURONS",
    "register_model",
    "build_model",
    "mlp",
    "cnn",
    "make_neuron",
    "parametric_layers",
    "copy_weights",
]

NEURONS = ("ottt", "bptt", "sltt")


@dataclass
class ModelConfig:
    """Architecture of a spiking classifier / 网络结构配置。

    Args:
        kind: a key of ``MODELS`` (``'mlp'`` or ``'cnn'``).
        neuron: ``'ottt'`` (OTTTSequential + OTTTLIFNode), ``'bptt'`` (Sequential + LIFNode) or
            ``'sltt'`` (Sequential + SLTTLIFNode, for SLTT), all with the same dynamics.
        tau: membrane time constant of every neuron (> 1).
        in_shape: input image shape ``(C, H, W)``.
        n_classes: number of outputs.
        hidden: widths of the MLP's hidden layers.
        channels: output channels of the CNN's conv layers (each followed by a LIF and 2x2
            average pooling).
        v_threshold: firing threshold of every neuron.
        dropout: probability of ``ottt_edu.Dropout`` after every hidden neuron layer (0: none).
        width: channel multiplier of the ``'vgg'`` model (1.0: the paper's network; ignored by
            the others).
    """

    kind: str = "mlp"
    neuron: str = "ottt"
    tau: float = 2.0
    in_shape: tuple[int, int, int] = (1, 8, 8)
    n_classes: int = 10
    hidden: tuple[int, ...] = (128,)
    channels: tuple[int, ...] = (16, 32)
    v_threshold: float = 1.0
    dropout: float = 0.0
    width: float = 1.0

    def __post_init__(self) -> None:
        where = "ModelConfig"
        self.in_shape = int_tuple(self.in_shape, "in_shape", where, minimum=None)
        self.hidden = int_tuple(self.hidden, "hidden", where, minimum=None)   # sign checked below
        self.channels = int_tuple(self.channels, "channels", where, minimum=None)
        self.n_classes = integer(self.n_classes, "n_classes", where)
        for name in ("tau", "v_threshold", "dropout", "width"):
            setattr(self, name, real_number(getattr(self, name), name, where))
        if self.kind not in MODELS:
            raise ValueError(f"unknown model kind {self.kind!r}; choose one of {sorted(MODELS)}.")
        if self.neuron not in NEURONS:
            raise ValueError(
                f"unknown neuron {self.neuron!r}; choose 'ottt' (OTTTLIFNode, for OTTT), "
                f"'bptt' (LIFNode, for BPTT and FPTT) or 'sltt' (SLTTLIFNode, for SLTT)."
            )
        if not self.tau > 1.0:
            raise ValueError(f"tau must be greater than 1, got {self.tau}.")
        if len(self.in_shape) != 3 or min(self.in_shape) < 1:
            raise ValueError(f"in_shape must be (C, H, W) with positive sizes, got {self.in_shape}.")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}.")
        if any(h < 1 for h in self.hidden) or any(c < 1 for c in self.channels):
            raise ValueError(
                f"layer widths must be positive, got hidden={self.hidden}, channels={self.channels}."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}.")
        if not self.width > 0:
            raise ValueError(f"width must be positive (1.0: the paper's VGG), got {self.width}.")


def make_neuron(config: ModelConfig) -> LIFNode:
    """``OTTTLIFNode(tau)`` for ``neuron='ottt'``; the same dynamics as ``LIFNode`` for BPTT,
    and as ``SLTTLIFNode`` for SLTT (not SLTTLIFNode's own defaults, so that all methods train
    the same network)."""
    if config.neuron == "ottt":
        return OTTTLIFNode(tau=config.tau, v_threshold=config.v_threshold)
    if config.neuron == "sltt":
        return SLTTLIFNode(tau=config.tau, decay_input=False, v_threshold=config.v_threshold,
                           v_reset=None, detach_reset=True)
    return LIFNode(tau=config.tau, decay_input=False, v_threshold=config.v_threshold,
                   v_reset=None, detach_reset=True, step_mode="s")


def _container(config: ModelConfig, layers: "OrderedDict[str, nn.Module]") -> nn.Sequential:
    return OTTTSequential(layers) if config.neuron == "ottt" else nn.Sequential(layers)


def _mlp(config: ModelConfig) -> nn.Sequential:
    c, h, w = config.in_shape
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    width = c * h * w
    for i, hidden in enumerate(config.hidden, start=1):
        layers[f"fc{i}"] = nn.Linear(width, hidden)          # (B, hidden)
        layers[f"lif{i}"] = make_neuron(config)
        if config.dropout > 0:
            layers[f"drop{i}"] = Dropout(config.dropout)
        width = hidden
    layers["readout"] = nn.Linear(width, config.n_classes)   # (B, n_classes)
    return _container(config, layers)


def _cnn(config: ModelConfig) -> nn.Sequential:
    c, h, w = config.in_shape
    if h >> len(config.channels) < 1 or w >> len(config.channels) < 1:
        raise ValueError(
            f"a {h}x{w} input is too small for {len(config.channels)} conv+pool stages (each "
            f"halves the size); use fewer channels entries."
        )
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, out_ch in enumerate(config.channels, start=1):
        layers[f"conv{i}"] = nn.Conv2d(c, out_ch, kernel_size=3, padding=1)   # (B, out_ch, h, w)
        layers[f"lif{i}"] = make_neuron(config)
        layers[f"pool{i}"] = nn.AvgPool2d(2)                                  # (B, out_ch, h/2, w/2)
        c, h, w = out_ch, h // 2, w // 2
    layers["flatten"] = nn.Flatten()
    if config.dropout > 0:
        layers["drop"] = Dropout(config.dropout)
    layers["readout"] = nn.Linear(c * h * w, config.n_classes)
    return _container(config, layers)


def _vgg(config: ModelConfig) -> nn.Module:
    """The OTTT paper's spiking VGG (``ottt_edu.models.vgg``), scaled by ``config.width``."""
    from .vgg import spiking_vgg

    return spiking_vgg(num_classes=config.n_classes, width=config.width, tau=config.tau,
                       neuron=config.neuron, in_channels=config.in_shape[0],
                       v_threshold=config.v_threshold, dropout=config.dropout)


MODELS: dict[str, Callable[[ModelConfig], nn.Module]] = {"mlp": _mlp, "cnn": _cnn, "vgg": _vgg}


def register_model(kind: str, builder: Callable[[ModelConfig], nn.Module]) -> None:
    """Make ``ModelConfig(kind=...)`` and ``--model kind`` build ``builder(config)``."""
    if kind in MODELS:
        raise ValueError(f"model kind {kind!r} is already registered.")
    MODELS[kind] = builder


def build_model(config: ModelConfig) -> nn.Module:
    """Build the network described by ``config`` / 按配置构建网络。"""
    return MODELS[config.kind](config)


def mlp(hidden: tuple[int, ...] = (128,), *, neuron: str = "ottt", tau: float = 2.0,
        in_shape: tuple[int, int, int] = (1, 8, 8), n_classes: int = 10, **kw) -> nn.Module:
    """Spiking MLP: ``Flatten, [Linear, LIF] * len(hidden), Linear`` (see ``ModelConfig``)."""
    return build_model(ModelConfig("mlp", neuron, tau, in_shape, n_classes, hidden=tuple(hidden), **kw))


def cnn(channels: tuple[int, ...] = (16, 32), *, neuron: str = "ottt", tau: float = 2.0,
        in_shape: tuple[int, int, int] = (1, 8, 8), n_classes: int = 10, **kw) -> nn.Module:
    """Spiking CNN: ``[Conv3x3, LIF, AvgPool2] * len(channels), Flatten, Linear``."""
    return build_model(ModelConfig("cnn", neuron, tau, in_shape, n_classes, channels=tuple(channels), **kw))


def parametric_layers(model: nn.Module) -> "OrderedDict[str, nn.Module]":
    """Layers that own a ``weight`` parameter, by name (e.g. ``fc1``, ``readout``)."""
    return OrderedDict(
        (name, m) for name, m in model.named_modules()
        if name and isinstance(getattr(m, "weight", None), nn.Parameter)
    )


def copy_weights(src: nn.Module, dst: nn.Module) -> nn.Module:
    """``dst.load_state_dict(src.state_dict())`` with a clear error if the layouts differ."""
    a, b = set(src.state_dict()), set(dst.state_dict())
    if a != b:
        raise ValueError(
            f"cannot copy weights: parameter names differ (only in source: {sorted(a - b)}, only "
            f"in destination: {sorted(b - a)}). Build both with the same ModelConfig except neuron."
        )
    dst.load_state_dict(src.state_dict())
    return dst
