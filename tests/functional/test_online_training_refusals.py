"""SpikingJelly's training functions refuse what cannot train right, before any weight changes
(issue 23): an empty batch, a NaN input or loss, an unreduced loss, a model left in eval mode,
integer inputs, ``None`` for the model, the optimizer or the loss."""
import pytest
import torch
import torch.nn.functional as F

from ottt_edu.functional.online_training import (fptt_online_training,
                                                 fptt_online_training_init_w_ra,
                                                 ottt_online_training)
from ottt_edu.models import mlp
from ottt_edu.train.online_steps import fptt_step

T, N = 3, 4


def _ottt(**change):
    torch.manual_seed(0)
    model = mlp((8,), neuron="ottt")
    args = dict(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                x_seq=torch.rand(N, T, 1, 8, 8) * 3, target_seq=torch.zeros(N, T, dtype=torch.long),
                f_loss_t=F.cross_entropy, online=False)
    args.update(change)
    return model, args


def _fptt(**change):
    torch.manual_seed(0)
    model = mlp((8,), neuron="bptt")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    args = dict(model=model, optimizer=opt, x_seq=torch.rand(T, N, 1, 8, 8) * 3,
                target_seq=torch.zeros(T, N, dtype=torch.long), f_loss_t=F.cross_entropy,
                alpha=0.1, w_ra=fptt_online_training_init_w_ra(opt))
    args.update(change)
    return model, args


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


CASES = [
    ("empty batch", lambda x: {"x_seq": x[:0], "target_seq": None}, ValueError, "empty batch"),
    ("integer input", lambda x: {"x_seq": (x * 0).long()}, TypeError, r"x_seq\.float\(\)"),
    ("loss not reduced", lambda x: {"f_loss_t": lambda y, t: F.cross_entropy(y, t, reduction="none")},
     ValueError, "reduction='mean' or 'sum'"),
    ("NaN input", lambda x: {"x_seq": x * float("nan")}, FloatingPointError, r"NaN or inf.*step t=0.*isfinite"),
    ("NaN loss", lambda x: {"f_loss_t": lambda y, t: F.cross_entropy(y, t) * float("nan")},
     FloatingPointError, r"the loss at step t=0 is nan"),
    ("loss None", lambda x: {"f_loss_t": None}, TypeError, "f_loss_t must be a function"),
    ("optimizer None", lambda x: {"optimizer": None}, TypeError, "torch.optim.Optimizer"),
    ("model None", lambda x: {"model": None}, TypeError, "model must be an nn.Module"),
    ("float64 input", lambda x: {"x_seq": x.double()}, TypeError,
     r"x_seq is torch.float64 but the model's parameters are torch.float32"),
]


@pytest.mark.parametrize("function", ["ottt", "fptt"])
@pytest.mark.parametrize("case, change, error, match", CASES, ids=[c[0] for c in CASES])
def test_bad_calls_are_refused_and_change_no_weight(function, case, change, error, match):
    model, args = (_ottt if function == "ottt" else _fptt)()
    batch_axis = 0 if function == "ottt" else 1
    new = change(args["x_seq"])
    if case == "empty batch":
        empty = args["x_seq"].narrow(batch_axis, 0, 0)
        new = {"x_seq": empty, "target_seq": args["target_seq"].narrow(batch_axis, 0, 0)}
    args.update(new)
    before = _weights(model)
    run = ottt_online_training if function == "ottt" else fptt_online_training
    with pytest.raises(error, match=match):
        run(**args)
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p, q), f"{case}: a weight changed before the error"


@pytest.mark.parametrize("function", ["ottt", "fptt"])
def test_a_model_left_in_eval_mode_is_refused(function):
    model, args = (_ottt if function == "ottt" else _fptt)()
    model.eval()
    run = ottt_online_training if function == "ottt" else fptt_online_training
    with pytest.raises(ValueError, match=r"eval mode.*model\.train\(\)"):
        run(**args)


@pytest.mark.parametrize("function", ["ottt", "fptt"])
def test_a_nan_later_in_the_sequence_names_its_step(function):
    model, args = (_ottt if function == "ottt" else _fptt)()
    if function == "ottt":
        args["x_seq"][:, 2] = float("nan")              # (N, T, ...)
    else:
        args["x_seq"][2] = float("inf")                 # (T, N, ...)
    run = ottt_online_training if function == "ottt" else fptt_online_training
    with pytest.raises(FloatingPointError, match="step t=2"):
        run(**args)


def test_the_trainers_fptt_step_stops_on_a_nan_loss():
    torch.manual_seed(0)
    model = mlp((8,), neuron="bptt")
    x = torch.rand(T, N, 1, 8, 8) * float("nan")
    with pytest.raises(FloatingPointError, match="fptt_step: x_seq holds .* NaN or inf"):
        fptt_step(model, x, torch.zeros(N, dtype=torch.long), torch.optim.SGD(model.parameters(), lr=0.1))


def test_the_right_call_still_trains():
    model, args = _ottt()
    before = _weights(model)
    loss, y_all = ottt_online_training(**args)
    assert torch.isfinite(loss) and y_all.shape == (N, T, 10)
    assert any(not torch.equal(p, q) for p, q in zip(before, model.parameters()))


@pytest.mark.parametrize("function", ["ottt", "fptt"])
def test_a_multi_step_neuron_is_refused(function):
    """Fed one step at a time, a step_mode='m' neuron would read the batch as time."""
    from ottt_edu import LIFNode
    model, args = (_ottt if function == "ottt" else _fptt)()
    model.append(LIFNode(step_mode="m"))
    run = ottt_online_training if function == "ottt" else fptt_online_training
    with pytest.raises(ValueError, match=r"multi-step mode.*step_mode='s'"):
        run(**args)


def test_fptt_on_a_network_ending_in_an_ottt_neuron_says_what_to_change():
    from ottt_edu import OTTTLIFNode, OTTTSequential
    from torch import nn
    torch.manual_seed(0)
    model = OTTTSequential(nn.Flatten(), nn.Linear(64, 10), OTTTLIFNode())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"returned list at step t=0.*\[spike, trace\]"):
        fptt_online_training(model, opt, torch.rand(T, N, 1, 8, 8), torch.zeros(T, N, dtype=torch.long),
                             F.cross_entropy, 0.1, fptt_online_training_init_w_ra(opt))
