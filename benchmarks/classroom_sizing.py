#!/usr/bin/env python
"""Classroom sizing: how long each notebook takes, idle and loaded, how much memory, how many per core.

Usage (from the repository root, with the project's environment)::

    .venv/bin/python benchmarks/classroom_sizing.py                        # every notebook, everything
    .venv/bin/python benchmarks/classroom_sizing.py --notebooks 00 --skip-concurrency   # quick check
    .venv/bin/python benchmarks/classroom_sizing.py --notebooks 01 03 07 --json sizing.json

In one run, side by side, for each chosen notebook of the English edition (``notebooks/``):

(a) **idle**: wall time of "restart kernel and run all" -- a fresh kernel ``python3`` of *this*
    interpreter (jupyter_client starts ``python`` kernelspecs with ``sys.executable``), working
    directory ``notebooks/``, every cell executed by nbclient on a copy in memory (nothing is
    written), kernel start and shutdown included;
(b) **loaded**: the same with ``--burners`` (default 2) ``python -c "while True: pass"`` processes
    beside it, as a student laptop with a browser and a video call has, each in a session of its
    own like a separate program (see ``burners``); they are stopped after the run, and on every
    exit path (exception, Ctrl-C, SIGTERM; on Linux they also die with this process if it is
    killed);
(c) **memory**: the kernel process's peak resident set (``VmHWM`` from ``/proc/<pid>/status``,
    read after the last cell; on systems without ``/proc`` the largest RSS psutil saw, polled
    every 0.2 s);
(d) **concurrency** (JupyterHub sizing): 1, 2 and 4 kernels (``--kernels``) running the same
    mid-size notebook (``--concurrent-notebook``; default: the chosen notebook with the median
    idle time) at the same time, each in its own process as separate students would be; the wall
    time of each and the ratio to one kernel alone, with the machine's core count;
(e) **server**: the resident memory of a JupyterLab server (``python -m jupyterlab``, the process
    a JupyterHub single-user server runs) after it served the ``/lab`` page, and again with one
    kernel started through its REST API (the kernel itself not counted).

(f) **student time** (no kernel needed): for each notebook, the words of its markdown cells (in
    the ``.md`` twin, front matter left out; whitespace-separated tokens, formulas and table cells
    included), its graded exercises and points (nbgrader ``solution`` cells and the ``points`` of
    graded cells) and its open, ungraded exercises ("Your turn"/"Exercise"/"Discussion"
    headings beyond the graded ones: 07's encoding question, 08's discussion), and an estimate
    of a student's minutes computed from them::

        student minutes = words / WPM + MIN_PER_POINT * points + MIN_PER_OPEN * open exercises
                          + the measured loaded "run all" time (idle if --skip-load)

    WPM (``--wpm``, default 120), MIN_PER_POINT (``--min-per-point``, 10) and MIN_PER_OPEN
    (``--min-per-open``, 15) are stated assumptions, not measurements: change them to your class.

It prints the machine (cores, RAM, load average before starting), then markdown tables with the
ratios loaded/idle and k-concurrent/1. ``--skip-load``, ``--skip-concurrency``, ``--skip-server``
and ``--no-warmup`` keep a quick run quick. Times on a shared machine are noisy: compare the
ratios, which come from the same run, and state the load average printed at the start.

The kernels inherit this process's environment, so ``OTTT_EDU_THREADS`` (ottt_edu's default is one
torch thread per kernel, ``ottt_edu/threads.py``) applies to every kernel; the header says which.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

import psutil

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "python3"
BURN = "while True: pass"
DEFAULT_KERNELS = (1, 2, 4)

# Every child this script starts (burners, concurrency workers, the Jupyter server), so that
# every exit path can stop them -- and only them.
_CHILDREN: list[subprocess.Popen] = []


# --------------------------------------------------------------------------- processes

def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: ask the kernel to SIGTERM this child when its parent dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _spawn(cmd: list, **kw) -> subprocess.Popen:
    if sys.platform.startswith("linux"):
        kw.setdefault("preexec_fn", _die_with_parent)
    proc = subprocess.Popen([str(c) for c in cmd], **kw)
    _CHILDREN.append(proc)
    return proc


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop ``proc`` and everything it started (a worker's kernel runs in its own session)."""
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        tree = []
    for p in [proc, *tree]:
        with contextlib.suppress(Exception):
            p.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(timeout=grace)
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if proc in _CHILDREN:
        _CHILDREN.remove(proc)


def stop_all_children() -> None:
    for proc in list(_CHILDREN):
        _stop(proc)


@contextlib.contextmanager
def burners(n: int) -> Iterator[list]:
    """``n`` processes running ``python -c "while True: pass"`` for the ``with`` block.

    Each burner gets a session of its own, as separate programs (a browser, a video call) have.
    jupyter_client starts every kernel in a new session too, and with Linux's scheduler autogroups
    (``/proc/sys/kernel/sched_autogroup_enabled``) CPU time is shared fairly between sessions:
    burners left in this script's session would share one slot between them and barely slow the
    kernel down (measured here: loaded / idle 0.99 over all notebooks), which no laptop does."""
    procs = [_spawn([sys.executable, "-c", BURN], stdin=subprocess.DEVNULL, start_new_session=True)
             for _ in range(n)]
    try:
        time.sleep(0.5)  # let them reach the loop before the measurement starts
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{len(dead)} CPU burner(s) exited at once (status {dead[0].returncode})")
        yield procs
    finally:
        for p in procs:
            _stop(p)


def _on_sigterm(signum, frame):  # turn SIGTERM into an exception so the finally blocks run
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- one notebook

def _peak_rss_kib(pid: int) -> Optional[int]:
    """``VmHWM`` (peak resident set, KiB) of ``pid``, or None without ``/proc``."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class _RssPoller(threading.Thread):
    """Largest RSS of one process seen every ``every`` seconds (the fallback without /proc)."""

    def __init__(self, every: float = 0.2):
        super().__init__(daemon=True)
        self.every, self.pid, self.peak_kib = every, None, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            if self.pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                self.peak_kib = max(self.peak_kib, psutil.Process(self.pid).memory_info().rss // 1024)

    def stop(self) -> None:
        self._stop_event.set()


def run_notebook(path: Path, cell_timeout: Optional[int] = None) -> dict:
    """Restart-and-run-all ``path`` in a fresh ``python3`` kernel; wall time and kernel peak RSS."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    poller = _RssPoller()
    seen: dict = {"pid": None, "hwm": None, "exe": None, "cells": 0}

    def pid_of(client) -> Optional[int]:
        km = client.km
        prov = getattr(km, "provisioner", None)
        proc = getattr(prov, "process", None) or getattr(km, "kernel", None)
        return getattr(proc, "pid", None) or getattr(prov, "pid", None)

    client = NotebookClient(nb, kernel_name=KERNEL, timeout=cell_timeout, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})

    def on_start(notebook=None, **_):
        seen["pid"] = poller.pid = pid_of(client)
        with contextlib.suppress(psutil.Error, TypeError):
            seen["exe"] = psutil.Process(seen["pid"]).cmdline()[0]

    def on_cell(cell=None, **_):
        seen["cells"] += 1
        if seen["pid"] is not None:
            hwm = _peak_rss_kib(seen["pid"])
            if hwm is not None:
                seen["hwm"] = hwm  # VmHWM only grows: the value after the last cell is the peak

    client.on_notebook_start = on_start
    client.on_cell_executed = on_cell
    poller.start()
    error = None
    t0 = time.perf_counter()
    try:
        client.execute()
    except Exception as e:  # a failing cell: report it, keep benchmarking the others
        error = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    finally:
        wall = time.perf_counter() - t0
        poller.stop()
    # nbclient catches SIGINT/SIGTERM while it runs (it shuts the kernel down and lets the cell
    # fail); it leaves this future behind when it did. An interrupted run is no measurement.
    if getattr(client, "_async_cleanup_kernel_future", None) is not None:
        raise KeyboardInterrupt
    peak = seen["hwm"] if seen["hwm"] is not None else (poller.peak_kib or None)
    return {"notebook": path.stem, "wall_s": wall, "peak_rss_kib": peak,
            "rss_source": "VmHWM" if seen["hwm"] is not None else "psutil poll",
            "kernel_exe": seen["exe"], "cells_run": seen["cells"], "error": error}


def warm_up() -> float:
    """One throwaway kernel that imports what the notebooks import, so the first measured
    notebook does not pay for a cold file cache."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import torch, matplotlib.pyplot, ottt_edu, ottt_edu.course.widgets, sklearn.datasets"))
    t0 = time.perf_counter()
    NotebookClient(nb, kernel_name=KERNEL, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- concurrency

def run_concurrently(path: Path, k: int, cell_timeout: Optional[int]) -> dict:
    """``k`` worker processes, each running ``path`` in its own kernel, started together."""
    cmd = [sys.executable, __file__, "--_worker", str(path)]
    if cell_timeout:
        cmd += ["--cell-timeout", str(cell_timeout)]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    procs = [_spawn(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
             for _ in range(k)]
    results = []
    try:
        for p in procs:
            out, _ = p.communicate()
            line = (out or "").strip().splitlines()[-1:] or ["{}"]
            try:
                results.append(json.loads(line[0]))
            except json.JSONDecodeError:
                results.append({"error": f"worker exited {p.returncode} without a result"})
            if p in _CHILDREN:
                _CHILDREN.remove(p)
    finally:
        for p in procs:
            if p.poll() is None:
                _stop(p)
    return {"k": k, "makespan_s": time.perf_counter() - t0, "runs": results,
            "load_before": load_before}


# --------------------------------------------------------------------------- Jupyter server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(url: str, method: str = "GET", body: Optional[bytes] = None, timeout: float = 10):
    req = urllib.request.Request(url, method=method, data=body,
                                 headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def measure_server(start_timeout: float = 90.0) -> dict:
    """RSS of a JupyterLab server after serving /lab, and with one kernel (not counted) running."""
    port, token = _free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="ottt-sizing-jupyter-") as tmp:
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(Path(tmp) / "config"),
               "JUPYTER_RUNTIME_DIR": str(Path(tmp) / "runtime")}
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={NOTEBOOKS}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(Path(tmp) / "server.log", "w", encoding="utf-8")
        proc = _spawn(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        base, q = f"http://127.0.0.1:{port}", f"token={token}"
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited with status {proc.returncode}")
                try:
                    if _http(f"{base}/api/status?{q}", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer within {start_timeout:.0f} s")
                time.sleep(0.5)
            for page in ("lab", "api/kernelspecs", "api/contents", "lab/api/settings"):
                with contextlib.suppress(OSError):
                    _http(f"{base}/{page}?{q}", timeout=30)
            time.sleep(2)
            server = psutil.Process(proc.pid)
            idle_kib = server.memory_info().rss // 1024
            _, body = _http(f"{base}/api/kernels?{q}", "POST",
                            json.dumps({"name": KERNEL}).encode(), timeout=60)
            kernel_id = json.loads(body)["id"]
            time.sleep(5)  # the kernel starts and the server connects its channels
            with_kernel_kib = server.memory_info().rss // 1024
            kernels = [c for c in server.children(recursive=True)]
            empty_kernel_kib = max((c.memory_info().rss // 1024 for c in kernels), default=None)
            with contextlib.suppress(OSError):
                _http(f"{base}/api/kernels/{kernel_id}?{q}", "DELETE", timeout=30)
            return {"server_idle_rss_kib": idle_kib, "server_with_kernel_rss_kib": with_kernel_kib,
                    "empty_kernel_rss_kib": empty_kernel_kib, "error": None}
        finally:
            _stop(proc, grace=10)
            log.close()


# --------------------------------------------------------------------------- student time

# "Your turn" / "Exercise" / "Discussion" headings; those beyond the graded (solution) cells are
# open exercises (07's encoding question, 08's discussion).
_HEADING_EXERCISE = re.compile(r"^#+\s*(?:\d+\.\s*)?(?:Your turn|Exercise|Discussion)\b",
                               re.M | re.I)


def static_counts(path: Path) -> dict:
    """Words of the markdown, graded exercises and points, open exercises of one notebook (from
    its ``.md`` twin when there is one, else the ``.ipynb``)."""
    md = path.with_suffix(".md")
    if md.exists():
        import jupytext

        nb = jupytext.read(md)
        source = md.name
    else:
        import nbformat

        nb = nbformat.read(path, as_version=4)
        source = path.name
    words = solutions = points = headings = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            words += len(cell.source.split())
            headings += len(_HEADING_EXERCISE.findall(cell.source))
        if meta.get("solution"):
            solutions += 1
        if meta.get("grade") and meta.get("points"):
            points += float(meta["points"])
    return {"notebook": path.stem, "source": source, "words": words, "graded_exercises": solutions,
            "points": points, "open_exercises": max(0, headings - solutions)}


def student_minutes(counts: dict, machine_s: Optional[float], wpm: float, per_point: float,
                    per_open: float) -> dict:
    reading = counts["words"] / wpm
    exercises = per_point * counts["points"] + per_open * counts["open_exercises"]
    machine = (machine_s or 0.0) / 60
    return {"reading_min": reading, "exercise_min": exercises, "machine_min": machine,
            "total_min": reading + exercises + machine}


# --------------------------------------------------------------------------- report

def _mib(kib: Optional[int]) -> str:
    return "—" if not kib else f"{kib / 1024:.0f}"


def _s(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.1f}"


def machine() -> dict:
    vm = psutil.virtual_memory()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"logical_cores": os.cpu_count(), "physical_cores": psutil.cpu_count(logical=False),
            "ram_total_gib": vm.total / 2**30, "ram_available_gib": vm.available / 2**30,
            "load_average": load, "platform": platform.platform(),
            "python": sys.executable, "python_version": platform.python_version(),
            "OTTT_EDU_THREADS": os.environ.get("OTTT_EDU_THREADS"),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def print_machine(m: dict) -> None:
    load = m["load_average"]
    threads = m["OTTT_EDU_THREADS"] or (f"unset, OMP_NUM_THREADS={m['OMP_NUM_THREADS']}"
                                        if m["OMP_NUM_THREADS"] else "unset: 1 torch thread per kernel")
    print(f"machine: {m['logical_cores']} logical cores ({m['physical_cores']} physical), "
          f"{m['ram_total_gib']:.1f} GiB RAM ({m['ram_available_gib']:.1f} GiB available), "
          f"{m['platform']}")
    if load:
        print(f"load average before starting: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1, 5, 15 min)")
    print(f"kernel: {KERNEL} of {m['python']} (Python {m['python_version']}); "
          f"OTTT_EDU_THREADS: {threads}")


def print_tables(res: dict) -> None:
    rows = res["notebooks"]
    if rows:
        print("\n| notebook | idle (s) | loaded (s) | loaded / idle | kernel peak RSS (MiB) |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            idle, loaded = r["idle"], r.get("loaded")
            ratio = (f"{loaded['wall_s'] / idle['wall_s']:.2f}"
                     if loaded and not loaded["error"] and not idle["error"] else "—")
            peak = max(x["peak_rss_kib"] or 0 for x in (idle, loaded) if x) or None
            notes = "; ".join(f"{w}: {x['error']}" for w, x in (("idle", idle), ("loaded", loaded))
                              if x and x["error"])
            print(f"| {r['notebook']} | {_s(idle['wall_s'])} | {_s(loaded['wall_s']) if loaded else '—'}"
                  f" | {ratio} | {_mib(peak)} |" + (f" ERROR {notes}" if notes else ""))
        idle_sum = sum(r["idle"]["wall_s"] for r in rows)
        line = f"all {len(rows)} notebooks: idle {idle_sum / 60:.1f} min"
        if all(r.get("loaded") for r in rows):
            loaded_sum = sum(r["loaded"]["wall_s"] for r in rows)
            line += f", loaded {loaded_sum / 60:.1f} min (loaded / idle {loaded_sum / idle_sum:.2f})"
        print(line)
        print(f"(loaded = {res['burners']} x `python -c \"{BURN}\"` beside the kernel; "
              f"RSS = {rows[0]['idle']['rss_source']} of the kernel process, the larger of both runs)")
    st = res.get("student_time")
    if st:
        a = st["assumptions"]
        print(f"\nstudent time: words / {a['wpm']:g} wpm + {a['min_per_point']:g} min per point + "
              f"{a['min_per_open']:g} min per open exercise + the measured {st['machine_column']} "
              f"run-all time (assumptions stated, not measured)")
        print("| notebook | words | reading (min) | graded exercises | points | open exercises "
              "| exercises (min) | machine (min) | student (min) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in st["rows"]:
            print(f"| {r['notebook']} | {r['words']} | {r['reading_min']:.0f} | "
                  f"{r['graded_exercises']} | {r['points']:g} | {r['open_exercises']} | "
                  f"{r['exercise_min']:.0f} | {r['machine_min']:.1f} | {r['total_min']:.0f} |")
        tot = {k: sum(r[k] for r in st["rows"]) for k in
               ("words", "points", "reading_min", "exercise_min", "machine_min", "total_min")}
        print(f"| all | {tot['words']} | {tot['reading_min']:.0f} | | {tot['points']:g} | | "
              f"{tot['exercise_min']:.0f} | {tot['machine_min']:.1f} | {tot['total_min']:.0f} |")
    conc = res.get("concurrency")
    if conc:
        cores = res["machine"]["logical_cores"]
        print(f"\nconcurrency: {conc['notebook']}, k kernels at once on {cores} logical cores")
        print("| kernels | kernels / core | wall of each (s) | mean (s) | mean / 1 kernel "
              "| notebooks per minute | load before |")
        print("|---:|---:|---|---:|---:|---:|---:|")
        base = None
        for c in conc["runs"]:
            walls = [r["wall_s"] for r in c["runs"] if not r.get("error") and "wall_s" in r]
            errors = [r["error"] for r in c["runs"] if r.get("error")]
            if not walls:
                print(f"| {c['k']} | {c['k'] / cores:.2f} | — | — | — | — | — | ERROR {errors[:1]}")
                continue
            mean = statistics.mean(walls)
            base = base or (mean if c["k"] == 1 else None)
            ratio = f"{mean / base:.2f}" if base else "—"
            rate = len(walls) / c["makespan_s"] * 60
            load = f"{c['load_before']:.2f}" if c["load_before"] is not None else "—"
            print(f"| {c['k']} | {c['k'] / cores:.2f} | {', '.join(f'{w:.1f}' for w in walls)} | "
                  f"{mean:.1f} | {ratio} | {rate:.2f} | {load} |" + (f" ERROR {errors[:1]}" if errors else ""))
    srv = res.get("server")
    if srv:
        print("\nJupyterLab server (python -m jupyterlab), resident memory:")
        if srv.get("error"):
            print(f"  not measured: {srv['error']}")
        else:
            print(f"  after serving /lab: {_mib(srv['server_idle_rss_kib'])} MiB; with one kernel "
                  f"running: {_mib(srv['server_with_kernel_rss_kib'])} MiB (kernel not counted); "
                  f"a fresh kernel before any import: {_mib(srv['empty_kernel_rss_kib'])} MiB")


# --------------------------------------------------------------------------- main

def notebook_paths(numbers: list[str]) -> list[Path]:
    every = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not numbers:
        return every
    found = []
    for n in numbers:
        hits = [p for p in every if p.name.startswith(n) or p.stem == n]
        if not hits:
            raise SystemExit(f"error: no notebook in {NOTEBOOKS} starts with {n!r}; choose from "
                             f"{', '.join(p.name[:2] for p in every)}")
        found += [h for h in hits if h not in found]
    return found


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notebooks", nargs="+", default=[], metavar="NN",
                   help="notebook numbers (default: every notebook in notebooks/)")
    p.add_argument("--burners", type=int, default=2, help="CPU burners for the loaded runs (2)")
    p.add_argument("--skip-load", action="store_true", help="no loaded runs (b)")
    p.add_argument("--skip-concurrency", action="store_true", help="no concurrent kernels (d)")
    p.add_argument("--skip-server", action="store_true", help="no JupyterLab server measurement (e)")
    p.add_argument("--no-warmup", action="store_true", help="no throwaway warm-up kernel first")
    p.add_argument("--kernels", type=int, nargs="+", default=list(DEFAULT_KERNELS),
                   help="concurrent kernel counts (default: 1 2 4)")
    p.add_argument("--concurrent-notebook", metavar="NN",
                   help="notebook for (d) (default: the chosen one with the median idle time)")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (no limit)")
    p.add_argument("--wpm", type=float, default=120.0,
                   help="assumed reading speed for the student-time estimate (120 words/min)")
    p.add_argument("--min-per-point", type=float, default=10.0,
                   help="assumed minutes per point of a graded exercise (10)")
    p.add_argument("--min-per-open", type=float, default=15.0,
                   help="assumed minutes per open, ungraded exercise (15)")
    p.add_argument("--static-only", action="store_true",
                   help="only the student-time counts (f): no kernel is started")
    p.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    p.add_argument("--_worker", type=Path, help=argparse.SUPPRESS)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    a = parser().parse_args(argv)
    if a._worker:  # one concurrency worker: run the notebook, print one JSON line
        signal.signal(signal.SIGTERM, _on_sigterm)
        print(json.dumps(run_notebook(a._worker, a.cell_timeout)), flush=True)
        return 0
    paths = notebook_paths(a.notebooks)
    signal.signal(signal.SIGTERM, _on_sigterm)
    m = machine()
    print_machine(m)
    res: dict = {"machine": m, "burners": a.burners, "notebooks": [], "concurrency": None,
                 "server": None, "command": " ".join([Path(sys.executable).name, *sys.argv])}
    failed = False
    try:
        if a.static_only:
            a.skip_load = a.skip_concurrency = a.skip_server = a.no_warmup = True
            paths_to_run = []
        else:
            paths_to_run = paths
        if not a.no_warmup:
            print(f"warm-up kernel: {warm_up():.1f} s", flush=True)
        for path in paths_to_run:
            row = {"notebook": path.stem, "idle": run_notebook(path, a.cell_timeout)}
            print(f"  {path.stem}: idle {row['idle']['wall_s']:.1f} s, kernel peak "
                  f"{_mib(row['idle']['peak_rss_kib'])} MiB"
                  + (f", ERROR {row['idle']['error']}" if row["idle"]["error"] else ""), flush=True)
            if not a.skip_load:
                with burners(a.burners):
                    row["loaded"] = run_notebook(path, a.cell_timeout)
                print(f"  {path.stem}: loaded {row['loaded']['wall_s']:.1f} s"
                      + (f", ERROR {row['loaded']['error']}" if row["loaded"]["error"] else ""),
                      flush=True)
            failed |= bool(row["idle"]["error"] or (row.get("loaded") or {}).get("error"))
            res["notebooks"].append(row)
        if not a.skip_concurrency:
            if a.concurrent_notebook:
                mid = notebook_paths([a.concurrent_notebook])[0]
            else:
                ok = sorted((r for r in res["notebooks"] if not r["idle"]["error"]),
                            key=lambda r: r["idle"]["wall_s"])
                stem = ok[(len(ok) - 1) // 2]["notebook"] if ok else None
                mid = NOTEBOOKS / f"{stem}.ipynb" if stem else notebook_paths(["06"])[0]
            res["concurrency"] = {"notebook": mid.stem, "runs": []}
            for k in a.kernels:
                c = run_concurrently(mid, k, a.cell_timeout)
                res["concurrency"]["runs"].append(c)
                walls = ", ".join(f"{r['wall_s']:.1f}" if "wall_s" in r else "error" for r in c["runs"])
                print(f"  {k} concurrent kernel(s) on {mid.stem}: {walls} s", flush=True)
                failed |= any(r.get("error") for r in c["runs"])
        if not a.skip_server:
            try:
                res["server"] = measure_server()
            except Exception as e:
                res["server"] = {"error": f"{type(e).__name__}: {e}"}
    finally:
        stop_all_children()
    measured = {r["notebook"]: r for r in res["notebooks"]}
    column = "idle" if a.skip_load else "loaded"
    rows = []
    for path in paths:
        counts = static_counts(path)
        run = measured.get(path.stem, {}).get(column)
        machine_s = run["wall_s"] if run and not run["error"] else None
        rows.append({**counts, **student_minutes(counts, machine_s, a.wpm, a.min_per_point,
                                                 a.min_per_open), "machine_s": machine_s})
    res["student_time"] = {"rows": rows, "machine_column": column if measured else "(not run)",
                           "assumptions": {"wpm": a.wpm, "min_per_point": a.min_per_point,
                                           "min_per_open": a.min_per_open}}
    res["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print_tables(res)
    if res["load_average_after"]:
        la = res["load_average_after"]
        print(f"\nload average after: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {a.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        stop_all_children()
        print("\ninterrupted; stopped every process this benchmark started", file=sys.stderr)
        sys.exit(130)
