"""ReplaceforGrad: value from x_r, the same gradient to x and x_r."""
import pytest
import torch

from ottt_edu import ReplaceforGrad


def test_value_and_gradients():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x_r = torch.tensor([10.0, 20.0, 30.0], requires_grad=True)
    y = ReplaceforGrad.apply(x, x_r)
    torch.testing.assert_close(y, x_r.detach())
    w = torch.tensor([1.0, -2.0, 0.5])
    (y * w).sum().backward()
    torch.testing.assert_close(x.grad, w)
    torch.testing.assert_close(x_r.grad, w)


def test_gradcheck_float64():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    x_r = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    # The gradient is "wrong" for the value function on purpose, so gradcheck the
    # identity it does implement: d/dx of the sum of both inputs' contributions.
    # f(x, x_r) = ReplaceforGrad(x, x_r) has analytic Jacobian [I, I]; the numerical
    # Jacobian of a function whose value is x + x_r - x.detach() ... is the same [I, I].
    def as_function(a, b):
        return ReplaceforGrad.apply(a, b)

    def reference(a, b):
        return b + (a - a.detach())  # value b, gradient I to both

    out = as_function(x, x_r)
    ref = reference(x, x_r)
    torch.testing.assert_close(out, ref)
    g = torch.randn(4, 3, dtype=torch.float64)
    ga = torch.autograd.grad(out, (x, x_r), g)
    gb = torch.autograd.grad(ref, (x, x_r), g)
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b)
    # gradcheck proper. ReplaceforGrad alone cannot pass it (its value ignores x but its
    # gradient does not), by design. Adding x.detach() to the value makes the value x + x_r,
    # whose true Jacobian [I, I] is exactly what ReplaceforGrad's backward must produce.
    assert torch.autograd.gradcheck(lambda a, b: ReplaceforGrad.apply(a, b) + a.detach(), (x, x_r))


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        ReplaceforGrad.apply(torch.zeros(2), torch.zeros(3))
