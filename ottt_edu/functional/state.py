"""``reset_net`` and ``detach_net``: manage the state of every stateful module of a network.

English
    ``reset_net(model)`` puts every ``MemoryModule`` of a network (neurons, ``Dropout``'s mask)
    back to the start of a sequence; ``detach_net(model)`` cuts the autograd graph through the
    state without changing its value (online training calls it after every step). Same names
    and behaviour as SpikingJelly's ``activation_based.functional.reset_net`` / ``detach_net``.
中文
    ``reset_net(model)`` 把网络中所有有状态模块恢复到序列开始时的状态; ``detach_net(model)``
    在不改变数值的情况下切断经过状态的计算图。

Reference: Fang et al., "SpikingJelly: An open-source machine learning infrastructure platform
for spike-based intelligence", Science Advances 2023.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from ..neuron.lif import LIFNode
from ..neuron.memory import MemoryModule

__all__ = ["reset_net", "detach_net"]


def _check_net(net: Any, where: str) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(
            f"{where} expects the network, an nn.Module, got {type(net).__name__}. Pass the model "
            f"itself, e.g. {where}(model)."
        )


def _foreign_stateful(name: str, m: nn.Module) -> bool:
    """A stateful module of another library (e.g. SpikingJelly's neurons): it has its own
    ``reset()`` or ``_memories``, which ``reset_net`` would not touch."""
    return not isinstance(m, MemoryModule) and (
        callable(getattr(type(m), "reset", None)) or isinstance(m.__dict__.get("_memories"), dict))


def reset_net(net: nn.Module) -> None:
    """Reset the state of every ``MemoryModule`` in ``net`` / 重置网络中所有有状态模块。

    Call it after each sequence (each batch of T time steps), before the next one starts.
    A network without any stateful module (e.g. a plain ANN) is left as it is.

    Raises:
        TypeError: ``net`` is not an ``nn.Module``, or it holds stateful modules of another
            library (e.g. SpikingJelly's neurons, which have their own ``reset()``): this
            function would silently leave their state in place.
        ValueError: one neuron instance sits at two places of ``net`` (it would be stepped
            twice per time step).
    """
    _check_net(net, "reset_net")

    seen: dict[int, str] = {}
    foreign = []
    for name, m in net.named_modules(remove_duplicate=False):
        if isinstance(m, MemoryModule):
            if id(m) in seen:
                if isinstance(m, LIFNode) and seen[id(m)] != name:
                    raise ValueError(
                        f"reset_net: the same {type(m).__name__} instance is at {seen[id(m)]!r} and "
                        f"at {name!r} of {type(net).__name__}; it is stepped twice per time step, "
                        f"with one shared state. Create a separate neuron for every place."
                    )
                continue
            seen[id(m)] = name
            m.reset()
        elif _foreign_stateful(name, m):
            foreign.append(f"{name or '(the net itself)'!s} ({type(m).__module__}.{type(m).__name__})")
    if foreign:
        raise TypeError(
            f"reset_net: {type(net).__name__} holds stateful modules that are not ottt_edu's: "
            f"{', '.join(sorted(set(foreign))[:5])}. ottt_edu.reset_net resets only ottt_edu "
            f"modules (OTTTLIFNode, LIFNode, Dropout) and would leave their state in place. Reset "
            f"them with their own library (SpikingJelly: "
            f"spikingjelly.activation_based.functional.reset_net), or build the network from "
            f"ottt_edu neurons."
        )


def detach_net(net: nn.Module) -> None:
    """Detach the state of every ``MemoryModule`` in ``net`` / 切断网络中所有状态的计算图。

    Values are unchanged; only the autograd history through the state is dropped, so a
    per-step ``loss.backward()`` never reaches back into a graph that was already freed.
    """
    _check_net(net, "detach_net")
    for m in net.modules():
        if isinstance(m, MemoryModule):
            m.detach()
