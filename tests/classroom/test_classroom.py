"""The classroom kit end to end with nbgrader: the source format, the student edition, and
autograding simulated submissions through the teacher's command (``ottt_edu.classroom``).

Cost: every exercise notebook is autograded twice (a blank and a fully correct submission), 03
four more times (wrong, partial, raising, tampered) and the Chinese 03 twice; measured here
(2 cores) at about 5 minutes in all, hence the longer timeouts below.
"""
from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import classroom_sim as sim
from ottt_edu import classroom
from ottt_edu.classroom.sandbox import sandbox_problem

ROOT = Path(__file__).resolve().parents[2]
EN = classroom.source_notebooks("en")
ZH = classroom.source_notebooks("zh-CN") if (ROOT / "notebooks" / "zh-CN").is_dir() else []


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercise_notebooks(paths):
    return [p for p in paths if sim.solution_ids(sim.read(p))]


EN_EXERCISES = exercise_notebooks(EN)
ROUND_TRIP_TIMEOUT = 2400  # about 5 min measured here; 8x for a loaded machine


# -- the teacher edition is in nbgrader's format ----------------------------------------------
@pytest.mark.parametrize("path", EN + ZH, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_source_format(path):
    nb = sim.read(path)
    ids = [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_id in {path.name}"
    for i, c in enumerate(nb.cells):
        meta = _nbgrader(c)
        assert "solution" not in c.metadata.get("tags", []), f"cell {i}: old solution tag"
        assert not c.metadata.get("jupyter", {}).get("source_hidden"), f"cell {i}: hidden source"
        assert "_solution(" not in c.source, f"cell {i} calls an old *_solution function"
        if "BEGIN SOLUTION" in c.source:
            assert meta.get("solution"), f"cell {i}: a solution region outside a solution cell"
            for line in c.source.split("\n"):
                if "BEGIN SOLUTION" in line:  # inside a def: the stub cannot stop "Run all"
                    assert line.startswith((" ", "\t")), f"cell {i}: region at top level"
        if meta.get("grade"):
            assert meta["locked"] and meta["points"] > 0 and c.cell_type == "code"
        if meta.get("solution"):
            assert sim.test_of(nb, meta["grade_id"]), f"cell {i}: no graded cell after it"
    if sim.solution_ids(nb):
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert _nbgrader(first_code).get("locked"), "the setup cell must be read-only"


def test_every_exercise_notebook_has_exercises():
    names = {p.name[:2] for p in EN_EXERCISES}
    assert names == {"01", "02", "03", "04", "05", "06", "11"}, names


# -- the student edition ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    editions = ["en"] + (["zh-CN"] if ZH else [])
    for edition in editions:
        classroom.build_student_edition(edition, out)
    return out


def _distinctive_solution_lines(teacher_paths) -> set[str]:
    """Lines of the answers that appear nowhere else in the teacher edition (not even inside a
    longer line): any of them in the student edition is a leaked answer."""
    inside, outside = set(), []
    for p in teacher_paths:
        for c in sim.read(p).cells:
            parts = sim.regions(c.source)
            inside |= {ln.strip() for r in parts for ln in r.split("\n") if len(ln.strip()) >= 16}
            outside.append(re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", c.source, flags=re.S))
    rest = "\n".join(outside)
    return {ln for ln in inside if ln not in rest}


def _code_lines(source: str) -> set[str]:
    return {ln.split("#")[0].strip() for ln in source.split("\n") if len(ln.split("#")[0].strip()) >= 8}


@pytest.mark.parametrize("edition", ["en", "zh-CN"])
def test_no_notebook_of_the_student_edition_imports_or_shows_an_answer(release, edition):
    """Issue 25: no cell imports the exercises' reference answers (they are not even installed),
    and no cell of any notebook repeats most of an exercise's answer (07 printed 06's OTTT_A
    update, 09 notebook 04's GradwithTrace): at most 60% of an answer's lines in one cell."""
    teacher = EN if edition == "en" else ZH
    if not teacher:
        pytest.skip("no Chinese edition")
    answers = [(p.name[:2], c.metadata.get("nbgrader", {}).get("grade_id"), _code_lines(r)) for p in teacher for c in sim.read(p).cells
               for r in sim.regions(c.source) if len(_code_lines(r)) >= 2]
    assert len(answers) >= 10
    shown = []
    for path in sorted((release / edition).rglob("*.ipynb")):
        for i, c in enumerate(sim.read(path).cells):
            if c.cell_type != "code":
                continue
            for word in ("course import reference", "import reference", "reference_answers"):
                assert word not in c.source, (path.name, i, word)
            lines = _code_lines(c.source)
            shown += [(path.name, i, nb, gid, round(len(lines & ans) / len(ans), 2))
                      for nb, gid, ans in answers if len(lines & ans) > 0.6 * len(ans)]
    assert not shown, f"cells that show most of an answer (notebook, cell, answer of, its id, share): {shown}"


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
@pytest.mark.parametrize("edition", ["en", "zh-CN"])
def test_student_edition_holds_no_answer(release, edition):
    teacher = EN if edition == "en" else ZH
    if not teacher:
        pytest.skip("no Chinese edition")
    files = sorted((release / edition).rglob("*"))
    assert sorted(p.name for p in files) == sorted(p.name for p in teacher)
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS",
                   "source_hidden", "course import reference", "Reference solution"):
        assert marker not in text, marker
    lines = _distinctive_solution_lines(teacher)
    assert len(lines) > 20  # the answers have that many lines of their own
    leaked = sorted(ln for ln in lines if ln in text)
    assert not leaked, f"answer lines in the student edition: {leaked[:5]}"
    for p in files:
        nb = sim.read(p)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), p.name
        stubs = sum(c.source.count("raise NotImplementedError()") for c in nb.cells)
        assert stubs >= len(sim.solution_ids(nb))


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_notebooks_without_exercises_are_handed_out_unchanged(release):
    for teacher_path in EN:
        if teacher_path in EN_EXERCISES:
            continue
        teacher, student = sim.read(teacher_path), sim.read(release / "en" / teacher_path.name)
        assert [c.source for c in teacher.cells] == [c.source for c in student.cells]


# -- autograding, through the teacher's command -----------------------------------------------
def _write(nb, folder: Path, student: str, name: str) -> None:
    (folder / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / student / name)


@pytest.fixture(scope="module")
def graded(release, tmp_path_factory):
    """Grade a class of simulated students; return (rows by (student, notebook, exercise),
    the course folder nbgrader worked in)."""
    subs = tmp_path_factory.mktemp("submissions")
    for path in EN_EXERCISES:
        teacher, student = sim.read(path), sim.read(release / "en" / path.name)
        _write(student, subs, "blank", path.name)
        _write(sim.submission(teacher, student, {g: "correct" for g in sim.solution_ids(teacher)}),
               subs, "correct", path.name)
    nb03 = next(p for p in EN_EXERCISES if p.name.startswith("03"))
    teacher, student = sim.read(nb03), sim.read(release / "en" / nb03.name)
    first, *others = sim.solution_ids(teacher)
    _write(sim.submission(teacher, student, {g: "wrong" for g in sim.solution_ids(teacher)}),
           subs, "wrong", nb03.name)
    _write(sim.submission(teacher, student, {first: "correct"}), subs, "partial", nb03.name)
    _write(sim.submission(teacher, student, {first: "raises", **{g: "correct" for g in others}}),
           subs, "raises", nb03.name)
    correct = sim.submission(teacher, student, {g: "correct" for g in sim.solution_ids(teacher)})
    tampered = sim.delete_cell(correct, sim.test_of(teacher, first))
    tampered = sim.edit_cell(tampered, "setup", sim.cell(tampered, "setup").source
                             + "\ncheck_replace_by_detach = lambda fn: True  # a fake checker")
    _write(tampered, subs, "tamper", nb03.name)
    cheat = sim.submission(teacher, student, {g: "wrong" for g in sim.solution_ids(teacher)})
    cheat = sim.edit_cell(cheat, sim.test_of(teacher, first), "passed = True")
    _write(cheat, subs, "cheat", nb03.name)
    (subs / "broken").mkdir()
    (subs / "broken" / nb03.name).write_text("{ this is not a notebook", encoding="utf-8")

    work = tmp_path_factory.mktemp("course")
    # scoring is tested here (test_sandbox.py tests the sandbox): sandboxed wherever one exists
    rows = classroom.grade(subs, "en", work=work, sandbox=sandbox_problem() is None)
    csv_path = work / "scores.csv"
    classroom.write_csv(rows, csv_path)
    with open(csv_path, newline="", encoding="utf-8") as f:
        table = {(r["student"], r["notebook"], r["exercise"]): r for r in csv.DictReader(f)}
    return table, work / "en", nb03


def _total(table, student, notebook) -> tuple[float, float, str]:
    r = table[(student, notebook, "TOTAL")]
    return float(r["score"]), float(r["max_score"]), r["note"]


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_blank_submissions_score_zero_and_run_to_the_end(graded):
    table, course, _ = graded
    for path in EN_EXERCISES:
        score, max_score, note = _total(table, "blank", path.stem)
        assert score == 0 and max_score > 0 and note == "", (path.name, score, note)
        done = sim.read(course / "autograded" / "blank" / path.stem / path.name)
        # a cell tagged raises-exception (06's deliberate pitfall) does not stop Run all
        errors = [(i, o.ename) for i, c in enumerate(done.cells) if c.cell_type == "code"
                  and "raises-exception" not in c.metadata.get("tags", [])
                  for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: Run all stops at {errors}"
        assert all(c.get("execution_count") for c in done.cells if c.cell_type == "code")


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_correct_submissions_get_full_marks(graded):
    table, _, _ = graded
    for path in EN_EXERCISES:
        teacher = sim.read(path)
        want = sum(sim.points(teacher, g) for g in sim.grade_ids(teacher))
        assert _total(table, "correct", path.stem) == (want, want, ""), path.name


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_wrong_partial_and_raising_submissions(graded):
    table, _, nb03 = graded
    teacher = sim.read(nb03)
    first, *others = sim.solution_ids(teacher)
    full = sum(sim.points(teacher, g) for g in sim.grade_ids(teacher))
    first_points = sim.points(teacher, sim.test_of(teacher, first))
    assert _total(table, "wrong", nb03.stem)[0] == 0
    assert table[("wrong", nb03.stem, sim.test_of(teacher, first))]["note"].startswith("ExerciseError: ")
    assert "Not attempted yet" in table[("partial", nb03.stem, sim.test_of(teacher, others[0]))]["note"]
    assert table[("correct", nb03.stem, sim.test_of(teacher, first))]["note"] == ""
    assert _total(table, "partial", nb03.stem)[0] == first_points
    assert _total(table, "raises", nb03.stem)[0] == full - first_points
    assert float(table[("raises", nb03.stem, sim.test_of(teacher, first))]["score"]) == 0


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_tampering_is_reported_and_undone(graded):
    table, _, nb03 = graded
    teacher = sim.read(nb03)
    first = sim.solution_ids(teacher)[0]
    full = sum(sim.points(teacher, g) for g in sim.grade_ids(teacher))
    score, _, note = _total(table, "tamper", nb03.stem)
    assert f"deleted {sim.test_of(teacher, first)}" in note and "edited read-only setup" in note
    assert score == full  # the deleted test was put back and passed; the fake checker is gone
    score, _, note = _total(table, "cheat", nb03.stem)
    assert f"edited read-only {sim.test_of(teacher, first)}" in note
    assert score == 0  # the real checker ran again on the wrong answers


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_an_unreadable_submission_scores_zero_with_a_reason(graded):
    table, _, nb03 = graded
    score, max_score, note = _total(table, "broken", nb03.stem)
    assert score == 0 and max_score > 0 and "not a readable notebook" in note


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_chinese_edition_round_trip(release, tmp_path):
    if not ZH:
        pytest.skip("no Chinese edition")
    path = next(p for p in ZH if p.name.startswith("03"))
    teacher, student = sim.read(path), sim.read(release / "zh-CN" / path.name)
    _write(student, tmp_path / "subs", "blank", path.name)
    _write(sim.submission(teacher, student, {g: "correct" for g in sim.solution_ids(teacher)}),
           tmp_path / "subs", "correct", path.name)
    rows = classroom.grade(tmp_path / "subs", "zh-CN", work=tmp_path / "course",
                           sandbox=sandbox_problem() is None)
    totals = {r.student: (r.score, r.max_score) for r in rows if r.exercise == "TOTAL"}
    full = sum(sim.points(teacher, g) for g in sim.grade_ids(teacher))
    assert totals == {"blank": (0, full), "correct": (full, full)}
    done = sim.read(tmp_path / "course" / "zh-CN" / "autograded" / "blank" / path.stem / path.name)
    stderr = "".join(o.text for c in done.cells if c.cell_type == "code"
                     for o in c.outputs if o.output_type == "stream" and o.name == "stderr")
    assert "尚未作答" in stderr  # the checkers answered in Chinese


# -- the command line -------------------------------------------------------------------------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ottt_edu.classroom", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_cli_missing_folder_is_one_line_error(tmp_path):
    r = _cli("grade", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is not a folder" in r.stderr


def test_cli_unknown_notebook_name_is_one_line_error(tmp_path):
    (tmp_path / "ana").mkdir()
    (tmp_path / "ana" / "homework.ipynb").write_text("{}", encoding="utf-8")
    r = _cli("grade", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a notebook of the course" in r.stderr


def test_cli_empty_folder_is_one_line_error(tmp_path):
    r = _cli("grade", str(tmp_path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no submissions" in r.stderr


@pytest.mark.timeout(ROUND_TRIP_TIMEOUT)
def test_cli_student_writes_the_student_edition(tmp_path):
    r = _cli("student", "--edition", "en", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "en").iterdir()) == sorted(p.name for p in EN)
    assert f"en: {len(EN)} notebooks" in r.stdout
