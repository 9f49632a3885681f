"""Input checks shared by the library; each error says what was wrong and how to fix it.

* ``check_spike_trace_pair``: the ``[spike, trace]`` form the wrappers take (shape, device, dtype).
* ``check_pair_module`` / ``apply_to_trace``: a module about to be applied to a spike *and* to
  its trace must not change between the two calls (running statistics, fresh random numbers, a
  neuron inside). The structural part is computed once per module and cached; the dynamic part
  (did the second call draw random numbers or update a buffer?) runs on the first call only.
* ``real_number``, ``integer``, ``seed_value``: scalar arguments (``tau='2'`` is not a number).
"""
from __future__ import annotations

import math
import numbers
import weakref
from typing import Any, Optional

import torch
from torch import nn

SEED_MAX = 2 ** 32 - 1


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (``tau='2'``, ``hidden=(2.5,)``). Both a ``TypeError`` and a
    ``ValueError``, so code that validates configurations with ``except ValueError`` sees it."""


class PairError(ValueError):
    """A ``[spike, trace]`` pair, or a module applied to one, that would give a wrong result."""


# -- scalars ----------------------------------------------------------------------------------
def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def real_number(value: Any, name: str, where: str = "", *, finite: bool = True) -> float:
    """``float(value)`` for a real number (int, float, numpy scalar, one-element tensor).

    Raises ``TypeError`` for anything else (a string, a bool, ``None``) and ``ValueError`` for
    NaN or +-inf when ``finite``. ``where`` prefixes the message (e.g. ``'OTTTLIFNode'``).
    """
    prefix = f"{where}: " if where else ""
    is_tensor = isinstance(value, torch.Tensor) and value.numel() == 1
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or is_tensor):
        hint = f" (write {name}={value!s}, without quotes)" if isinstance(value, str) else ""
        raise ArgumentTypeError(f"{prefix}{name} must be a real number, got {_describe(value)}{hint}.")
    out = float(value)
    if finite and not math.isfinite(out):
        raise ValueError(f"{prefix}{name} must be a finite number, got {out}.")
    return out


def integer(value: Any, name: str, where: str = "", *, minimum: Optional[int] = None) -> int:
    """``int(value)`` for an integer (Python or numpy; not a bool, not a float like ``2.5``)."""
    prefix = f"{where}: " if where else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        at_least = "" if minimum is None else f" >= {minimum}"
        raise ArgumentTypeError(f"{prefix}{name} must be an integer{at_least}, got {_describe(value)}.")
    out = int(value)
    if minimum is not None and out < minimum:
        raise ValueError(f"{prefix}{name} must be an integer >= {minimum}, got {out}.")
    return out


def int_tuple(values: Any, name: str, where: str = "", *,
              minimum: Optional[int] = 1) -> tuple[int, ...]:
    """A tuple of integers ``>= minimum`` from a sequence (``hidden=(128, 64)``)."""
    prefix = f"{where}: " if where else ""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ArgumentTypeError(f"{prefix}{name} must be a sequence of integers, e.g. {name}=(128,), got "
                        f"{_describe(values)}.")
    return tuple(integer(v, f"every entry of {name}", where, minimum=minimum) for v in values)


def seed_value(value: Any, name: str = "seed", where: str = "") -> int:
    """A seed every generator accepts (torch, numpy, Python): an integer in ``[0, 2**32 - 1]``."""
    out = integer(value, name, where)
    if not 0 <= out <= SEED_MAX:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}{name} must lie in [0, 2**32 - 1] (numpy's seed range), got {out}.")
    return out


# -- the [spike, trace] pair --------------------------------------------------------------------
def is_spike_trace_pair(x: Any) -> bool:
    """``True`` for a list or tuple of exactly two tensors (the form ``OTTTLIFNode`` returns)."""
    return (
        isinstance(x, (list, tuple))
        and len(x) == 2
        and all(isinstance(t, torch.Tensor) for t in x)
    )


def describe_value(x: Any) -> str:
    """Short words for what was passed where a tensor or a ``[spike, trace]`` pair was expected."""
    if isinstance(x, torch.Tensor):
        return f"a single tensor of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)} item(s) of types {[type(t).__name__ for t in x]}"
    return type(x).__name__


def check_spike_trace_pair(x: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(spike, trace)`` from ``x`` or raise a clear ``TypeError``/``ValueError``.

    Spike and trace must have the same shape, device and dtype (on different devices the fast
    path would compute the weight gradient from garbage; with different dtypes backward fails).
    """
    if not is_spike_trace_pair(x):
        raise TypeError(
            f"{where} expects a [spike, trace] pair (a list of two tensors, as OTTTLIFNode returns "
            f"in training mode), got {describe_value(x)}. In eval mode the neuron returns only the "
            f"spike: call the plain module there, or use OTTTSequential, which handles both."
        )
    spike, trace = x
    if spike.shape != trace.shape:
        raise PairError(
            f"{where}: spike and trace must have the same shape, got spike {tuple(spike.shape)} "
            f"and trace {tuple(trace.shape)}."
        )
    if spike.device != trace.device:
        raise PairError(
            f"{where}: spike and trace must be on the same device, got spike on {spike.device} and "
            f"trace on {trace.device}. Move the whole model with model.to(device) and call "
            f"reset_net(model), so that the neurons' state is created on the new device."
        )
    if spike.dtype != trace.dtype:
        raise PairError(
            f"{where}: spike and trace must have the same dtype, got spike {spike.dtype} and trace "
            f"{trace.dtype}. Convert the whole model (e.g. model.double()) and call reset_net(model)."
        )
    return spike, trace


def has_parameters(module: nn.Module) -> bool:
    """Whether ``module`` owns any parameter (the rule OTTTSequential wraps by)."""
    return next(module.parameters(), None) is not None


# -- modules applied to spike and to trace ------------------------------------------------------
# A module applied to a pair runs twice per time step (GradwithTrace: on the spike and on the
# trace; SpikeTraceOp: the same). Everything that differs between two calls breaks OTTT silently.
_STAT_NORMS = (nn.modules.batchnorm._BatchNorm,)
_RANDOM = (nn.modules.dropout._DropoutNd, nn.RReLU)


def _hazard(sub: nn.Module) -> Optional[tuple[str, str]]:
    """``(kind, reason)`` if ``sub`` must not run on both spike and trace, else ``None``.

    ``kind`` is ``'training'`` (a problem only in training mode) or ``'always'``.
    """
    from .neuron import LIFNode          # late import: neuron imports this module's helpers

    if isinstance(sub, LIFNode):
        return ("always", "is a spiking neuron: applied to spike and trace it would be stepped "
                          "twice per time step. Put the neuron directly into an OTTTSequential "
                          "(it is then stepped once, on the spike)")
    if isinstance(sub, _STAT_NORMS):
        return ("training", "computes batch statistics on every call and updates its running "
                            "statistics twice per time step, the second time with the trace's "
                            "batch. OTTT networks do without BatchNorm (the paper's VGG uses "
                            "scaled weight standardization, ottt_edu.vgg.ScaledWSConv2d); or put "
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
