"""The classroom commands never lose a teacher's files: the CSV is checked before grading and
written atomically, and the student edition never deletes files it did not write (issue 23)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ottt_edu.classroom import ClassroomError, build_student_edition
from ottt_edu.classroom.grade import CellScore, check_csv_path, write_csv

ROOT = Path(__file__).resolve().parents[2]
ROWS = [CellScore("ana", "03_replace_for_grad", "TOTAL", 4.0, 4.0, "")]


def test_a_csv_that_names_a_folder_is_refused_before_grading(tmp_path):
    with pytest.raises(ClassroomError, match="not a regular file"):
        check_csv_path(tmp_path)
    with pytest.raises(ClassroomError, match="does not exist"):
        check_csv_path(tmp_path / "no-such-folder" / "scores.csv")


def test_the_command_line_refuses_a_bad_csv_in_one_line_before_grading(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ottt_edu.classroom", "grade", str(tmp_path / "none"),
                           "--csv", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a regular file" in done.stderr


def test_write_csv_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    path = tmp_path / "scores.csv"
    path.write_text("old scores\n", encoding="utf-8")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ClassroomError, match="No space left on device"):
        write_csv(ROWS, path)
    assert path.read_text(encoding="utf-8") == "old scores\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_write_csv_never_replaces_a_device():
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this platform")
    with pytest.raises(ClassroomError, match="not a regular file"):
        write_csv(ROWS, Path("/dev/full"))
    assert Path("/dev/full").is_char_device()


def test_write_csv_writes_every_row(tmp_path):
    write_csv(ROWS, tmp_path / "scores.csv")
    lines = (tmp_path / "scores.csv").read_text(encoding="utf-8").splitlines()
    assert lines == ["student,notebook,exercise,score,max_score,note", "ana,03_replace_for_grad,TOTAL,4,4,"]


def test_the_student_edition_never_deletes_a_teachers_own_files(tmp_path):
    mine = tmp_path / "en" / "my_answers.txt"
    mine.parent.mkdir()
    mine.write_text("the teacher's notes", encoding="utf-8")
    with pytest.raises(ClassroomError, match="my_answers.txt"):
        build_student_edition("en", tmp_path)
    assert mine.read_text(encoding="utf-8") == "the teacher's notes"


def test_a_draft_in_a_subfolder_is_not_graded_instead_of_the_final_notebook(tmp_path, capsys):
    """``alice/drafts/03_x.ipynb`` beside ``alice/03_x.ipynb``: the final one is graded and a note
    names the draft (it used to be graded instead: 0/4 where 4/4 was earned)."""
    from ottt_edu.classroom.grade import collect_submissions
    alice = tmp_path / "alice"
    (alice / "drafts").mkdir(parents=True)
    (alice / "03_x.ipynb").write_text("{}", encoding="utf-8")
    (alice / "drafts" / "03_x.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "bob" / "03_x").mkdir(parents=True)      # nbgrader's own layout
    (tmp_path / "bob" / "03_x" / "03_x.ipynb").write_text("{}", encoding="utf-8")
    found = collect_submissions(tmp_path, ["03_x"])
    assert found == {("alice", "03_x"): alice / "03_x.ipynb",
                     ("bob", "03_x"): tmp_path / "bob" / "03_x" / "03_x.ipynb"}
    err = capsys.readouterr().err
    assert "not grading" in err and str(alice / "drafts" / "03_x.ipynb") in err
