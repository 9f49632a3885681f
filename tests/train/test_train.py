"""Tests for ottt_edu.train: OTTT vs BPTT gradients (identical for T=1), the OTTT read-out
gradient against its closed form, what each step function does to the weights, the sync
context, fit/evaluate/history, and bad configurations."""
import contextlib
import json

import pytest
import torch
import torch.nn.functional as F

from ottt_edu import reset_net
from ottt_edu.models import cnn, copy_weights, mlp
from ottt_edu.train import (HISTORY_KEYS, TrainConfig, bptt_backward, bptt_step, evaluate, fit,
                            make_loaders, make_optimizer, make_scheduler, ottt_a_step,
                            ottt_backward, ottt_o_step, predict, train_one_epoch)
from ottt_edu.data import load_dataset


def _batch(B=6, T=1, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, 1, 8, 8, generator=g) * scale
    y = torch.randint(0, 10, (B,), generator=g)
    return x.unsqueeze(0).expand(T, *x.shape), y         # (T, B, 1, 8, 8), (B,)


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("factory", [lambda n: mlp((32,), neuron=n), lambda n: cnn((4, 6), neuron=n)])
def test_T1_ottt_and_bptt_gradients_are_identical(factory):
    torch.manual_seed(1)
    o, b = factory("ottt"), factory("bptt")
    copy_weights(o, b)
    x_seq, y = _batch(T=1)
    r_o = ottt_backward(o, x_seq, y)
    r_b = bptt_backward(b, x_seq, y)
    reset_net(o), reset_net(b)
    assert r_o.loss == pytest.approx(r_b.loss)
    g_o, g_b = _grads(o), _grads(b)
    assert any(g.abs().sum() > 0 for g in g_o.values())
    for name in g_o:
        torch.testing.assert_close(g_o[name], g_b[name], msg=name)


def test_same_loss_and_outputs_for_T_greater_than_1_but_different_gradients():
    torch.manual_seed(2)
    o, b = mlp((32,), neuron="ottt"), mlp((32,), neuron="bptt")
    copy_weights(o, b)
    x_seq, y = _batch(T=5)
    r_o, r_b = ottt_backward(o, x_seq, y), bptt_backward(b, x_seq, y)
    assert r_o.loss == pytest.approx(r_b.loss, rel=1e-6)       # same forward values
    torch.testing.assert_close(r_o.out_sum, r_b.out_sum)
    assert not torch.allclose(o.readout.weight.grad, b.readout.weight.grad)


def test_ottt_readout_gradient_matches_closed_form():
    """dL/dW_out = sum_t (softmax(out[t]) - onehot(y))^T a[t] / (T B), a[t] the hidden trace."""
    torch.manual_seed(3)
    T, tau = 4, 2.0
    o, b = mlp((16,), neuron="ottt", tau=tau), mlp((16,), neuron="bptt", tau=tau)
    copy_weights(o, b)
    x_seq, y = _batch(T=T, scale=3.0)
    ottt_backward(o, x_seq, y)
    reset_net(o)
    # reference: run the BPTT twin forward (same values) and build traces by hand
    with torch.no_grad():
        a = torch.zeros(x_seq.shape[1], 16)
        expected = torch.zeros_like(o.readout.weight)
        for t in range(T):
            s = b.lif1(b.fc1(b.flatten(x_seq[t])))
            a = a * (1 - 1 / tau) + s
            out = b.readout(s)
            g = (F.softmax(out, 1) - F.one_hot(y, 10)) / (T * len(y))
            expected += g.T @ a
        reset_net(b)
    assert expected.abs().sum() > 0
    torch.testing.assert_close(o.readout.weight.grad, expected)


def test_ottt_a_takes_one_step_with_the_accumulated_gradient():
    torch.manual_seed(4)
    m = mlp((16,))
    ref = mlp((16,))
    copy_weights(m, ref)
    x_seq, y = _batch(T=3)
    ottt_backward(ref, x_seq, y)
    reset_net(ref)
    lr = 0.1
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    ottt_a_step(m, x_seq, y, opt)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p.detach(), before[n] - lr * dict(ref.named_parameters())[n].grad)
    assert not isinstance(m.lif1.v, torch.Tensor)  # reset after the batch


class _CountingSGD(torch.optim.SGD):
    steps = 0

    def step(self, closure=None):
        type(self).steps += 1
        return super().step(closure)


def test_step_counts_per_method():
    x_seq, y = _batch(T=4)
    for step, expected in ((ottt_a_step, 1), (ottt_o_step, 4), (bptt_step, 1)):
        _CountingSGD.steps = 0
        m = mlp((8,), neuron="bptt" if step is bptt_step else "ottt")
        step(m, x_seq, y, _CountingSGD(m.parameters(), lr=0.01))
        assert _CountingSGD.steps == expected, step.__name__


def test_ottt_o_equals_ottt_a_for_T1():
    torch.manual_seed(5)
    a, o = mlp((8,)), mlp((8,))
    copy_weights(a, o)
    x_seq, y = _batch(T=1)
    ottt_a_step(a, x_seq, y, torch.optim.SGD(a.parameters(), lr=0.5))
    ottt_o_step(o, x_seq, y, torch.optim.SGD(o.parameters(), lr=0.5))
    for (n, p), q in zip(a.named_parameters(), o.parameters()):
        torch.testing.assert_close(p, q, msg=n)


def test_sync_context_wraps_the_first_T_minus_1_backward_passes():
    entered = []

    @contextlib.contextmanager
    def no_sync():
        entered.append(1)
        yield

    x_seq, y = _batch(T=5)
    m = mlp((8,))
    ottt_a_step(m, x_seq, y, torch.optim.SGD(m.parameters(), lr=0.1), sync_context=no_sync)
    assert len(entered) == 4
    entered.clear()
    b = mlp((8,), neuron="bptt")
    bptt_step(b, x_seq, y, torch.optim.SGD(b.parameters(), lr=0.1), sync_context=no_sync)
    assert entered == []


def test_bad_sequences():
    m = mlp((8,))
    with pytest.raises(ValueError, match="batch sizes differ"):
        ottt_backward(m, torch.rand(2, 3, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown method 'sgd'"):
        train_one_epoch(m, [], None, "sgd", 2)


def test_evaluate_restores_mode_and_counts_correctly():
    m = mlp((8,))
    data = load_dataset("digits", n_train=20, n_test=30)
    _, test = make_loaders(data, 8)
    m.train()
    loss, acc = evaluate(m, test, 3)
    assert m.training
    out_sum, labels, loss2 = predict(m, test, 3)
    assert out_sum.shape == (30, 10) and labels.shape == (30,)
    assert acc == pytest.approx((out_sum.argmax(1) == labels).float().mean().item())
    assert loss == pytest.approx(loss2) and loss > 0


def _tiny(**kw):
    base = dict(n_train=200, n_test=100, epochs=2, batch_size=32, hidden=(32,), quiet=True, T=3)
    base.update(kw)
    return TrainConfig(**base)


def test_fit_history_is_json_and_reproducible():
    r1 = fit(_tiny(seed=7))
    r2 = fit(_tiny(seed=7))
    h = r1.history
    assert list(h) == list(HISTORY_KEYS) and h["epoch"] == [1, 2]
    assert all(len(v) == 2 for v in h.values())
    json.dumps(h)
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert h[k] == r2.history[k]
    assert r1.test_acc == h["test_acc"][-1]


@pytest.mark.parametrize("method", ["ottt_a", "ottt_o", "bptt"])
def test_fit_learns_digits(method):
    r = fit(_tiny(method=method, n_train=600, n_test=200, epochs=3, lr=3e-3, hidden=(64,)))
    assert r.history["test_acc"][-1] > 0.6, r.history
    assert r.history["train_loss"][-1] < r.history["train_loss"][0]


def test_fit_poisson_cnn_sgd_cosine_runs():
    r = fit(_tiny(model="cnn", channels=(4, 8), encoding="poisson", optimizer="sgd", lr=0.1,
                  scheduler="cosine", epochs=2))
    assert r.history["lr"][0] == pytest.approx(0.1) and r.history["lr"][1] == pytest.approx(0.05)


def test_on_epoch_end_gets_the_state_and_can_stop():
    seen = []

    def cb(state):
        seen.append((state.epoch, len(state.history["epoch"]), state.optimizer is not None))
        return state.epoch == 2

    r = fit(_tiny(epochs=5), on_epoch_end=[cb])
    assert seen == [(1, 1, True), (2, 2, True)] and r.history["epoch"] == [1, 2]


def test_fit_resumes_from_start_epoch_and_history():
    cfg = _tiny(epochs=3)
    first = fit(_tiny(epochs=3), on_epoch_end=lambda s: s.epoch == 1)
    r = fit(cfg, model=first.model, optimizer=first.optimizer, history=first.history, start_epoch=1)
    assert r.history["epoch"] == [1, 2, 3]


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="cifar100"), "unknown dataset"),
    (dict(method="ottt"), "unknown method 'ottt'"),
    (dict(T=0), "T .* >= 1"),
    (dict(T=2.5), "T .* >= 1"),
    (dict(tau=0.5), "tau must be greater than 1"),
    (dict(epochs=0), "epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(lr=-1.0), "lr"),
    (dict(optimizer="rmsprop"), "unknown optimizer"),
    (dict(scheduler="step"), "unknown scheduler"),
    (dict(encoding="rate"), "unknown encoding"),
    (dict(loss="mse"), "unknown loss"),
    (dict(device="tpu"), "device must be"),
    (dict(model="vit"), "unknown model"),
])
def test_bad_train_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_make_optimizer_and_scheduler():
    m = mlp((8,))
    opt = make_optimizer(m, TrainConfig(optimizer="sgd", lr=0.2, momentum=0.5, weight_decay=1e-4))
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.5
    assert make_scheduler(opt, TrainConfig(scheduler="none")) is None
    assert isinstance(make_scheduler(opt, TrainConfig(scheduler="cosine")),
                      torch.optim.lr_scheduler.CosineAnnealingLR)
