"""Tests for the explorers: the pure compute functions (``ottt_edu.course.explore``) and the widget
wiring (``ottt_edu.course.widgets``: set a control in Python, check the figure data changed)."""
from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from ottt_edu import OTTTLIFNode
from ottt_edu.course import explore, widgets
from ottt_edu.neuron.surrogate import sigmoid_surrogate_grad

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- simulate_lif -------------------------------------------------------------------------------
def test_simulate_lif_matches_hand_computed_example():
    # Constant input 0.6/0.9/1.5/0.2 is not Bernoulli, so check the recurrence on rate=1 input:
    # x = 0.8 every step, tau = 2, soft reset: v = 0.8, 1.2 -> spike -> 0.2, 0.9, 1.25 -> 0.25 ...
    d = explore.simulate_lif(tau=2.0, v_threshold=1.0, input_strength=0.8, rate=1.0, T=5)
    np.testing.assert_allclose(d["x"], [0.8] * 5)
    np.testing.assert_allclose(d["v_before_reset"], [0.8, 1.2, 0.9, 1.25, 0.925])
    np.testing.assert_allclose(d["spike"], [0, 1, 0, 1, 0])
    np.testing.assert_allclose(d["v"], [0.8, 0.2, 0.9, 0.25, 0.925])
    np.testing.assert_allclose(d["trace"], [0, 1, 0.5, 1.25, 0.625])


def test_simulate_lif_hard_reset_goes_to_zero():
    d = explore.simulate_lif(tau=2.0, input_strength=0.8, rate=1.0, reset="hard", T=3)
    np.testing.assert_allclose(d["v_before_reset"], [0.8, 1.2, 0.8])
    np.testing.assert_allclose(d["v"], [0.8, 0.0, 0.8])


def test_simulate_lif_equals_library_neuron_on_same_input():
    d = explore.simulate_lif(tau=3.0, v_threshold=0.7, input_strength=0.5, rate=0.4, T=30, seed=3)
    node = OTTTLIFNode(tau=3.0, v_threshold=0.7)
    for t in range(30):
        spike, trace = node(torch.tensor([d["x"][t]], dtype=torch.float64))
        assert spike.item() == d["spike"][t]
        assert trace.item() == pytest.approx(d["trace"][t], abs=1e-12)
        assert node.v.item() == pytest.approx(d["v"][t], abs=1e-12)
    assert {k: v.shape for k, v in d.items()} == {k: (30,) for k in d}


def test_simulate_lif_is_seeded_and_rate_matters():
    a = explore.simulate_lif(seed=1, T=50)
    b = explore.simulate_lif(seed=1, T=50)
    c = explore.simulate_lif(seed=2, T=50)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], c["x"])
    assert explore.simulate_lif(rate=0.0)["x"].sum() == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"reset": "zero"}, "reset must be one of"),
    ({"rate": 1.5}, "rate is a spike probability"),
    ({"T": 0}, "T must be a positive int"),
    ({"v_threshold": 0.0}, "v_threshold must be positive"),
    ({"tau": 1.0}, "tau must be greater than 1"),
])
def test_simulate_lif_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        explore.simulate_lif(**kwargs)


def test_draw_lif_plots_the_simulation():
    fig = Figure()
    p = explore.LIFParams(tau=4.0, T=20, seed=5)
    drawn = explore.draw_lif(fig, p)
    assert len(fig.axes) == 3
    np.testing.assert_allclose(drawn["v"]["v"].get_ydata(), drawn["data"]["v_before_reset"])
    np.testing.assert_allclose(drawn["trace"]["trace"].get_ydata(), drawn["data"]["trace"])
    np.testing.assert_allclose(drawn["x"].get_ydata(), drawn["data"]["x"])
    assert "firing rate" in fig._suptitle.get_text()


# -- surrogate_curves ---------------------------------------------------------------------------
def test_surrogate_curves_autograd_equals_closed_form():
    d = explore.surrogate_curves(alpha=3.0, x_min=-3.0, x_max=3.0, num=601)
    expected = sigmoid_surrogate_grad(torch.tensor(d["x"]), 3.0).numpy()
    np.testing.assert_allclose(d["grad"], expected, rtol=1e-12)
    np.testing.assert_array_equal(d["step"], (d["x"] >= 0).astype(float))
    assert d["peak"] == pytest.approx(d["grad"].max(), rel=1e-9)
    # half maximum at +-fwhm/2 (closed form 2 ln(3 + 2 sqrt 2) / alpha)
    half = sigmoid_surrogate_grad(torch.tensor(d["fwhm"] / 2, dtype=torch.float64), 3.0).item()
    assert half == pytest.approx(d["peak"] / 2, rel=1e-9)
    assert d["area"] == pytest.approx(1.0, abs=1e-3)


def test_surrogate_curves_errors():
    with pytest.raises(ValueError, match="alpha must be positive"):
        explore.surrogate_curves(alpha=-1.0)
    with pytest.raises(ValueError, match="x_min < x_max"):
        explore.surrogate_curves(x_min=1.0, x_max=0.0)
    with pytest.raises(ValueError, match="at least 2"):
        explore.surrogate_curves(num=1)


def test_draw_surrogate_plots_the_curves():
    fig = Figure()
    drawn = explore.draw_surrogate(fig, explore.SurrogateParams(alpha=8.0, num=101))
    np.testing.assert_allclose(drawn["grad"].get_ydata(), drawn["data"]["grad"], rtol=1e-12)
    assert "peak alpha/4 = 2.00" in fig.axes[0].texts[0].get_text()


# -- widget wiring ------------------------------------------------------------------------------
def test_lif_explorer_controls_and_defaults():
    e = widgets.lif_explorer()
    assert set(e.controls) == {"tau", "v_threshold", "input_strength", "rate", "reset", "T"}
    assert e.values["tau"] == explore.LIFParams().tau
    assert bytes(e.image.value).startswith(PNG_MAGIC)
    assert e.image in e.children


@pytest.mark.parametrize("name, value, artist", [
    ("tau", 5.0, lambda d: d["trace"]["trace"].get_ydata()),
    ("v_threshold", 0.5, lambda d: d["v"]["threshold"].get_ydata()),
    ("input_strength", 1.5, lambda d: d["x"].get_ydata()),
    ("rate", 0.9, lambda d: d["x"].get_ydata()),
    ("reset", "hard", lambda d: d["data"]["v"]),
])
def test_lif_explorer_slider_changes_figure(name, value, artist):
    e = widgets.lif_explorer()
    before_data, before_png = np.array(artist(e.drawn)), bytes(e.image.value)
    e.controls[name].value = value
    assert not np.array_equal(np.array(artist(e.drawn)), before_data)
    assert bytes(e.image.value) != before_png
    assert e.values[name] == value


def test_lif_explorer_T_changes_length():
    e = widgets.lif_explorer()
    e.controls["T"].value = 60
    assert len(e.drawn["v"]["v"].get_ydata()) == 60


def test_surrogate_explorer_alpha_changes_gradient():
    e = widgets.surrogate_explorer()
    peak = e.drawn["grad"].get_ydata().max()
    e.controls["alpha"].value = 10.0
    assert e.drawn["grad"].get_ydata().max() == pytest.approx(2.5, rel=1e-3)
    assert peak == pytest.approx(1.0, rel=1e-3)


def test_display_bundle_has_widget_png_and_stable_text():
    e = widgets.surrogate_explorer()
    bundle = e._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert bundle["text/plain"].splitlines()[0] == "Surrogate gradient explorer (alpha=4.00)"
    assert "0x" not in bundle["text/plain"]


def test_explorer_needs_controls():
    with pytest.raises(ValueError, match="at least one control"):
        widgets.Explorer("empty", {}, lambda fig, values: {})


# -- OTTT vs BPTT -------------------------------------------------------------------------------
def test_ottt_vs_bptt_sweep_theory():
    d = explore.ottt_vs_bptt_sweep(T=3, tau=2.0, Ts=(1, 2, 4))
    np.testing.assert_array_equal(d["Ts"], [1, 2, 3, 4])
    for layer, values in d["cosine_vs_T"].items():
        assert values[0] == pytest.approx(1.0, abs=1e-9), f"{layer}: T=1 must agree exactly"
        assert np.all(values > 0.9) and np.all(values <= 1.0 + 1e-9)
        assert d["cosine"][layer] == values[2]
    # OTTT's saved bytes do not grow with T; BPTT's grow with every step, equal at T=1
    assert np.all(d["ottt_bytes_vs_T"] == d["ottt_bytes_vs_T"][0])
    assert np.all(np.diff(d["bptt_bytes_vs_T"]) > 0)
    assert d["bptt_bytes_vs_T"][0] == d["ottt_bytes_vs_T"][0]
    assert (d["ottt_bytes"], d["bptt_bytes"]) == (d["ottt_bytes_vs_T"][2], d["bptt_bytes_vs_T"][2])


@pytest.mark.parametrize("kwargs, match", [
    ({"T": 0}, "T must be an integer >= 1"),
    ({"T": 2.5}, "T must be an integer >= 1"),
    ({"Ts": ()}, "Ts must be a non-empty"),
    ({"Ts": (1, 0)}, "Ts must be a non-empty"),
    ({"tau": 1.0}, "tau must be greater than 1"),
])
def test_ottt_vs_bptt_sweep_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        explore.ottt_vs_bptt_sweep(**{"T": 2, "Ts": (1, 2), **kwargs})


def test_draw_ottt_vs_bptt_plots_the_sweep():
    fig = Figure()
    drawn = explore.draw_ottt_vs_bptt(fig, explore.OTTTvsBPTTParams(T=2, Ts=(1, 2, 4)))
    data = drawn["data"]
    assert [p.get_height() for p in drawn["bars"]] == list(data["cosine"].values())
    for layer, line in drawn["cosine_lines"].items():
        np.testing.assert_allclose(line.get_ydata(), data["cosine_vs_T"][layer])
    scale = data["bptt_bytes_vs_T"][-1] / drawn["memory"]["BPTT"].get_ydata()[-1]
    np.testing.assert_allclose(drawn["marker"].get_ydata(),
                               [data["ottt_bytes"] / scale, data["bptt_bytes"] / scale])
    np.testing.assert_allclose(drawn["marker"].get_xdata(), [2, 2])
    title = fig._suptitle.get_text()   # issue 12: "saves" read as the opposite of what it means
    assert "BPTT keeps" in title and "saves" not in title


def test_ottt_vs_bptt_explorer_sliders_change_figure():
    e = widgets.ottt_vs_bptt_explorer(explore.OTTTvsBPTTParams(T=2, Ts=(1, 2, 4)))
    assert set(e.controls) == {"T", "tau"}
    heights = [p.get_height() for p in e.drawn["bars"]]
    png = bytes(e.image.value)
    e.controls["T"].value = 4
    assert [p.get_height() for p in e.drawn["bars"]] != heights
    np.testing.assert_allclose(e.drawn["marker"].get_xdata(), [4, 4])
    assert bytes(e.image.value) != png
    cos_T4 = {k: line.get_ydata().copy() for k, line in e.drawn["cosine_lines"].items()}
    e.controls["tau"].value = 4.0
    assert any(not np.allclose(line.get_ydata(), cos_T4[k])
               for k, line in e.drawn["cosine_lines"].items())


def _toy_explorer():
    import ipywidgets

    def draw(fig, values):
        if values["a"] < 0:
            raise ValueError("a must be >= 0")
        ax = fig.subplots()
        (line,) = ax.plot([0, 1], [0, values["a"]])
        return {"line": line}

    return widgets.Explorer("toy", {"a": ipywidgets.FloatSlider(value=1.0, min=-2, max=2)}, draw)


def test_explorer_shows_rejected_values_and_keeps_figure():
    e = _toy_explorer()
    png, line = bytes(e.image.value), e.drawn["line"]
    e.controls["a"].value = -1.0
    assert e.error == "a must be >= 0" and "a must be &gt;= 0" in e.status.value
    assert bytes(e.image.value) == png and e.drawn["line"] is line
    assert e.png() == png  # the static fallback still shows the last good figure
    e.controls["a"].value = 0.5
    assert e.error is None and e.status.value == ""
    assert list(e.drawn["line"].get_ydata()) == [0, 0.5]


def test_explorer_rejects_bad_initial_values():
    import ipywidgets

    def draw(fig, values):
        raise ValueError("never drawable")

    with pytest.raises(ValueError, match="initial values cannot be drawn: never drawable"):
        widgets.Explorer("bad", {"a": ipywidgets.FloatSlider()}, draw)
