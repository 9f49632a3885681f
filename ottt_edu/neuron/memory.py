"""``MemoryModule``: the base class of every module whose state persists across time steps.

English
    A spiking neuron remembers its membrane potential ``v`` (and, for OTTT, its presynaptic
    ``trace``) from one time step to the next. ``MemoryModule`` registers such state with its
    initial value, so that ``reset_net(model)`` (``ottt_edu.functional.state``) can put every
    stateful module of a network back to the start of a sequence, and ``detach_net(model)`` can
    cut the autograd graph through the state without changing its value. Same name and
    behaviour as SpikingJelly's ``activation_based.base.MemoryModule``.
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

__all__ = ["MemoryModule"]


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
