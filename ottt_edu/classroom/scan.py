"""A static scan of a submission's answer cells for what no honest answer needs.

The sandbox (``ottt_edu.classroom.sandbox``) keeps a submission away from the answer key, the
gradebook and the other students, but the student's code and the checkers share one kernel: an
answer cell could replace a checker (``check_surrogate_spike = lambda *a: True``), patch ``ottt_edu``,
``torch`` or ``builtins``, or hide the errors of later cells. No answer of the course needs any
of that, so every answer cell is parsed (never run) and each such line becomes a review note in
the CSV, e.g. ``review: cell 7 (my_replace_for_grad) line 3 assigns
ottt_edu.course.exercises.check_surrogate_spike``. The teacher decides; nothing is deducted.

Scanned: every unlocked code cell the student wrote or changed (answer cells, extra cells, cells
stripped of their metadata). Flagged: assignments to (or ``del`` of) attributes of modules
(``ottt_edu``, ``torch``, ``builtins``, ``sys``, ...) or of any object the code did not make
itself (an alias of a module included), rebinding or redefining a name the setup cell imported
from ``ottt_edu``, any use (not only a call) of ``setattr``/``delattr``, ``exec``/``eval``/
``compile``/``__import__``, ``open``, ``globals``/``vars``/``get_ipython``; dunder attributes
other than ``__init__``/``__name__`` (``__dict__``, ``__code__``, ``__globals__``,
``__builtins__``), attributes that reach the interpreter (``.sys``, ``.modules``,
``.displayhook``, ``.run_cell``); file reads; imports of ``os``, ``sys``, ``subprocess``,
``ctypes``, ``socket``, ``importlib``, ``builtins`` and the like; computed decorators; IPython
magics and shell lines; a cell that is not valid Python. A static scan can be evaded by code
clever enough; it raises the bar and tells the teacher where to look (docs/teaching.md §6.4).
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


#: dunder attributes honest answers use; any other (``__dict__``, ``__code__``, ``__globals__``,
#: ``__builtins__``, ``__subclasses__``, ``__setitem__`` ...) reaches around the rules
PLAIN_DUNDERS = {"__init__", "__name__", "__call__", "__len__", "__repr__"}
#: attribute names that lead to the interpreter itself, whatever object they are read from
SENSITIVE_ATTRIBUTES = {"sys", "modules", "displayhook", "excepthook", "settrace", "setprofile",
                        "builtins", "os", "subprocess", "importlib", "run_cell", "run_cell_async",
                        "input_transformers_cleanup", "input_transformers_post", "events",
                        "showtraceback", "f_globals", "f_locals", "f_back", "gi_frame"}
#: roots whose attributes an answer sets: its own objects (``self.w = ...``, ``ctx.x = ...``)
OWN_ROOTS = {"self", "ctx", "cls"}


class _Scan(ast.NodeVisitor):
    """Collects ``(line, what)`` for the rules of the module docstring."""

    def __init__(self, modules: dict[str, str], ottt_names: dict[str, str]) -> None:
        self.modules, self.ottt_names = modules, ottt_names
        self.params: list[set[str]] = [set()]
        self.found: list[tuple[int, str]] = []

    def module_path(self, dotted: str) -> str | None:
        root, _, rest = dotted.partition(".")
        base = self.modules.get(root, root if root in MODULE_ROOTS else None)
        if base is None or base.split(".")[0] not in MODULE_ROOTS:
            return None
        return f"{base}.{rest}" if rest else base

    def _function(self, node: Any) -> None:
        if node.name in self.ottt_names:
            self.found.append((node.lineno, f"redefines {self.ottt_names[node.name]} (imported by the setup cell)"))
        for deco in getattr(node, "decorator_list", []):
            if not isinstance(deco, (ast.Name, ast.Attribute)):
                self.found.append((deco.lineno, "uses a computed decorator"))
        args = node.args
        names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        self.params.append(names)
        self.generic_visit(node)
        self.params.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name in self.ottt_names:
            self.found.append((node.lineno, f"redefines {self.ottt_names[node.name]} (imported by the setup cell)"))
        for deco in node.decorator_list:
            if not isinstance(deco, (ast.Name, ast.Attribute)):
                self.found.append((deco.lineno, "uses a computed decorator"))
        self.generic_visit(node)

    def _targets(self, targets: list, verb: str) -> None:
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute):
                    dotted = _dotted(t)
                    root = dotted.split(".")[0] if dotted else None
                    if dotted and self.module_path(dotted):
                        self.found.append((t.lineno, f"{verb} {self.module_path(dotted)}"))
                    elif root not in OWN_ROOTS and root not in self.params[-1]:
                        self.found.append((t.lineno, f"{verb} {dotted or 'an attribute'} (an "
                                                     f"attribute of an object it did not make)"))
                elif isinstance(t, ast.Name) and t.id in self.ottt_names and isinstance(t.ctx, (ast.Store, ast.Del)):
                    self.found.append((t.lineno, f"{verb} {self.ottt_names[t.id]} (imported by the setup cell)"))
                elif isinstance(t, ast.Subscript) and _dotted(t.value) in ("sys.modules", "__builtins__"):
                    self.found.append((t.lineno, f"{verb} an entry of {_dotted(t.value)}"))

    def visit_Assign(self, node: ast.Assign) -> None:
        self._targets(node.targets, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node: Any) -> None:
        self._targets([node.target], "assigns")
        self.generic_visit(node)

    visit_AnnAssign = visit_AugAssign

    def visit_Delete(self, node: ast.Delete) -> None:
        self._targets(node.targets, "deletes")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name.split(".")[0] in FORBIDDEN_IMPORTS:
                self.found.append((node.lineno, f"imports {a.name}"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
            self.found.append((node.lineno, f"imports {node.module}"))

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_CALLS:
            self.found.append((node.lineno, f"uses {node.id}"))
        elif node.id == "__builtins__" or (node.id.startswith("__") and node.id.endswith("__")
                                           and node.id not in PLAIN_DUNDERS):
            self.found.append((node.lineno, f"uses {node.id}"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in PLAIN_DUNDERS:
            self.found.append((node.lineno, f"uses .{attr}"))
        elif attr in SENSITIVE_ATTRIBUTES:
            self.found.append((node.lineno, f"uses .{attr}"))
        elif attr in FILE_READS:
            self.found.append((node.lineno, f"uses .{attr}() (file access)"))
        self.generic_visit(node)


def _findings(tree: ast.AST, modules: dict[str, str], ottt_names: dict[str, str]) -> Iterable[tuple[int, str]]:
    scan = _Scan(modules, ottt_names)
    scan.visit(tree)
    return sorted(scan.found)


#: IPython syntax (magics, shell escapes, ``obj?``) that ``ast`` cannot parse: commented out
#: before the scan, and itself a finding
_IPYTHON_LINE = ("%", "!")


def _python_source(source: str) -> tuple[str, list[int]]:
    lines, magic = [], []
    for i, line in enumerate(source.splitlines(), start=1):
        stripped = line.lstrip()
        if stripped.startswith(_IPYTHON_LINE) or stripped.rstrip().endswith("?"):
            magic.append(i)
            lines.append("# " + line)
        else:
            lines.append(line)
    return "\n".join(lines), magic


def review_notes(nb: Any, release: Any = None) -> list[str]:
    """One note per suspicious line of the notebook's code cells that the student wrote: with
    ``release`` (the student edition it was made from), every unlocked code cell whose source is
    not one of the edition's (extra cells and cells stripped of their metadata included); without
    it, the answer (solution) cells. Locked cells are left out: nbgrader puts its own back."""
    cells = nb.get("cells", [])
    setup = "\n".join(_source(c) for c in cells
                      if c.get("metadata", {}).get("nbgrader", {}).get("locked") and c.get("cell_type") == "code")
    if release is not None:
        setup = "\n".join(_source(c) for c in release.get("cells", [])
                          if c.get("metadata", {}).get("nbgrader", {}).get("locked")
                          and c.get("cell_type") == "code") or setup
    try:
        modules, ottt_names = _imported(ast.parse(_python_source(setup)[0]))
    except SyntaxError:
        modules, ottt_names = {}, {}
    given = None if release is None else {_source(c).strip() for c in release.get("cells", [])}
    notes = []
    for i, cell in enumerate(cells, start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        meta = meta if isinstance(meta, dict) else {}
        if cell.get("cell_type") != "code" or meta.get("locked"):
            continue
        if given is None and not meta.get("solution"):
            continue
        source = _source(cell)
        if given is not None and source.strip() in given:
            continue  # as handed out
        label = f"cell {i}" + (f" ({meta['grade_id']})" if meta.get("grade_id") else "")
        text, magic = _python_source(source)
        for line in magic:
            notes.append(f"review: {label} line {line} uses IPython syntax (a magic or shell line)")
        try:
            tree = ast.parse(text)
        except SyntaxError as e:
            notes.append(f"review: {label} could not be read as Python (line {e.lineno})")
            continue
        cell_modules, _ = _imported(tree)
        seen = set()
        for line, what in _findings(tree, {**modules, **cell_modules}, ottt_names):
            if (line, what) not in seen:
                seen.add((line, what))
                notes.append(f"review: {label} line {line} {what}")
    return notes
