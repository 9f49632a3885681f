"""LIF neurons against hand-computed dynamics, and their input checks."""
import pytest
import torch

from ottt_edu import LIFNode, OTTTLIFNode, detach_net, reset_net

WORKED_X = [0.6, 0.9, 1.5, 0.2]


def run_steps(node, xs):
    spikes, vs, traces = [], [], []
    for x in xs:
        out = node(torch.tensor([x]))
        spike, trace = (out if isinstance(out, list) else (out, None))
        spikes.append(spike.item())
        vs.append(node.v.item())
        traces.append(None if trace is None else trace.item())
    return spikes, vs, traces


def test_worked_example_default_ottt_lif():
    spikes, vs, traces = run_steps(OTTTLIFNode(), WORKED_X)
    assert spikes == [0.0, 1.0, 1.0, 0.0]
    assert vs == pytest.approx([0.6, 0.2, 0.6, 0.5], abs=1e-6)
    assert traces == pytest.approx([0.0, 1.0, 1.5, 0.75], abs=1e-6)


def test_trace_closed_form():
    torch.manual_seed(0)
    tau, T = 3.0, 12
    node = OTTTLIFNode(tau=tau)
    x = torch.rand(T, 5) * 1.5
    spikes, traces = [], []
    for t in range(T):
        s, a = node(x[t])
        spikes.append(s)
        traces.append(a)
    k = 1 - 1 / tau
    S = torch.stack(spikes)
    for t in range(T):
        closed = sum(k ** (t - i) * S[i] for i in range(t + 1))
        torch.testing.assert_close(traces[t], closed)


def test_hard_reset_and_decay_input_by_hand():
    node = OTTTLIFNode(tau=4.0, decay_input=True, v_reset=-0.5, v_threshold=1.0)
    v, expected = -0.5, []
    for x in [3.0, 6.0, 0.0]:
        v = v + (x - (v - (-0.5))) / 4.0
        s = float(v >= 1.0)
        v = (1 - s) * v + s * (-0.5)
        expected.append((s, v))
    got = run_steps(node, [3.0, 6.0, 0.0])
    assert got[0] == [s for s, _ in expected]
    assert got[1] == pytest.approx([v for _, v in expected], abs=1e-6)


def test_no_decay_input_with_nonzero_reset_by_hand():
    node = LIFNode(tau=2.0, decay_input=False, v_reset=0.2)
    v, vs = 0.2, []
    for x in [0.5, 0.9]:
        v = v - (v - 0.2) / 2.0 + x
        s = float(v >= 1.0)
        v = (1 - s) * v + s * 0.2
        vs.append(v)
    assert run_steps(node, [0.5, 0.9])[1] == pytest.approx(vs, abs=1e-6)


def test_eval_mode_returns_spike_equal_to_training_spikes():
    torch.manual_seed(1)
    x = torch.rand(8, 4, 6) * 2
    train_node, eval_node = OTTTLIFNode(), OTTTLIFNode().eval()
    for t in range(8):
        s_train, _ = train_node(x[t])
        s_eval = eval_node(x[t])
        assert isinstance(s_eval, torch.Tensor)
        torch.testing.assert_close(s_train, s_eval)


def test_lif_with_ottt_dynamics_matches_ottt_forward_and_multistep():
    torch.manual_seed(2)
    x = torch.rand(7, 3, 4) * 2
    ottt = OTTTLIFNode(tau=2.5)
    lif_s = LIFNode(tau=2.5, decay_input=False, v_reset=None, detach_reset=True)
    lif_m = LIFNode(tau=2.5, decay_input=False, v_reset=None, detach_reset=True, step_mode="m", store_v_seq=True)
    s_m = lif_m(x)
    assert s_m.shape == (7, 3, 4) and lif_m.v_seq.shape == (7, 3, 4)
    for t in range(7):
        s_o, _ = ottt(x[t])
        s_s = lif_s(x[t])
        torch.testing.assert_close(s_o, s_s)
        torch.testing.assert_close(s_o, s_m[t])
        torch.testing.assert_close(ottt.v, lif_m.v_seq[t])


def test_ottt_detaches_v_between_steps_but_lif_does_not():
    x = torch.full((1,), 0.7, requires_grad=True)
    ottt, lif = OTTTLIFNode(), LIFNode(decay_input=False, v_reset=None, detach_reset=True)
    ottt(x), lif(x)
    s_o, _ = ottt(x * 1.0)
    s_l = lif(x * 1.0)
    (g_o,) = torch.autograd.grad(s_o.sum(), x)
    (g_l,) = torch.autograd.grad(s_l.sum(), x)
    # v at step 2 = 0.5 * v1 + x = 1.05: OTTT sees only dv2/dx = 1, BPTT also 0.5 * dv1/dx.
    sg = torch.sigmoid(torch.tensor(4 * 0.05))
    torch.testing.assert_close(g_o, (4 * sg * (1 - sg) * 1.0).reshape(1))
    torch.testing.assert_close(g_l, (4 * sg * (1 - sg) * 1.5).reshape(1))


def test_reset_net_clears_state_and_detach_net_keeps_values():
    node = OTTTLIFNode()
    node(torch.tensor([0.6]))
    assert isinstance(node.v, torch.Tensor)
    reset_net(node)
    assert node.v == 0.0 and node.trace == 0.0
    lif = LIFNode()
    x = torch.tensor([0.3], requires_grad=True)
    lif(x)
    assert lif.v.requires_grad
    v_before = lif.v.clone()
    detach_net(lif)
    assert not lif.v.requires_grad
    torch.testing.assert_close(lif.v, v_before.detach())


def test_undetached_state_fails_second_backward_and_detach_net_fixes_it():
    lin = torch.nn.Linear(3, 3)
    lif = LIFNode(decay_input=False, v_reset=None)
    x = torch.rand(2, 3)
    lif(lin(x)).sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        lif(lin(x)).sum().backward()
    reset_net(lif)
    lif(lin(x)).sum().backward()
    detach_net(lif)
    lif(lin(x)).sum().backward()  # fine after detach_net


@pytest.mark.parametrize("tau", [0.0, -2.0, 1.0])
def test_bad_tau(tau):
    with pytest.raises(ValueError, match="tau must be greater than 1"):
        OTTTLIFNode(tau=tau)


def test_ottt_rejects_multistep():
    with pytest.raises(ValueError, match="only step_mode='s'"):
        OTTTLIFNode(step_mode="m")


def test_lif_rejects_unknown_step_mode_and_bad_reset():
    with pytest.raises(ValueError, match="step_mode must be one of"):
        LIFNode(step_mode="x")
    with pytest.raises(ValueError, match="must be below v_threshold"):
        LIFNode(v_reset=1.0, v_threshold=1.0)


def test_shape_change_without_reset_is_an_error():
    node = OTTTLIFNode()
    node(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*\(2, 3\).*reset_net"):
        node(torch.zeros(2, 3))
    reset_net(node)
    node(torch.zeros(2, 3))  # fine after reset


def test_multistep_needs_time_dimension_and_neuron_needs_tensor():
    with pytest.raises(ValueError, match=r"\(T, B, \.\.\.\)"):
        LIFNode(step_mode="m")(torch.zeros(3))
    with pytest.raises(TypeError, match="expects a tensor"):
        OTTTLIFNode()([torch.zeros(1), torch.zeros(1)])


def test_state_follows_module_to_dtype():
    node = OTTTLIFNode()
    node(torch.zeros(2))
    node.double()
    assert node.v.dtype == torch.float64
