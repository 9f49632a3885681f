"""Real-browser test of the interactive explorers: JupyterLab on loopback + headless Chromium.

What it checks, in the browser a student uses:
    * every notebook in ``notebooks/`` that uses ``ottt_edu.course.widgets`` opens in JupyterLab, runs
      all its cells, and every widget output renders (no "Error displaying widget", no stuck
      "Loading widget");
    * in ``11_explorers.ipynb`` one slider of each explorer is dragged and the explorer's figure
      (its ``<img>``) changes.
Screenshots go to ``test-artifacts/browser/`` (git-ignored).

How it runs: a JupyterLab server on ``127.0.0.1`` with a free port, a random token, temporary
config/runtime/settings/workspace directories and a copy of ``notebooks/`` (so the repository's
notebooks are never saved over); the ``ottt-edu`` kernel is a kernelspec in the temporary data
directory that runs this very Python. Chromium is Debian's (``/usr/bin/chromium``, or
``$OTTT_CHROMIUM``), driven by Playwright with ``executable_path`` (Playwright never downloads a
browser). The server is shut down on every path (fixture teardown). Without Chromium the test
is skipped, with the command to install it; with ``CI=true`` a missing browser is a failure.

Run it alone: ``.venv/bin/python -m pytest tests/course/test_browser.py -v`` (about 1.5 min).
"""
from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PLAYGROUND = "11_explorers.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _probe_seconds() -> float:
    """Seconds this machine takes, right now, for a fixed small OTTT workload (best of 3)."""
    import torch

    from ottt_edu import OTTTLIFNode, OTTTSequential, reset_net

    torch.manual_seed(0)
    net = OTTTSequential(torch.nn.Linear(64, 256), OTTTLIFNode(), torch.nn.Linear(256, 10))
    x = torch.rand(32, 64)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(30):
            for _t in range(6):
                net(x).sum().backward()
            reset_net(net)
        best = min(best, time.perf_counter() - t0)
    return best


# Every wait below is a time measured on the development machine (2 cores, idle, one torch
# thread) times a safety margin, scaled by how much slower this machine is right now (the probe
# above against its time there, measured once per test session) and by OTTT_TEST_TIME_SCALE,
# which a slow machine can raise.
PROBE_REFERENCE_S = 0.06            # _probe_seconds() on the development machine, idle
MARGIN = 4.0
SERVER_START_S = 10                 # JupyterLab answering /api/status, idle
RUN_ALL_S = 45                      # "run all" of the slowest widget notebook (08), idle
WIDGET_S = 10                       # widgets rendered after "run all"


@functools.lru_cache(maxsize=None)
def slowdown() -> float:
    return max(1.0, _probe_seconds() / PROBE_REFERENCE_S) * float(os.environ.get("OTTT_TEST_TIME_SCALE", "1"))


def limit(measured_s: float) -> float:
    """A wait in seconds: the measured time times the margin and this machine's slowdown."""
    return MARGIN * measured_s * slowdown()
INSTALL_HINT = (
    "install Debian's Chromium with `apt-get install chromium` (or set OTTT_CHROMIUM to a "
    "Chromium binary); Playwright is used with executable_path and never downloads a browser"
)

# Settings for the temporary JupyterLab: every cell in the DOM (no virtual scrolling, so all
# widget outputs can be checked), no autosave, no news/update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def find_chromium() -> str | None:
    """Path of a Chromium binary: $OTTT_CHROMIUM, /usr/bin/chromium, or `chromium` on PATH."""
    for candidate in (os.environ.get("OTTT_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def skip_or_fail(reason: str) -> None:
    """Skip locally; on CI (CI=true) a missing prerequisite is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the real-browser test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def widget_notebooks() -> list[Path]:
    """Notebooks whose code uses ``ottt_edu.course.widgets`` (the ones with live widgets)."""
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any(c.cell_type == "code" and "ottt_edu.course.widgets" in c.source for c in nb.cells):
            found.append(path)
    return found


def expected_widget_outputs(path: Path) -> int:
    """Number of widget views among the stored outputs of ``path``."""
    nb = nbformat.read(path, as_version=4)
    return sum(
        1 for c in nb.cells if c.cell_type == "code"
        for out in c.get("outputs", []) if WIDGET_MIME in out.get("data", {})
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings_dir: Path) -> None:
    for rel, content in LAB_SETTINGS.items():
        target = settings_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content), encoding="utf-8")


def _write_kernelspec(data_dir: Path) -> None:
    spec_dir = data_dir / "kernels" / "ottt-edu"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python (ottt-edu)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


def _stop_server(proc: subprocess.Popen, url: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels), then terminate/kill its group."""
    if proc.poll() is None:
        try:
            req = urllib.request.Request(f"{url}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(req, timeout=10).read()
        except OSError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    if not hasattr(os, "killpg"):  # Windows: no process group to signal; end the server itself
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=15)
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, sig)  # the group we created with start_new_session=True
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            continue


def _shutdown_kernels(lab: dict) -> None:
    """Shut down every kernel session of the test server (one notebook at a time on 2 cores)."""
    headers = {"Authorization": f"token {lab['token']}"}
    req = urllib.request.Request(f"{lab['url']}/api/sessions", headers=headers)
    for session in json.loads(urllib.request.urlopen(req, timeout=10).read()):
        urllib.request.urlopen(urllib.request.Request(
            f"{lab['url']}/api/sessions/{session['id']}", method="DELETE", headers=headers),
            timeout=30).read()


def require_browser(find=find_chromium) -> str:
    """Chromium's path, after checking Playwright imports; else skip (fail when CI=true)."""
    path = find()
    if path is None:
        skip_or_fail(f"Chromium not found; {INSTALL_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the Python package playwright is missing; run `make env` (it is in the "
                     "lock file), then " + INSTALL_HINT)
    return path


@pytest.fixture(scope="module")
def chromium_path() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def lab(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A JupyterLab server on 127.0.0.1 serving a copy of notebooks/; stopped on every path."""
    base = tmp_path_factory.mktemp("lab")
    work = base / "work"
    shutil.copytree(NOTEBOOKS, work / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    # Notebooks run with cwd = notebooks/ and may read ../<something> (e.g. the lock file).
    for entry in ROOT.iterdir():
        if entry.name not in {"notebooks", ".git", ".venv", "test-artifacts"}:
            (work / entry.name).symlink_to(entry)
    for d in ("config", "runtime", "settings", "workspaces", "data"):
        (base / d).mkdir()
    _write_settings(base / "settings")
    _write_kernelspec(base / "data")
    port, token = _free_port(), secrets.token_hex(24)
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONHASHSEED": "0",
    })
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True", f"--ServerApp.root_dir={work / 'notebooks'}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log_path = base / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + limit(SERVER_START_S)
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(encoding="utf-8")[-3000:]
                raise RuntimeError(f"JupyterLab exited early:\n{tail}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start in {limit(SERVER_START_S):.0f} s:"
                                       f"\n{log_path.read_text(encoding='utf-8')[-3000:]}")
                time.sleep(0.5)
        yield {"url": url, "token": token, "log": log_path, "chromium": chromium_path,
               "root": work / "notebooks"}
    finally:
        _stop_server(proc, url, token)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log_path, ARTIFACTS / "jupyterlab-server.log")


@pytest.fixture(scope="module")
def browser(lab: dict) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=lab["chromium"], headless=True,
                                      args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


# -- page helpers -------------------------------------------------------------------------------
ALL_RUN_JS = """() => {
  // true when the kernel is idle and every code cell has an execution count
  // (outputs and counts were cleared before "run all", so a count means "ran this time").
  const nb = window.jupyterapp.shell.currentWidget;
  const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = nb.model.cells;
  let n = 0;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    n += 1;
    if (!cell.executionCount) return false;
  }
  return n > 0;
}"""

PREPARE_RUN_JS = """() => {
  // Cells that nbval expects to raise get JupyterLab's "raises-exception" tag, so "run all"
  // goes on after them; then clear all outputs and execution counts.
  const nb = window.jupyterapp.shell.currentWidget;
  const cells = nb.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type === 'code' && cell.sharedModel.getSource().includes('NBVAL_RAISES_EXCEPTION')) {
      const tags = cell.getMetadata('tags') || [];
      if (!tags.includes('raises-exception')) {
        cell.setMetadata('tags', [...tags, 'raises-exception']);
      }
    }
  }
  return window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');
}"""

KERNEL_READY_JS = """() => {
  const app = window.jupyterapp;
  const nb = app && app.shell.currentWidget;
  const kernel = nb && nb.sessionContext && nb.sessionContext.session
                 && nb.sessionContext.session.kernel;
  return !!(kernel && kernel.status === 'idle' && document.querySelector('.jp-Notebook'));
}"""

WIDGETS_SETTLED_JS = """(n) => {
  // 'error' (final) if a widget failed, 'ok' once n views rendered, else null (keep waiting)
  const nb = document.querySelector('.jp-Notebook');
  if (!nb) return null;
  if (nb.querySelector('.jupyter-widgets-error-widget')
      || /Error displaying widget/.test(nb.innerText)) return 'error';
  if (/Loading widget/.test(nb.innerText)) return null;
  const views = document.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets').length;
  return views >= n ? 'ok' : null;
}"""

ERROR_OUTPUTS_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.model.cells;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      const expected = cell.sharedModel.getSource().includes('NBVAL_RAISES_EXCEPTION');
      if (out.output_type === 'error' && !expected) {
        errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      }
    }
  }
  return errors;
}"""

IMAGES_LOADED_JS = """() => {
  const imgs = [...document.querySelectorAll('.ottt-explorer img')];
  return imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def open_and_run_all(browser, lab: dict, name: str):
    """Open ``name`` in a fresh page, run all cells, wait until done; returns (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}",
              wait_until="domcontentloaded", timeout=limit(SERVER_START_S) * 1000)
    page.wait_for_function(KERNEL_READY_JS, timeout=limit(SERVER_START_S) * 1000, polling=500)
    page.evaluate(PREPARE_RUN_JS)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    try:
        page.wait_for_function(ALL_RUN_JS, timeout=limit(RUN_ALL_S) * 1000, polling=500)
    except Exception:
        _screenshot(page, f"{Path(name).stem}-run-all-timeout")
        errors = page.evaluate(ERROR_OUTPUTS_JS)
        raise AssertionError(f"{name}: 'run all' did not finish within {limit(RUN_ALL_S):.0f} s (OTTT_TEST_TIME_SCALE raises it); "
                             f"error outputs: {errors}") from None
    page.console_errors = console_errors  # type: ignore[attr-defined]
    return context, page


def _screenshot(page_or_element, stem: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{stem}.png"
    kwargs = {"full_page": True} if hasattr(page_or_element, "goto") else {}
    page_or_element.screenshot(path=str(path), **kwargs)
    return path


def check_widgets_rendered(page, name: str, expected: int) -> None:
    """Every widget output rendered: at least ``expected``, none loading or failed."""
    stem = Path(name).stem
    views = page.locator(".jp-OutputArea-output > .jupyter-widgets")
    try:
        state = page.wait_for_function(WIDGETS_SETTLED_JS, arg=expected,
                                       timeout=limit(WIDGET_S) * 1000, polling=500).json_value()
    except Exception:
        state = "timeout"
    if state != "ok":
        _screenshot(page, f"{stem}-widgets-not-rendered")
        raise AssertionError(
            f"{name}: widgets did not render ({state}); found {views.count()} widget views "
            f"(expected {expected}) with texts {[t[:80] for t in views.all_inner_texts()]}"
        )
    errors = page.evaluate(ERROR_OUTPUTS_JS)
    assert errors == [], f"{name}: error outputs after running all cells in the browser: {errors}"
    try:
        page.wait_for_function(IMAGES_LOADED_JS, timeout=limit(WIDGET_S) * 1000, polling=500)
    except Exception:
        _screenshot(page, f"{stem}-images-not-loaded")
        raise AssertionError(f"{name}: an explorer's figure <img> did not load") from None


# -- tests --------------------------------------------------------------------------------------
def test_missing_browser_skips_with_install_hint(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser(find=lambda: None)


def test_missing_browser_fails_on_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true .*apt-get install chromium"):
        require_browser(find=lambda: None)


def test_widget_notebooks_are_discovered():
    names = [p.name for p in widget_notebooks()]
    assert PLAYGROUND in names, f"{PLAYGROUND} must use ottt_edu.course.widgets; found {names}"
    assert expected_widget_outputs(NOTEBOOKS / PLAYGROUND) >= 2


def test_playground_sliders_change_plots(browser, lab):
    """10: all explorers render; dragging one slider of each changes its figure."""
    expected = expected_widget_outputs(NOTEBOOKS / PLAYGROUND)
    context, page = open_and_run_all(browser, lab, PLAYGROUND)
    try:
        check_widgets_rendered(page, PLAYGROUND, expected)
        explorers = page.locator(".ottt-explorer")
        assert explorers.count() == expected
        _screenshot(page, "11_explorers-after-run-all")
        for i in range(expected):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            title = explorer.locator(".widget-html").first.inner_text().strip()
            stem = f"11_explorers-{i}-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            img = explorer.locator("img").first
            src_before = img.get_attribute("src")
            readout = explorer.locator(".widget-slider .widget-readout").first
            value_before = readout.inner_text()
            _screenshot(explorer, f"{stem}-before")
            handle = explorer.locator(".widget-slider .noUi-handle").first
            box = handle.bounding_box()
            assert box is not None, f"{title}: slider handle not visible"
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 40, y, steps=5)
            page.mouse.move(x + 80, y, steps=5)
            page.mouse.up()
            page.wait_for_function(
                "([el, before]) => el.getAttribute('src') !== before && el.complete "
                "&& el.naturalWidth > 0",
                arg=[img.element_handle(), src_before], timeout=limit(WIDGET_S) * 1000,
                polling=250,
            )
            value_after = readout.inner_text()
            _screenshot(explorer, f"{stem}-after")
            assert value_after != value_before, f"{title}: slider readout did not move"
        body = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in body
    finally:
        context.close()
        _shutdown_kernels(lab)


@pytest.mark.parametrize("name", [p.name for p in widget_notebooks() if p.name != PLAYGROUND])
def test_other_widget_notebooks_render(browser, lab, name):
    """Every other notebook with explorers runs in the browser and all its widgets render."""
    expected = expected_widget_outputs(NOTEBOOKS / name)
    assert expected >= 1, f"{name} imports ottt_edu.course.widgets but stores no widget output"
    context, page = open_and_run_all(browser, lab, name)
    try:
        check_widgets_rendered(page, name, expected)
        _screenshot(page, f"{Path(name).stem}-after-run-all")
        explorers = page.locator(".ottt-explorer")
        for i in range(explorers.count()):
            explorers.nth(i).scroll_into_view_if_needed()
            _screenshot(explorers.nth(i), f"{Path(name).stem}-explorer-{i}")
    finally:
        context.close()
        _shutdown_kernels(lab)


TWIN = "03_replace_for_grad.md"
TWIN_OPENED_JS = """(n) => {
  // the text twin is open as a notebook (jupytext's 'Jupytext Notebook' view) with all cells
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || !w.context.path.endsWith('.md') || !w.content || !w.content.model) return null;
  return w.content.model.cells.length === n && !!document.querySelector('.jp-Notebook .jp-Cell');
}"""


def test_text_twin_opens_as_a_notebook(browser, lab):
    """jupytext's JupyterLab extension (from the lock) opens a notebook's .md twin as a notebook."""
    cells = len(nbformat.read(NOTEBOOKS / TWIN.replace(".md", ".ipynb"), as_version=4).cells)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{lab['url']}/lab?reset&token={lab['token']}", wait_until="domcontentloaded",
                  timeout=limit(SERVER_START_S) * 1000)
        page.wait_for_function("() => !!(window.jupyterapp && window.jupyterapp.commands"
                               " && document.querySelector('.jp-LabShell'))",
                               timeout=limit(SERVER_START_S) * 1000, polling=500)
        factories = page.evaluate(
            "(p) => window.jupyterapp.docRegistry.preferredWidgetFactories(p).map(f => f.name)", TWIN)
        assert "Jupytext Notebook" in factories, f"jupytext's lab extension is missing: {factories}"
        page.evaluate("(p) => window.jupyterapp.commands.execute('docmanager:open',"
                      " {path: p, factory: 'Jupytext Notebook'})", TWIN)
        try:
            page.wait_for_function(TWIN_OPENED_JS, arg=cells, timeout=limit(WIDGET_S) * 1000,
                                   polling=500)
        except Exception:
            _screenshot(page, "twin-not-opened")
            raise AssertionError(f"{TWIN} did not open as a notebook with {cells} cells") from None
        _screenshot(page, "03_replace_for_grad-md-as-notebook")
        # Saving in JupyterLab writes both files of the pair (the pairing is in jupytext.toml).
        marker = "Edited in JupyterLab: saved to both files."
        page.evaluate("(m) => { const w = window.jupyterapp.shell.currentWidget;"
                      " const c = w.content.model.cells.get(0);"
                      " c.sharedModel.setSource(c.sharedModel.getSource() + '\\n\\n' + m); }", marker)
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        ipynb, md = lab["root"] / TWIN.replace(".md", ".ipynb"), lab["root"] / TWIN
        deadline = time.monotonic() + limit(WIDGET_S)
        while not (marker in md.read_text(encoding="utf-8") and marker in ipynb.read_text(encoding="utf-8")):
            if time.monotonic() > deadline:
                _screenshot(page, "twin-not-saved")
                raise AssertionError(f"saving {TWIN} in JupyterLab did not update both {TWIN} and its .ipynb")
            time.sleep(0.5)
        saved = nbformat.read(ipynb, as_version=4)
        assert len(saved.cells) == cells and marker in saved.cells[0].source
        assert any(c.get("outputs") for c in saved.cells if c.cell_type == "code"), "outputs were lost"
    finally:
        context.close()
        _shutdown_kernels(lab)
