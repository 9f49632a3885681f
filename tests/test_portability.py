"""What keeps the project working on Windows and under any locale (issue 21, item 10).

* Every text file the project's own code opens names its encoding: ``read_text()``,
  ``write_text()`` and ``open()`` in text mode without ``encoding=`` use the locale's encoding
  (cp1252 on an English Windows, gbk/cp936 on a Chinese one, cp932 on a Japanese one), so a
  UTF-8 notebook or pip report fails to decode there. Checked on the syntax tree of every Python
  file of ``ottt_edu/``, ``scripts/``, ``benchmarks/``, ``tests/`` and ``tasks.py``, and of the
  notebooks' code cells (a student runs those on Windows).
* The Makefile takes ``py -3`` or ``python`` on Windows (python.org's install has no ``python3``).

Run the static tests under a non-UTF-8 locale to see the rule hold:
``PYTHONUTF8=0 LANG=C LC_ALL=C python -m pytest tests/test_portability.py tests/test_layout.py``.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON_FOLDERS = ("ottt_edu", "scripts", "benchmarks", "tests")
NOTEBOOK_FOLDERS = ("notebooks", "notebooks/zh-CN")


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _has_kwargs(call: ast.Call) -> bool:
    return any(k.arg is None for k in call.keywords)  # f(**options): cannot be judged, accepted


def _mode(call: ast.Call, position: int) -> ast.expr | None:
    """The ``mode`` argument of an open-like call: keyword, or positional at ``position``."""
    mode = _keyword(call, "mode")
    if mode is None and len(call.args) > position:
        mode = call.args[position]
    return mode


def _is_binary(mode: ast.expr | None, default: str = "r") -> bool:
    if mode is None:
        return "b" in default
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and "b" in mode.value


def _last_name(node: ast.expr) -> str | None:
    """``PIL.Image`` -> ``"Image"``, ``io`` -> ``"io"``; None for anything else."""
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def unencoded_text_io(source: str) -> list[tuple[int, str]]:
    """``(line, call)`` for each text-mode file access in ``source`` that names no encoding:
    ``x.read_text()``, ``x.write_text(s)``, ``open(f)`` / ``open(f, "w")`` / ``x.open("a")``
    (``"rb"``, ``"wb"``... are fine), ``io.open``, ``tempfile.NamedTemporaryFile("w")``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _has_kwargs(node) or _keyword(node, "encoding"):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        owner = _last_name(func.value) if isinstance(func, ast.Attribute) else None
        if isinstance(func, ast.Attribute) and name == "read_text":
            bad = not node.args                              # read_text(encoding, errors)
        elif isinstance(func, ast.Attribute) and name == "write_text":
            bad = len(node.args) < 2                         # write_text(data, encoding, ...)
        elif name == "open" and (isinstance(func, ast.Name) or owner == "io"):
            bad = not _is_binary(_mode(node, 1)) and len(node.args) < 4   # open(f, mode, buffering, encoding)
        elif isinstance(func, ast.Attribute) and name == "open" and owner not in (
                "os", "Image", "webbrowser", "tarfile", "zipfile", "gzip", "bz2", "lzma", "nbformat"):
            bad = not _is_binary(_mode(node, 0)) and len(node.args) < 3   # Path.open(mode, buffering, encoding)
        elif name in ("NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
            bad = not _is_binary(_mode(node, 0), default="w+b")
        else:
            continue
        if bad:
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def _project_python_files() -> list[Path]:
    files = [ROOT / "tasks.py"]
    for folder in PYTHON_FOLDERS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def _notebook_code(path: Path) -> str:
    """The code cells of a notebook, IPython's magics and shell lines blanked (lines kept)."""
    lines = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines += ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    return "\n".join(lines)


def test_the_check_finds_each_unencoded_text_access():
    source = textwrap.dedent('''
        p.read_text()
        p.write_text("x")
        open(f)
        open(f, "w")
        open(f, mode="a")
        io.open(f, "r")
        p.open()
        p.open("w")
        tempfile.NamedTemporaryFile("w", suffix=".json")
        open(f, mode)
    ''')
    assert [line for line, _ in unencoded_text_io(source)] == list(range(2, 12))


def test_the_check_accepts_encoded_and_binary_access():
    source = textwrap.dedent('''
        p.read_text(encoding="utf-8")
        p.read_text("utf-8")
        p.write_text("x", encoding="utf-8")
        p.write_text("x", "utf-8")
        open(f, "rb")
        open(f, "wb")
        open(f, mode="ab")
        open(f, "w", encoding="utf-8", newline="\\n")
        p.open("rb")
        p.open("w", encoding="utf-8")
        os.open(f, os.O_RDONLY)
        PIL.Image.open(buf)
        tempfile.NamedTemporaryFile(suffix=".pt")
        tempfile.TemporaryFile("w+b")
        p.read_bytes()
        open(f, **options)
    ''')
    assert unencoded_text_io(source) == []


def test_every_text_file_the_project_opens_names_its_encoding():
    problems = []
    for path in _project_python_files():
        rel = path.relative_to(ROOT).as_posix()
        problems += [f"{rel}:{line}: {call}"
                     for line, call in unencoded_text_io(path.read_text(encoding="utf-8"))]
    assert not problems, ("text files opened without encoding= (the locale's encoding on "
                          "Windows; add encoding=\"utf-8\"):\n" + "\n".join(problems))


def test_every_notebook_code_cell_names_its_encoding():
    notebooks = sorted(p for folder in NOTEBOOK_FOLDERS for p in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
    assert notebooks
    problems = []
    for path in notebooks:
        rel = path.relative_to(ROOT).as_posix()
        problems += [f"{rel} (code line {line}): {call}"
                     for line, call in unencoded_text_io(_notebook_code(path))]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------ Makefile

def _make_dry_run(tmp_path: Path, *extra: str, fake_py: bool) -> str:
    """``make -n test`` as GNU make would run it; ``fake_py`` puts a ``where`` on the PATH
    that finds ``py.exe``, as on a Windows machine with the python.org launcher."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("GNU make is not installed here")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    where = bin_dir / "where"
    if fake_py:
        where.write_text("#!/bin/sh\necho 'C:\\Windows\\py.exe'\n", encoding="utf-8")
    else:
        where.write_text("#!/bin/sh\necho 'INFO: Could not find files for the given pattern(s).' >&2\n"
                         "exit 1\n", encoding="utf-8")
    where.chmod(where.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "OS", "MAKEFLAGS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run([make, "-s", "-n", "-C", str(ROOT), *extra, "test"], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(sys.platform == "win32", reason="fakes Windows' `where` with a POSIX sh script")
@pytest.mark.parametrize("os_name, fake_py, expected", [
    (None, True, "python3 tasks.py  test"),                      # Linux, macOS
    ("Windows_NT", True, "py -3 tasks.py  test"),                # python.org's launcher
    ("Windows_NT", False, "python tasks.py  test"),              # conda, the Microsoft Store
])
def test_the_makefile_picks_the_python_of_the_platform(tmp_path, os_name, fake_py, expected):
    extra = (f"OS={os_name}",) if os_name else ()
    assert _make_dry_run(tmp_path, *extra, fake_py=fake_py) == expected


@pytest.mark.skipif(sys.platform == "win32", reason="fakes Windows' `where` with a POSIX sh script")
def test_a_python_asked_for_wins_on_windows_too(tmp_path):
    out = _make_dry_run(tmp_path, "OS=Windows_NT", "PYTHON=C:/Python313/python.exe", fake_py=True)
    assert out == "C:/Python313/python.exe tasks.py --python C:/Python313/python.exe test"
