"""The site's source tree: every page in both languages, staged from the repository's files.

Nothing here is copied into git: ``stage(language, out)`` writes ``out`` (a folder under
``_build/site/``) from ``README*.md``, ``docs/``, ``docs/zh-CN/`` and the notebooks, so the
site cannot drift from them. Links between those files are rewritten to links between pages;
a link to another file of the repository becomes its path in plain text (the site does not
hold the repository). Where a Chinese page does not exist, a short Chinese page links to the
English one (:data:`ENGLISH_ONLY`): nothing is machine-translated.

网站源文件: 从 README、docs/ 和笔记本生成, 不进入 git。
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("en", "zh-CN")
NOTEBOOK_DIR = {"en": ROOT / "notebooks", "zh-CN": ROOT / "notebooks" / "zh-CN"}

#: page name -> (English source, Chinese source or None); paths relative to the repository
PAGES = {
    "index": ("README.md", "README.zh-CN.md"),
    "install": ("docs/install.md", "docs/zh-CN/install.md"),
    "notebooks": ("docs/notebooks.md", "docs/zh-CN/notebooks.md"),
    "library": ("docs/library.md", "docs/zh-CN/library.md"),
    "training": ("docs/training.md", "docs/zh-CN/training.md"),
    "performance": ("docs/performance.md", "docs/zh-CN/performance.md"),
    "classroom": ("docs/classroom.md", "docs/zh-CN/classroom.md"),
    "teaching": ("docs/teaching.md", None),
    "testing": ("docs/testing.md", "docs/zh-CN/testing.md"),
    "spikingjelly": ("docs/spikingjelly.md", "docs/zh-CN/spikingjelly.md"),
    "glossary": ("docs/glossary.zh-CN.md", "docs/glossary.zh-CN.md"),  # one bilingual page
}
#: pages with no Chinese source: the Chinese site has a short page that links to the English one
ENGLISH_ONLY = [name for name, (_, zh) in PAGES.items() if zh is None]
#: the library's API, from the bilingual docstrings (autodoc), on both sites
API_MODULES = ["ottt_edu.neuron", "ottt_edu.layer", "ottt_edu.functional"]

TEXT = {
    "en": {
        "map": "The notebooks, with minutes",
        "map_intro": "Estimated student minutes per notebook (reading, exercises and run time; "
                     "how they are computed: the teacher's guide, section 2.2).",
        "cols": "| # | notebook | minutes |\n|---|---|---:|",
        "download": "Download this notebook (student edition, answers as stubs)",
        "download_note": "Open it in JupyterLab (`python tasks.py lab`); this page shows the "
                         "stored outputs, with the answers and their outputs cleared.",
        "api": "Library API",
        "api_intro": "The public modules of the library, from their docstrings (English and "
                     "Chinese). `from ottt_edu import OTTTSequential, ...` is the public API.",
        "pages": "Pages", "course": "Notebooks",
        "in_repo": "in the repository",
    },
    "zh-CN": {
        "map": "笔记本一览 (含预计分钟数)",
        "map_intro": "每个笔记本的预计学习时间 (阅读、练习与运行时间; 计算方法见英文教师指南 2.2 节)。",
        "cols": "| # | 笔记本 | 分钟 |\n|---|---|---:|",
        "download": "下载本笔记本 (学生版, 答案为空)",
        "download_note": "在 JupyterLab 中打开 (`python tasks.py lab`); 本页显示存储的输出, "
                         "答案及其输出已清除。",
        "api": "库 API",
        "api_intro": "库的公开模块, 来自其文档字符串 (中英双语)。公开 API: "
                     "`from ottt_edu import OTTTSequential, ...`。",
        "pages": "页面", "course": "笔记本",
        "in_repo": "见仓库",
    },
}
ENGLISH_ONLY_PAGE = ('# {title}\n\n本页只有英文版: <a href="{link}">{title} (English)</a>。'
                     "此处不作机器翻译; 英文原文保持唯一来源。\n")


def notebooks(language: str) -> list[Path]:
    return sorted(NOTEBOOK_DIR[language].glob("[0-9][0-9]_*.ipynb"))


def _page_of(path: Path) -> tuple[str, str, str | None] | None:
    """The page a repository file is: its name, its suffix in the source tree, and its language
    (None: the same page in both). None when the file is no page."""
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else None
    if rel is None:
        return None
    rel = rel.rstrip("/")
    for name, (en, zh) in PAGES.items():
        if rel in (en, zh):
            return name, ".md", None if en == zh else ("en" if rel == en else "zh-CN")
    m = re.fullmatch(r"notebooks/(zh-CN/)?(\d\d_\w+)\.(?:ipynb|md)", rel)
    if m:
        return f"notebooks/{m.group(2)}", ".ipynb", "zh-CN" if m.group(1) else "en"
    folders = {"notebooks": ("notebooks", "en"), "notebooks/zh-CN": ("notebooks", "zh-CN"),
               "docs": ("index", "en"), "docs/zh-CN": ("index", "zh-CN")}
    if rel in folders:
        return folders[rel][0], ".md", folders[rel][1]
    return None


def other_language_href(page: str, language: str) -> str:
    """From ``page`` of one site, the URL of page ``language``'s page of that name."""
    return "../" * (page.count("/") + 1) + f"{language}/{page}.html"


def _html_label(label: str) -> str:
    import html
    return re.sub(r"`([^`]+)`", lambda m: f"<code>{m.group(1)}</code>", html.escape(label, quote=False))


LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^)\s]+)\)")


def rewrite_links(text: str, source: Path, page: str, images: set[Path], language: str = "en") -> str:
    """Links of ``text`` (read from ``source``, staged as ``page`` of ``language``'s site) as
    links between pages; a link to the other language's file leads to that site's page."""
    here = Path(page).parent

    def one(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return m.group(0)
        path, _, fragment = target.partition("#")
        resolved = Path(os.path.normpath(source.parent / path))
        if bang or resolved.suffix.lower() in (".png", ".svg", ".jpg", ".gif"):
            if resolved.is_file() and resolved.is_relative_to(ROOT / "docs" / "img"):
                images.add(resolved)
                rel = os.path.relpath(f"img/{resolved.name}", here.as_posix())
                return f"{bang}[{label}]({Path(rel).as_posix()})"
            return label
        found = _page_of(resolved) if path else None
        if found is None:
            shown = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else path
            if label.strip("`") == shown or shown in label:
                return label
            return f"{label} (`{shown}`)"
        name, suffix, lang = found
        if lang is not None and lang != language:
            href = "../" * (page.count("/") + 1) + f"{lang}/{name}.html"
            return f'<a href="{href}{"#" + fragment if fragment else ""}">{_html_label(label)}</a>'
        rel = Path(os.path.relpath(name + suffix, here.as_posix())).as_posix()
        return f"[{label}]({rel}{'#' + fragment if fragment else ''})"

    out, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        out.append(line if fenced else LINK.sub(one, line))
    return "\n".join(out)


def minutes() -> dict[str, int]:
    """Student minutes per notebook, from the table of docs/teaching.md section 2.2."""
    found = {}
    for line in (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(\d\d_\w+)\s*\|.*\|\s*\*\*(\d+)\*\*\s*\|\s*$", line)
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


def _title(nb_path: Path) -> str:
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        m = re.search(r"^#\s+(.+)$", src, re.M)
        if cell["cell_type"] == "markdown" and m:
            return m.group(1).strip()
    return nb_path.stem


def english_commit(path: str) -> str:
    """The last commit (short hash, date) that changed ``path`` of the English source."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h %cs", "--", path], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = ""
    return out or "unknown"


def _toctree(caption: str, entries: list[str], hidden: bool = True) -> str:
    body = "\n".join(entries)
    return f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n{':hidden:' if hidden else ''}\n\n{body}\n```\n"


def stage(language: str, out: Path) -> dict:
    """Write the source tree of ``language`` to ``out``; return what the pages' footers say:
    ``{"synced": {page: "English source and commit"}, "english_only": [...]}``."""
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    text, images, synced = TEXT[language], set(), {}
    nbs = notebooks(language)
    for name, (en_src, zh_src) in PAGES.items():
        src = en_src if language == "en" else zh_src
        if src is None:  # no Chinese page: a short one that links to the English page
            title = _first_heading((ROOT / en_src).read_text(encoding="utf-8"))
            body = ENGLISH_ONLY_PAGE.format(title=title, link=f"../en/{name}.html")
        else:
            body = rewrite_links((ROOT / src).read_text(encoding="utf-8"), ROOT / src, name, images,
                                 language)
        if language != "en":
            synced[name] = f"{en_src} @ {english_commit(en_src)}"
        if name == "index":
            body += "\n\n" + _notebook_map(language, nbs) + "\n" + _index_toctrees(language, nbs)
        (out / f"{name}.md").write_text(body, encoding="utf-8")
    api = [f"# {text['api']}\n\n{text['api_intro']}\n"]
    for module in API_MODULES:
        api.append(f"```{{eval-rst}}\n.. automodule:: {module}\n   :members:\n   :imported-members:\n```\n")
    (out / "api.md").write_text("\n".join(api), encoding="utf-8")
    if language != "en":
        synced["api"] = "ottt_edu docstrings @ " + english_commit("ottt_edu")
        for nb in nbs:
            english = f"notebooks/{nb.name}"
            synced[f"notebooks/{nb.stem}"] = f"{english} @ {english_commit(english)}"
    (out / "img").mkdir()
    for image in images:
        shutil.copyfile(image, out / "img" / image.name)
    return {"synced": synced, "english_only": ENGLISH_ONLY if language != "en" else []}


def _first_heading(text: str) -> str:
    m = re.search(r"^#\s+(.+)$", text, re.M)
    return m.group(1).strip() if m else "page"


def _notebook_map(language: str, nbs: list[Path]) -> str:
    text, mins = TEXT[language], minutes()
    rows = [f"| {nb.name[:2]} | [{_title(nb)}](notebooks/{nb.stem}.ipynb) | {mins.get(nb.stem, '')} |"
            for nb in nbs]
    return f"## {text['map']}\n\n{text['map_intro']}\n\n{text['cols']}\n" + "\n".join(rows) + "\n"


def _index_toctrees(language: str, nbs: list[Path]) -> str:
    text = TEXT[language]
    pages = [n for n in PAGES if n != "index"] + ["api"]
    return (_toctree(text["course"], [f"notebooks/{nb.stem}" for nb in nbs]) + "\n"
            + _toctree(text["pages"], pages))
