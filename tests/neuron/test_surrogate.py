"""Surrogate spike function: exact step forward, sigmoid derivative backward."""
import pytest
import torch

from ottt_edu.neuron import surrogate


def test_forward_is_heaviside_with_zero_firing():
    x = torch.tensor([-1.0, -1e-6, 0.0, 1e-6, 2.0])
    out = surrogate.Sigmoid()(x)
    torch.testing.assert_close(out, torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0]))


def test_backward_matches_closed_form():
    x = torch.linspace(-2, 2, 41, requires_grad=True)
    surrogate.Sigmoid(alpha=4.0)(x).sum().backward()
    sg = torch.sigmoid(4.0 * x.detach())
    torch.testing.assert_close(x.grad, 4.0 * sg * (1 - sg))
    assert x.grad.max().item() == pytest.approx(1.0)  # alpha / 4 at x = 0


def test_gradcheck_float64_against_smooth_sigmoid():
    """The surrogate backward must be the true derivative of sigmoid(alpha x)."""
    x = torch.randn(20, dtype=torch.float64, requires_grad=True)
    alpha = 3.0
    spiking, smooth = surrogate.Sigmoid(alpha), surrogate.Sigmoid(alpha, spiking=False)
    (g_spiking,) = torch.autograd.grad(spiking(x).sum(), x)
    (g_smooth,) = torch.autograd.grad(smooth(x).sum(), x)
    torch.testing.assert_close(g_spiking, g_smooth)
    # gradcheck the smooth function's analytic gradient (the one the surrogate borrows).
    assert torch.autograd.gradcheck(smooth, (x,))
    # and gradcheck the surrogate itself where the step is flat but the surrogate is used:
    # compare its backward to finite differences of the smooth curve, point by point.
    eps = 1e-6
    fd = (torch.sigmoid(alpha * (x.detach() + eps)) - torch.sigmoid(alpha * (x.detach() - eps))) / (2 * eps)
    torch.testing.assert_close(g_spiking, fd, rtol=1e-6, atol=1e-8)


def test_sigmoid_spike_backward_scales_incoming_gradient():
    """backward returns grad_output * g'(x), elementwise, in float64."""
    x = torch.randn(8, dtype=torch.float64, requires_grad=True)
    out = surrogate.SigmoidSpike.apply(x, 2.0)
    assert out.dtype == torch.float64
    (g,) = torch.autograd.grad((out * torch.arange(8.0, dtype=torch.float64)).sum(), x)
    torch.testing.assert_close(g, torch.arange(8.0, dtype=torch.float64) * surrogate.sigmoid_surrogate_grad(x.detach(), 2.0))


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be positive"):
        surrogate.Sigmoid(alpha)
