"""Measure what OTTT trades: memory, time and gradient alignment / 测量显存、时间与梯度对齐。

``cost`` (memory and time per iteration, gradient cosine to BPTT, spike records) and
``autograd_memory`` (``SavedTensorMeter``: the bytes autograd keeps for backward).
"""
from .cost import (IterationMeasurement, measure_iteration, memory_time_vs_T, weight_gradients,
                   cosine_similarity, gradient_cosine, OTTTvsBPTT, ottt_vs_bptt, digits_batch,
                   record_spikes, firing_rates, ALL_METHODS, method_models, measure_training_step,
                   methods_vs_T, gradient_cosine_to_bptt, MethodsVsBPTT, methods_vs_bptt)
from .autograd_memory import SavedTensorMeter

__all__ = [
    "IterationMeasurement", "measure_iteration", "memory_time_vs_T", "weight_gradients",
    "cosine_similarity", "gradient_cosine", "OTTTvsBPTT", "ottt_vs_bptt", "digits_batch",
    "record_spikes", "firing_rates", "ALL_METHODS", "method_models", "measure_training_step",
    "methods_vs_T", "gradient_cosine_to_bptt", "MethodsVsBPTT", "methods_vs_bptt",
    "SavedTensorMeter",
]
