"""The Chinese edition (notebooks/zh-CN/): one twin per English notebook, the same code, every
markdown cell translated, and the same stored outputs wherever no checker speaks.

Why nbval runs the twins only once (in ``make test``, not again in ``make test-portable``): their
code cells are the English ones (tested here) plus ``set_language("zh-CN")``, so every number
they print is the English notebook's; the portable run of the English notebooks covers them.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

import jupytext
import pytest
from jupytext.compare import compare_notebooks

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import zh_twins  # noqa: E402

EN = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ZH_DIR = ROOT / "notebooks" / "zh-CN"


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_english_notebook_has_a_chinese_twin():
    for path in EN:
        for suffix in (".ipynb", ".md"):
            twin = ZH_DIR / (path.stem + suffix)
            assert twin.exists(), f"missing {twin.relative_to(ROOT)}: copy {path.with_suffix('.md').name} there, translate it, python tasks.py zh {path.name[:2]}"
    extra = {p.stem for p in ZH_DIR.glob("[0-9][0-9]_*.ipynb")} - {p.stem for p in EN}
    assert not extra, f"twins without an English notebook: {extra}"


@pytest.mark.parametrize("path", EN, ids=lambda p: p.stem)
def test_twin_has_the_same_code_and_translated_markdown(path):
    twin = ZH_DIR / path.name
    problems = zh_twins.problems(jupytext.read(path), jupytext.read(twin), twin.name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", EN, ids=lambda p: p.stem)
def test_twin_text_file_holds_the_same_cells_as_its_notebook(path):
    twin = ZH_DIR / path.name
    compare_notebooks(jupytext.read(twin.with_suffix(".md")), jupytext.read(twin), fmt="md:myst")


def _text_outputs(cell) -> list:
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":  # a stream may arrive in several pieces: join them
            text = "".join(o["text"])
            if out and out[-1][0] == o["name"]:
                out[-1] = (o["name"], out[-1][1] + text)
            else:
                out.append((o["name"], text))
        elif "data" in o and "text/plain" in o["data"]:
            out.append((o["output_type"], "".join(o["data"]["text/plain"])))
        elif o["output_type"] == "error":
            out.append(("error", o["ename"]))
    return out


CHECKER_CALL = re.compile(r"\bcheck_\w+\(|\bcheck\(")


@pytest.mark.parametrize("path", EN, ids=lambda p: p.stem)
def test_twin_stores_the_english_outputs_except_where_a_checker_speaks(path):
    en, zh = load(path), load(ZH_DIR / path.name)
    assert zh["metadata"]["kernelspec"] == en["metadata"]["kernelspec"]
    for i, (a, b) in enumerate(zip(en["cells"], zh["cells"])):
        if a["cell_type"] != "code":
            continue
        src = "".join(a["source"])
        if CHECKER_CALL.search(src) or "NBVAL_IGNORE_OUTPUT" in src:
            continue  # checker messages are Chinese in the twin; ignored outputs vary run to run
        assert _text_outputs(b) == _text_outputs(a), (
            f"{path.name} code cell {i}: the twin's stored output differs from the English one "
            f"(re-run both: python tasks.py notebook {path.name[:2]} && python tasks.py zh {path.name[:2]})")


def test_readmes_link_to_each_other():
    en = (ROOT / "README.md").read_text(encoding="utf-8")
    zh = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "(README.zh-CN.md)" in en and "(README.md)" in zh
    assert zh_twins.cjk_share(zh)[0] > 0.5
