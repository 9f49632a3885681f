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
overrides the policy for a training run. A count above the machine's cores is capped at the
number of cores, with a note (more threads only wait for each other; far too many crash torch).
A value that is not a count (``OTTT_EDU_THREADS=abc`` or ``0``) does not stop ``import ottt_edu``:
a one-line warning names it and the default of one thread is used.
"""
from __future__ import annotations

import os
import warnings
from typing import Mapping, Optional

import torch

ENV_VAR = "OTTT_EDU_THREADS"
DEFAULT_THREADS = 1

__all__ = ["ENV_VAR", "DEFAULT_THREADS", "SettingWarning", "available_cores", "capped_threads",
           "policy_threads", "apply_thread_policy"]


class SettingWarning(UserWarning):
    """An environment setting of the course (``OTTT_EDU_THREADS``, ``OTTT_EDU_LANG``) was not
    usable or was capped; the warning says what is used instead."""


def warn_setting(message: str, name: str) -> None:
    """One line on stderr, ``NAME:0: SettingWarning: message`` (no source line is quoted: the
    setting came from the environment, not from a line of code)."""
    warnings.warn_explicit(message, SettingWarning, filename=name, lineno=0,
                           module="ottt_edu.threads")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def capped_threads(n: int, source: str) -> tuple[int, Optional[str]]:
    """``(n, None)``, or ``(cores, note)`` when ``n`` is above the number of cores; ``source``
    names where ``n`` came from (``"OTTT_EDU_THREADS=64"``, ``"--threads 64"``)."""
    cores = available_cores()
    if n > cores:
        return cores, f"{source} asks for more threads than this machine's {cores} core(s); using {cores}"
    return n, None


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
    """Set torch's intra-op threads as the policy says; return the count now in force.

    Never raises: an unusable ``OTTT_EDU_THREADS`` gives a one-line :class:`SettingWarning` and
    the default; a count above the cores is capped (also a warning)."""
    try:
        n = policy_threads(environ)
    except ValueError as e:
        warn_setting(f"{e} (using {DEFAULT_THREADS} now)", ENV_VAR)
        n = DEFAULT_THREADS
    if n is not None:
        n, note = capped_threads(n, f"{ENV_VAR}={n}")
        if note:
            warn_setting(note, ENV_VAR)
    if n is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()
