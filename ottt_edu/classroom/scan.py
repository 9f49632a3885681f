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
itself (an alias of a module included); rebinding or redefining a name the setup cell imported
from ``ottt_edu``, or any name a test cell takes from earlier cells (``print``, ``torch``);
any use (not only a call) of ``getattr``/``setattr``/``delattr``, ``exec``/``eval``/``compile``/
``__import__``, ``open``, ``globals``/``vars``/``get_ipython``; dunder attributes other than
``__init__``/``__name__`` (``__dict__``, ``__code__``, ``__globals__``, ``__builtins__``), and
strings that hold one (``getattr(m, "__dict__")``, ``"{0.__class__}"``) or name a forbidden
module or function; ``def`` of another dunder (``__torch_function__``, ``__eq__``); private
attributes (``torch._C``) of objects the code did not make; attributes that reach the
interpreter or global state (``.sys``, ``.modules``, ``.displayhook``, ``.run_cell``,
``.events``, ``.load``, ``.register_module_forward_hook``, ``.set_grad_enabled``); file reads;
imports of any module outside :data:`ALLOWED_IMPORTS` (torch, numpy, math, the standard
library's harmless helpers); computed decorators; IPython magics and shell lines; a cell that
is not valid Python. A static scan can be evaded by code clever enough; it raises the bar and
tells the teacher where to look (docs/teaching.md §6.4). What the scan cannot see is still
bounded on the grader's side: a graded test cell cannot clear its own output
(``preprocessors.CourseExecute``), so an error a checker raised is graded as sent.
"""
from __future__ import annotations

import ast
import importlib
import re
import sys
import types
from typing import Any, Iterable

__all__ = ["ALLOWED_IMPORTS", "FORBIDDEN_CALLS", "review_notes"]

#: the modules an answer of the course may import; any other import (``os``, ``sys``,
#: ``operator``, ``pickle`` ...) is a finding
ALLOWED_IMPORTS = ("torch", "numpy", "math", "ottt_edu", "typing", "dataclasses", "collections",
                   "itertools", "functools", "copy", "random", "statistics", "fractions",
                   "matplotlib", "time", "warnings", "enum", "abc", "string", "textwrap")
#: kept for the notes' wording: the imports that lead out of the sandbox's rules
FORBIDDEN_IMPORTS = ("os", "sys", "subprocess", "ctypes", "socket", "importlib", "builtins",
                     "shutil", "signal", "multiprocessing", "threading", "pathlib", "io", "gc",
                     "inspect", "pickle", "marshal", "urllib", "http", "requests", "nbformat",
                     "IPython", "sqlite3", "tempfile", "glob", "pty", "resource", "operator",
                     "types", "code", "runpy", "traceback", "weakref", "atexit")
FORBIDDEN_CALLS = ("setattr", "delattr", "getattr", "exec", "eval", "compile", "__import__",
                   "open", "globals", "locals", "vars", "get_ipython", "breakpoint", "input")
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
                        "showtraceback", "f_globals", "f_locals", "f_back", "f_builtins",
                        "gi_frame", "cr_frame", "ag_frame", "tb_frame", "f_code", "co_code",
                        "display_pub", "kernel", "shell", "user_ns", "load", "load_inline",
                        "cpp_extension", "hub", "ctypeslib", "library", "ops", "overrides",
                        "set_grad_enabled", "register_module_forward_hook",
                        "register_module_forward_pre_hook", "register_module_full_backward_hook",
                        "register_module_backward_hook", "set_default_dtype",
                        "set_default_tensor_type", "set_default_device", "get_ipython",
                        # evaluate strings as code (annotations): typing.get_type_hints('x: "..."')
                        "get_type_hints", "ForwardRef", "get_annotations", "evaluate_forward_ref",
                        # bytes that become a name at run time: bytes.fromhex("5f5f...").decode()
                        "fromhex", "decode", "b64decode", "unhexlify",
                        # getattr in disguise: string.Formatter().get_field("0.__dict__", [m], {})
                        "Formatter", "get_field", "get_value", "vformat", "format_field",
                        "attrgetter", "methodcaller"}
#: string constants that only name something to reach around the rules (``getattr(torch,
#: "os")``); a string holding a dunder name other than :data:`PLAIN_DUNDERS` is one too
_DUNDER_IN_STRING = re.compile(r"__\w+__")
_STRING_NAMES = (set(FORBIDDEN_CALLS) | set(FORBIDDEN_IMPORTS) | {
    "sys", "modules", "displayhook", "excepthook", "settrace", "setprofile", "f_globals",
    "f_locals", "f_back", "f_builtins", "gi_frame", "tb_frame", "display_pub", "user_ns",
    "run_cell", "showtraceback", "cpp_extension", "load_inline"}) - {"input", "code", "types", "io"}
#: attribute (and imported) names that reach a forbidden module or function whatever they are
#: read from (``helpers.getattr``, ``torch.serialization.pickle``); ``.eval()`` and
#: ``.compile()`` are a network's and torch's own
_ATTRIBUTE_NAMES = _STRING_NAMES - {"eval", "compile", "open"}
#: the standard library modules of :data:`ALLOWED_IMPORTS`, imported by the scan itself to see
#: what a ``from X import name`` brings (other packages are looked at once they are imported)
_STDLIB_ALLOWED = {"typing", "dataclasses", "collections", "itertools", "functools", "copy",
                   "random", "statistics", "fractions", "time", "warnings", "enum", "abc",
                   "string", "textwrap", "math"}


def _module_attribute(module: str, name: str) -> Any:
    """What ``from module import name`` binds, as far as the grader can tell without importing
    anything it has not (the standard library's allowed modules excepted); ``None`` if unknown."""
    loaded = sys.modules.get(module)
    if loaded is None and module.split(".")[0] in _STDLIB_ALLOWED:
        try:
            loaded = importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a module that does not exist fails in the kernel too
            return None
    return getattr(loaded, name, None) if loaded is not None else None


#: longest string the scan puts together (``"a" * 64 * 64 * 64 * 64`` is 16 MiB; the grader's own
#: process runs the scan, outside every sandbox cap); a longer one is not folded
_FOLD_CHARS = 4096
#: ``%`` formats the scan folds: no width or precision (``"%0999999999d" % 0`` is 1 GB)
_PLAIN_PERCENT = re.compile(r"^(?:[^%]|%(?:\(\w+\))?[sdr%])*$")


def _fold(node: ast.AST, depth: int = 0, names: Any = None) -> Any:
    """The value of an expression made only of constants (``"_" * 2 + "import"``, an f-string,
    ``"".join([...])``, ``chr(95)``, ``"tropmi"[::-1]``), or of names the cell binds once to
    such a value (``names``: ``u = "_"; "0." + u + u + "dict" + u + u``); ``None`` otherwise.
    Results are capped at :data:`_FOLD_CHARS` characters, checked before they are made."""
    value = _fold_any(node, depth, names or {})
    return None if isinstance(value, str) and len(value) > _FOLD_CHARS else value


def _fold_any(node: ast.AST, depth: int, names: dict) -> Any:
    if depth > 50:
        return None
    fold = lambda n: _fold(n, depth + 1, names)  # noqa: E731
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = fold(node.left), fold(node.right)
        if left is None or right is None:
            return None
        try:
            if isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (str, int)):
                return left + right if isinstance(left, int) or len(left) + len(right) <= _FOLD_CHARS else None
            if isinstance(node.op, ast.Mult) and {type(left), type(right)} == {str, int}:
                count, text = (left, right) if isinstance(left, int) else (right, left)
                return text * count if 0 <= count and len(text) * count <= _FOLD_CHARS else None
            if isinstance(node.op, ast.Mod) and isinstance(left, str) and _PLAIN_PERCENT.match(left):
                return left % right
        except (TypeError, ValueError):
            return None
        return None
    if isinstance(node, ast.JoinedStr):
        parts = [fold(v.value) if isinstance(v, ast.FormattedValue) else fold(v) for v in node.values]
        return "".join(str(p) for p in parts) if all(p is not None for p in parts) else None
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [fold(e) for e in node.elts]
        return tuple(items) if all(i is not None for i in items) else None
    if isinstance(node, ast.Subscript):
        value = fold(node.value)
        if isinstance(value, str) and isinstance(node.slice, ast.Slice):
            bounds = [fold(b) if b is not None else None for b in (node.slice.lower, node.slice.upper, node.slice.step)]
            try:
                return value[slice(*bounds)]
            except (TypeError, ValueError):
                return None
        return None
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "chr" and len(node.args) == 1:
            code = fold(node.args[0])
            return chr(code) if isinstance(code, int) and 0 <= code < 0x110000 else None
        if isinstance(func, ast.Name) and func.id in ("str", "reversed") and len(node.args) == 1:
            value = fold(node.args[0])
            return value if func.id == "str" and isinstance(value, str) else (
                value[::-1] if isinstance(value, str) else None)
        if isinstance(func, ast.Attribute) and func.attr in ("join", "format", "replace", "lower",
                                                             "upper", "strip"):
            base, args = fold(func.value), [fold(a) for a in node.args]
            if not isinstance(base, str) or any(a is None for a in args):
                return None
            sizes = [len(base), *(len(str(a)) for a in args)]
            if func.attr == "format" and re.search(r"\{[^}]*:[^}]*\d", base):
                return None  # a width ("{:999999999}") could be any size
            if func.attr == "replace" and (sizes[0] + 1) * max(sizes[1:] or [1]) > _FOLD_CHARS:
                return None
            try:
                if func.attr == "join" and len(args) == 1 and isinstance(args[0], (tuple, str)):
                    return base.join(str(a) for a in args[0])
                if func.attr != "join":
                    return getattr(base, func.attr)(*args)
            except (TypeError, ValueError, IndexError, KeyError, AttributeError):
                return None
    return None


#: roots whose attributes an answer sets: its own objects (``self.w = ...``, ``ctx.x = ...``), as
#: the first parameter of a method of a class the cell defines (anywhere else ``self`` is a name
#: like any other: ``def f(self): self.check_x = ...; f(exercises)`` sets a module's attribute)
OWN_ROOTS = {"self", "ctx", "cls"}
#: how deep strings that read as code are scanned as code (``"setattr(ex, 'check', ...)"``)
_STRING_DEPTH = 3


class _Scan(ast.NodeVisitor):
    """Collects ``(line, what)`` for the rules of the module docstring."""

    def __init__(self, modules: dict[str, str], ottt_names: dict[str, str],
                 defined: set[str] = frozenset(), depth: int = 0) -> None:
        self.modules, self.ottt_names = modules, ottt_names
        self.defined = set(defined)  # names the cell binds itself
        self.own: list[set[str]] = [set()]  # per function: the parameter that is its own object
        self.in_class = [False]
        self.depth = depth               # strings scanned as code inside strings
        self.constants: dict[str, Any] = {}   # names bound once to a foldable value
        self.found: list[tuple[int, str]] = []

    def module_path(self, dotted: str) -> str | None:
        root, _, rest = dotted.partition(".")
        base = self.modules.get(root, root if root in MODULE_ROOTS else None)
        if base is None or base.split(".")[0] not in MODULE_ROOTS:
            return None
        return f"{base}.{rest}" if rest else base

    def _function(self, node: Any) -> None:
        if node.name.startswith("__") and node.name.endswith("__") and node.name not in PLAIN_DUNDERS:
            self.found.append((node.lineno, f"defines {node.name}"))
        if node.name in self.ottt_names:
            self.found.append((node.lineno, f"redefines {self.ottt_names[node.name]} (imported by the setup cell)"))
        for deco in getattr(node, "decorator_list", []):
            if not isinstance(deco, (ast.Name, ast.Attribute)):
                self.found.append((deco.lineno, "uses a computed decorator"))
        args = node.args
        first = [*args.posonlyargs, *args.args][:1]
        own = {a.arg for a in first if a.arg in OWN_ROOTS} if self.in_class[-1] else set()
        self.own.append(own)
        self.in_class.append(False)
        self.generic_visit(node)
        self.in_class.pop()
        self.own.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.name in self.ottt_names:
            self.found.append((node.lineno, f"redefines {self.ottt_names[node.name]} (imported by the setup cell)"))
        for deco in node.decorator_list:
            if not isinstance(deco, (ast.Name, ast.Attribute)):
                self.found.append((deco.lineno, "uses a computed decorator"))
        self.in_class.append(True)
        self.generic_visit(node)
        self.in_class.pop()

    def _targets(self, targets: list, verb: str) -> None:
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute):
                    dotted = _dotted(t)
                    root = dotted.split(".")[0] if dotted else None
                    if dotted and self.module_path(dotted):
                        self.found.append((t.lineno, f"{verb} {self.module_path(dotted)}"))
                    elif root not in self.own[-1]:
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
            if a.name.split(".")[0] not in ALLOWED_IMPORTS:
                self.found.append((node.lineno, f"imports {a.name}"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or (node.module or "").split(".")[0] not in ALLOWED_IMPORTS:
            self.found.append((node.lineno, f"imports {'.' * node.level}{node.module or ''}"))
            return
        for a in node.names:  # the names too: ``from dataclasses import builtins`` is an import of builtins
            what = _module_attribute(node.module, a.name)
            if isinstance(what, types.ModuleType) and what.__name__.split(".")[0] not in ALLOWED_IMPORTS:
                self.found.append((node.lineno, f"imports {what.__name__} (as {node.module}.{a.name})"))
            elif a.name in _ATTRIBUTE_NAMES or a.name in SENSITIVE_ATTRIBUTES or a.name.startswith("_"):
                self.found.append((node.lineno, f"imports {node.module}.{a.name}"))

    def _string(self, node: ast.AST, value: str) -> None:
        dunders = [d for d in _DUNDER_IN_STRING.findall(value) if d not in PLAIN_DUNDERS]
        if dunders or value in _STRING_NAMES:
            self.found.append((node.lineno, f"uses the string {(dunders or [value])[0]!r}"))
            return
        # a string that reads as code is scanned as code: typing.get_type_hints, a forward
        # reference or anything else may evaluate it (``x: "setattr(ex, 'check_x', ok)"``)
        if self.depth >= _STRING_DEPTH or not value.strip() or len(value) > 20_000:
            return
        try:
            tree = ast.parse(value.strip())
        except (SyntaxError, ValueError):
            return
        inner = _Scan(self.modules, self.ottt_names, self.defined, self.depth + 1)
        inner.visit(tree)
        for _, what in inner.found:
            self.found.append((node.lineno, f"{what} (in a string that reads as code)"))

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._string(node, node.value)

    def _computed(self, node: ast.AST) -> None:
        value = _fold(node, names=self.constants)
        if isinstance(value, str):
            self._string(node, value)
        self.generic_visit(node)

    #: strings put together from pieces (``"_" * 2 + "import" + "_" * 2``) are judged whole
    visit_BinOp = visit_JoinedStr = visit_Subscript = _computed

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "type" and len(node.args) == 3:
            self.found.append((node.lineno, "makes a class with type(name, bases, namespace)"))
        elif (len(node.args) == 3 and isinstance(node.args[1], ast.Tuple)
              and isinstance(node.args[2], (ast.Dict, ast.DictComp))):
            self.found.append((node.lineno, "makes a class from (name, bases, namespace) (a "
                                            "metaclass called by another name)"))
        self._computed(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in self.ottt_names:
            # anywhere: a loop or comprehension target, a walrus, a local of the same name
            what = f"{self.ottt_names[node.id]} (imported by the setup cell)"
            if not any(line == node.lineno and said.endswith(what) for line, said in self.found):
                verb = "deletes" if isinstance(node.ctx, ast.Del) else "binds"
                self.found.append((node.lineno, f"{verb} {what}"))  # not said yet (``x = ...``)
        if node.id in FORBIDDEN_CALLS:
            self.found.append((node.lineno, f"uses {node.id}"))
        elif node.id == "__builtins__" or (node.id.startswith("__") and node.id.endswith("__")
                                           and node.id not in PLAIN_DUNDERS):
            self.found.append((node.lineno, f"uses {node.id}"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in PLAIN_DUNDERS:
            self.found.append((node.lineno, f"uses .{attr}"))
        elif attr in SENSITIVE_ATTRIBUTES or attr in _ATTRIBUTE_NAMES:
            self.found.append((node.lineno, f"uses .{attr}"))
        elif attr in FILE_READS:
            self.found.append((node.lineno, f"uses .{attr}() (file access)"))
        elif attr.startswith("_") and not attr.startswith("__"):
            dotted = _dotted(node)
            root = dotted.split(".")[0] if dotted else None
            if root not in self.own[-1] and (
                    root not in self.defined or self.module_path(dotted or "")):
                self.found.append((node.lineno, f"uses .{attr} (a private attribute of an object "
                                                f"it did not make)"))
        self.generic_visit(node)


def _bindings(tree: ast.AST) -> dict[str, int]:
    """``{name: first line}`` of the names a cell binds in the notebook's namespace: assignments,
    ``def``/``class``, imports, loop and ``with`` targets at the top level, and names a function
    declares ``global`` (a function's own locals are left out)."""
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        found.setdefault(name, line)

    def walk(node: ast.AST, top: bool, globals_: set[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if top or child.name in globals_:
                    add(child.name, child.lineno)
                inner = {n for g in ast.walk(child) if isinstance(g, ast.Global) for n in g.names}
                walk(child, False, inner)
            elif isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                                    ast.GeneratorExp)):
                # their names are their own, but a walrus inside binds in the cell's namespace
                for inner in ast.walk(child):
                    if isinstance(inner, ast.NamedExpr) and isinstance(inner.target, ast.Name):
                        if top or inner.target.id in globals_:
                            add(inner.target.id, inner.lineno)
            elif isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                if top or child.id in globals_:
                    add(child.id, child.lineno)
            elif isinstance(child, ast.alias) and (top or (child.asname or child.name) in globals_):
                add(child.asname or child.name.split(".")[0], getattr(child, "lineno", 0) or 0)
            elif isinstance(child, ast.ExceptHandler) and child.name and top:
                add(child.name, child.lineno)
                walk(child, top, globals_)
            else:
                walk(child, top, globals_)

    walk(tree, True, set())
    return found


def _free_names(tree: ast.AST) -> set[str]:
    """Names a cell reads but does not bind anywhere in itself: what it takes from earlier cells."""
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    bound |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
              for a in [*n.posonlyargs, *n.args, *n.kwonlyargs, *(x for x in (n.vararg, n.kwarg) if x)]}
    bound |= {(n.asname or n.name.split(".")[0]) for n in ast.walk(tree) if isinstance(n, ast.alias)}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - bound


def _constants(tree: ast.AST) -> dict[str, Any]:
    """``{name: value}`` for the names the cell binds exactly once, by ``name = <an expression
    :func:`_fold` can judge>`` (``u = "_"``), in the order they are bound."""
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    found: dict[str, Any] = {}
    assigns = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
                      and isinstance(n.targets[0], ast.Name)), key=lambda n: (n.lineno, n.col_offset))
    for node in assigns:
        name = node.targets[0].id
        if stores.get(name) == 1:
            value = _fold(node.value, names=found)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                found[name] = value
    return found


def _findings(tree: ast.AST, modules: dict[str, str], ottt_names: dict[str, str],
              protected: set[str] = frozenset()) -> Iterable[tuple[int, str]]:
    defined = _bindings(tree)
    scan = _Scan(modules, ottt_names, set(defined))
    scan.constants = _constants(tree)
    scan.visit(tree)
    flagged = {line for line, what in scan.found if what.startswith(("binds ", "redefines ", "assigns "))}
    for name, line in defined.items():
        if name in ottt_names and line not in flagged:  # import ... as, except ... as
            scan.found.append((line, f"rebinds {ottt_names[name]} (imported by the setup cell)"))
        elif name in protected and name not in ottt_names:
            scan.found.append((line, f"rebinds {name} (a name the notebook's test cells use)"))
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


def _protected(nb: Any) -> set[str]:
    """The names the locked code cells take from earlier cells (``print``, ``torch``, a checker),
    less those the answer cells are meant to define (``MyReplaceforGrad``): an answer that
    rebinds one changes what a test cell runs."""
    taken, answers = set(), set()
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        meta = meta if isinstance(meta, dict) else {}
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_python_source(_source(cell))[0])
        except SyntaxError:
            continue
        if meta.get("locked"):
            taken |= _free_names(tree)
        elif meta.get("solution"):
            answers |= set(_bindings(tree))
    return taken - answers


_FLAGS = ("locked", "solution", "grade", "points")


def _flags_as_released(index: int, meta: dict, handed_out: dict) -> tuple[dict, str]:
    """``(the cell's nbgrader metadata as handed out, a note if the submission changed it)``. A
    cell whose ``grade_id`` the release does not have is the student's own: never locked."""
    grade_id = meta.get("grade_id")
    released = handed_out.get(grade_id) if isinstance(grade_id, str) else None
    label = f"cell {index}" + (f" ({grade_id})" if isinstance(grade_id, str) else "")
    if released is None:
        said = (f"review: {label} is marked locked but the handed-out notebook has no locked cell "
                f"of that id; scanned as the student's code") if meta.get("locked") else ""
        return {k: v for k, v in meta.items() if k != "locked"}, said
    changed = [f"{k}: {released.get(k, False)!r} -> {meta.get(k, False)!r}" for k in _FLAGS
               if meta.get(k, False) != released.get(k, False)]
    said = (f"review: {label} has nbgrader flags changed from the handed-out notebook "
            f"({', '.join(changed)}); judged by the handed-out flags") if changed else ""
    return released, said


def review_notes(nb: Any, release: Any = None) -> list[str]:
    """One note per suspicious line of the notebook's code cells that the student wrote: with
    ``release`` (the student edition it was made from), every unlocked code cell whose source is
    not one of the edition's (extra cells and cells stripped of their metadata included); without
    it, the answer (solution) cells. Locked cells are left out: nbgrader puts its own back.
    Whether a cell is locked is the release's word, found by ``grade_id``, never the
    submission's (a student can mark an answer cell ``locked``: nbgrader restores the flags
    from its database and runs the student's code); a changed flag is a note of its own."""
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
    protected = _protected(release if release is not None else nb)
    given = None if release is None else {_source(c).strip() for c in release.get("cells", [])}
    handed_out, kinds = {}, {}
    for c in ([] if release is None else release.get("cells", [])):
        m = c.get("metadata", {}).get("nbgrader", {})
        if isinstance(m, dict) and isinstance(m.get("grade_id"), str):
            handed_out[m["grade_id"]], kinds[m["grade_id"]] = m, c.get("cell_type")
    notes = []
    for i, cell in enumerate(cells, start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        meta = meta if isinstance(meta, dict) else {}
        handed_as = kinds.get(meta.get("grade_id")) if isinstance(meta.get("grade_id"), str) else None
        if handed_as == "code" and cell.get("cell_type") != "code":
            # nbgrader gives a cell back the type it was handed out with, and runs it
            notes.append(f"review: cell {i} ({meta['grade_id']}) was handed in as a "
                         f"{cell.get('cell_type')} cell; nbgrader runs it as the code cell it was "
                         f"handed out as, so it is scanned as code")
        elif cell.get("cell_type") != "code":
            continue
        if release is not None:
            meta, flag_note = _flags_as_released(i, meta, handed_out)
            if flag_note:
                notes.append(flag_note)
        if meta.get("locked"):
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
        for line, what in _findings(tree, {**modules, **cell_modules}, ottt_names, protected):
            if (line, what) not in seen:
                seen.add((line, what))
                notes.append(f"review: {label} line {line} {what}")
    return notes
