"""Checkpoints that survive a crash: atomic writes, safe loading, exact resume.

English
    A long training run (the paper's CIFAR-10 recipe is 300 epochs) must survive a killed
    process. At the end of every epoch the trainer writes one checkpoint holding everything the
    next epoch depends on: model, optimizer and scheduler state, the number of finished epochs,
    the history, the configuration, and every random-number-generator state (torch, CUDA,
    numpy, Python ``random`` and named ``torch.Generator`` s such as the DataLoader's). Resuming
    from it reproduces the uninterrupted run bit for bit.

    * Writes are atomic: the file is written under a temporary name in the same directory,
      flushed and fsync'ed, then ``os.replace`` d into place. A crash leaves either the old set
      of checkpoints or the new one, never a half-written ``epoch_0007.pt``.
    * Loads use ``torch.load(..., weights_only=True)``: only tensors, dicts, lists, tuples,
      numbers, strings and ``None`` are accepted, so a checkpoint file cannot run code. Every
      value stored here is of those types.
    * A corrupt file, a file that is not an ottt_edu checkpoint, or one written for another
      configuration or model raises ``CheckpointError`` saying what is wrong; the file is left
      untouched, and ``save_checkpoint`` refuses to overwrite an existing file.
中文
    训练检查点: 原子写入 (临时文件 + fsync + os.replace), 以 ``weights_only=True`` 安全加载,
    保存全部随机数状态以便逐位精确地恢复训练; 损坏或不匹配的检查点给出明确错误且不会被覆盖。

File layout: ``DIR/epoch_0001.pt``, ``DIR/epoch_0002.pt``, ... (number = finished epochs).

Reference: PyTorch documentation, "Saving and loading models" and ``torch.load(weights_only=True)``;
Xiao et al., NeurIPS 2022 (arXiv 2210.04195) for the 300-epoch recipe that motivates this.
"""
from __future__ import annotations

import errno
import io
import os
import pickle
import random
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import numpy as np
import torch
from torch import nn

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_path",
    "list_checkpoints",
    "latest_checkpoint",
    "prune_checkpoints",
    "remove_stale_temporaries",
    "write_atomic",
    "check_config_compatible",
    "check_state_dict_compatible",
    "get_rng_state",
    "set_rng_state",
]

#: Tag stored in every checkpoint; ``load_checkpoint`` rejects files without it.
CHECKPOINT_FORMAT = "ottt_edu.train.checkpoint/1"
_NAME = re.compile(r"^epoch_(\d+)\.pt$")
_REQUIRED = ("format", "epoch")

PathLike = Union[str, os.PathLike]


class CheckpointError(RuntimeError):
    """A checkpoint could not be used (corrupt, foreign, or written for another set-up)."""


# -- file names ---------------------------------------------------------------------------------
def checkpoint_path(directory: PathLike, epoch: int) -> Path:
    """``DIR/epoch_{epoch:04d}.pt``: the checkpoint written after ``epoch`` finished epochs."""
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0 (number of finished epochs), got {epoch}.")
    return Path(directory) / f"epoch_{epoch:04d}.pt"


def list_checkpoints(directory: PathLike) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every ``epoch_NNNN.pt`` in ``directory``, sorted by epoch.

    Temporary files of an interrupted write (``.epoch_NNNN.pt.*.tmp``) are not listed.
    """
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(directory: PathLike) -> Optional[Path]:
    """The checkpoint with the most finished epochs in ``directory``, or ``None`` if there is none."""
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def prune_checkpoints(directory: PathLike, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest checkpoints; return the deleted paths.

    Call it only after a new checkpoint was written successfully (the trainer does).
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1 (the newest checkpoint is always kept), got {keep}.")
    old = [p for _, p in list_checkpoints(directory)[:-keep]]
    for p in old:
        p.unlink()
    return old


# -- save / load --------------------------------------------------------------------------------
def save_checkpoint(path: PathLike, state: Mapping[str, Any], overwrite: bool = False) -> Path:
    """Write ``state`` to ``path`` atomically; return ``path``.

    ``state`` must contain ``'epoch'`` (finished epochs); ``'format'`` is added. The bytes go to
    a temporary file in the same directory, which is flushed, fsync'ed and renamed over
    ``path`` with ``os.replace`` (atomic on POSIX and Windows), then the directory is fsync'ed.

    The archive is built in memory first, then written with ``write_atomic``.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        TypeError: ``state`` holds something ``torch.load(weights_only=True)`` could not read.
        CheckpointError: the write failed (for a full disk: "no space left on device while
            writing the checkpoint PATH"); ``path`` and the earlier checkpoints are unchanged.
    """
    path = Path(path)
    if "epoch" not in state:
        raise ValueError("state must contain 'epoch' (the number of finished epochs).")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; refusing to overwrite a checkpoint. Resume from it "
            f"(--resume), or choose an empty --checkpoint-dir."
        )
    payload = dict(state)
    payload["format"] = CHECKPOINT_FORMAT
    _check_weights_only_types(payload, "state")
    buffer = io.BytesIO()
    torch.save(payload, buffer)        # in memory first: a full disk is then a plain OSError
    try:
        return write_atomic(path, buffer.getbuffer())
    except OSError as e:
        if e.errno in _DISK_FULL:
            raise CheckpointError(
                f"no space left on device while writing the checkpoint {path}; it was not written "
                f"and the earlier checkpoints in {path.parent} are intact. Free some space (or use "
                f"--keep-last N), then continue with --resume."
            ) from None
        raise CheckpointError(f"could not write the checkpoint {path}: {e}. The earlier "
                              f"checkpoints are intact.") from None


_DISK_FULL = {errno.ENOSPC} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())


def write_atomic(path: PathLike, data: Union[bytes, memoryview]) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, written in
    full, fsync'ed, then ``os.replace`` d over ``path`` (and the folder fsync'ed). A crash or a
    full disk leaves ``path`` as it was (absent, or the previous complete file), never a partial
    or empty file; the temporary file is removed on any error.

    Raises:
        OSError: the write failed; its message names ``path`` (for a full disk:
            "no space left on device while writing PATH").
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OSError(e.errno, f"cannot create a file in {path.parent} ({e.strerror or e})") from None
    try:
        try:
            view = memoryview(data)
            while view.nbytes:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno in _DISK_FULL:
            raise OSError(e.errno, f"no space left on device while writing {path}; {path.name} "
                                   f"was left as it was") from None
        if isinstance(e, OSError):
            raise OSError(e.errno, f"{e.strerror or e} while writing {path}") from None
        raise
    _fsync_dir(path.parent)
    return path


def remove_stale_temporaries(directory: PathLike) -> list[Path]:
    """Delete temporary files left by a write that was killed (``.epoch_NNNN.pt.*.tmp``)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    stale = [p for p in d.iterdir() if p.name.startswith(".epoch_") and p.name.endswith(".tmp")]
    for p in stale:
        p.unlink()
    return stale


def load_checkpoint(path: PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)``; the file is never modified.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is truncated/corrupt, holds objects other than tensors and
            plain containers (``weights_only`` refuses to unpickle them), or is not an ottt_edu
            checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}.")
    how_to = (f"The file was left as it is. Move it away (or delete it) to resume from the "
              f"previous checkpoint in {path.parent}, or start a fresh run in an empty directory.")
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip archive
        raise CheckpointError(
            f"{path} is not a readable checkpoint (not a complete torch.save archive: truncated or "
            f"corrupt, e.g. by a crash or a full disk). {how_to}"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path} holds objects other than tensors, numbers, strings and plain containers, so "
            f"it was not loaded (weights_only=True never runs code from a file). {how_to}\n"
            f"Detail: {str(e).splitlines()[0]}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt, e.g. by a crash or a full "
            f"disk). {how_to}\nDetail: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path} is not an ottt_edu checkpoint (format {found!r}, expected "
            f"{CHECKPOINT_FORMAT!r}). {how_to}"
        )
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks the entries {missing}. {how_to}")
    return state


# -- compatibility ------------------------------------------------------------------------------
def check_config_compatible(
    saved: Mapping[str, Any],
    current: Mapping[str, Any],
    ignore: Iterable[str] = (),
    where: str = "checkpoint",
) -> None:
    """Raise ``CheckpointError`` if ``saved`` and ``current`` differ in any key not in ``ignore``.

    Use it on resume with the run's configuration (as a dict of plain values): a checkpoint of
    another model, method, dataset, T, seed... cannot continue this run. ``ignore`` lists the
    keys allowed to change (e.g. the number of epochs, to extend a run).
    """
    ignore = set(ignore)
    keys = (set(saved) | set(current)) - ignore
    diffs = [f"  {k}: checkpoint has {saved.get(k, '<missing>')!r}, this run has "
             f"{current.get(k, '<missing>')!r}" for k in sorted(keys) if saved.get(k) != current.get(k)]
    if diffs:
        raise CheckpointError(
            f"the {where} was written by a run with a different configuration:\n" + "\n".join(diffs)
            + "\nResume with the same settings, or start a fresh run in another --checkpoint-dir. "
            "The checkpoint was not modified."
        )


def check_state_dict_compatible(module: nn.Module, state_dict: Mapping[str, Any], what: str) -> None:
    """Raise ``CheckpointError`` if ``state_dict`` does not fit ``module`` (keys and shapes)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)}, model {tuple(v.shape)}"
              for k, v in own.items()
              if k in state_dict and isinstance(v, torch.Tensor)
              and isinstance(state_dict[k], torch.Tensor) and state_dict[k].shape != v.shape]
    if missing or unexpected or shapes:
        lines = []
        if missing:
            lines.append(f"missing from the checkpoint: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            lines.append(f"not in the model: {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if shapes:
            lines.append("shape mismatch: " + "; ".join(shapes[:5]) + (" ..." if len(shapes) > 5 else ""))
        raise CheckpointError(
            f"the {what} in the checkpoint does not fit this model ({type(module).__name__}):\n  "
            + "\n  ".join(lines) + "\nWas it written with another --model, --width or dataset? "
            "The checkpoint was not modified."
        )


# -- random number generators -------------------------------------------------------------------
def get_rng_state(generators: Optional[Mapping[str, torch.Generator]] = None) -> dict[str, Any]:
    """Every RNG state a training epoch can consume, as weights_only-loadable values.

    Global torch (CPU, and every CUDA device if available), numpy's legacy global RNG, Python's
    ``random``, and each named ``torch.Generator`` in ``generators`` (e.g. the DataLoader's).
    """
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any],
                  generators: Optional[Mapping[str, torch.Generator]] = None) -> None:
    """Restore what ``get_rng_state`` captured (same named ``generators``)."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss_next"]))
    saved = state.get("generators", {})
    for name, g in (generators or {}).items():
        if name not in saved:
            raise CheckpointError(
                f"the checkpoint holds no state for the random generator {name!r} (it has "
                f"{sorted(saved)}); it was written by a different training set-up."
            )
        g.set_state(saved[name])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


# -- helpers ------------------------------------------------------------------------------------
_ALLOWED = (torch.Tensor, int, float, bool, str, bytes, type(None), torch.Size, torch.dtype,
            torch.device)


def _check_weights_only_types(obj: Any, where: str) -> None:
    """Fail at save time, with the key path, on values ``weights_only`` loading would reject."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)):
                raise TypeError(f"{where} has a key of type {type(k).__name__}; use str or int keys.")
            _check_weights_only_types(v, f"{where}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_weights_only_types(v, f"{where}[{i}]")
    elif not isinstance(obj, _ALLOWED):
        raise TypeError(
            f"{where} is a {type(obj).__module__}.{type(obj).__name__}, which "
            f"torch.load(weights_only=True) cannot read back. Store tensors, numbers, strings and "
            f"dicts/lists of them (e.g. dataclasses.asdict(config), arrays as torch tensors)."
        )


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
