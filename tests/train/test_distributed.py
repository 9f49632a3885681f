"""Two CPU processes (gloo) against one process on the combined batch.

Checks: one OTTT_A step under DDP gives the same parameters as a single process on the
combined batch; OTTT_A all-reduces once per optimizer step (OTTT_O once per time step);
neuron state (v, trace) stays per process; BPTT under DDP matches too.

The two processes meet through a file (``init_method='file://...'``), which works on Linux,
macOS and Windows alike; ``tcp://`` would need libuv on Windows (see ``rendezvous_file``).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from ottt_edu import OTTTLIFNode, reset_net
from ottt_edu.train.distributed import (all_reduce_mean, init_distributed, is_main_process,
                                  sync_context_for, teardown_distributed, unwrap, wrap_ddp)
from ottt_edu.train import bptt_step, ottt_a_step, ottt_o_step
from ottt_edu.models.vgg import spiking_vgg

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")

WORLD, B_LOCAL, T, LR = 2, 2, 3, 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rendezvous_file(folder: str | Path) -> str:
    """The ``file://`` URL the ranks meet at: a file in ``folder`` that does not exist yet.

    Not ``tcp://127.0.0.1:PORT``: since PyTorch 2.4 a TCP store defaults to libuv, which
    PyTorch's Windows wheels are built without ("use_libuv was requested but PyTorch was build
    without libuv support", pytorch/pytorch#139990); a file store needs no network at all.
    """
    return (Path(folder).resolve() / "rendezvous").as_uri()


def combined_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """WORLD * B_LOCAL smooth 16x16 RGB images (float64) and labels; rank r takes rows r*B:(r+1)*B."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(WORLD * B_LOCAL, 3, 4, 4, generator=g, dtype=torch.float64)
    x = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
    return x / x.std(), torch.randint(0, 10, (WORLD * B_LOCAL,), generator=g)


def make_model(neuron: str = "ottt") -> torch.nn.Module:
    torch.manual_seed(0)
    return spiking_vgg(width=1 / 16, neuron=neuron).double()


def seq(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(0).expand(T, *x.shape)        # direct encoding: (T, B, 3, 32, 32)


def count_allreduces(ddp) -> list:
    calls: list = []

    def hook(state, bucket):
        calls.append(1)
        buf = bucket.buffer().div_(dist.get_world_size())
        return dist.all_reduce(buf, async_op=True).get_future().then(lambda f: f.value()[0])

    ddp.register_comm_hook(None, hook)
    return calls


def first_neuron(model) -> OTTTLIFNode:
    return next(m for m in model.modules() if isinstance(m, OTTTLIFNode))


def _worker(rank: int, init_method: str, out_dir: str) -> None:
    ctx = init_distributed(device="cpu", rank=rank, world_size=WORLD, init_method=init_method)
    try:
        x, y = combined_batch()
        rows = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
        xl, yl = x[rows], y[rows]
        result = {"backend": ctx.backend, "is_main": is_main_process()}

        # OTTT_A: one step; count all-reduces
        ddp = wrap_ddp(make_model(), ctx)
        calls = count_allreduces(ddp)
        opt = torch.optim.SGD(ddp.parameters(), lr=LR, momentum=0.9)
        ottt_a_step(ddp, seq(xl), yl, opt, F.cross_entropy, sync_context_for(ddp, "ottt_a"))
        result["ottt_a_params"] = {k: v.clone() for k, v in unwrap(ddp).state_dict().items()}
        result["ottt_a_allreduces"] = len(calls)

        # neuron state after one step on this rank's samples: not synchronised
        with ddp.no_sync(), torch.no_grad():
            ddp(xl)
        neuron = first_neuron(ddp)
        result["v"], result["trace"] = neuron.v.clone(), neuron.trace.clone()
        reset_net(ddp)

        # OTTT_O: one all-reduce per time step
        ddp_o = wrap_ddp(make_model(), ctx)
        calls_o = count_allreduces(ddp_o)
        opt_o = torch.optim.SGD(ddp_o.parameters(), lr=LR, momentum=0.9)
        ottt_o_step(ddp_o, seq(xl), yl, opt_o, F.cross_entropy, sync_context_for(ddp_o, "ottt_o"))
        result["ottt_o_params"] = {k: v.clone() for k, v in unwrap(ddp_o).state_dict().items()}
        result["ottt_o_allreduces"] = len(calls_o)

        # BPTT: T forward passes, one backward
        ddp_b = wrap_ddp(make_model("bptt"), ctx)
        opt_b = torch.optim.SGD(ddp_b.parameters(), lr=LR, momentum=0.9)
        bptt_step(ddp_b, seq(xl), yl, opt_b, F.cross_entropy, sync_context_for(ddp_b, "bptt"))
        result["bptt_params"] = {k: v.clone() for k, v in unwrap(ddp_b).state_dict().items()}
        result["mean"] = all_reduce_mean([float(rank), 1.0])
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        teardown_distributed()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(rendezvous_file(out), str(out)), nprocs=WORLD, join=True,
                       start_method="spawn")
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def single_process(step, neuron: str = "ottt") -> dict:
    x, y = combined_batch()
    model = make_model(neuron)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    step(model, seq(x), y, opt, F.cross_entropy)
    return model.state_dict()


def assert_same_params(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], atol=1e-6, rtol=0, msg=f"parameter {k}")


def test_ottt_a_step_equals_single_process_on_combined_batch(ranks):
    expected = single_process(ottt_a_step)
    before = make_model().state_dict()
    assert any(not torch.equal(expected[k], before[k]) for k in expected)  # the step did something
    for r in ranks:
        assert_same_params(r["ottt_a_params"], expected)


def test_ottt_a_averages_gradients_once_per_step(ranks):
    for r in ranks:
        assert r["ottt_o_allreduces"] == T * r["ottt_a_allreduces"] >= T


def test_ottt_o_and_bptt_equal_single_process(ranks):
    expected_o = single_process(ottt_o_step)
    expected_b = single_process(bptt_step, "bptt")
    for r in ranks:
        assert_same_params(r["ottt_o_params"], expected_o)
        assert_same_params(r["bptt_params"], expected_b)


def test_neuron_state_is_per_process(ranks):
    """Each rank's v and trace are those of its own samples, not broadcast or averaged."""
    x, _ = combined_batch()
    model = make_model()
    model.load_state_dict(ranks[0]["ottt_a_params"])
    with torch.no_grad():
        model(x)
    neuron = first_neuron(model)
    for rank, r in enumerate(ranks):
        rows = slice(rank * B_LOCAL, (rank + 1) * B_LOCAL)
        torch.testing.assert_close(r["v"], neuron.v[rows])
        torch.testing.assert_close(r["trace"], neuron.trace[rows])
    assert not torch.equal(ranks[0]["v"], ranks[1]["v"])


def test_backend_rank0_and_all_reduce_mean(ranks):
    assert [r["backend"] for r in ranks] == ["gloo", "gloo"]
    assert [r["is_main"] for r in ranks] == [True, False]
    assert ranks[0]["mean"] == ranks[1]["mean"] == [0.5, 1.0]
    assert all_reduce_mean([3.0]) == [3.0]          # no process group here: identity


def test_sync_context_without_ddp_is_null():
    import contextlib
    assert sync_context_for(make_model(), "ottt_a") is contextlib.nullcontext


def test_init_distributed_reports_bad_environment(monkeypatch):
    monkeypatch.setenv("RANK", "zero")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="RANK='zero' is not an integer.*torchrun"):
        init_distributed(device="cpu")
    with pytest.raises(ValueError, match="rank must lie in"):
        init_distributed(device="cpu", rank=2, world_size=2)


# -- the command line under torchrun --------------------------------------------------------------
TORCHRUN_ARGS = ["train", "--dataset", "digits", "--model", "mlp", "--hidden", "16", "--T", "3",
                 "--epochs", "2", "--n-train", "192", "--n-test", "64", "--batch-size", "16",
                 "--optimizer", "sgd", "--lr", "0.1", "--dropout", "0.2", "--seed", "2"]


def torchrun(*extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}",
           "-m", "ottt_edu", *TORCHRUN_ARGS, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.mark.skipif(sys.platform == "win32",
                    reason="torchrun's rendezvous is a TCP store, which needs libuv, and PyTorch's "
                           "Windows wheels are built without it (pytorch/pytorch#139990); the "
                           "two-process tests above meet through a file and run there")
def test_torchrun_cli_rank0_writes_and_resume_is_exact(tmp_path):
    full = torchrun("--checkpoint-dir", str(tmp_path / "full"), "--json", str(tmp_path / "h.json"))
    assert full.returncode == 0, full.stderr[-3000:]
    assert full.stdout.count("final test accuracy") == 1          # rank 0 only
    assert full.stdout.count("epoch   2  train loss") == 1
    state = torch.load(tmp_path / "full" / "epoch_0002.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert json.loads((tmp_path / "h.json").read_text(encoding="utf-8"))["history"]["epoch"] == [1, 2]

    (tmp_path / "part").mkdir()                                     # crashed after epoch 1
    shutil.copy(tmp_path / "full" / "epoch_0001.pt", tmp_path / "part")
    resumed = torchrun("--checkpoint-dir", str(tmp_path / "part"), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = torch.load(tmp_path / "part" / "epoch_0002.pt", weights_only=True)
    for k in state["model"]:
        assert torch.equal(state["model"][k], again["model"][k]), f"weights {k} differ"
    drop_time = lambda h: {k: v for k, v in h.items() if k != "time"}
    assert drop_time(state["history"]) == drop_time(again["history"])

    single = subprocess.run([sys.executable, "-m", "ottt_edu", *TORCHRUN_ARGS,
                             "--checkpoint-dir", str(tmp_path / "full"), "--resume"],
                            capture_output=True, text=True, timeout=120)
    assert single.returncode == 1
    assert "written by 2 process(es) but this run has 1" in single.stderr
