"""tasks.py, the course's set-up commands (the Makefile calls it; Windows users run it directly)."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tasks  # noqa: E402


@pytest.fixture
def recorded(monkeypatch):
    seen = []
    for name in ("test", "lab", "notebook", "sync"):
        func, help_ = tasks.COMMANDS[name]
        monkeypatch.setitem(tasks.COMMANDS, name, (lambda a, n=name: seen.append((n, a)), help_))
    return seen


def test_arguments_after_a_pass_through_command_reach_the_tool_in_order(recorded):
    assert tasks.main(["test", "-q", "-k", "a or b", "tests/x.py"]) == 0
    (name, args), = recorded
    assert name == "test" and args.rest == ["-q", "-k", "a or b", "tests/x.py"]


def test_python_option_before_the_command(recorded):
    assert tasks.main(["--python", "python3.12", "lab", "--port", "9999"]) == 0
    (name, args), = recorded
    assert args.python == "python3.12" and args.rest == ["--port", "9999"]


def test_notebook_numbers_and_sync_paths(recorded):
    assert tasks.main(["notebook", "04", "07"]) == 0
    assert tasks.main(["sync", "notebooks/03_replace_for_grad.md"]) == 0
    assert recorded[0][1].numbers == ["04", "07"]
    assert recorded[1][1].paths == ["notebooks/03_replace_for_grad.md"]


@pytest.mark.parametrize("argv", [["nosuch"], ["sync", "--bogus"], ["notebook"], []])
def test_bad_command_lines_exit_2_with_a_usage_line(argv):
    done = subprocess.run([sys.executable, str(ROOT / "tasks.py"), *argv], capture_output=True, text=True)
    assert done.returncode == 2
    assert re.search(r"^tasks\.py( \w+)?: error:", done.stderr, re.M) and "Traceback" not in done.stderr


def test_an_unknown_notebook_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setattr(tasks, "ensure_env", lambda python=None: Path(sys.executable))
    assert tasks.main(["notebook", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tasks.py notebook: error: no notebook is called '99'") and "\n" not in err


@pytest.mark.parametrize("name, hint", [("1", "01"), ("0", "00"), ("4", "04")])
def test_a_one_digit_number_selects_nothing_and_says_how(name, hint):
    """``notebook 1`` once selected 10 and 11 (prefix match), ``notebook 0`` all of 00-09."""
    with pytest.raises(tasks.TaskError, match=rf"write the two-digit number, e.g. {hint}"):
        tasks.notebook_paths([name])


def test_notebook_paths_are_read_from_the_current_folder(monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    got = tasks.notebook_paths(["zh-CN/03_replace_for_grad.ipynb", "04_traces_and_grad_with_trace.md"])
    assert [p.relative_to(ROOT).as_posix() for p in got] == [
        "notebooks/zh-CN/03_replace_for_grad.ipynb", "notebooks/04_traces_and_grad_with_trace.ipynb"]


def test_leftovers_of_an_interrupted_write_are_not_notebooks(tmp_path, monkeypatch):
    for name in ("03_x.ipynb", "03_x_tmp_jupytext_ab12.ipynb", ".03_x.ottt-tmp.ipynb"):
        (tmp_path / name).write_text("{}", encoding="utf-8")
    monkeypatch.setattr(tasks, "NOTEBOOK_DIRS", [tmp_path])
    assert [p.name for p in tasks.notebook_paths([])] == ["03_x.ipynb"]
    assert [p.name for p in tasks.notebook_paths(["03"])] == ["03_x.ipynb"]


def test_write_atomic_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "03_x.ipynb"
    target.write_text("old", encoding="utf-8")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tasks.os, "replace", full_disk)
    with pytest.raises(tasks.TaskError, match="No space left on device"):
        tasks.write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != tasks.SYNC_RECORD) == ["03_x.ipynb"]


def test_write_atomic_never_replaces_a_device_or_a_folder(tmp_path):
    with pytest.raises(tasks.TaskError, match="not a regular file"):
        tasks.write_atomic(tmp_path, "x")
    if Path("/dev/null").exists():
        with pytest.raises(tasks.TaskError, match="not a regular file"):
            tasks.write_atomic(Path("/dev/null"), "x")


def test_an_interrupted_run_leaves_the_stored_notebook_as_it_was(tmp_path, monkeypatch):
    """``notebook NN`` runs into a temporary copy: a kill (here: the run fails half-way, after
    writing part of its output) leaves the notebook byte for byte, and no temporary file."""
    nb = tmp_path / "03_x.ipynb"
    nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n', encoding="utf-8")
    tasks.normalize(nb)  # as a sync stores it
    before = nb.read_bytes()
    monkeypatch.setattr(tasks, "NOTEBOOK_DIRS", [tmp_path])
    monkeypatch.setattr(tasks, "ensure_env", lambda python=None: Path(sys.executable))

    def run(cmd, **kw):
        if "nbconvert" in [str(c) for c in cmd]:
            (tmp_path / ".03_x.ottt-tmp.ipynb").write_text('{"cells": [', encoding="utf-8")
            raise tasks.TaskError("command failed with exit code -9")
    monkeypatch.setattr(tasks, "_run", run)
    assert tasks.main(["notebook", "03"]) == 2
    assert nb.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != tasks.SYNC_RECORD) == ["03_x.ipynb"]


def test_notebook_names_resolve(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert [p.name for p in tasks.notebook_paths(["03"])] == ["03_replace_for_grad.ipynb"]
    assert len(tasks.notebook_paths([])) == len(list((ROOT / "notebooks").rglob("[0-9][0-9]_*.ipynb")))
    twin = tasks.notebook_paths(["notebooks/zh-CN/03_replace_for_grad.ipynb"])
    assert [p.relative_to(ROOT).as_posix() for p in twin] == ["notebooks/zh-CN/03_replace_for_grad.ipynb"]


@pytest.mark.parametrize("version,ok", [((3, 10, 13), False), ((3, 11, 0), True), ((3, 13, 1), True)])
def test_version_gate_matches_the_lock(version, ok):
    info = {"version": list(version), "base_prefix": "/x", "executable": "/x/python"}
    if ok:
        tasks._check_version(info, "python")
    else:
        with pytest.raises(tasks.TaskError, match=r"needs Python 3\.11 or newer"):
            tasks._check_version(info, "python")


def test_a_missing_interpreter_is_a_clear_error():
    with pytest.raises(tasks.TaskError, match="cannot run the interpreter 'no-such-python'"):
        tasks._describe("no-such-python")


def test_venv_made_by_another_interpreter_is_rebuilt(monkeypatch, tmp_path):
    """--python X with a .venv made by Y: .venv is removed and made again with X."""
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /elsewhere\n", encoding="utf-8")
    made = []
    monkeypatch.setattr(tasks, "VENV", venv)
    monkeypatch.setattr(tasks, "STAMP", venv / ".stamp")
    monkeypatch.setattr(tasks, "_venv_base_prefix", lambda: "/elsewhere")
    monkeypatch.setattr(tasks, "_describe", lambda py: {"version": [3, 12, 1], "base_prefix": "/py312",
                                                        "executable": py})
    def fake_run(cmd, **kw):
        made.append([str(c) for c in cmd])
        venv.mkdir(exist_ok=True)
    monkeypatch.setattr(tasks, "_run", fake_run)
    monkeypatch.setattr(tasks, "_fingerprint", lambda info: "f")
    tasks.ensure_env("python3.12")
    assert made[0] == ["python3.12", "-m", "venv", str(venv)]
    assert not (venv / "pyvenv.cfg").exists()       # the old one was removed first


def test_normalize_drops_timing_and_python_version(tmp_path):
    nb = tmp_path / "x.ipynb"
    nb.write_text('{"cells": [{"cell_type": "code", "metadata": {"execution": {"a": 1}}, "source": ""}],'
                  ' "metadata": {"language_info": {"name": "python", "version": "3.12.1"},'
                  ' "jupytext": {"default_lexer": "ipython3"}}, "nbformat": 4, "nbformat_minor": 5}',
                  encoding="utf-8")
    tasks.normalize(nb)
    text = nb.read_text(encoding="utf-8")
    assert "3.12.1" not in text and "execution" not in text and "jupytext" not in text


def test_existing_venv_is_kept_when_no_interpreter_is_named(monkeypatch, tmp_path):
    """`make test` after `make PYTHON=python3.12 test`: the 3.12 .venv stays, nothing is rebuilt."""
    venv = tmp_path / ".venv"
    venv.mkdir()
    calls = []
    monkeypatch.setattr(tasks, "VENV", venv)
    monkeypatch.setattr(tasks, "STAMP", venv / ".stamp")
    monkeypatch.setattr(tasks, "_venv_base_prefix", lambda: "/py312")
    monkeypatch.setattr(tasks, "_describe", lambda py: {"version": [3, 12, 1], "base_prefix": "/py312",
                                                        "executable": py})
    monkeypatch.setattr(tasks, "_run", lambda cmd, **kw: calls.append([str(c) for c in cmd]))
    monkeypatch.setattr(tasks, "_fingerprint", lambda info: "f")
    (venv / ".stamp").write_text("f\n", encoding="utf-8")
    assert tasks.ensure_env(None) == tasks.venv_python(venv)
    assert calls == [] and venv.exists()


def _pair_in(tmp_path: Path) -> Path:
    for name in ("jupytext.toml", "00_start_here.ipynb", "00_start_here.md"):
        shutil.copy2(ROOT / "notebooks" / name, tmp_path / name)
    os.utime(tmp_path / "00_start_here.md")  # the twin is never older than its notebook
    return tmp_path / "00_start_here.ipynb"


def test_sync_rebuilds_an_empty_notebook_from_its_twin(tmp_path, capsys):
    """A sync or a run killed while writing left the .ipynb at 0 bytes: the next sync repairs
    it from the intact .md twin and says so (it used to fail with NotJSONError)."""
    notebook = _pair_in(tmp_path)
    cells = len(json.loads(notebook.read_text(encoding="utf-8"))["cells"])
    notebook.write_text("", encoding="utf-8")
    assert tasks.main(["sync", str(notebook)]) == 0
    assert len(json.loads(notebook.read_text(encoding="utf-8"))["cells"]) == cells
    assert "rebuilt from its twin 00_start_here.md" in capsys.readouterr().out


def test_sync_rebuilds_an_empty_twin_from_its_notebook(tmp_path, capsys):
    notebook = _pair_in(tmp_path)
    twin = notebook.with_suffix(".md")
    twin.write_text("", encoding="utf-8")
    assert tasks.main(["sync", str(notebook)]) == 0
    assert "# 00" in twin.read_text(encoding="utf-8")
    assert "00_start_here.md was empty or unreadable" in capsys.readouterr().out


def test_sync_with_both_twins_damaged_is_a_one_line_error(tmp_path, capsys):
    notebook = _pair_in(tmp_path)
    notebook.write_text("", encoding="utf-8")
    notebook.with_suffix(".md").write_text("", encoding="utf-8")
    assert tasks.main(["sync", str(notebook)]) == 2
    err = capsys.readouterr().err.strip()
    assert "both" in err and "git checkout" in err and "\n" not in err
