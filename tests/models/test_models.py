"""Tests for ottt_edu.models: shapes, OTTT/BPTT twins with the same state_dict keys, the
wrapping OTTTSequential applies, identical eval-mode outputs, and bad configurations."""
import pytest
import torch
from torch import nn

from ottt_edu import LIFNode, OTTTLIFNode, OTTTSequential, reset_net
from ottt_edu.models import (ModelConfig, build_model, cnn, copy_weights, mlp, parametric_layers,
                             register_model, MODELS)


@pytest.mark.parametrize("factory", [mlp, cnn])
def test_twins_share_state_dict_keys_and_eval_outputs(factory):
    torch.manual_seed(0)
    o = factory(neuron="ottt")
    b = factory(neuron="bptt")
    assert isinstance(o, OTTTSequential) and not isinstance(b, OTTTSequential)
    assert list(o.state_dict()) == list(b.state_dict())
    copy_weights(o, b)
    o.eval(), b.eval()
    x = torch.rand(4, 5, 1, 8, 8) * 3                    # (T, B, C, H, W)
    for t in range(4):
        torch.testing.assert_close(o(x[t]), b(x[t]))     # same dynamics, same weights
    reset_net(o), reset_net(b)


def test_neurons_have_ottt_dynamics_in_both_versions():
    o = mlp((8,), neuron="ottt", tau=3.0)
    b = mlp((8,), neuron="bptt", tau=3.0)
    lo, lb = o.lif1, b.lif1
    assert isinstance(lo, OTTTLIFNode) and type(lb) is LIFNode
    assert (lb.decay_input, lb.v_reset, lb.detach_reset) == (False, None, True)
    assert lo.tau == lb.tau == 3.0


def test_mlp_training_mode_output_and_wrapping():
    o = mlp((16, 12), neuron="ottt")
    out = o(torch.rand(3, 1, 8, 8))
    assert out.shape == (3, 10)
    assert [w for _, w in o.wrapping()] == [
        "SpikeTraceOp", "GradwithTrace", "neuron (spike only)",
        "GradwithTrace", "neuron (spike only)", "GradwithTrace"]
    assert list(parametric_layers(o)) == ["fc1", "fc2", "readout"]
    reset_net(o)


def test_cnn_shapes_for_mnist_sized_input():
    c = cnn((4, 6), neuron="ottt", in_shape=(1, 28, 28))
    assert c.readout.in_features == 6 * 7 * 7
    assert c(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert list(parametric_layers(c)) == ["conv1", "conv2", "readout"]


def test_dropout_layers_are_ottt_dropout():
    from ottt_edu import Dropout
    o = mlp((8,), dropout=0.5)
    assert isinstance(o.drop1, Dropout)


def test_copy_weights_rejects_different_layouts():
    with pytest.raises(ValueError, match="parameter names differ"):
        copy_weights(mlp((8,)), mlp((8, 8), neuron="bptt"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="rnn"), "unknown model kind 'rnn'"),
    (dict(neuron="lif"), "unknown neuron 'lif'"),
    (dict(tau=1.0), "tau must be greater than 1"),
    (dict(in_shape=(8, 8)), r"in_shape must be \(C, H, W\)"),
    (dict(hidden=(0,)), "layer widths must be positive"),
    (dict(n_classes=1), "n_classes"),
    (dict(dropout=1.0), "dropout"),
])
def test_bad_model_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


def test_cnn_too_many_stages_for_input():
    with pytest.raises(ValueError, match="too small"):
        build_model(ModelConfig("cnn", in_shape=(1, 4, 4), channels=(2, 2, 2, 2)))


def test_register_model():
    try:
        register_model("tiny_for_test", lambda cfg: nn.Sequential(nn.Flatten(), nn.Linear(64, cfg.n_classes)))
        assert build_model(ModelConfig("tiny_for_test")).__class__ is nn.Sequential
        with pytest.raises(ValueError, match="already registered"):
            register_model("mlp", lambda cfg: None)
    finally:
        MODELS.pop("tiny_for_test", None)


def test_sltt_twin_shares_keys_dynamics_and_eval_outputs():
    from ottt_edu import SLTTLIFNode
    for factory in (mlp, cnn):
        torch.manual_seed(0)
        o, s = factory(neuron="ottt"), factory(neuron="sltt")
        assert type(s) is nn.Sequential and isinstance(s.lif1, SLTTLIFNode)
        assert (s.lif1.decay_input, s.lif1.v_reset, s.lif1.detach_reset) == (False, None, True)
        assert list(o.state_dict()) == list(s.state_dict())
        copy_weights(o, s)
        o.eval(), s.eval()
        x = torch.rand(4, 5, 1, 8, 8) * 3
        for t in range(4):
            torch.testing.assert_close(o(x[t]), s(x[t]))
        reset_net(o), reset_net(s)


def test_sltt_vgg_has_the_ottt_vgg_keys():
    from ottt_edu import SLTTLIFNode
    from ottt_edu.models.vgg import spiking_vgg
    o, s = spiking_vgg(width=1 / 16, neuron="ottt"), spiking_vgg(width=1 / 16, neuron="sltt")
    assert list(o.state_dict()) == list(s.state_dict())
    assert any(isinstance(m, SLTTLIFNode) for m in s.modules())
