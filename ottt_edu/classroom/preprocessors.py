"""Two nbgrader preprocessors that make autograding fair to the student.

- :class:`CourseExecute` (nbgrader's ``Execute``): when the kernel dies in a cell
  (``os._exit``, a crash, out of memory), the cells before it keep their outputs and so their
  points; that cell gets an error output "the kernel died in cell N" and every later code cell
  "not run: the kernel died in cell N" (nbgrader would otherwise fail the whole notebook: 0 points
  where some were earned). A cell that runs past the time limit says "timed out after N s".
- :class:`WarningsAreNotErrors`: nbgrader gives 0 points to a graded cell that wrote *anything*
  to stderr, so a correct answer that emits a ``DeprecationWarning`` lost its points. Python
  warnings in a graded cell's stderr are moved to its stdout; every other stderr text (the
  checkers' "Not attempted yet") still fails the cell.

Reference: nbgrader 0.9 ``nbgrader.preprocessors.Execute`` and ``utils.determine_grade``;
nbclient's ``DeadKernelError``.
"""
from __future__ import annotations

import re
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

__all__ = ["CourseExecute", "WarningsAreNotErrors", "KERNEL_DIED", "NOT_RUN"]

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
#: ``path:line: SomeWarning: message`` and the source line Python prints under it
_WARNING = re.compile(r"^[^\n]*:\d+: \w*Warning: [^\n]*\n?(?:[ \t]+[^\n]*\n?)?", re.MULTILINE)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class CourseExecute(Execute):
    """nbgrader's ``Execute``; a dead kernel costs only the cells from the one it died in."""

    def preprocess(self, nb: Any, resources: Any = None, km: Any = None) -> Any:
        self._died_in = None
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:  # raised again while shutting the dead kernel down
            if self._died_in is None:
                raise
            return self.nb, self.resources

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> Any:
        if self._died_in is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error(NOT_RUN, f"not run: the kernel died in cell {self._died_in}")]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = index + 1
            cell.outputs.append(_error(
                KERNEL_DIED, f"the kernel died in cell {index + 1} (os._exit, a crash or out of "
                             f"memory); the cells before it were graded"))
            return cell, self.resources


class WarningsAreNotErrors(NbGraderPreprocessor):
    """Python warnings in a graded cell's stderr go to its stdout (see the module docstring)."""

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> Any:
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            return cell, resources
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                warnings = "".join(m.group(0) for m in _WARNING.finditer(out.text))
                rest = _WARNING.sub("", out.text)
                if warnings:
                    outputs.append(NotebookNode(output_type="stream", name="stdout", text=warnings))
                if rest.strip():
                    outputs.append(NotebookNode(output_type="stream", name="stderr", text=rest))
            else:
                outputs.append(out)
        cell.outputs = outputs
        return cell, resources
