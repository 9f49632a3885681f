"""The classroom kit: build the student edition and grade submissions, with nbgrader.

The notebooks in ``notebooks/`` (and their Chinese twins in ``notebooks/zh-CN/``) are
nbgrader *source* notebooks: each exercise's answer sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in a solution cell, each checker call is a graded, read-only test cell with
points (some with ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``), and each notebook's
setup cell is read-only. nbgrader (https://nbgrader.readthedocs.io) does the rest:

* :func:`build_student_edition` runs ``generate_assignment`` on every notebook: answers become
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, hidden tests and outputs go, and
  the results are written flat to ``release/<edition>/NN_name.ipynb``.
* :func:`grade` copies a folder of submissions (``SUBMISSIONS/<student>/NN_name.ipynb``) into a
  throwaway nbgrader course, runs ``autograde`` (locked cells and hidden tests are restored from
  the source, deleted test cells are added back) and writes one CSV row per graded cell, with
  a total per notebook and a note on any read-only or test cell the student changed or
  deleted.

Command line (``python tasks.py student`` and ``python tasks.py grade`` call these)::

    python -m ottt_edu.classroom student [--edition en|zh-CN|all] [--out release]
    python -m ottt_edu.classroom grade SUBMISSIONS [--edition en|zh-CN] [--csv scores.csv]

课堂工具: 用 nbgrader 生成学生版 (答案替换为 ``raise NotImplementedError()``, 隐藏测试与输出
被删除), 并对学生提交的笔记本自动评分, 输出 CSV 成绩表。
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = {"en": ROOT / "notebooks", "zh-CN": ROOT / "notebooks" / "zh-CN"}
#: Longest a single cell may run while grading. The slowest cell of the course took 37.6 s
#: under nbval on the course machine (2 cores; notebook 10's SLTT/FPTT sweep); 300 s is 8x that,
#: room for a loaded machine, and stops a submission that loops forever.
CELL_TIMEOUT_S = 300


class ClassroomError(Exception):
    """Bad input to a classroom command: the message says what and how to fix it."""


@dataclass(frozen=True)
class CourseConfig:
    """Where the throwaway nbgrader course lives and how it runs the notebooks."""

    root: Path
    edition: str = "en"
    cell_timeout_s: int = CELL_TIMEOUT_S

    def nbgrader_config(self):  # -> traitlets.config.Config
        from traitlets.config import Config

        c = Config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.course_id = f"ottt_edu-{self.edition}"
        # Run in this interpreter's own kernel, wherever the course kernel is registered or not.
        c.Execute.kernel_name = "python3"
        c.Execute.timeout = self.cell_timeout_s
        c.Execute.allow_errors = True
        c.OverwriteCells.add_missing_cells = True  # a deleted test cell is put back and run
        c.Exchange.root = str(self.root / "exchange")
        return c


def _need_nbgrader() -> None:
    # nbgrader runs the ``alembic`` command beside this interpreter (``.venv/bin``, or
    # ``Scripts`` on Windows), which is not on PATH when .venv's python is called directly.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    try:
        import nbgrader  # noqa: F401
    except ImportError as e:  # pragma: no cover - the lock installs it
        raise ClassroomError("nbgrader is not installed: run `python tasks.py env` (it installs "
                             "the project's lock, nbgrader included).") from e


def source_notebooks(edition: str) -> list[Path]:
    """The teacher edition's notebooks of ``edition`` ("en" or "zh-CN"), in course order."""
    if edition not in EDITIONS:
        raise ClassroomError(f"unknown edition {edition!r}; choose one of {', '.join(EDITIONS)}")
    found = sorted(EDITIONS[edition].glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ClassroomError(f"no notebooks in {EDITIONS[edition]}")
    return found


def _api(config: CourseConfig):
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=config.nbgrader_config())


def _ok(result: dict, what: str) -> None:
    if not result.get("success"):
        raise ClassroomError(f"nbgrader {what} failed:\n{result.get('error') or result.get('log')}")


def prepare_course(config: CourseConfig, notebooks: Iterable[Path]) -> list[str]:
    """Lay out ``source/<stem>/<stem>.ipynb`` in the course and generate each assignment.

    Returns the assignment ids (the notebooks' stems, e.g. ``03_replace_for_grad``)."""
    _need_nbgrader()
    ids = []
    api = _api(config)
    for nb in notebooks:
        folder = config.root / "source" / nb.stem
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, folder / nb.name)
        _ok(api.generate_assignment(nb.stem, force=True, create=True), f"generate_assignment {nb.stem}")
        ids.append(nb.stem)
    return ids


def build_student_edition(edition: str = "en", out: Path = ROOT / "release",
                          work: Optional[Path] = None) -> list[Path]:
    """Write the student edition of ``edition`` to ``out/<edition>/NN_name.ipynb``; return the paths."""
    notebooks = source_notebooks(edition)
    target = Path(out) / edition
    with tempfile.TemporaryDirectory(prefix="ottt-course-") as tmp:
        config = CourseConfig(root=Path(work or tmp) / edition, edition=edition)
        ids = prepare_course(config, notebooks)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        written = []
        for stem in ids:
            src = config.root / "release" / stem / f"{stem}.ipynb"
            dst = target / f"{stem}.ipynb"
            shutil.copyfile(src, dst)
            written.append(dst)
    return written


# -- grading ----------------------------------------------------------------------------------
@dataclass
class CellScore:
    """One graded cell of one student's notebook."""

    student: str
    notebook: str
    exercise: str
    score: float
    max_score: float
    note: str = ""


@dataclass
class Tampering:
    """Read-only or test cells a submission changed or deleted (nbgrader restores them)."""

    deleted: list = field(default_factory=list)
    edited: list = field(default_factory=list)

    def note(self) -> str:
        parts = [f"deleted {g} (put back for grading)" for g in self.deleted]
        parts += [f"edited read-only {g} (restored for grading)" for g in self.edited]
        return "; ".join(parts)


def find_tampering(release_nb: Path, submitted_nb: Path) -> Tampering:
    """Compare a submission's locked cells with the student edition it was made from."""
    import nbformat
    from nbgrader import utils

    def locked(nb) -> dict:
        return {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
                if utils.is_locked(c) or utils.is_grade(c)}

    released = locked(nbformat.read(release_nb, as_version=4))
    submitted = locked(nbformat.read(submitted_nb, as_version=4))
    found = Tampering()
    for grade_id, cell in released.items():
        if grade_id not in submitted:
            found.deleted.append(grade_id)
        elif utils.compute_checksum(submitted[grade_id]) != cell.metadata.nbgrader["checksum"]:
            found.edited.append(grade_id)
    return found


def collect_submissions(folder: Path, known: Sequence[str]) -> dict[tuple[str, str], Path]:
    """``{(student, stem): notebook}`` from ``folder/<student>/<stem>.ipynb`` (or nbgrader's
    ``folder/<student>/<stem>/<stem>.ipynb``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassroomError(f"{folder} is not a folder; give the folder that holds one "
                             "sub-folder per student, each with that student's NN_name.ipynb files")
    found: dict[tuple[str, str], Path] = {}
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for nb in sorted(student_dir.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in nb.parts:
                continue
            if nb.stem not in known:
                raise ClassroomError(f"{nb}: {nb.stem!r} is not a notebook of the course; name "
                                     f"each submission after its notebook, e.g. {known[0]}.ipynb")
            found[(student_dir.name, nb.stem)] = nb
    if not found:
        raise ClassroomError(f"no submissions in {folder}: expected {folder}/<student>/"
                             f"NN_name.ipynb")
    return found


def _zero_reasons(autograded: Path) -> dict[str, str]:
    """``{grade_id: why}`` for the graded cells of an autograded notebook that lost points: the
    error they raised (first line) or the first line they wrote to stderr ("Not attempted yet")."""
    import nbformat

    if not autograded.exists():
        return {}
    found = {}
    for cell in nbformat.read(autograded, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                first = (str(out.evalue).strip().splitlines() or [""])[0]
                found[meta["grade_id"]] = f"{out.ename}: {first}"[:300]
                break
            if out.output_type == "stream" and out.name == "stderr" and out.text.strip():
                found.setdefault(meta["grade_id"], out.text.strip().splitlines()[0][:300])
    return found


def grade(submissions: Path, edition: str = "en", work: Optional[Path] = None) -> list[CellScore]:
    """Autograde every submission in ``submissions``; one :class:`CellScore` per graded cell and
    one ``TOTAL`` row per notebook (its note lists tampering and grading errors)."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    notebooks = {p.stem: p for p in source_notebooks(edition)}
    subs = collect_submissions(submissions, list(notebooks))
    rows: list[CellScore] = []
    with tempfile.TemporaryDirectory(prefix="ottt-grade-") as tmp:
        config = CourseConfig(root=Path(work or tmp) / edition, edition=edition)
        needed = sorted({stem for _, stem in subs})
        prepare_course(config, [notebooks[s] for s in needed])
        api = _api(config)
        problems: dict[tuple[str, str], str] = {}
        for (student, stem), path in sorted(subs.items()):
            note = []
            try:
                nbformat.read(path, as_version=4)
            except Exception as e:  # not a notebook at all: zero, and say why
                problems[(student, stem)] = f"not a readable notebook ({type(e).__name__}: {e})"
                continue
            dest = config.root / "submitted" / student / stem
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / f"{stem}.ipynb")
            tampering = find_tampering(config.root / "release" / stem / f"{stem}.ipynb", path)
            if tampering.note():
                note.append(tampering.note())
            result = api.autograde(stem, student, force=True, create=True)
            if not result.get("success"):
                note.append("autograde failed: " + " ".join(str(result.get("error")).split())[:300])
            problems[(student, stem)] = "; ".join(note)
        reasons = {key: _zero_reasons(config.root / "autograded" / key[0] / key[1] / f"{key[1]}.ipynb")
                   for key in subs}
        with Gradebook(f"sqlite:///{config.root / 'gradebook.db'}") as gb:
            for (student, stem) in sorted(subs):
                nb_model = gb.find_notebook(stem, stem)
                total = max_total = 0.0
                for cell in sorted(nb_model.grade_cells, key=lambda c: c.id):
                    try:
                        g = gb.find_grade(cell.name, stem, stem, student)
                        score = float(g.score or 0.0)
                    except MissingEntry:
                        score = 0.0
                    why = reasons[(student, stem)].get(cell.name, "") if score < cell.max_score else ""
                    rows.append(CellScore(student, stem, cell.name, score, float(cell.max_score), why))
                    total += score
                    max_total += float(cell.max_score)
                rows.append(CellScore(student, stem, "TOTAL", total, max_total,
                                      problems.get((student, stem), "")))
    return rows


def write_csv(rows: Sequence[CellScore], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "exercise", "score", "max_score", "note"])
        for r in rows:
            w.writerow([r.student, r.notebook, r.exercise, f"{r.score:g}", f"{r.max_score:g}", r.note])


# -- command line -----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ottt_edu.classroom",
                                description="Student edition and autograding (nbgrader).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student edition to release/<edition>/")
    s.add_argument("--edition", choices=[*EDITIONS, "all"], default="all")
    s.add_argument("--out", type=Path, default=ROOT / "release")
    g = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/NN_name.ipynb into a CSV")
    g.add_argument("submissions", type=Path)
    g.add_argument("--edition", choices=list(EDITIONS), default="en")
    g.add_argument("--csv", type=Path, default=Path("scores.csv"))
    g.add_argument("--keep", type=Path, default=None,
                   help="keep the nbgrader course here (autograded notebooks with their outputs "
                        "in KEEP/<edition>/autograded/<student>/NN_name/) instead of a temporary folder")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "student":
            editions = list(EDITIONS) if args.edition == "all" else [args.edition]
            for edition in editions:
                written = build_student_edition(edition, args.out)
                print(f"{edition}: {len(written)} notebooks in {args.out / edition}")
        else:
            rows = grade(args.submissions, args.edition, work=args.keep)
            write_csv(rows, args.csv)
            totals = [r for r in rows if r.exercise == "TOTAL"]
            print(f"graded {len(totals)} notebook(s) of "
                  f"{len({r.student for r in totals})} student(s): {args.csv}")
            for r in totals:
                if r.note:
                    print(f"  {r.student} / {r.notebook}: {r.note}")
    except ClassroomError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
