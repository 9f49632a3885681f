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
      relatives from SpikingJelly, in ``ottt_edu.train.online_steps``: SLTT is OTTT_A's loop on
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
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import torch
from torch import nn

from ..data import DatasetSplits, load_dataset
from ..functional.encoding import make_encoder
from ..functional.online_training import check_w_ra
from ..functional.state import reset_net
from ..models import build_model
from .config import (HISTORY_KEYS, TrainConfig, make_loaders, make_loss, make_optimizer, make_scheduler,
                     new_history, resolve_device, seed_everything)
from .online_steps import FPTTStep, fptt_step, sltt_step
from .steps import (LossFn, StepResult, SyncContext, bptt_step, cross_entropy_loss, ottt_a_step,
                    ottt_o_step)

__all__ = ["STEP_FUNCTIONS", "make_step", "train_one_epoch", "evaluate", "predict", "TrainState",
           "FitResult", "fit", "PROGRESS_REFRESHES"]

# Redraws of fit()'s progress bar per run (see fit).
PROGRESS_REFRESHES = 40

STEP_FUNCTIONS: dict[str, Callable[..., StepResult]] = {
    "ottt_a": ottt_a_step,
    "ottt_o": ottt_o_step,
    "bptt": bptt_step,
    "sltt": sltt_step,      # ottt_edu.train.online_steps (SLTT; SLTT-K with k=...)
    "fptt": fptt_step,      # ottt_edu.train.online_steps (w_ra restarts per call; fit keeps it: make_step)
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
    ``method_state``; ``ottt_edu.train.run`` does all of this).
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
        if getattr(step, "w_ra", None) is not None:  # checked against this optimizer now,
            check_w_ra(step.w_ra, optimizer, "fit(method_state=...)")  # not at the first batch
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
