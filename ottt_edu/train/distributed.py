"""Multi-process training with ``torch.distributed``: set-up, DDP wrapping, OTTT_A's ``no_sync``.

English
    ``torchrun --nproc_per_node=N -m ottt_edu train ...`` starts N processes; each reads its
    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment, joins a process group
    (``gloo`` on CPU, ``nccl`` on GPU), trains a ``DistributedDataParallel`` copy of the model on
    its own shard of every epoch (``DistributedSampler``), and DDP averages the gradients.

    Two things are specific to spiking networks trained online:

    * Neuron state (``v``, ``trace``, dropout masks) is *per process*: it describes the samples
      that process is looking at. It lives in ``MemoryModule._memories`` (plain attributes, not
      parameters or buffers), so DDP neither broadcasts nor averages it.
    * OTTT_A calls ``backward()`` T times per optimizer step. Averaging after each of them would
      cost T all-reduces for the same result (all-reduce is linear), so the forward *and*
      backward passes of steps ``0..T-2`` run inside ``model.no_sync()``; only step ``T-1``
      all-reduces the accumulated gradient. DDP decides at *forward* time whether the next
      backward synchronises, so ``no_sync`` must cover the forward pass too. OTTT_O steps the
      optimizer after every time step and synchronises every step; BPTT has one backward.

    With equal shards, the average of per-process mean losses is the mean loss over the
    combined batch, so one DDP step with per-process batch B equals one single-process step on
    the N*B samples (tested).
中文
    多进程训练: 读取 torchrun 的环境变量, CPU 用 gloo、GPU 用 nccl; 神经元状态 (v, trace) 属于
    各自进程, 不被广播或平均; OTTT_A 的前 T-1 次前向与反向在 ``no_sync`` 中进行, 每次优化器
    更新只同步一次梯度。

Reference: PyTorch "DistributedDataParallel" and "torchrun" documentation; Xiao et al.,
NeurIPS 2022 (arXiv 2210.04195), Sec. 4.2 (OTTT_A / OTTT_O).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Callable, ContextManager, Optional, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "DistributedContext",
    "is_torchrun",
    "choose_backend",
    "init_distributed",
    "teardown_distributed",
    "is_main_process",
    "wrap_ddp",
    "unwrap",
    "sync_context_for",
    "all_reduce_mean",
]

_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the group / 当前进程在进程组中的位置。"""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 prints progress and writes files; the others stay quiet."""
        return self.rank == 0


def is_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (``RANK`` and ``WORLD_SIZE`` are set)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def choose_backend(device: torch.device) -> str:
    """``'nccl'`` for CUDA devices, ``'gloo'`` for the CPU."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RuntimeError(
            f"environment variable {name}={value!r} is not an integer; start the processes with "
            f"`torchrun --nproc_per_node=N -m ottt_edu train ...`, which sets {', '.join(_ENV)}."
        ) from None


def init_distributed(
    device: str = "auto",
    backend: Optional[str] = None,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
    local_rank: Optional[int] = None,
    init_method: str = "env://",
) -> DistributedContext:
    """Join the process group and pick this process's device / 初始化进程组。

    By default everything comes from torchrun's environment (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Tests pass ``rank``, ``world_size`` and
    ``init_method='file:///path/to/a/new/file'`` instead (a ``tcp://`` store needs libuv,
    which PyTorch's Windows wheels lack). ``device='auto'`` uses ``cuda:LOCAL_RANK``
    when CUDA is available, else the CPU; ``backend`` defaults to ``choose_backend(device)``.
    """
    rank = _env_int("RANK") if rank is None else rank
    world_size = _env_int("WORLD_SIZE") if world_size is None else world_size
    if local_rank is None:
        local_rank = _env_int("LOCAL_RANK") if "LOCAL_RANK" in os.environ else rank
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, world_size={world_size}), got {rank}.")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but CUDA is not available; use --device cpu.")
        if dev.index is None:
            if local_rank >= torch.cuda.device_count():
                raise RuntimeError(
                    f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} CUDA device(s) are "
                    f"visible; use --nproc_per_node <= {torch.cuda.device_count()}."
                )
            dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    backend = choose_backend(dev) if backend is None else backend
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed support.")
    if not dist.is_initialized():
        dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, backend, dev)


def teardown_distributed() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True on rank 0, and in a single-process run."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def wrap_ddp(model: nn.Module, ctx: DistributedContext) -> DistributedDataParallel:
    """``DistributedDataParallel`` around ``model`` (moved to ``ctx.device``).

    DDP broadcasts rank 0's parameters and buffers at construction, so all processes start
    equal. Neuron state is neither (see the module docstring) and stays per process.
    """
    model = model.to(ctx.device)
    if ctx.device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[ctx.device.index],
                                       output_device=ctx.device.index)
    return DistributedDataParallel(model)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DDP wrapper (for saving ``state_dict`` without ``module.``)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def sync_context_for(model: nn.Module, method: str) -> Callable[[], ContextManager]:
    """The context for the forward+backward passes of time steps ``0..T-2``.

    ``model.no_sync`` for OTTT_A and SLTT under DDP (gradients accumulate locally, one
    all-reduce at step ``T-1``, for SLTT-K at the last chosen step); a null context otherwise
    (OTTT_O and FPTT synchronise every step, BPTT has one backward, and a single process has
    nothing to synchronise).
    """
    if isinstance(model, DistributedDataParallel) and method in ("ottt_a", "sltt"):
        return model.no_sync
    return contextlib.nullcontext


def all_reduce_mean(values: Sequence[float], device: torch.device = torch.device("cpu")) -> list[float]:
    """Average each number over all processes (identity in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / dist.get_world_size()).tolist()
