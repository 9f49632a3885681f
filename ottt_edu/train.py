"""Training loops for spiking networks: OTTT_A, OTTT_O and BPTT, with a shared evaluation.

English
    All three methods minimise the same loss, the per-step cross-entropy averaged over T,
    ``L = (1/T) sum_t CE(out[t], y)``, and predict ``argmax_c sum_t out[t]``. They differ in
    *when* gradients are computed and applied:

    - ``ottt_a`` (OTTT, accumulated): ``backward()`` of ``L[t]/T`` at every step, right after
      the step's forward pass (the graph of one step is freed at once, so memory does not grow
      with T); the gradients add up over T and the optimizer steps once per batch.
    - ``ottt_o`` (OTTT, online): the same, but the optimizer steps after every time step, so
      the weights change *during* the sequence (truly online learning).
    - ``bptt``: the network is unrolled over T and ``backward()`` runs once through the whole
      graph (memory grows linearly with T); one optimizer step per batch.
    - ``sltt`` (SLTT, Meng et al. 2023) and ``fptt`` (FPTT, Kag & Saligrama 2021): online
      relatives from SpikingJelly, in ``ottt_edu.online_training``: SLTT is OTTT_A's loop on
      ``SLTTLIFNode`` s (no trace; SLTT-K with ``sltt_k``); FPTT steps the optimizer every time
      step with a regulariser towards a running average of the weights, kept across batches.

    The pieces are small and reusable: ``make_optimizer``, ``make_scheduler``, the per-method
    step functions in ``STEP_FUNCTIONS`` (their backward passes of steps ``0..T-2`` run inside a
    caller-supplied ``sync_context``, e.g. DistributedDataParallel's ``model.no_sync``),
    ``train_one_epoch``, ``evaluate`` and ``fit(TrainConfig)``, which calls ``on_epoch_end``
    callbacks with the whole ``TrainState``. The history is a plain, JSON-serialisable dict of
    lists: ``epoch, train_loss, train_acc, test_loss, test_acc, lr, time``.
中文
    三种方法使用相同的损失 (每步交叉熵之和除以 T) 与相同的预测 (输出对 T 求和后取 argmax),
    区别在于何时计算和应用梯度: OTTT_A 每步反向传播并累积梯度, 每批更新一次; OTTT_O 每步都更新;
    BPTT 沿时间展开后一次反向传播。

Training loop (SpikingJelly style)::

    for t in range(T):
        out = model(x[t])                 # (B, n_classes)
        loss = loss_fn(out, y) / T
        loss.backward()                   # OTTT: every step;  BPTT: sum the losses, backward once
    optimizer.step(); reset_net(model)

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Sec. 4.2 (OTTT_A / OTTT_O) and Algorithm 1; SpikingJelly's OTTT example.
"""
from __future__ import annotations

import contextlib
import functools
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, ContextManager, Iterable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ._checks import ArgumentTypeError, int_tuple, integer, real_number, seed_value
from .cifar import ce_mse_loss
from .data import DATASETS, DatasetSplits, load_dataset
from .encoding import ENCODINGS, make_encoder
from .memory import detach_net, reset_net
from .models import MODELS, ModelConfig, build_model
from .online_training import DEFAULT_FPTT_ALPHA, FPTTStep, fptt_step, sltt_step

__all__ = [
    "METHODS",
    "OPTIMIZERS",
    "SCHEDULERS",
    "LOSSES",
    "TrainConfig",
    "TrainState",
    "StepResult",
    "FitResult",
    "new_history",
    "make_optimizer",
    "make_scheduler",
    "make_loss",
    "make_loaders",
    "ottt_backward",
    "bptt_backward",
    "ottt_a_step",
    "ottt_o_step",
    "bptt_step",
    "STEP_FUNCTIONS",
    "METHOD_NEURONS",
    "make_step",
    "train_one_epoch",
    "evaluate",
    "predict",
    "fit",
    "resolve_device",
    "seed_everything",
]

METHODS = ("ottt_a", "ottt_o", "bptt", "sltt", "fptt")
#: The neuron each method trains (``ModelConfig.neuron``); all have the same dynamics.
METHOD_NEURONS = {"ottt_a": "ottt", "ottt_o": "ottt", "bptt": "bptt", "sltt": "sltt", "fptt": "bptt"}
OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "cosine")
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "time")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (out (B, C), y (B,)) -> scalar
SyncContext = Callable[[], ContextManager]


def cross_entropy_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-step loss ``CE(out[t], y)``, averaged over the batch."""
    return F.cross_entropy(out, y)


LOSSES: dict[str, LossFn] = {"ce": cross_entropy_loss, "ce_mse": ce_mse_loss}  # ce_mse: the paper's


def make_loss(name: str) -> LossFn:
    """The per-step loss function registered as ``name`` in ``LOSSES`` (``'ce'``)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}.")
    return LOSSES[name]


# Redraws of fit()'s progress bar per run (see fit).
PROGRESS_REFRESHES = 40

# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything one training run needs / 一次训练的全部配置。

    The defaults are the digits recipe: a 64-256-10 MLP, Adam at ``lr=3e-3`` with a cosine
    schedule, batch 32, 30 epochs, T=6 (OTTT_A: >= 97 % test accuracy on the 8x8 digits).
    ``method`` is ``'ottt_a'``, ``'ottt_o'``, ``'bptt'``, ``'sltt'`` or ``'fptt'``; the model is
    built with ``METHOD_NEURONS[method]`` (``'ottt'`` for both OTTT variants, ``'sltt'`` for SLTT,
    ``'bptt'`` — the plain LIF, whose state FPTT detaches after every step — for BPTT and FPTT).
    ``sltt_k`` (SLTT-K, only with ``'sltt'``): back-propagate at only that many randomly chosen
    steps of T (``None``: all). ``fptt_alpha``: FPTT's regularisation strength (used by
    ``'fptt'`` only; ``ottt_edu.online_training.fptt_step``). The trainer divides the data loss
    by T but not the regulariser, so ``fptt_alpha`` here is SpikingJelly's
    ``fptt_online_training`` alpha divided by T (``fptt_alpha=0.1`` at ``T=6`` is its 0.6). ``n_train``/``n_test`` keep a
    seeded subset (``None``: all). ``device='auto'`` picks CUDA when available. ``width`` scales
    the channels of ``model='vgg'`` (the paper's network; ``loss='ce_mse'`` is its loss).
    """

    dataset: str = "digits"
    model: str = "mlp"
    method: str = "ottt_a"
    T: int = 6
    tau: float = 2.0
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    encoding: str = "direct"
    loss: str = "ce"
    hidden: tuple[int, ...] = (256,)
    channels: tuple[int, ...] = (16, 32)
    dropout: float = 0.0
    width: float = 1.0
    seed: int = 0
    quiet: bool = False
    device: str = "cpu"
    n_train: Optional[int] = None
    n_test: Optional[int] = None
    data_root: Optional[str] = None
    download: bool = False
    sltt_k: Optional[int] = None
    fptt_alpha: float = DEFAULT_FPTT_ALPHA

    def __post_init__(self) -> None:
        where = "TrainConfig"
        self.hidden = int_tuple(self.hidden, "hidden", where)
        self.channels = int_tuple(self.channels, "channels", where)
        for name in ("T", "epochs", "batch_size"):
            setattr(self, name, integer(getattr(self, name), name, where, minimum=1))
        for name in ("n_train", "n_test"):
            if getattr(self, name) is not None:
                setattr(self, name, integer(getattr(self, name), name, where, minimum=1))
        for name in ("tau", "lr", "momentum", "weight_decay", "dropout", "width"):
            setattr(self, name, real_number(getattr(self, name), name, where))
        self.seed = seed_value(self.seed, "seed", where)
        for name in ("dataset", "model", "method", "optimizer", "scheduler", "encoding", "loss",
                     "device"):
            if not isinstance(getattr(self, name), str):
                raise ArgumentTypeError(
                    f"{where}: {name} must be a str, got {type(getattr(self, name)).__name__}.")
        checks = [
            (self.dataset in DATASETS, f"unknown dataset {self.dataset!r}; choose one of {sorted(DATASETS)}."),
            (self.model in MODELS, f"unknown model {self.model!r}; choose one of {sorted(MODELS)}."),
            (self.method in METHODS, f"unknown method {self.method!r}; choose one of {list(METHODS)}."),
            (isinstance(self.T, int) and not isinstance(self.T, bool) and self.T >= 1,
             f"T (time steps) must be an integer >= 1, got {self.T!r}."),
            (self.tau > 1.0, f"tau must be greater than 1, got {self.tau}."),
            (isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be >= 1, got {self.epochs!r}."),
            (isinstance(self.batch_size, int) and self.batch_size >= 1,
             f"batch_size must be >= 1, got {self.batch_size!r}."),
            (self.lr > 0 and math.isfinite(self.lr), f"lr must be a positive number, got {self.lr}."),
            (self.optimizer in OPTIMIZERS, f"unknown optimizer {self.optimizer!r}; choose one of {list(OPTIMIZERS)}."),
            (0.0 <= self.momentum < 1.0, f"momentum must be in [0, 1), got {self.momentum}."),
            (self.weight_decay >= 0.0, f"weight_decay must be >= 0, got {self.weight_decay}."),
            (self.scheduler in SCHEDULERS, f"unknown scheduler {self.scheduler!r}; choose one of {list(SCHEDULERS)}."),
            (self.encoding in ENCODINGS, f"unknown encoding {self.encoding!r}; choose one of {list(ENCODINGS)}."),
            (self.loss in LOSSES, f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)}."),
            (self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:"),
             f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}."),
            (self.sltt_k is None or (isinstance(self.sltt_k, int) and not isinstance(self.sltt_k, bool)
                                     and 1 <= self.sltt_k <= self.T),
             f"sltt_k (SLTT-K) must be None or an integer in [1, T={self.T}], got {self.sltt_k!r}."),
            (self.sltt_k is None or self.method == "sltt",
             f"sltt_k={self.sltt_k} applies to method 'sltt' only (got method {self.method!r}); "
             f"leave it unset."),
            (isinstance(self.fptt_alpha, (int, float)) and math.isfinite(self.fptt_alpha)
             and self.fptt_alpha > 0, f"fptt_alpha must be a positive number, got {self.fptt_alpha!r}."),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.encoding == "poisson" and DATASETS[self.dataset].info.normalized:
            raise ValueError(
                f"encoding 'poisson' needs pixel values in [0, 1] (they are firing probabilities), "
                f"but {self.dataset} images are normalised per channel (mean 0, std 1); use "
                f"encoding 'direct' (--encoding direct), the paper's setting for {self.dataset}."
            )

    @property
    def neuron(self) -> str:
        """``METHOD_NEURONS[method]``: ``'bptt'`` for BPTT and FPTT, ``'ottt'`` for both OTTT
        variants, ``'sltt'`` for SLTT."""
        return METHOD_NEURONS[self.method]

    def model_config(self, in_shape: tuple[int, int, int], n_classes: int) -> ModelConfig:
        """The ``ModelConfig`` this run builds, for a dataset of the given shape."""
        return ModelConfig(kind=self.model, neuron=self.neuron, tau=self.tau, in_shape=in_shape,
                           n_classes=n_classes, hidden=self.hidden, channels=self.channels,
                           dropout=self.dropout, width=self.width)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def seed_everything(seed: int) -> None:
    """Seed torch's, numpy's and Python's global generators with ``seed`` (in ``[0, 2**32-1]``).

    ``fit`` and ``run_training`` call it first, so two runs with the same seed start from the
    same state of all three (checkpoints store all three states too).
    """
    seed = seed_value(seed)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def resolve_device(device: str) -> torch.device:
    """``'auto'`` -> CUDA if available else CPU; ``'cuda'`` without a GPU is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but CUDA is not available; use --device cpu.")
    return torch.device(device)


def new_history() -> dict[str, list]:
    """An empty history: ``{'epoch': [], 'train_loss': [], ...}`` (JSON-serialisable)."""
    return {k: [] for k in HISTORY_KEYS}


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or SGD (with ``momentum``) at ``config.lr`` with ``config.weight_decay``."""
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    """``None`` for ``'none'``; ``CosineAnnealingLR(T_max=epochs)`` (stepped once per epoch)."""
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None


def make_loaders(data: DatasetSplits, batch_size: int, seed: int = 0,
                 eval_batch_size: int = 256) -> tuple[DataLoader, DataLoader]:
    """A shuffled (seeded) train loader and an ordered test loader."""
    g = torch.Generator().manual_seed(seed)
    train = DataLoader(data.train, batch_size=batch_size, shuffle=True, generator=g)
    test = DataLoader(data.test, batch_size=eval_batch_size, shuffle=False)
    return train, test


# ---------------------------------------------------------------------------------------------
# one batch: the three methods
# ---------------------------------------------------------------------------------------------
@dataclass
class StepResult:
    """Loss (``(1/T) sum_t L[t]``, a float) and outputs summed over T ``(B, n_classes)``."""

    loss: float
    out_sum: torch.Tensor


def _check_sequence(x_seq: torch.Tensor, y: torch.Tensor) -> int:
    if x_seq.dim() < 2:
        raise ValueError(f"x_seq must be shaped (T, B, ...), got {tuple(x_seq.shape)}.")
    if x_seq.shape[1] != y.shape[0]:
        raise ValueError(f"batch sizes differ: x_seq {tuple(x_seq.shape)} (T, B, ...) vs y {tuple(y.shape)}.")
    return x_seq.shape[0]


def ottt_backward(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                  loss_fn: LossFn = cross_entropy_loss,
                  sync_context: SyncContext = contextlib.nullcontext, *,
                  detach_state: bool = False) -> StepResult:
    """Forward and backward one time step at a time; gradients accumulate in ``.grad``.

    ``x_seq`` is ``(T, B, ...)``. Steps ``0..T-2`` run their forward *and* backward pass inside
    ``sync_context()`` (DDP: ``model.no_sync``; DDP decides at forward time whether the next
    backward all-reduces), the last step outside it, so gradients are averaged once. Does not
    reset the network and does not zero the gradients. ``detach_state``: ``detach_net`` after
    every step (``online_training.online_backward``).
    """
    T = _check_sequence(x_seq, y)
    total, out_sum = 0.0, None
    for t in range(T):
        with (sync_context() if t < T - 1 else contextlib.nullcontext()):
            out = model(x_seq[t])                           # (B, n_classes)
            loss = loss_fn(out, y) / T
            loss.backward()
        if detach_state:
            detach_net(model)
        total += loss.item()
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    return StepResult(total, out_sum)


def bptt_backward(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                  loss_fn: LossFn = cross_entropy_loss,
                  sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """Unroll over T, then one ``backward()`` through the whole graph (``sync_context`` unused:
    there is only one backward pass). Does not reset the network nor zero the gradients."""
    T = _check_sequence(x_seq, y)
    loss, out_sum = 0.0, None
    for t in range(T):
        out = model(x_seq[t])                               # (B, n_classes)
        loss = loss + loss_fn(out, y) / T
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    loss.backward()
    return StepResult(loss.item(), out_sum)


def ottt_a_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                optimizer: torch.optim.Optimizer, loss_fn: LossFn = cross_entropy_loss,
                sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """OTTT_A: gradients accumulated over the T steps, then one optimizer step; reset."""
    reset_net(model)
    optimizer.zero_grad(set_to_none=True)
    result = ottt_backward(model, x_seq, y, loss_fn, sync_context)
    optimizer.step()
    reset_net(model)
    return result


def ottt_o_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                optimizer: torch.optim.Optimizer, loss_fn: LossFn = cross_entropy_loss,
                sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """OTTT_O: an optimizer step after every time step's backward; reset after the batch.

    Every step's gradient is applied (and, under DDP, synchronised) at once, so
    ``sync_context`` is accepted for a uniform signature but not used.
    """
    T = _check_sequence(x_seq, y)
    reset_net(model)
    total, out_sum = 0.0, None
    for t in range(T):
        optimizer.zero_grad(set_to_none=True)
        out = model(x_seq[t])                               # (B, n_classes)
        loss = loss_fn(out, y) / T
        loss.backward()
        optimizer.step()
        total += loss.item()
        out_sum = out.detach() if out_sum is None else out_sum + out.detach()
    reset_net(model)
    return StepResult(total, out_sum)


def bptt_step(model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
              optimizer: torch.optim.Optimizer, loss_fn: LossFn = cross_entropy_loss,
              sync_context: SyncContext = contextlib.nullcontext) -> StepResult:
    """BPTT: unrolled forward over T, one backward, one optimizer step; reset."""
    reset_net(model)
    optimizer.zero_grad(set_to_none=True)
    result = bptt_backward(model, x_seq, y, loss_fn, sync_context)
    optimizer.step()
    reset_net(model)
    return result


STEP_FUNCTIONS: dict[str, Callable[..., StepResult]] = {
    "ottt_a": ottt_a_step,
    "ottt_o": ottt_o_step,
    "bptt": bptt_step,
    "sltt": sltt_step,      # ottt_edu.online_training (SLTT; SLTT-K with k=...)
    "fptt": fptt_step,      # ottt_edu.online_training (w_ra restarts per call; fit keeps it: make_step)
}


def make_step(config: TrainConfig) -> Callable[..., StepResult]:
    """The per-batch step ``fit`` uses for ``config.method``.

    ``STEP_FUNCTIONS[method]``, except: ``'fptt'`` gets a new ``FPTTStep(config.fptt_alpha)``,
    which keeps FPTT's running average ``w_ra`` across batches (its ``state_dict()`` goes into
    ``TrainState.method_state`` and checkpoints); ``'sltt'`` with ``sltt_k`` gets
    ``sltt_step(..., k=sltt_k)``.
    """
    if config.method == "fptt":
        return FPTTStep(config.fptt_alpha)
    if config.method == "sltt" and config.sltt_k is not None:
        return functools.partial(sltt_step, k=config.sltt_k)
    return STEP_FUNCTIONS[config.method]


# ---------------------------------------------------------------------------------------------
# epochs
# ---------------------------------------------------------------------------------------------
def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    method: str, T: int, loss_fn: LossFn = cross_entropy_loss,
                    encoder: Callable[[torch.Tensor, int], torch.Tensor] = None, *,
                    device: Union[str, torch.device] = "cpu",
                    sync_context: SyncContext = contextlib.nullcontext,
                    progress: Any = None,
                    step: Optional[Callable[..., StepResult]] = None) -> tuple[float, float]:
    """One pass over ``loader``; returns ``(mean loss, accuracy)`` on the training data.

    ``encoder(x, T)`` maps images ``(B, ...)`` to ``(T, B, ...)`` (default: direct). If given,
    ``progress`` (a tqdm bar) is advanced once per batch. ``step`` replaces
    ``STEP_FUNCTIONS[method]`` (``fit`` passes ``make_step(config)``, e.g. an ``FPTTStep``).
    """
    if method not in STEP_FUNCTIONS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(STEP_FUNCTIONS)}.")
    if encoder is None:
        encoder = make_encoder("direct")
    step = STEP_FUNCTIONS[method] if step is None else step
    model.train()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        result = step(model, encoder(x, T), y, optimizer, loss_fn, sync_context)
        b = y.shape[0]
        loss_sum += result.loss * b
        correct += (result.out_sum.argmax(1) == y).sum().item()
        n += b
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss_sum / n:.4f}", acc=f"{correct / n:.4f}", refresh=False)
    return loss_sum / max(n, 1), correct / max(n, 1)


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, T: int,
            encoder: Callable[[torch.Tensor, int], torch.Tensor] = None, *,
            device: Union[str, torch.device] = "cpu",
            loss_fn: LossFn = cross_entropy_loss) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Outputs summed over T for every sample, in eval mode.

    Returns ``(out_sum (N, n_classes), labels (N,), mean loss)``; the loss is
    ``(1/T) sum_t loss_fn(out[t], y)`` averaged over samples, as in training.
    """
    if encoder is None:
        encoder = make_encoder("direct")
    was_training = model.training
    model.eval()
    outs, labels, loss_sum, n = [], [], 0.0, 0
    try:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            x_seq = encoder(x, T)                           # (T, B, ...)
            reset_net(model)
            out_sum, loss = 0.0, 0.0
            for t in range(T):
                out = model(x_seq[t])                       # (B, n_classes)
                out_sum = out_sum + out
                loss += loss_fn(out, y).item() / T
            reset_net(model)
            outs.append(out_sum.cpu())
            labels.append(y.cpu())
            loss_sum += loss * y.shape[0]
            n += y.shape[0]
    finally:
        model.train(was_training)
    return torch.cat(outs), torch.cat(labels), loss_sum / max(n, 1)


def evaluate(model: nn.Module, loader: Iterable, T: int,
             encoder: Callable[[torch.Tensor, int], torch.Tensor] = None, *,
             device: Union[str, torch.device] = "cpu",
             loss_fn: LossFn = cross_entropy_loss) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``loader`` in eval mode (spikes only)."""
    out_sum, labels, loss = predict(model, loader, T, encoder, device=device, loss_fn=loss_fn)
    return loss, (out_sum.argmax(1) == labels).float().mean().item()


# ---------------------------------------------------------------------------------------------
# a whole run
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainState:
    """What ``on_epoch_end`` callbacks receive (enough to checkpoint and resume)."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    epoch: int               # epochs finished so far (1-based after the first epoch)
    history: dict[str, list]
    method_state: Optional[dict] = None   # e.g. FPTT's {'alpha', 'w_ra'}; None for the others


@dataclass
class FitResult:
    """The trained model, its history and the objects that trained it."""

    model: nn.Module
    history: dict[str, list]
    config: TrainConfig
    optimizer: torch.optim.Optimizer
    scheduler: Any
    data: DatasetSplits

    @property
    def test_acc(self) -> float:
        """Test accuracy after the last epoch."""
        return self.history["test_acc"][-1]


Callback = Callable[[TrainState], Optional[bool]]


def fit(config: TrainConfig, *, data: Optional[DatasetSplits] = None,
        model: Optional[nn.Module] = None, optimizer: Optional[torch.optim.Optimizer] = None,
        scheduler: Any = None, history: Optional[dict[str, list]] = None, start_epoch: int = 0,
        loss_fn: Optional[LossFn] = None,
        on_epoch_end: Union[Callback, Sequence[Callback], None] = None,
        sync_context: SyncContext = contextlib.nullcontext,
        train_loader: Optional[Iterable] = None, test_loader: Optional[Iterable] = None,
        encoder: Optional[Callable[[torch.Tensor, int], torch.Tensor]] = None,
        method_state: Optional[dict] = None) -> FitResult:
    """Train a model as ``config`` says and evaluate it after every epoch / 按配置训练并评估。

    Everything not given is built from ``config`` (seeded with ``config.seed``): data
    (``load_dataset``), model (``build_model``), optimizer, scheduler, loss, loaders. To resume,
    pass the restored ``model``, ``optimizer``, ``scheduler``, ``history`` and ``start_epoch``
    (and the ``encoder`` whose random state was restored, and for FPTT the saved
    ``method_state``; ``ottt_edu.run`` does all of this).
    After every epoch each ``on_epoch_end(state)`` callback is called; if one returns ``True``
    training stops early.

    Returns:
        ``FitResult`` with ``history`` (dict of lists: epoch, train_loss, train_acc, test_loss,
        test_acc, lr, time — ``time`` is cumulative training seconds, evaluation excluded).
    """
    from tqdm.auto import tqdm

    device = resolve_device(config.device)
    seed_everything(config.seed)
    if data is None:
        data = load_dataset(config.dataset, root=config.data_root, seed=config.seed,
                            download=config.download, n_train=config.n_train, n_test=config.n_test)
    if model is None:
        model = build_model(config.model_config(data.info.in_shape, data.info.n_classes))
    model.to(device)
    if optimizer is None:
        optimizer = make_optimizer(model, config)
    if scheduler is None:
        scheduler = make_scheduler(optimizer, config)
    loss_fn = make_loss(config.loss) if loss_fn is None else loss_fn
    if train_loader is None or test_loader is None:
        tr, te = make_loaders(data, config.batch_size, config.seed)
        train_loader = tr if train_loader is None else train_loader
        test_loader = te if test_loader is None else test_loader
    encoder = make_encoder(config.encoding, config.seed) if encoder is None else encoder
    eval_encoder = make_encoder(config.encoding, config.seed + 1)
    history = new_history() if history is None else history
    step = make_step(config)
    if method_state is not None:
        if not hasattr(step, "load_state_dict"):
            raise ValueError(f"method_state was given but method {config.method!r} keeps no state "
                             f"across batches.")
        step.load_state_dict(method_state)
    callbacks = [] if on_epoch_end is None else (
        [on_epoch_end] if callable(on_epoch_end) else list(on_epoch_end))
    elapsed = history["time"][-1] if history["time"] else 0.0

    n_batches = len(train_loader)
    total = (config.epochs - start_epoch) * n_batches
    # At most ~PROGRESS_REFRESHES redraws per run, however slow the machine: every redraw of a
    # notebook's widget bar is several kernel messages, and a flood of them (thousands per cell)
    # makes Jupyter drop messages; nbval then fails with "Timeout ... waiting for output".
    bar = tqdm(total=total, disable=config.quiet, desc=config.method, unit="batch",
               dynamic_ncols=True, miniters=max(1, total // PROGRESS_REFRESHES), mininterval=0.5)
    try:
        for epoch in range(start_epoch, config.epochs):
            bar.set_description(f"{config.method} epoch {epoch + 1}/{config.epochs}", refresh=False)
            lr = optimizer.param_groups[0]["lr"]
            t0 = time.perf_counter()
            train_loss, train_acc = train_one_epoch(
                model, train_loader, optimizer, config.method, config.T, loss_fn, encoder,
                device=device, sync_context=sync_context, progress=bar, step=step)
            elapsed += time.perf_counter() - t0
            if scheduler is not None:
                scheduler.step()
            if config.encoding == "poisson":
                eval_encoder.reseed()           # the same test spikes after every epoch
            test_loss, test_acc = evaluate(model, test_loader, config.T, eval_encoder,
                                           device=device, loss_fn=loss_fn)
            for key, value in zip(HISTORY_KEYS, (epoch + 1, train_loss, train_acc, test_loss,
                                                 test_acc, lr, elapsed)):
                history[key].append(value)
            bar.set_postfix(loss=f"{train_loss:.4f}", acc=f"{train_acc:.4f}",
                            test_acc=f"{test_acc:.4f}", refresh=False)
            state = TrainState(config, model, optimizer, scheduler, epoch + 1, history)
            state.method_state = step.state_dict() if hasattr(step, "state_dict") else None
            stop = [cb(state) for cb in callbacks]
            if any(s is True for s in stop):
                break
    finally:
        bar.close()
    return FitResult(model, history, config, optimizer, scheduler, data)
