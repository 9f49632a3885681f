#!/usr/bin/env python
"""Build the course's site, in English and Chinese, from the notebooks' stored outputs.

Usage (``python tasks.py site`` runs it in ``.venv``, after installing the ``site`` pins)::

    .venv/bin/python website/build.py --mathjax mathjax-3.2.2.tgz           # build
    .venv/bin/python website/build.py --mathjax mathjax-3.2.2.tgz --check   # -W -n, then the checks

Writes ``_build/site/en/`` and ``_build/site/zh-CN/`` (and ``_build/site/index.html``, which
leads to the English site). Nothing is executed and nothing is fetched: the source tree is
staged in ``_build/site/.src/<language>/`` from the repository (``pages.py``), each notebook
as its web edition (``webedition.py``) with the student edition (nbgrader's
``generate_assignment``, as ``python tasks.py student``) for download; MathJax comes from the
npm package's tarball given with ``--mathjax``, trimmed to what a page can load.

网站构建: 不执行笔记本, 不访问网络。
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import pages       # noqa: E402
import webedition  # noqa: E402

OUT = ROOT / "_build" / "site"
#: what a page can load of MathJax 3: the TeX-to-CHTML component, its fonts, and the TeX
#: extensions its autoloader fetches on demand (\boldsymbol, \color, ...)
MATHJAX_KEEP = ("es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/", "es5/input/tex/extensions/")

DOWNLOAD_CELL = {
    "en": "```{{admonition}} {title}\n:class: ottt-download\n{{download}}`{label} <../student/{name}>`\n\n{note}\n```",
    "zh-CN": "```{{admonition}} {title}\n:class: ottt-download\n{{download}}`{label} <../student/{name}>`\n\n{note}\n```",
}


def versions() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    torch = next((line.split("==")[1].split(";")[0].strip()
                  for line in (ROOT / "requirements-lock.txt").read_text().splitlines()
                  if line.startswith("torch==")), "?")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"ottt_edu": project["version"], "torch": torch, "python": platform.python_version(),
            "commit": commit}


def vendor_mathjax(tarball: Path, dest: Path) -> int:
    """Unpack the needed files of the ``mathjax`` npm tarball into ``dest/mathjax``; bytes kept."""
    target = dest / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    kept = 0
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if not member.isfile() or not name.startswith(MATHJAX_KEEP):
                continue
            path = target / name.removeprefix("es5/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tar.extractfile(member).read())
            kept += member.size
    if not (target / "tex-chtml.js").is_file():
        raise SystemExit(f"{tarball} holds no es5/tex-chtml.js: is it the mathjax 3 npm package?")
    return kept


def student_editions(work: Path) -> dict[str, Path]:
    """The student edition of both languages (nbgrader), as ``python tasks.py student`` makes it."""
    from ottt_edu.classroom.editions import build_student_edition

    out = {}
    for language in pages.LANGUAGES:
        build_student_edition(language, out=work)
        out[language] = work / language
    return out


def stage_notebooks(language: str, src: Path, student: Path) -> None:
    import nbformat

    text = pages.TEXT[language]
    (src / "student").mkdir(exist_ok=True)
    for nb_path in pages.notebooks(language):
        nb = webedition.web_edition(nb_path, language)
        page = f"notebooks/{nb_path.stem}"
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = pages.rewrite_links(cell.source, nb_path, page, set(), language)
        cell = DOWNLOAD_CELL[language].format(title=text["download"], label=f"{nb_path.name}",
                                              name=nb_path.name, note=text["download_note"])
        first = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
        nb.cells.insert(first, nbformat.v4.new_markdown_cell(cell))
        for c in nb.cells:
            c.pop("id", None)
        nb.nbformat_minor = 4
        nbformat.write(nb, str(src / "notebooks" / nb_path.name))
        shutil.copyfile(student / nb_path.name, src / "student" / nb_path.name)


def sphinx(language: str, src: Path, out: Path, check: bool) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(HERE), "-j", "1",
           "-E", "-d", str(OUT / ".doctrees" / language), str(src), str(out)]
    if check:
        cmd[3:3] = ["-W", "--keep-going", "-n"]
    print("+", " ".join(cmd), flush=True)
    env = {**os.environ, "OTTT_SITE_INFO": str(src / "_site.json"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if subprocess.call(cmd, env=env):
        raise SystemExit(f"sphinx-build failed for {language} (its messages above)")


def build(mathjax: Path, check: bool, languages=pages.LANGUAGES) -> dict:
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    assets = OUT / ".assets"
    assets.mkdir(exist_ok=True)
    mathjax_bytes = vendor_mathjax(mathjax, assets)
    student = student_editions(OUT / ".student")
    timing = {"student editions": time.perf_counter() - started}
    info_common = {"versions": versions(), "assets": str(assets)}
    for language in languages:
        t0 = time.perf_counter()
        src = OUT / ".src" / language
        info = pages.stage(language, src)
        stage_notebooks(language, src, student[language])
        (src / "_site.json").write_text(json.dumps({**info, **info_common, "language": language},
                                                   ensure_ascii=False, indent=1), encoding="utf-8")
        if (OUT / language).exists():
            shutil.rmtree(OUT / language)
        sphinx(language, src, OUT / language, check)
        timing[language] = time.perf_counter() - t0
    (OUT / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>ottt_edu</title>'
        '<meta http-equiv="refresh" content="0; url=en/index.html"></head><body>'
        '<a href="en/index.html">English</a> · <a href="zh-CN/index.html">中文</a></body></html>\n',
        encoding="utf-8")
    timing["total"] = time.perf_counter() - started
    return {"timing": timing, "mathjax_bytes": mathjax_bytes}


def site_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mathjax", type=Path, required=True, help="the mathjax 3 npm tarball (.tgz)")
    p.add_argument("--check", action="store_true", help="warnings as errors, nitpicky; then the static checks")
    args = p.parse_args(argv)
    result = build(args.mathjax, args.check)
    t = result["timing"]
    print(f"built in {t['total']:.1f} s (student editions {t['student editions']:.1f} s, "
          + ", ".join(f"{lang} {t[lang]:.1f} s" for lang in pages.LANGUAGES) + ")")
    for language in pages.LANGUAGES:
        print(f"  {OUT / language}: {site_size(OUT / language) / 2**20:.1f} MiB "
              f"(MathJax {result['mathjax_bytes'] / 2**20:.1f} MiB of it)")
    for name in pages.ENGLISH_ONLY:
        print(f"note: zh-CN/{name}.html is a short Chinese page that links to the English one "
              f"({pages.PAGES[name][0]} has no Chinese source)")
    if args.check:
        import checks
        failed = 0
        for check in checks.CHECKS:
            problems = check(OUT)
            failed += bool(problems)
            for line in problems:
                print(f"site check {check.__name__}: {line}")
        print("site --check: every check passed" if not failed else
              f"site --check: {failed} check(s) found problems (above)")
        print(f"site-check: {len(checks.CHECKS) - failed} passed, {failed} failed")
        if failed:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
