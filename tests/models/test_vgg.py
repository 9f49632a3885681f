"""Tests for ottt_edu.models.vgg: scaled weight standardization, Scale, the paper's spiking VGG."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu import OTTTLIFNode, LIFNode, reset_net
from ottt_edu.models.vgg import VGG_CFG, OTTTSpikingVGG, Scale, ScaledWSConv2d, spiking_vgg


def smooth_images(batch: int, generator: torch.Generator) -> torch.Tensor:
    """Random CIFAR-shaped images (B, 3, 32, 32), spatially smooth like natural images.

    White noise averages out in the three AvgPool2d(2) stages, so the last layers of an
    untrained VGG would not fire at all; bilinear upsampling of 8x8 noise keeps the
    correlation that real images have.
    """
    x = torch.randn(batch, 3, 8, 8, generator=generator)
    x = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    return x / x.std()


def ce_mse(out: torch.Tensor, y: torch.Tensor, alpha: float = 0.05) -> torch.Tensor:
    return (1 - alpha) * F.cross_entropy(out, y) + alpha * F.mse_loss(out, F.one_hot(y, out.shape[1]).float())


# -- ScaledWSConv2d -----------------------------------------------------------------------------
def test_ws_weight_is_standardized_per_output_channel():
    torch.manual_seed(0)
    conv = ScaledWSConv2d(5, 7, 3, eps=1e-12)
    with torch.no_grad():
        conv.weight.mul_(3.0).add_(0.5)
    w = conv.get_weight()                               # (7, 5, 3, 3)
    fan_in = 5 * 3 * 3
    flat = w.flatten(1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(7), atol=1e-6, rtol=0)
    # unbiased variance * fan_in == 1, i.e. each row has (almost) unit squared norm
    torch.testing.assert_close(flat.var(1) * fan_in, torch.ones(7), atol=1e-5, rtol=0)


def test_ws_weight_matches_formula_with_gain_and_gamma():
    torch.manual_seed(1)
    conv = ScaledWSConv2d(3, 4, 3, gamma=2.0)
    with torch.no_grad():
        conv.gain.copy_(torch.tensor([0.5, 1.0, 2.0, 3.0]).view(4, 1, 1, 1))
    W = conv.weight.detach()
    mean = W.mean(dim=(1, 2, 3), keepdim=True)
    var = W.var(dim=(1, 2, 3), keepdim=True, unbiased=True)
    expected = 2.0 * conv.gain.detach() * (W - mean) / torch.sqrt(var * 27 + 1e-4)
    torch.testing.assert_close(conv.get_weight().detach(), expected)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(conv(x), F.conv2d(x, expected, conv.bias))


def test_ws_conv_gradcheck_float64():
    torch.manual_seed(2)
    conv = ScaledWSConv2d(2, 3, 3, padding=1).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)

    def f(x, weight, gain, bias):
        conv.weight, conv.gain, conv.bias = weight, gain, bias
        return conv(x)

    params = [conv.weight.detach().clone().requires_grad_(),
              conv.gain.detach().clone().requires_grad_(),
              conv.bias.detach().clone().requires_grad_()]
    del conv.weight, conv.gain, conv.bias                  # let f plug in plain tensors
    assert torch.autograd.gradcheck(f, (x, *params))


def test_ws_conv_without_gain_and_bad_args():
    conv = ScaledWSConv2d(2, 3, 3, gain=False)
    assert conv.gain is None and conv(torch.randn(1, 2, 5, 5)).shape == (1, 3, 3, 3)
    with pytest.raises(ValueError, match="eps must be positive"):
        ScaledWSConv2d(2, 3, 3, eps=0.0)
    with pytest.raises(ValueError, match="at least 2 weights"):
        ScaledWSConv2d(1, 3, 1)


def test_scale_is_parameter_free_multiplication():
    s = Scale(2.74)
    assert list(s.parameters()) == []
    x = torch.randn(3, 4)
    torch.testing.assert_close(s(x), 2.74 * x)


# -- the network --------------------------------------------------------------------------------
def test_paper_network_layout_and_size():
    net = spiking_vgg()
    convs = [m for m in net.features if isinstance(m, ScaledWSConv2d)]
    assert [c.out_channels for c in convs] == [v for v in VGG_CFG if v != "A"]
    assert sum(isinstance(m, nn.AvgPool2d) for m in net.features) == 3
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    # after every neuron comes Scale(2.74)
    feats = list(net.features)
    for i, m in enumerate(feats):
        if isinstance(m, OTTTLIFNode):
            assert isinstance(feats[i + 1], Scale) and feats[i + 1].scale == 2.74
    assert isinstance(net.classifier[0], nn.AdaptiveAvgPool2d)
    assert net.classifier[2].in_features == 512 and net.classifier[2].out_features == 10
    assert sum(p.numel() for p in net.parameters()) == 9_228_362


def test_width_multiplier_and_shapes():
    net = spiking_vgg(num_classes=7, width=1 / 16, in_channels=1)
    convs = [m for m in net.features if isinstance(m, ScaledWSConv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16, 16, 32, 32, 32, 32]
    net.eval()
    out = net(torch.rand(2, 1, 32, 32))
    assert out.shape == (2, 7)
    reset_net(net)
    net.train()
    assert net(torch.rand(2, 1, 16, 16)).shape == (2, 7)   # adaptive pool: any size >= 8


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="width must be positive"):
        spiking_vgg(width=0)
    with pytest.raises(ValueError, match="neuron must be 'ottt'"):
        spiking_vgg(neuron="if")
    with pytest.raises(ValueError, match="cfg entries"):
        OTTTSpikingVGG(cfg=(8, "M"))
    with pytest.raises(ValueError, match="dropout must be in"):
        spiking_vgg(dropout=1.0)


def test_dropout_and_threshold_options():
    from ottt_edu import Dropout
    net = spiking_vgg(width=1 / 16, dropout=0.1, v_threshold=0.5)
    feats = list(net.features)
    drops = [i for i, m in enumerate(feats) if isinstance(m, Dropout)]
    assert len(drops) == 8 and all(isinstance(feats[i - 1], Scale) for i in drops)
    assert all(m.v_threshold == 0.5 for m in net.modules() if isinstance(m, OTTTLIFNode))


def test_narrow_vgg_one_ottt_a_step_reaches_every_layer():
    """One OTTT_A step (T=6, per-step loss / T) gives every parameter a finite nonzero gradient."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    net = spiking_vgg(width=1 / 16)
    x = smooth_images(4, g)                              # (B, 3, 32, 32)
    y = torch.randint(0, 10, (4,), generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    T = 6
    for t in range(T):
        out = net(x)                                     # (B, 10)
        (ce_mse(out, y) / T).backward()
    opt.step()
    reset_net(net)
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"
        assert not torch.equal(p.detach(), before[name]), f"{name} was not updated"


def test_ottt_equals_bptt_for_one_time_step():
    """With T=1 the trace equals the spike, so OTTT's gradient is exactly BPTT's."""
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(3)
    ottt = spiking_vgg(width=1 / 16, neuron="ottt")
    bptt = spiking_vgg(width=1 / 16, neuron="bptt")
    assert any(isinstance(m, LIFNode) and not isinstance(m, OTTTLIFNode) for m in bptt.modules())
    bptt.load_state_dict(ottt.state_dict())
    x = smooth_images(3, g)
    y = torch.tensor([1, 4, 9])
    for net in (ottt, bptt):
        ce_mse(net(x), y).backward()
    for (n, p), (_, q) in zip(ottt.named_parameters(), bptt.named_parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=f"gradient of {n}")


def test_fast_path_and_two_pass_agree_on_the_vgg():
    """ScaledWSConv2d follows the get_weight() protocol, so GradwithTrace's single-pass fast
    path applies to it; its gradients must equal the two-pass reference."""
    from ottt_edu.layer.fast_path import supports_fast_path
    assert supports_fast_path(ScaledWSConv2d(4, 8, 3, padding=1))
    torch.manual_seed(4)
    g = torch.Generator().manual_seed(4)
    fast = spiking_vgg(width=1 / 16).double()
    ref = spiking_vgg(width=1 / 16).double()
    ref.load_state_dict(fast.state_dict())
    for seq in (ref.features, ref.classifier):
        seq.grad_path = "two_pass"
    x = smooth_images(3, g).double()
    y = torch.tensor([0, 5, 7])
    for net in (fast, ref):
        for t in range(3):
            (ce_mse(net(x), y) / 3).backward()
        reset_net(net)
    for (n, p), (_, q) in zip(fast.named_parameters(), ref.named_parameters()):
        assert p.grad.abs().sum() > 0
        torch.testing.assert_close(p.grad, q.grad, msg=f"gradient of {n}")
