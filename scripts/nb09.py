"""Cells of notebooks/09_explorers.ipynb (playground with all explorers)."""
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

WITH_OTTT = True  # the OTTT-vs-BPTT explorer needs ottt_edu.measure (it exists)
md, code = new_markdown_cell, new_code_cell
cells = [
md("""# 09 · Playground: explore the neuron, the surrogate and OTTT vs BPTT with sliders

Three interactive explorers put the earlier notebooks under your fingers. Each is a few sliders over a small,
unit-tested function in `ottt_edu.explore`, so what you see is exactly what the library computes.

**Learning goals**
- predict how `tau`, `v_threshold`, the input and the reset mode change a LIF neuron's spikes and its trace;
- see how the surrogate's `alpha` trades a faithful step for a wide, usable gradient;
- see where OTTT's gradient agrees with BPTT's, and what memory it saves, as `T` and `tau` change.

**How to use it.** Run all cells (*Run → Run All Cells*), then move the sliders. Where no widget frontend
exists (a static notebook viewer, `nbconvert`, the test run), each explorer shows a picture for its default
values instead."""),
code("""import numpy as np
import torch

from ottt_edu import OTTTLIFNode, explore, surrogate
from ottt_edu.widgets import lif_explorer, surrogate_explorer

torch.manual_seed(0)
np.random.seed(0)"""),
md("""## 1 · A LIF neuron and its trace

The explorer runs one `OTTTLIFNode` for `T` steps. Its input is a random spike train: at every step, with
probability `rate`, a pulse of height `input strength` arrives ($k = 1 - 1/\\tau$):

$$v[t] = k\\,v[t-1] + x[t], \\qquad s[t] = H(v[t]-v_{th}), \\qquad
v[t] \\leftarrow \\begin{cases} v[t]-s[t]\\,v_{th} & \\text{soft reset}\\\\ (1-s[t])\\,v[t] & \\text{hard reset to 0}\\end{cases},
\\qquad a[t] = k\\,a[t-1] + s[t].$$

First the same thing in plain code, checked against `explore.simulate_lif` (which uses the library's neuron)."""),
code("""def lif_by_hand(x, tau=2.0, v_threshold=1.0, reset="soft"):
    k = 1.0 - 1.0 / tau
    v, a = 0.0, 0.0
    v_before, spikes, traces = [], [], []
    for x_t in x:
        v = k * v + x_t                      # charge
        s = 1.0 if v >= v_threshold else 0.0  # fire
        v_before.append(v)
        v = v - s * v_threshold if reset == "soft" else (1.0 - s) * v  # reset
        a = k * a + s                        # trace
        spikes.append(s)
        traces.append(a)
    as_t = lambda values: torch.tensor(values, dtype=torch.float64)  # noqa: E731
    return as_t(v_before), as_t(spikes), as_t(traces)


sim = explore.simulate_lif(tau=3.0, v_threshold=1.0, input_strength=0.7, rate=0.6, reset="soft", T=30, seed=1)
v_before, spikes, traces = lif_by_hand(sim["x"], tau=3.0)
torch.testing.assert_close(v_before, torch.from_numpy(sim["v_before_reset"]))
torch.testing.assert_close(spikes, torch.from_numpy(sim["spike"]))
torch.testing.assert_close(traces, torch.from_numpy(sim["trace"]))
print(f"spikes: {int(spikes.sum())} in T=30 steps; last trace value {traces[-1].item():.4f}")"""),
md("""Now move the sliders. Things to try:
- **tau** up: the membrane forgets more slowly, so more pulses add up to a spike, and each spike's trace lasts longer.
- **v_threshold** down or **input strength** up: more spikes; with strength above the threshold every pulse fires.
- **reset**: *soft* keeps the overshoot above threshold, *hard* throws it away — compare the spike counts.
- **input rate** = 1: a constant current, and the neuron fires regularly."""),
code("""lif_explorer()"""),
md("""## 2 · The surrogate gradient

The spike $H(x)$, $x = v - v_{th}$, has zero derivative almost everywhere. Training keeps the step forward and
uses, backward, the derivative of $\\sigma(\\alpha x)$:

$$g'(x) = \\alpha\\,\\sigma(\\alpha x)\\,(1-\\sigma(\\alpha x)), \\qquad g'(0) = \\alpha/4, \\qquad \\int g'(x)\\,dx = 1.$$

By hand first, checked against autograd through the library's `surrogate.Sigmoid`."""),
code("""alpha = 4.0
x = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
by_hand = alpha * torch.sigmoid(alpha * x) * (1 - torch.sigmoid(alpha * x))

curves = explore.surrogate_curves(alpha=alpha)
torch.testing.assert_close(by_hand, torch.from_numpy(curves["grad"]))
print(f"peak {curves['peak']:.4f} (alpha/4), width at half height {curves['fwhm']:.4f}, "
      f"area on [-2, 2] {curves['area']:.4f}")"""),
md("""Move **alpha**. Large `alpha`: the sigmoid is nearly the step (faithful forward), but the gradient is a tall,
narrow spike — only neurons very close to threshold learn. Small `alpha`: a wide gradient that reaches many
neurons but describes the step poorly. SpikingJelly's and OTTT's default is `alpha = 4`."""),
code("""surrogate_explorer()"""),
]
if WITH_OTTT:
    cells += [
md("""## 3 · OTTT vs BPTT

`ottt_edu.measure.ottt_vs_bptt(T, tau)` trains only briefly (30 cached OTTT_A steps, so that the hidden layer
fires), then runs one small seeded network for `T` steps twice —
once with OTTT (one `backward()` per step, gradient from traces) and once with BPTT (one `backward()` through
the unrolled graph) — and returns the cosine similarity of the two weight gradients per layer and the bytes
autograd saved for backward (`SavedTensorMeter`). OTTT drops the temporal terms of the BPTT gradient, so the two
are close, not equal, and OTTT's memory does not grow with `T`."""),
code("""from ottt_edu.measure import cosine_similarity, ottt_vs_bptt
from ottt_edu.widgets import ottt_vs_bptt_explorer


def cosine_by_hand(a, b):
    a, b = a.flatten().double(), b.flatten().double()
    return (a @ b / (a.norm() * b.norm())).item()


g1, g2 = torch.randn(64, 10), torch.randn(64, 10)
torch.testing.assert_close(cosine_by_hand(g1, g2), cosine_similarity(g1, g2))
torch.testing.assert_close(cosine_by_hand(g1, 3.0 * g1), 1.0)  # same direction: 1, whatever the length

r = ottt_vs_bptt(T=1, tau=2.0, seed=0)
for layer, cos in r.cosine.items():
    print(f"T=1  {layer}: cosine {cos:.4f}")
assert all(abs(c - 1.0) < 1e-6 for c in r.cosine.values()), "with T=1 OTTT and BPTT agree exactly"
r6 = ottt_vs_bptt(T=6, tau=2.0, seed=0)
print(f"T=6  saved for backward: OTTT {r6.ottt_bytes / 1024:.1f} KiB, BPTT {r6.bptt_bytes / 1024:.1f} KiB")"""),
md("""Move **T** and **tau**. With `T = 1` the two gradients are identical; with more steps they drift apart a
little (OTTT cuts the path from each membrane potential v[t] to v[t+1]; the trace keeps only its leak part), while BPTT's memory grows with `T` and
OTTT's stays flat."""),
code("""ottt_vs_bptt_explorer()"""),
    ]
cells += [
md("""## Summary

- `lif_explorer()`: the LIF difference equation and its trace $a[t] = (1-1/\\tau)a[t-1] + s[t]$, live.
- `surrogate_explorer()`: `alpha` sets the height (`alpha/4`) and width of the surrogate gradient.
""" + ("""- `ottt_vs_bptt_explorer()`: OTTT's gradient is close to BPTT's at a memory cost that does not grow with `T`.
""" if WITH_OTTT else "") + """- Each explorer is a thin layer over `ottt_edu.explore`; use those functions in your own experiments.

**Where this is in SpikingJelly:** the neuron is `spikingjelly.activation_based.neuron.OTTTLIFNode`, the surrogate
`spikingjelly.activation_based.surrogate.Sigmoid`. SpikingJelly has no sliders; its plotting helpers live in
`spikingjelly.visualizing`."""),
]


def build():
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "ottt-edu", "display_name": "Python (ottt-edu)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
