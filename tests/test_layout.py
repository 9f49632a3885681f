"""The package's layout: layers kept (import-linter), no import cycle, modules of one sitting,
tests that mirror the tree, and no file naming a module path that does not exist.

The rules themselves are in CONTRIBUTING.md and in ``[tool.importlinter]`` of pyproject.toml.
"""
from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ottt_edu"
MAX_LINES = 800


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` (import-linter's command) run on the package found in ``cwd``."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    env = {**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)


def test_import_linter_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout), result.stdout
    assert int(re.search(r"Contracts: (\d+) kept", result.stdout).group(1)) >= 6


@pytest.mark.parametrize("module, bad_import, contract", [
    ("layer/dropout.py", "from ..course import language as _bad", "The library (layer, neuron, functional)"),
    ("train/config.py", "from ..course import language as _bad", "Training imports no course"),
    ("neuron/lif.py", "import matplotlib as _bad", "The library needs torch alone"),
    ("neuron/memory.py", "from . import lif as _bad", "No import cycles"),
])
def test_the_contracts_catch_a_broken_rule(tmp_path, module, bad_import, contract):
    """Each rule bites: one forbidden import in a copy of the package breaks its contract."""
    shutil.copytree(PACKAGE, tmp_path / "ottt_edu", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "ottt_edu" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{bad_import}\n", encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert contract in " ".join(result.stdout.split()) and "BROKEN" in result.stdout, result.stdout


def test_no_import_cycle_between_any_two_modules():
    """Stricter than import-linter's siblings: no cycle at all in the module graph (function-level
    imports included), through package ``__init__`` files too."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("ottt_edu")
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    # Tarjan's strongly connected components, iteratively.
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on_stack.add(root)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]; counter[0] += 1
                    stack.append(nxt); on_stack.add(nxt)
                    work.append((nxt, iter(edges[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop(); on_stack.discard(m); component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    assert not cycles, f"import cycles: {cycles}"


def test_every_module_fits_one_sitting():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"


def test_every_module_says_what_it_is_for():
    missing = []
    for p in PACKAGE.rglob("*.py"):
        text = p.read_text(encoding="utf-8").lstrip()
        if not text.startswith(('"""', 'r"""')):
            missing.append(str(p.relative_to(ROOT)))
    assert not missing, f"modules without a docstring: {missing}"


def test_tests_mirror_the_package():
    """``tests/<name>/`` for every subpackage ``ottt_edu/<name>/``, and no test folder for a
    subpackage that does not exist (``tests/notebooks/`` tests ``notebooks/``)."""
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    test_dirs = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert subpackages - test_dirs == set(), f"no tests/<name>/ for {sorted(subpackages - test_dirs)}"
    assert test_dirs - subpackages == {"notebooks"}, sorted(test_dirs - subpackages)


PUBLIC_API = ["ReplaceforGrad", "GradwithTrace", "SpikeTraceOp", "OTTTSequential", "OTTTLIFNode",
              "LIFNode", "SLTTLIFNode", "ottt_online_training", "fptt_online_training",
              "fptt_online_training_init_w_ra", "Dropout", "MemoryModule", "reset_net",
              "detach_net", "finite_check", "surrogate", "set_language", "get_language"]


def test_the_public_api_is_where_it_was():
    import ottt_edu
    assert sorted(ottt_edu.__all__) == sorted(PUBLIC_API)
    for name in PUBLIC_API:
        assert getattr(ottt_edu, name) is not None
    assert ottt_edu.surrogate.Sigmoid is importlib.import_module("ottt_edu.neuron.surrogate").Sigmoid


# ------------------------------------------------------------------- module paths named in files
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".cfg", ".txt", ".yml", ".yaml"}
EXTRA_FILES = {"Makefile", ".ci/run"}
FROM_IMPORT = re.compile(r"\bfrom\s+(ottt_edu(?:\.\w+)*)\s+import\s+(\([^)]*\)|[^\n#`;\"]*)")
IMPORT = re.compile(r"^\s*import\s+(ottt_edu(?:\.\w+)+)", re.M)
DOTTED = re.compile(r"(?<![\w./-])(ottt_edu(?:\.[A-Za-z_]\w*)+)")
FILE_PATH = re.compile(r"(?<![\w.-])(ottt_edu/[\w/.-]*\w)")


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the files to scan are the tracked ones")
    files = [ROOT / f for f in out if f and (Path(f).suffix in TEXT_SUFFIXES or f in EXTRA_FILES)]
    here = Path(__file__).resolve()  # this file names stale paths on purpose (the check's own test)
    return [f for f in files if f.is_file() and f.name != "requirements-lock.txt" and f.resolve() != here]


def _text_of(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":  # the sources; outputs are what the sources print
        cells = json.loads(text)["cells"]
        return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells)
    return text


def _resolves(dotted: str) -> bool:
    """``ottt_edu.a.b.c``: a module, or attributes of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _is_module(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def _problems(path: Path) -> list[str]:
    text = _text_of(path)
    rel = path.relative_to(ROOT)
    problems = []
    for m in FROM_IMPORT.finditer(text):
        module = m.group(1)
        if not _is_module(module):
            problems.append(f"{rel}: from {module} import ...: no such module")
            continue
        mod = importlib.import_module(module)
        names = re.sub(r"#[^\n]*", "", m.group(2))
        for name in re.split(r"[,\s()]+", names):
            name = name.strip()
            if not name or not re.fullmatch(r"[A-Za-z_]\w*", name) or name in ("as", "noqa"):
                continue
            if name == "*":
                continue
            if not hasattr(mod, name) and not _is_module(f"{module}.{name}"):
                # 'import X as Y': Y is the alias, not a name of the module
                if re.search(rf"\bas\s+{name}\b", names):
                    continue
                problems.append(f"{rel}: from {module} import {name}: {module} has no {name!r}")
    for m in IMPORT.finditer(text):
        if not _is_module(m.group(1)):
            problems.append(f"{rel}: import {m.group(1)}: no such module")
    for m in DOTTED.finditer(text):
        dotted = m.group(1).rstrip(".")
        if not _resolves(dotted):
            problems.append(f"{rel}: {dotted} does not exist")
    for m in FILE_PATH.finditer(text):
        target = ROOT / m.group(1)
        if not (target.exists() or target.with_suffix(".py").exists()):
            problems.append(f"{rel}: {m.group(1)} does not exist")
    return problems


def test_no_file_names_a_module_path_that_does_not_exist():
    """Notebooks (both languages), docs, benchmarks, scripts, tests and the READMEs name only
    modules, names and files of ``ottt_edu`` that exist."""
    problems = [p for f in _tracked_text_files() for p in _problems(f)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_path_check_finds_a_stale_path(tmp_path):
    stale = tmp_path / "stale.md"
    stale.write_text("from ottt_edu.exercises import check_first_spike_time\n"
                     "see ottt_edu.online_training.sltt_step and ottt_edu/train.py\n"
                     "from ottt_edu.train import no_such_name\n", encoding="utf-8")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        problems = _problems(stale)
    finally:
        ROOT = saved
    assert any("ottt_edu.exercises" in p for p in problems)
    assert any("ottt_edu.online_training.sltt_step" in p for p in problems)
    assert any("ottt_edu/train.py" in p for p in problems)
    assert any("no_such_name" in p for p in problems)
