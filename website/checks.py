"""The site's static checks (``python tasks.py site --check`` runs them after the build).

Each check takes the built site's folder (``_build/site``, holding ``en/`` and ``zh-CN/``) and
returns one line per problem, ``[]`` when it passes:

- :func:`no_answers`: no ``BEGIN SOLUTION`` / ``END SOLUTION`` / ``HIDDEN TESTS`` on a notebook
  page, nor a solution region in any page's code listing (the teacher's guide may name the
  markers in prose), and no checker verdict (*Correct!* / 正确！) in a notebook page's outputs;
- :func:`twins`: every English page has a Chinese page of the same name, and the other way round;
- :func:`downloads`: every download a page links to exists and is a valid notebook
  (``nbformat.validate``) of the student edition: no outputs, no answers, a stub in every
  solution cell;
- :func:`internal_links`: every relative link and asset resolves to a file of the site, and its
  ``#fragment`` to an element of that page;
- :func:`local_assets`: no script, stylesheet, image, font or frame is loaded from an http(s)
  address other than 127.0.0.1 / localhost (HTML attributes and CSS ``url()`` / ``@import``);
- :func:`explorer_stills`: no widget view is left on a page (it would render empty) and every
  "interactive in JupyterLab" line stands under an image.

Standard library and nbformat only: the unit tests (``tests/test_site.py``) run these on crafted
pages without Sphinx.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

LANGUAGES = ("en", "zh-CN")
SKIP_DIRS = {"_static", "_images", "_downloads", "_sources", ".doctrees"}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
VERDICTS = ("Correct!", "正确！")
SOLUTION_REGION = re.compile(r"BEGIN SOLUTION.*?\S.*?END SOLUTION|BEGIN HIDDEN TESTS", re.S)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ASSET_ATTRS = {"script": ("src",), "img": ("src", "srcset"), "source": ("src", "srcset"),
               "iframe": ("src",), "video": ("src", "poster"), "audio": ("src",),
               "embed": ("src",), "object": ("data",), "track": ("src",), "input": ("src",)}
ASSET_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut icon",
              "apple-touch-icon", "manifest"}
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class Page(HTMLParser):
    """What the checks read of one HTML page: its text (inside code listings and outputs
    apart), links, assets, ids, and the order of images and still notes."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.text, self.pre, self.outputs = [], [], []
        self.links, self.assets, self.ids, self.events = [], [], set(), []
        self._pre_depth = self._out_depth = 0
        self._stack: list[tuple[str, bool, bool]] = []
        self._script_type = None
        self.feed(text)
        self.close()
        self.text, self.pre_text = "".join(self.text), "\n".join(self.pre)
        self.output_text = "\n".join(self.outputs)

    VOID = {"img", "br", "hr", "meta", "link", "input", "source", "embed", "track", "wbr", "area", "col"}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        classes = (a.get("class") or "").split()
        if tag == "a" and a.get("href") is not None:
            self.links.append(a["href"])
        for attr in ASSET_ATTRS.get(tag, ()):
            if a.get(attr):
                for part in a[attr].split(",") if attr == "srcset" else [a[attr]]:
                    self.assets.append(part.strip().split(" ")[0])
        if tag == "link" and a.get("href") and (a.get("rel") or "").lower() in ASSET_RELS:
            self.assets.append(a["href"])
        if a.get("style"):
            self.assets += CSS_URL.findall(a["style"])
        if tag == "script":
            self._script_type = a.get("type")
            if a.get("type") == WIDGET_VIEW:
                self.events.append("widget")
        if tag == "img":
            self.events.append("img")
        if "ottt-still-note" in classes:
            self.events.append("note")
        if tag in self.VOID:
            return
        is_pre = tag == "pre"
        is_out = any(c.startswith("cell_output") or c == "output" for c in classes)
        self._pre_depth += is_pre
        self._out_depth += is_out
        if is_pre:
            self.pre.append("")
        if is_out:
            self.outputs.append("")
        self._stack.append((tag, is_pre, is_out))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_type = None
        while self._stack:
            name, is_pre, is_out = self._stack.pop()
            self._pre_depth -= is_pre
            self._out_depth -= is_out
            if name == tag:
                break

    def handle_data(self, data):
        if self._script_type is not None:
            if self._script_type == "text/css" or "style" in str(self._script_type):
                pass
            return
        self.text.append(data)
        if self._pre_depth and self.pre:
            self.pre[-1] += data
        if self._out_depth and self.outputs:
            self.outputs[-1] += data


def pages(site: Path, language: str | None = None) -> list[Path]:
    """The HTML pages of the site (of one language), generated folders left out."""
    roots = [site / lang for lang in (LANGUAGES if language is None else (language,))]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.html")
                  if not SKIP_DIRS & set(p.relative_to(root).parts))


def _read(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8", errors="replace"))


def _rel(path: Path, site: Path) -> str:
    return path.relative_to(site).as_posix()


def no_answers(site: Path) -> list[str]:
    problems = []
    for path in pages(site):
        page, rel = _read(path), _rel(path, site)
        notebook = "/notebooks/" in f"/{rel}"
        text = page.text if notebook else page.pre_text
        found = [m for m in MARKERS if m in text] if notebook else SOLUTION_REGION.findall(text)
        if found:
            problems.append(f"{rel}: shows an answer or hidden test ({found[0][:40]!r})")
        verdicts = [v for v in VERDICTS if v in page.output_text]
        if notebook and verdicts:
            problems.append(f"{rel}: an output says {verdicts[0]!r} (a stored verdict on an answer)")
    return problems


def twins(site: Path) -> list[str]:
    names = {lang: {_rel(p, site / lang) for p in pages(site, lang)} for lang in LANGUAGES}
    problems = [f"en/{n}: no Chinese twin zh-CN/{n}" for n in sorted(names["en"] - names["zh-CN"])]
    problems += [f"zh-CN/{n}: no English twin en/{n}" for n in sorted(names["zh-CN"] - names["en"])]
    if not names["en"]:
        problems.append(f"{site}/en holds no page")
    return problems


def student_problems(nb: dict) -> list[str]:
    """Why ``nb`` (a notebook's JSON) is not a valid student-edition notebook; [] if it is."""
    import nbformat

    problems = []
    try:
        nbformat.validate(nbformat.from_dict(nb))
    except Exception as e:  # nbformat's ValidationError, or a structure it cannot read
        return [f"not a valid notebook ({str(e).splitlines()[0][:80]})"]
    for i, cell in enumerate(nb.get("cells", [])):
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if any(m in src for m in MARKERS):
            problems.append(f"cell {i} holds an answer or hidden test")
        if cell.get("outputs"):
            problems.append(f"cell {i} has stored outputs")
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and "YOUR CODE HERE" not in src and "YOUR ANSWER HERE" not in src:
            problems.append(f"cell {i} is a solution cell without its stub")
    return problems


def _targets(path: Path, page: Page, site: Path, urls) -> list[tuple[str, Path | None, str]]:
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:", "data:")):
            continue
        path = path.resolve()
        target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
        out.append((url, target, parts.fragment))
    return out


def downloads(site: Path) -> list[str]:
    problems, seen = [], set()
    for path in pages(site):
        page = _read(path)
        for url, target, _ in _targets(path, page, site, page.links):
            if "_downloads/" not in url:
                continue
            rel = _rel(path, site)
            if not target.is_file():
                problems.append(f"{rel}: download {url} does not exist")
                continue
            if target.suffix != ".ipynb":
                continue
            if "/notebooks/" in f"/{rel}" and target.stem != path.stem:
                problems.append(f"{rel}: download {url} is another notebook than the page's")
            if target in seen:
                continue
            seen.add(target)
            try:
                nb = json.loads(target.read_text(encoding="utf-8"))
            except ValueError:
                problems.append(f"{rel}: download {url} is not JSON")
                continue
            problems += [f"{rel}: download {url}: {p}" for p in student_problems(nb)]
    return problems


def internal_links(site: Path) -> list[str]:
    problems, ids = [], {}
    site_root = site.resolve()
    for path in pages(site):
        page, rel = _read(path), _rel(path, site)
        for url, target, fragment in _targets(path, page, site, page.links + page.assets):
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(site_root) or not target.exists():
                problems.append(f"{rel}: link {url} leads to no file of the site")
                continue
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _read(target).ids
                if fragment not in ids[target]:
                    problems.append(f"{rel}: link {url}: no #{fragment} on that page")
    return problems


def _outside(url: str) -> bool:
    parts = urlsplit(url.strip())
    if url.strip().startswith("//"):
        return (parts.hostname or "") not in LOCAL_HOSTS
    return parts.scheme in ("http", "https") and (parts.hostname or "") not in LOCAL_HOSTS


def local_assets(site: Path) -> list[str]:
    problems = []
    for path in pages(site):
        page = _read(path)
        problems += [f"{_rel(path, site)}: loads {u} from outside the site"
                     for u in page.assets if _outside(u)]
    for lang in LANGUAGES:
        for css in sorted((site / lang).rglob("*.css")) if (site / lang).is_dir() else []:
            text = css.read_text(encoding="utf-8", errors="replace")
            problems += [f"{_rel(css, site)}: loads {u} from outside the site"
                         for u in CSS_URL.findall(text) if _outside(u)]
    return problems


def explorer_stills(site: Path) -> list[str]:
    problems = []
    for path in pages(site):
        events, rel = _read(path).events, _rel(path, site)
        if "widget" in events:
            problems.append(f"{rel}: a widget view is left on the page (it renders empty)")
        for i, event in enumerate(events):
            if event == "note" and (i == 0 or events[i - 1] != "img"):
                problems.append(f"{rel}: an explorer's note stands under no picture")
    return problems


CHECKS = (no_answers, twins, downloads, internal_links, local_assets, explorer_stills)


def check_site(site: Path) -> list[str]:
    """Every check on the built site; one line per problem."""
    return [line for check in CHECKS for line in check(Path(site))]
