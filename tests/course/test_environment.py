"""ottt_edu.course.environment (notebook 00's check) and ottt_edu.threads (the thread policy)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ottt_edu import threads
from ottt_edu.course import environment

ROOT = Path(__file__).resolve().parents[2]


def test_public_version_drops_the_local_label():
    assert environment.public_version("2.13.0+cpu") == "2.13.0"
    assert environment.public_version("2.4.6") == "2.4.6"


def test_cpu_build_satisfies_the_public_pin():
    assert environment.PackageCheck("torch", "2.13.0+cpu", "2.13.0").ok
    assert not environment.PackageCheck("torch", "2.12.0", "2.13.0").ok
    assert not environment.PackageCheck("torch", None, "2.13.0").ok


def test_report_against_the_repository_lock_is_ok():
    report = environment.check_environment()
    assert report.lock == ROOT / "requirements-lock.txt"
    assert report.ok, str(report)
    text = str(report)
    assert "DIFFERENT" not in text and "could not check" not in text
    assert text.splitlines()[-1] == "python        3.11+        ok"  # the same on 3.11, 3.12, 3.13


def test_read_pins_handles_markers_and_comments(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("# comment\nTorch==2.13.0\nappnope==0.1.4; sys_platform == \"darwin\"\n"
                    "scikit_learn==1.9.1  # pinned\n", encoding="utf-8")
    assert environment.read_pins(lock) == {"torch": "2.13.0", "appnope": "0.1.4",
                                           "scikit-learn": "1.9.1"}


def test_a_different_version_is_reported_with_the_fix(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("torch==1.0.0\n", encoding="utf-8")
    report = environment.check_environment(lock)
    assert not report.ok
    text = str(report)
    assert "torch         1.0.0        DIFFERENT: " in text
    assert "numpy" in text and "(not pinned)" in text
    assert "make lab" in text


def test_without_the_lock_it_says_what_it_could_not_check(tmp_path, monkeypatch):
    monkeypatch.setattr(environment, "find_lock", lambda: None)
    report = environment.check_environment()
    assert not report.ok and report.lock is None
    text = str(report)
    assert "could not check the versions against requirements-lock.txt" in text
    assert "torch" in text and "installed" in text


def test_notebooks_read_nothing_outside_their_folder():
    for md in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        text = md.read_text(encoding="utf-8")
        assert '"..' not in text and "'.." not in text and "Path(\"..\"" not in text, md.name


# -- thread policy ----------------------------------------------------------------------------
@pytest.mark.parametrize("env,expected", [
    ({}, 1),
    ({"OTTT_EDU_THREADS": "3"}, 3),
    ({"OTTT_EDU_THREADS": " 2 "}, 2),
    ({"OTTT_EDU_THREADS": "torch"}, None),
    ({"OTTT_EDU_THREADS": "TORCH"}, None),
    ({"OMP_NUM_THREADS": "4"}, None),
    ({"OMP_NUM_THREADS": "4", "OTTT_EDU_THREADS": "1"}, 1),
])
def test_policy_threads(env, expected):
    assert threads.policy_threads(env) == expected


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
def test_bad_thread_setting_names_the_variable_and_the_fix(bad):
    with pytest.raises(ValueError, match=r"OTTT_EDU_THREADS=.*positive integer.*'torch'"):
        threads.policy_threads({"OTTT_EDU_THREADS": bad})


def test_apply_sets_and_reports_the_count():
    before = torch.get_num_threads()
    try:
        assert threads.apply_thread_policy({"OTTT_EDU_THREADS": "2"}) == 2
        assert torch.get_num_threads() == 2
        assert threads.apply_thread_policy({"OTTT_EDU_THREADS": "torch"}) == 2  # left alone
    finally:
        torch.set_num_threads(before)


def _threads_after_import(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("OTTT_EDU_THREADS", "OMP_NUM_THREADS")}
    clean.update(env)
    out = subprocess.run([sys.executable, "-c", "import ottt_edu, torch; print(torch.get_num_threads())"],
                         env=clean, capture_output=True, text=True, check=True).stdout
    return int(out)


def test_import_applies_the_policy_and_overrides_win():
    assert _threads_after_import() == 1
    assert _threads_after_import(OTTT_EDU_THREADS="2") == 2
    assert _threads_after_import(OMP_NUM_THREADS="2") == 2
