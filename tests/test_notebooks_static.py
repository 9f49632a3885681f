"""Static checks of the stored notebooks (nbval re-runs them; these check how they are stored).

- each notebook is reproduced cell for cell by its generator ``scripts/nbNN.py`` (no drift);
- stored as "restart kernel and run all" leaves it: execution counts 1..n, no error outputs except
  in cells that expect one (``NBVAL_RAISES_EXCEPTION``);
- opens with learning goals and closes with the SpikingJelly pointer;
- every ``NBVAL_IGNORE_OUTPUT`` stands alone on its line (nbval ignores it otherwise), has a comment
  saying why, and the cell still asserts its result.
"""
import importlib
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))


def load(path):
    return json.loads(path.read_text())


def source(cell):
    return "".join(cell["source"])


def test_every_notebook_has_a_generator():
    from build_notebooks import NAMES

    assert sorted(f"{n}.ipynb" for n in NAMES.values()) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_generator_reproduces_the_stored_sources(path):
    from build_notebooks import NAMES

    number = path.name[:2]
    nb = importlib.import_module(f"nb{number}").build()
    stored = load(path)["cells"]
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c["cell_type"], source(c)) for c in stored], (
        f"{path.name} differs from scripts/nb{number}.py: change the generator and run "
        f"`.venv/bin/python scripts/build_notebooks.py --execute {number}`")
    assert NAMES[number] == path.stem


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_as_run_all_leaves_it(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "ottt-edu"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    for c in code:
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
