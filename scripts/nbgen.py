"""Small helpers to write the course notebooks with nbformat (used by build_notebooks.py).

The ``.ipynb`` files in ``notebooks/`` are the source of truth; these scripts only make the
first version of a notebook reproducible. After writing, execute in place with nbconvert (see
``build_notebooks.py --help``).
"""
from __future__ import annotations

import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "ottt-edu", "display_name": "Python (ottt-edu)", "language": "python"}


def md(text: str):
    """A markdown cell (text is dedented and stripped)."""
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str, *, hidden: bool = False, raises: bool = False):
    """A code cell; ``hidden`` collapses its source in JupyterLab (reference solutions);
    ``raises`` tags it ``raises-exception`` so "run all" and nbconvert go on past its error."""
    cell = new_code_cell(textwrap.dedent(text).strip("\n"))
    if hidden:
        cell.metadata["jupyter"] = {"source_hidden": True}
        cell.metadata["tags"] = ["solution"]
    if raises:
        cell.metadata["tags"] = ["raises-exception"]
    return cell


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb
