"""What will not work on this machine, said before ``tasks.py`` installs anything.

The lock's wheels (torch, numpy, scipy) exist only for some platforms; elsewhere pip fails after
a long download with a resolver traceback that names none of the reasons below. ``tasks.py``
calls :func:`problems` with :func:`this_machine`'s facts before it installs the lock, and stops
with one line per problem (exit code 2). :func:`problems` takes the facts as arguments, so every
case is tested on any machine (``tests/test_tasks_preflight.py``). ``python preflight.py`` runs
the checks alone (for an install into an existing environment, docs/install.md).

Standard library only, like ``tasks.py``: this runs before anything is installed.
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from typing import Optional

#: torch 2.13, numpy 2.4 and scipy 1.17 publish macOS wheels for macOS 14 (Sonoma) or newer only
MIN_MACOS = (14, 0)
#: their Linux wheels are manylinux_2_28 (torch) and manylinux_2_27/2_28 (numpy, scipy)
MIN_GLIBC = (2, 28)
#: the Linux CPUs the lock has wheels for (``platform.machine()``)
LINUX_MACHINES = ("x86_64", "aarch64", "arm64")
#: Without long paths, Windows refuses paths of 260 characters or more. torch's install failed for
#: a repository path longer than about 67 characters (its deepest files, under
#: ``.venv\\Lib\\site-packages\\torch\\include\\...``, and pip's temporary copies of them);
#: 60 leaves a margin.
MAX_WINDOWS_ROOT = 60
LONG_PATHS_KEY = r"SYSTEM\CurrentControlSet\Control\FileSystem"
ENABLE_LONG_PATHS = (r'reg add HKLM\SYSTEM\CurrentControlSet\Control\FileSystem /v LongPathsEnabled '
                     r'/t REG_DWORD /d 1 /f')


@dataclass(frozen=True)
class Facts:
    """What the checks look at; :func:`this_machine` reads them, tests make them up."""

    system: str                      #: ``platform.system()``: "Linux", "Darwin", "Windows", ...
    machine: str                     #: ``platform.machine()``: "x86_64", "arm64", "AMD64", "ARM64"
    mac_version: str = ""            #: ``platform.mac_ver()[0]``, e.g. "14.5"; "" elsewhere
    libc: tuple[str, str] = ("", "")  #: ``platform.libc_ver()``, e.g. ("glibc", "2.31")
    root: str = ""                   #: the repository's folder (where ``.venv`` goes)
    long_paths: Optional[bool] = None  #: Windows' ``LongPathsEnabled``; None: unknown (not set)


def _version(text: str) -> tuple[int, ...]:
    """``"14.5.1"`` -> ``(14, 5, 1)``; the numeric prefix of each part (``"2.28-rc"`` -> 2, 28)."""
    parts = []
    for piece in text.split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _shown(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def problems(facts: Facts) -> list[str]:
    """One line for each reason the lock cannot be installed on ``facts``' machine, with what
    to do instead; ``[]`` when nothing known stands in the way."""
    found = []
    if facts.system == "Darwin":
        version = _version(facts.mac_version)
        if facts.machine == "x86_64":
            found.append("this Python runs on macOS x86-64 (an Intel Mac, or an x86-64 Python under "
                         "Rosetta): PyTorch publishes no macOS x86-64 wheel of the lock's torch (its "
                         "last was 2.2); on an Apple-silicon Mac use an arm64 Python (python.org's "
                         "installer is universal), else the conda route of docs/install.md")
        if version and version < MIN_MACOS:
            found.append(f"this is macOS {facts.mac_version}: torch, numpy and scipy publish wheels "
                         f"for macOS {_shown(MIN_MACOS)} (Sonoma) or newer only; update macOS "
                         f"(System Settings > General > Software Update) or use a Linux machine")
    elif facts.system == "Windows":
        if facts.machine.upper() in ("ARM64", "AARCH64"):
            found.append("this is Windows on ARM64: the lock's torch has no wheel for it on the "
                         "package index; use WSL 2 (an aarch64 Linux has wheels: wsl --install) or "
                         "a Windows x64 or Linux machine")
        if len(facts.root) > MAX_WINDOWS_ROOT and not facts.long_paths:
            found.append(f"the repository's path is {len(facts.root)} characters long "
                         f"({facts.root}) and Windows' long paths are not enabled: torch's "
                         f"install fails on paths of 260 characters or more. Move the repository "
                         f"to a short path (e.g. C:\\ottt_edu, not a OneDrive folder), or enable "
                         f"long paths once, as administrator: {ENABLE_LONG_PATHS}")
    elif facts.system == "Linux":
        if facts.machine not in LINUX_MACHINES:
            found.append(f"this is Linux on {facts.machine or 'an unknown CPU'}: the lock's torch "
                         f"has wheels for x86-64 and aarch64 only; use one of those machines")
        name, version = facts.libc
        if name == "glibc" and _version(version) and _version(version) < MIN_GLIBC:
            found.append(f"this Linux has glibc {version}: the wheels of torch, numpy and scipy "
                         f"need glibc {_shown(MIN_GLIBC)} or newer (manylinux_2_28); use a newer "
                         f"distribution (Ubuntu 20.04, Debian 10, RHEL 8 or later) or a container "
                         f"of one")
    return found


def _windows_long_paths() -> Optional[bool]:
    """``LongPathsEnabled`` under HKLM (Windows only); None when it cannot be read (unset)."""
    try:
        import winreg
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, LONG_PATHS_KEY) as key:
            value, _ = winreg.QueryValueEx(key, "LongPathsEnabled")
        return bool(value)
    except (ImportError, OSError):
        return None


def this_machine(root: str) -> Facts:
    """The facts of the machine running this (``root``: the repository's folder)."""
    system = platform.system()
    return Facts(system=system, machine=platform.machine(),
                 mac_version=platform.mac_ver()[0] if system == "Darwin" else "",
                 libc=tuple(platform.libc_ver()) if system == "Linux" else ("", ""),
                 root=str(root),
                 long_paths=_windows_long_paths() if sys.platform == "win32" else None)


def main() -> int:
    """``python preflight.py``: the problems of this machine, one line each (exit code 2)."""
    from pathlib import Path
    found = problems(this_machine(str(Path(__file__).resolve().parent)))
    for line in found:
        print(f"preflight.py: error: {line}", file=sys.stderr)
    if not found:
        print("preflight.py: nothing known stands in the way of installing the lock here")
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
