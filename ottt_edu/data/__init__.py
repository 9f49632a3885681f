"""Datasets for training spiking networks / 数据集。

``load_dataset(name)`` and its registry (``datasets``: scikit-learn's digits, MNIST,
Fashion-MNIST), CIFAR-10 with the paper's augmentation and loss (``cifar``), and the types every
loader returns (``splits``).
"""
from .splits import DatasetInfo, DatasetSplits, default_data_root
from .datasets import (DATASETS, register_dataset, load_dataset, load_digits, load_mnist,
                       load_fashion_mnist)

__all__ = [
    "DatasetInfo", "DatasetSplits", "default_data_root", "DATASETS", "register_dataset",
    "load_dataset", "load_digits", "load_mnist", "load_fashion_mnist",
]
