"""ottt_edu: learn Online Training Through Time (OTTT) for spiking neural networks.

A small PyTorch library that rebuilds SpikingJelly's online-learning modules with the same
names and semantics, for the notebooks in ``notebooks/``.

Reference: Xiao, Meng, Zhang, Wang, Lin, "Online Training Through Time for Spiking Neural
Networks", NeurIPS 2022 (arXiv 2210.04195).
"""
from . import surrogate
from .dropout import Dropout
from .grad_with_trace import GradwithTrace
from .memory import MemoryModule, detach_net, reset_net
from .neuron import LIFNode, OTTTLIFNode, finite_check
from .ottt_sequential import OTTTSequential
from .replace_for_grad import ReplaceforGrad
from .spike_trace_op import SpikeTraceOp

__version__ = "0.1.0"

__all__ = [
    "ReplaceforGrad",
    "GradwithTrace",
    "SpikeTraceOp",
    "OTTTSequential",
    "OTTTLIFNode",
    "LIFNode",
    "Dropout",
    "MemoryModule",
    "reset_net",
    "detach_net",
    "finite_check",
    "surrogate",
]
