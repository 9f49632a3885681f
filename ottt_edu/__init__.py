"""ottt_edu: learn Online Training Through Time (OTTT) for spiking neural networks.

A small PyTorch library that rebuilds SpikingJelly's online-learning modules with the same
names and semantics, for the notebooks in ``notebooks/``.

Reference: Xiao, Meng, Zhang, Wang, Lin, "Online Training Through Time for Spiking Neural
Networks", NeurIPS 2022 (arXiv 2210.04195). Its relatives in SpikingJelly: ``SLTTLIFNode`` (Meng
et al., ICCV 2023) and the training functions ``ottt_online_training`` and
``fptt_online_training`` (Kag & Saligrama, ICML 2021), in ``ottt_edu.online_training``.
"""
from . import surrogate
from .threads import apply_thread_policy as _apply_thread_policy
from .dropout import Dropout
from .grad_with_trace import GradwithTrace
from .language import get_language, set_language
from .memory import MemoryModule, detach_net, reset_net
from .neuron import LIFNode, OTTTLIFNode, finite_check
from .ottt_sequential import OTTTSequential
from .replace_for_grad import ReplaceforGrad
from .spike_trace_op import SpikeTraceOp
from .sltt_neuron import SLTTLIFNode
from .online_training import (fptt_online_training, fptt_online_training_init_w_ra,
                              ottt_online_training)

__version__ = "0.1.0"

# One torch thread for the course's small networks unless OTTT_EDU_THREADS / OMP_NUM_THREADS
# say otherwise (why, and how to change it: ottt_edu/threads.py).
_apply_thread_policy()

__all__ = [
    "ReplaceforGrad",
    "GradwithTrace",
    "SpikeTraceOp",
    "OTTTSequential",
    "OTTTLIFNode",
    "LIFNode",
    "SLTTLIFNode",
    "ottt_online_training",
    "fptt_online_training",
    "fptt_online_training_init_w_ra",
    "Dropout",
    "MemoryModule",
    "reset_net",
    "detach_net",
    "finite_check",
    "surrogate",
    "set_language",
    "get_language",
]
