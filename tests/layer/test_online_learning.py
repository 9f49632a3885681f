"""GradwithTrace, SpikeTraceOp and OTTTSequential: values, hand-computed gradients, errors."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu import (Dropout, GradwithTrace, LIFNode, OTTTLIFNode, OTTTSequential, SpikeTraceOp,
                      reset_net)
from ottt_edu.neuron.surrogate import sigmoid_surrogate_grad


def make_pair(shape=(2, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    spike = (torch.rand(shape, generator=g) > 0.5).float().requires_grad_()
    trace = torch.rand(shape, generator=g) * 2
    return spike, trace


def test_grad_with_trace_value_from_spike_weight_grad_from_trace():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    spike, trace = make_pair()
    out = GradwithTrace(lin)([spike, trace])
    torch.testing.assert_close(out, lin(spike).detach())
    g = torch.randn(2, 3)
    out.backward(g)
    torch.testing.assert_close(lin.weight.grad, g.t() @ trace)
    torch.testing.assert_close(lin.bias.grad, g.sum(0))
    torch.testing.assert_close(spike.grad, g @ lin.weight.detach())


def test_spike_trace_op_applies_the_same_op_and_keeps_grad_on_spike_only():
    spike, trace = make_pair((2, 1, 4, 4))
    pool = SpikeTraceOp(nn.AvgPool2d(2))
    s2, a2 = pool([spike, trace])
    torch.testing.assert_close(s2, F.avg_pool2d(spike, 2))
    torch.testing.assert_close(a2, F.avg_pool2d(trace, 2))
    assert s2.requires_grad and not a2.requires_grad


@pytest.mark.parametrize("bad", [torch.zeros(2, 4), [torch.zeros(2, 4)], (1, 2), "spike",
                                 [torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 4)]])
@pytest.mark.parametrize("wrapper", [lambda: GradwithTrace(nn.Linear(4, 2)),
                                     lambda: SpikeTraceOp(nn.Flatten())])
def test_wrappers_reject_anything_but_a_pair(wrapper, bad):
    with pytest.raises(TypeError, match=r"expects a \[spike, trace\] pair"):
        wrapper()(bad)


@pytest.mark.parametrize("wrapper", [lambda: GradwithTrace(nn.Linear(4, 2)),
                                     lambda: SpikeTraceOp(nn.Flatten())])
def test_wrappers_reject_mismatched_shapes(wrapper):
    with pytest.raises(ValueError, match=r"spike \(2, 4\) and trace \(3, 4\)"):
        wrapper()([torch.zeros(2, 4), torch.zeros(3, 4)])


def test_spike_trace_op_rejects_modules_with_parameters_and_torch_dropout():
    with pytest.raises(ValueError, match="GradwithTrace"):
        SpikeTraceOp(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="ottt_edu.Dropout"):
        SpikeTraceOp(nn.Dropout(0.1))
    with pytest.raises(ValueError, match="layer 1: .*ottt_edu.Dropout"):
        OTTTSequential(nn.Linear(2, 2), nn.Dropout(0.1))


def test_ottt_sequential_wrapping_plan():
    net = OTTTSequential(nn.Conv2d(1, 2, 3), OTTTLIFNode(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2, 3))
    assert [w for _, w in net.wrapping()] == [
        "GradwithTrace", "neuron (spike only)", "SpikeTraceOp", "SpikeTraceOp", "GradwithTrace"]


def hand_gradients(W1, b1, W2, b2, x, y, tau):
    """OTTT gradients of Linear-OTTTLIF-Linear, written out step by step (no autograd)."""
    T, B = x.shape[:2]
    k = 1 - 1 / tau
    v = torch.zeros(B, W1.shape[0])
    a = torch.zeros_like(v)
    dW1, db1, dW2, db2 = (torch.zeros_like(p) for p in (W1, b1, W2, b2))
    for t in range(T):
        v = v * k + x[t] @ W1.t() + b1                     # charge (v detached: no history)
        s = (v >= 1).float()                              # fire
        a = a * k + s                                     # trace
        out = s @ W2.t() + b2                             # value from the spike
        g = (torch.softmax(out, 1) - F.one_hot(y, out.shape[1]).float()) / (B * T)  # dL_t/dout
        dW2 += g.t() @ a                                  # weight grad from the trace
        db2 += g.sum(0)
        delta = (g @ W2) * sigmoid_surrogate_grad(v - 1)  # back through the surrogate
        dW1 += delta.t() @ x[t]
        db1 += delta.sum(0)
        v = v - s                                         # soft reset
    return dW1, db1, dW2, db2


def test_ottt_sequential_gradients_equal_hand_formula_sum_g_trace():
    torch.manual_seed(3)
    T, B, tau = 5, 4, 2.0
    net = OTTTSequential(nn.Linear(6, 8), OTTTLIFNode(tau=tau), nn.Linear(8, 3))
    with torch.no_grad():
        net[0].weight.mul_(4)  # enough input that the neurons fire
    x = torch.rand(T, B, 6)
    y = torch.randint(0, 3, (B,))
    for t in range(T):
        loss = F.cross_entropy(net(x[t]), y) / T
        loss.backward()
    expected = hand_gradients(net[0].weight.detach(), net[0].bias.detach(),
                              net[2].weight.detach(), net[2].bias.detach(), x, y, tau)
    got = (net[0].weight.grad, net[0].bias.grad, net[2].weight.grad, net[2].bias.grad)
    assert expected[2].abs().sum() > 0, "test needs spikes"
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)


def bptt_twin(net):
    twin = nn.Sequential(nn.Linear(6, 8), LIFNode(decay_input=False, v_reset=None, detach_reset=True),
                         nn.Linear(8, 3))
    twin.load_state_dict(net.state_dict())
    return twin


def test_t_equals_1_ottt_and_bptt_gradients_identical():
    torch.manual_seed(4)
    net = OTTTSequential(nn.Linear(6, 8), OTTTLIFNode(), nn.Linear(8, 3))
    with torch.no_grad():
        net[0].weight.mul_(4)
    twin = bptt_twin(net)
    x, y = torch.rand(5, 6), torch.randint(0, 3, (5,))
    F.cross_entropy(net(x), y).backward()
    F.cross_entropy(twin(x), y).backward()
    for (name, p), q in zip(net.named_parameters(), twin.parameters()):
        assert p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_t_greater_than_1_gradients_differ_but_values_agree():
    """OTTT drops the temporal terms: same outputs as BPTT, different (but aligned) gradients."""
    torch.manual_seed(5)
    T = 6
    net = OTTTSequential(nn.Linear(6, 8), OTTTLIFNode(), nn.Linear(8, 3))
    with torch.no_grad():
        net[0].weight.mul_(3)
    twin = bptt_twin(net)
    x, y = torch.rand(T, 5, 6), torch.randint(0, 3, (5,))
    total = 0
    for t in range(T):
        out = net(x[t])
        out_b = twin(x[t])
        torch.testing.assert_close(out, out_b)
        (F.cross_entropy(out, y) / T).backward()
        total = total + F.cross_entropy(out_b, y) / T
    total.backward()
    g_o, g_b = net[0].weight.grad.flatten(), twin[0].weight.grad.flatten()
    assert not torch.allclose(g_o, g_b)
    assert F.cosine_similarity(g_o, g_b, dim=0) > 0.5


def test_eval_mode_is_a_plain_sequential_on_spikes():
    torch.manual_seed(6)
    net = OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Linear(6, 2))
    x = torch.rand(3, 4) * 3
    train_out = net(x)
    reset_net(net)
    net.eval()
    eval_out = net(x)
    assert isinstance(eval_out, torch.Tensor)
    torch.testing.assert_close(eval_out, train_out.detach())


def test_neuron_receiving_a_pair_steps_once_on_the_spike():
    net = OTTTSequential(OTTTLIFNode(), nn.Identity(), OTTTLIFNode())
    spike, trace = net(torch.ones(1, 2))
    # The second neuron gets the pair [1, 1]; stepped once on the spike: v = 1 -> spike, trace 1.
    # Stepped on spike and trace (as a SpikeTraceOp would), its trace would be 1.5.
    torch.testing.assert_close(spike, torch.ones(1, 2))
    torch.testing.assert_close(net[2].trace, torch.ones(1, 2))
    torch.testing.assert_close(net[2].v, torch.zeros(1, 2))


def test_dropout_mask_is_shared_over_time_and_by_spike_and_trace():
    torch.manual_seed(7)
    net = OTTTSequential(nn.Linear(4, 64), OTTTLIFNode(), Dropout(0.5), nn.Linear(64, 2))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.fill_(1.0)
    x = torch.ones(1, 4)
    captured = []
    net[3].register_forward_hook(lambda m, inp, out: captured.append(inp[0].detach().clone()))
    for _ in range(3):
        net(x)
    # every call of the Linear (value on spike, gradient on trace) at every step sees the same
    # zero pattern: the mask does not change between spike and trace or over time.
    zero_patterns = {tuple((c == 0).flatten().tolist()) for c in captured}
    assert len(captured) == 6 and len(zero_patterns) == 1
    assert 0 < sum(next(iter(zero_patterns))) < 64
    reset_net(net)
    assert net[2].mask is None
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)
