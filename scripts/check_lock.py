#!/usr/bin/env python
"""Check that requirements-lock.txt installs on every platform the course supports.

Usage (from the repository root; ``python tasks.py check-lock`` runs it in ``.venv``)::

    .venv/bin/python scripts/check_lock.py                  # every target below
    .venv/bin/python scripts/check_lock.py --only windows   # targets whose name contains "windows"

For each target (operating system, CPU, Python version) it

1. keeps the lock's pins whose environment marker holds there (``appnope; sys_platform ==
   "darwin"``, ...);
2. asks pip to resolve exactly those pins for that platform, as a machine without this project's
   local wheels sees the public index: ``pip install --dry-run --ignore-installed --no-deps
   --only-binary=:all: --platform ... --python-version ...`` with ``PIP_CONFIG_FILE=/dev/null``
   and no ``PIP_FIND_LINKS``. pip fails if a pin has no wheel there (or needs another Python);
3. walks the dependency tree from the project's own requirements (``pyproject.toml``: the
   library, the ``notebooks`` and ``test`` extras), evaluating every marker for the target, and
   fails if a needed package has no pin (it would be installed unpinned) or a pin does not
   satisfy a requirement. Packages that a pinned package itself pins exactly, and torch's CUDA
   runtime on Linux (``cuda-*``, ``nvidia-*``, ``triton``: chosen by torch's own metadata,
   absent with the CPU-only build) are listed, not pinned or downloaded.

The index serves no separate metadata here, so a dry run downloads the wheels: about 0.8 GB for
each Linux x86-64 target (its public torch is the CUDA build), about 2.2 GB and 3-4 minutes for
all seven targets, measured on the development machine.
Exit code 0 when every target passes, 1 otherwise. Not part of ``make test`` (it needs the index).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
# torch's CUDA runtime on Linux (the public Linux x86-64 torch is the CUDA build): torch's own
# metadata chooses these, nothing the notebooks compute depends on them, and the CPU-only torch
# build (see the README) does not install them. They are listed, not pinned.
TORCH_CUDA_RUNTIME = ("cuda-", "nvidia-", "triton")


def _manylinux(arch: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(28, 16, -1)]
    return tags + [f"manylinux2014_{arch}", f"linux_{arch}"]


def _macos_arm64() -> list[str]:
    tags = [f"macosx_{major}_0_arm64" for major in range(14, 10, -1)]
    return tags + [f"macosx_{major}_0_universal2" for major in range(14, 10, -1)] + [
        f"macosx_10_{minor}_universal2" for minor in range(15, 8, -1)]


@dataclass(frozen=True)
class Target:
    """One platform the lock must install on."""

    name: str
    platforms: tuple[str, ...]
    python: str                 # full version, e.g. "3.11.9"
    sys_platform: str
    platform_system: str
    platform_machine: str
    os_name: str

    def environment(self) -> dict[str, str]:
        """PEP 508 marker variables as that machine reports them."""
        return {
            "implementation_name": "cpython", "implementation_version": self.python,
            "os_name": self.os_name, "platform_machine": self.platform_machine,
            "platform_python_implementation": "CPython", "platform_release": "",
            "platform_system": self.platform_system, "platform_version": "",
            "python_full_version": self.python,
            "python_version": ".".join(self.python.split(".")[:2]),
            "sys_platform": self.sys_platform,
        }


TARGETS = [
    Target("Linux x86-64, Python 3.12", tuple(_manylinux("x86_64")), "3.12.8", "linux", "Linux", "x86_64", "posix"),
    Target("Linux aarch64, Python 3.12", tuple(_manylinux("aarch64")), "3.12.8", "linux", "Linux", "aarch64", "posix"),
    Target("macOS arm64, Python 3.11.9", tuple(_macos_arm64()), "3.11.9", "darwin", "Darwin", "arm64", "posix"),
    Target("Windows amd64, Python 3.11.9", ("win_amd64",), "3.11.9", "win32", "Windows", "AMD64", "nt"),
    Target("Linux x86-64, Python 3.13", tuple(_manylinux("x86_64")), "3.13.1", "linux", "Linux", "x86_64", "posix"),
    Target("Windows amd64, Python 3.13", ("win_amd64",), "3.13.1", "win32", "Windows", "AMD64", "nt"),
    Target("macOS arm64, Python 3.13", tuple(_macos_arm64()), "3.13.1", "darwin", "Darwin", "arm64", "posix"),
]


def read_lock(path: Path = LOCK) -> list[Requirement]:
    """The lock's pins (``name==version`` with an optional ``; marker``)."""
    pins = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "+" in specs[0].version:
            raise SystemExit(f"{path.name}:{number}: {line!r} is not an exact public pin (name==version)")
        pins.append(req)
    return pins


def pins_for(target: Target, pins: list[Requirement]) -> dict[str, Requirement]:
    env = target.environment()
    chosen: dict[str, Requirement] = {}
    for req in pins:
        if req.marker is None or req.marker.evaluate(env):
            name = canonicalize_name(req.name)
            if name in chosen:
                raise SystemExit(f"{LOCK.name}: two pins of {req.name} hold on {target.name}")
            chosen[name] = req
    return chosen


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    return [Requirement(r) for r in project["dependencies"] + extras["notebooks"] + extras["test"]]


def resolve(target: Target, chosen: dict[str, Requirement]) -> dict[str, dict]:
    """pip's dry run of the chosen pins for ``target``; returns each package's metadata."""
    with tempfile.TemporaryDirectory() as tmp:
        req_file = Path(tmp) / "pins.txt"
        req_file.write_text("\n".join(f"{r.name}{r.specifier}" for r in chosen.values()) + "\n",
                            encoding="utf-8")
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--no-deps", "--only-binary=:all:", "--quiet", "--report", str(report),
               "--python-version", target.python, "--implementation", "cp",
               "--no-cache-dir", "-r", str(req_file)]
        for plat in target.platforms:
            cmd += ["--platform", plat]
        env = {k: v for k, v in os.environ.items()
               if k not in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL")}
        env["PIP_CONFIG_FILE"] = os.devnull
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            raise LockError("; ".join(errors[-2:]) or done.stderr.strip()[-500:])
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"] for i in items}


class LockError(Exception):
    pass


def walk(target: Target, chosen: dict[str, Requirement], meta: dict[str, dict]) -> list[str]:
    """Problems found walking the dependency tree for ``target`` (empty: all pinned)."""
    env = target.environment()
    problems: list[str] = []
    exact_by_parent: set[str] = set()
    seen: set[tuple[str, frozenset]] = set()
    todo = [(r, "pyproject.toml") for r in project_requirements()]
    while todo:
        req, parent = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in chosen:
            exact = [s for s in req.specifier if s.operator == "=="]
            if name.startswith(TORCH_CUDA_RUNTIME) and parent.startswith(("torch==", "cuda-", "nvidia-")):
                exact_by_parent.add(f"{name}{req.specifier}")
                continue
            if exact:
                exact_by_parent.add(f"{name}=={exact[0].version}")
                continue
            problems.append(f"{req.name} (needed by {parent}: {req}) has no pin for {target.name}")
            continue
        version = str(next(iter(chosen[name].specifier)).version)
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            problems.append(f"{name}=={version} does not satisfy {parent}'s requirement {req}")
        for dep in meta[name].get("requires_dist", []) or []:
            dreq = Requirement(dep)
            if dreq.marker is not None:
                extras = [""] + sorted(req.extras)
                if not any(dreq.marker.evaluate({**env, "extra": e}) for e in extras):
                    continue
            todo.append((dreq, f"{name}=={version}"))
    needed = {n for n, _ in seen}
    unused = sorted(set(chosen) - needed)
    if exact_by_parent:
        print(f"    chosen by their parent's metadata (torch's CUDA runtime; not downloaded): "
              f"{', '.join(sorted(exact_by_parent))}")
    if unused:
        print(f"    pinned but not needed here (harmless): {', '.join(unused)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="run only targets whose name contains this (case-insensitive)")
    args = p.parse_args(argv)
    pins = read_lock()
    targets = [t for t in TARGETS if args.only.lower() in t.name.lower()]
    if not targets:
        p.error(f"no target matches --only {args.only!r}; targets: {[t.name for t in TARGETS]}")
    failed = 0
    for target in targets:
        print(f"{target.name}:", flush=True)
        chosen = pins_for(target, pins)
        try:
            meta = resolve(target, chosen)
            problems = walk(target, chosen, meta)
        except LockError as e:
            problems = [f"pip could not resolve the lock: {e}"]
        for problem in problems:
            print(f"    FAIL {problem}")
        print(f"    {'ok' if not problems else 'FAILED'}: {len(chosen)} pins", flush=True)
        failed += bool(problems)
    print(f"{len(targets) - failed} of {len(targets)} targets pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
