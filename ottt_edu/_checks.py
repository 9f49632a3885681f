"""Input checks shared by every layer of the package (it imports nothing of it); each error says what was wrong and how to fix it.

* ``check_spike_trace_pair``: the ``[spike, trace]`` form the wrappers take (shape, device, dtype).
  (The checks of a *module* applied to a pair live in ``ottt_edu.layer.pair_module``.)
* ``real_number``, ``integer``, ``seed_value``: scalar arguments (``tau='2'`` is not a number).
"""
from __future__ import annotations

import math
import numbers
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
