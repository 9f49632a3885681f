"""--method sltt and --method fptt in the trainers: configuration, learning, checkpoints with
FPTT's w_ra, exact resume, and the CLI."""
import functools
import shutil

import pytest
import torch

from ottt_edu import OTTTSequential, SLTTLIFNode
from ottt_edu.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ottt_edu.train.cli import build_parser, config_from_args, main
from ottt_edu.models import build_model
from ottt_edu.train.online_steps import FPTTStep, sltt_step
from ottt_edu.train.run import RunOptions, run_training
from ottt_edu.train import METHOD_NEURONS, METHODS, TrainConfig, fit, make_step


def _tiny(**kw):
    base = dict(n_train=200, n_test=100, epochs=2, batch_size=32, hidden=(32,), quiet=True, T=3)
    base.update(kw)
    return TrainConfig(**base)


# -- configuration ------------------------------------------------------------------------------------
def test_methods_neurons_and_steps():
    assert METHODS == ("ottt_a", "ottt_o", "bptt", "sltt", "fptt")
    assert {m: TrainConfig(method=m).neuron for m in METHODS} == METHOD_NEURONS
    net = build_model(TrainConfig(method="sltt").model_config((1, 8, 8), 10))
    assert not isinstance(net, OTTTSequential) and isinstance(net.lif1, SLTTLIFNode)
    assert isinstance(make_step(TrainConfig(method="fptt", fptt_alpha=0.3)), FPTTStep)
    assert make_step(TrainConfig(method="fptt", fptt_alpha=0.3)).alpha == 0.3
    step = make_step(TrainConfig(method="sltt", sltt_k=2, T=4))
    assert isinstance(step, functools.partial) and step.func is sltt_step and step.keywords == {"k": 2}
    assert make_step(TrainConfig(method="sltt")) is sltt_step


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="sltt", sltt_k=0), r"sltt_k \(SLTT-K\) must be None or an integer in \[1, T=6\]"),
    (dict(method="sltt", sltt_k=7), r"\[1, T=6\]"),
    (dict(method="ottt_a", sltt_k=2), "applies to method 'sltt' only"),
    (dict(method="fptt", fptt_alpha=0.0), "fptt_alpha must be a positive number"),
    (dict(method="fptt", fptt_alpha=float("inf")), "fptt_alpha must be a positive number"),
])
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


# -- learning -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(method="sltt"), dict(method="sltt", sltt_k=2),
                                dict(method="fptt")])
def test_fit_learns_digits(kw):
    r = fit(_tiny(n_train=600, n_test=200, epochs=3, lr=3e-3, hidden=(64,), **kw))
    assert r.history["test_acc"][-1] > 0.6, r.history
    assert r.history["train_loss"][-1] < r.history["train_loss"][0]


def test_fptt_state_reaches_the_callbacks():
    seen = []
    fit(_tiny(method="fptt", epochs=1), on_epoch_end=lambda s: seen.append(s.method_state))
    (state,) = seen
    assert state["alpha"] == TrainConfig().fptt_alpha and len(state["w_ra"]) == 4
    seen.clear()
    fit(_tiny(method="sltt", epochs=1), on_epoch_end=lambda s: seen.append(s.method_state))
    assert seen == [None]
    with pytest.raises(ValueError, match="keeps no state across batches"):
        fit(_tiny(method="sltt", epochs=1), method_state={"w_ra": []})


# -- checkpoints and resume -----------------------------------------------------------------------------
def _run_cfg(**kw):
    base = dict(dataset="digits", model="mlp", hidden=(32,), T=3, epochs=3, batch_size=32,
                optimizer="sgd", lr=0.1, scheduler="cosine", dropout=0.2, quiet=True, seed=1,
                n_train=256, n_test=64)
    base.update(kw)
    return TrainConfig(**base)


def _same_run(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"weights {k} differ"
    drop_time = lambda h: {k: v for k, v in h.items() if k != "time"}
    assert drop_time(a.history) == drop_time(b.history)


@pytest.mark.parametrize("kw", [dict(method="sltt"), dict(method="sltt", sltt_k=2),
                                dict(method="fptt", optimizer="adam", lr=3e-3)])
def test_resume_is_exact(tmp_path, kw):
    cfg = _run_cfg(**kw)
    plain = fit(cfg)
    full = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "full")))
    _same_run(plain, full)
    state = load_checkpoint(tmp_path / "full" / "epoch_0002.pt")
    if cfg.method == "fptt":
        assert [w.shape for w in state["method_state"]["w_ra"]] == \
            [p.shape for p in full.model.parameters()]
    else:
        assert state["method_state"] is None
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    shutil.copy(tmp_path / "full" / "epoch_0001.pt", crashed)
    resumed = run_training(cfg, RunOptions(checkpoint_dir=str(crashed), resume=True))
    _same_run(full, resumed)


def test_fptt_resume_needs_w_ra(tmp_path, monkeypatch):
    """Without the saved w_ra the resumed run would differ; a checkpoint that lacks it is refused."""
    import ottt_edu.train as train_mod
    cfg = _run_cfg(method="fptt", epochs=2)
    full = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "a")))
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "epoch_0001.pt", tmp_path / "b")
    monkeypatch.setattr(train_mod.FPTTStep, "load_state_dict", lambda self, state: None)
    broken = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "b"), resume=True))
    assert any(not torch.equal(p, q) for p, q in zip(full.model.state_dict().values(),
                                                       broken.model.state_dict().values()))
    monkeypatch.undo()
    state = load_checkpoint(tmp_path / "a" / "epoch_0001.pt")
    del state["method_state"]
    (tmp_path / "c").mkdir()
    save_checkpoint(tmp_path / "c" / "epoch_0001.pt", state)
    with pytest.raises(CheckpointError, match="lacks FPTT's running average"):
        run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "c"), resume=True))


def test_checkpoint_from_before_the_new_options_still_resumes(tmp_path):
    cfg = _run_cfg(epochs=2)
    full = run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "a")))
    state = load_checkpoint(tmp_path / "a" / "epoch_0001.pt")
    for key in ("sltt_k", "fptt_alpha"):
        del state["config"][key]                       # as written by an older ottt_edu
    del state["method_state"]
    (tmp_path / "b").mkdir()
    save_checkpoint(tmp_path / "b" / "epoch_0001.pt", state)
    _same_run(full, run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "b"), resume=True)))
    with pytest.raises(CheckpointError, match="fptt_alpha: checkpoint has 0.1, this run has 0.5"):
        run_training(_run_cfg(epochs=2, method="fptt", fptt_alpha=0.5),
                     RunOptions(checkpoint_dir=str(tmp_path / "b"), resume=True))


# -- command line ---------------------------------------------------------------------------------------
def test_cli_options_map_to_the_config():
    args = build_parser().parse_args(["train", "--method", "sltt", "--sltt-k", "2", "--T", "4"])
    assert (config_from_args(args).method, config_from_args(args).sltt_k) == ("sltt", 2)
    args = build_parser().parse_args(["train", "--method", "fptt", "--fptt-alpha", "0.25"])
    assert config_from_args(args).fptt_alpha == 0.25


@pytest.mark.parametrize("extra", [["--method", "sltt", "--sltt-k", "2"],
                                   ["--method", "fptt", "--fptt-alpha", "0.2"]])
def test_cli_short_runs(tmp_path, capsys, extra):
    rc = main(["train", "--T", "3", "--epochs", "1", "--hidden", "8", "--n-train", "64",
               "--n-test", "32", "--quiet", "--checkpoint-dir", str(tmp_path), *extra])
    assert rc == 0
    assert f"({extra[1]}, digits" in capsys.readouterr().out
    assert (tmp_path / "epoch_0001.pt").is_file()


@pytest.mark.parametrize("argv, match", [
    (["train", "--method", "sltt", "--sltt-k", "0"], "--sltt-k: expected an integer >= 1"),
    (["train", "--method", "sltt", "--T", "2", "--sltt-k", "3"], "[1, T=2]"),
    (["train", "--sltt-k", "2"], "applies to method 'sltt' only"),
    (["train", "--method", "fptt", "--fptt-alpha", "-1"], "--fptt-alpha: expected a positive number"),
])
def test_cli_bad_options(argv, match, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and match in capsys.readouterr().err
