"""Two CPU-burning processes beside a measurement, as a busy laptop or a shared JupyterHub has.

``with burners(2): ...`` starts two processes that spin on pure-Python arithmetic (each takes one
core whenever the scheduler lets it) and stops them on every exit path. Used by
``benchmarks/threads.py`` and ``benchmarks/notebooks_under_load.py``.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
from typing import Iterator


def _burn() -> None:  # pragma: no cover - runs in the child
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


@contextlib.contextmanager
def burners(n: int = 2) -> Iterator[list]:
    """Run ``n`` CPU burners for the duration of the ``with`` block."""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_burn, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(timeout=10)
