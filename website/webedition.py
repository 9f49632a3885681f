"""The web edition of a notebook: what the site shows of the teacher edition.

nbgrader's own preprocessors do the clearing, as for the student edition
(``ottt_edu/classroom/editions.py``): ``ClearSolutions`` turns each answer into its stub,
``ClearHiddenTests`` drops the hidden tests, and ``ClearOutput`` (nbgrader's) runs on the
solution and graded cells only (and on cells that read a graded cell's verdict, ``if passed:``),
so that a stored *Correct!* or an answer's result never stands under an empty stub;
every other output is kept as stored. Then the outputs that a static page cannot show are made
honest: an explorer's widget view goes and its stored PNG (written when the notebook ran) stays,
with a line saying that it is interactive in JupyterLab; a progress bar's widget view becomes one
line of text. Nothing is executed.

网页版: 用 nbgrader 自己的预处理器清除答案、隐藏测试以及答案单元和评分单元的输出; 其余输出保留。
"""
from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

STILL_NOTE = {
    "en": "A still picture of the explorer's first state. It is interactive in JupyterLab: "
          "download this notebook (top of the page) and move the sliders.",
    "zh-CN": "这是探索工具初始状态的静态图。在 JupyterLab 中可以交互: 下载本笔记本 (页面顶部) 后拖动滑块。",
}
PROGRESS_NOTE = {
    "en": "[a progress bar, shown live in JupyterLab]",
    "zh-CN": "[进度条, 在 JupyterLab 中实时显示]",
}


def _names(source: str, kind) -> set[str]:
    """The names a cell binds (``kind=ast.Store``) or reads (``ast.Load``); none if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: such a cell binds nothing a checker set
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, kind)}


def answer_cells(nb) -> list[int]:
    """The code cells whose stored output came from an answer: solution and graded cells, and
    cells that read a name a graded cell binds (``if passed: ...`` runs the student's answer)."""
    from nbgrader.utils import is_grade, is_solution

    chosen, verdicts = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_solution(cell) or is_grade(cell):
            chosen.append(index)
            if is_grade(cell):
                verdicts |= _names(cell.source, ast.Store)
        elif verdicts & _names(cell.source, ast.Load):
            chosen.append(index)
    return chosen


def clear_answer_outputs(nb):
    """nbgrader's ClearOutput on :func:`answer_cells` only; every other output is kept."""
    from nbgrader.preprocessors import ClearOutput

    clear = ClearOutput()
    for index in answer_cells(nb):
        nb.cells[index], _ = clear.preprocess_cell(nb.cells[index], {}, index)
    return nb


def _still_note(language: str) -> nbformat.NotebookNode:
    text = STILL_NOTE[language]
    return nbformat.v4.new_output(
        "display_data", data={"text/html": f'<p class="ottt-still-note"><em>{text}</em></p>',
                              "text/plain": text})


def static_outputs(nb, language: str):
    """Outputs a static page can show: widget views become their PNG still plus a note, or text."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW not in data:
                outputs.append(out)
                continue
            out = copy.deepcopy(out)
            del out["data"][WIDGET_VIEW]
            if "image/png" in out["data"]:
                out["data"].pop("text/plain", None)   # the PNG is the still; the note says the rest
                outputs += [out, _still_note(language)]
            else:                                     # tqdm's bar: its text is a 0% snapshot
                out["data"] = {"text/plain": PROGRESS_NOTE[language]}
                outputs.append(out)
        cell["outputs"] = outputs
    nb.metadata.get("widgets", {}).pop(WIDGET_VIEW, None)
    nb.metadata.pop("widgets", None)
    return nb


def web_edition(source: Path, language: str):
    """The web edition of the teacher notebook ``source`` (``language``: "en" or "zh-CN")."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = nbformat.read(str(source), as_version=4)
    resources: dict = {}
    nb, resources = ClearSolutions().preprocess(nb, resources)
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    nb = clear_answer_outputs(nb)
    nb = static_outputs(nb, language)
    nbformat.validate(nb)
    return nb
