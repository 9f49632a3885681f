#!/usr/bin/env python
"""Training time against torch's thread count, on an idle machine and beside two CPU burners.

Usage (from the repository root)::

    .venv/bin/python benchmarks/threads.py              # digits MLP, OTTT_A, 10 epochs
    .venv/bin/python benchmarks/threads.py --epochs 5 --threads 1 2

Each measurement is one ``python -m ottt_edu train --dataset digits --method ottt_a --T 6``
run in a fresh process with ``--threads N``; the time is the run's own training time (its
history's ``time``: forward, backward and optimizer steps, evaluation excluded). The same
configurations run idle and then with two CPU-burning processes beside them, in one run of this
script, so the printed ratios compare like with like. This is the measurement behind
``ottt_edu.threads``' default of one thread.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_load import burners  # noqa: E402


def train_seconds(threads: int, epochs: int, seed: int) -> tuple[float, float]:
    """(training seconds, final test accuracy) of one CLI run with ``threads`` threads."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        subprocess.run([sys.executable, "-m", "ottt_edu", "train", "--dataset", "digits",
                        "--method", "ottt_a", "--T", "6", "--epochs", str(epochs),
                        "--seed", str(seed), "--threads", str(threads), "--quiet",
                        "--json", str(out)], check=True, stdout=subprocess.DEVNULL)
        history = json.loads(out.read_text(encoding="utf-8"))["history"]
    return history["time"][-1], history["test_acc"][-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, nargs="+",
                   default=sorted({1, 2, os.cpu_count() or 1}))
    p.add_argument("--burners", type=int, default=2)
    a = p.parse_args()
    if a.epochs < 1 or a.burners < 0 or min(a.threads) < 1:
        p.error("--epochs and --threads must be >= 1, --burners >= 0")
    print(f"digits MLP, OTTT_A, T=6, {a.epochs} epochs; {os.cpu_count()} cores; "
          f"loaded = {a.burners} CPU burners beside the run")
    rows = {}
    for load in ("idle", "loaded"):
        for n in a.threads:
            if load == "idle":
                rows[(load, n)] = train_seconds(n, a.epochs, a.seed)
            else:
                with burners(a.burners):
                    rows[(load, n)] = train_seconds(n, a.epochs, a.seed)
            t, acc = rows[(load, n)]
            print(f"  {load:6s} {n} thread(s): {t:7.2f} s training, test acc {acc:.4f}", flush=True)
    base = rows[("idle", a.threads[0])][0]
    print(f"\n| threads | idle (s) | loaded (s) | loaded / idle | idle / idle@{a.threads[0]} "
          f"| loaded / loaded@{a.threads[0]} |")
    print("|---|---|---|---|---|---|")
    for n in a.threads:
        idle, loaded = rows[("idle", n)][0], rows[("loaded", n)][0]
        print(f"| {n} | {idle:.2f} | {loaded:.2f} | {loaded / idle:.2f} | {idle / base:.2f} "
              f"| {loaded / rows[('loaded', a.threads[0])][0]:.2f} |")


if __name__ == "__main__":
    main()
