"""Tests for ottt_edu.train.checkpoint: atomic writes, safe loading, clear errors, exact RNG resume."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from torch import nn

from ottt_edu.train import checkpoint as ckpt
from ottt_edu.train.checkpoint import (CHECKPOINT_FORMAT, CheckpointError, check_config_compatible,
                                 check_state_dict_compatible, checkpoint_path, get_rng_state,
                                 latest_checkpoint, list_checkpoints, load_checkpoint,
                                 prune_checkpoints, save_checkpoint, set_rng_state)


def small_state(epoch: int = 1) -> dict:
    torch.manual_seed(epoch)
    net = nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    return {"epoch": epoch, "model": net.state_dict(), "optimizer": opt.state_dict(),
            "history": {"train_loss": [0.5, 0.25]}, "config": {"T": 4, "method": "ottt_a"},
            "rng": get_rng_state({"loader": torch.Generator().manual_seed(3)})}


def test_round_trip_with_weights_only(tmp_path):
    state = small_state(2)
    path = save_checkpoint(checkpoint_path(tmp_path, 2), state)
    assert path.name == "epoch_0002.pt"
    back = load_checkpoint(path)
    assert back["format"] == CHECKPOINT_FORMAT and back["epoch"] == 2
    for k, v in state["model"].items():
        torch.testing.assert_close(back["model"][k], v)
    assert back["history"] == state["history"] and back["config"] == state["config"]
    torch.load(path, weights_only=True)                  # readable without trusting the file


def test_write_is_atomic_nothing_left_on_failure(tmp_path, monkeypatch):
    good = save_checkpoint(checkpoint_path(tmp_path, 1), small_state(1))
    good_bytes = good.read_bytes()

    def exploding_save(obj, f):                           # a crash in the middle of the write
        f.write(b"partial bytes")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.torch, "save", exploding_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(checkpoint_path(tmp_path, 2), small_state(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0001.pt"]   # no half file, no tmp
    assert good.read_bytes() == good_bytes
    assert latest_checkpoint(tmp_path) == good


def test_write_goes_through_a_temporary_and_os_replace(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst), os.path.getsize(src)))
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", spy)
    save_checkpoint(checkpoint_path(tmp_path, 1), small_state(1))
    (src, dst, size), = seen
    assert src.startswith(".epoch_0001.pt.") and src.endswith(".tmp") and dst == "epoch_0001.pt"
    assert size > 0


def test_refuses_to_overwrite(tmp_path):
    path = save_checkpoint(checkpoint_path(tmp_path, 1), small_state(1))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        save_checkpoint(path, small_state(5))
    assert path.read_bytes() == before


def test_corrupt_file_gives_clear_error_and_is_left_alone(tmp_path):
    path = save_checkpoint(checkpoint_path(tmp_path, 1), small_state(1))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])              # truncated, as after a crash
    truncated = path.read_bytes()
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert path.read_bytes() == truncated
    with pytest.raises(FileExistsError):                  # and a save does not replace it
        save_checkpoint(path, small_state(1))
    garbage = tmp_path / "epoch_0002.pt"
    garbage.write_bytes(b"\x00not a zip at all")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_arbitrary_objects_are_refused_on_load_and_on_save(tmp_path):
    path = tmp_path / "epoch_0001.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "epoch": 1, "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True never runs code"):
        load_checkpoint(path)
    with pytest.raises(TypeError, match=r"state\['config'\]\['obj'\]"):
        save_checkpoint(tmp_path / "epoch_0002.pt", {"epoch": 2, "config": {"obj": object()}})
    assert not (tmp_path / "epoch_0002.pt").exists()


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "epoch_0001.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an ottt_edu checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")


def test_config_mismatch_lists_the_differences():
    check_config_compatible({"T": 4, "epochs": 3}, {"T": 4, "epochs": 9}, ignore=["epochs"])
    with pytest.raises(CheckpointError, match=r"T: checkpoint has 4, this run has 6") as e:
        check_config_compatible({"T": 4, "method": "ottt_a"}, {"T": 6, "method": "ottt_a"})
    assert "method" not in str(e.value)


def test_state_dict_mismatch_is_clear():
    with pytest.raises(CheckpointError, match=r"shape mismatch: weight: checkpoint \(2, 3\), model \(5, 3\)"):
        check_state_dict_compatible(nn.Linear(3, 5), nn.Linear(3, 2).state_dict(), "model")
    with pytest.raises(CheckpointError, match="missing from the checkpoint"):
        check_state_dict_compatible(nn.Linear(3, 2), {"weight": torch.zeros(2, 3)}, "model")
    check_state_dict_compatible(nn.Linear(3, 2), nn.Linear(3, 2).state_dict(), "model")


def test_listing_latest_and_pruning(tmp_path):
    assert latest_checkpoint(tmp_path) is None and latest_checkpoint(tmp_path / "absent") is None
    for e in (1, 2, 10):
        save_checkpoint(checkpoint_path(tmp_path, e), small_state(e))
    (tmp_path / ".epoch_0011.pt.abc.tmp").write_bytes(b"left by a kill")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert [e for e, _ in list_checkpoints(tmp_path)] == [1, 2, 10]
    assert latest_checkpoint(tmp_path).name == "epoch_0010.pt"
    assert [p.name for p in prune_checkpoints(tmp_path, keep=2)] == ["epoch_0001.pt"]
    assert [e for e, _ in list_checkpoints(tmp_path)] == [2, 10]
    assert [p.name for p in ckpt.remove_stale_temporaries(tmp_path)] == [".epoch_0011.pt.abc.tmp"]
    with pytest.raises(ValueError, match="keep must be >= 1"):
        prune_checkpoints(tmp_path, keep=0)


def test_rng_state_round_trip_through_a_file(tmp_path):
    g = torch.Generator().manual_seed(11)
    random.seed(1); np.random.seed(2); torch.manual_seed(3)
    np.random.standard_normal()                             # leaves a cached gaussian
    save_checkpoint(tmp_path / "epoch_0001.pt", {"epoch": 1, "rng": get_rng_state({"loader": g})})
    expected = (random.random(), np.random.standard_normal(3), torch.rand(3),
                torch.randperm(10, generator=g))
    random.seed(99); np.random.seed(99); torch.manual_seed(99); g.manual_seed(99)
    set_rng_state(load_checkpoint(tmp_path / "epoch_0001.pt")["rng"], {"loader": g})
    got = (random.random(), np.random.standard_normal(3), torch.rand(3),
           torch.randperm(10, generator=g))
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])
    assert torch.equal(got[2], expected[2]) and torch.equal(got[3], expected[3])
    with pytest.raises(CheckpointError, match="no state for the random generator 'sampler'"):
        set_rng_state(get_rng_state(), {"sampler": g})
