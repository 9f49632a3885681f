"""SLTT (and SLTT-K) and FPTT under DistributedDataParallel: two CPU processes (gloo, meeting
through a file) give the parameters of one process on the combined batch; SLTT all-reduces once
per batch."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from ottt_edu.train.distributed import (init_distributed, sync_context_for, teardown_distributed, unwrap,
                                  wrap_ddp)
from ottt_edu.train.online_steps import FPTTStep, sltt_step
from test_distributed import (B_LOCAL, LR, WORLD, assert_same_params, combined_batch, count_allreduces,
                              make_model, rendezvous_file, seq)

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def _sltt_k(model, x_seq, y, opt, loss_fn, sync_context=contextlib.nullcontext):
    return sltt_step(model, x_seq, y, opt, loss_fn, sync_context, k=2,
                     generator=torch.Generator().manual_seed(3))       # the same steps on every rank


def _steps():
    return {"sltt": ("sltt", sltt_step), "sltt_k": ("sltt", _sltt_k),
            "fptt": ("bptt", FPTTStep(alpha=0.2))}


def _worker(rank: int, init_method: str, out_dir: str) -> None:
    ctx = init_distributed(device="cpu", rank=rank, world_size=WORLD, init_method=init_method)
    try:
        x, y = combined_batch()
        rows = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
        result = {}
        for name, (neuron, step) in _steps().items():
            ddp = wrap_ddp(make_model(neuron), ctx)
            calls = count_allreduces(ddp)
            opt = torch.optim.SGD(ddp.parameters(), lr=LR, momentum=0.9)
            method = "sltt" if neuron == "sltt" else "fptt"
            for _ in range(2):                                         # two batches: w_ra carries over
                step(ddp, seq(x[rows]), y[rows], opt, F.cross_entropy, sync_context_for(ddp, method))
            result[name] = {k: v.clone() for k, v in unwrap(ddp).state_dict().items()}
            result[f"{name}_allreduces"] = len(calls)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        teardown_distributed()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_online")
    mp.start_processes(_worker, args=(rendezvous_file(out), str(out)), nprocs=WORLD, join=True,
                       start_method="spawn")
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


@pytest.mark.parametrize("name", ["sltt", "sltt_k", "fptt"])
def test_equals_single_process_on_combined_batch(ranks, name):
    neuron, step = _steps()[name]
    x, y = combined_batch()
    model = make_model(neuron)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    for _ in range(2):
        step(model, seq(x), y, opt, F.cross_entropy)
    expected = model.state_dict()
    before = make_model(neuron).state_dict()
    assert any(not torch.equal(expected[k], before[k]) for k in expected)
    for r in ranks:
        assert_same_params(r[name], expected)


def test_sltt_all_reduces_once_per_batch(ranks):
    for r in ranks:
        assert r["sltt_allreduces"] == r["sltt_k_allreduces"] > 0
        assert r["fptt_allreduces"] > r["sltt_allreduces"]
