#!/usr/bin/env python
"""Regenerate the README pictures in docs/img/ from the library's own plot functions.

Usage (from the repository root)::

    .venv/bin/python scripts/make_readme_figures.py            # writes docs/img/*.png
    .venv/bin/python scripts/make_readme_figures.py --out DIR  # somewhere else
    .venv/bin/python scripts/make_readme_figures.py --only lif_neuron_trace

Each figure is the default-value figure of an explorer (``ottt_edu.course.explore``) or a plot helper
(``ottt_edu.viz``), so the README shows exactly what the notebooks show. Deterministic: seeded,
and PNG metadata without a software version.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from ottt_edu import viz  # noqa: E402
from ottt_edu.course import explore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DPI = 100


def lif_neuron_trace() -> Figure:
    """A LIF neuron on random input: input, membrane potential with spikes, trace."""
    fig = Figure(figsize=(8.0, 6.0), layout="constrained")
    explore.draw_lif(fig, explore.LIFParams())
    return fig


def grad_paths() -> Figure:
    """Value path vs gradient path of ReplaceforGrad and GradwithTrace."""
    fig = Figure(figsize=(13.0, 3.6), layout="constrained")
    ax_r, ax_g = fig.subplots(1, 2, width_ratios=[1, 1.3])
    viz.plot_grad_paths(ax_r, "ReplaceforGrad")
    viz.plot_grad_paths(ax_g, "GradwithTrace")
    return fig


def ottt_vs_bptt() -> Figure:
    """Gradient cosine per layer and vs T, and memory vs T, for OTTT and BPTT."""
    fig = Figure(figsize=(11.0, 3.8), layout="constrained")
    explore.draw_ottt_vs_bptt(fig, explore.OTTTvsBPTTParams())
    return fig


FIGURES: dict[str, Callable[[], Figure]] = {
    "lif_neuron_trace": lif_neuron_trace,
    "grad_paths": grad_paths,
    "ottt_vs_bptt": ottt_vs_bptt,
}


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img",
                        help="output directory (default: docs/img)")
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), default=None,
                        help="make only these figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in args.only or FIGURES:
        path = args.out / f"{name}.png"
        FIGURES[name]().savefig(path, dpi=DPI, metadata={"Software": None})
        print(f"wrote {path}")
        written.append(path)
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
