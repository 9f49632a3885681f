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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]  # no sidecar either


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
    assert "not graded" in err and str(Path("alice") / "drafts" / "03_x.ipynb") in err


@pytest.mark.parametrize("name, graded_as", [
    ("03_x-Copy1", "03_x"), ("03_x (1)", "03_x"), ("03_X", "03_x"), ("03_x copy", "03_x"),
    ("03_x-Copy2 (3)", "03_x"), ("homework", None), ("04_y", None)])
def test_copies_are_graded_as_the_notebook_they_copy(name, graded_as):
    from ottt_edu.classroom.grade import notebook_for
    stem, note = notebook_for(name, ["03_x", "05_z"])
    assert stem == graded_as
    assert (f"graded {name}.ipynb as 03_x.ipynb" if graded_as else "not a notebook of the course") in note


def test_one_odd_file_costs_only_its_owner(tmp_path):
    """A copy's name is mapped, an unknown file is a note, and the exact name beats a copy."""
    from ottt_edu.classroom.grade import collect_submissions
    for student, names in {"ana": ["03_x-Copy1"], "bo": ["homework", "03_x"],
                           "cy": ["03_x", "03_x (1)"]}.items():
        (tmp_path / student).mkdir()
        for n in names:
            (tmp_path / student / f"{n}.ipynb").write_text("{}", encoding="utf-8")
    notes: dict = {}
    found = collect_submissions(tmp_path, ["03_x"], notes)
    assert found == {("ana", "03_x"): tmp_path / "ana" / "03_x-Copy1.ipynb",
                     ("bo", "03_x"): tmp_path / "bo" / "03_x.ipynb",
                     ("cy", "03_x"): tmp_path / "cy" / "03_x.ipynb"}
    assert notes["ana"] == ["graded 03_x-Copy1.ipynb as 03_x.ipynb"]
    assert "homework.ipynb is not a notebook of the course" in notes["bo"][0]
    assert "handed in 03_x twice" in notes["cy"][0]


def test_csv_has_a_hash_beside_it(tmp_path):
    import hashlib
    digest = write_csv(ROWS, tmp_path / "scores.csv")
    assert hashlib.sha256((tmp_path / "scores.csv").read_bytes()).hexdigest() == digest
    assert (tmp_path / "scores.csv.sha256").read_text(encoding="utf-8") == f"{digest}  scores.csv\n"


def test_both_editions_grade_alike():
    """One source of points: every Chinese twin has the English notebook's grading metadata."""
    from ottt_edu.classroom.editions import edition_mismatches
    assert edition_mismatches("zh-CN") == []


def test_a_twin_with_other_points_is_refused_by_student_and_grade(tmp_path, monkeypatch):
    import json
    import shutil
    from ottt_edu.classroom import editions
    from ottt_edu.classroom.grade import grade
    zh = tmp_path / "zh-CN"
    shutil.copytree(ROOT / "notebooks" / "zh-CN", zh, ignore=shutil.ignore_patterns("*.md"))
    nb = json.loads((zh / "03_replace_for_grad.ipynb").read_text(encoding="utf-8"))
    graded = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("points"))
    graded["metadata"]["nbgrader"]["points"] += 1
    (zh / "03_replace_for_grad.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    monkeypatch.setitem(editions.EDITIONS, "zh-CN", zh)
    problems = editions.edition_mismatches("zh-CN")
    assert len(problems) == 1 and "points is" in problems[0] and "tasks.py zh 03" in problems[0]
    with pytest.raises(ClassroomError, match="would grade differently"):
        build_student_edition("zh-CN", tmp_path / "release")
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    with pytest.raises(ClassroomError, match="grade differently"):
        grade(tmp_path / "subs", "zh-CN")


def test_submissions_are_snapshotted_before_any_code_runs(tmp_path):
    from ottt_edu.classroom.grade import _snapshot
    (tmp_path / "ana").mkdir()
    original = tmp_path / "ana" / "03_x.ipynb"
    original.write_text('{"cells": []}', encoding="utf-8")
    (tmp_path / "snap").mkdir()
    copies, digests = _snapshot({("ana", "03_x"): original}, tmp_path / "snap")
    original.write_text("changed", encoding="utf-8")
    assert copies[("ana", "03_x")].read_text(encoding="utf-8") == '{"cells": []}'
    assert len(digests[("ana", "03_x")]) == 64
