"""Measure what OTTT trades: memory and time per iteration, and how close its gradients are to BPTT.

English
    Three measurements, all taken for real on the current machine:

    (a) memory per training iteration (forward + backward over T steps): the peak bytes of
        tensors autograd saves for backward (``SavedTensorMeter``, any device), and on CUDA the
        peak allocated memory above the baseline. OTTT frees each step's graph after its own
        ``backward()``, so its memory is flat in T; BPTT keeps all T steps, so it grows linearly.
    (b) per-layer cosine similarity between OTTT's and BPTT's weight gradients on the same batch
        and the same weights: 1 for T = 1 (the two are identical), and close to 1 for small T.
    (c) wall-clock time per iteration (the median of a few repeats after a warm-up).

    Also: ``record_spikes`` / ``firing_rates`` for rasters and per-layer rates of a network.

    The five training methods side by side (BPTT, OTTT_A, OTTT_O, SLTT, FPTT; ``ALL_METHODS``):
    ``method_models`` builds one network per method with the same weights,
    ``measure_training_step`` / ``methods_vs_T`` measure a whole training iteration as the
    trainer runs it (optimizer steps and FPTT's second pass included), and
    ``gradient_cosine_to_bptt`` / ``methods_vs_bptt`` compare each method's weight gradient at
    fixed weights with BPTT's, per layer.
中文
    测量 OTTT 的代价与收益: (a) 每次迭代的训练显存/内存 (反向传播保存的张量字节数, CUDA 上另测峰值
    显存); (b) 同一批数据、同一权重下 OTTT 与 BPTT 权重梯度的逐层余弦相似度; (c) 每次迭代耗时。

Cosine similarity of two gradients ``g_o`` (OTTT) and ``g_b`` (BPTT) of one layer::

    cos = <g_o, g_b> / (|g_o| |g_b|)

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Sec. 4.3 and Fig. 2 (gradient similarity, memory vs T).
"""
from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from .autograd_memory import SavedTensorMeter
from ..functional.encoding import make_encoder
from ..functional.state import reset_net
from ..models import ModelConfig, build_model, copy_weights, parametric_layers
from ..neuron.lif import LIFNode
from ..train.online_steps import DEFAULT_FPTT_ALPHA, online_backward
from ..train import (METHOD_NEURONS, LossFn, TrainConfig, bptt_backward, cross_entropy_loss,
                     make_step, ottt_backward)

__all__ = [
    "IterationMeasurement",
    "measure_iteration",
    "memory_time_vs_T",
    "weight_gradients",
    "cosine_similarity",
    "gradient_cosine",
    "OTTTvsBPTT",
    "ottt_vs_bptt",
    "digits_batch",
    "record_spikes",
    "firing_rates",
    "ALL_METHODS",
    "method_models",
    "measure_training_step",
    "methods_vs_T",
    "gradient_cosine_to_bptt",
    "MethodsVsBPTT",
    "methods_vs_bptt",
]

#: The training methods of ``ottt_edu.train``, BPTT first (the reference of every ratio).
ALL_METHODS = ("bptt", "ottt_a", "ottt_o", "sltt", "fptt")


def _backward_fn(method: str) -> Callable:
    """Forward + backward at fixed weights. ``'sltt'``/``'fptt'``: ``online_backward`` (per-step
    backward, state detached after each step; for FPTT the data gradient of its first updates)."""
    if method in ("ottt", "ottt_a", "ottt_o"):
        return ottt_backward
    if method == "bptt":
        return bptt_backward
    if method in ("sltt", "fptt"):
        return online_backward
    raise ValueError(f"unknown method {method!r}; choose 'ottt' (or 'ottt_a'/'ottt_o'), 'bptt', "
                     f"'sltt' or 'fptt'.")


@dataclass
class IterationMeasurement:
    """One training iteration (forward + backward over T steps) of one method.

    ``saved_bytes``: peak bytes saved for backward; ``cuda_peak_bytes``: peak CUDA memory
    allocated above the baseline (``None`` on CPU); ``seconds``: median wall time.
    """

    method: str
    T: int
    saved_bytes: int
    cuda_peak_bytes: Optional[int]
    seconds: float


def measure_iteration(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor, method: str,
                      loss_fn: LossFn = cross_entropy_loss, repeats: int = 3,
                      warmup: int = 1) -> IterationMeasurement:
    """Measure memory and time of forward + backward of ``method`` on ``x_seq`` ``(T, B, ...)``.

    ``model`` must be the matching version (``OTTTSequential`` for OTTT, ``LIFNode`` network
    for BPTT). Gradients are zeroed before each repeat and left in ``.grad`` at the end.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}.")
    backward = _backward_fn(method)
    model.train()
    cuda = x_seq.is_cuda

    def once() -> None:
        model.zero_grad(set_to_none=True)
        reset_net(model)
        backward(model, x_seq, y, loss_fn)
        reset_net(model)

    for _ in range(warmup):
        once()
    saved, cuda_peak = _memory_of_one_run(once, model, x_seq)
    # time: median of repeats
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(x_seq.device)
        t0 = time.perf_counter()
        once()
        if cuda:
            torch.cuda.synchronize(x_seq.device)
        times.append(time.perf_counter() - t0)
    return IterationMeasurement(method, int(x_seq.shape[0]), saved, cuda_peak,
                                statistics.median(times))


def _memory_of_one_run(run: Callable[[], Any], model: nn.Module, x_seq: torch.Tensor
                       ) -> tuple[int, Optional[int]]:
    """Run ``run()`` once; return (peak bytes saved for backward, CUDA peak above the baseline
    or ``None`` on CPU). Gradients are cleared first so the CUDA baseline excludes them."""
    cuda, base = x_seq.is_cuda, 0
    if cuda:
        torch.cuda.synchronize(x_seq.device)
        model.zero_grad(set_to_none=True)
        base = torch.cuda.memory_allocated(x_seq.device)
        torch.cuda.reset_peak_memory_stats(x_seq.device)
    with SavedTensorMeter() as meter:
        run()
    cuda_peak = None
    if cuda:
        torch.cuda.synchronize(x_seq.device)
        cuda_peak = int(torch.cuda.max_memory_allocated(x_seq.device) - base)
    return int(meter.peak_bytes), cuda_peak


def _time_once(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor, method: str) -> float:
    backward = _backward_fn(method)
    cuda = x_seq.is_cuda
    model.zero_grad(set_to_none=True)
    reset_net(model)
    if cuda:
        torch.cuda.synchronize(x_seq.device)
    t0 = time.perf_counter()
    backward(model, x_seq, y)
    if cuda:
        torch.cuda.synchronize(x_seq.device)
    seconds = time.perf_counter() - t0
    reset_net(model)
    return seconds


def memory_time_vs_T(Ts: Sequence[int] = (1, 2, 4, 8, 16, 32),
                     model_config: Optional[ModelConfig] = None, batch_size: int = 64,
                     repeats: int = 3, seed: int = 0, device: str = "cpu",
                     methods: Sequence[str] = ("ottt", "bptt")) -> list[dict]:
    """For every T, measure ``methods`` on the same digits batch and the same weights.

    Memory comes from one iteration per method (``measure_iteration``). Time: ``repeats``
    rounds in which every method runs once, the order rotating each round (so all methods see
    the same machine load); the median and the minimum are kept.

    Returns one row per T: ``{'T', '<m>_bytes', '<m>_cuda_bytes', '<m>_s', '<m>_s_min'}`` for
    each method ``m``, plus ``'bytes_ratio'`` and ``'time_ratio'`` (BPTT / OTTT, medians) when
    both are measured. Default model: ``ModelConfig('mlp', hidden=(256,))`` on 8x8 digits.
    """
    if not Ts or any(int(T) < 1 for T in Ts):
        raise ValueError(f"every T must be >= 1, got {list(Ts)}.")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    cfg = ModelConfig("mlp", hidden=(256,)) if model_config is None else model_config
    x, y = digits_batch(batch_size, seed)
    x, y = x.to(device), y.to(device)
    if tuple(x.shape[1:]) != cfg.in_shape:
        x = torch.nn.functional.interpolate(x, size=cfg.in_shape[1:]).expand(-1, cfg.in_shape[0], -1, -1)
    torch.manual_seed(seed)
    models = {}
    for m in methods:
        neuron = METHOD_NEURONS.get(m, "ottt")
        models[m] = build_model(ModelConfig(**{**cfg.__dict__, "neuron": neuron})).to(device)
    for m in methods[1:]:
        copy_weights(models[methods[0]], models[m])
    rows = []
    encoder = make_encoder("direct")
    for T in Ts:
        x_seq = encoder(x, int(T))                      # (T, B, C, H, W)
        row: dict = {"T": int(T)}
        for m in methods:
            r = measure_iteration(models[m], x_seq, y, m, repeats=1)
            row[f"{m}_bytes"] = r.saved_bytes
            row[f"{m}_cuda_bytes"] = r.cuda_peak_bytes
        times: dict[str, list[float]] = {m: [] for m in methods}
        for i in range(repeats):
            order = list(methods[i % len(methods):]) + list(methods[:i % len(methods)])
            for m in order:
                times[m].append(_time_once(models[m], x_seq, y, m))
        for m in methods:
            row[f"{m}_s"] = statistics.median(times[m])
            row[f"{m}_s_min"] = min(times[m])
        if "ottt" in methods and "bptt" in methods:
            row["bytes_ratio"] = row["bptt_bytes"] / row["ottt_bytes"]
            row["time_ratio"] = row["bptt_s"] / row["ottt_s"]
        rows.append(row)
    return rows


def weight_gradients(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor, method: str,
                     loss_fn: LossFn = cross_entropy_loss) -> dict[str, torch.Tensor]:
    """``{layer name: dL/dW}`` for every layer with a weight, from one forward/backward."""
    backward = _backward_fn(method)
    model.train()
    model.zero_grad(set_to_none=True)
    reset_net(model)
    backward(model, x_seq, y, loss_fn)
    reset_net(model)
    grads = {}
    for name, layer in parametric_layers(model).items():
        g = layer.weight.grad
        grads[name] = torch.zeros_like(layer.weight) if g is None else g.detach().clone()
    return grads


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> float:
    """``<a, b> / (|a| |b|)`` over all entries; ``nan`` if either is (numerically) zero."""
    a, b = a.flatten().double(), b.flatten().double()
    na, nb = a.norm(), b.norm()
    if na < eps or nb < eps:
        return float("nan")
    return float((a @ b) / (na * nb))


def gradient_cosine(ottt_model: nn.Module, bptt_model: nn.Module, x_seq: torch.Tensor,
                    y: torch.Tensor, loss_fn: LossFn = cross_entropy_loss,
                    copy: bool = True) -> dict[str, float]:
    """Per-layer cosine similarity of OTTT's and BPTT's weight gradients on one batch.

    With ``copy=True`` the BPTT model first receives the OTTT model's weights, so both see the
    same weights. ``x_seq`` is ``(T, B, ...)``.
    """
    if copy:
        copy_weights(ottt_model, bptt_model)
    g_o = weight_gradients(ottt_model, x_seq, y, "ottt", loss_fn)
    g_b = weight_gradients(bptt_model, x_seq, y, "bptt", loss_fn)
    return {name: cosine_similarity(g_o[name], g_b[name]) for name in g_o}


@functools.lru_cache(maxsize=8)
def _digits_batch(batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    from ..data import load_dataset

    train = load_dataset("digits", seed=0).train
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:batch_size]
    x, y = train.tensors
    return x[idx].clone(), y[idx].clone()


def digits_batch(batch_size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of training digits: images ``(B, 1, 8, 8)`` in [0, 1], labels ``(B,)``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    x, y = _digits_batch(int(batch_size), int(seed))
    return x.clone(), y.clone()


@dataclass
class OTTTvsBPTT:
    """Result of ``ottt_vs_bptt``: per-layer gradient cosine and saved-tensor bytes per method."""

    T: int
    tau: float
    cosine: dict[str, float]
    ottt_bytes: int
    bptt_bytes: int


@functools.lru_cache(maxsize=32)
def _warm_start(tau: float, seed: int, hidden: tuple[int, ...], steps: int) -> dict:
    """Weights of ``mlp(hidden)`` after ``steps`` OTTT_A steps (Adam, lr 1e-2, T=4) on a digits
    batch other than the measured one: at initialisation the hidden layer hardly fires, and
    with no spikes the read-out gradient is zero for both methods."""
    from ..train import ottt_a_step

    torch.manual_seed(seed)
    model = build_model(ModelConfig("mlp", "ottt", tau, hidden=hidden))
    if steps:
        x, y = digits_batch(256, seed + 1)
        x_seq = make_encoder("direct")(x, 4)            # (4, 256, 1, 8, 8)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(steps):
            ottt_a_step(model, x_seq, y, optimizer)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def ottt_vs_bptt(T: int = 6, tau: float = 2.0, *, seed: int = 0, batch_size: int = 64,
                 hidden: tuple[int, ...] = (64,), warm_start_steps: int = 30) -> OTTTvsBPTT:
    """Compare OTTT and BPTT on a small MLP and a fixed digits batch, same weights for both.

    Builds ``mlp(hidden)`` twice (OTTT and BPTT neurons) with the same weights: seeded with
    ``seed`` and briefly trained (``warm_start_steps`` OTTT_A steps on another batch, so that
    the hidden layer fires; 0 keeps the initial weights), runs one forward/backward of each
    over ``T`` steps with direct encoding on ``digits_batch(batch_size, seed)``, and returns the
    per-layer cosine similarity of their weight gradients and the peak bytes each saved for
    backward. Fast (tens of milliseconds; the warm start is cached per ``tau, seed, hidden``),
    for interactive widgets.
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}.")
    if not tau > 1.0:
        raise ValueError(f"tau must be greater than 1, got {tau}.")
    if warm_start_steps < 0:
        raise ValueError(f"warm_start_steps must be >= 0, got {warm_start_steps}.")
    hidden = tuple(int(h) for h in hidden)
    state = _warm_start(float(tau), int(seed), hidden, int(warm_start_steps))
    ottt_model = build_model(ModelConfig("mlp", "ottt", tau, hidden=hidden))
    bptt_model = build_model(ModelConfig("mlp", "bptt", tau, hidden=hidden))
    ottt_model.load_state_dict(state)
    bptt_model.load_state_dict(state)
    x, y = digits_batch(batch_size, seed)
    x_seq = make_encoder("direct")(x, T)                # (T, B, 1, 8, 8)
    with SavedTensorMeter() as m_o:
        g_o = weight_gradients(ottt_model, x_seq, y, "ottt")
    with SavedTensorMeter() as m_b:
        g_b = weight_gradients(bptt_model, x_seq, y, "bptt")
    cosine = {name: cosine_similarity(g_o[name], g_b[name]) for name in g_o}
    return OTTTvsBPTT(T, float(tau), cosine, int(m_o.peak_bytes), int(m_b.peak_bytes))


# ---------------------------------------------------------------------------------------------
# the five methods side by side
# ---------------------------------------------------------------------------------------------
def _check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    methods = tuple(methods)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if not methods or unknown or len(set(methods)) != len(methods):
        raise ValueError(f"methods must be distinct names from {list(ALL_METHODS)}, got "
                         f"{list(methods)}.")
    return methods


def method_models(model_config: Optional[ModelConfig] = None,
                  methods: Sequence[str] = ALL_METHODS, seed: int = 0,
                  state_dict: Optional[dict] = None) -> dict[str, nn.Module]:
    """One network per method, all with the same weights / 每种方法一个网络, 权重相同。

    ``build_model`` with ``neuron=METHOD_NEURONS[method]`` (OTTT: ``OTTTSequential`` +
    ``OTTTLIFNode``; SLTT: ``SLTTLIFNode``; BPTT and FPTT: ``LIFNode``), the same dynamics and the
    same ``state_dict`` keys; the weights are those of the first network (seeded with ``seed``)
    or ``state_dict``. Default architecture: ``ModelConfig('mlp', hidden=(256,))`` on 8x8 digits.
    """
    methods = _check_methods(methods)
    cfg = ModelConfig("mlp", hidden=(256,)) if model_config is None else model_config
    torch.manual_seed(seed)
    models = {m: build_model(ModelConfig(**{**cfg.__dict__, "neuron": METHOD_NEURONS[m]}))
              for m in methods}
    first = models[methods[0]]
    if state_dict is not None:
        first.load_state_dict(state_dict)
    for m in methods[1:]:
        copy_weights(first, models[m])
    return models


def _training_step(method: str, T: int, fptt_alpha: float, sltt_k: Optional[int]) -> Callable:
    return make_step(TrainConfig(method=method, T=T, fptt_alpha=fptt_alpha,
                                 sltt_k=sltt_k if method == "sltt" else None))


def _run_step(step: Callable, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn) -> float:
    cuda = x_seq.is_cuda
    if cuda:
        torch.cuda.synchronize(x_seq.device)
    t0 = time.perf_counter()
    step(model, x_seq, y, optimizer, loss_fn)
    if cuda:
        torch.cuda.synchronize(x_seq.device)
    return time.perf_counter() - t0


def measure_training_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor, method: str,
                          loss_fn: LossFn = cross_entropy_loss, repeats: int = 3, warmup: int = 1,
                          fptt_alpha: float = DEFAULT_FPTT_ALPHA,
                          sltt_k: Optional[int] = None) -> IterationMeasurement:
    """Memory and time of one training iteration of ``method``, as ``fit`` runs it.

    The whole per-batch step of the trainer (``train.make_step``): forward and backward over T
    *and* the optimizer step(s) (OTTT_O and FPTT: one per time step), FPTT's second pass and
    running average, SLTT-K's forward-only steps. The optimizer is plain SGD at ``lr=0``: its
    work is done but the weights do not move, so every repeat (and every method, given the
    same weights) sees the same spikes. ``model`` must be the method's network
    (``method_models``). ``x_seq`` is ``(T, B, ...)``. Memory: the peak bytes saved for backward
    (and on CUDA the peak allocated above the baseline) in one iteration; time: the median of
    ``repeats`` iterations after ``warmup``.
    """
    _check_methods([method])
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}.")
    step = _training_step(method, int(x_seq.shape[0]), fptt_alpha, sltt_k)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    model.train()
    for _ in range(warmup):
        step(model, x_seq, y, optimizer, loss_fn)
    saved, cuda_peak = _memory_of_one_run(lambda: step(model, x_seq, y, optimizer, loss_fn),
                                          model, x_seq)
    times = [_run_step(step, model, x_seq, y, optimizer, loss_fn) for _ in range(repeats)]
    return IterationMeasurement(method, int(x_seq.shape[0]), saved, cuda_peak,
                                statistics.median(times))


def methods_vs_T(Ts: Sequence[int] = (4, 8, 16, 32), methods: Sequence[str] = ALL_METHODS,
                 model_config: Optional[ModelConfig] = None, batch_size: int = 64,
                 repeats: int = 3, seed: int = 0, device: str = "cpu",
                 fptt_alpha: float = DEFAULT_FPTT_ALPHA,
                 sltt_k: Optional[int] = None) -> list[dict]:
    """For every T, measure a training iteration of every method on the same batch and weights.

    One network per method (``method_models``), one fixed digits batch, direct encoding.
    Memory: one iteration per method (``measure_training_step``). Time: ``repeats`` rounds in
    which every method runs once, the order rotating each round (so all methods see the same
    machine load); the median and the minimum are kept.

    Returns one row per T: ``{'T', '<m>_bytes', '<m>_cuda_bytes', '<m>_s', '<m>_s_min'}`` for
    each method ``m`` and, when ``'bptt'`` is measured, ``'<m>_bytes_vs_bptt'`` and
    ``'<m>_time_vs_bptt'`` (method / BPTT: below 1 is less memory or less time than BPTT).
    """
    methods = _check_methods(methods)
    if not Ts or any(isinstance(T, bool) or int(T) != T or int(T) < 1 for T in Ts):
        raise ValueError(f"every T must be an integer >= 1, got {list(Ts)}.")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}.")
    if sltt_k is not None and "sltt" in methods and sltt_k > min(Ts):
        raise ValueError(f"sltt_k={sltt_k} exceeds the smallest T ({min(Ts)}).")
    cfg = ModelConfig("mlp", hidden=(256,)) if model_config is None else model_config
    x, y = digits_batch(batch_size, seed)
    x, y = x.to(device), y.to(device)
    if tuple(x.shape[1:]) != cfg.in_shape:
        x = torch.nn.functional.interpolate(x, size=cfg.in_shape[1:]).expand(-1, cfg.in_shape[0], -1, -1)
    models = {m: net.to(device) for m, net in method_models(cfg, methods, seed).items()}
    optimizers = {m: torch.optim.SGD(models[m].parameters(), lr=0.0) for m in methods}
    encoder = make_encoder("direct")
    rows = []
    for T in Ts:
        T = int(T)
        x_seq = encoder(x, T)                           # (T, B, C, H, W)
        steps = {m: _training_step(m, T, fptt_alpha, sltt_k) for m in methods}
        row: dict = {"T": T}
        for m in methods:
            r = measure_training_step(models[m], x_seq, y, m, repeats=1, fptt_alpha=fptt_alpha,
                                      sltt_k=sltt_k)
            row[f"{m}_bytes"] = r.saved_bytes
            row[f"{m}_cuda_bytes"] = r.cuda_peak_bytes
        times: dict[str, list[float]] = {m: [] for m in methods}
        for i in range(repeats):
            order = list(methods[i % len(methods):]) + list(methods[:i % len(methods)])
            for m in order:
                times[m].append(_run_step(steps[m], models[m], x_seq, y, optimizers[m],
                                          cross_entropy_loss))
        for m in methods:
            row[f"{m}_s"] = statistics.median(times[m])
            row[f"{m}_s_min"] = min(times[m])
        if "bptt" in methods:
            for m in methods:
                row[f"{m}_bytes_vs_bptt"] = row[f"{m}_bytes"] / row["bptt_bytes"]
                row[f"{m}_time_vs_bptt"] = row[f"{m}_s"] / row["bptt_s"]
        rows.append(row)
    return rows


def gradient_cosine_to_bptt(models: dict[str, nn.Module], x_seq: torch.Tensor, y: torch.Tensor,
                            loss_fn: LossFn = cross_entropy_loss,
                            copy: bool = True) -> dict[str, dict[str, float]]:
    """Per-layer cosine similarity of each method's weight gradient to BPTT's, on one batch.

    ``models`` maps method names (``ALL_METHODS``) to their networks and must contain
    ``'bptt'`` (e.g. ``method_models(...)``); with ``copy=True`` every network first receives
    the BPTT network's weights. Gradients are taken at fixed weights (``weight_gradients``):
    OTTT_O's equals OTTT_A's (it only applies the same per-step gradients sooner), and FPTT's is
    the data gradient of its first updates, which equals SLTT's (the same per-step graphs; its
    regulariser is zero while ``w_ra`` equals the weights). Returns
    ``{method: {layer: cosine}}`` for every method but BPTT. ``x_seq`` is ``(T, B, ...)``.
    """
    if "bptt" not in models:
        raise ValueError(f"models must contain a 'bptt' network (the reference), got {sorted(models)}.")
    _check_methods(list(models))
    if copy:
        for m, net in models.items():
            if m != "bptt":
                copy_weights(models["bptt"], net)
    g_b = weight_gradients(models["bptt"], x_seq, y, "bptt", loss_fn)
    result = {}
    for m, net in models.items():
        if m == "bptt":
            continue
        g = weight_gradients(net, x_seq, y, m, loss_fn)
        result[m] = {name: cosine_similarity(g[name], g_b[name]) for name in g_b}
    return result


@dataclass
class MethodsVsBPTT:
    """Result of ``methods_vs_bptt``: per-method, per-layer gradient cosine to BPTT, and the
    peak bytes each method saved for backward in that forward/backward pass."""

    T: int
    tau: float
    cosine: dict[str, dict[str, float]]
    saved_bytes: dict[str, int]


def methods_vs_bptt(T: int = 6, tau: float = 2.0, *, methods: Sequence[str] = ALL_METHODS,
                    seed: int = 0, batch_size: int = 64, hidden: tuple[int, ...] = (64,),
                    warm_start_steps: int = 30) -> MethodsVsBPTT:
    """``ottt_vs_bptt`` for every method: gradient cosine to BPTT per layer, and saved bytes.

    The same small MLP and fixed digits batch as ``ottt_vs_bptt`` (weights briefly trained by
    OTTT_A so that the hidden layer fires; cached), one network per method with those weights,
    one forward/backward of each at fixed weights (see ``gradient_cosine_to_bptt``).
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}.")
    if not tau > 1.0:
        raise ValueError(f"tau must be greater than 1, got {tau}.")
    if warm_start_steps < 0:
        raise ValueError(f"warm_start_steps must be >= 0, got {warm_start_steps}.")
    methods = _check_methods(tuple(dict.fromkeys(("bptt",) + tuple(methods))))
    hidden = tuple(int(h) for h in hidden)
    state = _warm_start(float(tau), int(seed), hidden, int(warm_start_steps))
    models = method_models(ModelConfig("mlp", "ottt", tau, hidden=hidden), methods, seed, state)
    x, y = digits_batch(batch_size, seed)
    x_seq = make_encoder("direct")(x, T)                # (T, B, 1, 8, 8)
    grads, saved = {}, {}
    for m, net in models.items():
        with SavedTensorMeter() as meter:
            grads[m] = weight_gradients(net, x_seq, y, m)
        saved[m] = int(meter.peak_bytes)
    cosine = {m: {name: cosine_similarity(g[name], grads["bptt"][name]) for name in g}
              for m, g in grads.items() if m != "bptt"}
    return MethodsVsBPTT(T, float(tau), cosine, saved)


@torch.no_grad()
def record_spikes(model: nn.Module, x_seq: torch.Tensor) -> dict[str, torch.Tensor]:
    """Spikes of every neuron layer, ``{name: (T, B, ...)}``, running ``model`` in eval mode.

    Also returns the read-out under the key ``'output'``: ``(T, B, n_classes)``.
    """
    was_training = model.training
    model.eval()
    neurons = {name: m for name, m in model.named_modules() if isinstance(m, LIFNode)}
    spikes: dict[str, list] = {name: [] for name in neurons}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: spikes[name].append(out))
             for name, m in neurons.items()]
    outputs = []
    try:
        reset_net(model)
        for t in range(x_seq.shape[0]):
            outputs.append(model(x_seq[t]))
        reset_net(model)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    result = {name: torch.stack(s) for name, s in spikes.items()}
    result["output"] = torch.stack(outputs)
    return result


def firing_rates(model: nn.Module, x_seq: torch.Tensor) -> dict[str, float]:
    """Mean spikes per neuron per time step, per neuron layer (eval mode), in ``[0, 1]``."""
    rec = record_spikes(model, x_seq)
    return {name: float(s.float().mean()) for name, s in rec.items() if name != "output"}
