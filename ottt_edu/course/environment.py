"""Is this the environment the notebooks' stored outputs were made with? / 检查运行环境。

Notebook 00 calls ``check_environment()``. It compares the installed versions of the packages
the stored outputs depend on with the exact pins of ``requirements-lock.txt`` when that file is
at hand (a clone of the repository, with ``ottt_edu`` installed from it), and says plainly what
it could not check when it is not (for example when a teacher handed out only ``notebooks/``).
Versions are compared as *public* versions: torch's CPU build ``2.13.0+cpu`` satisfies the pin
``2.13.0``. Nothing printed depends on the Python minor version or the platform, so the stored
output is the same on every supported machine whose versions match the lock.
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

__all__ = ["KEY_PACKAGES", "MIN_PYTHON", "PackageCheck", "EnvironmentReport", "find_lock",
           "read_pins", "public_version", "check_environment"]

# The packages whose versions the stored outputs depend on.
KEY_PACKAGES = ("torch", "numpy", "matplotlib", "scikit-learn", "ipywidgets", "tqdm")
MIN_PYTHON = (3, 11)
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]*)\s*==\s*([^\s;#]+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def public_version(version: str) -> str:
    """``'2.13.0+cpu'`` -> ``'2.13.0'`` (PEP 440: a local label does not change the release)."""
    return version.split("+", 1)[0]


def find_lock() -> Optional[Path]:
    """``requirements-lock.txt`` of the checkout ``ottt_edu`` was installed from, if any."""
    candidate = Path(__file__).resolve().parents[2] / "requirements-lock.txt"
    return candidate if candidate.is_file() else None


def read_pins(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the ``name==version`` lines of a lock file."""
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            pins[_canonical(m.group(1))] = m.group(2)
    return pins


@dataclass(frozen=True)
class PackageCheck:
    """One package: what is installed and what the lock pins (``None``: unknown/missing)."""

    name: str
    installed: Optional[str]
    pinned: Optional[str]

    @property
    def ok(self) -> bool:
        return (self.installed is not None and self.pinned is not None
                and public_version(self.installed) == public_version(self.pinned))


@dataclass
class EnvironmentReport:
    """What ``check_environment`` found; ``str(report)`` is the text notebook 00 prints."""

    packages: list[PackageCheck]
    lock: Optional[Path]
    python_ok: bool
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when Python is new enough and every key package matches the lock."""
        return self.python_ok and self.lock is not None and all(p.ok for p in self.packages)

    def __str__(self) -> str:
        lines = []
        for p in self.packages:
            if self.lock is None:
                status = "installed" if p.installed else "MISSING"
                lines.append(f"{p.name:<13} {public_version(p.installed or '-'):<12} {status}")
            elif p.ok:
                lines.append(f"{p.name:<13} {p.pinned:<12} ok")
            else:
                lines.append(f"{p.name:<13} {p.pinned or '(not pinned)':<12} DIFFERENT: "
                             f"{p.installed or 'not installed'}")
        py = ".".join(map(str, MIN_PYTHON))
        lines.append(f"{'python':<13} {py + '+':<12} {'ok' if self.python_ok else 'TOO OLD'}")
        lines += self.notes
        return "\n".join(lines)


def _installed(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_environment(lock: Optional[Path] = None) -> EnvironmentReport:
    """Compare the installed key packages with the lock (found next to ``ottt_edu`` if not given)."""
    lock = find_lock() if lock is None else Path(lock)
    notes = []
    if lock is None or not lock.is_file():
        notes.append("could not check the versions against requirements-lock.txt: it is not next "
                     "to the installed ottt_edu (were the notebooks handed out on their own?). "
                     "The stored outputs were made with the lock's versions; others may print "
                     "slightly different numbers.")
        lock, pins = None, {}
    else:
        pins = read_pins(lock)
    packages = [PackageCheck(name, _installed(name), pins.get(_canonical(name)))
                for name in KEY_PACKAGES]
    report = EnvironmentReport(packages, lock, sys.version_info[:2] >= MIN_PYTHON, notes)
    if lock is not None and not all(p.ok for p in packages):
        report.notes.append("some versions differ from the lock: run `make lab` (or "
                            "`python tasks.py lab`) from the repository to use the pinned set.")
    return report
