"""Checks of a module that is about to be applied to a spike *and* to its trace.

``GradwithTrace`` and ``SpikeTraceOp`` run their module twice per time step (on the spike, then on
the trace); everything that differs between the two calls breaks OTTT silently: running
statistics, fresh random numbers, a neuron inside. ``check_pair_module`` finds the structural
hazards (computed once per module and cached); ``apply_to_trace`` makes the second call and, on
the first call only, checks that it drew no random numbers and updated no buffer.

Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195), Sec. 4 (the same module maps spikes
forward and traces for the gradient).
"""
from __future__ import annotations

import weakref
from typing import Any, Optional

import torch
from torch import nn

from .._checks import PairError
from ..neuron.lif import LIFNode

# -- modules applied to spike and to trace ------------------------------------------------------
# A module applied to a pair runs twice per time step (GradwithTrace: on the spike and on the
# trace; SpikeTraceOp: the same). Everything that differs between two calls breaks OTTT silently.
_STAT_NORMS = (nn.modules.batchnorm._BatchNorm,)
_RANDOM = (nn.modules.dropout._DropoutNd, nn.RReLU)


def _hazard(sub: nn.Module) -> Optional[tuple[str, str]]:
    """``(kind, reason)`` if ``sub`` must not run on both spike and trace, else ``None``.

    ``kind`` is ``'training'`` (a problem only in training mode) or ``'always'``.
    """
    if isinstance(sub, LIFNode):
        return ("always", "is a spiking neuron: applied to spike and trace it would be stepped "
                          "twice per time step. Put the neuron directly into an OTTTSequential "
                          "(it is then stepped once, on the spike)")
    if isinstance(sub, _STAT_NORMS):
        return ("training", "computes batch statistics on every call and updates its running "
                            "statistics twice per time step, the second time with the trace's "
                            "batch. OTTT networks do without BatchNorm (the paper's VGG uses "
                            "scaled weight standardization, ottt_edu.models.vgg.ScaledWSConv2d); or put "
                            "it before the first neuron, where it sees plain tensors")
    if isinstance(sub, nn.modules.instancenorm._InstanceNorm) and sub.track_running_stats:
        return ("training", "updates its running statistics on every call, twice per time step "
                            "here (the second time with the trace). Use track_running_stats=False")
    if isinstance(sub, nn.modules.dropout._DropoutNd):
        return ("training", "draws a new random mask on every call, so spike and trace would be "
                            "dropped differently. Use ottt_edu.Dropout, which keeps one mask per "
                            "sequence (until reset_net) for both")
    if isinstance(sub, nn.RReLU):
        return ("training", "draws new random slopes on every call in training mode, so spike and "
                            "trace would see different functions. Use nn.LeakyReLU with a fixed "
                            "slope")
    return None


class PairModuleInfo:
    """What is known about a module applied to ``[spike, trace]`` pairs (cached per module):
    its ``hazards`` (``(name, submodule, kind, reason)``, structural) and whether its call on a
    trace was already ``checked`` for random draws and buffer updates."""

    __slots__ = ("hazards", "checked", "__weakref__")

    def __init__(self, hazards: tuple) -> None:
        self.hazards = hazards
        self.checked = False


_INFO: "weakref.WeakKeyDictionary[nn.Module, PairModuleInfo]" = weakref.WeakKeyDictionary()


def pair_hazards(module: nn.Module) -> tuple[tuple[str, nn.Module, str, str], ...]:
    """``(name, submodule, kind, reason)`` for every submodule of ``module`` (itself included)
    that must not be applied to both spike and trace; computed once per module and cached."""
    return _pair_info(module).hazards


def _pair_info(module: nn.Module) -> PairModuleInfo:
    info = _INFO.get(module)
    if info is None:
        items = []
        for name, sub in module.named_modules():
            h = _hazard(sub)
            if h is not None:
                items.append((name, sub, h[0], h[1]))
        info = _INFO[module] = PairModuleInfo(tuple(items))
    return info


def _where_in(module: nn.Module, name: str, sub: nn.Module) -> str:
    top = type(module).__name__
    return top if not name else f"{top}, submodule {name!r} ({type(sub).__name__})"


def check_pair_module(module: nn.Module, where: str) -> PairModuleInfo:
    """Raise ``PairError`` if ``module`` would silently differ between spike and trace.

    Returns the cached ``PairModuleInfo`` (pass it on to ``apply_to_trace``).
    """
    info = _pair_info(module)
    for name, sub, kind, reason in info.hazards:
        if kind == "always" or sub.training:
            raise PairError(f"{where} cannot apply {_where_in(module, name, sub)} to both spike "
                            f"and trace: {type(sub).__name__} {reason}.")
    return info


def _rng_state(device: torch.device) -> list[torch.Tensor]:
    states = [torch.get_rng_state()]
    if device.type == "cuda":
        states.append(torch.cuda.get_rng_state(device))
    return states


def _version(t: torch.Tensor) -> int:
    try:
        return t._version
    except RuntimeError:                 # inference tensors keep no version counter
        return -1


def apply_to_trace(module: nn.Module, info: PairModuleInfo, x: torch.Tensor, where: str) -> Any:
    """``module(x)``: the module's second call of the time step (on the trace, or on the
    ``ReplaceforGrad`` tensor whose value is the trace). The first time for this module it also
    checks that the call drew no random numbers and updated no buffer in place: such a module
    changes between the spike's call and the trace's (a random op, running statistics)."""
    if info.checked:
        return module(x)
    rng_before = _rng_state(x.device)
    buffers = [(name, b, _version(b)) for name, b in module.named_buffers()]
    out = module(x)
    if any(not torch.equal(a, b) for a, b in zip(rng_before, _rng_state(x.device))):
        raise PairError(
            f"{where}: {type(module).__name__} drew new random numbers when applied to the trace, "
            f"so spike and trace went through different random operations. Use a random operation "
            f"that keeps its draw for the sequence (like ottt_edu.Dropout), or apply it before the "
            f"first neuron, where it sees plain tensors."
        )
    changed = [name for name, b, version in buffers if _version(b) != version]
    if changed:
        raise PairError(
            f"{where}: {type(module).__name__} updated its buffer(s) {changed} when applied to the "
            f"trace (as running statistics do), so it changes between the spike's call and the "
            f"trace's in every time step. Apply it before the first neuron, where it sees plain "
            f"tensors, or use a module without state."
        )
    info.checked = True
    return out
