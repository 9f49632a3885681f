"""Stateful modules and the two functions that manage their state: ``reset_net``, ``detach_net``.

English
    A spiking neuron remembers its membrane potential ``v`` (and, for OTTT, its presynaptic
    ``trace``) from one time step to the next. ``MemoryModule`` registers such state with its
    initial value, so that ``reset_net(model)`` can put every stateful module of a network back
    to the start of a sequence, and ``detach_net(model)`` can cut the autograd graph through the
    state without changing its value. Same names and behaviour as SpikingJelly's
    ``activation_based.base.MemoryModule`` and ``activation_based.functional.reset_net`` /
    ``detach_net``.
中文
    脉冲神经元在时间步之间保存膜电位 ``v`` (OTTT 还保存突触前迹 ``trace``)。``MemoryModule``
    登记这些状态及其初值; ``reset_net(model)`` 把网络中所有有状态模块恢复到序列开始时的状态,
    ``detach_net(model)`` 在不改变数值的情况下切断经过状态的计算图。

Reference: Fang et al., "SpikingJelly: An open-source machine learning infrastructure platform
for spike-based intelligence", Science Advances 2023.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["MemoryModule", "reset_net", "detach_net"]


class MemoryModule(nn.Module):
    """A module with state that persists across time steps / 具有跨时间步状态的模块。

    ``register_memory(name, value)`` creates the attribute ``name`` with initial ``value``
    (a float, ``None`` or a tensor); ``reset()`` restores every memory to its initial value;
    ``detach()`` detaches every tensor memory from the autograd graph.
    """

    def __init__(self) -> None:
        super().__init__()
        self._memories: dict[str, Any] = {}
        self._memories_rv: dict[str, Any] = {}

    def register_memory(self, name: str, value: Any) -> None:
        if hasattr(self, name) and name not in self._memories:
            raise AttributeError(f"{name!r} is already an attribute of {type(self).__name__}.")
        self._memories[name] = value
        self._memories_rv[name] = copy.deepcopy(value)

    def reset(self) -> None:
        for name, value in self._memories_rv.items():
            self._memories[name] = copy.deepcopy(value)

    def detach(self) -> None:
        for name, value in self._memories.items():
            if isinstance(value, torch.Tensor):
                self._memories[name] = value.detach()

    def __getattr__(self, name: str) -> Any:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
        else:
            super().__setattr__(name, value)

    def _apply(self, fn, *args, **kwargs):  # keep tensor state on the module's device/dtype
        for name, value in self._memories.items():
            if isinstance(value, torch.Tensor):
                self._memories[name] = fn(value)
        return super()._apply(fn, *args, **kwargs)


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
    from .neuron import LIFNode

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
