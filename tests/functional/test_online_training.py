"""ottt_online_training, fptt_online_training (+ init_w_ra) and the trainer's sltt/fptt steps:
FPTT's update against its equations on a 2-parameter model, OTTT/SLTT against the trainer's
steps, the state FPTT restores, SLTT-K, and the errors for bad input."""
import contextlib
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu import (LIFNode, fptt_online_training, fptt_online_training_init_w_ra,
                      ottt_online_training, reset_net)
from ottt_edu.models import copy_weights, mlp
from ottt_edu.functional.online_training import SequenceMismatchError, check_w_ra
from ottt_edu.train.online_steps import FPTTStep, fptt_step, online_backward, sltt_step
from ottt_edu.train import ottt_a_step, ottt_o_step


def _batch(B=6, T=4, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(T, B, 1, 8, 8, generator=g) * scale
    y = torch.randint(0, 10, (B,), generator=g)
    return x, y                                          # (T, B, 1, 8, 8), (B,)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


# -- ottt_online_training --------------------------------------------------------------------------
@pytest.mark.parametrize("neuron, online, trainer_step", [
    ("ottt", False, ottt_a_step), ("ottt", True, ottt_o_step), ("sltt", False, sltt_step)])
def test_ottt_online_training_equals_the_trainer_with_T_times_the_learning_rate(neuron, online, trainer_step):
    """SpikingJelly's function does not divide the loss by T; with plain SGD it is the trainer's
    step at lr*T. It takes batch-first sequences and returns the summed loss and y_all [N, T, C]."""
    torch.manual_seed(0)
    T, lr = 4, 0.05
    a, b = mlp((16,), neuron=neuron), mlp((16,), neuron=neuron)
    copy_weights(a, b)
    x_seq, y = _batch(T=T)
    batch_loss, y_all = ottt_online_training(
        a, torch.optim.SGD(a.parameters(), lr=lr), x_seq.transpose(0, 1),
        y.unsqueeze(1).expand(-1, T), F.cross_entropy, online)
    reset_net(a)
    result = trainer_step(b, x_seq, y, torch.optim.SGD(b.parameters(), lr=lr * T))
    assert batch_loss.dim() == 0 and y_all.shape == (6, T, 10) and not y_all.requires_grad
    assert batch_loss.item() == pytest.approx(T * result.loss, rel=1e-5)
    torch.testing.assert_close(y_all.sum(1), result.out_sum)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_ottt_online_training_reduces_a_list_output_and_does_not_reset():
    from ottt_edu import OTTTLIFNode, OTTTSequential
    net = OTTTSequential(nn.Linear(3, 4), OTTTLIFNode())         # ends in a neuron: [spike, trace]
    x = torch.rand(2, 5, 3) * 3
    _, y_all = ottt_online_training(net, torch.optim.SGD(net.parameters(), lr=0.1), x,
                                    torch.zeros(2, 5, 4), F.mse_loss, True)
    assert y_all.shape == (2, 5, 4) and set(y_all.unique().tolist()) <= {0.0, 1.0}
    assert isinstance(net[1].v, torch.Tensor)                   # state kept: reset is the caller's


def test_last_step_only_loss_with_ignored_targets():
    """Notebook 08's flash task through SpikingJelly's API: targets -100 except at the last step.
    OTTT and SLTT then give the first layer's weights no gradient (its input is 0 at that step)."""
    torch.manual_seed(0)
    T = 4
    x, y = _batch(T=1)
    flash = torch.zeros(T, *x.shape[1:])
    flash[0] = x[0]
    targets = torch.full((6, T), -100, dtype=torch.long)
    targets[:, -1] = y

    def f_loss_t(out, target):
        return F.cross_entropy(out, target, ignore_index=-100, reduction="sum") / out.shape[0]

    for neuron in ("ottt", "sltt"):
        net = mlp((16,), neuron=neuron, tau=8.0)
        opt = torch.optim.SGD(net.parameters(), lr=0.0)
        loss, _ = ottt_online_training(net, opt, flash.transpose(0, 1), targets, f_loss_t, False)
        assert math.isfinite(loss.item()) and loss.item() > 0
        assert net.fc1.weight.grad.abs().sum() == 0 and net.fc1.bias.grad.abs().sum() > 0


@pytest.mark.parametrize("call", [
    lambda net, opt: ottt_online_training(net, opt, torch.rand(2, 4, 1, 8, 8), torch.zeros(2, 3, dtype=torch.long),
                                          F.cross_entropy, True),
    lambda net, opt: fptt_online_training(net, opt, torch.rand(4, 2, 1, 8, 8), torch.zeros(3, 2, dtype=torch.long),
                                          F.cross_entropy, 0.1, fptt_online_training_init_w_ra(opt)),
])
def test_target_shorter_than_x_is_a_clear_error_and_an_index_error(call):
    net = mlp((8,), neuron="bptt")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(SequenceMismatchError, match="target_seq has 3 time steps but x_seq has 4") as e:
        call(net, opt)
    assert isinstance(e.value, IndexError) and isinstance(e.value, ValueError)


def test_empty_sequences_and_other_bad_input():
    net = mlp((8,), neuron="sltt")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="empty sequence"):
        ottt_online_training(net, opt, torch.rand(2, 0, 1, 8, 8), torch.zeros(2, 0), F.mse_loss, True)
    with pytest.raises(ValueError, match="empty sequence"):
        fptt_online_training(net, opt, torch.rand(0, 2, 1, 8, 8), torch.zeros(0, 2), F.mse_loss, 0.1,
                             fptt_online_training_init_w_ra(opt))
    with pytest.raises(SequenceMismatchError, match="batch sizes differ"):
        ottt_online_training(net, opt, torch.rand(2, 3, 1, 8, 8), torch.zeros(5, 3), F.mse_loss, True)
    with pytest.raises(TypeError, match="online must be True"):
        ottt_online_training(net, opt, torch.rand(2, 3, 1, 8, 8), torch.zeros(2, 3), F.mse_loss, "yes")
    with pytest.raises(TypeError, match="x_seq must be a tensor"):
        ottt_online_training(net, opt, [1, 2], torch.zeros(2, 3), F.mse_loss, True)
    with pytest.raises(ValueError, match="empty sequence"):
        sltt_step(net, torch.rand(0, 2, 1, 8, 8), torch.zeros(2, dtype=torch.long), opt)


# -- fptt_online_training -----------------------------------------------------------------------------
def test_fptt_update_equals_its_equations_on_a_two_parameter_model():
    """y = w x + b (2 parameters, no state), MSE, plain SGD: every quantity by hand in floats."""
    alpha, lr = 0.3, 0.1
    xs = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 1.1], [2.0, -0.5, 0.4]]   # (T, N)
    ts = [[1.0, 0.0, 2.5], [0.3, 1.2, -1.0], [0.7, 0.7, 0.1], [-0.4, 2.0, 1.0]]
    model = nn.Linear(1, 1).double()
    with torch.no_grad():
        model.weight.fill_(0.8)
        model.bias.fill_(-0.2)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    w_ra = fptt_online_training_init_w_ra(opt)
    assert [v.item() for v in w_ra] == [0.8, -0.2] and not any(v.requires_grad for v in w_ra)
    x_seq = torch.tensor(xs, dtype=torch.float64).unsqueeze(-1)           # (T, N, 1)
    t_seq = torch.tensor(ts, dtype=torch.float64).unsqueeze(-1)
    assert fptt_online_training(model, opt, x_seq, t_seq, F.mse_loss, alpha, w_ra) is None

    def data_grad(w, b, x, t):                     # d/d(w, b) of mean_n (w x_n + b - t_n)^2
        r = [w * xn + b - tn for xn, tn in zip(x, t)]
        return (sum(2 * rn * xn for rn, xn in zip(r, x)) / len(x), sum(2 * rn for rn in r) / len(x))

    w, b = 0.8, -0.2
    ra = [0.8, -0.2]
    prev = [0.0, 0.0]
    T = len(xs)
    for t in range(T):
        gw, gb = data_grad(w, b, xs[t], ts[t])
        # regulariser (alpha/2) * sum_i (p_i - (ra_i + prev_i/(2 alpha)))^2 -> gradient alpha * (...)
        gw += alpha * (w - (ra[0] + prev[0] / (2 * alpha)))
        gb += alpha * (b - (ra[1] + prev[1] / (2 * alpha)))
        w, b = w - lr * gw, b - lr * gb
        if t < T - 1:
            prev = list(data_grad(w, b, xs[t], ts[t]))                 # at the new weights
            ra = [(ra[0] + w) / 2 - prev[0] / (2 * alpha), (ra[1] + b) / 2 - prev[1] / (2 * alpha)]
    assert model.weight.item() == pytest.approx(w, rel=1e-12)
    assert model.bias.item() == pytest.approx(b, rel=1e-12)
    assert [v.item() for v in w_ra] == pytest.approx(ra, rel=1e-12)
    assert model.weight.grad is None                                   # left zeroed


def test_fptt_restores_the_neuron_state_after_its_extra_pass():
    """The extra pass of step t (t < T-1) starts from the state after step t and must leave no
    trace: step t+1 starts from the state the training pass of step t left."""
    torch.manual_seed(0)
    net = mlp((8,), neuron="bptt")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    pre = []
    net.lif1.register_forward_pre_hook(
        lambda m, inp: pre.append(None if not isinstance(m.v, torch.Tensor) else m.v.clone()))
    x_seq, y = _batch(T=3)
    fptt_online_training(net, opt, x_seq, y.unsqueeze(0).expand(3, -1), F.cross_entropy, 0.1,
                         fptt_online_training_init_w_ra(opt))
    assert len(pre) == 5                                     # 3 training passes, 2 extra passes
    train_pre, extra_pre = pre[0::2], pre[1::2]
    for t in range(2):
        torch.testing.assert_close(extra_pre[t], train_pre[t + 1])   # extra pass from after step t
    assert not net.lif1.v.requires_grad                      # detached after every step


@pytest.mark.parametrize("bad, match", [
    (lambda w: w[:-1], "w_ra has 3 tensor.*optimizer has 4 parameter"),
    (lambda w: w + [w[0]], "w_ra has 5 tensor"),
    (lambda w: [w[1]] + w[1:], r"w_ra\[0\] is \(8,\) but optimizer parameter 0 has shape \(8, 64\)"),
    (lambda w: tuple(w), "w_ra must be a list"),
])
def test_w_ra_that_does_not_match_the_optimizer(bad, match):
    net = mlp((8,), neuron="bptt")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    w_ra = bad(fptt_online_training_init_w_ra(opt))
    x_seq, y = _batch(T=2)
    with pytest.raises((ValueError, TypeError), match=match) as e:
        fptt_online_training(net, opt, x_seq, y.unsqueeze(0).expand(2, -1), F.cross_entropy, 0.1, w_ra)
    assert "fptt_online_training_init_w_ra(optimizer)" in str(e.value)
    if "has 3" in match:
        assert isinstance(e.value, IndexError)               # SpikingJelly raises IndexError there


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), True])
def test_fptt_alpha_must_be_positive(alpha):
    net = mlp((8,), neuron="bptt")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x_seq, y = _batch(T=2)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        fptt_online_training(net, opt, x_seq, y.unsqueeze(0).expand(2, -1), F.cross_entropy, alpha,
                             fptt_online_training_init_w_ra(opt))


# -- the trainer's steps ------------------------------------------------------------------------------
def test_fptt_step_is_fptt_online_training_with_the_loss_over_T():
    torch.manual_seed(2)
    a, b = mlp((16,), neuron="bptt"), mlp((16,), neuron="bptt")
    copy_weights(a, b)
    x_seq, y = _batch(T=3)
    opt_a, opt_b = torch.optim.Adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    ra_a, ra_b = fptt_online_training_init_w_ra(opt_a), fptt_online_training_init_w_ra(opt_b)
    result = fptt_step(a, x_seq, y, opt_a, alpha=0.2, w_ra=ra_a)
    fptt_online_training(b, opt_b, x_seq, y.unsqueeze(0).expand(3, -1),
                         lambda out, t: F.cross_entropy(out, t) / 3, 0.2, ra_b)
    reset_net(b)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)
    for p, q in zip(ra_a, ra_b):
        torch.testing.assert_close(p, q)
    assert result.out_sum.shape == (6, 10) and result.loss > 0
    assert not isinstance(a.lif1.v, torch.Tensor)             # reset after the batch


def test_fptt_step_keeps_w_ra_across_batches_and_round_trips_its_state():
    torch.manual_seed(3)
    a, b = mlp((8,), neuron="bptt"), mlp((8,), neuron="bptt")
    copy_weights(a, b)
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    step = FPTTStep(alpha=0.5)
    assert step.state_dict() == {"alpha": 0.5, "w_ra": None}
    batches = [_batch(T=3, seed=s) for s in range(3)]
    step(a, *batches[0], opt_a)
    saved = step.state_dict()
    w_ra_b = fptt_online_training_init_w_ra(opt_b)
    fptt_step(b, *batches[0], opt_b, alpha=0.5, w_ra=w_ra_b)
    for p, q in zip(saved["w_ra"], w_ra_b):
        torch.testing.assert_close(p, q)
    resumed = FPTTStep(alpha=0.5)
    resumed.load_state_dict(saved)
    for x_seq, y in batches[1:]:
        step(a, x_seq, y, opt_a)
        fptt_step(b, x_seq, y, opt_b, alpha=0.5, w_ra=w_ra_b)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)
    with pytest.raises(ValueError, match="saved with alpha=0.5 but this step has alpha=0.1"):
        FPTTStep(0.1).load_state_dict(saved)


class _CountingSGD(torch.optim.SGD):
    steps = 0

    def step(self, closure=None):
        type(self).steps += 1
        return super().step(closure)


def test_step_counts_sltt_one_fptt_T():
    x_seq, y = _batch(T=4)
    for neuron, step, expected in (("sltt", sltt_step, 1), ("bptt", fptt_step, 4)):
        _CountingSGD.steps = 0
        m = mlp((8,), neuron=neuron)
        step(m, x_seq, y, _CountingSGD(m.parameters(), lr=0.01))
        assert _CountingSGD.steps == expected, step.__name__


def test_sltt_k_backward_at_k_steps_only():
    torch.manual_seed(4)
    x_seq, y = _batch(T=5)
    net = mlp((8,), neuron="sltt")
    calls = []
    net.readout.register_full_backward_hook(lambda *a: calls.append(1))
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    g = torch.Generator().manual_seed(7)
    chosen = sorted(torch.randperm(5, generator=torch.Generator().manual_seed(7))[:2].tolist())
    result = sltt_step(net, x_seq, y, opt, k=2, generator=g)
    assert len(calls) == 2
    # the gradient is that of the chosen steps' losses (divided by T), computed by hand
    ref = mlp((8,), neuron="sltt")
    copy_weights(net, ref)
    reset_net(ref)
    for t in range(5):
        out = ref(x_seq[t])
        if t in chosen:
            (F.cross_entropy(out, y) / 5).backward()
    for p, q in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    # the reported loss and outputs cover all T steps
    full = mlp((8,), neuron="sltt")
    copy_weights(net, full)
    r_all = sltt_step(full, x_seq, y, torch.optim.SGD(full.parameters(), lr=0.0))
    assert result.loss == pytest.approx(r_all.loss) and torch.allclose(result.out_sum, r_all.out_sum)
    # k = T is plain SLTT
    kT = mlp((8,), neuron="sltt")
    copy_weights(net, kT)
    sltt_step(kT, x_seq, y, torch.optim.SGD(kT.parameters(), lr=0.0), k=5)
    for p, q in zip(kT.parameters(), full.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_sltt_k_sync_context_covers_the_chosen_steps_before_the_last_one():
    entered = []

    @contextlib.contextmanager
    def no_sync():
        entered.append(1)
        yield

    x_seq, y = _batch(T=6)
    net = mlp((8,), neuron="sltt")
    sltt_step(net, x_seq, y, torch.optim.SGD(net.parameters(), lr=0.1), sync_context=no_sync, k=3)
    assert len(entered) == 2
    entered.clear()
    sltt_step(net, x_seq, y, torch.optim.SGD(net.parameters(), lr=0.1), sync_context=no_sync)
    assert len(entered) == 5


@pytest.mark.parametrize("k", [0, 7, 2.0, True])
def test_bad_sltt_k(k):
    net = mlp((8,), neuron="sltt")
    x_seq, y = _batch(T=6)
    with pytest.raises(ValueError, match=r"k \(SLTT-K.*\[1, T=6\]"):
        sltt_step(net, x_seq, y, torch.optim.SGD(net.parameters(), lr=0.1), k=k)


def test_online_backward_detaches_a_plain_lif_network():
    """ottt_backward would fail on a plain LIF network (the graph of step t-1 is freed);
    online_backward detaches after every step, and gives SLTT's gradient there."""
    torch.manual_seed(5)
    lif, sltt = mlp((16,), neuron="bptt"), mlp((16,), neuron="sltt")
    copy_weights(lif, sltt)
    x_seq, y = _batch(T=4)
    r1 = online_backward(lif, x_seq, y)
    r2 = online_backward(sltt, x_seq, y)
    assert r1.loss == pytest.approx(r2.loss)
    for p, q in zip(lif.parameters(), sltt.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
