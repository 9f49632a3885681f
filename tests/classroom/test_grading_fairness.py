"""Graded fairly (issue 24): a dead kernel keeps the points earned before it, a timeout says so,
a warning from a correct answer costs nothing, the checker's hint reaches the CSV, a copy's file
name does not abort the class, a notebook not handed in is a row, every student has a course
total, rows keep the notebooks' order, notebooks without graded cells are not run."""
from __future__ import annotations

import nbformat
import pytest

import classroom_sim as sim
from ottt_edu import classroom
from ottt_edu.classroom.grade import ALL_NOTEBOOKS
from ottt_edu.classroom.sandbox import sandbox_problem

pytest.importorskip("nbgrader")
NOTEBOOKS = {p.stem: p for p in classroom.source_notebooks("en")}
NB03 = NOTEBOOKS["03_replace_for_grad"]
NB00 = NOTEBOOKS["00_start_here"]
FIRST, SECOND = "my_replace_for_grad", "replace_by_detach"
TIMEOUT_S = 20  # the loop below runs forever; 03's honest cells take under 2 s each
#: 03 takes about 5 s to grade here (under 15 s with two CPU burners beside it); the sleepy
#: submission's extra cells sleep SLEEPY_CELLS x 18 s = 108 s, each under the cell limit
NOTEBOOK_TIMEOUT_S, SLEEPY_CELLS = 75, 6


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("fair")
    classroom.build_student_edition("en", base / "release")
    teacher, student = sim.read(NB03), sim.read(base / "release" / "en" / NB03.name)
    subs = base / "subs"

    def hand_in(who, nb, name=NB03.name):
        (subs / who).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, subs / who / name)

    both = {FIRST: "correct", SECOND: "correct"}
    crash = sim.submission(teacher, student, both)
    sim.cell(crash, SECOND).source = "import os\nos._exit(1)\n"
    hand_in("crash", crash)
    loop = sim.submission(teacher, student, both)
    sim.cell(loop, SECOND).source = "while True:\n    pass\n"
    hand_in("loop", loop)
    warns = sim.submission(teacher, student, both)
    sim.cell(warns, SECOND).source = sim.cell(warns, SECOND).source.replace(
        "def replace_by_detach(x, x_r):",
        "def replace_by_detach(x, x_r):\n    import warnings\n    warnings.warn('an honest warning', DeprecationWarning)", 1)
    hand_in("warns", warns)
    wrong = sim.submission(teacher, student, both)
    sim.cell(wrong, SECOND).source = "def replace_by_detach(x, x_r):\n    return x_r.detach()\n"
    hand_in("wrong", wrong)
    sleepy = sim.submission(teacher, student, both)  # C11: cells that each stay under the cell limit
    at = sleepy.cells.index(sim.cell(sleepy, SECOND))
    for _ in range(SLEEPY_CELLS):
        sleepy.cells.insert(at, nbformat.v4.new_code_cell(f"import time\ntime.sleep({TIMEOUT_S - 2})"))
    hand_in("sleepy", sleepy)
    hand_in("copy", sim.submission(teacher, student, both), "03_replace_for_grad-Copy1.ipynb")
    hand_in("copy", sim.read(NB00), NB00.name)
    hand_in("absent", sim.read(NB00), NB00.name)       # handed in 00 only: 03 is "not submitted"
    rows = classroom.grade(subs, "en", work=base / "work", sandbox=sandbox_problem() is None,
                           cell_timeout_s=TIMEOUT_S, notebook_timeout_s=NOTEBOOK_TIMEOUT_S)
    return {(r.student, r.notebook, r.exercise): r for r in rows}, rows


def _total(graded, student, notebook="03_replace_for_grad"):
    return graded[0][(student, notebook, "TOTAL")]


def test_a_dead_kernel_keeps_the_points_before_it(graded):
    t = _total(graded, "crash")
    assert (t.score, t.max_score) == (3.0, 4.0), t.note
    assert "the kernel died in cell" in graded[0][("crash", "03_replace_for_grad", "check_replace_by_detach")].note


def test_a_timeout_says_so(graded):
    t = _total(graded, "loop")
    assert (t.score, t.max_score) == (3.0, 4.0)
    assert f"timed out after {TIMEOUT_S} s" in graded[0][("loop", "03_replace_for_grad", "check_replace_by_detach")].note


def test_a_notebook_has_a_time_limit_of_its_own(graded):
    """C11 of the fourth pass: cells that each sleep just under the cell limit held a grading
    slot for as long as the student liked; the notebook's own limit stops them, and the points
    earned before are kept."""
    t = _total(graded, "sleepy")
    assert (t.score, t.max_score) == (3.0, 4.0), t.note
    assert f"the notebook ran past its {NOTEBOOK_TIMEOUT_S} s limit" in t.note, t.note
    row = graded[0][("sleepy", "03_replace_for_grad", "check_replace_by_detach")]
    assert row.note.startswith(f"not run: the notebook ran past its {NOTEBOOK_TIMEOUT_S} s limit"), row.note


def test_a_warning_from_a_correct_answer_costs_nothing(graded):
    t = _total(graded, "warns")
    assert (t.score, t.max_score) == (4.0, 4.0), graded[0][("warns", "03_replace_for_grad", "check_replace_by_detach")].note


def test_the_checkers_hint_reaches_the_csv(graded):
    note = graded[0][("wrong", "03_replace_for_grad", "check_replace_by_detach")].note
    assert note.startswith("ExerciseError") and "hint: you detached everything" in note


def test_a_copy_is_graded_and_a_missing_notebook_is_a_row(graded):
    t = _total(graded, "copy")
    assert (t.score, t.max_score) == (4.0, 4.0) and "graded 03_replace_for_grad-Copy1.ipynb as" in t.note
    absent = _total(graded, "absent")
    assert (absent.score, absent.max_score, absent.note) == (0.0, 4.0, "not submitted")
    assert graded[0][("absent", "03_replace_for_grad", "check_my_replace_for_grad")].note == "not submitted"


def test_notebooks_without_graded_cells_are_not_run(graded):
    t = _total(graded, "copy", NB00.stem)
    assert (t.score, t.max_score, t.note) == (0.0, 0.0, "no graded cells (not run)")


def test_every_student_has_a_course_total_and_rows_keep_their_order(graded):
    table, rows = graded
    for student in ("crash", "loop", "warns", "wrong", "copy", "absent"):
        course = table[(student, ALL_NOTEBOOKS, "COURSE TOTAL")]
        assert course.max_score == 4.0
    assert table[("copy", ALL_NOTEBOOKS, "COURSE TOTAL")].score == 4.0
    cells = [r.exercise for r in rows if r.student == "wrong" and r.notebook == "03_replace_for_grad"]
    assert cells == ["check_my_replace_for_grad", "check_replace_by_detach", "TOTAL"]
    assert [r.student for r in rows] == sorted(r.student for r in rows)


def test_a_chinese_submission_graded_as_english_is_recognised(tmp_path):
    """Made from the Chinese edition, handed in to an English grading run: graded against the
    Chinese notebook (no false tampering note), full marks, and the note says which edition."""
    zh03 = classroom.source_notebooks("zh-CN")[3]
    release = tmp_path / "release"
    classroom.build_student_edition("zh-CN", release)
    teacher, student = sim.read(zh03), sim.read(release / "zh-CN" / zh03.name)
    (tmp_path / "subs" / "li").mkdir(parents=True)
    nbformat.write(sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"}),
                   tmp_path / "subs" / "li" / zh03.name)
    rows = classroom.grade(tmp_path / "subs", "en", work=tmp_path / "work",
                           sandbox=sandbox_problem() is None)
    total = next(r for r in rows if r.exercise == "TOTAL")
    assert (total.score, total.max_score) == (4.0, 4.0)
    assert "graded against the zh-CN edition" in total.note and "edited" not in total.note


def test_jobs_grade_the_same_scores_in_parallel(graded, tmp_path):
    """--jobs 2: each submission in its own sandbox, two at a time; the same rows as one job."""
    table, rows = graded
    subs = next(iter(tmp_path.parent.glob("fair*"))) / "subs"
    keep = [s for s in ("warns", "wrong", "copy") if (subs / s).exists()]
    one = tmp_path / "subs"
    for s in keep:
        (one / s).mkdir(parents=True)
        for f in (subs / s).iterdir():
            (one / s / f.name).write_bytes(f.read_bytes())
    parallel = classroom.grade(one, "en", work=tmp_path / "work", sandbox=sandbox_problem() is None,
                               jobs=2)
    assert [(r.student, r.notebook, r.exercise, r.score) for r in parallel] == \
        [(r.student, r.notebook, r.exercise, r.score) for r in rows if r.student in keep]


def test_bad_jobs_are_refused(tmp_path):
    with pytest.raises(classroom.ClassroomError, match="--jobs must be a whole number"):
        classroom.grade(tmp_path, "en", jobs=0)


def test_a_submission_from_an_earlier_release_is_no_tampering(tmp_path):
    """03 as handed out before the layout change (b40d187): its locked cells differ from today's
    but are that release's own, so the note says so instead of "edited read-only"."""
    import subprocess
    old = subprocess.run(["git", "show", "b40d187:notebooks/03_replace_for_grad.ipynb"],
                         capture_output=True, text=True, cwd=NB03.parent)
    if old.returncode:
        pytest.skip("this checkout has no history before b40d187 (a shallow clone)")
    (tmp_path / "subs" / "old").mkdir(parents=True)
    (tmp_path / "subs" / "old" / NB03.name).write_text(old.stdout, encoding="utf-8")
    rows = classroom.grade(tmp_path / "subs", "en", work=tmp_path / "work",
                           sandbox=sandbox_problem() is None)
    total = next(r for r in rows if r.exercise == "TOTAL")
    assert (total.score, total.max_score) == (4.0, 4.0)
    assert "made from an earlier release: setup" in total.note and "edited" not in total.note


@pytest.mark.parametrize("cell", [
    {"cell_type": "code", "metadata": {"nbgrader": "oops"}, "source": "x = 1", "outputs": [],
     "execution_count": None},
    {"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "locked": True}}, "source": "x = 1",
     "outputs": [], "execution_count": None},
    {"cell_type": "code", "metadata": {}, "source": 5, "outputs": [], "execution_count": None},
], ids=["metadata-not-a-dict", "no-grade-id", "source-not-text"])
def test_a_malformed_notebook_costs_only_its_owner(tmp_path, cell):
    """A notebook nbgrader cannot read scores 0 with a note, and the class goes on; a cell whose
    nbgrader metadata is broken (not a dict, no grade_id) loses that metadata and is graded as
    the student's own (nbgrader itself failed on it: the whole notebook scored 0)."""
    import json
    (tmp_path / "subs" / "bad").mkdir(parents=True)
    nb = json.loads(NB03.read_text(encoding="utf-8"))
    nb["cells"].insert(0, cell)
    (tmp_path / "subs" / "bad" / NB03.name).write_text(json.dumps(nb), encoding="utf-8")
    (tmp_path / "subs" / "good").mkdir()
    (tmp_path / "subs" / "good" / NB03.name).write_bytes(NB03.read_bytes())
    rows = classroom.grade(tmp_path / "subs", "en", work=tmp_path / "work",
                           sandbox=sandbox_problem() is None)
    totals = {r.student: r for r in rows if r.exercise == "TOTAL"}
    assert totals["good"].score == 4.0
    if cell["metadata"]:  # broken nbgrader metadata is taken off that cell; the rest is graded
        assert totals["bad"].score == 4.0 and "carried nbgrader metadata" in totals["bad"].note
    else:
        assert totals["bad"].score == 0.0 and totals["bad"].note
