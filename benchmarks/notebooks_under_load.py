#!/usr/bin/env python
"""How long the training notebooks take end to end, idle and beside two CPU burners.

Usage (from the repository root)::

    .venv/bin/python benchmarks/notebooks_under_load.py            # notebooks 07 and 08
    .venv/bin/python benchmarks/notebooks_under_load.py 07 --burners 2

Each notebook is run as "restart kernel and run all" does (a fresh ``ottt-edu`` kernel, working
directory ``notebooks/``, nbclient, as nbval does), on a copy in memory, so nothing is written.
First idle, then with two CPU-burning processes beside it, in one run of this script; it prints
both times and their ratio. The course's target: each notebook under 3 minutes when loaded.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_load import burners  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 180.0


def run_seconds(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="ottt-edu", timeout=None, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("numbers", nargs="*", default=["07", "08"])
    p.add_argument("--burners", type=int, default=2)
    a = p.parse_args()
    paths = []
    for n in a.numbers:
        hits = sorted((ROOT / "notebooks").glob(f"{n}*.ipynb"))
        if not hits:
            p.error(f"no notebook starts with {n!r}")
        paths.append(hits[0])
    print(f"loaded = {a.burners} CPU burners beside the notebook")
    rows = []
    for path in paths:
        idle = run_seconds(path)
        print(f"  {path.stem}: idle {idle:.1f} s", flush=True)
        with burners(a.burners):
            loaded = run_seconds(path)
        print(f"  {path.stem}: loaded {loaded:.1f} s", flush=True)
        rows.append((path.stem, idle, loaded))
    print("\n| notebook | idle (s) | loaded (s) | loaded / idle | under 3 min loaded |")
    print("|---|---|---|---|---|")
    for stem, idle, loaded in rows:
        print(f"| {stem} | {idle:.1f} | {loaded:.1f} | {loaded / idle:.2f} | "
              f"{'yes' if loaded < TARGET_S else 'NO'} |")


if __name__ == "__main__":
    main()
