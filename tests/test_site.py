"""The site's static checks (website/checks.py), its web edition and staging, and tasks.py site.

Each check passes on a small good site and fails on a crafted bad page; no Sphinx is needed.
"""
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "website"))
sys.path.insert(0, str(ROOT))

import checks  # noqa: E402
import pages  # noqa: E402
import tasks  # noqa: E402

PAGE = """<!DOCTYPE html><html><head><link rel="stylesheet" href="{up}_static/a.css">
<script src="{up}_static/mathjax/tex-chtml.js"></script></head><body><main id="main">
<a class="ottt-lang-switch" href="{up}../{other}/{name}">switch</a>
<a href="#main">top</a> {body}</main></body></html>"""


def student_nb(**cell_changes) -> dict:
    cell = nbformat.v4.new_code_cell("def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                                     metadata={"nbgrader": {"solution": True, "grade": False,
                                                            "grade_id": "f", "locked": False,
                                                            "schema_version": 3}})
    cell.update(cell_changes)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 04"), cell])
    return json.loads(nbformat.writes(nb))


def write_site(root: Path, extra: dict[str, str] | None = None, student: dict | None = None) -> Path:
    """A two-language site of an index page and one notebook page with its download."""
    files = {"index.html": "<p>start</p>",
             "notebooks/04_x.html": '<a href="../_downloads/abc/04_x.ipynb">download</a>'
                                    '<div class="cell_output"><img src="../_images/s.png">'
                                    '<p class="ottt-still-note">interactive in JupyterLab</p></div>'}
    files.update(extra or {})
    for lang, other in (("en", "zh-CN"), ("zh-CN", "en")):
        base = root / lang
        for name, body in files.items():
            up = "../" * name.count("/")
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            (base / name).write_text(PAGE.format(up=up, other=other, name=name, body=body),
                                     encoding="utf-8")
        for asset in ("_static/a.css", "_static/mathjax/tex-chtml.js", "_images/s.png"):
            (base / asset).parent.mkdir(parents=True, exist_ok=True)
            (base / asset).write_text("body {}" if asset.endswith(".css") else "x", encoding="utf-8")
        (base / "_downloads/abc").mkdir(parents=True, exist_ok=True)
        (base / "_downloads/abc/04_x.ipynb").write_text(json.dumps(student or student_nb()), encoding="utf-8")
    return root


def test_every_check_passes_on_a_good_site(tmp_path):
    assert checks.check_site(write_site(tmp_path)) == []


@pytest.mark.parametrize("body", [
    "<pre>### BEGIN SOLUTION\nreturn x\n### END SOLUTION</pre>",
    "<p>### BEGIN HIDDEN TESTS</p>",
    '<div class="cell_output docutils container"><pre>Correct! well done</pre></div>',
    '<div class="cell_output"><pre>正确！</pre></div>',
])
def test_no_answers_fails_on_an_answer_on_a_notebook_page(tmp_path, body):
    site = write_site(tmp_path, {"notebooks/05_y.html": body})
    found = checks.no_answers(site)
    assert found and all("notebooks/05_y.html" in p for p in found)


def test_no_answers_allows_prose_that_names_the_markers_but_not_a_listing(tmp_path):
    prose = write_site(tmp_path / "a", {"teaching.html": "<p>answers between <code>### BEGIN "
                                                          "SOLUTION</code> / <code>### END SOLUTION</code></p>"})
    assert checks.no_answers(prose) == []
    listing = write_site(tmp_path / "b", {"teaching.html": "<pre>### BEGIN SOLUTION\nx = 1\n"
                                                           "### END SOLUTION</pre>"})
    assert checks.no_answers(listing)


def test_twins_fails_on_a_page_without_its_twin(tmp_path):
    site = write_site(tmp_path)
    (site / "en" / "teaching.html").write_text("<p>only English</p>", encoding="utf-8")
    (site / "zh-CN" / "glossary.html").write_text("<p>only Chinese</p>", encoding="utf-8")
    assert checks.twins(site) == ["en/teaching.html: no Chinese twin zh-CN/teaching.html",
                                  "zh-CN/glossary.html: no English twin en/glossary.html"]


@pytest.mark.parametrize("student, says", [
    (student_nb(outputs=[nbformat.v4.new_output("stream", text="Correct!")]), "stored outputs"),
    (student_nb(source="def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"), "answer"),
    (student_nb(source="def f():\n    return 1"), "without its stub"),
    ({"cells": "not a list", "nbformat": 4, "nbformat_minor": 4, "metadata": {}}, "not a valid notebook"),
])
def test_downloads_fails_on_a_notebook_that_is_not_the_student_edition(tmp_path, student, says):
    found = checks.downloads(write_site(tmp_path, student=student))
    assert any(says in p for p in found), found


def test_downloads_fails_on_a_missing_or_wrong_download(tmp_path):
    site = write_site(tmp_path, {"notebooks/05_y.html": '<a href="../_downloads/abc/04_x.ipynb">x</a>'
                                                        '<a href="../_downloads/no/05_y.ipynb">y</a>'})
    found = checks.downloads(site)
    assert any("05_y.ipynb does not exist" in p for p in found)
    assert any("another notebook than the page's" in p for p in found)


@pytest.mark.parametrize("body, says", [
    ('<a href="missing.html">x</a>', "leads to no file"),
    ('<a href="index.html#nowhere">x</a>', "no #nowhere"),
    ('<img src="_images/none.png">', "leads to no file"),
    ('<a href="../../outside.html">x</a>', "leads to no file"),
])
def test_internal_links_fails_on_a_broken_link(tmp_path, body, says):
    found = checks.internal_links(write_site(tmp_path, {"page.html": body}))
    assert found and all(says in p for p in found), found


@pytest.mark.parametrize("body", [
    '<script src="https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js"></script>',
    '<link rel="stylesheet" href="//fonts.example.org/x.css">',
    '<img src="http://example.org/a.png">',
    '<div style="background: url(https://example.org/b.png)"></div>',
])
def test_local_assets_fails_on_an_asset_from_outside(tmp_path, body):
    found = checks.local_assets(write_site(tmp_path, {"page.html": body}))
    assert found and all("from outside the site" in p for p in found)


def test_local_assets_allows_links_out_and_127_0_0_1_and_checks_css(tmp_path):
    site = write_site(tmp_path, {"page.html": '<a href="https://arxiv.org/abs/2210.04195">paper</a>'
                                              '<img src="http://127.0.0.1:8000/a.png">'})
    assert checks.local_assets(site) == []
    (site / "en/_static/a.css").write_text("@import 'https://fonts.example.org/f.css';", encoding="utf-8")
    assert checks.local_assets(site) == ["en/_static/a.css: loads https://fonts.example.org/f.css "
                                         "from outside the site"]


@pytest.mark.parametrize("body", [
    '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "1"}</script>',
    '<div class="cell_output"><p class="ottt-still-note">interactive</p></div>',
])
def test_explorer_stills_fails_on_an_empty_widget_or_a_note_without_picture(tmp_path, body):
    assert checks.explorer_stills(write_site(tmp_path, {"notebooks/11_z.html": body}))


# ---------------------------------------------------------------------------- the web edition
def _teacher_notebook(tmp_path: Path) -> Path:
    grading = {"schema_version": 3, "locked": False, "points": 0}
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                  metadata={"nbgrader": {**grading, "solution": True, "grade": False,
                                                         "grade_id": "f"}}),
        nbformat.v4.new_code_cell("passed = check(f)\n### BEGIN HIDDEN TESTS\nassert f() == 1\n"
                                  "### END HIDDEN TESTS",
                                  metadata={"nbgrader": {**grading, "solution": False, "grade": True,
                                                         "grade_id": "check_f", "points": 1,
                                                         "locked": True}},
                                  outputs=[nbformat.v4.new_output("stream", text="Correct!\n")]),
        nbformat.v4.new_code_cell("if passed:\n    print(f())",
                                  outputs=[nbformat.v4.new_output("stream", text="1\n")]),
        nbformat.v4.new_code_cell("print(2)", outputs=[nbformat.v4.new_output("stream", text="2\n")]),
        nbformat.v4.new_code_cell("explorer", outputs=[nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2,
                                                         "version_minor": 0},
            "image/png": "iVBORw0KGgo=", "text/plain": "<explorer>"})]),
    ])
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_the_web_edition_clears_answers_and_their_outputs_and_keeps_the_rest(tmp_path):
    pytest.importorskip("nbgrader")
    import webedition

    nb = webedition.web_edition(_teacher_notebook(tmp_path), "en")
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "Correct!" not in text
    assert "raise NotImplementedError()" in nb.cells[0].source
    assert nb.cells[1].outputs == [] and nb.cells[2].outputs == []   # the verdict and what read it
    assert nb.cells[3].outputs[0]["text"] == "2\n"                   # every other output kept
    still, note = nb.cells[4].outputs
    assert set(still["data"]) == {"image/png"} and "JupyterLab" in note["data"]["text/html"]


# ---------------------------------------------------------------------------- staging
def test_links_between_repository_files_become_links_between_pages(tmp_path):
    text = ("[install](install.md) [zh](zh-CN/install.md#x) [nb](../notebooks/04_traces_and_grad_with_trace.ipynb) "
            "[code](../ottt_edu/layer/) ![pic](img/ottt_vs_bptt.png) [web](https://example.org)")
    images = set()
    out = pages.rewrite_links(text, ROOT / "docs" / "notebooks.md", "notebooks", images, "en")
    assert "[install](install.md)" in out
    assert '<a href="../zh-CN/install.html#x">zh</a>' in out
    assert "[nb](notebooks/04_traces_and_grad_with_trace.ipynb)" in out
    assert "code (`ottt_edu/layer`)" in out and "![pic](img/ottt_vs_bptt.png)" in out
    assert "[web](https://example.org)" in out and images == {ROOT / "docs/img/ottt_vs_bptt.png"}


def test_a_page_without_a_chinese_source_gets_a_short_chinese_page(tmp_path):
    info = pages.stage("zh-CN", tmp_path / "zh")
    assert info["english_only"] == ["teaching"]
    short = (tmp_path / "zh" / "teaching.md").read_text(encoding="utf-8")
    assert "../en/teaching.html" in short and len(short) < 400
    assert set(pages.PAGES) | {"api"} <= {p.stem for p in (tmp_path / "zh").glob("*.md")}


# ---------------------------------------------------------------------------- tasks.py site
def test_site_installs_its_pins_then_builds(monkeypatch, tmp_path):
    ran = []
    monkeypatch.setattr(tasks, "ensure_env", lambda python=None: Path("/venv/python"))
    monkeypatch.setattr(tasks, "SITE_STAMP", tmp_path / "stamp")
    monkeypatch.setattr(tasks, "SITE_ASSETS", tmp_path)
    monkeypatch.setattr(tasks, "_integrity", lambda path: tasks.MATHJAX[2])
    monkeypatch.setattr(tasks, "_offline", lambda cmd: ["OFFLINE", *cmd])
    (tmp_path / "mathjax-3.2.2.tgz").write_bytes(b"")
    monkeypatch.setattr(tasks, "_run", lambda cmd, **kw: ran.append([str(c) for c in cmd]))
    assert tasks.main(["site", "--check"]) == 0
    assert ran[0][1:] == ["-m", "pip", "install", "--quiet", "-c", str(tasks.LOCK), "-r",
                          str(tasks.SITE_LOCK)]
    assert ran[1][0] == "OFFLINE" and ran[1][-3:] == ["--mathjax", str(tmp_path / "mathjax-3.2.2.tgz"), "--check"][-3:]
    ran.clear()
    assert tasks.main(["site"]) == 0          # installed once: only the build runs
    assert len(ran) == 1 and ran[0][0] == "/venv/python"


def test_site_says_in_one_line_how_to_get_mathjax_without_npm(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tasks, "ensure_env", lambda python=None: Path("/venv/python"))
    monkeypatch.setattr(tasks, "SITE_STAMP", tmp_path / "stamp")
    (tmp_path / "stamp").write_text("x", encoding="utf-8")
    monkeypatch.setattr(tasks, "SITE_ASSETS", tmp_path / "assets")
    monkeypatch.setattr(tasks.shutil, "which", lambda name: None)
    monkeypatch.setattr(tasks, "_run", lambda cmd, **kw: None)
    assert tasks.main(["site"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "npm" in err and "mathjax-3.2.2.tgz" in err


def test_the_site_pins_are_apart_from_the_lock():
    key = lambda line: line.split("==")[0].strip().lower().replace("_", "-")  # noqa: E731
    pins = lambda path: {key(l) for l in path.read_text(encoding="utf-8").splitlines()       # noqa: E731,E741
                         if l.strip() and not l.startswith("#")}
    site = pins(tasks.SITE_LOCK)
    assert {"sphinx", "myst-nb", "sphinx-book-theme", "jieba"} <= site
    assert site & pins(tasks.LOCK) == set()
