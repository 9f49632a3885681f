"""Functions over whole networks and sequences / 作用于整个网络与序列的函数。

``reset_net`` / ``detach_net`` (``state``), SpikingJelly's online training functions
``ottt_online_training`` and ``fptt_online_training`` (``online_training``; SpikingJelly:
``activation_based/learning/online_learning``) and the input encoders (``encoding``).
"""
from .state import reset_net, detach_net
from .online_training import (ottt_online_training, fptt_online_training,
                              fptt_online_training_init_w_ra, check_w_ra, SequenceMismatchError)
from .encoding import DirectEncoder, PoissonEncoder, make_encoder, ENCODINGS

__all__ = [
    "reset_net", "detach_net", "ottt_online_training", "fptt_online_training",
    "fptt_online_training_init_w_ra", "check_w_ra", "SequenceMismatchError", "DirectEncoder",
    "PoissonEncoder", "make_encoder", "ENCODINGS",
]
