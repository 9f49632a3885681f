"""``python -m ottt_edu.classroom student|grade``: the classroom kit's command line.

    python -m ottt_edu.classroom student [--edition en|zh-CN|all] [--out release] [--notebooks DIR]
    python -m ottt_edu.classroom grade SUBMISSIONS [--edition en|zh-CN] [--csv scores.csv] [--no-sandbox]
                                       [--notebooks DIR]

``--notebooks DIR``: the course's notebooks (English ``DIR/NN_name.ipynb``, Chinese
``DIR/zh-CN/``), by default the repository's ``notebooks/``; needed when ottt_edu is installed
into an environment (site-packages) rather than run from its repository. There the student
edition goes to ``./release`` (the current folder) unless ``--out`` says otherwise.

Grading runs every submission's kernel in its own bubblewrap sandbox (Linux; see
``ottt_edu.classroom.sandbox``) and refuses to run without one unless ``--no-sandbox`` is given.

(``python tasks.py student`` and ``python tasks.py grade`` call these.) An error is one line on
stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .editions import EDITIONS, NOTEBOOKS, ROOT, ClassroomError, build_student_edition
from .grade import _inert, check_csv_path, grade, write_csv

NOTEBOOKS_HELP = ("the course's notebooks: DIR/NN_name.ipynb in English, DIR/zh-CN/ in Chinese "
                  "(default: the repository's notebooks/; needed when ottt_edu is installed "
                  "into site-packages)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ottt_edu.classroom",
                                description="Student edition and autograding (nbgrader).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student edition to release/<edition>/")
    s.add_argument("--edition", choices=[*EDITIONS, "all"], default="all")
    s.add_argument("--out", type=Path, default=None,
                   help="where release/<edition>/ goes (default: the repository's release/, or "
                        "./release when ottt_edu is installed outside its repository)")
    s.add_argument("--notebooks", type=Path, default=None, metavar="DIR", help=NOTEBOOKS_HELP)
    g = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/NN_name.ipynb into a CSV")
    g.add_argument("submissions", type=Path)
    g.add_argument("--edition", choices=list(EDITIONS), default="en")
    g.add_argument("--csv", type=Path, default=Path("scores.csv"))
    g.add_argument("--notebooks", type=Path, default=None, metavar="DIR", help=NOTEBOOKS_HELP)
    g.add_argument("--keep", type=Path, default=None,
                   help="keep the nbgrader course here (autograded notebooks with their outputs "
                        "in KEEP/<edition>/autograded/<student>/NN_name/) instead of a temporary folder")
    g.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="grade N submissions at once, each in its own sandbox (default: 1; "
                        "memory grows by about a kernel per job)")
    g.add_argument("--no-sandbox", action="store_true",
                   help="run the submissions' code with your own rights, outside any sandbox: only "
                        "for submissions you trust (every row of the CSV then says so)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "student":
            editions = list(EDITIONS) if args.edition == "all" else [args.edition]
            out = args.out or (ROOT / "release" if NOTEBOOKS.is_dir() else Path("release"))
            for edition in editions:
                written = build_student_edition(edition, out, notebooks=args.notebooks)
                print(f"{edition}: {len(written)} notebooks in {out / edition}")
        else:
            check_csv_path(args.csv)
            rows = grade(args.submissions, args.edition, work=args.keep, sandbox=not args.no_sandbox,
                         jobs=args.jobs, notebooks=args.notebooks)
            digest = write_csv(rows, args.csv)
            totals = [r for r in rows if r.exercise == "TOTAL"]
            print(f"graded {len(totals)} notebook(s) of {len({r.student for r in totals})} "
                  f"student(s): {args.csv} (sha256 {digest[:16]}..., in {args.csv.name}.sha256)")
            for r in rows:
                if r.exercise in ("TOTAL", "COURSE TOTAL") and r.note:
                    print(f"  {_inert(r.student)} / {r.notebook}: {_inert(r.note)}")
            for r in rows:
                if r.exercise == "COURSE TOTAL":
                    print(f"  {_inert(r.student)}: {r.score:g} / {r.max_score:g} points")
    except ClassroomError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
