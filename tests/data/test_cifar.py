"""Tests for ottt_edu.data.cifar (file reading, augmentation, loss) and ottt_edu.train.recipes."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ottt_edu.data.cifar import (CIFAR10_MEAN, CIFAR10_STD, AugmentedTensorDataset, CifarAugment,
                            ce_mse_loss, cutout, load_cifar10, normalize, random_crop,
                            random_horizontal_flip, read_cifar10_arrays)
from ottt_edu.train.recipes import CIFAR10_PAPER, RECIPES, get_recipe


def fake_arrays(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()


def write_python_version(root, n=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data, labels = fake_arrays(n, i)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": b"fake", b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * n}, f, protocol=2)


def write_binary_version(root, n=4):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        data, labels = fake_arrays(n, i)
        np.concatenate([np.array(labels, dtype=np.uint8)[:, None], data], axis=1).tofile(folder / name)


# -- loss ---------------------------------------------------------------------------------------
def test_ce_mse_loss_matches_hand_formula():
    out = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, 3.0]], requires_grad=True)
    y = torch.tensor([0, 1])
    onehot = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    logp = out.log_softmax(1)
    ce = -(logp[0, 0] + logp[1, 1]) / 2
    mse = ((out - onehot) ** 2).sum() / 6
    torch.testing.assert_close(ce_mse_loss(out, y), 0.95 * ce + 0.05 * mse)
    torch.testing.assert_close(ce_mse_loss(out, y, alpha=0.0), F.cross_entropy(out, y))
    assert torch.autograd.gradcheck(lambda o: ce_mse_loss(o, y), (out.detach().double().requires_grad_(),))


def test_ce_mse_loss_bad_input():
    with pytest.raises(ValueError, match=r"expects out \(B, C\)"):
        ce_mse_loss(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="alpha must lie in"):
        ce_mse_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), alpha=1.5)


# -- augmentation -------------------------------------------------------------------------------
def test_random_crop_is_a_window_of_the_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 8, 8)
    out = random_crop(x, padding=2, generator=g)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(6):
        windows = [padded[i, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert any(not torch.equal(out[i], x[i]) for i in range(6))   # some image was shifted
    assert random_crop(x[0], padding=2).shape == (3, 8, 8)
    assert torch.equal(random_crop(x, padding=0), x)


def test_flip_and_cutout():
    x = torch.rand(20, 3, 8, 8)
    flipped = random_horizontal_flip(x, p=0.5, generator=torch.Generator().manual_seed(1))
    was_flipped = [torch.equal(flipped[i], x[i].flip(-1)) for i in range(20)]
    assert all(was_flipped[i] or torch.equal(flipped[i], x[i]) for i in range(20))
    assert 0 < sum(was_flipped) < 20
    assert torch.equal(random_horizontal_flip(x, p=1.0), x.flip(-1))

    x = torch.ones(50, 3, 32, 32)
    out = cutout(x, length=16, generator=torch.Generator().manual_seed(2))
    for img in out:
        hole = img[0] == 0
        assert torch.equal(hole, img[1] == 0) and torch.equal(hole, img[2] == 0)  # all channels
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 0 < len(rows) <= 16 and 0 < len(cols) <= 16
        assert hole.sum() == len(rows) * len(cols)                                # one rectangle
    assert (out == 0).float().mean() > 0.1
    centre = cutout(torch.ones(1, 1, 32, 32), 16, torch.Generator().manual_seed(0))
    assert (centre == 0).sum() <= 256


def test_normalize_and_augment_pipeline():
    x = torch.rand(3, 32, 32)
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    torch.testing.assert_close(normalize(x), (x - mean) / std)
    plain = CifarAugment(padding=0, flip=False, cutout_length=0)
    torch.testing.assert_close(plain(x), normalize(x))
    torch.manual_seed(0)
    a = CifarAugment()(x)
    torch.manual_seed(0)
    assert torch.equal(CifarAugment()(x), a)          # global torch RNG: repeatable
    assert a.shape == (3, 32, 32) and not torch.equal(a, normalize(x))
    with pytest.raises(ValueError, match="expected an image"):
        cutout(torch.zeros(32, 32))


# -- files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("writer", [write_python_version, write_binary_version])
def test_reads_both_official_formats(tmp_path, writer):
    writer(tmp_path)
    arrays = read_cifar10_arrays(tmp_path)
    assert arrays["train"][0].shape == (20, 3, 32, 32) and arrays["test"][0].shape == (4, 3, 32, 32)
    data, labels = fake_arrays(4, 5)                  # test_batch was written with seed 5
    np.testing.assert_array_equal(arrays["test"][0], data.reshape(4, 3, 32, 32))
    np.testing.assert_array_equal(arrays["test"][1], labels)


def test_load_cifar10_splits_normalization_and_augmentation(tmp_path):
    write_python_version(tmp_path)
    splits = load_cifar10(root=str(tmp_path), n_train=12)
    assert splits.info.name == "cifar10" and splits.info.in_shape == (3, 32, 32)
    assert len(splits.train) == 12 and len(splits.test) == 4
    assert isinstance(splits.train, AugmentedTensorDataset)
    raw = torch.from_numpy(fake_arrays(4, 5)[0].reshape(4, 3, 32, 32)).float() / 255
    torch.testing.assert_close(splits.test.tensors[0], normalize(raw))
    torch.manual_seed(0)
    a, _ = splits.train[0]
    b, _ = splits.train[0]
    assert a.shape == (3, 32, 32) and not torch.equal(a, b)     # fresh augmentation per access
    quiet = load_cifar10(root=str(tmp_path), augment=None)
    torch.testing.assert_close(quiet.train[0][0], normalize(quiet.train.tensors[0][0]))


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-python.tar.gz.*data_batch_1"):
        load_cifar10(root=str(tmp_path))
    write_python_version(tmp_path)
    os.remove(tmp_path / "cifar-10-batches-py" / "test_batch")
    with pytest.raises(FileNotFoundError, match=r"lacks \['test_batch'\]"):
        read_cifar10_arrays(tmp_path)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_files_cannot_run_code(tmp_path):
    write_python_version(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load (posix|os|nt).system"):
        read_cifar10_arrays(tmp_path)


# -- recipes ------------------------------------------------------------------------------------
def test_paper_recipe_values():
    r = get_recipe("cifar10_paper")
    assert r is CIFAR10_PAPER and set(RECIPES) == {"cifar10_paper"}
    o = r.overrides()
    assert o == dict(dataset="cifar10", model="vgg", width=1.0, method="ottt_a", T=6, tau=2.0,
                     epochs=300, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9,
                     weight_decay=0.0, scheduler="cosine", loss="ce_mse", encoding="direct")
    assert r.paper_accuracy == {"ottt_a": 93.52, "ottt_o": 93.49}
    with pytest.raises(ValueError, match="unknown recipe"):
        get_recipe("imagenet")


# -- the recipe through the command line --------------------------------------------------------
def test_recipe_sets_defaults_and_explicit_options_win():
    from ottt_edu.train.cli import build_parser, config_from_args, recipe_defaults
    argv = ["train", "--recipe", "cifar10_paper", "--T", "2", "--method", "ottt_o"]
    config = config_from_args(build_parser(recipe_defaults(argv)).parse_args(argv))
    assert (config.dataset, config.model, config.width, config.loss) == ("cifar10", "vgg", 1.0, "ce_mse")
    assert (config.optimizer, config.lr, config.momentum, config.scheduler) == ("sgd", 0.1, 0.9, "cosine")
    assert (config.epochs, config.batch_size, config.tau) == (300, 128, 2.0)
    assert (config.T, config.method) == (2, "ottt_o")                  # explicit flags win
    plain = config_from_args(build_parser(recipe_defaults(["train"])).parse_args(["train"]))
    assert plain.dataset == "digits"


def test_narrow_recipe_runs_on_fake_cifar_files(tmp_path, capsys):
    """The paper's recipe end to end (narrow VGG, 1 epoch, tiny subsets) on fake CIFAR files."""
    from ottt_edu.train.cli import main
    write_python_version(tmp_path / "data", n=8)
    argv = ["train", "--recipe", "cifar10_paper", "--width", "0.0625", "--epochs", "1", "--T", "2",
            "--batch-size", "8", "--n-train", "16", "--n-test", "8", "--data-root",
            str(tmp_path / "data"), "--quiet", "--json", str(tmp_path / "h.json")]
    assert main(argv) == 0
    assert "final test accuracy" in capsys.readouterr().out
    import json
    saved = json.loads((tmp_path / "h.json").read_text(encoding="utf-8"))
    assert saved["config"]["model"] == "vgg" and saved["config"]["loss"] == "ce_mse"
    assert len(saved["history"]["train_loss"]) == 1


def test_batched_getitems_matches_per_image_access():
    from torch.utils.data import DataLoader
    x, y = torch.rand(10, 3, 32, 32), torch.arange(10)
    ds = AugmentedTensorDataset(x, y, normalize)
    xb, yb = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))   # uses __getitems__
    torch.testing.assert_close(xb, torch.stack([ds[i][0] for i in range(4)]))
    assert torch.equal(yb, y[:4])
    aug = AugmentedTensorDataset(x, y, CifarAugment())
    a = aug.__getitems__([0, 0, 0, 0])                  # one image, four independent draws
    assert len({tuple(t.flatten()[:64].tolist()) for t, _ in a}) > 1
