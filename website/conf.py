"""Sphinx configuration of the course's site (both languages; ``website/build.py`` runs it).

The source tree is staged by ``website/build.py`` (``_build/site/.src/<language>``); this file
reads what the staging wrote (``OTTT_SITE_INFO``): the language, the versions for the footer and
the English commit each Chinese page was synced from. Notebooks are rendered from their stored
outputs (``nb_execution_mode = "off"``); MathJax is the local copy in ``_static/mathjax``; no
widget manager is loaded (``nb_ipywidgets_js = {}``), so no page asks for anything outside it.
"""
import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
INFO = json.loads(Path(os.environ["OTTT_SITE_INFO"]).read_text(encoding="utf-8"))
LANG = INFO["language"]  # "en" or "zh-CN"

project = "ottt_edu"
author = "ottt_edu developers"
copyright = "ottt_edu developers, MIT licence"
release = version = INFO["versions"]["ottt_edu"]
language = "zh_CN" if LANG == "zh-CN" else "en"
html_search_language = "zh" if LANG == "zh-CN" else "en"  # Chinese words: jieba

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
exclude_patterns = ["student/**", "_site.json"]
templates_path = [str(HERE / "_templates")]
html_static_path = [str(HERE / "_static"), INFO["assets"]]
html_css_files = ["ottt.css"]

nb_execution_mode = "off"                 # the stored outputs, never re-run
nb_ipywidgets_js = {}                     # no widget manager from a CDN (explorers are stills)
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "html_image", "colon_fence"]
myst_heading_anchors = 3
myst_dmath_double_inline = True
suppress_warnings = ["myst.header"]       # notebooks open with "# NN · title"; sections may jump

mathjax_path = "mathjax/tex-chtml.js"     # local (MathJax 3, vendored at build time)
mathjax3_config = {"loader": {"load": []}, "options": {"enableMenu": False}}

autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False       # torch's own docstrings (forward, backward) are not ours
autodoc_default_options = {"show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|typing|collections|numpy|np|nn|Tensor|Callable|Iterable|Sequence|Optional|Any)(\..*)?"),
    (r"py:.*", r".*\b(tensor|module|callable|float|int|bool|str|tuple|list|dict|None|optional)\b.*"),
]

html_theme = "sphinx_book_theme"
html_title = "ottt_edu"
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "footer_content_items": ["ottt-footer.html"],
    "article_header_end": ["ottt-lang-switch.html", "article-header-buttons.html"],
}
html_sidebars = {"**": ["navbar-logo.html", "ottt-lang-switch.html", "search-field.html",
                        "sbt-sidebar-nav.html"]}


def _page_context(app, pagename, templatename, context, doctree):
    other = "zh-CN" if LANG == "en" else "en"
    context["ottt_other_href"] = "../" * (pagename.count("/") + 1) + f"{other}/{pagename}.html"
    context["ottt_other_label"] = "中文" if other == "zh-CN" else "English"
    context["ottt_versions"] = INFO["versions"]
    context["ottt_synced"] = INFO["synced"].get(pagename)
    context["ottt_lang"] = LANG


def setup(app):
    app.connect("html-page-context", _page_context)
