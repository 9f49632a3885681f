"""ottt_edu: learn Online Training Through Time (OTTT) for spiking neural networks.

A small PyTorch library that rebuilds SpikingJelly's online-learning modules with the same
names and semantics, for the notebooks in ``notebooks/``.

Reference: Xiao, Meng, Zhang, Wang, Lin, "Online Training Through Time for Spiking Neural
Networks", NeurIPS 2022 (arXiv 2210.04195). Its relatives in SpikingJelly: ``SLTTLIFNode`` (Meng
et al., ICCV 2023) and the training functions ``ottt_online_training`` and
``fptt_online_training`` (Kag & Saligrama, ICML 2021), in ``ottt_edu.functional.online_training``.

The package is laid out by layer (CONTRIBUTING.md says the rules): the library a researcher
reads (``layer``, ``neuron``, ``functional``, as SpikingJelly's ``activation_based`` paths),
then ``data``, ``models``, ``train``, ``measure``, the plot helpers ``viz``, the course's tooling
(``course``) and the classroom kit (``classroom``). Each layer imports only those before it.
"""
from .threads import apply_thread_policy as _apply_thread_policy
from .neuron import LIFNode, MemoryModule, OTTTLIFNode, SLTTLIFNode, finite_check, surrogate
from .layer import Dropout, GradwithTrace, OTTTSequential, ReplaceforGrad, SpikeTraceOp
from .functional import (detach_net, fptt_online_training, fptt_online_training_init_w_ra,
                         ottt_online_training, reset_net)
from .course.language import get_language, set_language

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
