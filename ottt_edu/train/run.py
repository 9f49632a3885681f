"""A training run that survives a crash and scales to several processes: ``run_training``.

English
    ``run_training(config, RunOptions(...))`` wraps ``train.fit`` with two abilities the command
    line exposes:

    * ``checkpoint_dir``: after every epoch, one atomic checkpoint (``ottt_edu.train.checkpoint``) with
      model, optimizer, scheduler, finished epochs, history, configuration, the method's own
      state (FPTT's running average ``w_ra``; ``None`` for the other methods) and the RNG states
      of every process (torch, numpy, Python, the DataLoader's generator, the Poisson
      encoder's). ``resume=True`` continues from the latest one; the result is bit-identical
      to a run that was never interrupted (tested by SIGKILL-ing a run mid-epoch). A run that
      would write into a directory that already holds checkpoints, without ``resume``, is
      refused: checkpoints are never overwritten.
    * ``torchrun``: when started by torchrun (or with ``distributed=True``), every process
      trains a ``DistributedDataParallel`` copy on its ``DistributedSampler`` shard (per-process
      batch ``config.batch_size``, so the global batch is N times larger), OTTT_A runs its first
      T-1 passes under ``no_sync``, the training loss/accuracy are averaged over processes, and
      only rank 0 prints and writes. Every process evaluates the full test set (identical
      weights, identical results).

    How exact resume works: the RNG state at the start of each epoch is restored at the
    moment the epoch's first batch is requested (``_EpochHook``), i.e. after ``fit`` has
    finished its own set-up, so nothing in between can consume random numbers. A fresh run uses
    the same hook with the state right after the model was built, which makes a run with a
    checkpoint directory identical to one without.
中文
    可从崩溃中恢复、可多进程运行的训练: 每轮结束原子地保存检查点 (含全部随机数状态),
    ``resume`` 时从最新检查点逐位精确地继续; 在 torchrun 下用 DDP 训练, 仅 0 号进程输出与写文件。

Reference: PyTorch "DistributedDataParallel", "torchrun" and "Reproducibility" documentation;
Xiao et al., NeurIPS 2022 (arXiv 2210.04195).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from . import checkpoint as ckpt
from .distributed import (DistributedContext, all_reduce_mean, init_distributed, is_torchrun,
                          sync_context_for, teardown_distributed, unwrap, wrap_ddp)
from .config import (TrainConfig, make_loaders, make_optimizer, make_scheduler, resolve_device,
                     seed_everything)
from .loops import Callback, FitResult, TrainState, fit

__all__ = ["RunOptions", "run_training", "RESUME_MAY_CHANGE"]

#: ``TrainConfig`` fields that may differ between a checkpoint and the run resuming it.
RESUME_MAY_CHANGE = ("quiet", "device", "data_root", "download")


@dataclass
class RunOptions:
    """How to run (not what to train) / 运行方式 (而非训练内容)。

    Args:
        checkpoint_dir: write ``epoch_NNNN.pt`` here after every epoch (``None``: no checkpoints).
        resume: continue from the latest checkpoint in ``checkpoint_dir`` (a fresh start if
            there is none yet, so a job script can always pass it).
        keep_last: keep only this many newest checkpoints (``None``: keep all).
        distributed: ``True``/``False`` to force; ``None`` detects torchrun's environment.
        log: where rank 0 writes one-line notes (resuming, saved files); ``None``: nowhere.
    """

    checkpoint_dir: Optional[str] = None
    resume: bool = False
    keep_last: Optional[int] = None
    distributed: Optional[bool] = None
    log: Optional[Callable[[str], None]] = None

    def __post_init__(self) -> None:
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("--resume needs --checkpoint-dir DIR (the directory to resume from).")
        if self.keep_last is not None and self.keep_last < 1:
            raise ValueError(f"keep_last must be >= 1 (or None to keep all), got {self.keep_last}.")


class _EpochHook:
    """A loader wrapper that calls ``on_epoch_start(epoch)`` when each epoch's iteration begins."""

    def __init__(self, loader: DataLoader, first_epoch: int,
                 on_epoch_start: Callable[[int], None]) -> None:
        self.loader, self.epoch, self.on_epoch_start = loader, first_epoch, on_epoch_start

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        self.on_epoch_start(self.epoch)
        self.epoch += 1
        return iter(self.loader)


def _encoder_generators(encoder: Any) -> dict[str, torch.Generator]:
    """The named generators an encoder draws from (PoissonEncoder: one per device)."""
    gens = getattr(encoder, "_generators", None)
    return {f"encoder:{dev}": g for dev, g in gens.items()} if gens else {}


def _restore_encoder(encoder: Any, saved: dict[str, torch.Tensor]) -> None:
    gens = getattr(encoder, "_generators", None)
    if gens is None:
        return
    for key, state in saved.items():
        if key.startswith("encoder:"):
            device = torch.device(key[len("encoder:"):])
            encoder._generator(device).set_state(state)


def _gather(obj: Any, ctx: Optional[DistributedContext]) -> list:
    if ctx is None:
        return [obj]
    out: list = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def _check_directory(directory: Path) -> None:
    """Fail before training if checkpoints could not be written into ``directory``."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == directory else f"is inside {existing}, which is a file"
        raise NotADirectoryError(
            f"--checkpoint-dir {directory} {what}, not a folder; choose a folder for the checkpoints.")


def _check_fresh_directory(directory: Path) -> None:
    latest = ckpt.latest_checkpoint(directory)
    if latest is not None:
        raise FileExistsError(
            f"{directory} already holds checkpoints (latest: {latest.name}). Pass --resume to "
            f"continue that run, or choose an empty --checkpoint-dir; existing checkpoints are "
            f"never overwritten."
        )


def _check_progress(path: Path, state: dict, config: TrainConfig) -> None:
    """The finished-epoch count must agree with the file name, the history and ``--epochs``."""
    epoch = state["epoch"]
    problem = None
    history = state["history"] if isinstance(state["history"], dict) else {}
    lengths = {k: len(v) for k, v in history.items() if isinstance(v, list)}
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        problem = f"its finished-epoch count is {epoch!r}, not an integer >= 0"
    elif ckpt.checkpoint_path(path.parent, epoch).name != path.name:
        problem = f"it says {epoch} finished epoch(s), but its file name says otherwise"
    elif history.get("epoch") != list(range(1, epoch + 1)) or set(lengths.values()) - {epoch}:
        problem = (f"it says {epoch} finished epoch(s), but its history holds "
                   f"{history.get('epoch')!r} (lengths {lengths})")
    elif epoch > config.epochs:
        problem = (f"it says {epoch} finished epoch(s), more than this run's --epochs "
                   f"{config.epochs}")
    if problem is not None:
        raise ckpt.CheckpointError(
            f"{path} contradicts itself: {problem}. It was not written by an intact run_training "
            f"(edited or damaged?). The file was left as it is; move it away to resume from the "
            f"previous checkpoint."
        )


def _check_finite_state(path: Path, state: dict) -> None:
    """Refuse a checkpoint whose weights (or optimizer state) hold NaN or inf."""
    bad = []
    optimizer_state = state["optimizer"].get("state", {}) if isinstance(state["optimizer"], dict) else {}
    method_state = state.get("method_state")
    w_ra = method_state.get("w_ra") if isinstance(method_state, dict) else None
    items = [(f"model {k}", v) for k, v in state["model"].items()] + [
        (f"optimizer state {k}[{name!r}]", v) for k, entry in optimizer_state.items()
        if isinstance(entry, dict) for name, v in entry.items()] + [
        (f"FPTT's running average w_ra[{i}]", v) for i, v in enumerate(w_ra or [])]
    for name, value in items:
        if isinstance(value, torch.Tensor) and value.is_floating_point() \
                and not bool(torch.isfinite(value).all()):
            bad.append(f"{name} ({int((~torch.isfinite(value)).sum())} of {value.numel()})")
    if bad:
        raise ckpt.CheckpointError(
            f"{path} holds non-finite values (NaN or inf) in {', '.join(bad[:4])}"
            f"{' ...' if len(bad) > 4 else ''}: the run had diverged before this checkpoint, and "
            f"training on from it would only report chance accuracy. Resume from an earlier "
            f"checkpoint (move this one away) with a smaller --lr. The file was left as it is."
        )


def _check_w_ra_count(path: Path, state: dict) -> None:
    """FPTT's ``w_ra`` holds one tensor per optimizer parameter: checked at load, not at the
    first batch (shapes are checked against the rebuilt optimizer in ``fit``)."""
    w_ra = state["method_state"].get("w_ra")
    groups = state["optimizer"].get("param_groups", []) if isinstance(state["optimizer"], dict) else []
    n_params = sum(len(g.get("params", [])) for g in groups)
    if w_ra is not None and (not isinstance(w_ra, (list, tuple)) or len(w_ra) != n_params):
        got = f"{len(w_ra)} tensor(s)" if isinstance(w_ra, (list, tuple)) else type(w_ra).__name__
        raise ckpt.CheckpointError(
            f"{path}: FPTT's running average w_ra has {got} but the saved optimizer has {n_params} "
            f"parameter(s); the file was not written by this run's model. Resume from another "
            f"checkpoint or start a fresh run in another --checkpoint-dir. The checkpoint was not "
            f"modified.")


def _load_for_resume(directory: Path, config: TrainConfig, world_size: int,
                     log: Callable[[str], None]) -> Optional[dict]:
    path = ckpt.latest_checkpoint(directory)
    if path is None:
        log(f"no checkpoint in {directory} yet: starting from epoch 0")
        return None
    state = ckpt.load_checkpoint(path)
    for key in ("model", "optimizer", "history", "config", "rng"):
        if key not in state:
            raise ckpt.CheckpointError(f"{path} lacks {key!r}; it was not written by run_training.")
    # keys added to TrainConfig after the checkpoint was written held their defaults then
    state["config"] = {**TrainConfig().to_dict(), **state["config"]}
    if state["config"]["method"] == "fptt" and not isinstance(state.get("method_state"), dict):
        raise ckpt.CheckpointError(
            f"{path} lacks FPTT's running average ('method_state'), so --method fptt cannot resume "
            f"from it exactly. Start a fresh run in another --checkpoint-dir. The checkpoint was "
            f"not modified.")
    if state["config"]["method"] == "fptt":
        _check_w_ra_count(path, state)
    ckpt.check_config_compatible(state["config"], config.to_dict(), ignore=RESUME_MAY_CHANGE,
                                 where=f"checkpoint {path}")
    _check_progress(path, state, config)
    _check_finite_state(path, state)
    saved_world = state.get("world_size", 1)
    if saved_world != world_size:
        raise ckpt.CheckpointError(
            f"{path} was written by {saved_world} process(es) but this run has {world_size}; the "
            f"data shards would differ. Resume with --nproc_per_node={saved_world}. The checkpoint "
            f"was not modified."
        )
    log(f"resuming from {path} (epoch {state['epoch']} of {config.epochs} finished)")
    return state


def run_training(config: TrainConfig, options: Optional[RunOptions] = None,
                 on_epoch_end: Union[Callback, Sequence[Callback], None] = None,
                 **fit_kwargs: Any) -> FitResult:
    """Train as ``config`` says, with checkpoints/resume and torchrun support / 可恢复、可分布式的训练。

    ``on_epoch_end`` callbacks run on rank 0 only, after the epoch's checkpoint was written
    (training metrics already averaged over processes); if one returns ``True``, every process
    stops. Other ``fit_kwargs`` go to ``train.fit`` (e.g. ``loss_fn``).

    Returns:
        ``FitResult``; its ``model`` is the plain model (not the DDP wrapper).
    """
    from ..data import load_dataset
    from ..functional.encoding import make_encoder
    from ..models import build_model

    options = RunOptions() if options is None else options
    distributed = is_torchrun() if options.distributed is None else options.distributed
    ctx = init_distributed(config.device) if distributed else None
    is_main = ctx is None or ctx.is_main
    log = (options.log or (lambda msg: None)) if is_main else (lambda msg: None)
    try:
        if not is_main:
            config = replace(config, quiet=True)
        device = ctx.device if ctx is not None else resolve_device(config.device)
        world_size = 1 if ctx is None else ctx.world_size
        directory = None if options.checkpoint_dir is None else Path(options.checkpoint_dir)
        if directory is not None:
            _check_directory(directory)

        saved = None
        if directory is not None:
            if options.resume:
                saved = _load_for_resume(directory, config, world_size, log)
            else:
                _check_fresh_directory(directory)
            if is_main:
                ckpt.remove_stale_temporaries(directory)

        # set-up in the order fit() uses, so the RNG state after it is the same
        seed_everything(config.seed)
        data = load_dataset(config.dataset, root=config.data_root, seed=config.seed,
                            download=config.download, n_train=config.n_train, n_test=config.n_test)
        model = build_model(config.model_config(data.info.in_shape, data.info.n_classes))
        if saved is not None:
            ckpt.check_state_dict_compatible(model, saved["model"], "model")
            model.load_state_dict(saved["model"])
        model.to(device)
        train_model = wrap_ddp(model, ctx) if ctx is not None else model
        optimizer = make_optimizer(train_model, config)
        scheduler = make_scheduler(optimizer, config)
        start_epoch, history = 0, None
        if saved is not None:
            try:
                optimizer.load_state_dict(saved["optimizer"])
                if scheduler is not None:
                    scheduler.load_state_dict(saved["scheduler"])
            except (ValueError, KeyError, TypeError) as e:
                raise ckpt.CheckpointError(
                    f"the optimizer/scheduler state in the checkpoint does not fit this run ({e}). "
                    f"The checkpoint was not modified."
                ) from None
            start_epoch, history = int(saved["epoch"]), saved["history"]
        method_state = None if saved is None else saved.get("method_state")

        train_loader, test_loader = make_loaders(data, config.batch_size, config.seed)
        generator = train_loader.generator                   # shuffling (single process)
        sampler = None
        if ctx is not None:
            sampler = DistributedSampler(data.train, num_replicas=ctx.world_size, rank=ctx.rank,
                                         shuffle=True, seed=config.seed)
            train_loader = DataLoader(data.train, batch_size=config.batch_size, sampler=sampler)
        encoder = make_encoder(config.encoding, config.seed)

        def generators() -> dict[str, torch.Generator]:
            gens = {"train_loader": generator} if generator is not None else {}
            gens.update(_encoder_generators(encoder))
            return gens

        start_rng = (saved["rng"][0 if ctx is None else ctx.rank] if saved is not None
                     else ckpt.get_rng_state(generators()))

        def on_epoch_start(epoch: int) -> None:
            nonlocal start_rng
            if sampler is not None:
                sampler.set_epoch(epoch)
            if start_rng is not None:                       # only before the first epoch run here
                ckpt.set_rng_state(start_rng, {k: v for k, v in generators().items()
                                               if not k.startswith("encoder:")})
                _restore_encoder(encoder, start_rng.get("generators", {}))
                start_rng = None

        callbacks = [] if on_epoch_end is None else (
            [on_epoch_end] if callable(on_epoch_end) else list(on_epoch_end))

        def epoch_end(state: TrainState) -> bool:
            if ctx is not None:                             # training metrics of all shards
                h = state.history
                h["train_loss"][-1], h["train_acc"][-1] = all_reduce_mean(
                    [h["train_loss"][-1], h["train_acc"][-1]], device)
            rng = _gather(ckpt.get_rng_state(generators()), ctx)
            stop = False
            if is_main:
                if directory is not None:
                    _save(state, rng)
                stop = any([cb(state) is True for cb in callbacks])    # call all of them
            if ctx is not None:                             # rank 0 decides for everyone
                flag = torch.tensor([float(stop)], device=device)
                dist.broadcast(flag, src=0)
                stop = bool(flag.item())
            return stop

        def _save(state: TrainState, rng: list) -> None:
            path = ckpt.save_checkpoint(ckpt.checkpoint_path(directory, state.epoch), {
                "epoch": state.epoch,
                "model": unwrap(state.model).state_dict(),
                "optimizer": state.optimizer.state_dict(),
                "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
                "history": state.history,
                "method_state": state.method_state,        # FPTT's w_ra (None for the others)
                "config": config.to_dict(),
                "rng": rng,
                "world_size": world_size,
            })
            if options.keep_last is not None:
                ckpt.prune_checkpoints(directory, options.keep_last)
            log(f"saved {path}")

        result = fit(config, data=data, model=train_model, optimizer=optimizer, scheduler=scheduler,
                     history=history, start_epoch=start_epoch, on_epoch_end=epoch_end,
                     sync_context=sync_context_for(train_model, config.method),
                     train_loader=_EpochHook(train_loader, start_epoch, on_epoch_start),
                     test_loader=test_loader, encoder=encoder, method_state=method_state,
                     **fit_kwargs)
        result.model = model
        return result
    finally:
        if ctx is not None:
            teardown_distributed()
