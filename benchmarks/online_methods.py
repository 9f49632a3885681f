"""Benchmark: BPTT, OTTT_A, OTTT_O, SLTT and FPTT — memory and time per training iteration against T.

One iteration is what the trainer (``ottt_edu.train``, ``--method``) does with one batch: the
forward and backward passes over T steps *and* the optimizer step(s): BPTT unrolls and runs one
``backward()``; OTTT_A and SLTT run a ``backward()`` after every step and one optimizer step;
OTTT_O steps the optimizer after every step; FPTT steps it after every step and runs a second
forward/backward per step (T-1 of them) for its running average. Every method trains the same
architecture with the same weights and the same dynamics on the same batch of 8x8 digits
(direct encoding); the optimizer is SGD at ``lr=0``, so the weights (and so the spikes) stay
the same from repeat to repeat while the optimizer's work is still done
(``ottt_edu.measure.methods_vs_T``).

Memory, measured for real: the peak number of bytes of tensors autograd keeps for backward
during the iteration (``SavedTensorMeter``, any device); on CUDA also the peak allocated memory
above the baseline. Time: every method runs once per round, the order rotating from round to
round, and the median over the rounds is printed, so the ratios to BPTT compare the methods
under the same machine load.

Expected: the online methods' memory is flat in T (so their ratio to BPTT falls like 1/T);
FPTT keeps a constant amount more than OTTT/SLTT (its regulariser ``mse_loss(p, target)``
saves two parameter-sized tensors per parameter for backward, which on a small network at small
T is more than BPTT's activations); SLTT is the fastest online method (no trace), FPTT the slowest (two passes per step).

Run (from the repository root)::

    .venv/bin/python benchmarks/online_methods.py --threads 2            # MLP 64-256-10, B=64
    .venv/bin/python benchmarks/online_methods.py --threads 2 --model cnn
    .venv/bin/python benchmarks/online_methods.py --device cuda          # adds peak CUDA memory

Reference: Xiao et al., NeurIPS 2022 (OTTT); Meng et al., ICCV 2023 (SLTT); Kag & Saligrama,
ICML 2021 and Yin et al., arXiv 2112.11231 (FPTT).
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import torch

from ottt_edu.measure import ALL_METHODS, methods_vs_T
from ottt_edu.models import ModelConfig
from ottt_edu.train.online_steps import DEFAULT_FPTT_ALPHA

NAMES = {"bptt": "BPTT", "ottt_a": "OTTT_A", "ottt_o": "OTTT_O", "sltt": "SLTT", "fptt": "FPTT"}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--Ts", type=_positive_int, nargs="+", default=[4, 8, 16, 32])
    p.add_argument("--methods", nargs="+", choices=list(ALL_METHODS), default=list(ALL_METHODS))
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--hidden", type=_positive_int, nargs="+", default=[256])
    p.add_argument("--channels", type=_positive_int, nargs="+", default=[16, 32])
    p.add_argument("--tau", type=float, default=2.0)
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--repeats", type=_positive_int, default=7)
    p.add_argument("--fptt-alpha", type=float, default=DEFAULT_FPTT_ALPHA)
    p.add_argument("--sltt-k", type=_positive_int, default=None,
                   help="measure SLTT-K (backward at K of the T steps) instead of SLTT")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=_positive_int, default=None)
    p.add_argument("--seed", type=int, default=0)
    return p


def _table(rows: list[dict], methods: Sequence[str], key: str, unit: str, scale: float,
           fmt: str) -> list[str]:
    width = 17
    head = f"{'T':>4} | " + " | ".join(f"{NAMES[m]:>{width}}" for m in methods)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = []
        for m in methods:
            value = r[f"{m}_{key}"]
            ratio_key = {"bytes": "bytes_vs_bptt", "s": "time_vs_bptt"}.get(key)
            ratio = None if ratio_key is None else r.get(f"{m}_{ratio_key}")
            text = f"{value * scale:{fmt}} {unit}"
            if ratio is not None and m != "bptt":
                text += f" ({ratio:.2f}x)"
            cells.append(f"{text:>{width}}")
        lines.append(f"{r['T']:>4} | " + " | ".join(cells))
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available; run with --device cpu.", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = list(dict.fromkeys(["bptt", *args.methods]))      # BPTT is the reference
    cfg = ModelConfig(args.model, "ottt", args.tau, hidden=tuple(args.hidden),
                      channels=tuple(args.channels))
    arch = f"MLP 64-{'-'.join(map(str, args.hidden))}-10" if args.model == "mlp" else \
        f"CNN conv{'-'.join(map(str, args.channels))} on 1x8x8"
    sltt = "SLTT" if args.sltt_k is None else f"SLTT-{args.sltt_k}"
    print(f"{', '.join(NAMES[m] for m in methods).replace('SLTT', sltt)}: {arch}, batch "
          f"{args.batch_size}, tau {args.tau}, FPTT alpha {args.fptt_alpha}, device {args.device}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats} rounds")
    rows = methods_vs_T(args.Ts, methods, cfg, batch_size=args.batch_size, repeats=args.repeats,
                        seed=args.seed, device=args.device, fptt_alpha=args.fptt_alpha,
                        sltt_k=args.sltt_k)
    print("\nsaved for backward per iteration (ratio to BPTT):")
    print("\n".join(_table(rows, methods, "bytes", "KiB", 1 / 2**10, ".1f")))
    if args.device.startswith("cuda"):
        print("\npeak CUDA memory above the baseline per iteration:")
        print("\n".join(_table(rows, methods, "cuda_bytes", "MiB", 1 / 2**20, ".2f")))
    print("\ntime per iteration, median (ratio to BPTT):")
    print("\n".join(_table(rows, methods, "s", "ms", 1e3, ".2f")))
    print()
    for m in methods:
        b = [r[f"{m}_bytes"] for r in rows]
        print(f"{NAMES[m]:7s} saved bytes max/min over T = {min(args.Ts)}..{max(args.Ts)}: "
              f"{max(b) / min(b):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
