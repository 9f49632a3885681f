"""``--notebooks DIR``: the classroom commands with ottt_edu installed outside its repository.

A hub admin's ``pip install .`` puts the package into site-packages, where no ``notebooks/``
lies beside it: ``python -m ottt_edu.classroom student|grade`` then needs ``--notebooks DIR``
(English ``DIR/NN_name.ipynb``, Chinese ``DIR/zh-CN/``), and says so in one line (exit code 2)
when it is missing or wrong. "Installed" here is a copy of the package in a folder of its own
on ``PYTHONPATH``, run from another folder, with two notebooks of the course copied to a third.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ottt_edu import classroom
from ottt_edu.classroom.editions import NOTEBOOKS, edition_folder, has_notebooks

pytest.importorskip("nbgrader")
ROOT = Path(__file__).resolve().parents[2]
COPIED = ["00_start_here", "03_replace_for_grad"]   # one without exercises, one with
TIMEOUT = 600


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(site, course, work)``: the package alone in ``site`` (no notebooks/ beside it), the
    copied notebooks in ``course`` (and ``course/zh-CN``), an empty folder to run in."""
    base = tmp_path_factory.mktemp("hub")
    site, course, work = base / "site-packages", base / "course", base / "work"
    shutil.copytree(ROOT / "ottt_edu", site / "ottt_edu",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("", "zh-CN"):
        (course / sub).mkdir(parents=True, exist_ok=True)
        for stem in COPIED:
            shutil.copyfile(ROOT / "notebooks" / sub / f"{stem}.ipynb", course / sub / f"{stem}.ipynb")
    work.mkdir()
    return site, course, work


def _cli(installed, *args: str) -> subprocess.CompletedProcess:
    site, _, work = installed
    # the child writes UTF-8 whatever the locale (its output names Chinese notebooks' cells)
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "ottt_edu.classroom", *map(str, args)], env=env,
                          cwd=work, capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT)


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    return done.stderr


def test_the_copy_is_what_runs(installed):
    site, _, _ = installed
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import ottt_edu; print(ottt_edu.__file__)"],
                           env=env, cwd=installed[2], capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).parent == site / "ottt_edu"


@pytest.mark.parametrize("command", [["student"], ["grade", "submissions"]])
def test_without_the_repository_the_error_says_to_pass_notebooks(installed, command):
    line = _one_line_error(_cli(installed, *command))
    assert "no notebooks folder at" in line and "pass --notebooks DIR" in line
    assert "DIR/zh-CN the Chinese ones" in line


@pytest.mark.parametrize("command", [["student"], ["grade", "submissions"]])
def test_a_notebooks_folder_that_does_not_exist(installed, tmp_path, command):
    line = _one_line_error(_cli(installed, *command, "--notebooks", tmp_path / "nowhere"))
    assert f"--notebooks {tmp_path / 'nowhere'} does not exist" in line


def test_a_notebooks_folder_that_is_a_file(installed, tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    line = _one_line_error(_cli(installed, "student", "--notebooks", tmp_path / "notes.txt"))
    assert "is not a folder" in line


@pytest.mark.parametrize("command", [["student"], ["grade", "submissions"]])
def test_a_notebooks_folder_without_notebooks(installed, tmp_path, command):
    line = _one_line_error(_cli(installed, *command, "--notebooks", tmp_path))
    assert f"no notebooks (NN_name.ipynb) in {tmp_path}" in line and "--notebooks DIR:" in line


def test_a_notebooks_folder_without_the_chinese_edition(installed, tmp_path):
    shutil.copyfile(ROOT / "notebooks" / "00_start_here.ipynb", tmp_path / "00_start_here.ipynb")
    line = _one_line_error(_cli(installed, "student", "--edition", "zh-CN", "--notebooks", tmp_path))
    assert f"in {tmp_path / 'zh-CN'}" in line and "--edition en" in line


def test_edition_folders():
    assert edition_folder("en") == NOTEBOOKS and edition_folder("zh-CN") == NOTEBOOKS / "zh-CN"
    assert edition_folder("en", Path("/x")) == Path("/x")
    assert edition_folder("zh-CN", Path("/x")) == Path("/x/zh-CN")
    with pytest.raises(classroom.ClassroomError, match="unknown edition 'fr'"):
        edition_folder("fr", Path("/x"))
    assert has_notebooks("en") and not has_notebooks("en", ROOT / "docs")


@pytest.mark.timeout(TIMEOUT)
def test_student_and_grade_from_a_copied_folder(installed, tmp_path):
    """The whole route: the student edition of the copied notebooks into ./release of the
    folder it runs in, then a blank submission of it graded against the same folder."""
    _, course, work = installed
    done = _cli(installed, "student", "--notebooks", course)
    assert done.returncode == 0, done.stderr
    for edition in ("en", "zh-CN"):
        assert sorted(p.stem for p in (work / "release" / edition).iterdir()) == COPIED
        assert f"{edition}: {len(COPIED)} notebooks in release" in done.stdout

    submissions = tmp_path / "submissions" / "ana"
    submissions.mkdir(parents=True)
    shutil.copyfile(work / "release" / "en" / "03_replace_for_grad.ipynb",
                    submissions / "03_replace_for_grad.ipynb")
    scores = tmp_path / "scores.csv"
    done = _cli(installed, "grade", submissions.parent, "--no-sandbox", "--csv", scores,
                "--notebooks", course)
    assert done.returncode == 0, done.stderr
    with open(scores, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["exercise"] == "TOTAL")
    assert total["student"] == "ana" and total["notebook"] == "03_replace_for_grad"
    assert float(total["score"]) == 0 and float(total["max_score"]) > 0
