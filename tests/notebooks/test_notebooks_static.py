"""Static checks of the stored notebooks (nbval re-runs them; these check how they are stored).

- every notebook is paired with its MyST Markdown twin (``NN_name.md``, jupytext) and the two hold
  the same cells (jupytext's own comparison); no notebook and no twin stands alone;
- editing the twin and re-syncing updates the notebook, and the reverse, keeping cell ids;
- stored as "restart kernel and run all" leaves it: execution counts 1..n, no error outputs except
  in cells that expect one (``NBVAL_RAISES_EXCEPTION``), no per-cell timing or Python version;
- opens with learning goals and closes with the SpikingJelly pointer;
- every ``NBVAL_IGNORE_OUTPUT`` stands alone on its line (nbval ignores it otherwise), has a comment
  saying why, and the cell still asserts its result.
"""
import json
import re
import os
import pathlib
import shutil
import sys

import jupytext
import pytest
from jupytext.compare import compare_notebooks

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
TWIN_FORMAT = "md:myst"
sys.path.insert(0, str(ROOT))

import tasks  # noqa: E402  (the project's own command file: python tasks.py sync)


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell):
    return "".join(cell["source"])


def test_every_notebook_has_a_twin_and_every_twin_a_notebook():
    assert NOTEBOOKS, "no notebooks found"
    twins = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.md"))
    assert [p.stem for p in twins] == [p.stem for p in NOTEBOOKS], (
        "each notebooks/NN_name.ipynb needs notebooks/NN_name.md and vice versa: "
        "run `python tasks.py sync` (jupytext pairs them through notebooks/jupytext.toml)")


def test_pairing_is_declared_once_in_the_jupytext_config():
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

    found = find_jupytext_configuration_file(str(NOTEBOOK_DIR))
    assert found and pathlib.Path(found).resolve() == (NOTEBOOK_DIR / "jupytext.toml").resolve()
    config = load_jupytext_configuration_file(found)
    formats = config.formats if isinstance(config.formats, str) else ",".join(config.formats)
    assert formats == "ipynb,md:myst"
    for path in NOTEBOOKS:  # nothing overrides the pairing per notebook
        assert "jupytext" not in load(path)["metadata"], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_twin_holds_the_same_cells(path):
    twin = jupytext.read(path.with_suffix(".md"))
    stored = jupytext.read(path)
    # jupytext's comparison: same cell types, sources and (filtered) metadata, in order
    compare_notebooks(twin, stored, fmt=TWIN_FORMAT)


def _pair_in(tmp_path, name="03_replace_for_grad"):
    for f in (f"{name}.ipynb", f"{name}.md", "jupytext.toml"):
        shutil.copy(NOTEBOOK_DIR / f, tmp_path / f)
    return tmp_path / f"{name}.ipynb", tmp_path / f"{name}.md"


def _touch_later(path, than):
    t = than.stat().st_mtime + 10
    os.utime(path, (t, t))


def test_editing_the_twin_and_syncing_updates_the_notebook(tmp_path):
    nb_path, md_path = _pair_in(tmp_path)
    before = load(nb_path)
    text = md_path.read_text(encoding="utf-8")
    assert "ReplaceforGrad" in text
    md_path.write_text(text.replace("OTTT needs a layer", "OTTT (edited) needs a layer", 1),
                       encoding="utf-8")
    _touch_later(md_path, nb_path)
    assert tasks.main(["sync", str(md_path)]) == 0
    after = load(nb_path)
    assert "OTTT (edited) needs a layer" in source(after["cells"][0])
    assert "jupytext" not in after["metadata"]        # the sync leaves no per-notebook pairing data
    assert md_path.stat().st_mtime >= nb_path.stat().st_mtime   # the twin is not older
    # only that cell changed; ids and outputs of every cell are kept
    assert [c["id"] for c in after["cells"]] == [c["id"] for c in before["cells"]]
    assert [c.get("outputs") for c in after["cells"]] == [c.get("outputs") for c in before["cells"]]
    assert [source(c) for c in after["cells"][1:]] == [source(c) for c in before["cells"][1:]]


def test_editing_the_notebook_and_syncing_updates_the_twin(tmp_path):
    nb_path, md_path = _pair_in(tmp_path)
    nb = load(nb_path)
    nb["cells"][0]["source"] = source(nb["cells"][0]).replace("OTTT needs a layer", "OTTT (from lab) needs a layer", 1)
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _touch_later(nb_path, md_path)
    assert tasks.main(["sync", str(nb_path)]) == 0
    assert "OTTT (from lab) needs a layer" in md_path.read_text(encoding="utf-8")
    assert [c["id"] for c in load(nb_path)["cells"]] == [c["id"] for c in nb["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_as_run_all_leaves_it(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "ottt-edu"
    assert "version" not in nb["metadata"].get("language_info", {}), "run `python tasks.py notebook NN`"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    for c in code:
        assert "execution" not in c["metadata"], f"{path.name}: per-cell timing stored (python tasks.py notebook NN)"
        errors = [o for o in c["outputs"] if o["output_type"] == "error"]
        if errors:
            assert "NBVAL_RAISES_EXCEPTION" in source(c), f"stored error in {path.name}: {errors[0]['ename']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_goals_first_spikingjelly_last(path):
    cells = load(path)["cells"]
    assert "learning goals" in source(cells[0]).lower()
    assert "spikingjelly" in source(cells[-1]).lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ignored_outputs_are_explained_and_still_asserted(path):
    for c in load(path)["cells"]:
        text = source(c)
        if "NBVAL_IGNORE_OUTPUT" not in text:
            continue
        lines = [line.strip() for line in text.splitlines()]
        assert "# NBVAL_IGNORE_OUTPUT" in lines, f"{path.name}: the marker must stand alone on its line"
        comments = [line for line in lines if line.startswith("#") and "NBVAL" not in line]
        assert comments, f"{path.name}: say why the output is ignored\n{text[:200]}"
        assert "assert" in text, f"{path.name}: an ignored cell must still assert its result\n{text[:200]}"


# The exercises and, for each, lines of its answer: they must stand inside the solution region
# of its exercise cell (nbgrader strips it for the student edition) and nowhere else in the
# notebook, above it or below it (tests/classroom/test_classroom.py checks the student edition itself).
EXERCISE_ANSWERS = [
    ("01_spiking_neurons", "check_first_spike_time(", ["math.ceil(math.log("]),
    ("03_replace_for_grad", "check_replace_for_grad(", ["return grad, grad", "return x_r.clone()"]),
    ("03_replace_for_grad", "check_replace_by_detach(", ["(x_r - x).detach()"]),
    ("04_traces_and_grad_with_trace", "check_ottt_lif_step(",
     ["spike.detach() * v_threshold", "v.detach() + x", "trace = k * trace + spike"]),
    ("04_traces_and_grad_with_trace", "check_trace_closed_form(", ["K @ spikes"]),
    ("04_traces_and_grad_with_trace", "check_ottt_weight_grad(", ['einsum("tbo,tbi->oi"']),
    ("04_traces_and_grad_with_trace", "check_grad_with_trace(",
     ["ReplaceforGrad.apply(spike, trace)", "ReplaceforGrad.apply(out_for_grad, out)"]),
    ("05_spike_trace_op_and_ottt_sequential", "check_spike_trace_op(",
     ["trace = self.module(trace)"]),
    ("05_spike_trace_op_and_ottt_sequential", "check_ottt_dispatch(",
     ["GradwithTrace(m)(x)", "m(x[0])"]),
    ("06_training_mode_and_one_ottt_update", "check_ottt_a_step(",
     ["F.cross_entropy(net(x_seq[t]), y) / T"]),
]


def _outside_regions(text):
    return re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "", text, flags=re.S)


@pytest.mark.parametrize("stem, checker, answers", EXERCISE_ANSWERS,
                         ids=[f"{s[:2]}-{c[6:-1]}" for s, c, _ in EXERCISE_ANSWERS])
def test_exercise_answers_stand_only_in_their_solution_region(stem, checker, answers):
    cells = load(NOTEBOOK_DIR / f"{stem}.ipynb")["cells"]
    texts = [source(c) for c in cells]
    graded = [i for i, t in enumerate(texts) if checker in t
              and cells[i]["metadata"].get("nbgrader", {}).get("grade")]
    assert len(graded) == 1, f"{stem}: expected one graded cell calling {checker}"
    solution = [i for i in range(graded[0]) if cells[i]["metadata"].get("nbgrader", {}).get("solution")]
    assert solution, f"{stem}: no solution cell above the graded {checker} cell"
    region = texts[solution[-1]]
    for answer in answers:
        assert answer in region and answer not in _outside_regions(region), \
            f"{stem}: {answer!r} is not in the solution region above {checker} (update this test)"
        elsewhere = [j for j, t in enumerate(texts) if j != solution[-1] and answer in t]
        assert not elsewhere, f"{stem}: the answer {answer!r} of {checker} stands in cell {elsewhere}"
