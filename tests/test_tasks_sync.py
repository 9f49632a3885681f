"""``python tasks.py sync``: which twin wins, edits in both refused, and nothing lost when the
sync is killed (kill -9 at a random moment and before each file replacement) or the disk fills.

Each trial runs on a copy of real notebook pairs in a temporary folder: after it, every file is
either as it was or as a complete sync makes it, and a rerun recovers.
"""
from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import tasks  # noqa: E402

pytest.importorskip("jupytext")
PAIRS = ["00_start_here", "03_replace_for_grad", "05_spike_trace_op_and_ottt_sequential"]


def _copy_pairs(folder: Path, names=PAIRS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "notebooks" / "jupytext.toml", folder / "jupytext.toml")
    for name in names:
        for suffix in (".ipynb", ".md"):
            shutil.copy2(ROOT / "notebooks" / f"{name}{suffix}", folder / f"{name}{suffix}")
        os.utime(folder / f"{name}.md")


def _edit_twin(folder: Path, name: str, words: str) -> None:
    """A teacher's edit in the text twin, made after the last sync."""
    md = folder / f"{name}.md"
    md.write_text(md.read_text(encoding="utf-8") + f"\n{words}\n", encoding="utf-8")
    later = time.time() + 5
    os.utime(md, (later, later))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.suffix in (".ipynb", ".md") and p.is_file()}


def _sync(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tasks.py"), "sync", *extra,
                           *[str(folder / f"{n}.ipynb") for n in PAIRS]],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def before_and_after(tmp_path_factory):
    """The pairs with an edit in every .md twin, and what one complete sync makes of them."""
    base = tmp_path_factory.mktemp("pairs")
    _copy_pairs(base)
    assert _sync(base).returncode == 0  # records the pairs as synced
    for name in PAIRS:
        _edit_twin(base, name, f"A new paragraph for {name}.")
    before = _snapshot(base)
    done = tmp_path_factory.mktemp("done")
    shutil.copytree(base, done, dirs_exist_ok=True, copy_function=shutil.copy2)
    result = _sync(done)
    assert result.returncode == 0, result.stderr
    after = _snapshot(done)
    for name in PAIRS:
        assert "A new paragraph" in (done / f"{name}.ipynb").read_text(encoding="utf-8")
    return base, before, after


def _assert_each_file_old_or_new(folder: Path, before: dict, after: dict) -> None:
    now = _snapshot(folder)
    assert set(now) == set(before)
    for name, data in now.items():
        assert data in (before[name], after[name]), f"{name} is neither as it was nor as synced"
        if name.endswith(".ipynb"):
            assert json.loads(data)["cells"]


def _assert_rerun_recovers(folder: Path, after: dict) -> None:
    result = _sync(folder)
    assert result.returncode == 0, result.stderr
    now = _snapshot(folder)
    for name, data in now.items():
        if name.endswith(".ipynb"):  # cells as synced (outputs are the notebook's own)
            assert json.loads(data)["cells"] == json.loads(after[name])["cells"], name
        else:
            assert data == after[name], name
    assert not (folder / tasks.STAGING).exists()


def _trial_folder(tmp_path: Path, base: Path) -> Path:
    folder = tmp_path / "trial"
    shutil.copytree(base, folder, copy_function=shutil.copy2)
    return folder


POSIX_KILL = pytest.mark.skipif(sys.platform == "win32",
                                reason="kill -9 is POSIX: Windows has no SIGKILL (os.kill(pid, 9) there is "
                                       "TerminateProcess with exit code 9, not the -9 these tests read)")


@POSIX_KILL
@pytest.mark.parametrize("trial", range(10))
def test_a_sync_killed_at_a_random_moment_loses_nothing(before_and_after, tmp_path, trial):
    base, before, after = before_and_after
    folder = _trial_folder(tmp_path, base)
    proc = subprocess.Popen([sys.executable, str(ROOT / "tasks.py"), "sync",
                             *[str(folder / f"{n}.ipynb") for n in PAIRS]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(trial).uniform(0.05, 2.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _assert_each_file_old_or_new(folder, before, after)
    _assert_rerun_recovers(folder, after)


KILL_AT_REPLACE = """
import os, sys
sys.path.insert(0, {root!r})
import tasks
real, count = os.replace, [0]
def replace(a, b):
    count[0] += 1
    if count[0] == {k}:
        os.kill(os.getpid(), 9)
    real(a, b)
os.replace = replace
sys.exit(tasks.main(["sync", *sys.argv[1:]]))
"""


@POSIX_KILL
@pytest.mark.parametrize("k", range(1, 8))
def test_a_sync_killed_before_each_file_replacement_loses_nothing(before_and_after, tmp_path, k):
    """Killed just before its k-th ``os.replace`` (the notebooks, the twins, the record)."""
    base, before, after = before_and_after
    folder = _trial_folder(tmp_path, base)
    code = KILL_AT_REPLACE.format(root=str(ROOT), k=k)
    result = subprocess.run([sys.executable, "-c", code, *[str(folder / f"{n}.ipynb") for n in PAIRS]],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (-9, 0), result.stderr
    _assert_each_file_old_or_new(folder, before, after)
    _assert_rerun_recovers(folder, after)


@pytest.mark.parametrize("where", ["copy", "replace"])
@pytest.mark.parametrize("k", [1, 3])
def test_a_full_disk_during_a_sync_loses_nothing(before_and_after, tmp_path, monkeypatch, capsys,
                                                  where, k):
    """The k-th copy into the staging folder, or the k-th replacement, fails with ENOSPC."""
    base, before, after = before_and_after
    folder = _trial_folder(tmp_path, base)
    target = (shutil, "copy2") if where == "copy" else (os, "replace")
    real, count = getattr(*target), [0]

    def full(*args, **kw):
        count[0] += 1
        if count[0] == k:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kw)
    monkeypatch.setattr(*target, full)
    code = tasks.main(["sync", *[str(folder / f"{n}.ipynb") for n in PAIRS]])
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert code == 2 and "No space left on device" in err and "\n" not in err
    _assert_each_file_old_or_new(folder, before, after)
    _assert_rerun_recovers(folder, after)


def test_edits_in_both_twins_are_refused_and_nothing_is_dropped(tmp_path, capsys):
    _copy_pairs(tmp_path, ["03_replace_for_grad"])
    notebook = tmp_path / "03_replace_for_grad.ipynb"
    assert tasks.main(["sync", str(notebook)]) == 0
    _edit_twin(tmp_path, "03_replace_for_grad", "Edited in the text twin.")
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = "# Edited in JupyterLab\n"
    notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert tasks.main(["sync", str(notebook)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "both" in err and "edited since the last sync" in err
    assert notebook.name in err and "03_replace_for_grad.md" in err
    assert _snapshot(tmp_path) == before


def test_the_edited_twin_wins_even_when_it_is_older(tmp_path):
    """The record of the last sync, not the clock, says which twin was edited."""
    _copy_pairs(tmp_path, ["03_replace_for_grad"])
    notebook = tmp_path / "03_replace_for_grad.ipynb"
    assert tasks.main(["sync", str(notebook)]) == 0
    _edit_twin(tmp_path, "03_replace_for_grad", "Edited in the text twin.")
    long_ago = time.time() - 3600
    os.utime(tmp_path / "03_replace_for_grad.md", (long_ago, long_ago))
    assert tasks.main(["sync", str(notebook)]) == 0
    assert "Edited in the text twin." in notebook.read_text(encoding="utf-8")


def test_both_twins_changed_the_same_way_is_no_conflict(tmp_path):
    """A ``git pull`` that changed both twins together leaves them in agreement: no refusal."""
    _copy_pairs(tmp_path, ["03_replace_for_grad"])
    notebook = tmp_path / "03_replace_for_grad.ipynb"
    assert tasks.main(["sync", str(notebook)]) == 0
    _edit_twin(tmp_path, "03_replace_for_grad", "Pulled.")
    assert tasks.main(["sync", str(notebook)]) == 0
    (tmp_path / tasks.SYNC_RECORD).write_text(json.dumps({"03_replace_for_grad": "0" * 64}),
                                              encoding="utf-8")  # a record older than both
    assert tasks.main(["sync", str(notebook)]) == 0


def test_a_staging_folder_left_by_a_killed_sync_is_removed_with_a_note(tmp_path, capsys):
    _copy_pairs(tmp_path, ["00_start_here"])
    (tmp_path / tasks.STAGING).mkdir()
    (tmp_path / tasks.STAGING / "00_start_here.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert tasks.main(["sync", str(tmp_path / "00_start_here.ipynb")]) == 0
    assert "left by an interrupted sync" in capsys.readouterr().out
    assert not (tmp_path / tasks.STAGING).exists()


def test_sync_of_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert tasks.main(["sync", str(tmp_path / "07_nothing.ipynb")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and "\n" not in err
