"""Kill a training process with SIGKILL in the middle of an epoch, or in the middle of writing a
checkpoint, resume it, and get exactly the weights and history of a run that was never
interrupted (same seed); a kill never leaves a half-written checkpoint."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ottt_edu.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

# dropout, Poisson input and shuffling all draw random numbers, so all RNG states must resume
ARGS = ["train", "--dataset", "digits", "--model", "mlp", "--hidden", "32", "--T", "4",
        "--epochs", "3", "--n-train", "800", "--n-test", "100", "--batch-size", "16",
        "--optimizer", "sgd", "--lr", "0.1", "--scheduler", "cosine", "--dropout", "0.2",
        "--encoding", "poisson", "--seed", "3", "--threads", "1", "--quiet"]


def cli(*extra: str) -> list[str]:
    return [sys.executable, "-m", "ottt_edu", *ARGS, *extra]


def env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")


def without_time(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "time"}   # wall-clock seconds differ


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: its checkpoint directory and JSON history."""
    tmp_path = tmp_path_factory.mktemp("reference")
    ref_dir = tmp_path / "reference"
    subprocess.run(cli("--checkpoint-dir", str(ref_dir), "--json", str(tmp_path / "ref.json")),
                   check=True, env=env(), timeout=120)
    return ref_dir, tmp_path / "ref.json"


def assert_same_final_checkpoint(ref_dir, run_dir) -> None:
    ref, got = load_checkpoint(ref_dir / "epoch_0003.pt"), load_checkpoint(run_dir / "epoch_0003.pt")
    assert ref["model"].keys() == got["model"].keys()
    for k in ref["model"]:
        assert torch.equal(ref["model"][k], got["model"][k]), f"weights {k} differ"
    for k, buf in ref["optimizer"]["state"].items():
        assert torch.equal(buf["momentum_buffer"], got["optimizer"]["state"][k]["momentum_buffer"])
    assert ref["scheduler"] == got["scheduler"]
    assert without_time(ref["history"]) == without_time(got["history"])
    assert ref["history"]["epoch"] == [1, 2, 3]


# Runs the CLI and SIGKILLs itself half-way through writing the second checkpoint's bytes.
KILL_INSIDE_SECOND_CHECKPOINT_WRITE = """
import os, signal, sys, tempfile, types
import ottt_edu.train.checkpoint as ck
files, doomed, real_write = [0], set(), os.write
def mkstemp(*a, **k):
    fd, name = tempfile.mkstemp(*a, **k)
    files[0] += 1
    if files[0] == 2:
        doomed.add(fd)
    return fd, name
def write(fd, data):
    if fd in doomed:
        real_write(fd, bytes(data[: len(data) // 2]))
        os.kill(os.getpid(), signal.SIGKILL)
    return real_write(fd, data)
ck.tempfile = types.SimpleNamespace(mkstemp=mkstemp)
ck.os.write = write
from ottt_edu.train.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_inside_a_checkpoint_write_then_resume_equals_uninterrupted_run(tmp_path, reference):
    ref_dir, _ = reference
    run_dir = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILL_INSIDE_SECOND_CHECKPOINT_WRITE, *ARGS,
                           "--checkpoint-dir", str(run_dir)], env=env(), timeout=120)
    assert proc.returncode == -signal.SIGKILL
    names = sorted(p.name for p in run_dir.iterdir())
    assert names[0].startswith(".epoch_0002.pt.") and names[0].endswith(".tmp")  # half a tmp
    assert names[1:] == ["epoch_0001.pt"]                 # never a half-written checkpoint
    assert load_checkpoint(run_dir / "epoch_0001.pt")["epoch"] == 1

    subprocess.run(cli("--checkpoint-dir", str(run_dir), "--resume"), check=True, env=env(),
                   timeout=120)
    assert sorted(p.name for p in run_dir.iterdir()) == ["epoch_0001.pt", "epoch_0002.pt",
                                                         "epoch_0003.pt"]   # stale tmp removed
    assert_same_final_checkpoint(ref_dir, run_dir)


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path, reference):
    ref_dir, ref_json = reference
    run_dir = tmp_path / "killed"

    proc = subprocess.Popen(cli("--checkpoint-dir", str(run_dir)), env=env())
    first = run_dir / "epoch_0001.pt"
    deadline = time.monotonic() + 120
    while not first.exists():                       # wait for epoch 1's checkpoint ...
        assert proc.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)               # ... and kill it during epoch 2
    assert proc.wait(timeout=30) == -signal.SIGKILL
    finished = sorted(p.name for p in run_dir.glob("epoch_*.pt"))
    assert finished == ["epoch_0001.pt"], f"the kill came too late (found {finished})"

    subprocess.run(cli("--checkpoint-dir", str(run_dir), "--resume", "--json",
                       str(tmp_path / "resumed.json")), check=True, env=env(), timeout=120)

    assert_same_final_checkpoint(ref_dir, run_dir)
    ref_json = json.loads(ref_json.read_text(encoding="utf-8"))
    got_json = json.loads((tmp_path / "resumed.json").read_text(encoding="utf-8"))
    assert without_time(ref_json["history"]) == without_time(got_json["history"])
