"""Simulated students for the classroom tests: fill a student-edition notebook with answers.

Each function takes the teacher (source) notebook and the student (release) notebook and
returns a submission; :func:`solution_cells` pairs them by nbgrader ``grade_id``.
"""
from __future__ import annotations

import copy
import re
from typing import Callable, Optional

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError()"


def _ids(nb, kind: str) -> list[str]:
    return [c.metadata.nbgrader["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get(kind)]


def solution_ids(nb) -> list[str]:
    return _ids(nb, "solution")


def grade_ids(nb) -> list[str]:
    return _ids(nb, "grade")


def cell(nb, grade_id: str):
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def regions(source: str) -> list[str]:
    """The text of every solution region of a teacher cell (without the marker lines)."""
    found = re.findall(rf"^[ \t]*{BEGIN}[^\n]*\n(.*?)^[ \t]*{END}", source, flags=re.S | re.M)
    return [r.rstrip("\n") for r in found]


def answered(teacher_source: str) -> str:
    """A teacher cell as a student who wrote exactly the answer would leave it."""
    return "\n".join(line for line in teacher_source.split("\n")
                     if BEGIN not in line and END not in line)


def _replace_stubs(student_source: str, body: Callable[[str], str]) -> str:
    """Replace every stub (``# YOUR CODE HERE`` + ``raise NotImplementedError()``)."""
    lines, out, i = student_source.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "# YOUR CODE HERE" and i + 1 < len(lines) and lines[i + 1].strip() == STUB:
            indent = re.match(r"\s*", lines[i + 1]).group(0)
            out.extend(indent + piece for piece in body(indent).split("\n"))
            i += 2
        else:
            out.append(line)
            i += 1
    return "\n".join(out)


def submission(teacher, student, answers: dict[str, str]):
    """A copy of ``student`` with some solution cells changed.

    ``answers`` maps a solution ``grade_id`` to ``"correct"`` (the teacher's answer), ``"wrong"``
    (every stub becomes ``return None``), ``"raises"`` (every stub raises RuntimeError) or
    ``"blank"`` (left as handed out)."""
    nb = copy.deepcopy(student)
    for grade_id, kind in answers.items():
        c = cell(nb, grade_id)
        if kind == "correct":
            c.source = answered(cell(teacher, grade_id).source)
        elif kind == "wrong":
            c.source = _replace_stubs(c.source, lambda indent: "return None  # a wrong answer")
        elif kind == "raises":
            c.source = _replace_stubs(c.source, lambda indent: 'raise RuntimeError("my bug")')
        elif kind != "blank":
            raise ValueError(kind)
    return nb


def delete_cell(nb, grade_id: str):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def edit_cell(nb, grade_id: str, new_source: str):
    nb = copy.deepcopy(nb)
    cell(nb, grade_id).source = new_source
    return nb


def points(teacher, grade_id: str) -> float:
    return float(cell(teacher, grade_id).metadata.nbgrader["points"])


def test_of(teacher, solution_id: str) -> Optional[str]:
    """The graded cell right after the solution cell ``solution_id`` (its checker)."""
    cells = teacher.cells
    for i, c in enumerate(cells):
        if c.metadata.get("nbgrader", {}).get("grade_id") == solution_id:
            for d in cells[i + 1:]:
                meta = d.metadata.get("nbgrader", {})
                if meta.get("grade"):
                    return meta["grade_id"]
                if meta.get("solution"):
                    return None
    return None


def read(path):
    return nbformat.read(path, as_version=4)
