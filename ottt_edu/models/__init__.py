"""Spiking networks built for OTTT and for BPTT / 脉冲网络模型。

The MLP and CNN of the notebooks and their registry (``mlp_cnn``), the OTTT paper's VGG
(``vgg``).
"""
from .mlp_cnn import (ModelConfig, MODELS, NEURONS, register_model, build_model, mlp, cnn,
                      make_neuron, parametric_layers, copy_weights)

__all__ = [
    "ModelConfig", "MODELS", "NEURONS", "register_model", "build_model", "mlp", "cnn",
    "make_neuron", "parametric_layers", "copy_weights",
]
