"""Measure the memory autograd keeps for backward: ``SavedTensorMeter``.

English
    BPTT must keep every time step's activations until ``backward()``; OTTT frees each step's
    graph right after its own ``backward()``. This module makes that difference measurable on
    any device, CPU included: inside ``with SavedTensorMeter() as m:`` every tensor that
    autograd saves for backward is recorded (through ``torch.autograd.graph.saved_tensors_hooks``)
    and released again when its graph is freed. ``m.peak_bytes`` is the largest number of bytes
    held at once; each storage is counted once, however many graph nodes share it (so a weight
    used at every step counts once, while fresh activations count every time).

    Whole storages are counted: a view such as ``x_seq[t]`` of a ``(T, B, N)`` input counts the
    entire sequence once it is saved. That is honest (the sequence really is alive) but it hides
    what the *network* keeps; to measure the network alone, feed the steps as separate tensors
    (e.g. ``x_seq.unbind(0)`` cloned, or generate each step on the fly).
中文
    统计 autograd 为反向传播保存的张量字节数。``peak_bytes`` 为同一时刻保存的最大字节数。

Reference: PyTorch docs, "Hooks for saved tensors" (``torch.autograd.graph.saved_tensors_hooks``).
"""
from __future__ import annotations

import weakref
from typing import Optional

import torch

__all__ = ["SavedTensorMeter"]


class _Packed:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class SavedTensorMeter:
    """Context manager that tracks bytes of tensors saved for backward / 统计反向传播保存的字节数。

    Attributes:
        current_bytes: bytes held now by graphs created inside the context.
        peak_bytes: the maximum of ``current_bytes`` so far.
        total_bytes: bytes of every distinct storage at the time it was first saved (a
            cumulative count, not a memory footprint).
        saved_count: how many times autograd saved a tensor.
    """

    def __init__(self) -> None:
        self.current_bytes = 0
        self.peak_bytes = 0
        self.total_bytes = 0
        self.saved_count = 0
        self._live: dict[int, list[int]] = {}  # storage pointer -> [nbytes, references]
        self._hooks: Optional[torch.autograd.graph.saved_tensors_hooks] = None

    def _release(self, key: int) -> None:
        entry = self._live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current_bytes -= entry[0]
            del self._live[key]

    def _pack(self, tensor: torch.Tensor) -> _Packed:
        self.saved_count += 1
        packed = _Packed(tensor)
        try:
            storage = tensor.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
        except (RuntimeError, NotImplementedError):  # e.g. sparse tensors: no plain storage
            return packed
        if key in self._live:
            self._live[key][1] += 1
        else:
            self._live[key] = [nbytes, 1]
            self.current_bytes += nbytes
            self.total_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.current_bytes)
        weakref.finalize(packed, self._release, key)
        return packed

    @staticmethod
    def _unpack(packed: _Packed) -> torch.Tensor:
        return packed.tensor

    def __enter__(self) -> "SavedTensorMeter":
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        assert self._hooks is not None
        self._hooks.__exit__(*exc)
        self._hooks = None
