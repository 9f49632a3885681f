"""The neurons of online learning, and what they are made of / 在线学习的神经元。

``LIFNode`` (for BPTT) and ``OTTTLIFNode`` (``lif``), ``SLTTLIFNode`` (``sltt``), the fused
single-kernel step (``fused_lif``), the surrogate spike functions (``surrogate``) and the base
class of every stateful module (``memory``). SpikingJelly: ``activation_based/neuron`` (its
``online_learning.py`` holds ``OTTTLIFNode`` and ``SLTTLIFNode``), ``surrogate`` and ``base``.
"""
from .lif import LIFNode, OTTTLIFNode, finite_check
from .sltt import SLTTLIFNode
from .memory import MemoryModule
from . import surrogate

__all__ = [
    "LIFNode", "OTTTLIFNode", "finite_check", "SLTTLIFNode", "MemoryModule", "surrogate",
]
