#!/usr/bin/env python3
"""The course's set-up and maintenance commands, with nothing but Python (the Makefile calls this).

    python tasks.py lab        # create .venv from the lock (first time), open JupyterLab on notebooks/
    python tasks.py test       # same environment; unit tests + every notebook under nbval

On Windows use ``py tasks.py lab`` / ``py tasks.py test``. ``--python PATH`` picks the interpreter
that builds ``.venv`` (it is rebuilt when an existing one was made by another interpreter).

Maintenance (``python tasks.py --help`` lists all):

    python tasks.py notebook 04     # restart-and-run-all notebook 04 in place, re-sync its .md twin
    python tasks.py notebooks       # the same for every notebook
    python tasks.py sync            # re-sync every .ipynb with its .md twin (the edited one wins)
    python tasks.py check-lock      # resolve the lock for Linux/macOS/Windows as a plain machine sees it
    python tasks.py site            # the course's site, _build/site/en and _build/site/zh-CN
    python tasks.py site --check    # the same with warnings as errors, offline, then its checks

Before it installs the lock, ``preflight.py`` (beside this file) says in one line each what will
not work on this machine (an old macOS, Windows on ARM64, a long Windows path, an old glibc).

Standard library only: this file runs before anything is installed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import preflight  # beside this file; standard library only

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements-lock.txt"
SITE_LOCK = ROOT / "requirements-site.txt"  # the `site` extra's pins, on top of LOCK
ZH_DIR = ROOT / "notebooks" / "zh-CN"
NOTEBOOK_DIRS = [ROOT / "notebooks", ZH_DIR]
KERNEL = "ottt-edu"
KERNEL_DISPLAY = "Python (ottt-edu)"
STAMP = VENV / ".ottt-edu-installed"
# What the lock needs: numpy 2.4, scipy 1.17, IPython 9 and friends require Python >= 3.11;
# `python tasks.py check-lock` checks 3.11 to 3.13.
MIN_PYTHON = (3, 11)
CHECKED_UP_TO = (3, 13)


class TaskError(Exception):
    """An error for the user, printed without a traceback (exit code 2): one line, or one line per
    argument (``TaskError(first, second)``)."""


# --------------------------------------------------------------------------- the environment

def venv_python(venv: Path | None = None) -> Path:
    """The interpreter inside ``venv`` (``Scripts\\python.exe`` on Windows)."""
    venv = VENV if venv is None else venv
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _run(cmd: list, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], **kw)
    if code:
        raise TaskError(f"command failed with exit code {code}: {' '.join(str(c) for c in cmd)}")


def _describe(python: str) -> dict:
    """Version and real prefix of an interpreter (raises TaskError if it does not run)."""
    probe = ("import json, sys; print(json.dumps({'version': list(sys.version_info[:3]), "
             "'base_prefix': sys.base_prefix, 'executable': sys.executable}))")
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise TaskError(f"cannot run the interpreter {python!r} ({e}); pass an existing one "
                        f"with --python (e.g. --python python3.12)") from None
    return json.loads(out)


def _check_version(info: dict, python: str) -> None:
    version = tuple(info["version"])
    shown = ".".join(map(str, version))
    if version[:2] < MIN_PYTHON:
        raise TaskError(
            f"{python} is Python {shown}; the pinned lock needs Python "
            f"{'.'.join(map(str, MIN_PYTHON))} or newer (numpy 2.4, scipy 1.17, IPython 9). "
            f"Install Python 3.11-3.13 and run: python3.12 tasks.py ... (or make PYTHON=python3.12 ...)")
    if version[:2] > CHECKED_UP_TO:
        print(f"warning: Python {shown} is newer than the lock was checked for "
              f"(3.11-{CHECKED_UP_TO[0]}.{CHECKED_UP_TO[1]}); if a pin has no wheel for it, "
              f"use Python 3.13 or older.", file=sys.stderr)


def check_platform(facts: "preflight.Facts | None" = None) -> None:
    """Before installing: stop with one line per thing that will not work here (an old macOS,
    Windows on ARM64, a long Windows path, an old glibc; see preflight.py)."""
    found = preflight.problems(facts or preflight.this_machine(str(ROOT)))
    if found:
        raise TaskError(*found)


def _fingerprint(info: dict) -> str:
    h = hashlib.sha256()
    for f in (LOCK, ROOT / "pyproject.toml"):
        h.update(f.read_bytes())
    h.update(json.dumps(info["version"]).encode())
    return h.hexdigest()


def _venv_base_prefix() -> str | None:
    cfg = VENV / "pyvenv.cfg"
    if not cfg.exists() or not venv_python().exists():
        return None
    try:
        return _describe(str(venv_python()))["base_prefix"]
    except TaskError:
        return None


def ensure_env(python: str | None = None) -> Path:
    """Create or update ``.venv`` from the lock; return its interpreter.

    ``python`` is the interpreter asked for (``--python``); without it, an existing working
    ``.venv`` is kept and a new one is made with the interpreter running this file. A ``.venv``
    made by another interpreter than the one asked for is rebuilt.
    """
    have = _venv_base_prefix()
    if python is None and have is not None:      # keep the working .venv, whoever runs this file
        info = _describe(str(venv_python()))
        _check_version(info, str(venv_python()))
    else:
        asked = python or sys.executable
        info = _describe(asked)
        _check_version(info, asked)
        if have is not None and os.path.realpath(have) != os.path.realpath(info["base_prefix"]):
            print(f"{VENV.name} was made by another interpreter ({have}); rebuilding it with {asked}")
            have = None
        if have is None:
            if VENV.exists():
                shutil.rmtree(VENV)
            _run([asked, "-m", "venv", VENV])
    py = venv_python()
    want = _fingerprint(info)
    if STAMP.exists() and STAMP.read_text(encoding="utf-8").strip() == want:
        return py
    check_platform()
    _run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip>=23"])
    _run([py, "-m", "pip", "install", "--quiet", "-r", LOCK])
    _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ROOT])
    _run([py, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
          "--display-name", KERNEL_DISPLAY])
    STAMP.write_text(want + "\n", encoding="utf-8")
    return py


# --------------------------------------------------------------------------- lab and test

def lab(args) -> None:
    py = ensure_env(args.python)
    cmd = [py, "-m", "jupyterlab", "--notebook-dir=notebooks",
           f"--MappingKernelManager.default_kernel_name={KERNEL}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses root unless told; containers often are root
    _run(cmd + list(args.rest), cwd=ROOT)


def test(args) -> None:
    py = ensure_env(args.python)
    _run([py, "-m", "pytest", *args.rest], cwd=ROOT)


def test_fast(args) -> None:
    """The unit tests without the notebooks (nbval off); arguments narrow it (a folder, -k EXPR)."""
    py = ensure_env(args.python)
    rest = list(args.rest)
    named = any((ROOT / a.split("::")[0]).exists() for a in rest if not a.startswith("-"))
    paths = [] if named else ["tests"]
    _run([py, "-m", "pytest", "-o", "addopts=-p no:cacheprovider", *paths, *rest], cwd=ROOT)


# Another CPU than the one the outputs were stored on: no vector instructions, two threads.
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "default", "OTTT_EDU_THREADS": "2", "MKL_CBWR": "COMPATIBLE"}


def test_portable(args) -> None:
    """Every notebook under nbval as on another CPU: the stored outputs must not change."""
    py = ensure_env(args.python)
    print("environment:", " ".join(f"{k}={v}" for k, v in PORTABLE_ENV.items()))
    # The Chinese twins print the English numbers (tests/notebooks/test_zh_twins.py): not run twice.
    _run([py, "-m", "pytest", "notebooks", "--ignore=notebooks/zh-CN", *args.rest], cwd=ROOT,
         env={**os.environ, **PORTABLE_ENV})


# --------------------------------------------------------------------------- notebooks

TEMPORARY_MARKS = ("_tmp_jupytext_", ".ottt-tmp")  # leftovers of an interrupted write


def _every_notebook() -> list[Path]:
    return sorted(p for d in NOTEBOOK_DIRS for p in d.glob("[0-9][0-9]_*.ipynb")
                  if not any(mark in p.name for mark in TEMPORARY_MARKS))


def notebook_paths(names: list[str]) -> list[Path]:
    """``["04"]`` -> ``[notebooks/04_....ipynb]``; no names -> every notebook.

    A name is a notebook's exact two-digit number (``04``), its exact name (``04_traces...``,
    with or without ``.ipynb``/``.md``), or a path (``notebooks/zh-CN/04_x.ipynb``, ``zh-CN/04``),
    read from the current folder. ``1`` or ``0`` is refused (it would select several notebooks).
    """
    every = _every_notebook()
    if not names:
        return every
    numbers = ", ".join(sorted({p.name[:2] for p in every}))
    found = []
    for name in names:
        if "/" in name or "\\" in name or name.endswith((".ipynb", ".md")):  # a path
            want = Path(name) if Path(name).is_absolute() else Path.cwd() / name
            if not want.exists() and not want.suffix:
                want = (ROOT / "notebooks" / name)
            want = want.resolve()
            stem = want.with_suffix("").name if want.suffix in (".ipynb", ".md") else want.name
            hits = [p for p in every if p.parent.resolve() == want.parent and
                    (p.stem == stem or (len(stem) == 2 and p.name[:2] == stem))]
        elif len(name) == 2 and name.isdigit():
            hits = [p for p in every if p.parent == NOTEBOOK_DIRS[0] and p.name[:2] == name]
        else:
            hits = [p for p in every if p.parent == NOTEBOOK_DIRS[0] and p.stem == Path(name).stem]
        if not hits:
            hint = (f" (write the two-digit number, e.g. {int(name):02d})"
                    if name.isdigit() and len(name) != 2 else "")
            raise TaskError(f"no notebook is called {name!r}{hint}; choose from {numbers} "
                            f"(zh-CN/NN for a Chinese twin)")
        found.extend(h for h in hits if h not in found)
    return found


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a kill or a full disk leaves the old file or the new
    one, never a part: a temporary file in the same folder, fsync, then replace. Only a regular
    file (or a new path) is replaced."""
    if path.exists() and not path.is_file():
        raise TaskError(f"{path} is not a regular file; not replacing it")
    tmp = path.with_name(f".{path.name}.ottt-tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise TaskError(f"could not write {path} ({e.strerror or e}); it is unchanged") from None


def normalize(path: Path) -> None:
    """Drop what differs between machines and runs: per-cell timing, the Python version."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
    nb["metadata"].get("language_info", {}).pop("version", None)
    jt = nb["metadata"].get("jupytext", {})
    jt.pop("default_lexer", None)  # written by jupytext's sync; the pairing lives in jupytext.toml
    if not jt:
        nb["metadata"].pop("jupytext", None)
    write_atomic(path, json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")


def _notebook_readable(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")).get("cells"), list)
    except (OSError, ValueError, AttributeError):
        return False


def _text_readable(path: Path) -> bool:
    try:
        return bool(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False


SYNC_RECORD = ".ottt-sync.json"  # per notebook folder: each pair's cells at its last sync
STAGING = ".sync.ottt-tmp"       # where jupytext writes before the files are swapped in


def _cells_digest(cells: list) -> str:
    """What a sync carries from one twin to the other: each cell's type and source."""
    parts = [[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]]
             for c in cells]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


def _digest(path: Path) -> str:
    import jupytext
    if path.suffix == ".ipynb":
        return _cells_digest(json.loads(path.read_text(encoding="utf-8"))["cells"])
    return _cells_digest(jupytext.read(path)["cells"])


def _load_record(folder: Path) -> dict:
    try:
        record = json.loads((folder / SYNC_RECORD).read_text(encoding="utf-8"))
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}  # none yet (a fresh clone) or unreadable: the newer twin wins, as in jupytext


def _damage(notebook: Path) -> str | None:
    """Which twin is empty or unreadable (a sync or a run killed while writing, a full disk):
    ``"ipynb"``, ``"md"`` or None. Both damaged: an error that names them."""
    twin = notebook.with_suffix(".md")
    nb_ok = not notebook.exists() or _notebook_readable(notebook)
    md_ok = not twin.exists() or _text_readable(twin)
    if not nb_ok and not md_ok:
        raise TaskError(f"both {notebook} and {twin} are empty or unreadable; restore one "
                        f"(e.g. git checkout -- {notebook.name} {twin.name}) and sync again")
    return None if nb_ok and md_ok else ("ipynb" if not nb_ok else "md")


def _source(notebook: Path, record: dict) -> str:
    """The twin whose cells the sync takes: the one edited since the last sync (from the
    record); with no record, the newer one. Both edited: refused, nothing is dropped."""
    twin = notebook.with_suffix(".md")
    if not twin.exists():
        return "ipynb"
    if not notebook.exists():
        return "md"
    newer = "md" if twin.stat().st_mtime >= notebook.stat().st_mtime else "ipynb"
    nb_cells, md_cells = _digest(notebook), _digest(twin)
    last = record.get(notebook.stem)
    if nb_cells == md_cells or last is None:
        return newer
    if last == nb_cells:
        return "md"
    if last == md_cells:
        return "ipynb"
    raise TaskError(f"both {notebook} and {twin} were edited since the last sync; nothing was "
                    f"changed. Copy one edit into the other file (or undo one, e.g. git checkout "
                    f"-- {twin.name}), then sync again")


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def sync_pairs(paths: list[Path], python: str | None = None) -> None:
    """Sync each notebook with its ``.md`` twin (jupytext), so that a kill or a full disk at any
    moment leaves every file as it was or as synced: jupytext writes copies in a staging folder
    beside them, which replace the files one by one (fsync, ``os.replace``) once all are
    written. A twin left empty or unreadable is rebuilt from the other one, with a note; edits
    in both twins since the last sync are refused."""
    try:
        import jupytext  # noqa: F401
    except ImportError:  # this interpreter has no jupytext: the course's .venv has
        if subprocess.call([str(ensure_env(python)), __file__, "sync", *map(str, paths)]):
            raise TaskError("")  # it has said what went wrong, in one line
        return
    folders: dict[Path, list[Path]] = {}
    for path in paths:
        notebook = Path(path).resolve().with_suffix(".ipynb")
        if not notebook.exists() and not notebook.with_suffix(".md").exists():
            raise TaskError(f"{path} does not exist")
        folders.setdefault(notebook.parent, []).append(notebook)
    for folder, notebooks in folders.items():
        _sync_folder(folder, notebooks)


def _sync_folder(folder: Path, notebooks: list[Path]) -> None:
    staging = folder / STAGING
    if staging.exists():
        shutil.rmtree(staging)
        print(f"note: removed {staging}, left by an interrupted sync (no file was changed by it)")
    record = _load_record(folder)
    plan = []  # (notebook, damaged twin or None, source twin): all decided before any write
    for notebook in notebooks:
        damaged = _damage(notebook)
        source = {"ipynb": "md", "md": "ipynb"}[damaged] if damaged else _source(notebook, record)
        plan.append((notebook, damaged, source))
    try:
        staging.mkdir()
        staged, now = [], time.time()
        for notebook, damaged, source in plan:
            for suffix in ("ipynb", "md"):
                real = notebook.with_suffix("." + suffix)
                if real.exists() and suffix != damaged:
                    shutil.copy2(real, staging / real.name)
                    when = now if suffix == source else now - 60  # jupytext takes the newer's cells
                    os.utime(staging / real.name, (when, when))
            staged.append(staging / notebook.with_suffix("." + source).name)
        _run([sys.executable, "-m", "jupytext", "--sync", *staged], cwd=staging)
        for notebook, _, _ in plan:
            if (staging / notebook.name).exists():
                normalize(staging / notebook.name)
            for suffix in ("ipynb", "md"):
                new, real = staging / notebook.with_suffix("." + suffix).name, notebook.with_suffix("." + suffix)
                if new.exists() and (not real.exists() or real.read_bytes() != new.read_bytes()):
                    _fsync(new)
                    os.replace(new, real)
            if notebook.exists() and notebook.with_suffix(".md").exists():
                os.utime(notebook.with_suffix(".md"))  # the twin never looks older than its notebook
                record[notebook.stem] = _digest(notebook)
        write_atomic(folder / SYNC_RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
    except OSError as e:
        raise TaskError(f"could not sync in {folder} ({e.strerror or e}); every file is as it "
                        f"was or as synced (free space if the disk is full) and sync again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for notebook, damaged, _ in plan:
        if damaged == "ipynb":
            print(f"note: {notebook.name} was empty or unreadable; rebuilt from its twin "
                  f"{notebook.with_suffix('.md').name} (without outputs: python tasks.py notebook "
                  f"{notebook.name[:2]} stores them again)")
        elif damaged == "md":
            print(f"note: {notebook.with_suffix('.md').name} was empty or unreadable; rebuilt "
                  f"from {notebook.name}")


def sync(args) -> None:
    sync_pairs([Path(p) for p in args.paths] or notebook_paths([]), args.python)


def execute(args) -> None:
    """Restart the kernel and run all, in place, for the named notebooks; then re-sync twins."""
    py = ensure_env(args.python)
    timeout = os.environ.get("OTTT_CELL_TIMEOUT", "-1")  # no per-cell limit unless asked
    for path in notebook_paths(args.numbers):
        sync_pairs([path], args.python)  # take edits of the .md first
        # Executed into a temporary copy beside it, which replaces the notebook only once it
        # is complete: a kill or a full disk during the run leaves the stored notebook intact.
        tmp = path.with_name(f".{path.stem}.ottt-tmp.ipynb")
        try:
            _run([py, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                  f"--output={tmp.name}", f"--ExecutePreprocessor.kernel_name={KERNEL}",
                  f"--ExecutePreprocessor.timeout={timeout}",
                  "--ExecutePreprocessor.record_timing=False",
                  "--ExecutePreprocessor.store_widget_state=False", path.name], cwd=path.parent)
            normalize(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        sync_pairs([path], args.python)


# --------------------------------------------------------------------------- classroom

def student(args) -> None:
    """The student edition (nbgrader generate_assignment) into release/en and release/zh-CN."""
    _run([ensure_env(args.python), "-m", "ottt_edu.classroom", "student", *args.rest], cwd=Path.cwd())


def grade(args) -> None:
    """Autograde a folder of submissions (SUBMISSIONS/<student>/NN_name.ipynb) into a CSV."""
    _run([ensure_env(args.python), "-m", "ottt_edu.classroom", "grade", *args.rest], cwd=Path.cwd())


def zh(args) -> None:
    """Rebuild the named Chinese twins from the English code cells, then execute them."""
    py = ensure_env(args.python)
    numbers = list(args.numbers)
    _run([py, "scripts/zh_twins.py", "build", *numbers], cwd=ROOT)
    every = [p for p in notebook_paths([]) if p.parent == ZH_DIR]
    chosen = [p for p in every if not numbers or any(p.name.startswith(n) for n in numbers)]
    args.numbers = [str(p) for p in chosen]
    execute(args)


# --------------------------------------------------------------------------- the site

SITE_STAMP = VENV / ".ottt-edu-site-installed"
SITE_ASSETS = VENV / "site-assets"
#: MathJax 3 for the site's maths, the npm package (its tarball's sha512, as npm's lockfiles write it)
MATHJAX = ("mathjax", "3.2.2",
           "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==")


def _integrity(path: Path) -> str:
    import base64
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def ensure_site_env(python: str | None = None) -> tuple[Path, Path]:
    """``.venv`` plus the ``site`` pins (requirements-site.txt, constrained by the lock) and the
    MathJax tarball (npm); returns the interpreter and the tarball. Installed on first use."""
    py = ensure_env(python)
    want = hashlib.sha256(SITE_LOCK.read_bytes() + LOCK.read_bytes()).hexdigest()
    if not SITE_STAMP.exists() or SITE_STAMP.read_text(encoding="utf-8").strip() != want:
        _run([py, "-m", "pip", "install", "--quiet", "-c", LOCK, "-r", SITE_LOCK])
        SITE_STAMP.write_text(want + "\n", encoding="utf-8")
    name, version, integrity = MATHJAX
    tarball = SITE_ASSETS / f"{name}-{version}.tgz"
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise TaskError(f"the site needs MathJax from npm and npm is not installed: install "
                            f"Node.js (e.g. apt-get install npm), or put {name}-{version}.tgz "
                            f"(npm pack {name}@{version}) in {SITE_ASSETS}")
        SITE_ASSETS.mkdir(parents=True, exist_ok=True)
        _run([npm, "pack", "--silent", f"{name}@{version}", "--pack-destination", SITE_ASSETS])
    if _integrity(tarball) != integrity:
        raise TaskError(f"{tarball} is not {name} {version} (its sha512 differs from the pin); "
                        f"delete it and run python tasks.py site again")
    return py, tarball


def _offline(cmd: list) -> list:
    """``cmd`` in a network namespace of its own where Linux allows one (unshare); else as is."""
    unshare = shutil.which("unshare") if sys.platform.startswith("linux") else None
    if unshare and subprocess.call([unshare, "-rn", "true"], stderr=subprocess.DEVNULL) == 0:
        return [unshare, "-rn", *cmd]
    print("note: no network namespace here (unshare); the site is built with the network on, "
          "and nothing in it asks for the network", file=sys.stderr)
    return cmd


def site(args) -> None:
    """Build the course's site in both languages (``--check``: warnings as errors, offline,
    then the static checks of website/checks.py)."""
    py, tarball = ensure_site_env(args.python)
    rest = list(args.rest)
    cmd = [py, ROOT / "website" / "build.py", "--mathjax", tarball, *rest]
    _run(_offline(cmd) if "--check" in rest else cmd, cwd=ROOT)


# --------------------------------------------------------------------------- misc

def figures(args) -> None:
    _run([ensure_env(args.python), "scripts/make_readme_figures.py", *args.rest], cwd=ROOT)


def bench_fast(args) -> None:
    _run([ensure_env(args.python), "benchmarks/fast_path.py", "--threads", "1", "--repeats", "15",
          *args.rest], cwd=ROOT)


def bench_memory(args) -> None:
    _run([ensure_env(args.python), "benchmarks/memory_time.py", "--threads", "2", *args.rest], cwd=ROOT)


def bench_online(args) -> None:
    _run([ensure_env(args.python), "benchmarks/online_methods.py", "--threads", "1", *args.rest], cwd=ROOT)


def bench_load(args) -> None:
    """Thread counts and notebooks 07/08, idle and beside two CPU burners (one run each)."""
    py = ensure_env(args.python)
    _run([py, "benchmarks/threads.py", *args.rest], cwd=ROOT)
    _run([py, "benchmarks/notebooks_under_load.py"], cwd=ROOT)


def check_lock(args) -> None:
    _run([ensure_env(args.python), "scripts/check_lock.py", *args.rest], cwd=ROOT)


def lock(args) -> None:
    """Re-pin the lock from .venv after a deliberate upgrade, keeping every pin's marker and the
    pins of other platforms (which this machine does not have installed)."""
    py = ensure_env(args.python)
    frozen = subprocess.run([py, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    def key(line: str) -> str:
        return line.split("==")[0].strip().lower().replace("_", "-")
    header, old = [], {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            header.append(line)
        elif line.strip():
            old[key(line)] = line
    new = {}
    site_pins = {key(line) for line in SITE_LOCK.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")}  # the site extra's own lock
    for line in frozen:
        if "==" not in line or key(line).startswith("ottt") or key(line) in site_pins:
            continue
        marker = old.get(key(line), "").partition(";")[2].strip()
        new[key(line)] = f"{line}; {marker}" if marker else line
    for name, line in old.items():
        if name not in new and ";" in line:  # another platform's package
            new[name] = line
    LOCK.write_text("\n".join(header + sorted(new.values(), key=key)) + "\n", encoding="utf-8")
    print(f"wrote {LOCK.name} ({len(new)} pins); now run: python tasks.py check-lock")


def clean(args) -> None:
    for name in (".venv", "build", "_build", "test-artifacts", "release"):
        shutil.rmtree(ROOT / name, ignore_errors=True)
    for egg in ROOT.glob("*.egg-info"):
        shutil.rmtree(egg, ignore_errors=True)


COMMANDS = {
    "env": (lambda a: ensure_env(a.python), "create or update .venv from the lock"),
    "lab": (lab, "open JupyterLab on notebooks/ (extra arguments go to jupyter lab)"),
    "test": (test, "run every test: unit tests and all notebooks (extra arguments go to pytest)"),
    "test-fast": (test_fast, "the unit tests only, no notebooks (extra arguments go to pytest)"),
    "test-portable": (test_portable, "every notebook under nbval with another CPU capability "
                                     "(ATEN_CPU_CAPABILITY=default) and 2 threads"),
    "sync": (sync, "re-sync .ipynb and .md twins (the one edited since the last sync wins; both edited: refused); give paths or none for all"),
    "notebook": (execute, "re-execute the named notebooks in place (e.g. 04 07) and re-sync"),
    "notebooks": (execute, "re-execute every notebook in place and re-sync"),
    "zh": (zh, "rebuild the named Chinese twins (e.g. 04) from the English code cells and run them"),
    "student": (student, "write the student edition (nbgrader) to release/en and release/zh-CN"),
    "grade": (grade, "autograde SUBMISSIONS/<student>/NN_name.ipynb into a CSV (--csv FILE)"),
    "figures": (figures, "rewrite the README pictures in docs/img/"),
    "bench-fast": (bench_fast, "benchmarks/fast_path.py (one thread, 15 repeats)"),
    "bench-memory": (bench_memory, "benchmarks/memory_time.py (two threads)"),
    "bench-online": (bench_online, "benchmarks/online_methods.py: the five methods vs BPTT"),
    "bench-load": (bench_load, "benchmarks/threads.py and notebooks_under_load.py (two CPU burners)"),
    "check-lock": (check_lock, "resolve the lock for every supported platform (downloads wheels)"),
    "lock": (lock, "re-pin the lock from .venv after a deliberate upgrade"),
    "site": (site, "build the site into _build/site/{en,zh-CN} (--check: -W, offline, then its checks)"),
    "clean": (clean, "remove .venv and build outputs"),
}


# Commands whose further arguments go unchanged to the tool they run (pytest, jupyter lab, ...).
PASS_THROUGH = ("env", "lab", "test", "test-fast", "test-portable", "student", "grade", "figures", "bench-fast", "bench-memory",
                "bench-online", "bench-load", "check-lock", "lock", "clean", "site")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tasks.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=None,
                   help="interpreter that builds .venv (default: the one running this file)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (func, help_) in COMMANDS.items():
        s = sub.add_parser(name, help=help_, description=help_)
        s.set_defaults(func=func)
        if name == "notebook":
            s.add_argument("numbers", nargs="+", help="notebook numbers or names, e.g. 04")
        elif name == "zh":
            s.add_argument("numbers", nargs="*", help="notebook numbers, e.g. 04 (default: all)")
        elif name == "notebooks":
            s.set_defaults(numbers=[])
        elif name == "sync":
            s.add_argument("paths", nargs="*", help=".ipynb or .md files (default: all notebooks)")
        else:
            s.set_defaults(rest=[])
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after a pass-through command (test, lab, ...) goes, in order, to the tool it runs.
    rest: list[str] = []
    for i, token in enumerate(argv):
        if token in PASS_THROUGH:
            argv, rest = argv[:i + 1], argv[i + 1:]
            break
        if not token.startswith("-") and (i == 0 or argv[i - 1] != "--python"):
            break  # another command: argparse checks its own arguments
    args = parser().parse_args(argv)
    if hasattr(args, "rest"):
        args.rest = rest
    if args.python is None and os.environ.get("OTTT_PYTHON"):
        args.python = os.environ["OTTT_PYTHON"]  # the Makefile's PYTHON=...
    try:
        args.func(args)
    except TaskError as e:
        for line in filter(None, map(str, e.args)):
            print(f"tasks.py {args.command}: error: {' '.join(line.split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
