"""Tests for ottt_edu.data and ottt_edu.functional.encoding: the digits split, the registry, optional
torchvision datasets (missing package / missing files give clear errors), and the encoders."""
import sys
import types

import pytest
import torch

from ottt_edu import data as data_mod
from ottt_edu.data import DATASETS, DatasetInfo, load_dataset, register_dataset
from ottt_edu.functional.encoding import DirectEncoder, PoissonEncoder, make_encoder


def test_digits_split_shapes_range_and_stratification():
    d = load_dataset("digits", seed=0)
    x_tr, y_tr = d.train.tensors
    x_te, y_te = d.test.tensors
    assert x_tr.shape == (1437, 1, 8, 8) and x_te.shape == (360, 1, 8, 8)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    assert float(x_tr.min()) == 0.0 and float(x_tr.max()) == 1.0
    assert d.info.in_shape == (1, 8, 8) and d.info.n_classes == 10
    counts = torch.bincount(y_te, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 per class


def test_digits_split_is_fixed_by_seed():
    a, b, c = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    assert not torch.equal(a.test.tensors[0], c.test.tensors[0])


def test_digits_subsets():
    d = load_dataset("digits", n_train=50, n_test=20, seed=3)
    assert len(d.train) == 50 and len(d.test) == 20


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown dataset 'cifar100'.*digits"):
        load_dataset("cifar100")


def test_register_dataset_rejects_duplicates_and_adds_new():
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DatasetInfo("digits", (1, 8, 8), 10), data_mod.load_digits)
    name = "tiny_test_dataset"
    try:
        def loader(**kw):
            x = torch.zeros(4, 1, 2, 2)
            y = torch.arange(4) % 2
            ds = torch.utils.data.TensorDataset(x, y)
            return data_mod.DatasetSplits(DATASETS[name].info, ds, ds)
        register_dataset(DatasetInfo(name, (1, 2, 2), 2), loader)
        assert len(load_dataset(name).train) == 4
    finally:
        DATASETS.pop(name, None)


def test_mnist_without_torchvision_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` -> ImportError
    for name in ("mnist", "fashion_mnist"):
        with pytest.raises(ImportError, match="pip install torchvision.*--dataset digits"):
            load_dataset(name)


def test_mnist_missing_files_says_where_to_put_them(monkeypatch, tmp_path):
    class MissingMNIST:
        def __init__(self, root, train, download):
            raise RuntimeError("Dataset not found. You can use download=True to download it")

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(MNIST=MissingMNIST, FashionMNIST=MissingMNIST)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("mnist", root=str(tmp_path))
    msg = str(e.value)
    assert str(tmp_path / "MNIST" / "raw") in msg and "train-images-idx3-ubyte" in msg
    assert "--download" in msg
    with pytest.raises(FileNotFoundError, match="FashionMNIST"):
        load_dataset("fashion_mnist", root=str(tmp_path))


def test_mnist_through_a_fake_torchvision(monkeypatch, tmp_path):
    class FakeMNIST:
        def __init__(self, root, train, download):
            n = 12 if train else 6
            self.data = torch.full((n, 28, 28), 255, dtype=torch.uint8)
            self.targets = torch.arange(n) % 10

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(MNIST=FakeMNIST, FashionMNIST=FakeMNIST)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    d = load_dataset("mnist", root=str(tmp_path), n_train=5)
    assert d.train.tensors[0].shape == (5, 1, 28, 28) and len(d.test) == 6
    assert float(d.train.tensors[0].max()) == 1.0 and d.info.in_shape == (1, 28, 28)


def test_direct_encoder_repeats_input():
    x = torch.rand(3, 1, 8, 8)
    x_seq = DirectEncoder()(x, 4)
    assert x_seq.shape == (4, 3, 1, 8, 8)
    for t in range(4):
        assert torch.equal(x_seq[t], x)


def test_poisson_encoder_is_seeded_binary_and_has_the_right_rate():
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]]).expand(2000, 4)
    a = PoissonEncoder(seed=5)(x, 8)
    b = PoissonEncoder(seed=5)(x, 8)
    c = PoissonEncoder(seed=6)(x, 8)
    assert a.shape == (8, 2000, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    rate = a.mean(dim=(0, 1))
    torch.testing.assert_close(rate, torch.tensor([0.0, 0.25, 0.5, 1.0]), atol=0.01, rtol=0)


def test_poisson_encoder_reseed_restarts_the_stream():
    enc = PoissonEncoder(seed=1)
    x = torch.full((5, 3), 0.5)
    first = enc(x, 3)
    assert not torch.equal(first, enc(x, 3))
    enc.reseed()
    assert torch.equal(first, enc(x, 3))


def test_encoder_bad_inputs():
    with pytest.raises(ValueError, match="unknown encoding 'rate'"):
        make_encoder("rate")
    with pytest.raises(ValueError, match="T .* >= 1"):
        DirectEncoder()(torch.zeros(2, 3), 0)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        PoissonEncoder()(torch.full((2, 3), 2.0), 2)
