"""Input checks shared by the ``[spike, trace]`` wrappers; each error says how to fix it."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def is_spike_trace_pair(x: Any) -> bool:
    """``True`` for a list or tuple of exactly two tensors (the form ``OTTTLIFNode`` returns)."""
    return (
        isinstance(x, (list, tuple))
        and len(x) == 2
        and all(isinstance(t, torch.Tensor) for t in x)
    )


def check_spike_trace_pair(x: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(spike, trace)`` from ``x`` or raise a clear ``TypeError``/``ValueError``."""
    if not is_spike_trace_pair(x):
        if isinstance(x, torch.Tensor):
            got = f"a single tensor of shape {tuple(x.shape)}"
        elif isinstance(x, (list, tuple)):
            got = f"a {type(x).__name__} of {len(x)} item(s) of types {[type(t).__name__ for t in x]}"
        else:
            got = type(x).__name__
        raise TypeError(
            f"{where} expects a [spike, trace] pair (a list of two tensors, as OTTTLIFNode returns "
            f"in training mode), got {got}. In eval mode the neuron returns only the spike: call "
            f"the plain module there, or use OTTTSequential, which handles both."
        )
    spike, trace = x
    if spike.shape != trace.shape:
        raise ValueError(
            f"{where}: spike and trace must have the same shape, got spike {tuple(spike.shape)} "
            f"and trace {tuple(trace.shape)}."
        )
    return spike, trace


def has_parameters(module: nn.Module) -> bool:
    """Whether ``module`` owns any parameter (the rule OTTTSequential wraps by)."""
    return next(module.parameters(), None) is not None
