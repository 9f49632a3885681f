"""OTTTLIFNode(backend="inductor") (ottt_edu.neuron.fused_lif) against the eager backend="torch".

Forward values must be bit for bit equal, input gradients equal to float rounding, and the
fused backward must be the derivative of the smooth sigmoid surrogate (float64 gradcheck).
Shapes are small and hyper-parameter sets few: every set is one torch.compile.
"""
import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ottt_edu import OTTTLIFNode, OTTTSequential, reset_net, surrogate
from ottt_edu.neuron.fused_lif import (
    FusedLIFConfig,
    FusedOTTTLIFStep,
    check_torch_compile_available,
    compiled_backward,
    step_source,
)


def _compile_unavailable_reason():
    """Why torch.compile cannot run here (no support, no C++ compiler), or None if it can."""
    try:
        check_torch_compile_available()
        OTTTLIFNode(tau=2.25, backend="inductor")(torch.zeros(4))   # a set no test uses
    except RuntimeError as err:
        return str(err)
    return None


def _dynamo_unsupported_reason():
    try:
        check_torch_compile_available()
    except RuntimeError as err:
        return str(err)
    return None


_REASON = _compile_unavailable_reason()
_DYNAMO_REASON = _dynamo_unsupported_reason()
needs_compile = pytest.mark.skipif(_REASON is not None,
                                   reason=f"torch.compile cannot run here: {_REASON}")

# Every branch of the charge equation (decay_input x v_reset None/0/other) and both resets.
CONFIGS = [
    dict(),                                                                  # OTTT default
    dict(decay_input=True, tau=3.0, v_threshold=0.7),                        # soft, decay input
    dict(v_reset=0.0, tau=1.5, v_threshold=1.3),                             # hard 0
    dict(v_reset=-0.3, decay_input=True, tau=4.0, v_threshold=0.5),          # hard, decay input
    dict(v_reset=0.2, tau=2.7, v_threshold=1.1, surrogate_function=surrogate.Sigmoid(2.5)),
]


def _inputs(seed, T=4, shape=(3, 2, 5)):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, *shape, generator=g) * 2.0 - 0.3).requires_grad_()   # (T, B, C, N)
    grad_spike = torch.randn(T, *shape, generator=g)
    return x, grad_spike


@needs_compile
@pytest.mark.parametrize("kwargs", CONFIGS, ids=["default", "soft-decay", "hard0", "hard-decay",
                                                  "hard-nonzero"])
def test_forward_bitwise_and_input_gradient_equal_torch_backend(kwargs):
    eager = OTTTLIFNode(**copy.deepcopy(kwargs))
    fused = OTTTLIFNode(backend="inductor", **copy.deepcopy(kwargs))
    x, grad_spike = _inputs(seed=len(str(kwargs)))
    n_spikes = 0
    for t in range(x.shape[0]):
        s_e, a_e = eager(x[t])
        s_f, a_f = fused(x[t])
        assert torch.equal(s_f, s_e) and torch.equal(fused.v, eager.v)
        assert torch.equal(a_f, a_e) and torch.equal(fused.trace, eager.trace)
        assert a_f is fused.trace and fused.v.grad_fn is None      # documented: v has no history
        g_e, = torch.autograd.grad(s_e, x, grad_spike[t])
        g_f, = torch.autograd.grad(s_f, x, grad_spike[t])
        torch.testing.assert_close(g_f, g_e)
        assert g_f[t].abs().sum() > 0 and g_f[t + 1:].abs().sum() == 0   # only this step's x
        n_spikes += int(s_e.sum())
    assert 0 < n_spikes < x[0].numel() * x.shape[0]             # both spikes and silence seen


@needs_compile
def test_eval_mode_state_reset_and_v_without_history():
    eager, fused = OTTTLIFNode(), OTTTLIFNode(backend="inductor")
    x, _ = _inputs(seed=3)
    for node in (eager, fused):
        node.eval()
    for t in range(2):
        s_e, s_f = eager(x[t]), fused(x[t])
        assert isinstance(s_f, torch.Tensor) and torch.equal(s_f, s_e)
        assert torch.equal(fused.v, eager.v)
    assert fused.trace == 0.0 and eager.trace == 0.0               # eval mode: no trace
    assert fused.v.grad_fn is None and not fused.v.requires_grad  # documented: no history
    assert s_f.requires_grad                                      # gradient still flows to x
    with pytest.raises(ValueError, match="reset_net") as err_f:   # shape change, same message
        fused(torch.zeros(5, 2, 5))
    with pytest.raises(ValueError, match="reset_net") as err_e:
        eager(torch.zeros(5, 2, 5))
    assert str(err_f.value) == str(err_e.value)
    reset_net(fused)
    assert fused.v == 0.0 and fused.trace == 0.0
    fused.train()
    spike, trace = fused(x[0])
    assert torch.equal(trace, spike)                              # fresh trace: a[0] = s[0]


@needs_compile
def test_backward_is_the_smooth_surrogate_derivative_gradcheck_float64():
    # A probe whose forward is the smooth surrogate sigmoid(alpha*(h(x) - v_th)) of the charged
    # potential and whose backward is the fused backward: gradcheck compares the fused backward
    # with finite differences of the smooth function (the spike's own derivative is zero a.e.).
    cfg = FusedLIFConfig(tau=3.0, decay_input=True, v_threshold=0.8, v_reset=None, alpha=4.0)

    class SmoothProbe(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, v):
            h = v + (x - v) / cfg.tau                                 # charge, decay_input
            ctx.save_for_backward(h)
            return torch.sigmoid(cfg.alpha * (h - cfg.v_threshold))

        @staticmethod
        def backward(ctx, grad):
            (h,) = ctx.saved_tensors
            return compiled_backward(cfg)(grad, h), None

    g = torch.Generator().manual_seed(4)
    x = (torch.rand(2, 6, generator=g, dtype=torch.float64) * 3.0).requires_grad_()
    v = torch.rand(2, 6, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: SmoothProbe.apply(x, v), (x,))


@needs_compile
def test_fused_function_saves_one_tensor_and_only_spike_is_differentiable():
    cfg = FusedLIFConfig(tau=2.0, decay_input=False, v_threshold=1.0, v_reset=None, alpha=4.0)
    x = (torch.rand(3, 2, 5) * 2).requires_grad_()
    spike, v_next, trace_next = FusedOTTTLIFStep.apply(x, torch.zeros(3, 2, 5),
                                                       torch.zeros(3, 2, 5), cfg)
    assert spike.requires_grad and not v_next.requires_grad and not trace_next.requires_grad
    assert len(spike.grad_fn.saved_tensors) == 1                    # h, like the eager h - v_th
    assert torch.equal(trace_next, spike)


@needs_compile
def test_ottt_a_step_of_a_cnn_matches_torch_backend():
    def cnn(backend):
        return OTTTSequential(
            nn.Conv2d(1, 4, 3, padding=1), OTTTLIFNode(backend=backend),        # (B, 4, 8, 8)
            nn.Conv2d(4, 6, 3, stride=2, padding=1), OTTTLIFNode(backend=backend),  # (B, 6, 4, 4)
            nn.Flatten(), nn.Linear(6 * 4 * 4, 3),                              # (B, 3)
        )

    torch.manual_seed(0)
    eager = cnn("torch")
    with torch.no_grad():
        eager[2].weight.mul_(5.0)                # so that the second neuron layer spikes too
    fused = cnn("inductor")
    fused.load_state_dict(eager.state_dict())
    g = torch.Generator().manual_seed(5)
    T, B = 4, 5
    x = torch.rand(T, B, 1, 8, 8, generator=g) * 3.0                            # (T, B, 1, 8, 8)
    y = torch.randint(0, 3, (B,), generator=g)
    for net in (eager, fused):
        for t in range(T):                                                      # OTTT_A
            (F.cross_entropy(net(x[t]), y) / T).backward()
        assert net[1].trace.sum() > 0 and net[3].trace.sum() > 0               # both layers spike
        reset_net(net)
    for (name, p_e), p_f in zip(eager.named_parameters(), fused.parameters()):
        assert p_e.grad.abs().sum() > 0, name
        torch.testing.assert_close(p_f.grad, p_e.grad, rtol=0, atol=1e-6, msg=name)


def test_backend_and_unsupported_options_are_rejected_early():
    with pytest.raises(ValueError, match="backend must be one of"):
        OTTTLIFNode(backend="cupy")
    with pytest.raises(ValueError, match="surrogate.Sigmoid"):
        OTTTLIFNode(backend="inductor", surrogate_function=lambda u: (u >= 0).float())
    with pytest.raises(ValueError, match="surrogate.Sigmoid"):
        OTTTLIFNode(backend="inductor", surrogate_function=surrogate.Sigmoid(spiking=False))
    with pytest.raises(ValueError, match="detach_reset=True"):
        OTTTLIFNode(backend="inductor", detach_reset=False)
    assert "backend='inductor'" in repr(OTTTLIFNode(backend="inductor"))
    assert "backend" not in repr(OTTTLIFNode())                   # default repr unchanged


def test_step_source_uses_the_eager_formulas_and_literals():
    cfg = FusedLIFConfig(tau=3.0, decay_input=False, v_threshold=1.0, v_reset=None, alpha=4.0)
    src = step_source(cfg, "train")
    assert f"v * ({1.0 - 1.0 / 3.0!r}) + x" in src and "trace_next = trace *" in src
    assert "return grad_h / (3.0)" in step_source(
        FusedLIFConfig(3.0, True, 1.0, None, 4.0), "backward")
    with pytest.raises(ValueError, match="kind must be"):
        step_source(cfg, "test")


@pytest.mark.skipif(_DYNAMO_REASON is not None, reason=f"no torch.compile: {_DYNAMO_REASON}")
def test_compile_failure_is_a_clear_runtime_error(monkeypatch, tmp_path):
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    # No working C++ compiler, and no cached kernels to fall back on: the first call must fail
    # with a message that names the fix. A tau no other test uses gives a fresh cache entry.
    monkeypatch.setattr(inductor_config.cpp, "cxx", (str(tmp_path / "no-such-c++"),))
    monkeypatch.setattr(inductor_config, "fx_graph_cache", False)
    monkeypatch.setattr(functorch_config, "enable_autograd_cache", False)
    node = OTTTLIFNode(backend="inductor", tau=7.125)
    with pytest.raises(RuntimeError, match='needs a working torch.compile.*backend="torch"'):
        node(torch.rand(2, 3))
