"""CIFAR-10 for the OTTT paper's recipe: loading, augmentation in torch, the CE+MSE loss.

English
    ``load_cifar10`` reads the official CIFAR-10 files from disk, either the "python version"
    (``cifar-10-batches-py/``, what ``torchvision`` downloads) or the "binary version"
    (``cifar-10-batches-bin/``). The pickled python files are read with a restricted unpickler
    that accepts only numpy arrays and plain containers, so they cannot run code. Nothing is
    downloaded unless ``download=True`` and ``torchvision`` is installed; otherwise a clear error
    says where to put the files.

    The training split is augmented on the fly, per sample, in plain torch (no torchvision
    needed): random crop of 32x32 from the image zero-padded by 4, horizontal flip with
    probability 1/2, normalization with the CIFAR-10 channel statistics, then Cutout (one
    16x16 square, centre uniform over the image, clipped at the borders, set to 0 = the mean
    colour after normalization). The test split is only normalized. Random numbers come from
    torch's global generator (in DataLoader workers: the worker's seeded generator), so runs
    repeat exactly and a checkpoint's RNG state resumes them exactly.

    The recipe's per-step loss mixes cross-entropy with a small MSE to the one-hot target:
    ``L[t] = (1 - alpha) CE(out[t], y) + alpha MSE(out[t], onehot(y))``, ``alpha = 0.05``; the
    trainer divides it by T.
中文
    读取磁盘上的 CIFAR-10 官方文件 (python 版或二进制版, 受限反序列化不执行代码); 训练集逐样本
    在 torch 中做随机裁剪 (填充 4)、水平翻转、归一化与 Cutout(16); 论文的每步损失为
    0.95 交叉熵 + 0.05 对 one-hot 的均方误差。

Difference from the authors' script (named, not hidden): the OTTT authors' ``train_cifar.py``
uses ``torchtoolbox.transform.Cutout()`` with its defaults, a random-erasing variant (with
probability 0.5, a rectangle of 2-40 % of the image, aspect ratio 0.4-2.5, filled with one
random grey level 0-255), applied after the crop and before the flip; this module uses the
original Cutout of DeVries & Taylor (one 16x16 square, always, after normalization), as the
ottt_edu issue specifies. Results may therefore differ slightly from the paper's.

Reference: Krizhevsky, "Learning Multiple Layers of Features from Tiny Images" (2009);
DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout"
(arXiv 1708.04552); Xiao et al., NeurIPS 2022 (arXiv 2210.04195), Sec. 5 and App. C.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .splits import DatasetInfo, DatasetSplits, default_data_root

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR10_CLASSES",
    "ce_mse_loss",
    "random_crop",
    "random_horizontal_flip",
    "cutout",
    "normalize",
    "CifarAugment",
    "AugmentedTensorDataset",
    "read_cifar10_arrays",
    "load_cifar10",
    "cifar10_info",
]

#: Per-channel mean and std used by the authors' script (and most CIFAR code).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
_PY_DIR, _BIN_DIR = "cifar-10-batches-py", "cifar-10-batches-bin"
_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_TEST = ["test_batch"]
_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


# -- loss ---------------------------------------------------------------------------------------
def ce_mse_loss(out: torch.Tensor, y: torch.Tensor, alpha: float = 0.05) -> torch.Tensor:
    """``(1 - alpha) CE(out, y) + alpha MSE(out, onehot(y))`` for one time step / 交叉熵+均方误差。

    ``out`` ``(B, C)`` logits, ``y`` ``(B,)`` labels; both terms are batch means (MSE also
    averages over the C classes, as ``nn.MSELoss``). The OTTT recipe uses ``alpha = 0.05`` and
    divides by T in the training loop.

    Reference: Xiao et al., NeurIPS 2022, App. C (``loss_lambda = 0.05`` in the authors' code).
    """
    if out.dim() != 2 or y.shape != out.shape[:1]:
        raise ValueError(f"ce_mse_loss expects out (B, C) and y (B,), got {tuple(out.shape)} and "
                         f"{tuple(y.shape)}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}.")
    ce = F.cross_entropy(out, y)
    if alpha == 0.0:
        return ce
    mse = F.mse_loss(out, F.one_hot(y, out.shape[1]).to(out.dtype))
    return (1.0 - alpha) * ce + alpha * mse


# -- augmentation (plain torch, one image (C, H, W) or a batch (B, C, H, W)) ---------------------
def _batch(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if x.dim() == 3:
        return x.unsqueeze(0), True
    if x.dim() == 4:
        return x, False
    raise ValueError(f"expected an image (C, H, W) or a batch (B, C, H, W), got shape {tuple(x.shape)}.")


def random_crop(x: torch.Tensor, padding: int = 4,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zero-pad by ``padding`` and cut a random window of the original size, per image."""
    xb, single = _batch(x)
    B, C, H, W = xb.shape
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}.")
    if padding == 0:
        return x
    padded = F.pad(xb, (padding, padding, padding, padding))              # (B, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
    rows = (dy[:, None] + torch.arange(H))[:, None, :, None]              # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(W))[:, None, None, :]              # (B, 1, 1, W)
    out = padded[torch.arange(B)[:, None, None, None], torch.arange(C)[None, :, None, None], rows, cols]
    return out[0] if single else out


def random_horizontal_flip(x: torch.Tensor, p: float = 0.5,
                           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    xb, single = _batch(x)
    flip = torch.rand(xb.shape[0], generator=generator) < p               # (B,)
    out = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
    return out[0] if single else out


def cutout(x: torch.Tensor, length: int = 16,
           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zero one ``length`` x ``length`` square per image (centre uniform, clipped at borders).

    As DeVries & Taylor: centre ``(cy, cx)`` uniform over the pixels, rows
    ``[cy - length//2, cy + length//2)`` and the same for columns, clipped to the image.
    """
    xb, single = _batch(x)
    B, _, H, W = xb.shape
    if length < 1:
        raise ValueError(f"cutout length must be >= 1, got {length}.")
    cy = torch.randint(0, H, (B,), generator=generator)
    cx = torch.randint(0, W, (B,), generator=generator)
    r, c = torch.arange(H), torch.arange(W)
    in_rows = (r[None] >= (cy - length // 2)[:, None]) & (r[None] < (cy + length // 2)[:, None])
    in_cols = (c[None] >= (cx - length // 2)[:, None]) & (c[None] < (cx + length // 2)[:, None])
    hole = in_rows[:, :, None] & in_cols[:, None, :]                      # (B, H, W)
    out = xb.masked_fill(hole[:, None], 0.0)
    return out[0] if single else out


def normalize(x: torch.Tensor, mean: tuple[float, ...] = CIFAR10_MEAN,
              std: tuple[float, ...] = CIFAR10_STD) -> torch.Tensor:
    """``(x - mean[c]) / std[c]`` per channel; ``x`` is ``(C, H, W)`` or ``(B, C, H, W)``."""
    shape = (-1, 1, 1)
    return (x - torch.tensor(mean, dtype=x.dtype).view(shape)) / torch.tensor(std, dtype=x.dtype).view(shape)


@dataclass(frozen=True)
class CifarAugment:
    """The recipe's training augmentation: crop (pad 4), flip, normalize, Cutout(16).

    ``padding=0``, ``flip=False`` or ``cutout_length=0`` switch a part off.
    """

    padding: int = 4
    flip: bool = True
    cutout_length: int = 16
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Augment an image ``(C, H, W)`` in ``[0, 1]`` (or a batch); returns it normalized."""
        if self.padding:
            x = random_crop(x, self.padding)
        if self.flip:
            x = random_horizontal_flip(x)
        x = normalize(x, self.mean, self.std)
        if self.cutout_length:
            x = cutout(x, self.cutout_length)
        return x


class AugmentedTensorDataset(TensorDataset):
    """A ``TensorDataset`` of ``(image, label)`` whose images pass through ``transform`` on access.

    ``tensors`` keeps the stored (un-augmented) images, so subsets and checks see the raw data.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor,
                 transform: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__(images, labels)
        self.transform = transform

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = super().__getitem__(index)
        return self.transform(x), y

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A whole batch at once (``DataLoader`` uses this when present): one batched
        transform instead of one per image, about 4x faster."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        x = self.transform(self.tensors[0][idx])                         # (B, C, H, W)
        return list(zip(x.unbind(0), self.tensors[1][idx].unbind(0)))


# -- reading the files --------------------------------------------------------------------------
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, numbers and numpy arrays; refuses everything else."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                ("_codecs", "encode")}  # how Python 3 writes bytes at pickle protocol 2

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a CIFAR-10 file: only numpy arrays and "
                f"plain containers are expected (is this really cifar-10-batches-py?)."
            )
        if module == "_codecs":
            import codecs

            return codecs.encode
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def _read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        d = _NumpyOnlyUnpickler(f, encoding="bytes").load()
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ValueError("expected a dict with the keys b'data' and b'labels'")
    data = np.asarray(d[b"data"], dtype=np.uint8)
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    return data, labels


def _read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise ValueError(f"{raw.size} bytes, not a positive multiple of 3073 (1 label + 3072 pixels)")
    raw = raw.reshape(-1, 3073)
    return raw[:, 1:], raw[:, 0].astype(np.int64)


def _missing_files_error(root: Path, detail: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"CIFAR-10 was not found under {str(root)!r} ({detail}). Download {_URL} (163 MB) and "
        f"extract it there, so that {str(root / _PY_DIR / 'data_batch_1')!r} exists (the binary "
        f"version in {_BIN_DIR}/ works too); or run once with network access, torchvision "
        f"installed and --download. Use --data-root or $OTTT_EDU_DATA for another folder."
    )


def read_cifar10_arrays(root: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{'train': (images uint8 (N, 3, 32, 32), labels int64 (N,)), 'test': (...)}`` from ``root``.

    Looks for ``root/cifar-10-batches-py/`` first, then ``root/cifar-10-batches-bin/``.
    """
    root = Path(root)
    py, binary = root / _PY_DIR, root / _BIN_DIR
    if (py / _TRAIN[0]).is_file():
        names, reader, folder = (_TRAIN, _TEST), _read_python_batch, py
    elif (binary / f"{_TRAIN[0]}.bin").is_file():
        names = ([f"{n}.bin" for n in _TRAIN], [f"{n}.bin" for n in _TEST])
        reader, folder = _read_binary_batch, binary
    else:
        raise _missing_files_error(root, f"neither {_PY_DIR}/ nor {_BIN_DIR}/ holds data_batch_1")
    out = {}
    for split, files in zip(("train", "test"), names):
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise _missing_files_error(root, f"{folder.name}/ lacks {missing}")
        parts = [_read_checked(reader, folder / f) for f in files]
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        out[split] = (data.reshape(-1, 3, 32, 32), labels)
    return out


def _damaged(path: Path, detail: str) -> ValueError:
    return ValueError(
        f"{path} is not a valid CIFAR-10 batch ({detail}): the file is truncated, corrupt or not "
        f"from the official archive. Delete {path.parent} and extract {_URL} into "
        f"{path.parent.parent} again (or run once with torchvision installed and --download)."
    )


def _read_checked(reader: Callable[[Path], tuple[np.ndarray, np.ndarray]],
                  path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as ``(data (N, 3072) uint8, labels (N,) int64)``, or a one-line error
    naming the file; the restricted unpickler's refusal stays an ``UnpicklingError``."""
    try:
        data, labels = reader(path)
    except pickle.UnpicklingError as e:
        if str(e).startswith("refusing to load"):
            raise pickle.UnpicklingError(f"{path}: {e}") from None
        raise _damaged(path, f"not a readable pickle: {e}") from None
    except MemoryError:
        raise
    except Exception as e:  # EOFError (truncated), KeyError/TypeError (wrong content), ...
        detail = str(e).splitlines()[0] if str(e) else ""
        if type(e) is not ValueError or not detail:     # the readers' own ValueErrors read well
            detail = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
        raise _damaged(path, detail) from None
    if data.ndim != 2 or data.shape[1] != 3072:
        raise _damaged(path, f"images of shape {data.shape}, expected (N, 3072)")
    if labels.ndim != 1 or len(labels) != len(data):
        raise _damaged(path, f"{len(data)} images but labels of shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise _damaged(path, f"labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    return data, labels


def _seeded_subset(n_total: int, n: Optional[int], seed: int) -> Optional[torch.Tensor]:
    if n is None or n >= n_total:
        return None
    if n < 1:
        raise ValueError(f"a subset size must be at least 1, got {n}.")
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def load_cifar10(
    root: Optional[str] = None,
    seed: int = 0,
    download: bool = False,
    n_train: Optional[int] = None,
    n_test: Optional[int] = None,
    augment: Optional[CifarAugment] = CifarAugment(),
):
    """CIFAR-10 as ``DatasetSplits``: augmented+normalized train, normalized test, ``(N, 3, 32, 32)``.

    Unlike the other datasets (``[0, 1]`` images), these images are normalized with
    ``CIFAR10_MEAN``/``CIFAR10_STD``, as the paper's network expects. Memory: the full training
    set takes about 0.6 GB as float32.

    Args:
        root: folder holding ``cifar-10-batches-py/`` (default ``default_data_root()``).
        seed: fixes the subsets.
        download: fetch the files with torchvision if they are missing (needs network).
        n_train, n_test: seeded random subsets (``None``: 50000 / 10000).
        augment: the training augmentation (``None``: only normalization).

    Returns:
        ``DatasetSplits(info, train, test)``; ``train`` is an ``AugmentedTensorDataset``.
    """
    root = Path(default_data_root() if root is None else root)
    if download and not (root / _PY_DIR / _TRAIN[0]).is_file():
        try:
            import torchvision
        except ImportError:
            raise _missing_files_error(root, "download=True needs torchvision, which is not installed") from None
        for train in (True, False):
            torchvision.datasets.CIFAR10(root=str(root), train=train, download=True)
    arrays = read_cifar10_arrays(root)
    splits = []
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = arrays[split]
        idx = _seeded_subset(len(labels), n, seed)
        if idx is not None:
            images, labels = images[idx.numpy()], labels[idx.numpy()]
        x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)  # (N, 3, 32, 32)
        y = torch.from_numpy(np.ascontiguousarray(labels))                              # (N,)
        if split == "train":
            transform = augment if augment is not None else normalize
            splits.append(AugmentedTensorDataset(x, y, transform))
        else:
            splits.append(TensorDataset(normalize(x), y))
    return DatasetSplits(cifar10_info(), splits[0], splits[1])


def cifar10_info():
    """``DatasetInfo('cifar10', (3, 32, 32), 10)``, as registered in ``ottt_edu.data``."""
    return DatasetInfo("cifar10", (3, 32, 32), 10, "CIFAR-10 (files on disk; see ottt_edu.data.cifar)",
                       normalized=True)
