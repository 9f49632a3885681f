"""Datasets for training spiking networks: ``load_dataset(name)`` and a small registry.

English
    The default dataset is scikit-learn's handwritten digits (1797 grey images of 8x8 pixels,
    10 classes, shipped inside scikit-learn, so no network is ever needed). It is split into a
    fixed, seeded, stratified train/test split (1437 / 360 images). MNIST and Fashion-MNIST
    (28x28, 60000 / 10000 images) are available when ``torchvision`` is installed and the
    files are present under ``root`` (or can be downloaded); offline, a clear error says where
    to put the files. Every dataset is returned as two ``TensorDataset`` of images
    ``(N, C, H, W)`` scaled to ``[0, 1]`` and integer labels ``(N,)``. ``register_dataset``
    adds a new entry (e.g. CIFAR-10) without touching this file's callers.
中文
    默认数据集为 scikit-learn 自带的手写数字 (8x8, 无需联网), 按固定随机种子分层划分训练/测试集。
    安装 torchvision 且数据文件存在 (或可下载) 时, 还可使用 MNIST 与 Fashion-MNIST;
    离线且缺少文件时会给出清楚的错误信息, 说明文件应放在何处。

Reference: Alpaydin & Kaynak, "Optical Recognition of Handwritten Digits" (UCI, 1998), as
packaged by ``sklearn.datasets.load_digits``; LeCun et al., MNIST (1998); Xiao et al.,
Fashion-MNIST (2017).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch.utils.data import TensorDataset

from . import cifar as _cifar
from .splits import DatasetInfo, DatasetSplits, default_data_root

__all__ = [
    "DatasetInfo",
    "DatasetSplits",
    "DATASETS",
    "register_dataset",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_fashion_mnist",
    "default_data_root",
]


@dataclass(frozen=True)
class _Entry:
    info: DatasetInfo
    loader: Callable[..., DatasetSplits]


DATASETS: dict[str, _Entry] = {}


def register_dataset(info: DatasetInfo, loader: Callable[..., DatasetSplits]) -> None:
    """Add a dataset to the registry used by ``load_dataset`` and the command line.

    ``loader(root=..., seed=..., download=..., n_train=..., n_test=...)`` must return a
    ``DatasetSplits``; it may ignore arguments it has no use for.
    """
    if info.name in DATASETS:
        raise ValueError(f"dataset {info.name!r} is already registered.")
    DATASETS[info.name] = _Entry(info, loader)


def _subset(ds: TensorDataset, n: Optional[int], seed: int) -> TensorDataset:
    """The first ``n`` items of a seeded permutation of ``ds`` (all of it for ``n=None``)."""
    if n is None or n >= len(ds):
        return ds
    if n < 1:
        raise ValueError(f"a subset size must be at least 1, got {n}.")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return TensorDataset(*(t[idx] for t in ds.tensors))


def load_digits(
    root: Optional[str] = None,
    seed: int = 0,
    download: bool = False,
    n_train: Optional[int] = None,
    n_test: Optional[int] = None,
    test_fraction: float = 0.2,
) -> DatasetSplits:
    """scikit-learn's 8x8 digits, pixel values ``/16`` into ``[0, 1]``, shape ``(N, 1, 8, 8)``.

    The split is stratified and fixed by ``seed`` (``test_fraction=0.2``: 1437 train, 360 test).
    ``root`` and ``download`` are ignored (the data ship with scikit-learn).
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}.")
    bunch = _sk_load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    y = bunch.target.astype(np.int64)  # (N,)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    train = TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr))
    test = TensorDataset(torch.from_numpy(x_te), torch.from_numpy(y_te))
    return DatasetSplits(DATASETS["digits"].info, _subset(train, n_train, seed), _subset(test, n_test, seed))


def _import_torchvision(name: str):
    try:
        return importlib.import_module("torchvision")
    except ImportError as e:
        raise ImportError(
            f"dataset {name!r} needs torchvision, which is not installed ({e}). Install it with "
            f"`pip install torchvision` (or `pip install ottt-edu[vision]`), or use "
            f"--dataset digits, which ships with scikit-learn."
        ) from None


def _load_torchvision(
    name: str, class_name: str, root: Optional[str], seed: int, download: bool,
    n_train: Optional[int], n_test: Optional[int],
) -> DatasetSplits:
    tv = _import_torchvision(name)
    root = default_data_root() if root is None else root
    cls = getattr(tv.datasets, class_name)
    splits = []
    for train in (True, False):
        try:
            ds = cls(root=root, train=train, download=download)
        except Exception as e:  # torchvision raises RuntimeError (missing) or URLError (offline)
            folder = os.path.join(root, class_name, "raw")
            raise FileNotFoundError(
                f"could not load {class_name} from {root!r} ({type(e).__name__}: {e}). Either "
                f"put the four files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or their .gz) into "
                f"{folder!r}, or run once with network access and download=True "
                f"(command line: --download); set --data-root or $OTTT_EDU_DATA to use "
                f"another folder."
            ) from None
        x = torch.as_tensor(ds.data).to(torch.float32).div_(255.0)[:, None]  # (N, 1, 28, 28)
        y = torch.as_tensor(ds.targets).to(torch.int64)  # (N,)
        splits.append(TensorDataset(x, y))
    return DatasetSplits(DATASETS[name].info, _subset(splits[0], n_train, seed), _subset(splits[1], n_test, seed))


def load_mnist(root: Optional[str] = None, seed: int = 0, download: bool = False,
               n_train: Optional[int] = None, n_test: Optional[int] = None) -> DatasetSplits:
    """MNIST through torchvision, shape ``(N, 1, 28, 28)`` in ``[0, 1]``; needs the files."""
    return _load_torchvision("mnist", "MNIST", root, seed, download, n_train, n_test)


def load_fashion_mnist(root: Optional[str] = None, seed: int = 0, download: bool = False,
                       n_train: Optional[int] = None, n_test: Optional[int] = None) -> DatasetSplits:
    """Fashion-MNIST through torchvision, shape ``(N, 1, 28, 28)`` in ``[0, 1]``; needs the files."""
    return _load_torchvision("fashion_mnist", "FashionMNIST", root, seed, download, n_train, n_test)


register_dataset(DatasetInfo("digits", (1, 8, 8), 10, "scikit-learn 8x8 digits (offline)"), load_digits)
register_dataset(DatasetInfo("mnist", (1, 28, 28), 10, "MNIST (torchvision)"), load_mnist)
register_dataset(DatasetInfo("fashion_mnist", (1, 28, 28), 10, "Fashion-MNIST (torchvision)"), load_fashion_mnist)
register_dataset(_cifar.cifar10_info(), _cifar.load_cifar10)  # files on disk, see ottt_edu.data.cifar


def load_dataset(
    name: str,
    *,
    root: Optional[str] = None,
    seed: int = 0,
    download: bool = False,
    n_train: Optional[int] = None,
    n_test: Optional[int] = None,
) -> DatasetSplits:
    """Load a registered dataset by name / 按名称加载数据集。

    Args:
        name: one of ``DATASETS`` (``'digits'``, ``'mnist'``, ``'fashion_mnist'``, ``'cifar10'``).
        root: folder of optional dataset files (default ``default_data_root()``).
        seed: fixes the digits split and any subset.
        download: allow torchvision to download missing files (needs network).
        n_train, n_test: keep only a seeded random subset of this size (``None``: all).

    Returns:
        ``DatasetSplits(info, train, test)``; images ``(N, C, H, W)`` in ``[0, 1]``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}.")
    return DATASETS[name].loader(root=root, seed=seed, download=download, n_train=n_train, n_test=n_test)
