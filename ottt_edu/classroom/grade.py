"""The classroom kit's grading: autograde a folder of submissions into one CSV row per graded cell.

:func:`grade` copies a folder of submissions (``SUBMISSIONS/<student>/NN_name.ipynb``) into a
throwaway nbgrader course, runs ``autograde`` (locked cells and hidden tests are restored from
the source, deleted test cells are added back) and returns one row per graded cell, with a
total per notebook and a note on any read-only or test cell the student changed or deleted;
:func:`write_csv` writes them.

自动评分: 每个评分单元格一行 CSV, 每个笔记本一行总分, 并注明学生改动或删除的只读单元格。

Reference: nbgrader 0.9 (https://nbgrader.readthedocs.io), ``autograde``.
"""
from __future__ import annotations

import contextlib
import csv
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from .editions import ClassroomError, CourseConfig, _api, prepare_course, source_notebooks
from .sandbox import SandboxLimits, kernel_spec, make_pids_cgroup, remove_cgroup, sandbox_problem
from .scan import review_notes

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
    ``folder/<student>/<stem>/<stem>.ipynb``). Notebooks anywhere else under a student's folder
    (an old draft in ``drafts/``, a copy in a backup folder) are not graded; a note names them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassroomError(f"{folder} is not a folder; give the folder that holds one "
                             "sub-folder per student, each with that student's NN_name.ipynb files")
    found: dict[tuple[str, str], Path] = {}
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for nb in sorted(student_dir.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in nb.parts:
                continue
            inside = nb.relative_to(student_dir).parts
            if not (len(inside) == 1 or (len(inside) == 2 and inside[0] == nb.stem)):
                print(f"note: not grading {nb}: a submission is {student_dir}/{nb.name} (or "
                      f"{student_dir}/{nb.stem}/{nb.name}), not a copy in a subfolder",
                      file=sys.stderr)
                continue
            if (student_dir.name, nb.stem) in found:
                print(f"note: {student_dir.name} handed in {nb.stem} twice; grading "
                      f"{found[(student_dir.name, nb.stem)]}, not {nb}", file=sys.stderr)
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


@contextlib.contextmanager
def _sandboxed_kernel(tmp: Path, limits: SandboxLimits):
    """The sandbox kernelspec on ``JUPYTER_PATH`` and connection files in ``tmp`` for the block;
    yields ``(kernel_name, ipc_path)``."""
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR")}
    for d in ("jupyter", "runtime", "scratch", "ipc"):
        (tmp / d).mkdir(mode=0o700, exist_ok=True)
    cgroup = make_pids_cgroup(limits.processes)
    name = kernel_spec(tmp / "jupyter", tmp / "scratch", limits, cgroup)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(tmp / "jupyter"), *([saved["JUPYTER_PATH"]] if saved["JUPYTER_PATH"] else [])])
    os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    try:
        yield name, str(tmp / "ipc" / "kernel")
    finally:
        remove_cgroup(cgroup)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def grade(submissions: Path, edition: str = "en", work: Optional[Path] = None, *,
          sandbox: bool = True, limits: SandboxLimits = SandboxLimits()) -> list[CellScore]:
    """Autograde every submission in ``submissions``; one :class:`CellScore` per graded cell and
    one ``TOTAL`` row per notebook (its note lists tampering and grading errors).

    ``sandbox`` (the default): every notebook's kernel runs in its own bubblewrap sandbox
    (``ottt_edu.classroom.sandbox``), which sees only that submission; refused with the fix
    where none can be made. ``sandbox=False`` runs the students' code with your rights: only for
    submissions you trust; every row's note then says so."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    notebooks = {p.stem: p for p in source_notebooks(edition)}
    subs = collect_submissions(submissions, list(notebooks))
    if sandbox and sandbox_problem():
        raise ClassroomError(sandbox_problem())
    rows: list[CellScore] = []
    with tempfile.TemporaryDirectory(prefix="ottt-grade-") as tmp, contextlib.ExitStack() as stack:
        kernel, ipc = (stack.enter_context(_sandboxed_kernel(Path(tmp), limits)) if sandbox
                       else ("python3", None))
        config = CourseConfig(root=Path(work or tmp) / edition, edition=edition,
                              kernel_name=kernel, ipc_path=ipc)
        needed = sorted({stem for _, stem in subs})
        prepare_course(config, [notebooks[s] for s in needed])
        api = _api(config)
        problems: dict[tuple[str, str], str] = {}
        for (student, stem), path in sorted(subs.items()):
            note = [] if sandbox else ["graded without a sandbox (--no-sandbox)"]
            try:
                submitted = nbformat.read(path, as_version=4)
            except Exception as e:  # not a notebook at all: zero, and say why
                problems[(student, stem)] = f"not a readable notebook ({type(e).__name__}: {e})"
                continue
            dest = config.root / "submitted" / student / stem
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / f"{stem}.ipynb")
            tampering = find_tampering(config.root / "release" / stem / f"{stem}.ipynb", path)
            if tampering.note():
                note.append(tampering.note())
            note.extend(review_notes(submitted))
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


def check_csv_path(path: Path) -> None:
    """Refuse, before any grading, a ``--csv`` that could not be written (a folder, a device,
    a missing or read-only folder): otherwise every score of the class is lost at the end."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ClassroomError(f"--csv {path} is not a regular file (a folder or a device); name a "
                             f"file, e.g. --csv scores.csv.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ClassroomError(f"--csv {path}: the folder {folder} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise ClassroomError(f"--csv {path}: the folder {folder} is not writable; choose another.")


def _inert(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula: a leading ``=``, ``+``, ``-``, ``@`` (or a
    tab or carriage return) gets a ``'`` before it (OWASP's advice on CSV injection)."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(rows: Sequence[CellScore], path: Path) -> None:
    """One row per graded cell, written atomically (a temporary file beside it, fsync, replace):
    a kill or a full disk leaves the previous CSV or the new one, never a part."""
    path = Path(path)
    check_csv_path(path)
    tmp = path.with_name(f".{path.name}.ottt-tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["student", "notebook", "exercise", "score", "max_score", "note"])
            for r in rows:
                w.writerow([_inert(r.student), _inert(r.notebook), _inert(r.exercise),
                            f"{r.score:g}", f"{r.max_score:g}", _inert(r.note)])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise ClassroomError(f"could not write {path} ({e.strerror or e}); it is unchanged.") from None
    finally:
        tmp.unlink(missing_ok=True)


# -- command line -----------------------------------------------------------------------------
