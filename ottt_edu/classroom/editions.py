"""The classroom kit's editions: the nbgrader course the notebooks are, and the student edition.

The notebooks in ``notebooks/`` (and their Chinese twins in ``notebooks/zh-CN/``) are
nbgrader *source* notebooks: each exercise's answer sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in a solution cell, each checker call is a graded, read-only test cell with
points (some with ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``), and each notebook's
setup cell is read-only. :func:`build_student_edition` runs nbgrader's ``generate_assignment``
on every notebook: answers become ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, hidden
tests and outputs go, and the results are written flat to ``release/<edition>/NN_name.ipynb``.

The notebooks are read from the repository's ``notebooks/`` folder; a package installed into
site-packages has none beside it, so every function here (and ``--notebooks DIR`` on the command
line) takes the folder as ``notebooks``: ``DIR/NN_name.ipynb`` in English, ``DIR/zh-CN/`` in Chinese.

学生版: 用 nbgrader 把答案替换为 ``raise NotImplementedError()``, 删除隐藏测试与输出。

Reference: nbgrader 0.9 (https://nbgrader.readthedocs.io), ``generate_assignment``.
"""
from __future__ import annotations

import os
import sys
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

ROOT = Path(__file__).resolve().parents[2]
#: the repository's notebooks (the default of every ``notebooks`` argument); absent when the
#: package is installed into site-packages
NOTEBOOKS = ROOT / "notebooks"
EDITIONS = {"en": NOTEBOOKS, "zh-CN": NOTEBOOKS / "zh-CN"}
#: Longest a single cell may run while grading. The slowest cell of the course took 37.6 s
#: under nbval on the course machine (2 cores; notebook 10's SLTT/FPTT sweep); 300 s is 8x that,
#: room for a loaded machine, and stops a submission that loops forever.
CELL_TIMEOUT_S = 300
#: Longest one notebook may run while grading, all its cells together (a submission of many
#: cells that each sleep just under the cell limit would hold a grading slot for hours). The
#: slowest notebook with points, 11, runs all its cells in 24.1 s with two CPU burners beside it
#: (docs/teaching.md §2.1, benchmarks/classroom_sizing.py); 900 s is 37x that and three cell limits.
NOTEBOOK_TIMEOUT_S = 900


class ClassroomError(Exception):
    """Bad input to a classroom command: the message says what and how to fix it."""


@dataclass(frozen=True)
class CourseConfig:
    """Where the throwaway nbgrader course lives and how it runs the notebooks."""

    root: Path
    edition: str = "en"
    cell_timeout_s: int = CELL_TIMEOUT_S
    #: all cells of one notebook together (``preprocessors.NOTEBOOK_TIMEOUT_S``)
    notebook_timeout_s: int = NOTEBOOK_TIMEOUT_S
    #: the kernel that runs the notebooks: this interpreter's own, or grading's sandboxed one
    kernel_name: str = "python3"
    #: ZeroMQ over Unix sockets with this path prefix (the sandbox has no network), or TCP
    ipc_path: Optional[str] = None
    #: the teacher edition's notebooks (``edition_folder``); None: the repository's
    notebooks: Optional[Path] = None

    def nbgrader_config(self):  # -> traitlets.config.Config
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                            LimitOutput, SaveAutoGrades)
        from traitlets.config import Config

        from .preprocessors import CourseExecute, WarningsAreNotErrors

        c = Config()
        c.CourseDirectory.root = str(self.root)
        c.CourseDirectory.course_id = f"ottt_edu-{self.edition}"
        # Run in this interpreter's own kernel, wherever the course kernel is registered or not.
        c.Execute.kernel_name = self.kernel_name
        if self.ipc_path is not None:
            c.KernelManager.transport = "ipc"
            c.KernelManager.ip = self.ipc_path
        c.Execute.timeout = self.cell_timeout_s
        c.CourseExecute.notebook_timeout = self.notebook_timeout_s
        c.Execute.allow_errors = True
        c.Execute.error_on_timeout = {
            "ename": "CellTimeoutError", "evalue": f"timed out after {self.cell_timeout_s} s",
            "traceback": [f"CellTimeoutError: the cell ran for more than {self.cell_timeout_s} s"]}
        # nbgrader's own steps, with a dead kernel and Python warnings graded fairly
        c.Autograde.autograde_preprocessors = [
            CourseExecute, WarningsAreNotErrors, IgnorePattern, ClearMetadataPreprocessor,
            LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
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


def edition_folder(edition: str, notebooks: Optional[Path] = None) -> Path:
    """The folder of ``edition``'s notebooks: ``notebooks`` itself for "en", ``notebooks/zh-CN``
    for "zh-CN"; ``notebooks=None`` is the repository's ``notebooks/``."""
    if edition not in EDITIONS:
        raise ClassroomError(f"unknown edition {edition!r}; choose one of {', '.join(EDITIONS)}")
    if notebooks is None:
        return EDITIONS[edition]
    return Path(notebooks) if edition == "en" else Path(notebooks) / edition


def has_notebooks(edition: str, notebooks: Optional[Path] = None) -> bool:
    """Whether ``edition_folder(edition, notebooks)`` holds any course notebook."""
    return any(edition_folder(edition, notebooks).glob("[0-9][0-9]_*.ipynb"))


def source_notebooks(edition: str, notebooks: Optional[Path] = None) -> list[Path]:
    """The teacher edition's notebooks of ``edition`` ("en" or "zh-CN"), in course order, from
    ``notebooks`` (see :func:`edition_folder`; default: the repository's)."""
    folder = edition_folder(edition, notebooks)
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if found:
        return found
    layout = "DIR holds the English NN_name.ipynb, DIR/zh-CN the Chinese ones"
    if notebooks is None and not NOTEBOOKS.is_dir():
        raise ClassroomError(f"no notebooks folder at {NOTEBOOKS} (ottt_edu is installed outside "
                             f"its repository): pass --notebooks DIR, the course's notebooks "
                             f"({layout})")
    if notebooks is not None and not Path(notebooks).is_dir():
        what = "is not a folder" if Path(notebooks).exists() else "does not exist"
        raise ClassroomError(f"--notebooks {notebooks} {what} ({layout})")
    where = "pass --notebooks DIR" if notebooks is None else "--notebooks DIR"
    alone = "; --edition en builds or grades the English edition alone" if edition != "en" else ""
    raise ClassroomError(f"no notebooks (NN_name.ipynb) in {folder} ({where}: {layout}{alone})")


#: what decides grading: the nbgrader metadata the Chinese twins must share with the English
GRADING_KEYS = ("grade_id", "grade", "solution", "locked", "points", "task")


def _grading_metadata(path: Path) -> list[dict]:
    import json

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [{k: c["metadata"]["nbgrader"].get(k) for k in GRADING_KEYS}
            for c in cells if c.get("metadata", {}).get("nbgrader")]


def edition_mismatches(edition: str = "zh-CN", notebooks: Optional[Path] = None) -> list[str]:
    """Where a twin of ``edition`` grades differently from its English notebook (one points
    source: the English cells' nbgrader metadata), one line each; ``[]`` when they agree."""
    if edition == "en":
        return []
    problems = []
    for twin in source_notebooks(edition, notebooks):
        english = edition_folder("en", notebooks) / twin.name
        if not english.exists():
            problems.append(f"{twin}: no English notebook {english.name}")
            continue
        mine, theirs = _grading_metadata(twin), _grading_metadata(english)
        if mine == theirs:
            continue
        by_id = {m["grade_id"]: m for m in mine}
        diff = next(((t["grade_id"], k, by_id.get(t["grade_id"], {}).get(k), t[k])
                     for t in theirs for k in GRADING_KEYS
                     if by_id.get(t["grade_id"], {}).get(k) != t[k]), None)
        what = (f"cell {diff[0]}: {diff[1]} is {diff[2]!r}, the English notebook's {diff[3]!r}"
                if diff else "its graded cells are in another order")
        problems.append(f"{twin.relative_to(ROOT) if twin.is_relative_to(ROOT) else twin}: {what}; "
                        f"run python tasks.py zh {twin.name[:2]} (it copies the code cells and their "
                        f"nbgrader metadata from the English notebook)")
    return problems


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
                          work: Optional[Path] = None, notebooks: Optional[Path] = None) -> list[Path]:
    """Write the student edition of ``edition`` to ``out/<edition>/NN_name.ipynb``; return the paths.
    ``notebooks``: the teacher edition's folder (:func:`edition_folder`; default: the repository's).

    The edition is built in a temporary folder beside ``out/<edition>`` and swapped in only when
    complete, so a kill or a full disk leaves the previous edition whole. A folder that holds
    anything but notebooks of this course (a teacher's own files) is refused, never deleted.
    """
    sources = source_notebooks(edition, notebooks)
    mismatched = edition_mismatches(edition, notebooks)
    if mismatched:
        raise ClassroomError(f"the {edition} edition would grade differently from the English one: "
                             f"{mismatched[0]}" + (f" (and {len(mismatched) - 1} more)"
                                                   if len(mismatched) > 1 else ""))
    target = Path(out) / edition
    expected = {f"{p.stem}.ipynb" for p in sources}
    building = target.with_name(f".{edition}.ottt-tmp")
    old = target.with_name(f".{edition}.ottt-old")
    if old.is_dir() and not target.exists():  # killed between the two renames of the swap
        os.replace(old, target)
        print(f"note: restored {target} (an earlier build was interrupted while swapping it in)",
              file=sys.stderr)
    if target.exists():
        if not target.is_dir():
            raise ClassroomError(f"{target} exists and is not a folder; choose another --out.")
        foreign = sorted(p.name for p in target.iterdir() if p.name not in expected)
        if foreign:
            raise ClassroomError(
                f"{target} holds files that are not this course's notebooks "
                f"({', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); the student "
                f"edition replaces that folder whole, so move them away or choose another --out.")
    for leftover in (building, old):  # of an interrupted earlier build
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory(prefix="ottt-course-") as tmp:
            config = CourseConfig(root=Path(work or tmp) / edition, edition=edition)
            ids = prepare_course(config, sources)
            building.mkdir(parents=True)
            for stem in ids:
                shutil.copyfile(config.root / "release" / stem / f"{stem}.ipynb",
                                building / f"{stem}.ipynb")
        if target.exists():
            os.replace(target, old)
        os.replace(building, target)
    except OSError as e:
        raise ClassroomError(f"could not write the student edition to {target} ({e.strerror or e}); "
                             f"the previous edition there is unchanged.") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return [target / f"{stem}.ipynb" for stem in ids]


# -- grading ----------------------------------------------------------------------------------
