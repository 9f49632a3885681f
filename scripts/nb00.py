"""Cells of notebooks/00_start_here.ipynb."""
import nbformat as nbf


def build():
    return nb


nb = nbf.v4.new_notebook()
nb.metadata = {"kernelspec": {"name": "ottt-edu", "display_name": "Python (ottt-edu)", "language": "python"},
               "language_info": {"name": "python"}}
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
md("""# 00 · Start here: Online Training Through Time in one page

Welcome! This course rebuilds, line by line, the **online learning** modules of
[SpikingJelly](https://github.com/fangwei123456/spikingjelly) — `ReplaceforGrad`, `GradwithTrace`,
`SpikeTraceOp`, `OTTTSequential` and the `OTTTLIFNode` neuron — and then trains real spiking networks
with them. Everything runs on a laptop CPU, offline.

**Learning goals of this notebook**
- know what problem OTTT solves and the one idea it uses to solve it;
- see the road through the notebooks;
- check that your environment is the one the notebooks were made with."""),
md(r"""## The problem: BPTT remembers everything

A spiking neural network (SNN) runs for $T$ time steps. Its leaky integrate-and-fire (LIF) neurons keep a
membrane potential $v$ that leaks, integrates input, and fires a spike $s=H(v-v_{th})$ when it crosses the
threshold:

$$v[t] = \left(1-\tfrac{1}{\tau}\right) v[t-1] + W s^{l-1}[t], \qquad s[t] = H(v[t]-v_{th}), \qquad v[t] \leftarrow v[t]-s[t]\,v_{th}.$$

Backpropagation through time (BPTT) trains it by unrolling all $T$ steps and keeping every step's
activations until the single backward pass at the end: **training memory grows linearly with $T$**, and no
update can happen before the sequence ends.

## The idea: keep a trace, drop the temporal terms

*Online Training Through Time* (Xiao et al., NeurIPS 2022, [arXiv 2210.04195](https://arxiv.org/abs/2210.04195))
drops the gradient paths that run *backwards through time* inside a neuron and compensates with a
**presynaptic trace**, a running, leaky sum of each neuron's past spikes:

$$a[t] = \left(1-\tfrac{1}{\tau}\right) a[t-1] + s[t].$$

The weight gradient at step $t$ is then an outer product of the error now and the trace now,

$$\nabla_W \mathcal{L} = \sum_t g[t]^\top a[t], \qquad g[t] = \partial \mathcal{L}[t] / \partial (W s[t]),$$

which can be computed **at every time step**, with memory that **does not depend on $T$**. The paper shows
that these gradients point in nearly the same direction as BPTT's and that OTTT reaches comparable
accuracy on CIFAR-10, ImageNet and DVS data. Read it as a three-factor Hebbian rule: error × surrogate
derivative × presynaptic trace."""),
md("""## The road

| # | notebook | you will build |
|---|---|---|
| 00 | `00_start_here` | this overview and an environment check |
| 01 | `01_spiking_neurons` | the LIF neuron as a difference equation: `lif_step`, then `OTTTLIFNode` |
| 02 | `02_surrogate_gradients_and_bptt` | surrogate gradients; BPTT through an unrolled SNN; memory grows with T |
| 03 | `03_replace_for_grad` | custom autograd Functions; `ReplaceforGrad` from scratch |
| 04 | `04_traces_and_grad_with_trace` | traces, the OTTT weight gradient, `GradwithTrace` from scratch |
| 05 | `05_spike_trace_op_and_ottt_sequential` | `SpikeTraceOp`, `OTTTSequential`, one full OTTT_A update |
| 06 | `06_training_online` | training OTTT_A and OTTT_O on handwritten digits |
| 07 | `07_ottt_vs_bptt` | OTTT against BPTT: gradient alignment, memory, time, accuracy |
| 08 | `08_making_it_fast` | a single-pass `GradwithTrace` for linear layers |
| 09 | `09_explorers` | every interactive explorer in one playground |

Notebooks 01–05 rebuild SpikingJelly's online-learning module from the bottom up, one idea at a time.
01 starts from a single leaky integrate-and-fire neuron. 02 makes it trainable with a surrogate gradient
and measures why backpropagation through time runs out of memory as T grows. 03 opens up autograd with
custom Functions and builds `ReplaceforGrad`, the switch that separates a value from its gradient. 04
introduces the presynaptic trace, derives OTTT's weight gradient $\\sum_t g[t]^\\top a[t]$ from BPTT and
builds `GradwithTrace`. 05 assembles whole networks with `SpikeTraceOp` and `OTTTSequential` and runs one
complete OTTT update, checked by hand. 06 and 07 then train real networks on handwritten digits and put
OTTT and BPTT side by side (gradient alignment, memory, time, accuracy, and a task where OTTT's missing
temporal credit assignment shows). 08 is an advanced look at making OTTT fast; 09 is a playground with
every interactive explorer.

In each notebook you first write the idea in a few lines of plain PyTorch, then import the library
version from `ottt_edu` and check that the two agree number for number with
`torch.testing.assert_close`. "Your turn" exercises give instant feedback; reference solutions are in
collapsed cells, so *Run all* always works."""),
md("## Environment check\n\nThe stored outputs of these notebooks were made with the exact versions pinned in `requirements-lock.txt`. This cell compares your environment with them."),
code("""import importlib.metadata as md
import pathlib
import re
import sys

lock = pathlib.Path("..", "requirements-lock.txt").read_text()
pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\\S+)$", lock, flags=re.M))
problems = []
for name in ["torch", "numpy", "matplotlib", "scikit-learn", "ipywidgets", "tqdm", "nbval"]:
    have, want = md.version(name), pinned[name]
    ok = have == want
    problems += [] if ok else [f"{name} {have} (lock: {want})"]
    print(f"{name:<13} {want:<12} {'ok' if ok else 'DIFFERENT: ' + have}")
print("python       ", f"{sys.version_info.major}.{sys.version_info.minor}")
assert sys.version_info >= (3, 10), "ottt_edu needs Python 3.10 or newer"
assert not problems, "Versions differ from the lock; run `make lab` to use the pinned environment: " + ", ".join(problems)"""),
md("A first look at the library: one `OTTTLIFNode` fed the inputs `0.6, 0.9, 1.5, 0.2`. In training mode it returns the spike **and** its trace."),
code("""import torch
import ottt_edu
from ottt_edu import OTTTLIFNode

node = OTTTLIFNode()          # tau=2, soft reset, threshold 1
print("t   x     spike   v      trace")
for t, x in enumerate([0.6, 0.9, 1.5, 0.2]):
    spike, trace = node(torch.tensor([x]))
    print(f"{t}  {x:.1f}   {spike.item():.0f}       {node.v.item():.2f}   {trace.item():.2f}")
assert trace.item() == 0.75"""),
md("""## Summary

- BPTT keeps all $T$ steps in memory; OTTT keeps one step plus a trace per neuron.
- The OTTT weight gradient is $\\sum_t g[t]^\\top a[t]$: error now × trace now.
- The next notebook starts from the neuron itself.

**Where this is in SpikingJelly:** `spikingjelly.activation_based.neuron.OTTTLIFNode` and
`spikingjelly.activation_based.layer.online_learning` (`ReplaceforGrad`, `GradwithTrace`, `SpikeTraceOp`,
`OTTTSequential`). In this course: `from ottt_edu import ...` with the same names."""),
]
nb.cells = cells
