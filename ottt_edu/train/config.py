"""``TrainConfig``: everything one training run needs, and the small factories built from it.

English
    A typed dataclass checked at construction (each wrong value gets a one-line reason), the
    names the command line offers (``METHODS``, ``OPTIMIZERS``, ``SCHEDULERS``, ``LOSSES``),
    and what ``fit`` makes from a config: the optimizer, the scheduler, the loaders, the
    seeded generators, the device.
中文
    一次训练的全部配置 (带类型检查的 dataclass), 以及由它构造优化器、学习率调度、数据加载器等的函数。

Reference: Xiao et al., NeurIPS 2022 (arXiv 2210.04195), Sec. 5 (the training settings).
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from .._checks import ArgumentTypeError, int_tuple, integer, real_number, seed_value
from ..data import DATASETS, DatasetSplits
from ..data.cifar import ce_mse_loss
from ..functional.encoding import ENCODINGS
from ..models import MODELS, ModelConfig
from .online_steps import DEFAULT_FPTT_ALPHA
from .steps import LossFn, cross_entropy_loss

__all__ = ["METHODS", "METHOD_NEURONS", "OPTIMIZERS", "SCHEDULERS", "HISTORY_KEYS", "LOSSES",
           "TrainConfig", "make_loss", "new_history", "make_optimizer", "make_scheduler",
           "make_loaders", "resolve_device", "seed_everything"]

METHODS = ("ottt_a", "ottt_o", "bptt", "sltt", "fptt")
#: The neuron each method trains (``ModelConfig.neuron``); all have the same dynamics.
METHOD_NEURONS = {"ottt_a": "ottt", "ottt_o": "ottt", "bptt": "bptt", "sltt": "sltt", "fptt": "bptt"}
OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "cosine")
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "time")




LOSSES: dict[str, LossFn] = {"ce": cross_entropy_loss, "ce_mse": ce_mse_loss}  # ce_mse: the paper's


def make_loss(name: str) -> LossFn:
    """The per-step loss function registered as ``name`` in ``LOSSES`` (``'ce'``)."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}.")
    return LOSSES[name]


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
    ``'fptt'`` only; ``ottt_edu.train.online_steps.fptt_step``). The trainer divides the data loss
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
