"""Tests for ottt_edu.train.run.run_training (in one process): checkpoints, exact resume, refusals."""
from __future__ import annotations

import shutil

import pytest
import torch

from ottt_edu.train.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from ottt_edu.train.run import RunOptions, run_training
from ottt_edu.train import TrainConfig, fit


def config(**kw) -> TrainConfig:
    base = dict(dataset="digits", model="mlp", hidden=(32,), T=3, epochs=3, batch_size=32,
                optimizer="sgd", lr=0.1, scheduler="cosine", dropout=0.2, quiet=True, seed=1,
                n_train=256, n_test=64)
    base.update(kw)
    return TrainConfig(**base)


def same_run(a, b) -> None:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"weights {k} differ"
    drop_time = lambda h: {k: v for k, v in h.items() if k != "time"}   # wall-clock differs
    assert drop_time(a.history) == drop_time(b.history)


@pytest.mark.parametrize("encoding", ["direct", "poisson"])
def test_checkpointed_run_equals_plain_fit_and_resume_is_exact(tmp_path, encoding):
    cfg = config(encoding=encoding)
    plain = fit(cfg)
    full = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "full")))
    same_run(plain, full)
    assert [e for e, _ in list_checkpoints(tmp_path / "full")] == [1, 2, 3]
    state = load_checkpoint(tmp_path / "full" / "epoch_0003.pt")
    assert state["epoch"] == 3 and state["history"]["epoch"] == [1, 2, 3]
    assert state["config"] == cfg.to_dict() and state["world_size"] == 1

    crashed = tmp_path / "crashed"                   # as if killed during epoch 2
    crashed.mkdir()
    shutil.copy(tmp_path / "full" / "epoch_0001.pt", crashed)
    (crashed / ".epoch_0002.pt.x.tmp").write_bytes(b"half a checkpoint")
    resumed = run_training(cfg, RunOptions(checkpoint_dir=str(crashed), resume=True))
    same_run(full, resumed)
    assert sorted(p.name for p in crashed.iterdir()) == ["epoch_0001.pt", "epoch_0002.pt", "epoch_0003.pt"]


def test_resume_without_rng_restore_would_differ(tmp_path, monkeypatch):
    """The exactness above is not an accident: skipping the RNG restore changes the result."""
    import ottt_edu.train.run as run_mod
    cfg = config(epochs=2)
    full = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "a")))
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "epoch_0001.pt", tmp_path / "b")
    monkeypatch.setattr(run_mod.ckpt, "set_rng_state", lambda *a, **k: None)
    broken = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "b"), resume=True))
    assert any(not torch.equal(p, q) for p, q in zip(full.model.state_dict().values(),
                                                       broken.model.state_dict().values()))


def test_refuses_to_write_over_existing_checkpoints(tmp_path):
    cfg = config(epochs=1)
    run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path)))
    before = (tmp_path / "epoch_0001.pt").read_bytes()
    with pytest.raises(FileExistsError, match="Pass --resume"):
        run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path)))
    assert (tmp_path / "epoch_0001.pt").read_bytes() == before
    done = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path), resume=True))   # nothing left to do
    assert done.history["epoch"] == [1]


def test_resume_with_empty_directory_starts_fresh(tmp_path):
    logs = []
    run_training(config(epochs=1), RunOptions(checkpoint_dir=str(tmp_path), resume=True, log=logs.append))
    assert "starting from epoch 0" in logs[0] and (tmp_path / "epoch_0001.pt").is_file()


def test_corrupt_latest_checkpoint_is_an_error_and_left_alone(tmp_path):
    cfg = config(epochs=3)
    run_training(config(epochs=3), RunOptions(checkpoint_dir=str(tmp_path)))
    latest = tmp_path / "epoch_0003.pt"
    latest.write_bytes(latest.read_bytes()[:1000])
    damaged = latest.read_bytes()
    with pytest.raises(CheckpointError, match="epoch_0003.pt is not a readable checkpoint"):
        run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path), resume=True))
    assert latest.read_bytes() == damaged
    assert [e for e, _ in list_checkpoints(tmp_path)] == [1, 2, 3]


def test_mismatched_configuration_or_model_is_an_error(tmp_path):
    run_training(config(epochs=1), RunOptions(checkpoint_dir=str(tmp_path)))
    with pytest.raises(CheckpointError, match="T: checkpoint has 3, this run has 4"):
        run_training(config(epochs=1, T=4), RunOptions(checkpoint_dir=str(tmp_path), resume=True))
    run_training(config(epochs=1, quiet=False), RunOptions(checkpoint_dir=str(tmp_path), resume=True))


def test_keep_last_and_early_stop(tmp_path):
    seen = []

    def stop_after_two(state):
        seen.append(state.epoch)
        return state.epoch == 2

    result = run_training(config(epochs=4), RunOptions(checkpoint_dir=str(tmp_path), keep_last=1),
                          on_epoch_end=stop_after_two)
    assert seen == [1, 2] and result.history["epoch"] == [1, 2]
    assert [e for e, _ in list_checkpoints(tmp_path)] == [2]


def test_bad_options():
    with pytest.raises(ValueError, match="--resume needs --checkpoint-dir"):
        RunOptions(resume=True)
    with pytest.raises(ValueError, match="keep_last must be >= 1"):
        RunOptions(checkpoint_dir="x", keep_last=0)
