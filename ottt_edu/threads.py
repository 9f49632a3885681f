"""How many CPU threads torch uses for the course, and how to change it / 课程使用的 CPU 线程数。

The course's networks are small (a 64-256-10 MLP on batches of 32, a two-layer CNN), so one
time step is a few small matrix products. Splitting them over several threads gains little on an
idle machine and loses badly on a busy one: torch's OpenMP threads wait for each other at every
operation, and when a browser, a video call or other students' kernels hold the cores, each wait
costs a time slice. Measured on the 2-core development machine (``benchmarks/threads.py``, which
prints the table from one run), one thread is as fast as two when the machine is idle and many
times faster with two CPU-burning processes beside it; the notebooks' stored outputs are the same
for any thread count. So ``import ottt_edu`` sets torch to **one thread**, unless you say otherwise:

- ``OTTT_EDU_THREADS=N`` (a positive integer) in the environment: N threads;
- ``OTTT_EDU_THREADS=torch``: leave torch's own choice (one thread per core);
- ``OMP_NUM_THREADS`` set (and ``OTTT_EDU_THREADS`` not): torch already follows it, so nothing is
  changed;
- ``torch.set_num_threads(n)`` after ``import ottt_edu``: it is applied once, at import, and never
  again, so your call wins.

Benchmarks that compare thread counts (``benchmarks/``) set their own. The CLI's ``--threads N``
overrides the policy for a training run.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional

import torch

ENV_VAR = "OTTT_EDU_THREADS"
DEFAULT_THREADS = 1

__all__ = ["ENV_VAR", "DEFAULT_THREADS", "policy_threads", "apply_thread_policy"]


def policy_threads(environ: Mapping[str, str] = os.environ) -> Optional[int]:
    """The thread count the policy asks for, or ``None`` to leave torch as it is.

    Raises ``ValueError`` naming the variable when ``OTTT_EDU_THREADS`` is neither a positive
    integer nor ``torch``.
    """
    value = environ.get(ENV_VAR, "").strip()
    if not value:
        return None if environ.get("OMP_NUM_THREADS", "").strip() else DEFAULT_THREADS
    if value.lower() == "torch":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR}={value!r}: expected a positive integer (e.g. {ENV_VAR}=2) or "
                         f"'torch' (torch's own choice); unset it for the course default of "
                         f"{DEFAULT_THREADS} thread")
    return n


def apply_thread_policy(environ: Mapping[str, str] = os.environ) -> int:
    """Set torch's intra-op threads as the policy says; return the count now in force."""
    n = policy_threads(environ)
    if n is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()
