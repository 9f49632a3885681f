"""The layers that route ``[spike, trace]`` pairs / 处理 ``[spike, trace]`` 的层。

``ReplaceforGrad``, ``GradwithTrace``, ``SpikeTraceOp`` and ``OTTTSequential`` (SpikingJelly:
``activation_based/layer/online_learning.py``), the fast single-pass path for linear layers
(``fast_path``), the sequence-wide ``Dropout``, and the checks of a module applied to a pair
(``pair_module``).
"""
from .replace_for_grad import ReplaceforGrad
from .grad_with_trace import GradwithTrace
from .spike_trace_op import SpikeTraceOp
from .ottt_sequential import OTTTSequential, wrapper_for
from .dropout import Dropout

__all__ = [
    "ReplaceforGrad", "GradwithTrace", "SpikeTraceOp", "OTTTSequential", "wrapper_for",
    "Dropout",
]
