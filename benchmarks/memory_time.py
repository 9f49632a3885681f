"""Benchmark: OTTT vs BPTT training memory and time per iteration, for T = 1, 2, 4, ..., 32.

One iteration is the forward and backward pass of one batch over T time steps (OTTT: a
``backward()`` after every step, the graph of each step freed at once; BPTT: the network
unrolled over T, one ``backward()`` at the end); both networks have the same architecture and
the same weights, and see the same batch of 8x8 digits (direct encoding).

Memory, measured for real: ``saved`` is the peak number of bytes of tensors autograd keeps for
backward during the iteration (``ottt_edu.measure.autograd_memory.SavedTensorMeter``, on any device);
on CUDA also the peak allocated memory above the baseline (``torch.cuda.max_memory_allocated``).
Time: both methods run once per round, in alternating order, and the median over the rounds is
printed, so the ratio compares the two under the same machine load.

Expected: OTTT's memory is flat in T (max/min over T at most 1.05); BPTT's grows linearly in T
(a straight-line fit is printed).

Run (from the repository root)::

    .venv/bin/python benchmarks/memory_time.py                      # CPU, MLP 64-256-10, B=64
    .venv/bin/python benchmarks/memory_time.py --model cnn --threads 2
    .venv/bin/python benchmarks/memory_time.py --device cuda        # adds peak CUDA memory

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Sec. 4.3 (memory O(1) in T for OTTT, O(T) for BPTT).
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import torch

from ottt_edu.measure import memory_time_vs_T
from ottt_edu.models import ModelConfig


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--Ts", type=_positive_int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=[256])
    p.add_argument("--channels", type=_positive_int, nargs="+", default=[16, 32])
    p.add_argument("--tau", type=float, default=2.0)
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--repeats", type=_positive_int, default=7)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_positive_int, default=None)
    p.add_argument("--seed", type=int, default=0)
    return p


def _linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``; returns ``(a, b, R^2)``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0, 1.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    return a, b, 1.0 - ss_res / ss_tot if ss_tot else 1.0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available; run with --device cpu.", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ModelConfig(args.model, "ottt", args.tau, hidden=tuple(args.hidden),
                      channels=tuple(args.channels))
    arch = f"MLP 64-{'-'.join(map(str, args.hidden))}-10" if args.model == "mlp" else \
        f"CNN conv{'-'.join(map(str, args.channels))} on 1x8x8"
    print(f"OTTT vs BPTT, {arch}, batch {args.batch_size}, tau {args.tau}, device {args.device}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats} rounds")
    rows = memory_time_vs_T(args.Ts, cfg, batch_size=args.batch_size, repeats=args.repeats,
                            seed=args.seed, device=args.device)
    cuda = args.device.startswith("cuda")
    head = f"{'T':>4} | {'OTTT saved':>11} {'BPTT saved':>11} {'BPTT/OTTT':>9}"
    if cuda:
        head += f" | {'OTTT cuda':>10} {'BPTT cuda':>10} {'ratio':>6}"
    head += f" | {'OTTT ms':>8} {'BPTT ms':>8} {'BPTT/OTTT':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        line = (f"{r['T']:>4} | {r['ottt_bytes'] / 2**10:>8.1f} KiB {r['bptt_bytes'] / 2**10:>7.1f} KiB "
                f"{r['bytes_ratio']:>9.2f}")
        if cuda:
            oc, bc = r["ottt_cuda_bytes"], r["bptt_cuda_bytes"]
            line += f" | {oc / 2**20:>6.2f} MiB {bc / 2**20:>6.2f} MiB {bc / max(oc, 1):>6.2f}"
        line += f" | {r['ottt_s'] * 1e3:>8.2f} {r['bptt_s'] * 1e3:>8.2f} {r['time_ratio']:>9.2f}"
        print(line)
    ts = [r["T"] for r in rows]
    o = [r["ottt_bytes"] for r in rows]
    b = [r["bptt_bytes"] for r in rows]
    a0, slope, r2 = _linear_fit(ts, b)
    print()
    print(f"OTTT saved bytes, max/min over T = {min(ts)}..{max(ts)}: {max(o) / min(o):.3f} "
          f"(target <= 1.05: {'PASS' if max(o) / min(o) <= 1.05 else 'FAIL'})")
    print(f"BPTT saved bytes ~ {a0 / 2**10:.1f} KiB + {slope / 2**10:.1f} KiB * T (R^2 = {r2:.4f}); "
          f"T={max(ts)} / T={min(ts)}: {max(b) / min(b):.1f}x")
    if cuda:
        oc = [r["ottt_cuda_bytes"] for r in rows]
        bc = [r["bptt_cuda_bytes"] for r in rows]
        _, cslope, cr2 = _linear_fit(ts, bc)
        print(f"CUDA peak: OTTT max/min {max(oc) / max(min(oc), 1):.3f}; BPTT slope "
              f"{cslope / 2**20:.3f} MiB per step (R^2 = {cr2:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
