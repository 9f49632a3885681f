"""The five training methods side by side (ottt_edu.measure): where SLTT/FPTT/OTTT gradients equal
BPTT's (theory, against BPTT's own gradient), one network per method, memory flat in T for the
online methods and linear for BPTT, and the gradient cosine helpers."""
import pytest
import torch

from ottt_edu.measure import (ALL_METHODS, MethodsVsBPTT, digits_batch, gradient_cosine_to_bptt,
                              measure_training_step, method_models, methods_vs_bptt, methods_vs_T,
                              weight_gradients)
from ottt_edu.models import ModelConfig


# -- theory: where the online gradients equal BPTT's ----------------------------------------------
def _grads(T, hidden=(24,), scale=3.0, seed=0):
    torch.manual_seed(seed)
    models = method_models(ModelConfig("mlp", hidden=hidden), seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(T, 16, 1, 8, 8, generator=g) * scale
    y = torch.randint(0, 10, (16,), generator=g)
    return {m: weight_gradients(net, x, y, m) for m, net in models.items()}


def test_T1_every_method_has_bptts_gradient():
    g = _grads(T=1)
    assert g["bptt"]["fc1"].abs().sum() > 0 and g["bptt"]["readout"].abs().sum() > 0
    for m in ("ottt_a", "ottt_o", "sltt", "fptt"):
        for layer in g["bptt"]:
            torch.testing.assert_close(g[m][layer], g["bptt"][layer], msg=f"{m} {layer}")


def test_for_any_T_the_agreements_theory_predicts():
    """SLTT drops only the temporal path of v: the read-out (no neuron after it) gets BPTT's
    gradient exactly. OTTT's error signals are SLTT's (only a layer *after* a neuron uses the
    trace), so the first layer's gradient is SLTT's. FPTT's per-step graphs are SLTT's."""
    g = _grads(T=5, hidden=(24, 16))
    torch.testing.assert_close(g["sltt"]["readout"], g["bptt"]["readout"])
    torch.testing.assert_close(g["ottt_a"]["fc1"], g["sltt"]["fc1"])
    for layer in g["sltt"]:
        torch.testing.assert_close(g["fptt"][layer], g["sltt"][layer])
        torch.testing.assert_close(g["ottt_o"][layer], g["ottt_a"][layer])
    assert not torch.allclose(g["sltt"]["fc1"], g["bptt"]["fc1"])         # the temporal part
    assert not torch.allclose(g["ottt_a"]["readout"], g["bptt"]["readout"])  # the trace


# -- networks and measurements ------------------------------------------------------------------------
def test_method_models_share_weights_and_keys():
    models = method_models(ModelConfig("mlp", hidden=(16,)))
    assert tuple(models) == ALL_METHODS
    ref = models["bptt"].state_dict()
    for m, net in models.items():
        assert list(net.state_dict()) == list(ref), m
        for k in ref:
            assert torch.equal(net.state_dict()[k], ref[k]), (m, k)
    with pytest.raises(ValueError, match="methods must be distinct names"):
        method_models(methods=("bptt", "ottt"))


def test_memory_flat_in_T_for_the_online_methods_and_linear_for_bptt():
    rows = methods_vs_T((2, 4, 8), model_config=ModelConfig("mlp", hidden=(32,)), batch_size=8,
                        repeats=1)
    assert [r["T"] for r in rows] == [2, 4, 8]
    for m in ("ottt_a", "ottt_o", "sltt", "fptt"):
        b = [r[f"{m}_bytes"] for r in rows]
        assert max(b) == min(b) > 0, m                         # flat in T
        assert rows[-1][f"{m}_bytes_vs_bptt"] < rows[0][f"{m}_bytes_vs_bptt"]
    bptt = [r["bptt_bytes"] for r in rows]
    assert (bptt[2] - bptt[1]) == pytest.approx(2 * (bptt[1] - bptt[0]), rel=1e-6) and bptt[1] > bptt[0]
    assert all(r["bptt_bytes_vs_bptt"] == 1.0 and r["fptt_time_vs_bptt"] > 0 for r in rows)
    # FPTT's regulariser saves the parameters and their targets: a constant more than OTTT/SLTT
    assert rows[0]["fptt_bytes"] > rows[0]["sltt_bytes"] == rows[0]["ottt_a_bytes"]


def test_measure_training_step_runs_the_trainers_step_without_moving_the_weights():
    models = method_models(ModelConfig("mlp", hidden=(8,)), methods=("fptt", "sltt"))
    x, y = digits_batch(4)
    x_seq = x.unsqueeze(0).expand(3, *x.shape)
    for m, net in models.items():
        before = [p.detach().clone() for p in net.parameters()]
        r = measure_training_step(net, x_seq, y, m, repeats=1, sltt_k=2 if m == "sltt" else None)
        assert (r.method, r.T, r.cuda_peak_bytes) == (m, 3, None) and r.saved_bytes > 0
        assert all(torch.equal(p, q) for p, q in zip(before, net.parameters()))
    with pytest.raises(ValueError, match="methods must be distinct names"):
        measure_training_step(models["sltt"], x_seq, y, "ottt")


def test_gradient_cosine_to_bptt_and_methods_vs_bptt():
    models = method_models(ModelConfig("mlp", hidden=(16,)))
    x, y = digits_batch(16)
    cos = gradient_cosine_to_bptt(models, (x * 4).unsqueeze(0), y)     # T = 1: all identical
    assert set(cos) == set(ALL_METHODS) - {"bptt"}
    for m, per_layer in cos.items():
        assert per_layer == pytest.approx({"fc1": 1.0, "readout": 1.0}, abs=1e-6), m
    with pytest.raises(ValueError, match="must contain a 'bptt' network"):
        gradient_cosine_to_bptt({"sltt": models["sltt"]}, x.unsqueeze(0), y)
    r = methods_vs_bptt(6, 2.0)
    assert isinstance(r, MethodsVsBPTT) and set(r.saved_bytes) == set(ALL_METHODS)
    assert r.cosine["sltt"]["readout"] == pytest.approx(1.0, abs=1e-9)  # exact by theory
    assert r.cosine["fptt"] == r.cosine["sltt"] and r.cosine["ottt_o"] == r.cosine["ottt_a"]
    assert all(0.9 < c <= 1 + 1e-9 for per in r.cosine.values() for c in per.values()), r.cosine
    assert r.saved_bytes["bptt"] > 3 * r.saved_bytes["sltt"]
    with pytest.raises(ValueError, match="T must be an integer >= 1"):
        methods_vs_bptt(0)


def test_methods_vs_T_bad_input():
    with pytest.raises(ValueError, match="every T must be an integer >= 1"):
        methods_vs_T((0, 2))
    with pytest.raises(ValueError, match="sltt_k=4 exceeds the smallest T"):
        methods_vs_T((2, 8), sltt_k=4)


def test_benchmark_script_prints_both_tables(capsys):
    """A smoke run of benchmarks/online_methods.py at tiny size (no time is asserted)."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "online_methods.py"
    spec = importlib.util.spec_from_file_location("online_methods_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--Ts", "2", "3", "--hidden", "8", "--batch-size", "4", "--repeats", "1",
                       "--sltt-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "saved for backward per iteration" in out and "time per iteration" in out
    assert "SLTT-1" in out and out.count("max/min over T = 2..3") == 5
