"""``python tasks.py notebook NN`` killed (kill -9) at random moments of a real run and just
before each file it replaces: the stored notebook and its twin are always whole (as they were, or
as the run meant to write them), and a rerun recovers. Runs notebook 00 (about 7 s) in a copy.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tasks  # noqa: E402

pytest.importorskip("nbconvert")
pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="kill -9 is POSIX: Windows has no SIGKILL (os.kill(pid, 9) there is "
                                       "TerminateProcess with exit code 9, not the -9 these tests read)")
NAME = "00_start_here"

RUN = """
import os, sys
sys.path.insert(0, {root!r})
import tasks
from pathlib import Path
tasks.NOTEBOOK_DIRS = [Path({folder!r})]
real, count = os.replace, [0]
def replace(a, b):
    count[0] += 1
    if count[0] == {k}:
        os.kill(os.getpid(), 9)
    real(a, b)
os.replace = replace
sys.exit(tasks.main(["notebook", "00"]))
"""


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("jupytext.toml", f"{NAME}.ipynb", f"{NAME}.md"):
        shutil.copy2(ROOT / "notebooks" / name, folder / name)
    os.utime(folder / f"{NAME}.md")
    return folder


def _start(folder: Path, k: int = 0) -> subprocess.Popen:
    code = RUN.format(root=str(ROOT), folder=str(folder), k=k)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _assert_whole(folder: Path, cells: list) -> None:
    """The notebook is a readable notebook with the same cells; the twin is intact."""
    nb = json.loads((folder / f"{NAME}.ipynb").read_text(encoding="utf-8"))
    assert [c["source"] for c in nb["cells"]] == cells
    assert (folder / f"{NAME}.md").read_text(encoding="utf-8") == \
        (ROOT / "notebooks" / f"{NAME}.md").read_text(encoding="utf-8")


def _cells() -> list:
    nb = json.loads((ROOT / "notebooks" / f"{NAME}.ipynb").read_text(encoding="utf-8"))
    return [c["source"] for c in nb["cells"]]


def _rerun_recovers(folder: Path) -> None:
    proc = _start(folder)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    _assert_whole(folder, _cells())
    leftovers = [p.name for p in folder.iterdir() if any(m in p.name for m in tasks.TEMPORARY_MARKS)
                 or p.name == tasks.STAGING]
    assert leftovers == []


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_a_run_killed_before_each_replacement_leaves_the_notebook_whole(tmp_path, k):
    folder = _folder(tmp_path)
    proc = _start(folder, k)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (-9, 0), err
    _assert_whole(folder, _cells())
    _rerun_recovers(folder)


def test_runs_killed_at_random_moments_leave_the_notebook_whole(tmp_path):
    """Ten kills spread over a run (about 7 s here), then one rerun."""
    folder = _folder(tmp_path)
    rng = random.Random(0)
    for _ in range(10):
        proc = _start(folder)
        time.sleep(rng.uniform(0.2, 7.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _assert_whole(folder, _cells())
    _rerun_recovers(folder)
