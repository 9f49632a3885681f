"""SLTTLIFNode against a hand-computed neuron (values and gradients, float64), where it agrees with
BPTT's LIFNode, how networks route it, and its input checks."""
import pytest
import torch

from ottt_edu import LIFNode, OTTTSequential, SLTTLIFNode, reset_net
from ottt_edu.layer.ottt_sequential import wrapper_for
from ottt_edu.neuron.surrogate import sigmoid_surrogate_grad


def by_hand(xs, tau=2.0, decay_input=True, v_th=1.0, v_reset=0.0):
    """Forward of one LIF neuron in Python floats: spikes, v before reset, v after reset."""
    v = 0.0 if v_reset is None else v_reset
    spikes, v_pre, v_post = [], [], []
    for x in xs:
        rest = 0.0 if v_reset is None else v_reset
        v = v + (x - (v - rest)) / tau if decay_input else v - (v - rest) / tau + x
        v_pre.append(v)
        s = 1.0 if v >= v_th else 0.0
        v = (v - s * v_th) if v_reset is None else (1 - s) * v + s * v_reset
        spikes.append(s)
        v_post.append(v)
    return spikes, v_pre, v_post


def test_worked_example_with_spikingjelly_defaults():
    node = SLTTLIFNode()
    assert (node.tau, node.decay_input, node.v_threshold, node.v_reset, node.detach_reset) == \
        (2.0, True, 1.0, 0.0, True)
    spikes, vs = [], []
    for x in [1.0, 3.0, 0.5, 2.5]:
        out = node(torch.tensor([x]))
        assert isinstance(out, torch.Tensor)                 # the spike only, no trace
        spikes.append(out.item())
        vs.append(node.v.item())
    assert spikes == [0.0, 1.0, 0.0, 1.0]
    assert vs == pytest.approx([0.5, 0.0, 0.25, 0.0])


@pytest.mark.parametrize("kw", [dict(), dict(tau=3.0, decay_input=False, v_reset=None),
                                dict(tau=4.0, v_reset=-0.5, v_threshold=0.8)])
def test_values_and_gradient_equal_the_hand_computed_neuron(kw):
    """ds[t]/dx[t] = H'(v[t] - v_th) * (1/tau if decay_input else 1); nothing through time."""
    T = 7
    xs = [0.9, 2.4, -0.3, 1.7, 3.1, 0.2, 1.2]
    c = [0.5, -1.0, 2.0, 0.7, -0.4, 1.3, 0.9]                     # L = sum_t c[t] s[t]
    tau = kw.get("tau", 2.0)
    decay_input = kw.get("decay_input", True)
    v_th = kw.get("v_threshold", 1.0)
    spikes, v_pre, v_post = by_hand(xs, tau, decay_input, v_th, kw.get("v_reset", 0.0))
    assert 0 < sum(spikes) < T
    x = torch.tensor(xs, dtype=torch.float64).reshape(T, 1).requires_grad_()
    node = SLTTLIFNode(**kw)
    out, v = [], []
    for t in range(T):
        out.append(node(x[t]))
        v.append(node.v.item())
    s = torch.stack(out).reshape(T)
    assert s.tolist() == spikes
    assert v == pytest.approx(v_post, abs=1e-12)
    (s * torch.tensor(c, dtype=torch.float64)).sum().backward()
    scale = 1.0 / tau if decay_input else 1.0
    expected = [c[t] * sigmoid_surrogate_grad(torch.tensor(v_pre[t] - v_th, dtype=torch.float64)).item()
                * scale for t in range(T)]
    assert x.grad.reshape(T).tolist() == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_no_gradient_through_time():
    torch.manual_seed(0)
    x = (torch.rand(5, 4, dtype=torch.float64) * 2).requires_grad_()
    node = SLTTLIFNode()
    spikes = [node(x[t]) for t in range(5)]
    spikes[-1].sum().backward()
    assert x.grad[:-1].abs().sum() == 0 and x.grad[-1].abs().sum() > 0


def test_equals_bptt_when_every_neuron_fires_every_step():
    """With a hard reset and detach_reset, dv_post/dv_pre = 1 - s: if every neuron fires at every
    step, BPTT's temporal path is zero and SLTT's gradient is BPTT's, exactly."""
    torch.manual_seed(1)
    x = (3.0 + torch.rand(6, 5, dtype=torch.float64)).requires_grad_()
    c = torch.randn(6, 5, dtype=torch.float64)
    grads = {}
    for name, node in (("sltt", SLTTLIFNode()), ("bptt", LIFNode(detach_reset=True))):
        x.grad = None
        s = torch.stack([node(x[t]) for t in range(6)])
        assert s.min() == 1
        (s * c).sum().backward()
        grads[name] = x.grad.clone()
    torch.testing.assert_close(grads["sltt"], grads["bptt"], rtol=0, atol=0)
    # and when a neuron does not fire, BPTT's temporal path is non-zero
    x2 = torch.full((3, 1), 0.6, dtype=torch.float64, requires_grad=True)
    outs = {}
    for name, node in (("sltt", SLTTLIFNode()), ("bptt", LIFNode(detach_reset=True))):
        x2.grad = None
        torch.stack([node(x2[t]) for t in range(3)]).sum().backward()
        outs[name] = x2.grad.clone()
    assert not torch.allclose(outs["sltt"], outs["bptt"])


def test_forward_equals_lif_in_training_and_eval_mode():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 4) * 2
    for train in (True, False):
        sltt, lif = SLTTLIFNode(tau=3.0).train(train), LIFNode(tau=3.0).train(train)
        with torch.set_grad_enabled(train):
            for t in range(8):
                torch.testing.assert_close(sltt(x[t]), lif(x[t]))
                torch.testing.assert_close(sltt.v, lif.v)


def test_state_reset_store_v_seq_and_routing():
    node = SLTTLIFNode(store_v_seq=True)
    for x in [1.0, 3.0, 0.5]:
        node(torch.tensor([x, 2 * x]))
    assert node.v_seq.shape == (3, 2) and not node.v_seq.requires_grad
    torch.testing.assert_close(node.v_seq[:, 0], torch.tensor([0.5, 0.0, 0.25]))
    reset_net(node)
    assert node.v == 0.0 and node.v_seq is None
    assert isinstance(node, LIFNode) and wrapper_for(node) == "neuron (spike only)"
    net = OTTTSequential(torch.nn.Linear(4, 3), SLTTLIFNode(), torch.nn.Linear(3, 2))
    assert isinstance(net(torch.rand(2, 4)), torch.Tensor)   # no pairs anywhere: a plain Sequential


def test_bad_arguments():
    with pytest.raises(ValueError, match="supports only step_mode='s'"):
        SLTTLIFNode(step_mode="m")
    with pytest.raises(ValueError, match="tau must be greater than 1"):
        SLTTLIFNode(tau=1.0)
    with pytest.raises(ValueError, match="v_reset"):
        SLTTLIFNode(v_reset=2.0)
    node = SLTTLIFNode()
    node(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="Call reset_net"):
        node(torch.zeros(4, 3))


def test_in_an_ottt_container_the_layers_after_it_are_reported_unwrapped():
    """An SLTT neuron hands on spikes only: OTTTSequential runs the next layers as themselves,
    and wrapping() says so (it used to report GradwithTrace for layers never wrapped)."""
    from torch import nn

    from ottt_edu import OTTTLIFNode, OTTTSequential
    net = OTTTSequential(nn.Linear(4, 6), SLTTLIFNode(), nn.Flatten(), nn.Linear(6, 3), OTTTLIFNode(),
                         nn.Linear(3, 2))
    assert [how for _, how in net.wrapping()] == [
        "GradwithTrace", "neuron (spike only)", "itself", "itself", "neuron (spike only)", "GradwithTrace"]


@pytest.mark.parametrize("bad", [torch.ones(2, 3, dtype=torch.bool), torch.ones(2, 3, dtype=torch.long)])
def test_a_non_float_input_is_refused_at_once(bad):
    with pytest.raises(TypeError, match=r"floating-point input.*x\.float\(\)"):
        SLTTLIFNode()(bad)


def test_a_number_for_the_surrogate_function_says_how_to_set_alpha():
    with pytest.raises(TypeError, match=r"surrogate\.Sigmoid\(alpha=4\.0\)"):
        SLTTLIFNode(surrogate_function=4.0)
