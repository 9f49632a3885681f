"""Grading a class that attacks the grader (issue 24), with harmless markers: each submission of
notebook 03 tries one attack from its answer cell; honest classmates are graded beside them.
Asserted from outside: no marker outside the sandbox, no other submission changed, no process
alive afterwards, the CSV unchanged after ``grade`` returned, no grader variable visible, the
stolen key scores 0, the patched checker is flagged, the classmate keeps full marks, the CSV
holds no formula. Skipped, with the reason, where no bubblewrap sandbox can be made."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import classroom_sim as sim
from ottt_edu import classroom
from ottt_edu.classroom.sandbox import SandboxLimits, sandbox_problem
from ottt_edu.classroom.scan import review_notes

pytestmark = pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
ROOT = Path(__file__).resolve().parents[2]
NB03 = ROOT / "notebooks" / "03_replace_for_grad.ipynb"
SECRET = "grader-token-7f3a"           # a variable of the grader's environment
SLEEP = "4.3217"                       # the detached process's marker in its command line
FIRST, SECOND = "my_replace_for_grad", "replace_by_detach"


def _attack_source(answer: str, attack: str) -> str:
    return answer + "\n\n# --- the attack ---\n" + attack


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    release = base / "release"
    classroom.build_student_edition("en", release)
    teacher, student = sim.read(NB03), sim.read(release / "en" / NB03.name)
    subs, work, outside = base / "submissions", base / "work", base / "outside"
    outside.mkdir()
    csv_path = base / "scores.csv"
    marker = outside / "escaped"
    correct = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    key_paths = [str(NB03), str(work / "en" / "source" / NB03.stem / NB03.name)]
    attacks = {
        "steal_key": f"""
import json
for _p in {key_paths!r}:
    try:
        _nb = json.load(open(_p))
    except OSError:
        continue
    for _c in _nb["cells"]:
        if _c.get("metadata", {{}}).get("nbgrader", {{}}).get("solution"):
            exec("".join(_c["source"]))
    break
""",
        "overwrite_classmate": f"""
import os
for _pid in os.listdir("/proc"):
    try:
        for _f in os.listdir(f"/proc/{{_pid}}/cwd"):
            open(os.path.join(f"/proc/{{_pid}}/cwd", _f + ".x"), "w").write("hacked")
    except OSError:
        pass
try:
    open({str(subs / "honest" / NB03.name)!r}, "w").write("hacked")
except OSError:
    pass
""",
        "gradebook": f"""
try:
    open({str(work / "en" / "gradebook.db")!r}, "ab").write(b"HACKED")
except OSError:
    pass
""",
        "detached": f"""
import subprocess
subprocess.Popen(["/bin/sh", "-c", "sleep {SLEEP}; echo hacked >> {csv_path}; touch {marker}"],
                 start_new_session=True)
""",
        "environment": f"""
import os
print(sorted(os.environ))
print({SECRET!r} in str(os.environ))
try:
    open({str(marker)!r}, "w").write(str(dict(os.environ)))
except OSError:
    pass
""",
        "fork_bomb": """
import os, time
_kids = 0
try:
    for _ in range(600):
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        _kids += 1
except OSError:
    print(f"fork stopped after {_kids} processes")
""",
        "remount": f"""
import os, subprocess, ottt_edu
_pkg = os.path.dirname(ottt_edu.__file__)
for _cmd in (["mount", "-o", "remount,bind,rw", _pkg],
             ["unshare", "-Urm", "sh", "-c", f"mount -o remount,bind,rw {{_pkg}} && touch {{_pkg}}/HACKED"]):
    try:
        subprocess.run(_cmd, capture_output=True, timeout=20)
    except Exception:
        pass
try:
    open(os.path.join(_pkg, "HACKED"), "w").write("hacked")
except OSError:
    pass
""",
        "sysctl": """
for _path in ("/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches"):
    try:
        open(_path, "a").close()  # opening for writing is enough to tell; nothing is written
        print("WRITABLE", _path)
    except OSError:
        pass
""",
        "aa_sabotage": """
import os  # lock the socket folder the next classmates' kernels will use (graded first: "aa")
_here = [l.split()[4] for l in open("/proc/self/mountinfo") if "/ipc" in l.split()[4]]
for _m in _here:
    try:
        os.chmod(_m, 0)
    except OSError:
        pass
""",
        "ipc_fill": """
import json, os, sys  # C7 of the fourth pass: the socket folder lay on the grader's disk
_conn = json.load(open(sys.argv[sys.argv.index("-f") + 1]))
_written = 0
try:
    with open(os.path.join(os.path.dirname(_conn["ip"]), "fill"), "wb") as _f:
        for _ in range(64):
            _f.write(b"x" * 2**20)
            _f.flush()
            _written += 2**20
except OSError:
    pass
print("ipc wrote", _written)
""",
        "memory": """
try:
    _big = bytearray(64 * 2**30)
except MemoryError:
    print("capped: no 64 GiB for a submission")
""",
    }
    for name, attack in attacks.items():
        nb = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
        cell = sim.cell(nb, FIRST)
        cell.source = (attack if name == "steal_key" else _attack_source(cell.source, attack))
        if name == "steal_key":  # no answer of its own: the stolen key is all it has
            sim.cell(nb, SECOND).source = "# nothing"
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / NB03.name)
    patched = sim.submission(teacher, student, {FIRST: "correct", SECOND: "wrong"})
    sim.cell(patched, SECOND).source += "\ncheck_replace_by_detach = lambda *a, **k: True\n"
    (subs / "patched").mkdir()
    nbformat.write(patched, subs / "patched" / NB03.name)
    printed = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(printed, SECOND).source = (  # a wrong answer that sends a result before its error
        "import torch\n"
        "def replace_by_detach(x, x_r):\n"
        "    torch.sys.displayhook('ok')\n"
        "    return x * 1.0\n")
    (subs / "printed").mkdir()
    nbformat.write(printed, subs / "printed" / NB03.name)
    formula = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(formula, SECOND).source = (
        'def replace_by_detach(x, x_r):\n'
        '    raise type(\'=HYPERLINK("http://example.invalid","click")\', (Exception,), {})("x")\n')
    (subs / "formula").mkdir()
    nbformat.write(formula, subs / "formula" / NB03.name)
    # second attacking pass: a hook that erases the test cell's error after it ran (A2), the
    # checker patched through getattr and a string (A1), output hidden in metadata (A4)
    hook = sim.submission(teacher, student, {FIRST: "correct", SECOND: "wrong"})
    sim.cell(hook, SECOND).source += (
        "\n_ip = getattr(torch, '__builtins__')['get_ipython']()\n"
        "from IPython.display import clear_output\n"
        "def _hide(result):\n"
        "    result.error_in_exec = None\n"
        "    clear_output()\n"
        "_ip.events.register('post_run_cell', _hide)\n")
    dict_patch = sim.submission(teacher, student, {FIRST: "correct", SECOND: "wrong"})
    sim.cell(dict_patch, SECOND).source += (
        "\nimport ottt_edu.course.exercises as ex\n"
        "d = getattr(ex, '__dict__')\n"
        "d['check_replace_by_detach'] = lambda *a, **k: True\n")
    padded = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(padded, SECOND).source += (
        "\n_pub = getattr(getattr(torch, '__builtins__')['get_ipython'](), 'display_pub')\n"
        "for _k in range(3):\n"
        "    _pub.publish({'text/plain': 'hi'}, metadata={'pad': 'x' * (20 * 2**20)})\n")
    sim.cell(padded, FIRST).source += (  # B3 of the third pass: nested deeper than the old count's cap
        "\nclass _Deep:\n"
        "    def _repr_json_(self):\n"
        "        leaf = {'text': 'y' * (20 * 2**20)}\n"
        "        for _ in range(25):\n"
        "            leaf = {'more': leaf}\n"
        "        return leaf\n"
        "for _k in range(2):\n"
        "    display(_Deep())\n")
    # fourth attacking pass: a result sent before the checker's "Not attempted yet" on stderr
    # (C9: nbgrader read it as the grade), an answer cell marked locked to hide it from the scan
    # (C5)
    displayed = sim.submission(teacher, student, {FIRST: "correct", SECOND: "blank"})
    sim.cell(displayed, SECOND).source += (
        "\n_ip = getattr(torch, '__builtins__')['get_ipython']()\n"
        "_ip.events.register('pre_run_cell', lambda *a: torch.sys.displayhook(1))\n")
    locked = sim.submission(teacher, student, {FIRST: "correct", SECOND: "wrong"})
    sim.cell(locked, SECOND).source += "\ncheck_replace_by_detach = lambda *a, **k: True\n"
    sim.cell(locked, SECOND).metadata["nbgrader"]["locked"] = True
    for name, nb in (("hook", hook), ("dict_patch", dict_patch), ("padded", padded),
                     ("displayed", displayed), ("locked", locked)):
        (subs / name).mkdir()
        nbformat.write(nb, subs / name / NB03.name)
    (subs / "honest").mkdir()
    nbformat.write(correct, subs / "honest" / NB03.name)
    honest_before = (subs / "honest" / NB03.name).read_bytes()

    os.environ["OTTT_GRADER_TOKEN"] = SECRET
    try:
        rows = classroom.grade(subs, "en", work=work, limits=SandboxLimits(processes=200))
    finally:
        os.environ.pop("OTTT_GRADER_TOKEN")
    classroom.write_csv(rows, csv_path)
    csv_after = csv_path.read_bytes()
    time.sleep(float(SLEEP) + 2)  # the detached process would have written by now
    totals = {r.student: r for r in rows if r.exercise == "TOTAL"}
    return dict(totals=totals, rows=rows, csv=csv_path, csv_after=csv_after, marker=marker,
                outside=outside, subs=subs, work=work, honest_before=honest_before)


def _autograded(graded, student) -> str:
    path = graded["work"] / "en" / "autograded" / student / NB03.stem / NB03.name
    return path.read_text(encoding="utf-8")


def test_honest_classmate_keeps_full_marks_and_their_file(graded):
    honest = graded["totals"]["honest"]
    assert (honest.score, honest.max_score) == (4.0, 4.0) and honest.note == ""
    assert (graded["subs"] / "honest" / NB03.name).read_bytes() == graded["honest_before"]


def test_the_stolen_key_scores_zero(graded):
    t = graded["totals"]["steal_key"]
    assert t.score == 0.0 and t.max_score == 4.0
    assert "uses exec" in t.note and "uses open" in t.note  # and the review says why


def test_no_marker_outside_and_no_process_alive(graded):
    assert list(graded["outside"].iterdir()) == []
    assert not (ROOT / "ottt_edu" / "HACKED").exists()  # read-only binds stay read-only
    alive = []
    for pid in os.listdir("/proc"):
        try:
            if SLEEP in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                alive.append(pid)
        except OSError:
            pass
    assert alive == []
    assert graded["csv"].read_bytes() == graded["csv_after"]


def test_the_gradebook_and_attackers_own_points(graded):
    for name in ("overwrite_classmate", "gradebook", "detached", "environment", "memory", "remount",
                 "sysctl"):
        t = graded["totals"][name]
        assert (t.score, t.max_score) == (4.0, 4.0), (name, t.note)  # their answers were right
    assert "review: cell" in graded["totals"]["gradebook"].note


def _outputs(graded, student) -> str:
    nb = json.loads(_autograded(graded, student))
    return json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])


def test_no_variable_of_the_grader_reaches_the_kernel(graded):
    text = _outputs(graded, "environment")
    assert "HOME" in text  # the variables it did see were printed
    assert "OTTT_GRADER_TOKEN" not in text and SECRET not in text and "False" in text


def test_root_only_kernel_settings_stay_out_of_reach(graded):
    assert "WRITABLE" not in _outputs(graded, "sysctl")


def test_processes_are_capped(graded):
    assert "fork stopped after" in _outputs(graded, "fork_bomb")


def test_memory_is_capped(graded):
    assert "capped: no 64 GiB" in _outputs(graded, "memory")


def test_a_result_printed_before_the_checkers_error_earns_nothing(graded):
    rows = [r for r in graded["rows"] if r.student == "printed" and r.exercise == "check_replace_by_detach"]
    assert rows[0].score == 0.0 and "uses .sys" in graded["totals"]["printed"].note


def test_a_hook_that_erases_the_test_cells_error_earns_nothing(graded):
    """A2 of the second pass: an IPython ``post_run_cell`` hook cleared the error flag and the
    output of the checker's cell, and the wrong answer scored 4/4 with no note."""
    rows = [r for r in graded["rows"] if r.student == "hook" and r.exercise == "check_replace_by_detach"]
    assert rows[0].score == 0.0
    note = graded["totals"]["hook"].note
    assert "asked to clear its output" in note and "uses getattr" in note


def test_a_result_sent_before_not_attempted_earns_nothing(graded):
    """C9 of the fourth pass: nbgrader reads a test cell's first ``execute_result`` as its grade
    before it looks at the stderr after it; a blank answer that sent one scored full marks."""
    rows = [r for r in graded["rows"] if r.student == "displayed" and r.exercise == "check_replace_by_detach"]
    assert rows and all(r.score == 0.0 for r in rows), [(r.score, r.note) for r in rows]
    assert "Not attempted" in rows[0].note, rows[0].note


def test_an_answer_cell_marked_locked_is_flagged_when_graded(graded):
    note = graded["totals"]["locked"].note
    assert f"({SECOND}) has nbgrader flags changed" in note, note
    assert "line 4 assigns ottt_edu.course.exercises.check_replace_by_detach" in note, note


def test_the_socket_folder_cannot_fill_the_graders_disk(graded):
    """C7 of the fourth pass: the kernel's socket folder was the grader's own, bound in
    read-write: 64 MiB (or 512 MiB a file, any number of files) written there reached the
    grader's disk. It is now a 1 MiB RAM folder of the sandbox's own."""
    import re
    said = re.search(r"ipc wrote (\d+)", _autograded(graded, "ipc_fill"))
    assert said is not None
    assert int(said.group(1)) <= 2**20, said.group(0)
    assert graded["totals"]["ipc_fill"].score == 4.0, graded["totals"]["ipc_fill"].note


def test_a_checker_patched_through_getattr_is_flagged(graded):
    note = graded["totals"]["dict_patch"].note
    assert "uses getattr" in note and "uses the string '__dict__'" in note


def test_output_hidden_in_metadata_is_capped(graded):
    """A4 of the second pass: 3 x 50 MB in a display's metadata passed the cap (774 MB of
    grader memory); every part of a message now counts."""
    assert len(_autograded(graded, "padded")) < 4 * 2**20
    assert "yyyy" not in _autograded(graded, "padded")  # nested 26 deep: counted all the same
    assert "[grader: output over 2 MiB dropped]" in _autograded(graded, "padded")
    assert graded["totals"]["padded"].score == 4.0


def test_a_patched_checker_is_flagged(graded):
    note = graded["totals"]["patched"].note
    assert "assigns ottt_edu.course.exercises.check_replace_by_detach" in note


def test_no_csv_cell_is_a_formula(graded):
    with open(graded["csv"], newline="", encoding="utf-8") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c and c[0] in "=+-@"]


def test_without_the_sandbox_the_same_theft_succeeds(graded, tmp_path):
    """The attack is real: graded with --no-sandbox, the stolen key earns full marks (and the
    row says it was graded without a sandbox). The sandbox is what stops it."""
    subs = tmp_path / "subs"
    (subs / "steal_key").mkdir(parents=True)
    (subs / "steal_key" / NB03.name).write_bytes((graded["subs"] / "steal_key" / NB03.name).read_bytes())
    rows = classroom.grade(subs, "en", work=graded["work"].parent / "work_unsandboxed", sandbox=False)
    total = next(r for r in rows if r.exercise == "TOTAL")
    assert total.score == 4.0 and "graded without a sandbox" in total.note


def test_the_teachers_answers_raise_no_review_note():
    for path in classroom.source_notebooks("en") + classroom.source_notebooks("zh-CN"):
        assert review_notes(json.loads(path.read_text(encoding="utf-8"))) == [], path.name


@pytest.mark.parametrize("code, says", [
    ("import ottt_edu.course.exercises as ex\nex.check_surrogate_spike = lambda *a: True",
     "assigns ottt_edu.course.exercises.check_surrogate_spike"),
    ("import builtins\nbuiltins.print = None", "assigns builtins.print"),
    ("import torch\ntorch.testing.assert_close = lambda *a, **k: None", "assigns torch.testing.assert_close"),
    ("import sys\nsys.modules['ottt_edu'] = None", "imports sys"),
    ("get_ipython().showtraceback = lambda *a, **k: None", "uses get_ipython"),
    ("setattr(__import__('ottt_edu'), 'x', 1)", "uses setattr"),
    # the evasions of the attacking-student pass, each caught
    ("import ottt_edu.course.exercises as E\nE.__dict__.update(check_replace_for_grad=lambda *a: True)", "uses .__dict__"),
    ("from ottt_edu.course import exercises\nm = exercises\nm.check_replace_for_grad = 1", "assigns m.check_replace_for_grad"),
    ("f = check_replace_by_detach\nf.__code__ = (lambda fn: True).__code__", "uses .__code__"),
    ("s = setattr\ns(object, 'x', 1)", "uses setattr"),
    ("torch.__builtins__['exec']('x = 1')", "uses .__builtins__"),
    ("torch.sys.modules['x'] = None", "uses .sys"),
    ("heaviside.__globals__['__builtins__']", "uses .__globals__"),
    ("@(lambda f: f)\ndef g():\n    pass", "uses a computed decorator"),
    ("gi = get_ipython\ngi().run_cell('x')", "uses get_ipython"),
    ("T = torch\nT.equal = T.allclose = lambda *a, **k: True", "assigns T.equal"),
    ("def replace_by_detach(x, x_r):\n    torch.sys.displayhook('ok')\n    return x", "uses .sys"),
    ("%config Completer.use_jedi = False\nimport os", "uses IPython syntax"),
    ("%config Completer.use_jedi = False\nimport os", "imports os"),
    ("def broken(:\n    pass", "could not be read as Python"),
    ("from pathlib import Path\nPath('/etc/passwd').read_text()", "file access"),
    ("import subprocess", "imports subprocess"),
    ("def check_replace_by_detach(fn):\n    return True", "redefines ottt_edu.course.exercises.check_replace_by_detach"),
    # the second attacking pass and the scan's widening after it
    ("import ottt_edu.course.exercises as ex\nd = getattr(ex, '__dict__')\nd['check'] = 1", "uses getattr"),
    ("import ottt_edu.course.exercises as ex\nd = getattr(ex, '__dict__')\nd['check'] = 1", "uses the string '__dict__'"),
    ("g = getattr\nh = g(torch, 'os')", "uses the string 'os'"),
    ("import operator\noperator.attrgetter('x')(torch)", "imports operator"),
    ("from . import exercises", "imports ."),
    ("torch._C._set_grad_enabled(False)", "uses ._C"),
    ("torch.nn.modules.module.register_module_forward_hook(lambda *a: None)", "uses .register_module_forward_hook"),
    ("class Fake(torch.Tensor):\n    def __torch_function__(cls, *a, **k):\n        return True", "defines __torch_function__"),
    ("s = '{0.__class__}'.format(1)", "uses the string '__class__'"),
    ("m = torch.load('x.pt', weights_only=False)", "uses .load"),
    # the third attacking pass: a forbidden module imported by name from an allowed one, and
    # strings put together from pieces
    ("from dataclasses import builtins as tools", "imports builtins (as dataclasses.builtins)"),
    ("from typing import sys as tools", "imports sys (as typing.sys)"),
    ("import dataclasses\ndataclasses.builtins.setattr(torch, 'x', 1)", "uses .builtins"),
    ("from ottt_edu.course import exercises as course\nhelpers.setattr(course, 'check', 1)", "uses .setattr"),
    ("loader = h.getattr(h, '_' * 2 + 'import' + '_' * 2)", "uses the string '__import__'"),
    ("system = loader('o' + 's')", "uses the string 'os'"),
    ("name = chr(95) * 2 + 'dict' + chr(95) * 2", "uses the string '__dict__'"),
    ("name = ''.join(['s', 'y', 's'])", "uses the string 'sys'"),
    ("name = f\"{'o'}s\"", "uses the string 'os'"),
    ("from torch.serialization import pickle", "imports pickle"),
    # the fourth attacking pass: the checker bound as a loop, comprehension, with or walrus
    # target (C1, C3), an attribute set through a function's parameter (C4), strings evaluated
    # as code by typing (C2), a class made by type() with a name from bytes (C12)
    ("for check_replace_by_detach in [lambda *a, **k: True]:\n    pass",
     "binds ottt_edu.course.exercises.check_replace_by_detach"),
    ("[0 for check_replace_by_detach in [1]]", "binds ottt_edu.course.exercises.check_replace_by_detach"),
    ("[(check_replace_by_detach := lambda *a: True)]", "binds ottt_edu.course.exercises.check_replace_by_detach"),
    ("import contextlib\nwith contextlib.nullcontext(1) as check_replace_by_detach:\n    pass",
     "binds ottt_edu.course.exercises.check_replace_by_detach"),
    ("import math as check_replace_by_detach", "rebinds ottt_edu.course.exercises.check_replace_by_detach"),
    ("import ottt_edu.course.exercises as ex\ndef f(m):\n    m.check_replace_by_detach = 1\nf(ex)",
     "assigns m.check_replace_by_detach (an attribute of an object it did not make)"),
    ("import ottt_edu.course.exercises as ex\ndef f(self):\n    self.check_replace_by_detach = 1\nf(ex)",
     "assigns self.check_replace_by_detach"),
    ("def f(m):\n    return m._modules", "uses ._modules"),
    ("import typing\ndef f(x: \"setattr(ex, 'check_replace_by_detach', 1)\"):\n    pass\n"
     "typing.get_type_hints(f)", "uses setattr (in a string that reads as code)"),
    ("import typing\ntyping.get_type_hints(f)", "uses .get_type_hints"),
    ("from typing import get_type_hints", "imports typing.get_type_hints"),
    ("x: 'ex.check_replace_by_detach.__code__' = 1", "uses the string '__code__'"),
    ("Yes = type('Yes', (), {bytes.fromhex('5f5f65715f5f').decode(): lambda s, o: True})",
     "makes a class with type(name, bases, namespace)"),
    ("Yes = type('Yes', (), {bytes.fromhex('5f5f65715f5f').decode(): lambda s, o: True})", "uses .fromhex"),
    # the fifth attacking pass: a module's __dict__ through string.Formatter with a key built
    # from a name bound to "_" (F1), a metaclass called under another name
    ("import string\nimport ottt_edu.course.exercises as ex\nu = '_'\nkey = '0.' + u + u + 'dict' + u + u\n"
     "d = string.Formatter().get_field(key, [ex], {})[0]", "uses the string '0.__dict__'"),
    ("import string\nd = string.Formatter().get_field(key, [ex], {})[0]", "uses .get_field"),
    ("Meta = type(torch.Tensor)\nT = Meta('T', (torch.Tensor,), {name: f})",
     "makes a class from (name, bases, namespace)"),
])
def test_the_scan_names_each_kind_of_tampering(code, says):
    nb = sim.read(NB03)
    sim.cell(nb, SECOND).source = code
    notes = review_notes(nb)
    assert any(says in n and f"({SECOND})" in n for n in notes), notes


@pytest.mark.parametrize("code, says", [
    ("print = lambda *a, **k: None", "rebinds print"),
    ("torch = None", "rebinds torch"),
    ("for torch in [None]:\n    pass", "rebinds torch"),
    ("import numpy as torch", "rebinds torch"),
    ("def f():\n    global print\n    print = None", "rebinds print"),
    ("def f():\n    print = None  # a local: harmless\n    torch = 1", None),
    ("answer = 3\nx = 2  # the test cell sets x itself", None),
])
def test_the_scan_names_rebinding_a_name_a_test_cell_uses(code, says):
    def cell(source, **meta):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"grade_id": meta.pop("gid"), "schema_version": 3, **meta}
        return c
    nb = nbformat.v4.new_notebook(cells=[
        cell("import torch", gid="setup", locked=True, grade=False, solution=False),
        cell("answer = None", gid="answer", locked=False, grade=False, solution=True),
        cell("x = torch.ones(1)\nprint(answer, x)", gid="test", locked=True, grade=True,
             solution=False, points=1)])
    submitted = nbformat.from_dict(json.loads(json.dumps(nb)))
    submitted.cells[1].source = code
    notes = review_notes(submitted, nb)
    if says is None:
        assert notes == [], notes
    else:
        assert any(says in n and "(answer)" in n for n in notes), notes


def test_the_scan_reads_extra_cells_and_cells_without_metadata(tmp_path):
    classroom.build_student_edition("en", tmp_path)
    release = nbformat.read(tmp_path / "en" / NB03.name, as_version=4)
    nb = sim.read(NB03)
    nb.cells.insert(3, nbformat.v4.new_code_cell("import ottt_edu.course.exercises as ex\n"
                                                  "ex.check_replace_by_detach = lambda *a: True"))
    sim.cell(nb, FIRST).metadata.pop("nbgrader")
    sim.cell(nb, SECOND).source += "\nimport subprocess"  # the answer cell, stripped below
    stripped = next(c for c in nb.cells if "import subprocess" in c.source)
    stripped.metadata.pop("nbgrader")
    notes = review_notes(nb, release)
    assert any("cell 4 line 2 assigns ottt_edu.course.exercises.check_replace_by_detach" in n for n in notes), notes
    assert any("imports subprocess" in n for n in notes), notes
    assert review_notes(sim.read(NB03), release) == []  # the teacher's answers: nothing to review


def test_an_answer_cell_marked_locked_is_still_scanned(tmp_path):
    """C5 of the fourth pass: ``nbgrader.locked = true`` on an answer cell kept the scan away from
    it (locked cells are nbgrader's own), but nbgrader takes the flags back from its database and
    runs the student's code. The release decides which cells are locked; a changed flag and a
    cell that claims to be locked with an id the release does not have are notes of their own."""
    classroom.build_student_edition("en", tmp_path)
    release = nbformat.read(tmp_path / "en" / NB03.name, as_version=4)
    nb = sim.read(NB03)
    answer = sim.cell(nb, SECOND)
    answer.source += "\nimport ottt_edu.course.exercises as ex\nex.check_replace_by_detach = lambda *a: True"
    answer.metadata["nbgrader"]["locked"] = True
    extra = nbformat.v4.new_code_cell("import subprocess")
    extra.metadata["nbgrader"] = {"locked": True, "grade": False, "solution": False}
    nb.cells.insert(3, extra)
    notes = review_notes(nb, release)
    assert any(f"({SECOND})" in n and "assigns ottt_edu.course.exercises.check_replace_by_detach" in n
               for n in notes), notes
    assert any(f"({SECOND}) has nbgrader flags changed" in n and "locked: False -> True" in n
               for n in notes), notes
    assert any("cell 4 line 1 imports subprocess" in n for n in notes), notes
    assert any("cell 4 is marked locked but the handed-out notebook has no locked cell" in n
               for n in notes), notes


def test_a_checkout_whose_install_points_elsewhere_is_refused_before_grading(tmp_path):
    """Found in the fourth pass's set-up: graded from a copy of the repository whose editable
    install still points at the original, every kernel failed to import ottt_edu inside the
    sandbox (which shows only the copy's package) and every student scored 0. ``grade`` now
    tries the import in a sandbox first and refuses, in one line, with the fix."""
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "ottt_edu", copy / "ottt_edu",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "notebooks").symlink_to(ROOT / "notebooks")  # the teacher edition, as in the copy
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    nbformat.write(sim.read(NB03), tmp_path / "subs" / "ann" / NB03.name)
    env = {**os.environ, "PYTHONPATH": str(copy)}
    done = subprocess.run([sys.executable, "-m", "ottt_edu.classroom", "grade", str(tmp_path / "subs"),
                           "--csv", str(tmp_path / "scores.csv")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error: inside the grading sandbox"), line
    assert "cannot import it" in line and str(copy / "ottt_edu") in line and "pip install -e" in line, line
    assert not (tmp_path / "scores.csv").exists()


def test_an_answer_cell_handed_in_as_markdown_is_scanned_as_code(tmp_path):
    """F2 of the fifth pass: an answer cell turned into a markdown cell (one key press in
    JupyterLab) was skipped by the scan, and nbgrader gave it back its type and ran it."""
    classroom.build_student_edition("en", tmp_path)
    release = nbformat.read(tmp_path / "en" / NB03.name, as_version=4)
    nb = sim.read(NB03)
    answer = sim.cell(nb, FIRST)
    answer.cell_type = "markdown"
    answer.source = "import ottt_edu.course.exercises as ex\nex.check_replace_for_grad = lambda *a: True"
    for key in ("outputs", "execution_count"):
        answer.pop(key, None)
    notes = review_notes(nb, release)
    assert any(f"({FIRST}) was handed in as a markdown cell" in n for n in notes), notes
    assert any("assigns ottt_edu.course.exercises.check_replace_for_grad" in n for n in notes), notes


def test_the_scan_folds_no_string_too_long_to_make():
    """F4 of the fifth pass: the scan runs in the grader's own process, and folding
    ``"%0999999999d" % 0`` took 16 s and 3.1 GB there; results are capped before they are made."""
    import ast
    from ottt_edu.classroom.scan import _fold
    for code in ('"%09999999d" % 0', '"a" * 64 * 64 * 64', '"{:09999999}".format(0)',
                 '"ab".replace("", "x" * 4000)'):
        assert _fold(ast.parse(code, mode="eval").body) is None, code
    assert _fold(ast.parse('"%s%s" % ("_", "_")', mode="eval").body) == "__"


def test_without_bubblewrap_grading_is_refused_with_the_fix(tmp_path, monkeypatch):
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap on this PATH
    (tmp_path / "s" / "ana").mkdir(parents=True)
    (tmp_path / "s" / "ana" / NB03.name).write_bytes(NB03.read_bytes())
    done = subprocess.run([sys.executable, "-m", "ottt_edu.classroom", "grade", str(tmp_path / "s")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "apt install bubblewrap" in done.stderr and "--no-sandbox" in done.stderr


def test_a_fork_bomb_does_not_starve_classmates_graded_beside_it(tmp_path):
    """--jobs 2: one submission holds every process it may have while classmates are graded in
    the other worker. Each sandbox has its own process cap (as root: its own cgroup and uid),
    so the classmates' kernels still start and keep full marks."""
    release = tmp_path / "release"
    classroom.build_student_edition("en", release)
    teacher, student = sim.read(NB03), sim.read(release / "en" / NB03.name)
    subs = tmp_path / "subs"
    bomb = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(bomb, FIRST).source += """
import os, time
for _ in range(400):
    try:
        if os.fork() == 0:
            time.sleep(25)
            os._exit(0)
    except OSError:
        break
time.sleep(25)
"""
    for name, nb in [("a_bomb", bomb)] + [
            (f"b_honest{i}", sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"}))
            for i in range(3)]:
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / NB03.name)
    rows = classroom.grade(subs, "en", work=tmp_path / "work", jobs=2,
                           limits=SandboxLimits(processes=120))
    totals = {r.student: r for r in rows if r.exercise == "TOTAL"}
    for i in range(3):
        t = totals[f"b_honest{i}"]
        assert (t.score, t.max_score) == (4.0, 4.0), (t.student, t.note)


def test_the_output_count_follows_any_depth():
    from ottt_edu.classroom.preprocessors import _size
    leaf = {"text": "y" * 1000}
    for _ in range(500):
        leaf = {"more": [leaf]}
    assert _size(leaf) >= 1000 + 500 * 4


def classroom_cgroups() -> bool:
    from ottt_edu.classroom.sandbox import make_cgroups, remove_cgroup
    groups = make_cgroups(SandboxLimits(), "ottt-sandbox-probe")
    for g in groups:
        remove_cgroup(g)
    return any("memory" in str(g) or (g / "memory.max").exists() for g in groups)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not classroom_cgroups(),
                    reason="the memory cap of all a sandbox's processes together is a cgroup's, "
                           "made only when the grader is root")
def test_the_memory_of_all_a_sandboxs_processes_together_is_capped(tmp_path):
    """RLIMIT_AS caps one process; a submission starting several processes that each stay under
    it is held by the sandbox's memory cgroup: not every child gets its memory."""
    release = tmp_path / "release"
    classroom.build_student_edition("en", release)
    teacher, student = sim.read(NB03), sim.read(release / "en" / NB03.name)
    nb = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(nb, SECOND).source += """
import os, time
_kids = []
for _ in range(4):
    _pid = os.fork()
    if _pid == 0:
        _block = b"x" * (200 * 2**20)   # written, so resident
        time.sleep(3)
        os._exit(7)
    _kids.append(_pid)
_done = sum(os.WEXITSTATUS(s) == 7 for s in (os.waitpid(p, 0)[1] for p in _kids) if os.WIFEXITED(s))
print(f"children that kept their memory: {_done} of 4")
"""
    (tmp_path / "subs" / "greedy").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "greedy" / NB03.name)
    classroom.grade(tmp_path / "subs", "en", work=tmp_path / "work",
                    limits=SandboxLimits(group_memory_bytes=512 * 2**20))
    out = (tmp_path / "work" / "en" / "autograded" / "greedy" / NB03.stem / NB03.name).read_text(encoding="utf-8")
    assert "children that kept their memory: 4 of 4" not in out
    assert "children that kept their memory" in out or "the kernel died" in out



def classroom_cpu_cgroup() -> bool:
    from ottt_edu.classroom.sandbox import make_cgroups, remove_cgroup
    groups = make_cgroups(SandboxLimits(), "ottt-sandbox-probe-cpu")
    found = any((g / "cpu.shares").exists() or (g / "cpu.weight").exists() for g in groups)
    for g in groups:
        remove_cgroup(g)
    return found


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not classroom_cpu_cgroup(),
                    reason="a sandbox's share of the CPU is a cgroup's, made only when the grader is root")
def test_busy_processes_do_not_starve_a_classmate_graded_beside_them(tmp_path):
    """B4 of the third pass (--jobs 2): 40 busy processes in one sandbox, each in a session of
    its own (so each its own scheduler autogroup), left the classmate in the other slot 1/41 of
    the machine (its setup cell ran past the cell limit). Each sandbox is one cpu cgroup at the
    default weight: the classmate keeps a fair share, measured by its own CPU time over 5 s of
    wall time (about 0.05 of a core without the cgroup, 0.5 to 1 with it, two CPU burners
    beside included)."""
    release = tmp_path / "release"
    classroom.build_student_edition("en", release)
    teacher, student = sim.read(NB03), sim.read(release / "en" / NB03.name)
    busy = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(busy, FIRST).source += """
import os, time
_end = time.time() + 20
for _ in range(40):
    if os.fork() == 0:
        os.setsid()  # a session of its own: its own autogroup, one more equal share of the CPU
        while time.time() < _end:
            pass
        os._exit(0)
time.sleep(20)
"""
    measure = sim.submission(teacher, student, {FIRST: "correct", SECOND: "correct"})
    sim.cell(measure, FIRST).source += """
import time
time.sleep(3)
_wall, _cpu = time.time(), time.process_time()
while time.time() - _wall < 5:
    pass
print(f"cpu share: {(time.process_time() - _cpu) / (time.time() - _wall):.3f}")
"""
    for name, nb in (("a_busy", busy), ("b_measure", measure)):
        (tmp_path / "subs" / name).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / name / NB03.name)
    rows = classroom.grade(tmp_path / "subs", "en", work=tmp_path / "work", jobs=2)
    [graded_nb] = (tmp_path / "work").glob(f"en/*/autograded/b_measure/{NB03.stem}/{NB03.name}")
    out = json.loads(graded_nb.read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    share = float(printed.split("cpu share: ")[1].split()[0])
    assert share > 0.2, share
    total = next(r for r in rows if r.student == "b_measure" and r.exercise == "TOTAL")
    assert total.score == total.max_score == 4.0, total.note


def test_the_fifth_passs_attacks_fail_and_the_class_still_gets_its_csv(tmp_path):
    """The fifth attacking pass, graded through the command line as a teacher runs it:
    F3 a warning-looking prefix swallowed the checker's "Not attempted yet"; F6 a fake
    ``status: idle`` ended the test cell before the checker spoke; F4 the kernel wrote into the
    grader's own stdout and stderr (inherited descriptors); F7 escape and bidi characters reached
    the CSV and the summary; F9 a file name that is no valid UTF-8 stopped the CSV from being
    written for the whole class; F5 a pasted cell (a duplicate grade_id) zeroed the notebook."""
    classroom.build_student_edition("en", tmp_path / "release")
    teacher, student = sim.read(NB03), sim.read(tmp_path / "release" / "en" / NB03.name)
    subs = tmp_path / "subs"

    def hand_in(who, nb):
        (subs / who).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, subs / who / NB03.name)

    both = {FIRST: "correct", SECOND: "correct"}
    hand_in("honest", sim.submission(teacher, student, both))
    warn = sim.submission(teacher, student, {FIRST: "correct", SECOND: "blank"})
    sim.cell(warn, SECOND).source = ("import sys\ndef replace_by_detach(x, x_r):\n"
                                     "    sys.stderr.write('x.py:1: UserWarning: ')\n"
                                     "    raise NotImplementedError()\n")
    hand_in("warnabsorb", warn)
    idle = sim.submission(teacher, student, {FIRST: "correct", SECOND: "blank"})
    sim.cell(idle, SECOND).source += (
        "\n_ip = get_ipython()\n"
        "_ip.events.register('pre_run_cell', lambda *a, **k: _ip.kernel._publish_status('idle', 'shell'))\n")
    hand_in("fakeidle", idle)
    fds = sim.submission(teacher, student, both)
    fds.cells.append(nbformat.v4.new_code_cell(
        "import os\n"
        "for _fd in range(3, 512):\n"
        "    try:\n"
        "        _target = os.readlink(f'/proc/self/fd/{_fd}')\n"
        "    except OSError:\n"
        "        continue\n"
        "    if not _target.startswith(('socket:', 'anon_inode:')):\n"
        "        try:\n"
        "            os.write(_fd, b'FD-MARKER-5 \\x1b]0;retitled\\x07\\n')\n"
        "        except OSError:\n"
        "            pass\n"))
    hand_in("fds", fds)
    escape = sim.submission(teacher, student, {FIRST: "correct", SECOND: "blank"})
    sim.cell(escape, SECOND).source = ("def replace_by_detach(x, x_r):\n"
                                       "    raise RuntimeError('\\x1b[8mHIDDEN \\u202eesrever \\x07')\n")
    hand_in("escape", escape)
    pasted = sim.submission(teacher, student, both)
    setup = next(c for c in pasted.cells if c.metadata.get("nbgrader", {}).get("locked")
                 and c.cell_type == "code")
    pasted.cells.append(nbformat.from_dict(json.loads(json.dumps(setup))))
    hand_in("pasted", pasted)
    (subs / "zz").mkdir()
    fd = os.open(os.fsencode(str(subs / "zz")) + b"/\xff.ipynb", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"{}")
    os.close(fd)
    csv_path = tmp_path / "scores.csv"
    done = subprocess.run([sys.executable, "-m", "ottt_edu.classroom", "grade", str(subs),
                           "--csv", str(csv_path)], capture_output=True, timeout=900)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-2000:]
    assert b"FD-MARKER-5" not in said and b"retitled" not in said          # F4
    text = csv_path.read_text(encoding="utf-8")
    for raw in ("\x1b", "\x07", "\u202e"):                                  # F7
        assert raw not in text and raw.encode() not in said, repr(raw)
    assert "\\x1b[8mHIDDEN" in text
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(text.splitlines())}
    assert rows[("honest", "TOTAL")]["score"] == "4"
    assert rows[("fds", "TOTAL")]["score"] == "4", rows[("fds", "TOTAL")]
    assert "said the cell had finished before it had" in rows[("fakeidle", "TOTAL")]["note"]
    for who in ("warnabsorb", "fakeidle"):                                 # F3, F6
        assert rows[(who, "check_replace_by_detach")]["score"] == "0", rows[(who, "check_replace_by_detach")]
    assert rows[("pasted", "TOTAL")]["score"] == "4", (rows[("pasted", "TOTAL")], said[-3000:])  # F5
    assert "carried nbgrader metadata" in rows[("pasted", "TOTAL")]["note"]
    assert "\\udcff" in rows[("zz", "COURSE TOTAL")]["note"] or "\\xff" in rows[("zz", "COURSE TOTAL")]["note"]  # F9
