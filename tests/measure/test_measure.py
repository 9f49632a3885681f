"""Tests for ottt_edu.measure: saved-tensor memory flat in T for OTTT and linear for BPTT,
gradient cosine (1 for T=1, near 1 for small T), ottt_vs_bptt, spike recording."""
import math

import pytest
import torch

from ottt_edu.measure import (OTTTvsBPTT, cosine_similarity, digits_batch, firing_rates,
                              gradient_cosine, measure_iteration, memory_time_vs_T, ottt_vs_bptt,
                              record_spikes, weight_gradients)
from ottt_edu.models import ModelConfig, mlp


def test_cosine_similarity_values():
    a = torch.tensor([1.0, 0.0])
    assert cosine_similarity(a, a) == pytest.approx(1.0)
    assert cosine_similarity(a, -a) == pytest.approx(-1.0)
    assert cosine_similarity(a, torch.tensor([0.0, 2.0])) == pytest.approx(0.0)
    assert math.isnan(cosine_similarity(a, torch.zeros(2)))


def test_memory_flat_for_ottt_and_linear_for_bptt():
    rows = memory_time_vs_T((1, 2, 4, 8), ModelConfig("mlp", hidden=(32,)), batch_size=8, repeats=1)
    ottt = [r["ottt_bytes"] for r in rows]
    bptt = [r["bptt_bytes"] for r in rows]
    assert max(ottt) == min(ottt) > 0                         # flat in T
    assert bptt[0] == ottt[0]                                 # T = 1: the same graph
    steps = [(bptt[i + 1] - bptt[i]) / (rows[i + 1]["T"] - rows[i]["T"]) for i in range(3)]
    assert min(steps) > 0 and max(steps) == pytest.approx(min(steps), rel=1e-6)   # linear
    assert rows[-1]["bytes_ratio"] > 3 and rows[0]["time_ratio"] > 0


def test_measure_iteration_fields_and_bad_method():
    m = mlp((8,))
    x, y = digits_batch(4)
    r = measure_iteration(m, x.unsqueeze(0).expand(3, *x.shape), y, "ottt", repeats=1)
    assert (r.method, r.T, r.cuda_peak_bytes) == ("ottt", 3, None)
    assert r.saved_bytes > 0 and r.seconds > 0
    with pytest.raises(ValueError, match="unknown method 'sgd'"):
        measure_iteration(m, x.unsqueeze(0), y, "sgd")


def test_gradient_cosine_is_one_for_T1_and_copies_weights():
    torch.manual_seed(0)
    o, b = mlp((16,)), mlp((16,), neuron="bptt")
    x, y = digits_batch(16)
    x = x * 4  # make the hidden layer fire at the first step
    cos = gradient_cosine(o, b, x.unsqueeze(0), y)
    assert set(cos) == {"fc1", "readout"}
    for name, c in cos.items():
        assert c == pytest.approx(1.0, abs=1e-6), name
    torch.testing.assert_close(o.fc1.weight, b.fc1.weight)


def test_weight_gradients_are_zero_where_no_gradient_flows():
    m = mlp((8,))
    x, y = digits_batch(4)
    g = weight_gradients(m, torch.zeros(2, *x.shape), y, "ottt")
    assert g["fc1"].abs().sum() == 0  # no spikes anywhere -> only the surrogate; input is 0


def test_ottt_vs_bptt_interface():
    r = ottt_vs_bptt(1, 2.0)
    assert isinstance(r, OTTTvsBPTT) and r.T == 1 and r.tau == 2.0
    assert r.cosine == pytest.approx({"fc1": 1.0, "readout": 1.0}, abs=1e-6)
    assert r.ottt_bytes == r.bptt_bytes
    r6 = ottt_vs_bptt(6, 2.0)
    assert all(0.9 < c <= 1.0 + 1e-9 for c in r6.cosine.values()), r6.cosine
    assert r6.ottt_bytes == r.ottt_bytes and r6.bptt_bytes > 4 * r6.ottt_bytes
    assert ottt_vs_bptt(6, 2.0).cosine == r6.cosine            # deterministic
    assert ottt_vs_bptt(6, 4.0).cosine != r6.cosine


@pytest.mark.parametrize("kwargs, match", [
    (dict(T=0), "T must be an integer >= 1"),
    (dict(T=2, tau=1.0), "tau must be greater than 1"),
    (dict(T=2, warm_start_steps=-1), "warm_start_steps"),
])
def test_ottt_vs_bptt_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ottt_vs_bptt(**kwargs)


def test_memory_time_vs_T_bad_Ts():
    with pytest.raises(ValueError, match="every T must be >= 1"):
        memory_time_vs_T((0, 2))


def test_record_spikes_and_firing_rates():
    torch.manual_seed(0)
    m = mlp((12,))
    x, _ = digits_batch(5)
    x_seq = (x * 3).unsqueeze(0).expand(4, *x.shape)
    m.train()
    rec = record_spikes(m, x_seq)
    assert m.training
    assert rec["lif1"].shape == (4, 5, 12) and rec["output"].shape == (4, 5, 10)
    assert set(rec["lif1"].unique().tolist()) <= {0.0, 1.0}
    rates = firing_rates(m, x_seq)
    assert rates["lif1"] == pytest.approx(rec["lif1"].mean().item())
    assert 0 < rates["lif1"] < 1
