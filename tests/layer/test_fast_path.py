"""Tests for the single-pass ``GradwithTrace`` fast path (``ottt_edu.layer.fast_path``).

The fast path must give the same values and gradients as the two-pass reference: gradcheck in
float64 for each autograd Function, hand-computed weight gradients from the trace, and equality
to ``grad_path='two_pass'`` over whole OTTT_A / OTTT_O training steps of MLPs and CNNs.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ottt_edu import GradwithTrace, OTTTLIFNode, OTTTSequential, reset_net
from ottt_edu.layer.fast_path import (
    GRAD_PATHS,
    ConvWithTrace,
    LinearWithTrace,
    fast_path_forward,
    supports_fast_path,
    why_no_fast_path,
)


class WSConv2d(nn.Conv2d):
    """Weight-standardized Conv2d with a gain, using the ``get_weight()`` protocol."""

    def __init__(self, *args, eps: float = 1e-4, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1) * 1.5)
        self.eps = eps

    def get_weight(self) -> torch.Tensor:
        fan_in = self.weight[0].numel()
        mean = self.weight.mean(dim=(1, 2, 3), keepdim=True)
        var = self.weight.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return self.gain * (self.weight - mean) / (var * fan_in + self.eps) ** 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.get_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


class SquaredLinear(nn.Linear):
    """A Linear subclass that is NOT linear in its input (and has no get_weight)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x * x)


class PlainSubLinear(nn.Linear):
    """A Linear subclass that overrides nothing: still linear."""


# -- the switch and the rule ------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["Fast", "twopass", "", None, 1])
def test_bad_grad_path_is_rejected_everywhere(bad):
    with pytest.raises(ValueError, match="grad_path must be one of"):
        GradwithTrace(nn.Linear(3, 2), grad_path=bad)
    with pytest.raises(ValueError, match="grad_path must be one of"):
        OTTTSequential(nn.Linear(3, 2), grad_path=bad)
    net = OTTTSequential(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="'auto', 'fast', 'two_pass'"):
        net.grad_path = bad


@pytest.mark.parametrize("module", [
    nn.Linear(4, 3), nn.Linear(4, 3, bias=False), PlainSubLinear(4, 3),
    nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2),
    nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), groups=2, bias=False),
    nn.Conv2d(4, 6, 3, padding="same"), nn.Conv2d(4, 6, 3, padding="valid"),
    WSConv2d(4, 6, 3),
], ids=lambda m: type(m).__name__)
def test_qualifying_modules(module):
    assert supports_fast_path(module) and why_no_fast_path(module) is None
    assert GradwithTrace(module).uses_fast_path()
    assert GradwithTrace(module, grad_path="fast").uses_fast_path()
    assert not GradwithTrace(module, grad_path="two_pass").uses_fast_path()


def _with_hook(m: nn.Module) -> nn.Module:
    m.register_forward_hook(lambda mod, inp, out: None)
    return m


@pytest.mark.parametrize("module, why", [
    (nn.BatchNorm1d(4), "not nn.Linear"),
    (nn.Conv3d(2, 2, 3), "not nn.Linear"),
    (SquaredLinear(4, 3), "overrides"),
    (nn.Conv2d(4, 6, 3, padding=1, padding_mode="reflect"), "padding_mode"),
    (nn.Conv2d(4, 6, 4, padding="same"), "unequal padding"),
    (_with_hook(nn.Linear(4, 3)), "hooks"),
], ids=["batchnorm", "conv3d", "nonlinear-subclass", "reflect", "same-even", "hook"])
def test_non_qualifying_modules_fall_back_or_raise(module, why):
    assert not supports_fast_path(module)
    assert why in why_no_fast_path(module)
    assert not GradwithTrace(module).uses_fast_path()                 # auto: two-pass
    with pytest.raises(ValueError, match="grad_path='fast'.*" + why):
        GradwithTrace(module, grad_path="fast")
    with pytest.raises(ValueError, match="fast path cannot be used"):
        fast_path_forward(module, torch.zeros(2, 4), torch.zeros(2, 4))


def test_forced_fast_in_sequential_raises_at_the_nonlinear_layer():
    torch.manual_seed(0)
    net = OTTTSequential(nn.Linear(3, 4), OTTTLIFNode(), SquaredLinear(4, 2), grad_path="fast")
    with pytest.raises(ValueError, match="SquaredLinear"):
        net(torch.rand(2, 3) * 4)


def test_get_weight_with_wrong_shape_is_rejected():
    class Bad(nn.Linear):
        def get_weight(self):
            return self.weight.t()

    with pytest.raises(ValueError, match="get_weight"):
        fast_path_forward(Bad(4, 3), torch.zeros(2, 4), torch.zeros(2, 4))


def test_grad_paths_constant():
    assert GRAD_PATHS == ("auto", "fast", "two_pass")


# -- the Functions: gradcheck and hand-computed gradients --------------------------------------
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_function_gradcheck_when_spike_equals_trace(shape, bias):
    torch.manual_seed(0)
    s = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True) if bias else None
    # trace == spike (same values, no grad of its own): the Function is then the true derivative.
    fn = lambda s, w, b: LinearWithTrace.apply(s, s.detach(), w, b)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (s, w, b))


@pytest.mark.parametrize("nd, kw", [
    (1, dict(stride=1, padding=0, dilation=1, groups=1)),
    (1, dict(stride=2, padding=1, dilation=2, groups=2)),
    (2, dict(stride=1, padding=1, dilation=1, groups=1)),
    (2, dict(stride=2, padding=2, dilation=2, groups=3)),
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_function_gradcheck_when_spike_equals_trace(nd, kw, bias):
    torch.manual_seed(0)
    size = (2, 6) + (7,) * nd
    s = torch.randn(*size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3 * kw["groups"], 6 // kw["groups"], *(3,) * nd, dtype=torch.float64,
                    requires_grad=True)
    b = torch.randn(w.shape[0], dtype=torch.float64, requires_grad=True) if bias else None
    conf = [(kw[k],) * nd for k in ("stride", "padding", "dilation")] + [kw["groups"]]
    fn = lambda s, w, b: ConvWithTrace.apply(s, s.detach(), w, b, *conf)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (s, w, b))


def test_linear_function_takes_weight_grad_from_trace_and_value_from_spike():
    torch.manual_seed(0)
    s = (torch.rand(5, 2, 4, dtype=torch.float64) > 0.5).to(torch.float64).requires_grad_()
    a = torch.rand(5, 2, 4, dtype=torch.float64)                       # a different trace
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 2, 3, dtype=torch.float64)
    y = LinearWithTrace.apply(s, a, w, b)
    torch.testing.assert_close(y, s @ w.t() + b, rtol=0, atol=1e-12)  # value from the spike
    y.backward(g)
    g2, a2 = g.reshape(-1, 3), a.reshape(-1, 4)
    torch.testing.assert_close(w.grad, g2.t() @ a2, rtol=0, atol=1e-12)  # g^T a
    torch.testing.assert_close(b.grad, g2.sum(0), rtol=0, atol=1e-12)
    torch.testing.assert_close(s.grad, g @ w.detach(), rtol=0, atol=1e-12)  # g W


def test_conv_function_takes_weight_grad_from_trace():
    torch.manual_seed(0)
    s = (torch.rand(3, 4, 9, 9, dtype=torch.float64) > 0.5).to(torch.float64).requires_grad_()
    a = torch.rand(3, 4, 9, 9, dtype=torch.float64)
    w = torch.randn(6, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    conf = dict(stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=2)
    y = ConvWithTrace.apply(s, a, w, b, *conf.values())
    torch.testing.assert_close(y, F.conv2d(s, w, b, **conf), rtol=0, atol=1e-12)
    g = torch.randn_like(y)
    y.backward(g)
    torch.testing.assert_close(
        w.grad, torch.nn.grad.conv2d_weight(a, w.shape, g, **conf), rtol=0, atol=1e-12)
    torch.testing.assert_close(b.grad, g.sum(dim=(0, 2, 3)), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        s.grad, torch.nn.grad.conv2d_input(s.shape, w.detach(), g, **conf), rtol=0, atol=1e-12)


@pytest.mark.parametrize("module", [nn.Linear(4, 3), nn.Conv2d(4, 3, 3, padding=1)],
                         ids=["linear", "conv2d"])
def test_fast_path_saves_only_trace_and_weight(module):
    torch.manual_seed(0)
    shape = (2, 4) if isinstance(module, nn.Linear) else (2, 4, 5, 5)
    spike = (torch.rand(shape) > 0.5).float().requires_grad_()
    trace = torch.rand(shape)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        GradwithTrace(module, grad_path="fast")([spike, trace])
    ptrs = {t.untyped_storage().data_ptr() for t in saved}
    assert ptrs == {trace.untyped_storage().data_ptr(), module.weight.untyped_storage().data_ptr()}


# -- equal to the two-pass path ----------------------------------------------------------------
def _assert_same_as_two_pass(module: nn.Module, shape: tuple[int, ...],
                             trace_requires_grad: bool = False) -> None:
    torch.manual_seed(0)
    spike0 = (torch.rand(shape) > 0.5).float()
    trace0 = torch.rand(shape) * 2
    results = []
    for path in ("fast", "two_pass"):
        m = copy.deepcopy(module)
        spike = spike0.clone().requires_grad_()
        trace = trace0.clone().requires_grad_(trace_requires_grad)
        out = GradwithTrace(m, grad_path=path)([spike, trace])
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        grads = [spike.grad, trace.grad] + [p.grad for p in m.parameters()]
        results.append((out.detach(), grads))
    (out_f, grads_f), (out_t, grads_t) = results
    torch.testing.assert_close(out_f, out_t, rtol=0, atol=1e-6)
    for gf, gt in zip(grads_f, grads_t):
        assert (gf is None) == (gt is None)
        if gf is not None:
            torch.testing.assert_close(gf, gt, rtol=0, atol=1e-6)


@pytest.mark.parametrize("module, shape", [
    (nn.Linear(4, 3), (5, 4)), (nn.Linear(4, 3, bias=False), (2, 3, 4)), (nn.Linear(4, 3), (4,)),
    (nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 9)),
    (nn.Conv2d(4, 6, 3, padding="same", bias=False), (2, 4, 6, 6)),
    (nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2), (4, 6, 6)),         # unbatched
    (WSConv2d(4, 6, 3, padding=1, groups=2), (2, 4, 6, 6)),
], ids=["linear", "linear-3d-nobias", "linear-1d", "conv1d", "conv2d-same", "conv2d-unbatched",
        "wsconv2d"])
@pytest.mark.parametrize("trace_requires_grad", [False, True])
def test_single_call_matches_two_pass(module, shape, trace_requires_grad):
    _assert_same_as_two_pass(module, shape, trace_requires_grad)


def test_wsconv2d_gradients_reach_gain_and_raw_weight():
    torch.manual_seed(0)
    m = WSConv2d(2, 4, 3, padding=1)
    spike = (torch.rand(2, 2, 5, 5) > 0.5).float()
    out = GradwithTrace(m, grad_path="fast")([spike, torch.rand(2, 2, 5, 5)])
    out.square().sum().backward()
    assert m.gain.grad is not None and m.gain.grad.abs().sum() > 0
    assert m.weight.grad is not None and m.weight.grad.abs().sum() > 0


def _mlp(bias: bool) -> OTTTSequential:
    return OTTTSequential(
        nn.Linear(12, 16, bias=bias), OTTTLIFNode(),
        nn.Linear(16, 16, bias=bias), OTTTLIFNode(),
        nn.Linear(16, 5, bias=bias),
    )


def _cnn(bias: bool) -> OTTTSequential:
    return OTTTSequential(
        nn.Conv2d(2, 8, 3, padding=1, bias=bias), OTTTLIFNode(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2, bias=bias), OTTTLIFNode(),
        WSConv2d(8, 8, 3, padding=1, dilation=1, bias=bias), OTTTLIFNode(),
        nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(8 * 2 * 2, 5, bias=bias),
    )


def _cnn1d(bias: bool) -> OTTTSequential:
    return OTTTSequential(
        nn.Conv1d(2, 6, 3, padding=1, bias=bias), OTTTLIFNode(),
        nn.Conv1d(6, 6, 5, stride=2, padding=2, dilation=1, groups=3, bias=bias), OTTTLIFNode(),
        nn.Flatten(), nn.Linear(6 * 5, 5, bias=bias),
    )


_INPUTS = {"mlp": (12,), "cnn": (2, 8, 8), "cnn1d": (2, 10)}
_NETS = {"mlp": _mlp, "cnn": _cnn, "cnn1d": _cnn1d}


def _train(net: OTTTSequential, x: torch.Tensor, y: torch.Tensor, mode: str, T: int = 4):
    """One OTTT iteration; returns the outputs, the summed gradients and the new parameters."""
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    outs, grads = [], [torch.zeros_like(p) for p in net.parameters()]
    for t in range(T):
        out = net(x[t])
        (F.cross_entropy(out, y) / T).backward()
        outs.append(out.detach())
        if mode == "OTTT_O":
            for acc, p in zip(grads, net.parameters()):
                acc += p.grad
            opt.step()
            opt.zero_grad()
    if mode == "OTTT_A":
        grads = [p.grad.clone() for p in net.parameters()]
        opt.step()
        opt.zero_grad()
    reset_net(net)
    return outs, grads, [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("kind", ["mlp", "cnn", "cnn1d"])
@pytest.mark.parametrize("mode", ["OTTT_A", "OTTT_O"])
@pytest.mark.parametrize("bias", [True, False])
def test_training_iteration_matches_two_pass(kind, mode, bias):
    torch.manual_seed(0)
    T, B = 4, 8
    fast = _NETS[kind](bias)
    with torch.no_grad():                          # larger weights: every layer spikes and learns
        for p in fast.parameters():
            p.mul_(3.0)
    fast.grad_path = "fast"
    two = copy.deepcopy(fast)
    two.grad_path = "two_pass"
    x = torch.rand(T, B, *_INPUTS[kind]) * 3                          # (T, B, ...)
    y = torch.randint(0, 5, (B,))
    res_f = _train(fast, x, y, mode)
    res_t = _train(two, x, y, mode)
    for a_list, b_list in zip(res_f, res_t):
        assert len(a_list) == len(b_list) > 0
        for a, b in zip(a_list, b_list):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert all(g.abs().sum() > 0 for g in res_f[1])                   # every layer learned


def test_auto_is_the_default_and_uses_the_fast_function():
    torch.manual_seed(0)
    net = _mlp(True)
    assert net.grad_path == "auto" and GradwithTrace(nn.Linear(2, 2)).grad_path == "auto"
    spike, trace = (torch.rand(3, 16) > 0.5).float().requires_grad_(), torch.rand(3, 16)
    out = GradwithTrace(net[2])([spike, trace])
    assert type(out.grad_fn).__name__ == "LinearWithTraceBackward"
    out = GradwithTrace(net[2], grad_path="two_pass")([spike, trace])
    assert type(out.grad_fn).__name__ == "ReplaceforGradBackward"


@pytest.mark.parametrize("path, grad_fn", [("fast", "LinearWithTraceBackward"),
                                           ("auto", "LinearWithTraceBackward"),
                                           ("two_pass", "ReplaceforGradBackward")])
def test_sequential_switch_reaches_the_wrapped_layers(path, grad_fn):
    torch.manual_seed(0)
    net = OTTTSequential(nn.Linear(3, 4), OTTTLIFNode(), nn.Linear(4, 2), grad_path=path)
    twin = copy.deepcopy(net)
    assert twin.grad_path == path
    out = twin(torch.rand(2, 3))
    assert type(out.grad_fn).__name__ == grad_fn
    twin.grad_path = "two_pass" if path != "two_pass" else "fast"
    reset_net(twin)
    assert type(twin(torch.rand(2, 3)).grad_fn).__name__ != grad_fn
