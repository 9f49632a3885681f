"""A static scan of a submission's answer cells for what no honest answer needs.

The sandbox (``ottt_edu.classroom.sandbox``) keeps a submission away from the answer key, the
gradebook and the other students, but the student's code and the checkers share one kernel: an
answer cell could replace a checker (``check_surrogate_spike = lambda *a: True``), patch ``ottt_edu``,
``torch`` or ``builtins``, or hide the errors of later cells. No answer of the course needs any
of that, so every answer cell is parsed (never run) and each such line becomes a review note in
the CSV, e.g. ``review: cell 7 (my_replace_for_grad) line 3 assigns
ottt_edu.course.exercises.check_surrogate_spike``. The teacher decides; nothing is deducted.

Flagged: assignments to (or ``del`` of) attributes of modules (``ottt_edu``, ``torch``,
``builtins``, ``sys``, ...), rebinding a name the setup cell imported from ``ottt_edu``,
``setattr``/``delattr``, ``exec``/``eval``/``compile``/``__import__``, ``open`` and file reads,
``globals()``/``get_ipython()``, ``sys.modules``, and imports of ``os``, ``sys``, ``subprocess``,
``ctypes``, ``socket``, ``importlib``, ``builtins`` and the like.
"""
from __future__ import annotations

import ast
from typing import Any, Iterable

__all__ = ["FORBIDDEN_IMPORTS", "FORBIDDEN_CALLS", "review_notes"]

FORBIDDEN_IMPORTS = ("os", "sys", "subprocess", "ctypes", "socket", "importlib", "builtins",
                     "shutil", "signal", "multiprocessing", "threading", "pathlib", "io", "gc",
                     "inspect", "pickle", "marshal", "urllib", "http", "requests", "nbformat",
                     "IPython", "sqlite3", "tempfile", "glob", "pty", "resource")
FORBIDDEN_CALLS = ("setattr", "delattr", "exec", "eval", "compile", "__import__", "open",
                   "globals", "locals", "vars", "get_ipython", "breakpoint", "input")
FILE_READS = ("read_text", "read_bytes", "open", "write_text", "write_bytes")
MODULE_ROOTS = ("ottt_edu", "torch", "builtins", "__builtins__", "sys", "os", "numpy",
                "matplotlib", "nbgrader", "IPython")


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _imported(tree: ast.AST) -> tuple[dict[str, str], dict[str, str]]:
    """``(module aliases, names imported from ottt_edu)``: ``{"ex": "ottt_edu.course.exercises"}``,
    ``{"check_ottt_a_step": "ottt_edu.course.exercises.check_ottt_a_step"}``."""
    modules, names = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if node.module.split(".")[0] == "ottt_edu":
                    names[a.asname or a.name] = full
                modules.setdefault(a.asname or a.name, full)
    return modules, names


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _findings(tree: ast.AST, modules: dict[str, str], ottt_names: dict[str, str]) -> Iterable[tuple[int, str]]:
    def module_path(dotted: str) -> str | None:
        root, _, rest = dotted.partition(".")
        base = modules.get(root, root if root in MODULE_ROOTS else None)
        if base is None or base.split(".")[0] not in MODULE_ROOTS:
            return None
        return f"{base}.{rest}" if rest else base

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            verb = "deletes" if isinstance(node, ast.Delete) else "assigns"
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Attribute):
                        dotted = _dotted(t)
                        if dotted and module_path(dotted):
                            yield t.lineno, f"{verb} {module_path(dotted)}"
                    elif isinstance(t, ast.Name) and t.id in ottt_names:
                        yield t.lineno, f"{verb} {ottt_names[t.id]} (imported by the setup cell)"
                    elif isinstance(t, ast.Subscript) and _dotted(t.value) in ("sys.modules", "__builtins__"):
                        yield t.lineno, f"{verb} an entry of {_dotted(t.value)}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in ottt_names:
            yield node.lineno, f"redefines {ottt_names[node.name]} (imported by the setup cell)"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in mods:
                if m.split(".")[0] in FORBIDDEN_IMPORTS:
                    yield node.lineno, f"imports {m}"
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                yield node.lineno, f"calls {func.id}()"
            elif isinstance(func, ast.Attribute) and func.attr in FILE_READS:
                yield node.lineno, f"calls .{func.attr}() (file access)"
        elif isinstance(node, ast.Attribute) and _dotted(node) == "sys.modules":
            yield node.lineno, "uses sys.modules"
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            yield node.lineno, "uses __builtins__"


def review_notes(nb: Any) -> list[str]:
    """One note per suspicious line of the notebook's answer (solution) cells, in order."""
    cells = nb.get("cells", [])
    setup = "\n".join(_source(c) for c in cells
                      if c.get("metadata", {}).get("nbgrader", {}).get("locked") and c.get("cell_type") == "code")
    try:
        modules, ottt_names = _imported(ast.parse(setup))
    except SyntaxError:
        modules, ottt_names = {}, {}
    notes = []
    for i, cell in enumerate(cells, start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("solution"):
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:
            continue  # it fails when run; nothing to review
        cell_modules, _ = _imported(tree)
        label = f"cell {i}" + (f" ({meta['grade_id']})" if meta.get("grade_id") else "")
        seen = set()
        for line, what in _findings(tree, {**modules, **cell_modules}, ottt_names):
            if (line, what) not in seen:
                seen.add((line, what))
                notes.append(f"review: {label} line {line} {what}")
    return notes
