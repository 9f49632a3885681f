"""The classroom commands killed (kill -9) while they write: ``student`` at random moments and
between the two renames of its swap, ``grade``'s CSV just before it replaces the old one. After
each: the release folder holds a whole edition (or the swap is undone by the rerun), the CSV is
the old one or the new one, and a rerun recovers."""
from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="kill -9 is POSIX: Windows has no SIGKILL (os.kill(pid, 9) there is "
                                       "TerminateProcess with exit code 9, not the -9 these tests read)")
ROOT = Path(__file__).resolve().parents[2]
STUDENT = [sys.executable, "-m", "ottt_edu.classroom", "student", "--edition", "en", "--out"]

KILL_AT_REPLACE = """
import os, sys
real, count = os.replace, [0]
def replace(a, b):
    count[0] += 1
    if count[0] == {k}:
        os.kill(os.getpid(), 9)
    real(a, b)
os.replace = replace
{body}
"""


def _whole_edition(folder: Path, names: set) -> bool:
    if not folder.is_dir() or {p.name for p in folder.iterdir()} != names:
        return False
    return all(json.loads(p.read_text(encoding="utf-8"))["cells"] for p in folder.iterdir())


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    done = subprocess.run([*STUDENT, str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return out, {p.name for p in (out / "en").iterdir()}


def _copy(edition, tmp_path) -> Path:
    out = tmp_path / "release"
    shutil.copytree(edition[0], out)
    return out


def _rerun(out: Path, names: set) -> str:
    done = subprocess.run([*STUDENT, str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _whole_edition(out / "en", names)
    assert sorted(p.name for p in out.iterdir()) == ["en"]  # no leftover of the killed build
    return done.stderr


def test_student_killed_at_random_moments_keeps_a_whole_edition(edition, tmp_path):
    out, names = _copy(edition, tmp_path), edition[1]
    rng = random.Random(0)
    for _ in range(10):
        proc = subprocess.Popen([*STUDENT, str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _whole_edition(out / "en", names) or _whole_edition(out / ".en.ottt-old", names)
    _rerun(out, names)


def test_student_killed_between_the_renames_of_its_swap_is_restored_by_the_rerun(edition, tmp_path):
    out, names = _copy(edition, tmp_path), edition[1]
    body = ("from ottt_edu.classroom.__main__ import main\n"
            f"sys.exit(main(['student', '--edition', 'en', '--out', {str(out)!r}]))")
    done = subprocess.run([sys.executable, "-c", KILL_AT_REPLACE.format(k=2, body=body)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == -9, done.stderr
    assert not (out / "en").exists() and _whole_edition(out / ".en.ottt-old", names)
    assert "restored" in _rerun(out, names)


def test_grade_killed_while_replacing_its_csv_keeps_the_old_one(tmp_path):
    csv = tmp_path / "scores.csv"
    csv.write_text("student,notebook,exercise,score,max_score,note\nold,row,TOTAL,1,1,\n",
                   encoding="utf-8")
    before = csv.read_bytes()
    body = ("from ottt_edu.classroom.grade import CellScore, write_csv\n"
            f"write_csv([CellScore('ana', '03_replace_for_grad', 'TOTAL', 4, 4)], __import__('pathlib').Path({str(csv)!r}))")
    done = subprocess.run([sys.executable, "-c", KILL_AT_REPLACE.format(k=1, body=body)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == -9, done.stderr
    assert csv.read_bytes() == before
    done = subprocess.run([sys.executable, "-c", KILL_AT_REPLACE.format(k=0, body=body)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ana,03_replace_for_grad,TOTAL,4,4" in csv.read_text(encoding="utf-8")
