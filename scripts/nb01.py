"""Cells of notebooks/01_spiking_neurons.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 01 · Spiking neurons: the LIF neuron as a difference equation

        Everything in this course is built on one small equation: the **leaky integrate-and-fire
        (LIF)** neuron, written for discrete time steps $t = 0, 1, \dots, T-1$. In this notebook you
        write it in a few lines of plain PyTorch and then check, number by number, that the library's
        `OTTTLIFNode` (the neuron SpikingJelly uses for OTTT) does exactly the same.

        **Learning goals**
        - write the LIF neuron as three steps per time step: *charge*, *fire*, *reset*;
        - tell a **soft** reset from a **hard** reset, and say what `decay_input` changes;
        - read and run a plain `lif_step` and verify it against `OTTTLIFNode` and `LIFNode`;
        - predict from `tau`, `v_threshold` and the input when (and whether) a neuron fires.
        """),
        md(r"""
        ### How the "your turn" exercises work

        Each notebook has at least one exercise. It looks like this:

        1. a visible cell defines a function for you to fill in. As stored, its body is
           `raise NotImplementedError`; the cell then calls a checker from `ottt_edu.exercises`,
           which notices that and prints *"Not attempted yet"* instead of failing;
        2. the next cell is **collapsed** (click the `...` or the blue bar on its left to open it):
           it holds a reference solution, checked by the same checker, and that is what the rest
           of the notebook uses.

        So *Run all* always works. When you replace the stub with your code and run the cell, the
        checker either prints `Correct! ...` or raises an `ExerciseError` that tells you which case
        failed, what was expected, what you returned, and a hint. Try before you peek!
        """),
        code(r"""
        import math

        import matplotlib.pyplot as plt
        import torch

        from ottt_edu import LIFNode, OTTTLIFNode, reset_net
        from ottt_edu.exercises import check_first_spike_time
        from ottt_edu.viz import plot_membrane, plot_raster

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. Charge, fire, reset

        A LIF neuron keeps one number per neuron between time steps, its **membrane potential** $v$.
        At every step $t$ it receives an input current $x[t]$ and does three things. Write
        $k = 1 - \frac{1}{\tau}$ for the **leak factor** ($\tau > 1$ is the membrane time constant).

        **Charge.** The potential leaks towards the rest value and integrates the input. OTTT uses
        `decay_input=False`, where the input is added in full:
        $$h[t] = v[t-1] - \frac{1}{\tau}\big(v[t-1] - v_{\text{reset}}\big) + x[t]
        \qquad\big(= k\,v[t-1] + x[t] \text{ when } v_{\text{reset}} = 0 \text{ or soft reset}\big).$$
        With `decay_input=True` (SpikingJelly's `LIFNode` default) the input is divided by $\tau$ too:
        $$h[t] = v[t-1] + \frac{1}{\tau}\Big(x[t] - \big(v[t-1] - v_{\text{reset}}\big)\Big).$$

        **Fire.** A spike is emitted when the potential reaches the threshold ($H$ is the Heaviside
        step, with $H(0) = 1$):
        $$s[t] = H\big(h[t] - v_{\text{th}}\big) \in \{0, 1\}.$$

        **Reset.** After a spike, the potential drops.
        - *soft* reset (`v_reset=None`, OTTT's choice): subtract the threshold, keep the overshoot,
          $\;v[t] = h[t] - s[t]\,v_{\text{th}}$;
        - *hard* reset (`v_reset=0.0`, `LIFNode`'s default): jump to $v_{\text{reset}}$,
          $\;v[t] = \big(1 - s[t]\big)\,h[t] + s[t]\,v_{\text{reset}}$.

        (For a soft reset the charge equation uses $0$ as the rest value.) Here is all of it as one
        plain function:
        """),
        code(r"""
        def lif_step(v, x, tau=2.0, v_threshold=1.0, v_reset=None, decay_input=False):
            # One time step of a LIF neuron. Returns (spike s[t], potential v[t] after reset).
            rest = 0.0 if v_reset is None else v_reset
            # 1. charge
            if decay_input:
                h = v + (x - (v - rest)) / tau
            else:
                h = v - (v - rest) / tau + x
            # 2. fire: H(h - v_threshold), with H(0) = 1
            spike = (h >= v_threshold).to(h.dtype)
            # 3. reset
            if v_reset is None:
                v_new = h - spike * v_threshold                # soft: keep the overshoot
            else:
                v_new = (1.0 - spike) * h + spike * v_reset    # hard: jump to v_reset
            return spike, v_new
        """),
        md(r"""
        Let us trace it by hand with $\tau = 2$ ($k = 0.5$), $v_{\text{th}} = 1$, soft reset, and the
        inputs $0.6, 0.9, 1.5, 0.2$:

        | $t$ | $x[t]$ | $h[t] = 0.5\,v[t-1] + x[t]$ | $s[t]$ | $v[t]$ |
        |---|---|---|---|---|
        | 0 | 0.6 | 0.6 | 0 | 0.6 |
        | 1 | 0.9 | 1.2 | 1 | 0.2 |
        | 2 | 1.5 | 1.6 | 1 | 0.6 |
        | 3 | 0.2 | 0.5 | 0 | 0.5 |
        """),
        code(r"""
        v = torch.zeros(1)
        spikes, potentials = [], []
        for x in [0.6, 0.9, 1.5, 0.2]:
            s, v = lif_step(v, torch.tensor([x]))
            spikes.append(s.item())
            potentials.append(round(v.item(), 4))
        print("spikes:    ", spikes)
        print("potentials:", potentials)
        assert spikes == [0.0, 1.0, 1.0, 0.0]
        assert potentials == [0.6, 0.2, 0.6, 0.5]
        """),
        md(r"""
        ## 2. The library neuron: `OTTTLIFNode`

        `OTTTLIFNode` is a `torch.nn.Module` that keeps `v` as internal state: you call it once per
        time step with that step's input. Its defaults are OTTT's: `tau=2.0`, `decay_input=False`,
        `v_threshold=1.0`, `v_reset=None` (soft reset). In training mode it returns a pair
        `[spike, trace]`; the trace is the subject of notebook 04, so here we put the neuron in
        `eval()` mode, where it returns the spike alone.

        We feed 5 neurons 20 steps of random input and compare spikes *and* potentials at every step.
        """),
        code(r"""
        T, N = 20, 5
        x_seq = 1.5 * torch.rand(T, N)                       # (T, N) input currents

        node = OTTTLIFNode().eval()
        v = torch.zeros(N)
        for t in range(T):
            s_mine, v = lif_step(v, x_seq[t])                   # plain code
            s_lib = node(x_seq[t])                               # library
            torch.testing.assert_close(s_mine, s_lib)
            torch.testing.assert_close(v, node.v)
        print(f"identical spikes and potentials over {T} steps; {int(s_lib.sum())} of {N} neurons fire at the last step")
        """),
        md(r"""
        The neuron *remembers*: its `v` carries over to the next call. Before a new, independent
        sequence you must clear that memory with `reset_net(model)`, which puts every stateful module
        of a network back to its initial state (here `v = 0.0`, stored as a plain float until the
        first input tells the neuron its shape).
        """),
        code(r"""
        print("before reset_net: v is a tensor of shape", tuple(node.v.shape))
        reset_net(node)
        print("after reset_net:  v =", node.v)
        assert node.v == 0.0
        """),
        md(r"""
        The same plain function also covers the other settings. SpikingJelly's general `LIFNode`
        has `decay_input=True` and a hard reset to `0.0` by default; with `step_mode='m'` it takes
        the whole sequence `(T, N)` at once, and `store_v_seq=True` keeps $v[t]$ for every step.
        We check all four combinations of reset and `decay_input`:
        """),
        code(r"""
        def lif_run(x_seq, **kwargs):
            # Run lif_step over a sequence (T, N); returns spikes and potentials, both (T, N).
            v = torch.zeros_like(x_seq[0])
            spikes, vs = [], []
            for x in x_seq:
                s, v = lif_step(v, x, **kwargs)
                spikes.append(s)
                vs.append(v)
            return torch.stack(spikes), torch.stack(vs)


        for v_reset in [None, 0.0]:
            for decay_input in [False, True]:
                kw = dict(tau=3.0, v_threshold=0.8, v_reset=v_reset, decay_input=decay_input)
                s_mine, v_mine = lif_run(x_seq, **kw)
                lib = LIFNode(**kw, step_mode="m", store_v_seq=True)
                s_lib = lib(x_seq)
                torch.testing.assert_close(s_mine, s_lib)
                torch.testing.assert_close(v_mine, lib.v_seq)
                print(f"v_reset={str(v_reset):<4}  decay_input={str(decay_input):<5}  "
                      f"spikes: {int(s_mine.sum()):3d}   matches LIFNode")
        """),
        md(r"""
        ## 3. Watching a neuron: three input currents

        Now feed one neuron a *constant* current $x$ for 20 steps. Without spikes the potential would
        follow $v[t] = x\,(1 + k + \dots + k^t) = x\,\frac{1-k^{t+1}}{1-k}$, which tends to
        $x\,\tau$. So a neuron with `decay_input=False` fires eventually if and only if
        $x\,\tau > v_{\text{th}}$, and more often the larger $x$ is.
        """),
        code(r"""
        currents = [0.3, 0.6, 1.2]
        T = 20
        runs = {x: lif_run(torch.full((T, 1), x)) for x in currents}    # tau=2, v_threshold=1

        fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True, sharey=True,
                                 constrained_layout=True)
        for ax, x in zip(axes, currents):
            s, v = runs[x]
            plot_membrane(ax, v[:, 0], spikes=s[:, 0], v_threshold=1.0, x=torch.full((T,), x))
            ax.set_title(f"x = {x}: {int(s.sum())} spikes in {T} steps", loc="right", fontsize=10)
        plt.show()

        counts = [int(runs[x][0].sum()) for x in currents]
        assert counts[0] == 0                      # 0.3 * tau = 0.6 < 1: never fires
        assert counts[0] < counts[1] < counts[2]   # stronger input, more spikes
        assert counts[2] == T                      # 1.2 >= 1 fires at every step (soft reset)
        """),
        md(r"""
        ### Soft versus hard reset

        A soft reset subtracts $v_{\text{th}}$ and keeps the overshoot $h[t] - v_{\text{th}}$; a hard
        reset throws it away. Right after the first spike the two differ exactly by that overshoot:
        """),
        code(r"""
        x_const = torch.full((T, 1), 0.7)
        s_soft, v_soft = lif_run(x_const, v_reset=None)
        s_hard, v_hard = lif_run(x_const, v_reset=0.0)

        fig, axes = plt.subplots(2, 1, figsize=(10, 5), sharex=True, sharey=True,
                                 constrained_layout=True)
        plot_membrane(axes[0], v_soft[:, 0], spikes=s_soft[:, 0], label="v[t], soft reset")
        plot_membrane(axes[1], v_hard[:, 0], spikes=s_hard[:, 0], label="v[t], hard reset")
        axes[0].set_title(f"soft reset: {int(s_soft.sum())} spikes", loc="right", fontsize=10)
        axes[1].set_title(f"hard reset: {int(s_hard.sum())} spikes", loc="right", fontsize=10)
        plt.show()

        first = int(torch.nonzero(s_soft[:, 0])[0])          # first spike: same history so far
        h_first = 0.5 * (v_soft[first - 1] if first > 0 else 0.0) + 0.7   # charge, computed by hand
        print(f"first spike at t = {first}: h = {h_first.item():.4f}, "
              f"soft reset leaves {v_soft[first].item():.4f}, hard reset leaves {v_hard[first].item():.4f}")
        assert torch.equal(v_soft[:first], v_hard[:first])     # the same history up to the first spike
        assert torch.isclose(v_soft[first], h_first - 1.0) and v_hard[first] == 0.0
        assert s_soft.sum() >= s_hard.sum()       # the kept overshoot can only help the next spike
        """),
        md(r"""
        ### What `decay_input` changes

        With `decay_input=True` the input is scaled by $\frac{1}{\tau}$, so the potential (with a
        threshold too high to ever fire) settles at $x$ instead of $x\,\tau$. Same neuron, same input,
        a different scale: that is why OTTT's `decay_input=False` neurons need smaller weights.
        """),
        code(r"""
        x_const = torch.full((60, 1), 0.4)
        for decay_input, limit in [(False, 0.4 * 2.0), (True, 0.4)]:
            _, v = lif_run(x_const, v_threshold=100.0, decay_input=decay_input)
            print(f"decay_input={str(decay_input):<5}  v after 60 steps = {v[-1].item():.4f}   (limit {limit:.4f})")
            assert abs(v[-1].item() - limit) < 1e-6
        """),
        md(r"""
        ## 4. The effect of `tau` and `v_threshold`

        Give 12 neurons the constant inputs $0.05, \dots, 1.2$ (neuron $n$ gets the $n$-th) and look at
        the spike **raster**: a tick for every spike. A larger $\tau$ leaks less, so weaker inputs
        reach the threshold (the limit $x\,\tau$ grows); a higher threshold needs stronger inputs.
        """),
        code(r"""
        T = 40
        x_levels = torch.linspace(0.05, 1.2, 12)                 # (N,) one constant input per neuron
        settings = [(2.0, 1.0), (8.0, 1.0), (2.0, 2.0)]            # (tau, v_threshold)
        rasters = {}
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
        for ax, (tau, v_th) in zip(axes, settings):
            s, _ = lif_run(x_levels.expand(T, -1), tau=tau, v_threshold=v_th)
            rasters[(tau, v_th)] = s
            plot_raster(ax, s)
            ax.set_title(f"tau = {tau:g}, v_threshold = {v_th:g}: {int(s.sum())} spikes")
        axes[0].set_ylabel("neuron n (input grows with n)")
        plt.show()

        for (tau, v_th), s in rasters.items():
            fires = s.sum(0) > 0
            assert torch.equal(fires, x_levels * tau > v_th), (tau, v_th)   # fires iff x*tau > v_th
        assert rasters[(8.0, 1.0)].sum() > rasters[(2.0, 1.0)].sum() > rasters[(2.0, 2.0)].sum()
        print("a neuron fires iff x * tau > v_threshold, in all three settings")
        """),
        md(r"""
        ## 5. Your turn: when is the first spike?

        For a neuron with OTTT's defaults (`decay_input=False`, soft reset) that starts at $v = 0$ and
        receives the constant input $x$, the potential before the first spike is
        $$v[t] = x\,\frac{1-k^{t+1}}{1-k}, \qquad k = 1 - \tfrac{1}{\tau}.$$
        Write `first_spike_time(x, tau, v_threshold)` that returns the first step $t$ (counting from
        0) with $v[t] \ge v_{\text{th}}$, or `None` if the neuron never fires. A closed form
        (`math.log`, `math.ceil`) is the elegant answer; a loop is fine too. The checker compares your
        answer with a simulation of `OTTTLIFNode` on 20 cases.
        """),
        code(r"""
        def first_spike_time(x, tau, v_threshold):
            # First step t (from 0) at which the neuron spikes, or None if it never does.
            raise NotImplementedError  # <- replace this line with your code


        passed = check_first_spike_time(first_spike_time)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        def first_spike_time_solution(x, tau, v_threshold):
            k = 1.0 - 1.0 / tau
            if x * tau <= v_threshold:       # v only approaches x * tau from below
                return None
            if x >= v_threshold:             # fires at once: v[0] = x
                return 0
            # smallest t with k^(t+1) <= 1 - v_threshold (1 - k) / x
            return math.ceil(math.log(1.0 - v_threshold * (1.0 - k) / x) / math.log(k)) - 1


        assert check_first_spike_time(first_spike_time_solution)
        """, hidden=True),
        md(r"""
        The closed form predicts the first column of ticks in every raster above:
        """),
        code(r"""
        for (tau, v_th), s in rasters.items():
            for n, x in enumerate(x_levels.tolist()):
                predicted = first_spike_time_solution(x, tau, v_th)
                ticks = torch.nonzero(s[:, n])
                observed = int(ticks[0]) if len(ticks) else None
                assert predicted == observed, (tau, v_th, n)
        print("predicted first-spike times agree with all 36 raster rows")
        """),
        md(r"""
        ## 6. Explore

        Move the sliders to see how `tau`, `v_threshold` and the input strength shape the potential,
        the spikes, and the trace you will meet in notebook 04. (Without a live kernel, e.g. on a
        notebook viewer, you see a static picture for the default values.)
        """),
        code(r"""
        from ottt_edu.widgets import lif_explorer

        lif_explorer()
        """),
        md(r"""
        ## Summary

        - A LIF neuron is a difference equation with three phases per step: charge
          $h[t] = k\,v[t-1] + x[t]$ (OTTT's `decay_input=False`), fire $s[t] = H(h[t]-v_{\text{th}})$,
          reset (soft: subtract $v_{\text{th}}$; hard: jump to $v_{\text{reset}}$).
        - The 15-line `lif_step` reproduces `OTTTLIFNode` and every reset/`decay_input` setting of
          `LIFNode` exactly.
        - Under a constant input $x$ the neuron fires iff $x\,\tau > v_{\text{th}}$; larger $\tau$
          and smaller $v_{\text{th}}$ make it fire earlier and more often.
        - Neurons carry state between calls: `reset_net` before every new sequence.

        **Next:** the spike $H(\cdot)$ has no useful derivative. Notebook 02 fixes that with a
        surrogate gradient and trains through time, and measures what that costs in memory.

        **Where this is in SpikingJelly:** `spikingjelly.activation_based.neuron.LIFNode` and
        `spikingjelly.activation_based.neuron.OTTTLIFNode` (charge/fire/reset are the methods
        `neuronal_charge`, `neuronal_fire`, `neuronal_reset` of `neuron.BaseNode`), and
        `spikingjelly.activation_based.functional.reset_net`. Here: `from ottt_edu import LIFNode,
        OTTTLIFNode, reset_net`.
        """),
    ])
