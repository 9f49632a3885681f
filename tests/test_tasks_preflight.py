"""preflight.py: what will not work, said in one line each before ``tasks.py`` installs anything
(issue 21, item 9). The checks take the platform's facts as arguments: every case is made up
here and runs on any machine."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import preflight  # noqa: E402
import tasks  # noqa: E402
from preflight import Facts, problems  # noqa: E402

SHORT = "C:\\Users\\ana\\ottt_edu"
LONG = "C:\\Users\\ana.lovelace\\OneDrive - University of Somewhere\\Documents\\courses\\ottt_edu"
GOOD = [
    Facts("Linux", "x86_64", libc=("glibc", "2.31")),
    Facts("Linux", "aarch64", libc=("glibc", "2.28")),
    Facts("Linux", "x86_64", libc=("", "")),                # not glibc (or unknown): pip decides
    Facts("Darwin", "arm64", mac_version="14.0"),
    Facts("Darwin", "arm64", mac_version="15.3.1"),
    Facts("Darwin", "arm64", mac_version=""),               # unknown: pip decides
    Facts("Windows", "AMD64", root=SHORT),
    Facts("Windows", "AMD64", root=LONG, long_paths=True),
]


@pytest.mark.parametrize("facts", GOOD, ids=lambda f: f"{f.system}-{f.machine}-{f.mac_version}"
                                                        f"{f.libc[1]}-{len(f.root)}-{f.long_paths}")
def test_a_supported_machine_has_no_problem(facts):
    assert problems(facts) == []


@pytest.mark.parametrize("facts, expected", [
    (Facts("Darwin", "arm64", mac_version="13.6.1"), ["macOS 13.6.1", "macOS 14.0 (Sonoma) or newer"]),
    (Facts("Darwin", "arm64", mac_version="12.7"), ["macOS 12.7", "update macOS"]),
    (Facts("Darwin", "x86_64", mac_version="14.2"), ["macOS x86-64", "Rosetta", "arm64 Python"]),
    (Facts("Windows", "ARM64", root=SHORT), ["Windows on ARM64", "WSL 2"]),
    (Facts("Windows", "AMD64", root=LONG), [f"{len(LONG)} characters long", "C:\\ottt_edu",
                                           "LongPathsEnabled /t REG_DWORD /d 1"]),
    (Facts("Windows", "AMD64", root=LONG, long_paths=False), ["long paths are not enabled"]),
    (Facts("Linux", "x86_64", libc=("glibc", "2.17")), ["glibc 2.17", "glibc 2.28 or newer",
                                                       "manylinux_2_28"]),
    (Facts("Linux", "x86_64", libc=("glibc", "2.27")), ["glibc 2.27"]),
    (Facts("Linux", "ppc64le", libc=("glibc", "2.35")), ["Linux on ppc64le", "x86-64 and aarch64"]),
])
def test_each_problem_is_one_line_that_says_what_to_do(facts, expected):
    found = problems(facts)
    assert len(found) == 1 and "\n" not in found[0], found
    for text in expected:
        assert text in found[0], found[0]


def test_several_problems_are_a_line_each():
    found = problems(Facts("Darwin", "x86_64", mac_version="13.0"))
    assert len(found) == 2 and "x86-64" in found[0] and "macOS 13.0" in found[1]
    found = problems(Facts("Windows", "ARM64", root=LONG))
    assert len(found) == 2 and "ARM64" in found[0] and "characters long" in found[1]


def test_the_windows_path_limit_is_on_the_length():
    at = "C:\\" + "x" * (preflight.MAX_WINDOWS_ROOT - 3)
    assert len(at) == preflight.MAX_WINDOWS_ROOT
    assert problems(Facts("Windows", "AMD64", root=at)) == []
    assert len(problems(Facts("Windows", "AMD64", root=at + "x"))) == 1


@pytest.mark.parametrize("text, version", [("14.5.1", (14, 5, 1)), ("2.28", (2, 28)),
                                           ("2.28-rc1", (2, 28)), ("", ()), ("x", ())])
def test_versions_are_read_as_numbers(text, version):
    assert preflight._version(text) == version


def test_this_machine_reads_the_running_platform():
    facts = preflight.this_machine(str(ROOT))
    assert facts.system and facts.machine and facts.root == str(ROOT)
    if sys.platform.startswith("linux"):
        assert facts.libc[0] in ("glibc", "")
        assert facts.long_paths is None


def test_env_stops_with_one_line_per_problem_and_exit_code_2(monkeypatch, capsys, tmp_path):
    """``python tasks.py env`` on a machine the lock cannot serve: no pip run, no traceback."""
    monkeypatch.setattr(tasks, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(tasks, "STAMP", tmp_path / ".venv" / ".ottt-edu-installed")
    ran = []
    monkeypatch.setattr(tasks, "_run", lambda cmd, **kw: ran.append([str(c) for c in cmd]))
    monkeypatch.setattr(tasks, "_describe", lambda python: {"version": [3, 12, 8],
                                                            "base_prefix": "/usr", "executable": python})
    monkeypatch.setattr(preflight, "this_machine", lambda root: Facts(
        "Windows", "ARM64", root=LONG))
    assert tasks.main(["env"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("tasks.py env: error: ") for line in err), err
    assert "Windows on ARM64" in err[0] and "characters long" in err[1]
    assert not any("pip" in cmd for cmd in ran), ran        # the venv may be made, nothing installed


def test_env_on_a_supported_machine_goes_on_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(tasks, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(tasks, "STAMP", tmp_path / ".venv" / ".ottt-edu-installed")
    ran = []

    def run(cmd, **kw):
        ran.append([str(c) for c in cmd])
        if "venv" in ran[-1]:
            (tmp_path / ".venv").mkdir()
    monkeypatch.setattr(tasks, "_run", run)
    monkeypatch.setattr(tasks, "_describe", lambda python: {"version": [3, 12, 8],
                                                            "base_prefix": "/usr", "executable": python})
    monkeypatch.setattr(preflight, "this_machine", lambda root: GOOD[0])
    assert tasks.main(["env"]) == 0
    assert any("-r" in cmd for cmd in ran), ran


def test_preflight_runs_alone_with_the_standard_library():
    done = subprocess.run([sys.executable, "-S", "-I", str(ROOT / "preflight.py")], capture_output=True,
                          text=True, encoding="utf-8", timeout=60)
    assert done.returncode in (0, 2), done.stderr
    assert (done.stdout + done.stderr).startswith("preflight.py: ")
