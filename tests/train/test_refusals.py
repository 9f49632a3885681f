"""What the trainer refuses early (issue 23): a non-finite loss or input stops every method's step
before a weight changes; parameters no optimizer updates are reported once; method flags of
another method, FPTT checkpoints with a broken running average, unusable thread and language
settings each give one clear message."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu import OTTTLIFNode, OTTTSequential, SLTTLIFNode, ottt_online_training
from ottt_edu.functional.online_training import (UnoptimizedGradientWarning,
                                                 fptt_online_training,
                                                 fptt_online_training_init_w_ra)
from ottt_edu.train import TrainConfig, bptt_step, fit, ottt_a_step, ottt_o_step
from ottt_edu.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ottt_edu.train.cli import main
from ottt_edu.train.online_steps import FPTTStep, fptt_step, sltt_step
from ottt_edu.train.run import RunOptions, run_training

STEPS = {"ottt_a_step": ottt_a_step, "ottt_o_step": ottt_o_step, "bptt_step": bptt_step,
         "sltt_step": sltt_step, "fptt_step": fptt_step}


def _net(neuron=OTTTLIFNode):
    torch.manual_seed(0)
    return OTTTSequential(nn.Linear(4, 8), neuron(), nn.Linear(8, 3))


def _batch(T=3, B=5):
    g = torch.Generator().manual_seed(1)
    return torch.rand(T, B, 4, generator=g) * 2, torch.randint(0, 3, (B,), generator=g)


def _weights(net):
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("name", sorted(STEPS))
def test_nan_input_stops_every_step_before_a_weight_changes(name):
    net = _net(SLTTLIFNode if name == "sltt_step" else OTTTLIFNode)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = _batch()
    x[1, 2, 0] = math.nan
    before = _weights(net)
    with pytest.raises(FloatingPointError, match=r"NaN or inf.*t=1.*no parameter was changed"):
        STEPS[name](net, x, y, opt)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


@pytest.mark.parametrize("name", ["ottt_a_step", "bptt_step", "sltt_step"])
def test_a_non_finite_loss_names_the_step_and_the_fix(name):
    net = _net(SLTTLIFNode if name == "sltt_step" else OTTTLIFNode)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    calls = []

    def loss_fn(out, y):  # finite at t=0, inf at t=1
        calls.append(1)
        return F.cross_entropy(out, y) * (math.inf if len(calls) == 2 else 1.0)
    before = _weights(net)
    with pytest.raises(FloatingPointError, match=r"loss at step t=1 is inf.*lower the learning rate"):
        STEPS[name](net, *_batch(), opt, loss_fn)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_ottt_o_stops_at_the_first_non_finite_loss():
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(FloatingPointError, match=r"ottt_o_step: the loss at step t=0 is nan"):
        ottt_o_step(net, *_batch(), opt, lambda out, y: out.sum() * math.nan)


@pytest.mark.parametrize("name", ["ottt_a_step", "ottt_o_step", "bptt_step"])
def test_an_unreduced_loss_is_refused(name):
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"loss_fn must return one number.*reduction='mean'"):
        STEPS[name](net, *_batch(), opt, lambda out, y: F.cross_entropy(out, y, reduction="none"))


def test_fit_stops_when_training_diverges():
    cfg = TrainConfig(n_train=64, n_test=32, epochs=1, batch_size=32, hidden=(8,), T=2, quiet=True)
    with pytest.raises(FloatingPointError, match="the loss at step t=0 is nan"):
        fit(cfg, loss_fn=lambda out, y: F.cross_entropy(out, y) * math.nan)


def _count(fn):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        fn()
        fn()
    return [w for w in seen if issubclass(w.category, UnoptimizedGradientWarning)]


@pytest.mark.parametrize("how", ["ottt_online_training", "fptt_online_training", "ottt_a_step",
                                 "ottt_o_step", "bptt_step", "sltt_step"])
def test_layers_no_optimizer_updates_are_reported_once(how):
    net = _net(SLTTLIFNode if how == "sltt_step" else OTTTLIFNode)
    opt = torch.optim.SGD(net[0].parameters(), lr=0.1)  # the last Linear is left out
    x, y = _batch()
    runs = {
        "ottt_online_training": lambda: ottt_online_training(
            net, opt, x.transpose(0, 1), y.unsqueeze(1).expand(-1, 3), F.cross_entropy, False),
        "fptt_online_training": lambda: fptt_online_training(
            net, opt, x, y.unsqueeze(0).expand(3, -1), F.cross_entropy, 0.1,
            fptt_online_training_init_w_ra(opt)),
    }
    run = runs.get(how) or (lambda: STEPS[how](net, x, y, opt))
    found = _count(run)
    assert len(found) == 1, [str(w.message) for w in found]
    message = str(found[0].message)
    assert "2 parameter(s)" in message and "2.weight" in message and "model.parameters()" in message


def test_an_optimizer_over_every_parameter_gives_no_warning():
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    assert _count(lambda: ottt_a_step(net, *_batch(), opt)) == []


# -- FPTT's method state -----------------------------------------------------------------------
def _fptt_checkpoint(tmp_path):
    cfg = TrainConfig(method="fptt", n_train=64, n_test=32, epochs=2, batch_size=32, hidden=(8,),
                      T=2, quiet=True)
    run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / "a")))
    return cfg, load_checkpoint(tmp_path / "a" / "epoch_0001.pt")


def _resume_from(tmp_path, cfg, state, name):
    (tmp_path / name).mkdir()
    save_checkpoint(tmp_path / name / "epoch_0001.pt", state)
    before = (tmp_path / name / "epoch_0001.pt").read_bytes()
    return lambda: run_training(cfg, RunOptions(checkpoint_dir=str(tmp_path / name), resume=True)), before


def test_fptt_checkpoints_with_a_broken_running_average_are_refused_at_load(tmp_path):
    cfg, state = _fptt_checkpoint(tmp_path)
    nan_state = {**state, "method_state": {**state["method_state"],
                                           "w_ra": [w.clone() for w in state["method_state"]["w_ra"]]}}
    nan_state["method_state"]["w_ra"][0][0] = math.nan
    resume, before = _resume_from(tmp_path, cfg, nan_state, "nan")
    with pytest.raises(CheckpointError, match=r"non-finite.*FPTT's running average w_ra\[0\]"):
        resume()
    assert (tmp_path / "nan" / "epoch_0001.pt").read_bytes() == before
    assert not (tmp_path / "nan" / "epoch_0002.pt").exists()
    short = {**state, "method_state": {**state["method_state"],
                                       "w_ra": state["method_state"]["w_ra"][:-1]}}
    resume, _ = _resume_from(tmp_path, cfg, short, "short")
    with pytest.raises(CheckpointError, match=r"w_ra has 3 tensor\(s\) but the saved optimizer has 4"):
        resume()


def test_fptt_step_state_is_validated_when_loaded():
    step = FPTTStep(0.1)
    with pytest.raises(FloatingPointError, match=r"w_ra\[1\] holds NaN"):
        step.load_state_dict({"alpha": 0.1, "w_ra": [torch.zeros(2), torch.tensor([math.inf])]})
    with pytest.raises(ValueError, match="list of float tensors"):
        step.load_state_dict({"alpha": 0.1, "w_ra": [1, 2]})
    cfg = TrainConfig(method="fptt", n_train=64, n_test=32, epochs=1, batch_size=32, hidden=(8,),
                      T=2, quiet=True)
    with pytest.raises(ValueError, match=r"fit\(method_state=...\): w_ra has 1 tensor"):
        fit(cfg, method_state={"alpha": 0.1, "w_ra": [torch.zeros(3)]})


# -- the command line ----------------------------------------------------------------------------
def test_fptt_alpha_with_another_method_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--method", "sltt", "--fptt-alpha", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and "--fptt-alpha applies to --method fptt only" in err[-1]


def test_too_many_threads_are_capped_with_a_note(tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        rc = main(["train", "--T", "2", "--epochs", "1", "--hidden", "8", "--n-train", "32",
                   "--n-test", "16", "--quiet", "--threads", "100000"])
        assert rc == 0 and torch.get_num_threads() <= (os.cpu_count() or 1)
        assert "--threads 100000 asks for more threads than this machine's" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)


def _import_with(**env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OTTT_EDU_THREADS", "OMP_NUM_THREADS", "OTTT_EDU_LANG")}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", "import ottt_edu, torch; "
                           "print(torch.get_num_threads(), ottt_edu.get_language())"],
                          env=clean, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env, out, says", [
    ({"OTTT_EDU_THREADS": "abc"}, "1 en", "OTTT_EDU_THREADS='abc': expected a positive integer"),
    ({"OTTT_EDU_THREADS": "0"}, "1 en", "OTTT_EDU_THREADS='0'"),
    ({"OTTT_EDU_THREADS": "100000"}, None, "asks for more threads than this machine's"),
    ({"OTTT_EDU_LANG": "xx"}, "1 en", "OTTT_EDU_LANG='xx' is not one of 'en', 'zh-CN'"),
])
def test_an_unusable_setting_is_one_line_and_import_goes_on(env, out, says):
    result = _import_with(**env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if out:
        assert result.stdout.strip() == out
    else:
        assert int(result.stdout.split()[0]) <= (os.cpu_count() or 1)


def test_the_cli_with_a_bad_thread_setting_and_threads_given_runs(tmp_path):
    env = {**os.environ, "OTTT_EDU_THREADS": "abc"}
    result = subprocess.run([sys.executable, "-m", "ottt_edu", "train", "--T", "2", "--epochs",
                             "1", "--hidden", "8", "--n-train", "32", "--n-test", "16", "--quiet",
                             "--threads", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr

