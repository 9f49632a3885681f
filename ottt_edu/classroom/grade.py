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
import dataclasses
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .editions import (CELL_TIMEOUT_S, EDITIONS, NOTEBOOK_TIMEOUT_S, ClassroomError, CourseConfig,
                       _api, edition_mismatches, has_notebooks, prepare_course, source_notebooks)
from .sandbox import (SandboxLimits, kernel_spec, library_problem, make_cgroups, remove_cgroup,
                      sandbox_problem, slot_uid)
from .scan import review_notes

#: the notebook column of each student's course total row
ALL_NOTEBOOKS = "(all notebooks)"


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
    earlier: list = field(default_factory=list)  # as in an earlier release: not an edit

    def note(self) -> str:
        parts = [f"deleted {g} (put back for grading)" for g in self.deleted]
        parts += [f"edited read-only {g} (restored for grading)" for g in self.edited]
        if self.earlier:
            parts.append(f"made from an earlier release: {', '.join(self.earlier)} as handed out "
                         f"then (graded with today's version)")
        return "; ".join(parts)


def _failure(result: dict) -> str:
    """nbgrader's reason for a failed autograde, in one line: the last ``SomeError: message``
    of its log (not the start of its traceback)."""
    text = f"{result.get('log') or ''}\n{result.get('error') or ''}"
    found = re.findall(r"^\s*((?:[\w.]+\.)?\w*(?:Error|Exception|Exit)\b:?.*)$", text, re.MULTILINE)
    found = [f for f in found if not f.startswith(("NbGraderException", "nbgrader.converters"))]
    return " ".join((found[-1] if found else "see the log with --keep").split())[:300]


def earlier_sources(source_nb: Path, limit: int = 30) -> dict[str, set[str]]:
    """``{grade_id: {source, ...}}`` of the notebook's locked cells in its last ``limit``
    commits (``git``; ``{}`` outside a git checkout): a submission made from an earlier release
    holds one of them, which is no tampering."""
    import json
    import subprocess

    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=source_nb.parent,
                             capture_output=True, encoding="utf-8", errors="replace", timeout=30)
        if top.returncode:
            return {}
        root = Path(top.stdout.strip()).resolve()
        rel = source_nb.resolve().relative_to(root).as_posix()
        revs = subprocess.run(["git", "log", f"-{limit}", "--format=%H", "--", rel],
                              cwd=root, capture_output=True, encoding="utf-8", errors="replace",
                              timeout=30).stdout.split()
        found: dict[str, set[str]] = {}
        for rev in revs:
            shown = subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=root,
                                   capture_output=True, encoding="utf-8", errors="replace", timeout=30)
            if shown.returncode:
                continue
            for c in json.loads(shown.stdout).get("cells", []):
                meta = c.get("metadata", {}).get("nbgrader", {})
                if meta.get("locked") or meta.get("grade"):
                    src = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                    found.setdefault(meta.get("grade_id", ""), set()).add(src.strip())
        return found
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}


def find_tampering(release_nb: Path, submitted_nb: Path,
                   earlier: Optional[dict[str, set[str]]] = None) -> Tampering:
    """Compare a submission's locked cells with the student edition it was made from (and with
    the same cells of earlier releases, ``earlier_sources``)."""
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
            if submitted[grade_id].source.strip() in (earlier or {}).get(grade_id, set()):
                found.earlier.append(grade_id)
            else:
                found.edited.append(grade_id)
    return found


def without_stray_ids(nb: Any, release: Any) -> tuple[Any, list[str]]:
    """``nb`` with the nbgrader metadata taken off every cell whose ``grade_id`` the handed-out
    notebook does not have, and off all but the first cell of a ``grade_id`` that appears twice
    (a cell pasted in JupyterLab keeps its metadata); such a cell is graded as the student's own.
    nbgrader itself fails on either (``KeyError: 'grade_id'``) and the whole notebook scored 0.
    Returns the cleaned notebook and one note per cell changed."""
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells} - {None}
    first: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            first.setdefault(meta["grade_id"], i)
    notes = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(grade_id, str) or grade_id not in ids:
            why = "an id the handed-out notebook does not have"
        elif first[grade_id] != i:
            why = f"the id of cell {first[grade_id] + 1} again (a pasted copy?)"
        else:
            continue
        del cell.metadata["nbgrader"]
        notes.append(f"review: cell {i + 1} carried nbgrader metadata with {why}; graded as the "
                     f"student's own cell")
    return nb, notes


#: what file managers and JupyterLab add to a copy's name: "-Copy1", " (1)", " copy", "_copy2"
_COPY_SUFFIX = re.compile(r"(?:[-_ ]copy\d*| \(\d+\))+$", re.IGNORECASE)


def notebook_for(name: str, known: Sequence[str]) -> tuple[Optional[str], str]:
    """The course notebook a submitted file's stem stands for, and a note when it is not the
    exact name: ``("03_replace_for_grad", "graded 03_replace_for_grad-Copy1.ipynb as ...")``;
    ``(None, why)`` for a file that is no notebook of the course."""
    if name in known:
        return name, ""
    plain = _COPY_SUFFIX.sub("", name).strip().lower()
    for stem in known:
        if stem.lower() == plain:
            return stem, f"graded {name}.ipynb as {stem}.ipynb"
    return None, f"{name}.ipynb is not a notebook of the course (not graded)"


def collect_submissions(folder: Path, known: Sequence[str],
                        notes: Optional[dict[str, list[str]]] = None) -> dict[tuple[str, str], Path]:
    """``{(student, stem): notebook}`` from ``folder/<student>/<stem>.ipynb`` (or nbgrader's
    ``folder/<student>/<stem>/<stem>.ipynb``).

    One odd file costs only its owner, never the class: a copy's name (``-Copy1``, `` (1)``,
    another case) is graded as the notebook it copies, unless the exact name is there too; a file
    that is no notebook of the course, a draft in a subfolder, a second copy are not graded. Each
    such case is a note in ``notes[student]`` (printed to stderr when ``notes`` is None)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ClassroomError(f"{folder} is not a folder; give the folder that holds one "
                             "sub-folder per student, each with that student's NN_name.ipynb files")

    seen: list[str] = []

    def note(student: str, text: str) -> None:
        seen.append(f"{student}: {text}")
        if notes is None:
            print(f"note: {_inert(student)}: {_inert(text)}", file=sys.stderr)
        else:
            notes.setdefault(student, []).append(text)

    found: dict[tuple[str, str], Path] = {}
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        student = student_dir.name
        files = [nb for nb in student_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in nb.parts]
        # exact names first, so that a copy never replaces the notebook it copies
        for nb in sorted(files, key=lambda p: (p.stem not in known, len(p.parts), str(p))):
            inside = nb.relative_to(student_dir).parts
            if not (len(inside) == 1 or (len(inside) == 2 and inside[0] == nb.stem)):
                note(student, f"not graded: {nb.relative_to(folder)} (a submission is "
                              f"{student}/NN_name.ipynb, not a copy in a subfolder)")
                continue
            stem, why = notebook_for(nb.stem, known)
            if stem is None:
                note(student, why)
                continue
            if (student, stem) in found:
                note(student, f"handed in {stem} twice; graded {found[(student, stem)].name}, "
                              f"not {nb.relative_to(student_dir)}")
                continue
            if why:
                note(student, why)
            found[(student, stem)] = nb
    if not found:
        why = f" ({'; '.join(seen[:2])}{'; ...' if len(seen) > 2 else ''})" if seen else ""
        raise ClassroomError(f"no submissions in {folder}: expected {folder}/<student>/"
                             f"NN_name.ipynb{why}")
    return found


def _zero_reasons(autograded: Path, events: Optional[dict] = None) -> dict[str, str]:
    """``{grade_id: why}`` for the graded cells of an autograded notebook that lost points: the
    error they raised (its first line and the checker's ``hint:`` line) or the first line they
    wrote to stderr ("Not attempted yet"). Kernel deaths and timeouts come from ``events``, the
    grader's own record (``preprocessors.EVENTS``): an error a submission raised under those
    names is quoted as what the cell raised."""
    import nbformat

    if not autograded.exists():
        return {}
    events = events or {}
    died_in, timed_out = events.get("died_in"), set(events.get("timed_out", []))
    over_in, limit = events.get("over_time"), events.get("notebook_timeout")
    found, event = {}, ""
    for i, cell in enumerate(nbformat.read(autograded, as_version=4).cells, start=1):
        if i in timed_out:
            said = next((str(o.evalue) for o in cell.get("outputs", [])
                         if o.output_type == "error" and o.ename == "CellTimeoutError"), "timed out")
            event = f"cell {i} {said}"
        if died_in is not None and i == died_in:
            event = f"the kernel died in cell {i}"
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("grade") and cell.cell_type == "code"):
            continue
        if died_in is not None and i >= died_in:
            found[meta["grade_id"]] = (f"the kernel died in cell {died_in}" if i == died_in else
                                       f"not run: the kernel died in cell {died_in}")
            continue
        if over_in is not None and i >= over_in:
            found[meta["grade_id"]] = (f"not run: the notebook ran past its {limit} s limit "
                                       f"(from cell {over_in} on)")
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                lines = [" ".join(line.split()) for line in str(out.evalue).strip().splitlines()] or [""]
                hint = next((line for line in lines[1:] if line.startswith(("hint:", "提示"))), "")
                why = f"{out.ename}: {lines[0]}" + (f" {hint}" if hint else "")
                if i in timed_out and out.ename == "CellTimeoutError":
                    why = f"timed out ({out.evalue})"
                elif out.ename in ("KernelDied", "NotRun", "CellTimeoutError"):
                    why = f"the cell raised {why!r}"  # not the grader's: the submission's own
                found[meta["grade_id"]] = (f"{why} (after {event})" if event else why)[:400]
                break
            if out.output_type == "stream" and out.name == "stderr" and out.text.strip():
                found.setdefault(meta["grade_id"], " ".join(out.text.strip().splitlines()[0].split())[:300])
    return found


def _use_slot(tmp: Path, slot: int) -> None:
    """Put grading slot ``slot``'s kernelspec first on this process's ``JUPYTER_PATH``."""
    rest = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
            if p and not Path(p).name.startswith("jupyter-slot-")]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(tmp / f"jupyter-slot-{slot}"), *rest])


@contextlib.contextmanager
def _sandboxed_kernel(tmp: Path, limits: SandboxLimits, slots: int = 1):
    """The sandbox kernelspecs, one per grading slot (``--jobs``), and connection files in
    ``tmp`` for the block; slot 0's on ``JUPYTER_PATH``. Each slot has its own process cap (as
    root: its own ``pids`` cgroup and uid), so one sandbox cannot take its neighbours'.
    Yields ``(kernel_name, ipc_path)``."""
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "JUPYTER_RUNTIME_DIR")}
    for d in ("runtime", "scratch", "ipc"):
        (tmp / d).mkdir(mode=0o700, exist_ok=True)
    cgroups: list[Path] = []
    for slot in range(slots):
        mine = make_cgroups(limits, f"ottt-sandbox-{os.getpid()}-{slot}")
        cgroups += mine
        name = kernel_spec(tmp / f"jupyter-slot-{slot}", tmp / "scratch", limits, mine,
                           uid=slot_uid(slot))
    _use_slot(tmp, 0)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    try:
        yield name, str(tmp / "ipc" / "kernel")
    finally:
        for cgroup in cgroups:
            remove_cgroup(cgroup)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def grade(submissions: Path, edition: str = "en", work: Optional[Path] = None, *,
          notebooks: Optional[Path] = None,
          sandbox: bool = True, limits: SandboxLimits = SandboxLimits(),
          cell_timeout_s: int = CELL_TIMEOUT_S, notebook_timeout_s: int = NOTEBOOK_TIMEOUT_S,
          jobs: int = 1) -> list[CellScore]:
    """Autograde every submission in ``submissions``; one :class:`CellScore` per graded cell and
    one ``TOTAL`` row per notebook (its note lists tampering and grading errors).

    ``sandbox`` (the default): every notebook's kernel runs in its own bubblewrap sandbox
    (``ottt_edu.classroom.sandbox``), which sees only that submission; refused with the fix
    where none can be made. ``sandbox=False`` runs the students' code with your rights: only for
    submissions you trust; every row's note then says so. ``jobs``: grade that many
    submissions at once, each in its own sandbox, in worker processes (each worker's sandbox has
    its own process cap: as root its own cgroup and uid).
    Every submission is copied (and hashed) before any student code runs; the copies are graded.
    ``notebooks``: the teacher edition's folder (``editions.edition_folder``; default: the
    repository's ``notebooks/``)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ClassroomError(f"--jobs must be a whole number >= 1, got {jobs!r}")

    folder = notebooks  # the teacher edition's folder; from here on, its notebooks by stem
    notebooks = {p.stem: p for p in source_notebooks(edition, folder)}
    editions_here = [ed for ed in EDITIONS if has_notebooks(ed, folder)]
    for ed in editions_here:
        mismatched = edition_mismatches(ed, folder)
        if mismatched:
            raise ClassroomError(f"the {ed} notebooks grade differently from the English ones: "
                                 f"{mismatched[0]}")
    student_notes: dict[str, list[str]] = {}
    found = collect_submissions(submissions, list(notebooks), student_notes)
    # no sandbox, or one whose kernel cannot import this ottt_edu (every student would score 0)
    problem = sandbox and (sandbox_problem() or library_problem())
    if problem:
        raise ClassroomError(problem)
    snapshot = Path(tempfile.mkdtemp(prefix="ottt-snapshot-"))
    try:
        subs, digests = _snapshot(found, snapshot)
        rows = _grade_snapshot(subs, student_notes, notebooks, sandbox, limits,
                               (cell_timeout_s, notebook_timeout_s), jobs, edition, work, folder)
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)
    changed = {key for key, path in found.items() if _sha256(path) != digests[key]}
    for r in rows:
        if (r.student, r.notebook) in changed and r.exercise == "TOTAL":
            r.note = "; ".join(filter(None, [r.note, "the file changed while the class was graded "
                                                     "(the copy taken at the start was graded)"]))
    return rows


def _sha256(path: Path) -> str:
    import hashlib
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _snapshot(found: dict, folder: Path) -> tuple[dict, dict]:
    """Copy every submission before any student code runs; grade the copies. Returns the
    copies' paths and the originals' hashes (checked again at the end)."""
    copies, digests = {}, {}
    for (student, stem), path in found.items():
        data = Path(path).read_bytes()
        target = folder / f"{len(copies):05d}" / f"{stem}.ipynb"
        target.parent.mkdir()
        target.write_bytes(data)
        copies[(student, stem)] = target
        import hashlib
        digests[(student, stem)] = hashlib.sha256(data).hexdigest()
    return copies, digests


def _grade_snapshot(subs: dict, student_notes: dict, notebooks: dict, sandbox: bool,
                    limits: SandboxLimits, timeouts: tuple[int, int], jobs: int, edition: str,
                    work: Optional[Path], folder: Optional[Path] = None) -> list[CellScore]:
    """``grade`` on the snapshot: see there."""
    import nbformat
    students = sorted({s for s, _ in subs} | set(student_notes))
    handed_in = sorted({stem for _, stem in subs})    # what the class handed in: due from everyone
    cells = {stem: graded_cells(notebooks[stem]) for stem in handed_in}  # same in both editions
    problems: dict[tuple[str, str], list[str]] = {
        key: ([] if sandbox else ["graded without a sandbox (--no-sandbox)"]) for key in subs}
    for student, texts in student_notes.items():
        for text in texts:
            stem = next((k for k in handed_in if f"as {k}.ipynb" in text), None)
            if stem and (student, stem) in problems:
                problems[(student, stem)].append(text)
    by_edition: dict[str, dict[tuple[str, str], Path]] = {}
    for key, path in sorted(subs.items()):
        try:
            submitted = nbformat.read(path, as_version=4)
            nbformat.validate(submitted)
            mine = edition_of(submitted)
        except Exception as e:  # not a notebook at all: zero, and say why (one line)
            problems[key].append(f"not a readable notebook ({type(e).__name__}: "
                                 f"{' '.join(str(e).split())[:200]})")
            continue
        if not cells[key[1]]:
            continue
        mine = mine if has_notebooks(mine, folder) else edition
        if mine != edition:
            problems[key].append(f"graded against the {mine} edition (it was made from that one)")
        by_edition.setdefault(mine, {})[key] = path
    scores: dict[tuple[str, str], dict[str, tuple[float, str]]] = {}
    with tempfile.TemporaryDirectory(prefix="ottt-grade-") as tmp, contextlib.ExitStack() as stack:
        kernel, ipc = (stack.enter_context(_sandboxed_kernel(Path(tmp), limits, jobs)) if sandbox
                       else ("python3", None))
        for ed, batch in sorted(by_edition.items()):
            config = CourseConfig(root=Path(work or tmp) / ed, edition=ed,
                                  cell_timeout_s=timeouts[0], notebook_timeout_s=timeouts[1],
                                  kernel_name=kernel, ipc_path=ipc, notebooks=folder)
            scores.update(_grade_batch(config, batch, problems, jobs))
    rows: list[CellScore] = []
    for student in students:
        course = course_max = 0.0
        for stem in handed_in:
            total = max_total = 0.0
            graded = scores.get((student, stem))
            for grade_id, points in cells[stem]:
                score, why = (0.0, "not submitted") if (student, stem) not in subs else \
                    (graded or {}).get(grade_id, (0.0, "not graded"))
                rows.append(CellScore(student, stem, grade_id, score, points, why))
                total, max_total = total + score, max_total + points
            if (student, stem) not in subs:
                note = "not submitted"
            elif not cells[stem]:
                note = "no graded cells (not run)"
            else:
                note = "; ".join(problems[(student, stem)])
            rows.append(CellScore(student, stem, "TOTAL", total, max_total, note))
            course, course_max = course + total, course_max + max_total
        others = [t for t in student_notes.get(student, []) if " as " not in t]
        rows.append(CellScore(student, ALL_NOTEBOOKS, "COURSE TOTAL", course, course_max,
                              "; ".join(others)))
    return rows


def edition_of(nb: Any) -> str:
    """The edition a submission was made from: ``"zh-CN"`` when its first code cell switches the
    checkers to Chinese (as every Chinese twin's does), else ``"en"``."""
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    source = "" if first is None else first.source
    return "zh-CN" if 'set_language("zh-CN")' in source else "en"


class _Course:
    """One throwaway nbgrader course of one edition, which grades one submission at a time."""

    def __init__(self, config: CourseConfig, stems: Sequence[str]) -> None:
        self.config = config
        self.sources = source_by_stem(config.edition, config.notebooks)
        prepare_course(config, [self.sources[s] for s in sorted(stems)])
        self.api = _api(config)
        self.earlier: dict[str, dict[str, set[str]]] = {}

    def grade_one(self, student: str, stem: str, path: Path) -> tuple[list[str], dict]:
        """``(notes, {grade_id: (score, why)})``; scores are read from the gradebook here. A
        submission nbgrader or the checks choke on (malformed metadata, say) scores 0 with a
        note; the class goes on."""
        try:
            return self._grade_one(student, stem, path)
        except Exception as e:  # noqa: BLE001 - one bad file costs only its owner
            return [f"could not grade this file ({type(e).__name__}: {' '.join(str(e).split())[:200]})"], {}

    def _grade_one(self, student: str, stem: str, path: Path) -> tuple[list[str], dict]:
        import nbformat
        from nbgrader.api import Gradebook, MissingEntry

        root, notes = self.config.root, []
        dest = root / "submitted" / student / stem
        dest.mkdir(parents=True, exist_ok=True)
        release_path = root / "release" / stem / f"{stem}.ipynb"
        release = nbformat.read(release_path, as_version=4)
        submitted, stray = without_stray_ids(nbformat.read(path, as_version=4), release)
        notes.extend(stray)
        path = dest / f"{stem}.ipynb"
        nbformat.write(submitted, path)
        if stem not in self.earlier:
            self.earlier[stem] = earlier_sources(self.sources[stem])
        tampering = find_tampering(release_path, path, self.earlier[stem])
        if tampering.note():
            notes.append(tampering.note())
        notes.extend(review_notes(submitted, release))
        result = self.api.autograde(stem, student, force=True, create=True)
        if not result.get("success"):
            notes.append("autograde failed: " + _failure(result))
        from .preprocessors import EVENTS
        events = EVENTS.pop((student, stem), None) or {}
        if events.get("over_time") is not None:
            notes.append(f"the notebook ran past its {events.get('notebook_timeout')} s limit: "
                         f"cells {events['over_time']} and later were not run")
        for cell in sorted(set(events.get("idles", []))):
            notes.append(f"review: code run in cell {cell} said the cell had finished before it "
                         f"had (a status message of its own); ignored, its output was graded to "
                         f"the end")
        for cell in sorted(set(events.get("cleared", []))):
            notes.append(f"review: code run in cell {cell} (a test cell) asked to clear its "
                         f"output; refused, its output was graded as sent")
        reasons = _zero_reasons(root / "autograded" / student / stem / f"{stem}.ipynb", events)
        scores = {}
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for grade_id, points in graded_cells(self.sources[stem]):
                try:
                    score = float(gb.find_grade(grade_id, stem, stem, student).score or 0.0)
                except MissingEntry:
                    score = 0.0
                scores[grade_id] = (score, reasons.get(grade_id, "") if score < points else "")
        return notes, scores


def _own_ipc_path(base: str, name: str) -> str:
    """``<base's folder>/<name>/kernel``: a socket folder of its own (created here, mode 700)."""
    folder = Path(base).parent / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder / "kernel")


_WORKER: dict[str, _Course] = {}  # the course of a --jobs worker process (one per process)


def _start_worker(config: CourseConfig, stems: Sequence[str], slots: Any = None) -> None:
    # its own course, its own socket folder (one sandbox must not see another's sockets) and
    # its own grading slot: kernelspec, process cap, uid
    if slots is not None and config.ipc_path is not None:
        _use_slot(Path(config.ipc_path).parents[1], slots.get())
    root = config.root / f"worker-{os.getpid()}"
    ipc = None if config.ipc_path is None else _own_ipc_path(config.ipc_path, str(os.getpid()))
    _WORKER["course"] = _Course(dataclasses.replace(config, root=root, ipc_path=ipc), stems)


def _worker_grade(student: str, stem: str, path: Path) -> tuple[tuple[str, str], list[str], dict]:
    return (student, stem), *_WORKER["course"].grade_one(student, stem, path)


def _grade_batch(config: CourseConfig, batch: dict, problems: dict, jobs: int = 1) -> dict:
    """Autograde ``batch`` (``{(student, stem): path}``) in nbgrader courses of
    ``config.edition``: one in this process, or one per worker process with ``jobs > 1`` (each
    submission still in its own sandbox). ``{(student, stem): {grade_id: (score, why)}}``."""
    from tqdm.auto import tqdm

    stems = sorted({stem for _, stem in batch})
    found: dict = {}
    bar = tqdm(total=len(batch), desc=f"grading ({config.edition})", unit="notebook",
               file=sys.stderr, disable=not batch)
    try:
        if jobs <= 1:
            if config.ipc_path is not None:
                config = dataclasses.replace(config, ipc_path=_own_ipc_path(config.ipc_path, "main"))
            course = _Course(config, stems)
            for (student, stem), path in batch.items():
                bar.set_postfix_str(f"{_inert(student)} {stem[:2]}", refresh=False)
                notes, found[(student, stem)] = course.grade_one(student, stem, path)
                problems[(student, stem)].extend(notes)
                bar.update(1)
        else:
            import concurrent.futures
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            slots = context.Queue()
            for slot in range(jobs):
                slots.put(slot)
            with concurrent.futures.ProcessPoolExecutor(
                    max_workers=jobs, mp_context=context,
                    initializer=_start_worker, initargs=(config, stems, slots)) as pool:
                futures = [pool.submit(_worker_grade, student, stem, path)
                           for (student, stem), path in batch.items()]
                keys = {f: key for f, key in zip(futures, batch)}
                for future in concurrent.futures.as_completed(futures):
                    try:
                        key, notes, found[keys[future]] = future.result()
                    except Exception as e:  # noqa: BLE001 - a worker died: that file only
                        key, notes = keys[future], [f"could not grade this file ({type(e).__name__})"]
                    problems[key].extend(notes)
                    bar.update(1)
    finally:
        bar.close()
    return found


def source_by_stem(edition: str, notebooks: Optional[Path] = None) -> dict[str, Path]:
    return {p.stem: p for p in source_notebooks(edition, notebooks)}


def graded_cells(notebook: Path) -> list[tuple[str, float]]:
    """``(grade_id, points)`` of a source notebook's autograded cells, in notebook order."""
    import nbformat

    found = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            found.append((meta["grade_id"], float(meta.get("points", 0))))
    return found


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
    """A CSV cell no spreadsheet runs as a formula and no terminal obeys: on one line (whitespace
    runs, newlines and tabs become one space); control and format characters (``ESC``, ``BEL``,
    the bidi overrides U+202E and U+2066-9, zero-width ones) become ``\\x1b``-style escapes, so
    ``cat scores.csv`` cannot hide later rows nor a spreadsheet show text reversed; text that is
    no valid Unicode (a lone surrogate from an odd file name) is escaped too, so one student cannot
    stop the class's CSV from being written; a leading ``=``, ``+``, ``-``, ``@`` gets a ``'``
    before it (OWASP's advice on CSV injection)."""
    import unicodedata

    text = " ".join(str(text).split())  # one line: no leading newline hides a formula
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(c if unicodedata.category(c) not in ("Cc", "Cf", "Cs") else ascii(c)[1:-1]
                   for c in text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.ottt-tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise ClassroomError(f"could not write {path} ({e.strerror or e}); it is unchanged.") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(rows: Sequence[CellScore], path: Path) -> str:
    """One row per graded cell, written atomically (a temporary file beside it, fsync, replace):
    a kill or a full disk leaves the previous CSV or the new one, never a part. Beside it,
    ``<name>.sha256`` (``sha256sum -c`` checks it) holds the CSV's hash, computed here on the
    trusted side; returns that hash."""
    import hashlib
    import io

    path = Path(path)
    check_csv_path(path)
    buffer = io.StringIO(newline="")
    w = csv.writer(buffer)
    w.writerow(["student", "notebook", "exercise", "score", "max_score", "note"])
    for r in rows:
        w.writerow([_inert(r.student), _inert(r.notebook), _inert(r.exercise),
                    f"{r.score:g}", f"{r.max_score:g}", _inert(r.note)])
    text = buffer.getvalue()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    _write_atomic(path, text)
    _write_atomic(path.with_name(path.name + ".sha256"), f"{digest}  {path.name}\n")
    return digest


# -- command line -----------------------------------------------------------------------------
