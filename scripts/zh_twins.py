"""The Chinese twins of the notebooks (``notebooks/zh-CN/``): check them, and build them.

A twin is the English notebook with every markdown cell translated and every code cell
identical, except that its first code cell starts with :data:`LANGUAGE_LINES` (the exercise
checkers then answer in Chinese). Translators edit only the markdown of
``notebooks/zh-CN/NN_name.md``; ``build`` takes the code cells (source, metadata, cell ids)
from ``notebooks/NN_name.ipynb`` and writes the twin's ``.ipynb`` and ``.md``.

    python scripts/zh_twins.py check [NN ...]   # alignment and translation, one line per problem
    python scripts/zh_twins.py build [NN ...]   # copy the code cells in; then execute the twin

``python tasks.py zh NN`` runs ``build`` and executes the twin (``tasks.py notebook``).
"""
from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
EN_DIR = ROOT / "notebooks"
ZH_DIR = EN_DIR / "zh-CN"

LANGUAGE_LINES = (
    "from ottt_edu import set_language\n"
    'set_language("zh-CN")  # 练习检查器用中文作答 (the exercise checkers answer in Chinese)\n'
)

# A markdown cell counts as translated when at least this share of its letters is Chinese,
# after code spans, maths, link targets, HTML tags and the names below are taken out.
MIN_CJK_SHARE = 0.5
# Words left in English on purpose: method and library names, SpikingJelly's API.
KEEP_ENGLISH = re.compile(
    r"\b(OTTT(_A|_O)?|BPTT|SLTT|FPTT|SpikingJelly|PyTorch|JupyterLab|Jupyter|nbgrader|nbval|"
    r"LIF|CNN|MLP|VGG|CIFAR(-10)?|MNIST|GPU|CPU|CUDA|NeurIPS|arXiv|SNN|ANN|API|ipywidgets|"
    r"torch|numpy|matplotlib|Poisson|Adam|SGD|ReLU|KiB|MiB|GiB|tqdm)\b"
)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")


def prose(markdown: str) -> str:
    """The running text of a markdown cell: no code, maths, link targets, tags or kept names."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # [label](target) -> [label]
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"https?://\S+", " ", text)
    return KEEP_ENGLISH.sub(" ", text)


def cjk_share(markdown: str) -> tuple[float, int]:
    """(share of Chinese characters among the letters of its prose, number of letters)."""
    text = prose(markdown)
    cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
    letters = cjk + latin
    return (cjk / letters if letters else 1.0), letters


def twin_of(english: Path) -> Path:
    return ZH_DIR / english.name


def english_notebooks() -> list[Path]:
    return sorted(EN_DIR.glob("[0-9][0-9]_*.ipynb"))


def select(numbers: list[str]) -> list[Path]:
    every = english_notebooks()
    if not numbers:
        return every
    chosen = [p for p in every if any(p.name.startswith(n) for n in numbers)]
    if len(chosen) != len(numbers):
        raise SystemExit(f"error: no English notebook matches one of {numbers}")
    return chosen


def problems(en: nbformat.NotebookNode, zh: nbformat.NotebookNode, name: str) -> list[str]:
    """Every way the twin ``zh`` differs from ``en`` beyond translated markdown."""
    out = []
    kinds_en = [c.cell_type for c in en.cells]
    kinds_zh = [c.cell_type for c in zh.cells]
    if kinds_en != kinds_zh:
        for i, (a, b) in enumerate(zip(kinds_en + ["(none)"] * 99, kinds_zh + ["(none)"] * 99)):
            if a != b:
                out.append(f"{name}: cell {i}: English has {a}, the twin has {b} "
                           f"(English {len(kinds_en)} cells, twin {len(kinds_zh)}); keep every cell "
                           "and every +++ separator of the English file, in order")
                break
        return out
    first_code = True
    for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
        if a.cell_type == "code":
            want = (LANGUAGE_LINES + a.source) if first_code else a.source
            first_code = False
            if b.source != want:
                out.append(f"{name}: code cell {i} differs from the English one "
                           "(run: python tasks.py zh NN, which copies the code cells in)")
            elif b.metadata != a.metadata:
                out.append(f"{name}: code cell {i}: metadata differs from the English cell")
        else:
            share, letters = cjk_share(b.source)
            if letters >= 8 and share < MIN_CJK_SHARE:
                head = " ".join(b.source.split())[:60]
                out.append(f"{name}: markdown cell {i} looks untranslated "
                           f"({share:.0%} Chinese of {letters} letters): {head!r}")
    return out


def read_text(path: Path) -> nbformat.NotebookNode:
    return jupytext.read(path)


def check(numbers: list[str]) -> int:
    found = []
    for en_path in select(numbers):
        zh_md = twin_of(en_path).with_suffix(".md")
        if not zh_md.exists():
            found.append(f"{en_path.name}: no twin {zh_md.relative_to(ROOT)}")
            continue
        found += problems(read_text(en_path.with_suffix(".md")), read_text(zh_md), zh_md.name)
    for line in found:
        print(line)
    print(f"{len(found)} problem(s)")
    return 1 if found else 0


def build(numbers: list[str]) -> int:
    """Write each twin's .ipynb from the English .ipynb's code cells and the twin's markdown."""
    for en_path in select(numbers):
        zh_md = twin_of(en_path).with_suffix(".md")
        if not zh_md.exists():
            raise SystemExit(f"error: {zh_md.relative_to(ROOT)} does not exist: copy "
                             f"{en_path.with_suffix('.md').relative_to(ROOT)} there and translate it")
        en = nbformat.read(en_path, as_version=4)
        zh_text = read_text(zh_md)
        if [c.cell_type for c in en.cells] != [c.cell_type for c in zh_text.cells]:
            for line in problems(en, zh_text, zh_md.name):
                print(line)
            raise SystemExit(f"error: {zh_md.name} does not line up with {en_path.name}")
        zh_ipynb = zh_md.with_suffix(".ipynb")
        old = nbformat.read(zh_ipynb, as_version=4) if zh_ipynb.exists() else None
        twin = copy.deepcopy(en)
        first_code = True
        for i, (cell, text_cell) in enumerate(zip(twin.cells, zh_text.cells)):
            if cell.cell_type == "code":
                if first_code:
                    cell.source = LANGUAGE_LINES + cell.source
                    first_code = False
                # keep the twin's own outputs while its code is unchanged (they are in Chinese)
                if old is not None and i < len(old.cells) and old.cells[i].get("source") == cell.source:
                    cell.outputs = old.cells[i].outputs
                    cell.execution_count = old.cells[i].execution_count
            else:
                cell.source = text_cell.source
                cell.metadata = text_cell.metadata
        nbformat.write(twin, zh_ipynb)
        jupytext.write(twin, zh_md, fmt="md:myst")
        print(f"wrote {zh_ipynb.relative_to(ROOT)} and its .md")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "build"):
        print("usage: python scripts/zh_twins.py check|build [NN ...]", file=sys.stderr)
        return 2
    return {"check": check, "build": build}[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
