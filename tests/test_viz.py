"""Tests for ``ottt_edu.viz``: what each plot helper draws (data, artists, labels) and its errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ottt_edu import viz
from ottt_edu.neuron.surrogate import sigmoid_surrogate_grad


@pytest.fixture
def ax():
    fig = Figure()
    return fig.add_subplot()


def test_no_pyplot_show(monkeypatch, ax):
    import matplotlib.pyplot as plt

    def boom(*a, **k):
        raise AssertionError("plot helpers must not call plt.show()")

    monkeypatch.setattr(plt, "show", boom)
    viz.plot_surrogate(ax)
    viz.plot_grad_paths(ax)


# -- raster ------------------------------------------------------------------------------------
def test_raster_offsets_are_spike_positions(ax):
    spikes = torch.tensor([[1, 0, 0], [0, 0, 1], [1, 1, 0]], dtype=torch.float32)  # (T=3, N=3)
    coll = viz.plot_raster(ax, spikes, t0=10, label="layer 1")
    assert isinstance(coll, PathCollection)
    got = sorted(map(tuple, coll.get_offsets().tolist()))
    assert got == [(10.0, 0.0), (11.0, 2.0), (12.0, 0.0), (12.0, 1.0)]
    assert ax.get_xlabel() == "time step t" and ax.get_ylabel() == "neuron"
    assert ax.get_xlim() == (9.5, 12.5) and ax.get_ylim() == (-0.5, 2.5)
    assert coll.get_label() == "layer 1"


def test_raster_accepts_numpy_and_grad_tensors(ax):
    s = torch.zeros(4, 2, requires_grad=True)
    assert len(viz.plot_raster(ax, s).get_offsets()) == 0
    assert len(viz.plot_raster(ax, np.eye(3)).get_offsets()) == 3


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 3, 4)), "shape \\(T, N\\)"),
    (np.array([[0.5, 1.0]]), "only 0 and 1"),
])
def test_raster_errors(ax, bad, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_raster(ax, bad)


def test_raster_rejects_non_numeric(ax):
    with pytest.raises(TypeError, match="tensor, a NumPy array"):
        viz.plot_raster(ax, [["a", "b"]])


# -- membrane ----------------------------------------------------------------------------------
def test_membrane_draws_v_threshold_spikes_and_input(ax):
    v = torch.tensor([0.6, 1.2, 0.2, 1.1])
    s = torch.tensor([0.0, 1.0, 0.0, 1.0])
    x = torch.tensor([0.6, 0.9, 0.1, 1.0])
    d = viz.plot_membrane(ax, v, spikes=s, v_threshold=1.0, x=x, label="v")
    assert set(d) == {"v", "threshold", "spikes", "x"}
    assert len(ax.lines) == 3 and len(ax.collections) == 1  # x, v, threshold; spike marks
    np.testing.assert_allclose(d["v"].get_ydata(), v.numpy())
    np.testing.assert_allclose(d["x"].get_ydata(), x.numpy())
    assert list(d["threshold"].get_ydata()) == [1.0, 1.0]
    np.testing.assert_allclose(d["spikes"].get_offsets()[:, 0], [1, 3])
    assert np.all(d["spikes"].get_offsets()[:, 1] > 1.2)  # marks sit above the trace
    assert ax.get_legend() is not None


def test_membrane_without_optional_parts(ax):
    d = viz.plot_membrane(ax, np.zeros(5), v_threshold=0.5)
    assert set(d) == {"v", "threshold"}
    assert list(d["threshold"].get_ydata()) == [0.5, 0.5]


def test_membrane_shape_errors(ax):
    with pytest.raises(ValueError, match="1-D with shape \\(T,\\)"):
        viz.plot_membrane(ax, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same length T"):
        viz.plot_membrane(ax, np.zeros(3), spikes=np.zeros(4))
    with pytest.raises(ValueError, match="same length T"):
        viz.plot_membrane(ax, np.zeros(3), x=np.zeros(2))


# -- trace -------------------------------------------------------------------------------------
def test_trace_draws_bars_at_spikes_and_trace_line(ax):
    s = torch.tensor([0.0, 1.0, 1.0, 0.0])
    a = torch.tensor([0.0, 1.0, 1.5, 0.75])
    d = viz.plot_trace(ax, s, a, tau=2.0)
    assert isinstance(d["spikes"], LineCollection)
    segs = d["spikes"].get_segments()
    assert [tuple(seg[:, 0]) for seg in segs] == [(1.0, 1.0), (2.0, 2.0)]
    np.testing.assert_allclose(d["trace"].get_ydata(), a.numpy())
    assert d["trace"].get_label() == "trace a[t] (tau=2)"


def test_trace_errors(ax):
    with pytest.raises(ValueError, match="same length T"):
        viz.plot_trace(ax, np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="only 0 and 1"):
        viz.plot_trace(ax, np.array([0.0, 2.0]), np.zeros(2))


# -- surrogate ---------------------------------------------------------------------------------
def test_surrogate_curves_match_library(ax):
    d = viz.plot_surrogate(ax, alpha=2.0, x_range=(-1.0, 1.0), num=5)
    assert len(ax.lines) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "forward: step H(x)", "sigmoid(2 x)", "backward: surrogate g'(x)"]
    x = d["grad"].get_xdata()
    np.testing.assert_allclose(x, [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(d["step"].get_ydata(), [0, 0, 1, 1, 1])
    np.testing.assert_allclose(d["sigmoid"].get_ydata(), 1 / (1 + np.exp(-2.0 * x)))
    expected = sigmoid_surrogate_grad(torch.tensor(x), 2.0).numpy()
    np.testing.assert_allclose(d["grad"].get_ydata(), expected)
    assert d["grad"].get_ydata().max() == pytest.approx(0.5)  # alpha / 4
    assert "alpha = 2" in ax.get_title()


def test_surrogate_without_step(ax):
    assert set(viz.plot_surrogate(ax, show_step=False)) == {"sigmoid", "grad"}


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": 0.0}, "alpha must be positive"),
    ({"x_range": (1.0, -1.0)}, "low < high"),
])
def test_surrogate_errors(ax, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_surrogate(ax, **kwargs)


# -- gradient-path diagrams --------------------------------------------------------------------
def test_grad_paths_replace_for_grad(ax):
    d = viz.plot_grad_paths(ax, "ReplaceforGrad")
    assert set(d["boxes"]) == {"x", "x_r", "y", "L"}
    assert len(d["value_arrows"]) == 2 and len(d["grad_arrows"]) == 3
    assert len(ax.texts) == 4 + 5  # boxes + arrows (annotations are texts)
    assert d["aux_arrows"] == []
    # the value comes from x_r only, the gradient reaches both x and x_r
    assert "value = x_r" in d["boxes"]["y"].get_text()
    colors = {a.arrow_patch.get_edgecolor() for a in d["value_arrows"]}
    assert colors == {matplotlib.colors.to_rgba(viz.PALETTE["value"])}
    assert not ax.axison


def test_grad_paths_grad_with_trace(ax):
    d = viz.plot_grad_paths(ax, "GradwithTrace")
    assert {"s", "a", "ms", "ma", "y", "L"} == set(d["boxes"])
    assert "g^T a" in d["boxes"]["ma"].get_text()
    assert len(d["grad_arrows"]) == 3 and len(d["aux_arrows"]) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["forward value", "backward gradient"]


def test_grad_paths_unknown_kind(ax):
    with pytest.raises(ValueError, match="kind must be one of"):
        viz.plot_grad_paths(ax, "GradWithTrace")


# -- memory, cosine ----------------------------------------------------------------------------
def test_memory_vs_T_scales_units(ax):
    lines = viz.plot_memory_vs_T(ax, [2, 4, 8], {"OTTT": [2048, 2048, 2048],
                                                 "BPTT": [4096, 8192, 16384]})
    assert set(lines) == {"OTTT", "BPTT"}
    assert isinstance(lines["BPTT"], Line2D)
    np.testing.assert_allclose(lines["BPTT"].get_ydata(), [4, 8, 16])  # KiB
    np.testing.assert_allclose(lines["OTTT"].get_xdata(), [2, 4, 8])
    assert ax.get_ylabel() == "saved for backward (KiB)"
    assert lines["OTTT"].get_color() == viz.PALETTE["OTTT"]


def test_memory_vs_T_errors(ax):
    with pytest.raises(ValueError, match="one byte count per T"):
        viz.plot_memory_vs_T(ax, [2, 4], {"OTTT": [1, 2, 3]})
    with pytest.raises(ValueError, match="empty"):
        viz.plot_memory_vs_T(ax, [2, 4], {})


def test_cosine_similarity_bars(ax):
    bars = viz.plot_cosine_similarity(ax, {"fc1": 0.9, "fc2": 1.0})
    assert isinstance(bars, BarContainer) and len(bars) == 2
    assert [p.get_height() for p in bars] == [0.9, 1.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc1", "fc2"]


def test_cosine_similarity_grouped(ax):
    out = viz.plot_cosine_similarity(ax, {"tau=2": {"a": 0.5, "b": -0.2},
                                          "tau=4": {"a": 0.7, "b": 0.1}})
    assert set(out) == {"tau=2", "tau=4"}
    assert [p.get_height() for p in out["tau=4"]] == [0.7, 0.1]
    assert ax.get_ylim()[0] < -0.2


@pytest.mark.parametrize("bad, match", [
    ({}, "empty"),
    ({"fc1": 1.5}, "in \\[-1, 1\\]"),
    ({"g1": {"a": 0.1}, "g2": {"b": 0.1}}, "same layers"),
])
def test_cosine_similarity_errors(ax, bad, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_cosine_similarity(ax, bad)


def test_method_bars(ax):
    bars = viz.plot_method_bars(ax, {"BPTT": 1.0, "SLTT": 1.25, "custom": 3.0}, ylabel="time / BPTT",
                                title="Time", reference=1.0)
    assert isinstance(bars, BarContainer) and len(bars) == 3
    assert [p.get_height() for p in bars] == [1.0, 1.25, 3.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["BPTT", "SLTT", "custom"]
    assert [t.get_text() for t in ax.texts] == ["1.00", "1.25", "3.00"]       # value labels
    assert bars[0].get_facecolor() == matplotlib.colors.to_rgba(viz.PALETTE["BPTT"])
    assert bars[1].get_facecolor() == matplotlib.colors.to_rgba(viz.PALETTE["SLTT"])
    assert ax.get_ylabel() == "time / BPTT" and ax.get_title() == "Time"
    assert [tuple(l.get_ydata()) for l in ax.lines] == [(1.0, 1.0)]          # the reference line
    assert ax.get_ylim()[1] > 3.0


def test_method_names_keep_their_colour_in_curves_and_grouped_bars(ax):
    hist = {"epoch": [1, 2], "SLTT": [0.5, 0.6], "custom": [0.1, 0.2]}
    lines = viz.plot_learning_curves(ax, hist, keys=("SLTT", "custom"))
    assert lines["SLTT"].get_color() == viz.PALETTE["SLTT"]
    assert lines["custom"].get_color() == viz.CYCLE[1]
    out = viz.plot_cosine_similarity(Figure().add_subplot(), {"FPTT": {"fc1": 0.9}, "T=2": {"fc1": 0.8}})
    assert out["FPTT"][0].get_facecolor() == matplotlib.colors.to_rgba(viz.PALETTE["FPTT"])
    assert out["T=2"][0].get_facecolor() == matplotlib.colors.to_rgba(viz.CYCLE[1])


def test_method_bars_errors(ax):
    with pytest.raises(ValueError, match="empty"):
        viz.plot_method_bars(ax, {}, ylabel="x")
    with pytest.raises(ValueError, match="finite"):
        viz.plot_method_bars(ax, {"BPTT": float("nan")}, ylabel="x")


# -- training ----------------------------------------------------------------------------------
def test_learning_curves_use_epochs(ax):
    hist = {"epoch": [1, 2, 3], "train_acc": [0.1, 0.5, 0.8], "test_acc": [0.1, 0.4, 0.7],
            "train_loss": [2.0, 1.0, 0.5]}
    lines = viz.plot_learning_curves(ax, hist)
    assert set(lines) == {"train_acc", "test_acc"}
    np.testing.assert_allclose(lines["test_acc"].get_ydata(), [0.1, 0.4, 0.7])
    np.testing.assert_allclose(lines["test_acc"].get_xdata(), [1, 2, 3])
    assert ax.get_ylabel() == "accuracy"
    other = Figure().add_subplot()
    assert list(viz.plot_learning_curves(other, hist, keys="train_loss")) == ["train_loss"]
    assert other.get_ylabel() == "loss"


def test_learning_curves_without_epoch(ax):
    lines = viz.plot_learning_curves(ax, {"train_loss": [3.0, 2.0]}, keys=("train_loss",))
    np.testing.assert_allclose(lines["train_loss"].get_xdata(), [1, 2])


def test_learning_curves_errors(ax):
    with pytest.raises(ValueError, match="no key"):
        viz.plot_learning_curves(ax, {"train_loss": [1.0]})
    with pytest.raises(ValueError, match="expected 2"):
        viz.plot_learning_curves(ax, {"train_acc": [1.0, 2.0], "test_acc": [1.0]})


def test_confusion_matrix(ax):
    d = viz.plot_confusion_matrix(ax, torch.tensor([[5, 1], [2, 7]]), ["cat", "dog"])
    np.testing.assert_array_equal(d["image"].get_array(), [[5, 1], [2, 7]])
    assert [t.get_text() for t in d["texts"]] == ["5", "1", "2", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(ax, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        viz.plot_confusion_matrix(ax, np.zeros((2, 2)), ["a"])


def test_firing_rates(ax):
    bars = viz.plot_firing_rates(ax, {"lif1": 0.1, "lif2": 0.25})
    assert [p.get_height() for p in bars] == [0.1, 0.25]
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        viz.plot_firing_rates(ax, {"lif1": 3.0})
    with pytest.raises(ValueError, match="empty"):
        viz.plot_firing_rates(ax, {})


def test_consistent_style(ax):
    viz.plot_memory_vs_T(ax, [1, 2], {"OTTT": [1, 1]})
    assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()


# -- README figures ----------------------------------------------------------------------------
def _load_figure_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "make_readme_figures.py"
    spec = importlib.util.spec_from_file_location("make_readme_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_figure_script_writes_pngs(tmp_path):
    script = _load_figure_script()
    written = script.main(["--out", str(tmp_path), "--only", "lif_neuron_trace", "grad_paths"])
    assert [p.name for p in written] == ["lif_neuron_trace.png", "grad_paths.png"]
    for p in written:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
        assert b"Matplotlib version" not in data  # reproducible: no software version


def test_readme_figures_are_committed():
    script = _load_figure_script()
    img = script.ROOT / "docs" / "img"
    missing = [n for n in script.FIGURES if not (img / f"{n}.png").is_file()]
    assert not missing, f"run `.venv/bin/python scripts/make_readme_figures.py`; missing {missing}"


def test_grad_paths_arrowheads_are_drawn_above_the_boxes(ax):
    """Issue 12: the heads ended under the boxes (invisible); the aux edge was mislabelled."""
    for kind in ("ReplaceforGrad", "GradwithTrace"):
        ax.clear()
        d = viz.plot_grad_paths(ax, kind)
        box_z = max(b.get_zorder() for b in d["boxes"].values())
        for a in d["value_arrows"] + d["grad_arrows"] + d["aux_arrows"]:
            assert a.get_zorder() > box_z
            assert a.arrow_patch.get_arrowstyle().__class__.__name__ == "CurveFilledB"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "the trace gives the graph's input its value (no gradient)" in labels


def test_discrete_time_axes_have_integer_ticks(ax):
    """Issue 12: no 2.5 on a time-step axis."""
    viz.plot_trace(ax, torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0]), torch.tensor([0.0, 1.0, 0.5, 1.25, 1.625]))
    ax.figure.canvas.draw()
    ticks = ax.get_xticks()
    assert all(float(t).is_integer() for t in ticks)


def test_rate_histogram_counts_every_neuron_once():
    import matplotlib.pyplot as plt
    from ottt_edu.viz import plot_rate_histogram

    spikes = torch.zeros(4, 5, 3)
    spikes[:, :, 0] = 1.0            # rate 1
    spikes[:2, :, 1] = 1.0           # rate 0.5; neuron 2 is silent
    fig, ax = plt.subplots()
    drawn = plot_rate_histogram(ax, spikes, layer="lif1", bins=4)
    np.testing.assert_allclose(drawn["rates"], [1.0, 0.5, 0.0])
    assert drawn["counts"].sum() == 3 and drawn["counts"][0] == 1 and drawn["counts"][-1] == 1
    assert "1 silent" in ax.get_title()
    with pytest.raises(ValueError, match=r"\(T, B, N\)"):
        plot_rate_histogram(ax, spikes[0])
    plt.close(fig)


def test_class_heatmap_is_the_mean_count_per_class():
    import matplotlib.pyplot as plt
    from ottt_edu.viz import plot_class_heatmap

    counts = torch.tensor([[2.0, 0.0], [4.0, 1.0], [0.0, 3.0]])     # (B=3, N=2)
    labels = torch.tensor([0, 0, 1])
    fig, ax = plt.subplots()
    drawn = plot_class_heatmap(ax, counts, labels, n_classes=3, neurons=[1, 0], sort=False)
    np.testing.assert_allclose(drawn["matrix"], [[0.5, 3.0, 0.0], [3.0, 0.0, 0.0]])
    assert drawn["neurons"].tolist() == [1, 0]
    ranked = plot_class_heatmap(ax, counts, labels, n_classes=3, neurons=[1, 0])
    assert ranked["neurons"].tolist() == [0, 1]      # neuron 0 prefers class 0, neuron 1 class 1
    np.testing.assert_allclose(ranked["matrix"], [[3.0, 0.0, 0.0], [0.5, 3.0, 0.0]])
    with pytest.raises(ValueError, match="n_classes is 1"):
        plot_class_heatmap(ax, counts, labels, n_classes=1)
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        plot_class_heatmap(ax, counts, labels[:2])
    plt.close(fig)
