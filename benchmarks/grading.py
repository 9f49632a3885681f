#!/usr/bin/env python
"""Grading a class: seconds per notebook and peak memory, sandboxed or not, one job or several.

Usage (from the repository root, with the project's environment; Linux with bubblewrap)::

    .venv/bin/python benchmarks/grading.py                 # 2 students x the 7 graded notebooks
    .venv/bin/python benchmarks/grading.py --students 4 --jobs 1 2 4

A class of ``--students`` honest students hands in every notebook that carries points (01-06 and
11; each submission is the teacher's notebook, so every answer is right). In one run, side by
side, it grades the class (``ottt_edu.classroom.grade``) three ways and prints, for each, the
wall time, seconds per notebook, the scores (all full marks, or the run is reported as broken)
and the peak resident memory of the largest process grading started (``ru_maxrss`` of the
waited-for descendants: the biggest kernel):

- ``--no-sandbox``, one job: the baseline;
- sandboxed, one job: the price of the sandbox (ratio to the baseline);
- sandboxed, ``--jobs N`` for each N given: the speed-up on this machine's cores.

Then the class-size table for 60 students x the 7 notebooks: measured seconds per notebook
times 420, divided by the measured speed-up of each job count; rows for more cores than this
machine has are *estimates* (the best measured per-core throughput, scaled), and say so.
Times on a shared machine are noisy: compare the ratios, which come from the same run.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ottt_edu.classroom import source_notebooks  # noqa: E402
from ottt_edu.classroom.grade import graded_cells, grade  # noqa: E402
from ottt_edu.classroom.sandbox import sandbox_problem  # noqa: E402

CLASS = 60


def _class(folder: Path, students: int) -> int:
    graded = [p for p in source_notebooks("en") if graded_cells(p)]
    for i in range(students):
        (folder / f"student{i:02d}").mkdir(parents=True)
        for p in graded:
            shutil.copyfile(p, folder / f"student{i:02d}" / p.name)
    return len(graded)


def _run(label: str, subs: Path, **kw) -> dict:
    """Grade in a fresh process, so that ru_maxrss covers this run's kernels only."""
    code = (f"import resource, sys, time, json; sys.path.insert(0, {str(ROOT)!r});"
            "from pathlib import Path; from ottt_edu.classroom.grade import grade;"
            f"t = time.perf_counter(); rows = grade(Path({str(subs)!r}), 'en', **{kw!r});"
            "wall = time.perf_counter() - t;"
            "tot = [r for r in rows if r.exercise == 'TOTAL' and r.max_score];"
            "print(json.dumps(dict(wall=wall, n=len(tot), full=all(r.score == r.max_score for r in tot),"
            "notes=sorted({r.note for r in tot if r.note})[:3],"
            "rss=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{label}: grading failed:\n{done.stderr[-2000:]}")
    import json
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["label"] = label
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=2)
    p.add_argument("--jobs", type=int, nargs="+", default=[2])
    args = p.parse_args(argv)
    problem = sandbox_problem()
    if problem:
        raise SystemExit(f"grading.py: {problem}")
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {platform.platform()}, {cores} cores, load average before "
          f"{os.getloadavg()[0]:.2f}; {args.students} students")
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        per_student = _class(subs, args.students)
        runs = [_run("no sandbox, 1 job", subs, sandbox=False)]
        runs.append(_run("sandbox, 1 job", subs))
        for j in args.jobs:
            runs.append(_run(f"sandbox, {j} jobs", subs, jobs=j))
    n = args.students * per_student
    base, boxed = runs[0]["wall"], runs[1]["wall"]
    print(f"\n{n} notebooks ({per_student} per student), load average after {os.getloadavg()[0]:.2f}\n")
    # (the teacher's notebooks, handed in, hold hidden tests: nbgrader notes their locked cells
    # as edited and restores them, which is expected here)
    print("| run | wall (s) | s / notebook | vs no sandbox | speed-up vs 1 job | peak RSS (MiB) | all full marks |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in runs:
        print(f"| {r['label']} | {r['wall']:.1f} | {r['wall'] / n:.2f} | {r['wall'] / base:.2f}x | "
              f"{boxed / r['wall']:.2f}x | {r['rss'] / 1024:.0f} | {r['full']} |")
    per_nb = {1: boxed / n, **{j: r["wall"] / n for j, r in zip(args.jobs, runs[2:])}}
    best = max(per_nb, key=lambda j: (1 / per_nb[j]) / min(j, cores))  # notebooks/s per core used
    per_core = (1 / per_nb[best]) / min(best, cores)
    total = CLASS * per_student
    print(f"\nclass of {CLASS} x {per_student} notebooks = {total} notebooks, sandboxed:\n")
    print("| cores | jobs | time | source |")
    print("|---:|---:|---:|---|")
    for j, s in sorted(per_nb.items()):
        print(f"| {cores} | {j} | {total * s / 60:.0f} min | measured here |")
    for c in (8,):
        if c > cores:
            print(f"| {c} | {c} | {total / (per_core * c) / 60:.0f} min | estimate: {per_core:.3f} "
                  f"notebooks/s per core (measured, {best} job(s)) x {c} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
