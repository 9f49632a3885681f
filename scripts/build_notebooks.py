"""Write (and optionally execute) the course notebooks from their generators scripts/nbNN.py.

Usage (from the repository root)::

    .venv/bin/python scripts/build_notebooks.py 01 03        # write 01 and 03
    .venv/bin/python scripts/build_notebooks.py --execute 01  # write, then run in place

The stored notebooks are the source of truth; this script makes their first version
reproducible. Execution uses the "ottt-edu" kernel with cwd = notebooks/, as nbval does.
"""
from __future__ import annotations

import argparse
import importlib
import pathlib
import subprocess
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

NAMES = {
    "00": "00_start_here",
    "01": "01_spiking_neurons",
    "02": "02_surrogate_gradients_and_bptt",
    "03": "03_replace_for_grad",
    "04": "04_traces_and_grad_with_trace",
    "05": "05_spike_trace_op_and_ottt_sequential",
    "06": "06_training_online",
    "07": "07_ottt_vs_bptt",
    "08": "08_making_it_fast",
    "09": "09_explorers",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("numbers", nargs="*", default=sorted(NAMES), help="e.g. 01 02")
    parser.add_argument("--execute", action="store_true", help="run each notebook in place")
    args = parser.parse_args()
    for num in args.numbers:
        nb = importlib.import_module(f"nb{num}").build()
        path = ROOT / "notebooks" / f"{NAMES[num]}.ipynb"
        nbformat.write(nb, path)
        print("wrote", path.relative_to(ROOT))
        if args.execute:
            subprocess.run(
                [str(ROOT / ".venv/bin/jupyter"), "nbconvert", "--to", "notebook", "--execute",
                 "--inplace", "--ExecutePreprocessor.kernel_name=ottt-edu",
                 "--ExecutePreprocessor.timeout=300",
                 "--ExecutePreprocessor.store_widget_state=False", path.name],
                cwd=ROOT / "notebooks", check=True,
            )
            print("executed", path.relative_to(ROOT))


if __name__ == "__main__":
    main()
