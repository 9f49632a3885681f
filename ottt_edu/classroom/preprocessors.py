"""Two nbgrader preprocessors that make autograding fair to the student.

- :class:`CourseExecute` (nbgrader's ``Execute``): when the kernel dies in a cell
  (``os._exit``, a crash, out of memory), the cells before it keep their outputs and so their
  points; that cell gets an error output "the kernel died in cell N" and every later code cell
  "not run: the kernel died in cell N" (nbgrader would otherwise fail the whole notebook: 0 points
  where some were earned). A cell that runs past the time limit says "timed out after N s". A
  notebook has a time limit of its own (``notebook_timeout``): each cell may run only what is
  left of it, and once it is spent every later code cell says "not run: the notebook ran past
  its N s limit" (forty cells that each sleep just under the cell limit would otherwise hold a
  grading slot for hours).
- :class:`WarningsAreNotErrors`: nbgrader gives 0 points to a graded cell that wrote *anything*
  to stderr, so a correct answer that emits a ``DeprecationWarning`` lost its points. Python
  warnings in a graded cell's stderr are moved to its stdout; every other stderr text (the
  checkers' "Not attempted yet") still fails the cell. A graded cell that failed (an error, or
  text on stderr) loses any ``execute_result`` it also sent: nbgrader reads the first
  ``execute_result`` as the grade before it looks at what comes after, so a submission that sends
  one before the checker's error or its "Not attempted yet" would score full marks.

``CourseExecute`` also keeps at most 2 MiB of output per cell (every message counted whole),
refuses to let a graded test cell clear its outputs, ignores widget messages, and records kernel
deaths, timeouts and clearing attempts in :data:`EVENTS`, on the grader's side, for the CSV's
notes.

Reference: nbgrader 0.9 ``nbgrader.preprocessors.Execute`` and ``utils.determine_grade``;
nbclient's ``DeadKernelError``.
"""
from __future__ import annotations

import re
import time
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Integer

__all__ = ["CourseExecute", "WarningsAreNotErrors", "KERNEL_DIED", "NOT_RUN", "EVENTS",
           "OUTPUT_BYTES_PER_CELL"]

#: What happened to each notebook's kernel, recorded here, in the grader's process, as it
#: happens: ``{(student, notebook): {"died_in": N or None, "timed_out": [cell numbers]}}``. The
#: grader's notes come from this record, never from an error a submission could raise itself (a
#: student's own ``KernelDied`` exception is quoted as what the cell raised). ``"cleared"``: the
#: graded test cells whose code asked to clear their output (refused).
EVENTS: dict[tuple[str, str], dict[str, Any]] = {}
#: Output a cell may send before the rest is dropped (a submission printing gigabytes would
#: otherwise fill the grader's memory); errors are always kept, shortened.
OUTPUT_BYTES_PER_CELL = 2 * 2**20

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"

#: what the checkers write to stderr for an answer not attempted (both languages): a stream that
#: holds it is never moved, even when it starts like a warning (a submission that writes
#: ``x.py:1: UserWarning: `` just before the checker speaks would otherwise turn the verdict
#: into a "warning" and score full marks)
NOT_ATTEMPTED = ("Not attempted yet", "尚未作答")
#: ``path:line: SomeWarning: message`` and the source line Python prints under it
_WARNING = re.compile(r"^[^\n]*:\d+: \w*Warning: [^\n]*\n?(?:[ \t]+[^\n]*\n?)?", re.MULTILINE)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class CourseExecute(Execute):
    """nbgrader's ``Execute``; a dead kernel costs only the cells from the one it died in, and
    the whole notebook has a time limit (``notebook_timeout``)."""

    notebook_timeout = Integer(0, help="seconds all cells of one notebook may run together; 0: no "
                               "limit (grading sets editions.NOTEBOOK_TIMEOUT_S)").tag(config=True)

    def preprocess(self, nb: Any, resources: Any = None, km: Any = None) -> Any:
        self._died_in = self._over_in = None
        self._sent: dict[int, int] = {}
        self._deadline = time.monotonic() + (self.notebook_timeout or float("inf"))
        # each cell waits at most what is left of the notebook's time (nbclient's timeout_func)
        self.timeout_func = self._cell_timeout
        info = (resources or {}).get("nbgrader", {})
        self._event = EVENTS.setdefault((str(info.get("student")), str(info.get("notebook"))),
                                        {"died_in": None, "timed_out": [], "cleared": []})
        self._event.update(died_in=None, timed_out=[], cleared=[], over_time=None,
                           notebook_timeout=self.notebook_timeout)
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:  # raised again while shutting the dead kernel down
            if self._died_in is None:
                raise
            return self.nb, self.resources

    def _cell_timeout(self, cell: Any) -> Any:
        """Seconds ``cell`` may run: the cell limit, or what is left of the notebook's."""
        limit = min(self.timeout or float("inf"), self._deadline - time.monotonic() + 1)
        return None if limit == float("inf") else max(1, int(limit))

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> Any:
        if self._died_in is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error(NOT_RUN, f"not run: the kernel died in cell {self._died_in}")]
            return cell, self.resources
        if self._over_in is None and time.monotonic() >= self._deadline:
            self._over_in = index + 1
            self._event["over_time"] = index + 1
        if self._over_in is not None:
            if cell.cell_type == "code":
                cell.outputs = [_error(NOT_RUN, f"not run: the notebook ran past its "
                                                f"{self.notebook_timeout} s limit")]
            return cell, self.resources
        self._watch_replies()
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = index + 1
            self._event["died_in"] = index + 1
            cell.outputs.append(_error(
                KERNEL_DIED, f"the kernel died in cell {index + 1} (os._exit, a crash or out of "
                             f"memory); the cells before it were graded"))
            return cell, self.resources


    def _watch_replies(self) -> None:
        """Record the ``msg_id`` of every request whose ``execute_reply`` arrived on the shell
        channel (wrapping the client's ``get_msg`` once per kernel client)."""
        channel = getattr(self.kc, "shell_channel", None)
        if channel is None:
            return
        if getattr(channel, "_ottt_replies", None) is not None:
            self._replies = channel._ottt_replies
            return
        channel._ottt_replies = self._replies = set()
        original = channel.get_msg

        async def get_msg(*args: Any, **kwargs: Any) -> Any:
            msg = original(*args, **kwargs)
            msg = await msg if hasattr(msg, "__await__") else msg
            self._replies.add((msg.get("parent_header") or {}).get("msg_id"))
            return msg

        channel.get_msg = get_msg

    async def _async_poll_output_msg(self, parent_msg_id: str, cell: Any, cell_index: int) -> None:
        """nbclient's loop over a cell's iopub messages, which ends at the first ``status:
        idle``; code in the cell can send one itself (``kernel._publish_status("idle")``) and the
        checker's error after it went unread: full marks. Here a cell ends at an idle only once
        its ``execute_reply`` has arrived and nothing more follows (the kernel sends its own
        idle after the reply, and nothing after that idle); an idle with more messages after it
        was the cell's own, and is recorded (``EVENTS``: ``"idles"``)."""
        from queue import Empty

        assert self.kc is not None
        idles, wait = 0, None
        while True:
            try:
                msg = self.kc.iopub_channel.get_msg(timeout=wait)
                msg = await msg if hasattr(msg, "__await__") else msg
            except Empty:
                if parent_msg_id in self._replies or cell_index + 1 in self._event["timed_out"]:
                    if idles > 1:
                        self._event.setdefault("idles", []).append(cell_index + 1)
                    return
                wait = min(0.5, wait * 2)   # the cell still runs after an idle of its own
                continue
            if (msg.get("parent_header") or {}).get("msg_id") != parent_msg_id:
                continue
            content = msg.get("content")
            if (msg.get("msg_type") == "status" and isinstance(content, dict)
                    and content.get("execution_state") == "idle"):
                idles, wait = idles + 1, 0.01  # the end, if the reply is in and nothing follows
                continue
            wait = None
            self.process_message(msg, cell, cell_index)

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
        if cell is not None:
            self._event["timed_out"].append(self.nb.cells.index(cell) + 1)
        return await super()._async_handle_timeout(timeout, cell)

    def process_message(self, msg: dict, cell: Any, cell_index: int) -> Any:
        """Every message of the kernel passes here first. A message's whole content counts
        towards :data:`OUTPUT_BYTES_PER_CELL` (text, data, metadata, an error's name and value:
        a submission could hide 50 MB in a display's ``metadata``); past the budget it is
        dropped, with one line saying so. A cell's first error is always kept, cut to a few
        kilobytes.
        A graded test cell cannot clear its own outputs (a hook the submission installed could
        otherwise erase the checker's error before nbgrader reads it): the request is recorded
        in :data:`EVENTS` and ignored. Widget messages are not kept (grading needs no widget
        state, and an Output widget could capture a test cell's error)."""
        msg_type = msg.get("msg_type")
        content = msg.get("content")
        if not isinstance(content, dict) or msg_type in ("status", "execute_input", "execute_reply"):
            return super().process_message(msg, cell, cell_index)
        if msg_type == "error":
            msg["content"] = {
                "ename": str(content.get("ename", ""))[:200],
                "evalue": str(content.get("evalue", ""))[:4000],
                "traceback": [str(line)[:2000] for line in list(content.get("traceback") or [])[-50:]],
            }
            size = _size(msg["content"])
            self._sent[cell_index] = self._sent.get(cell_index, 0) + size
            if (self._sent[cell_index] > OUTPUT_BYTES_PER_CELL
                    and any(o.get("output_type") == "error" for o in cell.outputs)):
                return None  # a flood of errors: the first ones are kept
            return super().process_message(msg, cell, cell_index)
        if msg_type.startswith("comm"):
            return None
        size = _size(content) + _size(msg.get("metadata"))
        sent = self._sent.get(cell_index, 0)
        self._sent[cell_index] = sent + size
        if sent + size > OUTPUT_BYTES_PER_CELL:
            if sent <= OUTPUT_BYTES_PER_CELL:  # the first message over the budget: say so, once
                cell.outputs.append(NotebookNode(
                    output_type="stream", name="stdout",
                    text=f"[grader: output over {OUTPUT_BYTES_PER_CELL // 2**20} MiB dropped]\n"))
            return None
        if msg_type == "clear_output" and is_grade(cell) and not is_solution(cell):
            self._event["cleared"].append(cell_index + 1)
            return None
        return super().process_message(msg, cell, cell_index)


def _size(obj: Any) -> int:
    """Characters in ``obj``'s strings (keys included), nested dicts and lists followed to any
    depth (iteratively: a display nested deeper than any cap is counted in full)."""
    total, todo = 0, [obj]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            total += len(item)
            todo.extend(item)
        else:
            total += 8
    return total


class WarningsAreNotErrors(NbGraderPreprocessor):
    """Python warnings in a graded cell's stderr go to its stdout (see the module docstring)."""

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> Any:
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            return cell, resources
        outputs = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream"
                    and any(marker in out.text for marker in NOT_ATTEMPTED)):
                # the checker's verdict stays on stderr, whatever precedes it, and goes back
                # there from stdout (a submission that pointed sys.stderr at sys.stdout)
                outputs.append(NotebookNode(output_type="stream", name="stderr", text=out.text))
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                warnings = "".join(m.group(0) for m in _WARNING.finditer(out.text))
                rest = _WARNING.sub("", out.text)
                if warnings:
                    outputs.append(NotebookNode(output_type="stream", name="stdout", text=warnings))
                if rest.strip():
                    outputs.append(NotebookNode(output_type="stream", name="stderr", text=rest))
            else:
                outputs.append(out)
        failed = any(out.get("output_type") == "error" or (
            out.get("output_type") == "stream" and out.get("name") == "stderr") for out in outputs)
        if failed:  # nbgrader reads the first execute_result as the grade: the failure wins
            outputs = [out for out in outputs if out.get("output_type") != "execute_result"]
        cell.outputs = outputs
        return cell, resources
