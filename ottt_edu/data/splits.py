"""What a dataset is to the trainer: ``DatasetInfo`` (shape, classes), ``DatasetSplits`` (train, test).

Every loader of ``ottt_edu.data`` returns a ``DatasetSplits`` of two ``TensorDataset`` s of
images ``(N, C, H, W)`` and integer labels ``(N,)``; ``default_data_root`` is where optional
files (MNIST, CIFAR-10) are looked for.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from torch.utils.data import TensorDataset

__all__ = ["DatasetInfo", "DatasetSplits", "default_data_root"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset: image shape ``(C, H, W)`` and class count.

    ``normalized`` is ``True`` for images standardised per channel (mean 0, std 1, e.g. CIFAR-10)
    instead of scaled to ``[0, 1]``: they cannot be Poisson-encoded (no firing probabilities).
    """

    name: str
    in_shape: tuple[int, int, int]  # (C, H, W)
    n_classes: int
    description: str = ""
    normalized: bool = False


@dataclass
class DatasetSplits:
    """A train and a test ``TensorDataset`` of ``(images (N, C, H, W) in [0, 1], labels (N,))``."""

    info: DatasetInfo
    train: TensorDataset
    test: TensorDataset



def default_data_root() -> str:
    """``$OTTT_EDU_DATA`` if set, else ``~/.cache/ottt_edu/data``: where optional files live."""
    return os.environ.get("OTTT_EDU_DATA", os.path.join(os.path.expanduser("~"), ".cache", "ottt_edu", "data"))
