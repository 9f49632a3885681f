"""Cells of notebooks/07_ottt_vs_bptt.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 07 · OTTT vs BPTT: same network, two ways to train it

        BPTT computes the exact gradient of the loss through the whole unrolled network, and pays
        for it with memory that grows with the number of time steps $T$. OTTT drops the gradient
        paths that run backwards through time and keeps a presynaptic trace instead, so its
        memory does not depend on $T$. This notebook measures both sides of that trade on the
        same network, the same data and the same weights.

        **Learning goals**
        - train one architecture with OTTT and with BPTT and compare their weights' gradients
          (cosine similarity per layer) — equal for $T = 1$, close for small $T$ — and see how the
          agreement changes with $T$ and $\tau$;
        - measure training memory per iteration against $T$: flat for OTTT, linear for BPTT;
        - compare time per iteration and the final accuracy;
        - name what OTTT gives up — temporal credit assignment beyond the trace — and build a
          task where it matters.
        """),
        code(r"""
        import copy

        import matplotlib.pyplot as plt
        import torch
        import torch.nn.functional as F

        from ottt_edu import reset_net
        from ottt_edu.autograd_memory import SavedTensorMeter
        from ottt_edu.data import load_dataset
        from ottt_edu.encoding import DirectEncoder
        from ottt_edu.measure import (cosine_similarity, digits_batch, gradient_cosine,
                                      memory_time_vs_T, ottt_vs_bptt)
        from ottt_edu.models import ModelConfig, build_model, copy_weights
        from ottt_edu.train import TrainConfig, bptt_backward, fit, make_loaders, ottt_backward
        from ottt_edu.viz import plot_cosine_similarity, plot_learning_curves, plot_memory_vs_T

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. One architecture, two builds, the same weights

        `ModelConfig(neuron="ottt")` builds the spiking MLP with `OTTTSequential` + `OTTTLIFNode`;
        `neuron="bptt"` builds the same layers in an `nn.Sequential` with
        `LIFNode(decay_input=False, v_reset=None, detach_reset=True)` — the same neuron
        dynamics, but the whole history of $v$ stays in the graph. The layers have the same names,
        so one `state_dict` loads into the other, and in the forward pass the two compute the same
        values.
        """),
        code(r"""
        cfg = ModelConfig(kind="mlp", tau=2.0, hidden=(64,))
        ottt_net = build_model(cfg)                                     # neuron="ottt"
        bptt_net = build_model(ModelConfig(**{**cfg.__dict__, "neuron": "bptt"}))
        bptt_net.load_state_dict(ottt_net.state_dict())
        print("state_dict keys:", list(ottt_net.state_dict()))
        print("OTTT hidden neuron:", ottt_net.lif1)
        print("BPTT hidden neuron:", bptt_net.lif1)

        x, y = digits_batch(64, seed=0)                                 # (64, 1, 8, 8), (64,)
        x = 2.0 * x                                                     # a stronger input: more spikes
        x_seq = DirectEncoder()(x, 6)                                   # (T=6, 64, 1, 8, 8)
        with torch.no_grad():
            for t in range(6):
                torch.testing.assert_close(ottt_net(x_seq[t]), bptt_net(x_seq[t]))
        reset_net(ottt_net), reset_net(bptt_net)
        print("forward values: identical at all 6 steps")
        """),
        md(r"""
        ## 2. The two gradients, and how alike they are

        BPTT: run all $T$ steps keeping the graph, sum the per-step losses, one `backward()`.
        OTTT: `backward()` after every step (notebook 06). Both are written here in plain lines;
        the library's `bptt_backward` / `ottt_backward` do the same.

        The **cosine similarity** of two gradients $g_{\text{OTTT}}$, $g_{\text{BPTT}}$ of one
        layer measures whether they point the same way:
        $$\cos = \frac{\langle g_{\text{OTTT}}, g_{\text{BPTT}}\rangle}
        {\lVert g_{\text{OTTT}}\rVert\,\lVert g_{\text{BPTT}}\rVert} \in [-1, 1].$$
        """),
        code(r"""
        def bptt_grads(net, x_seq, y):
            net.zero_grad(), reset_net(net)
            loss = 0.0
            for t in range(x_seq.shape[0]):
                loss = loss + F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]
            loss.backward()                                   # once, through all T steps
            reset_net(net)
            return {"fc1": net.fc1.weight.grad.clone(), "readout": net.readout.weight.grad.clone()}


        def ottt_grads(net, x_seq, y):
            net.zero_grad(), reset_net(net)
            for t in range(x_seq.shape[0]):
                (F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]).backward()   # every step
            reset_net(net)
            return {"fc1": net.fc1.weight.grad.clone(), "readout": net.readout.weight.grad.clone()}


        def cosine_plain(a, b):
            a, b = a.flatten().double(), b.flatten().double()
            return (a @ b / (a.norm() * b.norm())).item()


        for T in (1, 6):
            xs = DirectEncoder()(x, T)
            g_o, g_b = ottt_grads(ottt_net, xs, y), bptt_grads(bptt_net, xs, y)
            lib = gradient_cosine(ottt_net, bptt_net, xs, y)
            for layer in g_o:
                c = cosine_plain(g_o[layer], g_b[layer])
                assert abs(c - lib[layer]) < 1e-9
                assert abs(c - cosine_similarity(g_o[layer], g_b[layer])) < 1e-12
            if T == 1:
                for layer in g_o:
                    torch.testing.assert_close(g_o[layer], g_b[layer])   # T = 1: identical
            print(f"T={T}: cosine fc1 {lib['fc1']:.4f}, readout {lib['readout']:.4f}")
        """),
        md(r"""
        For $T = 1$ there is no time to propagate through, and the trace of a single step is the
        spike itself: the two gradients are **identical**. For $T = 6$ they differ a little.
        Where? OTTT replaces two things:

        - for the **read-out** weight, BPTT uses the hidden spikes, $\sum_t g[t]^\top s[t]$; OTTT uses
          their traces, $\sum_t g[t]^\top a[t]$ with $a[t] = \sum_{t' \le t} k^{t-t'} s[t']$,
          $k = 1 - 1/\tau$. Here the read-out has no neuron after it, so BPTT's sum is the exact
          gradient and OTTT's is a *bias* it inherits from wrapping every parametric layer in
          `GradwithTrace` (as SpikingJelly does). For a layer that *feeds a LIF neuron*, the trace
          instead reproduces the neuron's leak path $v[t-1] \to v[t]$ (ignoring the reset);
        - for the **first layer**, BPTT also follows $v[t] \to v[t+1] \to \dots$; OTTT cuts that
          path (it detaches $v$) and keeps only the same-step path.

        `ottt_vs_bptt(T, tau)` repeats this measurement on a small, briefly trained MLP and a fixed
        batch of digits, fast enough to sweep $T$ and $\tau$:
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: the last digits depend on the CPU's floating-point reductions)
        Ts, taus = (1, 2, 4, 8, 16, 32), (2.0, 4.0, 8.0)
        sweep = {(T, tau): ottt_vs_bptt(T, tau, seed=0) for T in Ts for tau in taus}
        print("cosine(OTTT, BPTT) per layer: fc1 / readout")
        print("   T " + "".join(f"   tau={tau:<4g}      " for tau in taus))
        for T in Ts:
            print(f"{T:4d} " + "".join(f"  {sweep[T, tau].cosine['fc1']:.4f} / "
                                       f"{sweep[T, tau].cosine['readout']:.4f}" for tau in taus))
        for (T, tau), r in sweep.items():
            assert all(0.98 < c <= 1.0 + 1e-9 for c in r.cosine.values()), (T, tau, r.cosine)
            if T == 1:
                assert all(abs(c - 1.0) < 1e-9 for c in r.cosine.values())
        """),
        code(r"""
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        plot_cosine_similarity(axes[0], {f"T={T}": sweep[T, 2.0].cosine for T in Ts})
        axes[0].set_title("tau = 2: agreement per layer, by T")
        plot_cosine_similarity(axes[1], {f"tau={tau:g}": sweep[8, tau].cosine for tau in taus})
        axes[1].set_title("T = 8: agreement per layer, by tau")
        for ax in axes:
            ax.set_ylim(0.95, 1.005)
        fig.tight_layout()
        plt.show()
        """),
        md(r"""
        On this task the agreement stays high everywhere (above 0.99 here; asserted above 0.98,
        to leave room for another CPU's rounding): with inputs that repeat
        at every step, the same-step paths carry most of the gradient. It is lowest for a few
        steps and a slow leak: a larger $\tau$ keeps more of the past in $v$, so the temporal
        paths that OTTT drops carry more of the gradient; with many steps the many same-step
        terms dominate again. The OTTT paper proves that, under its assumptions, OTTT's update
        gives a descent direction similar to that of the gradient based on spike representations
        (for feedforward and recurrent networks); the high cosine with BPTT measured here is an
        empirical complement to that result.

        ## 3. Memory per iteration against T

        `SavedTensorMeter` records every tensor autograd saves for backward, and releases it when
        its graph is freed; `peak_bytes` is the most held at once. One iteration = forward and
        backward over $T$ steps, same batch and weights. In plain code for the 64-64-10 network,
        then with `memory_time_vs_T` for the 64-256-10 network of notebook 06:
        """),
        code(r"""
        def peak_saved_bytes(net, backward, x_seq, y):
            net.zero_grad(), reset_net(net)
            with SavedTensorMeter() as meter:
                backward(net, x_seq, y)
            reset_net(net)
            return meter.peak_bytes


        copy_weights(ottt_net, bptt_net)
        for T in (1, 8, 32):
            xs = DirectEncoder()(x, T)
            o, b = peak_saved_bytes(ottt_net, ottt_backward, xs, y), peak_saved_bytes(bptt_net, bptt_backward, xs, y)
            print(f"T={T:2d}: OTTT {o / 1024:7.1f} KiB   BPTT {b / 1024:7.1f} KiB   ratio {b / o:5.2f}")
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: wall-clock times; the byte counts printed and asserted are exact)
        rows = memory_time_vs_T(Ts, ModelConfig("mlp", hidden=(256,)), batch_size=64, repeats=5)
        ottt_bytes = [r["ottt_bytes"] for r in rows]
        bptt_bytes = [r["bptt_bytes"] for r in rows]
        print(" T | OTTT KiB | BPTT KiB | BPTT/OTTT | OTTT ms | BPTT ms | time BPTT/OTTT")
        for r in rows:
            print(f"{r['T']:2d} | {r['ottt_bytes'] / 1024:8.1f} | {r['bptt_bytes'] / 1024:8.1f} | "
                  f"{r['bytes_ratio']:9.2f} | {1e3 * r['ottt_s']:7.2f} | {1e3 * r['bptt_s']:7.2f} | "
                  f"{r['time_ratio']:6.2f}")
        flat = max(ottt_bytes) / min(ottt_bytes)
        per_step = [(b2 - b1) / (r2["T"] - r1["T"]) for b1, b2, r1, r2 in
                    zip(bptt_bytes, bptt_bytes[1:], rows, rows[1:])]
        print(f"OTTT max/min over T: {flat:.3f};  BPTT: +{per_step[0] / 1024:.1f} KiB per time step")
        assert flat <= 1.05
        assert max(per_step) / min(per_step) < 1.01 and min(per_step) > 0     # linear in T
        """),
        code(r"""
        fig, ax = plt.subplots(figsize=(6, 3.6))
        plot_memory_vs_T(ax, Ts, {"OTTT": ottt_bytes, "BPTT": bptt_bytes})
        plt.show()
        """),
        md(r"""
        BPTT keeps, for every step, the inputs of each layer, the membrane potentials and the
        surrogate's arguments: a fixed amount per step, so memory grows **linearly** in $T$.
        OTTT's graph lives for one step only; what it keeps across steps — $v$ and the trace $a$
        of each neuron — is state, not graph, and does not grow with $T$. (On a GPU,
        `benchmarks/memory_time.py --device cuda` also reports the peak allocated memory.)

        ## 4. Time per iteration

        The table above also has the time of one forward + backward (median of 5 rounds, both
        methods in the same rounds). Both do about the same arithmetic: OTTT one backward per
        step through a one-step graph, BPTT one long backward through the $T$-step graph; both
        grow linearly in $T$. On a network this small, OTTT is usually somewhat *slower*
        (BPTT/OTTT around 0.7–0.9 on a laptop CPU): it pays a fixed overhead $T$ times — a
        separate `backward()` call per step, plus the trace bookkeeping of `GradwithTrace` —
        where BPTT pays it once. OTTT's gain is memory, not speed. (On a shared CPU timings are
        noisy: `benchmarks/memory_time.py` measures both side by side, several rounds.)
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: wall-clock times vary from run to run)
        # T = 32 does 32x the work of T = 1: both times must grow clearly with T (2x is a safe floor)
        assert rows[-1]["T"] == 32 * rows[0]["T"]
        assert rows[-1]["ottt_s"] > 2 * rows[0]["ottt_s"] and rows[-1]["bptt_s"] > 2 * rows[0]["bptt_s"]
        print("BPTT time / OTTT time per iteration, by T:",
              ", ".join(f"T={r['T']}: {r['time_ratio']:.2f}" for r in rows))
        """),
        md(r"""
        ## 5. Accuracy side by side

        The same network (64-256-10, $\tau = 2$, $T = 6$), the same data, seed and optimizer,
        trained by OTTT_A and by BPTT.
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: progress bars and wall-clock times; the accuracies are asserted)
        common = dict(dataset="digits", model="mlp", T=6, tau=2.0, hidden=(256,), epochs=30,
                      batch_size=32, lr=3e-3, scheduler="cosine", seed=0)
        runs = {m: fit(TrainConfig(method=m, **common)) for m in ("ottt_a", "bptt")}
        for m, r in runs.items():
            print(f"{m:7s} test accuracy {r.history['test_acc'][-1]:.4f}, "
                  f"{r.history['time'][-1]:.1f} s of training")
        acc = {m: r.history["test_acc"][-1] for m, r in runs.items()}
        assert acc["ottt_a"] >= 0.96 and acc["bptt"] >= 0.96
        assert abs(acc["ottt_a"] - acc["bptt"]) < 0.03
        """),
        code(r"""
        both = {"epoch": runs["ottt_a"].history["epoch"],
                "OTTT_A test_acc": runs["ottt_a"].history["test_acc"],
                "BPTT test_acc": runs["bptt"].history["test_acc"]}
        fig, ax = plt.subplots(figsize=(6, 3.6))
        plot_learning_curves(ax, both, keys=("OTTT_A test_acc", "BPTT test_acc"))
        ax.set_ylim(0.8, 1.0)
        ax.set_title("Test accuracy: OTTT_A vs BPTT")
        plt.show()
        """),
        md(r"""
        On static digits the two reach the same accuracy: the gradients point almost the same
        way, and the memory saved is free.

        ## 6. What OTTT gives up, and a task where it matters

        OTTT keeps **no** gradient path from a loss at step $t$ back to earlier steps, except one:
        the trace $a[t]$, which lets a weight *into* a layer be credited for presynaptic spikes of
        earlier steps. What it cannot do is change **how earlier inputs were turned into spikes**
        because of a loss that comes later. That is *temporal credit assignment*, and BPTT does
        it through the chain $v[t] \to v[t+1] \to \dots$.

        It matters when the information arrives at a different time than the error. Make the
        digits a **flash**: the image is shown only at step 0, blank afterwards, and only the
        output at the last step counts. At step $T-1$ the first layer receives zeros, so the OTTT
        gradient of its **weights** is exactly zero (its bias still learns from the last step) —
        the only route from the loss back to the image runs through the membrane potential over
        time, which OTTT cuts.
        """),
        code(r"""
        T_flash, tau_flash = 4, 8.0


        def flash(x, T=T_flash):
            x_seq = torch.zeros(T, *x.shape)                   # (T, B, 1, 8, 8)
            x_seq[0] = x                                       # the image at step 0 only
            return x_seq


        def last_step_loss_backward(net, x_seq, y):
            reset_net(net)
            for t in range(x_seq.shape[0]):
                out = net(x_seq[t])
                # OTTT's per-step backward is zero at t < T-1 here: only the last step has a loss
            F.cross_entropy(out, y).backward()
            reset_net(net)


        flash_cfg = ModelConfig(kind="mlp", tau=tau_flash, hidden=(128,))
        torch.manual_seed(0)
        f_ottt = build_model(flash_cfg)
        f_bptt = copy_weights(f_ottt, build_model(ModelConfig(**{**flash_cfg.__dict__, "neuron": "bptt"})))
        xb, yb = digits_batch(64, seed=1)
        for name, net in (("OTTT", f_ottt), ("BPTT", f_bptt)):
            last_step_loss_backward(net, flash(xb), yb)
            print(f"{name}: sum |dL/dW_fc1| = {net.fc1.weight.grad.abs().sum():.4f}, "
                  f"sum |dL/dW_readout| = {net.readout.weight.grad.abs().sum():.4f}")
        assert f_ottt.fc1.weight.grad.abs().sum() == 0 and f_bptt.fc1.weight.grad.abs().sum() > 0
        assert f_bptt.readout.weight.grad.abs().sum() == 0 < f_ottt.readout.weight.grad.abs().sum()
        """),
        md(r"""
        Under OTTT the first layer's weights never learn here; only its bias and the read-out
        do, on whatever features the random first layer happens to provide. (The read-out shows
        the trace's bias, the other way round: in this untrained network no hidden neuron fires at the last
        step, so BPTT's read-out gradient, $g[T-1]^\top s[T-1]$, is zero, while OTTT's,
        $g[T-1]^\top a[T-1]$, still sees the step-0 spikes through the trace.) Training both for a
        few epochs:
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (output not compared: accuracies depend on the CPU's last bits; the gap is asserted)
        data = load_dataset("digits", seed=0)
        train_loader, test_loader = make_loaders(data, batch_size=32, seed=0)


        def train_flash(net, epochs=6):
            opt = torch.optim.Adam(net.parameters(), lr=3e-3)
            for _ in range(epochs):
                net.train()
                for xb, yb in train_loader:
                    opt.zero_grad()
                    last_step_loss_backward(net, flash(xb), yb)
                    opt.step()
            net.eval()
            correct = 0
            with torch.no_grad():
                for xb, yb in test_loader:
                    reset_net(net)
                    for x_t in flash(xb):
                        out = net(x_t)
                    correct += (out.argmax(1) == yb).sum().item()
            reset_net(net)
            return correct / len(data.test)


        flash_acc = {}
        for neuron in ("ottt", "bptt"):
            torch.manual_seed(0)
            flash_acc[neuron] = train_flash(build_model(ModelConfig(**{**flash_cfg.__dict__, "neuron": neuron})))
        print(f"flash digits, loss at the last step only (T={T_flash}, tau={tau_flash:g}): "
              f"OTTT {flash_acc['ottt']:.4f}, BPTT {flash_acc['bptt']:.4f}")
        assert flash_acc["bptt"] > flash_acc["ottt"] + 0.05
        """),
        md(r"""
        ### Discussion: when does the missing temporal credit assignment matter?

        - **Little**, when the input is present at (almost) every step and the loss is spread over
          all steps — static images with direct encoding, as in Sections 2 and 5, and the image
          benchmarks of the OTTT paper. Every step's error finds its cause in the same step, and
          the trace covers the rest. OTTT then matches BPTT in accuracy at a memory cost
          independent of $T$.
        - **Much**, when the cause and the error are separated in time: a cue followed by a
          delayed decision, inputs whose *order* or *timing* carries the label, sparse event
          streams with a decision at the end. Then the gradient has to travel back through $v$
          (and through recurrent connections, which SpikingJelly's and this library's OTTT
          modules do not implement), and OTTT's
          update of the early layers can be far from the true gradient — or, as above, missing
          altogether.
        - The knobs: a slower leak (larger $\tau$) keeps more of the past in $v$ and in the trace;
          a loss at every step (rather than only at the end) gives every step its own error;
          fewer layers between input and loss shorten the paths OTTT drops.

        OTTT buys $O(1)$ memory in $T$ — and online, forward-in-time learning, closer to
        what a neuromorphic chip can do — at the price of this temporal credit assignment.
        """),
        md(r"""
        ## 7. Explore

        Move the sliders: $T$ and $\tau$ change the gradient agreement per layer and the memory
        curve (each point is a fresh `ottt_vs_bptt` measurement).
        """),
        code(r"""
        from ottt_edu.widgets import ottt_vs_bptt_explorer

        ottt_vs_bptt_explorer()
        """),
        md(r"""
        ## Summary

        - One `ModelConfig`, two builds (`neuron="ottt"` / `"bptt"`), the same `state_dict`:
          identical forward values, so every difference is in the gradient.
        - For $T = 1$ the OTTT and BPTT gradients are identical; on static digits their cosine
          similarity stays above 0.99 for $T$ up to 32 and $\tau$ up to 8.
        - Memory saved for backward per iteration: flat in $T$ for OTTT (max/min = 1.00 over
          $T = 1..32$), linear for BPTT (27× larger at $T = 32$ for the 64-256-10 network). Time per iteration grows
          linearly in $T$ for both; on this small network OTTT is somewhat slower (a fixed
          overhead per step).
        - Trained the same way, OTTT_A and BPTT reach the same test accuracy on digits.
        - OTTT gives up temporal credit assignment beyond the trace: when the error comes after
          its cause (a flashed input, a decision at the end), early layers get no OTTT gradient,
          and BPTT wins clearly.

        **Where this is in SpikingJelly:** `spikingjelly.activation_based.neuron.OTTTLIFNode`
        and `spikingjelly.activation_based.layer.online_learning.OTTTSequential` (OTTT) vs
        `neuron.LIFNode` in a plain `nn.Sequential` (BPTT); the paper compares memory, gradients
        and accuracy with BPTT in its experiments (Xiao et al., 2022). Here: `ottt_edu.models`, `ottt_edu.train`, `ottt_edu.measure`
        (`gradient_cosine`, `ottt_vs_bptt`, `memory_time_vs_T`) and
        `benchmarks/memory_time.py`.
        """),
    ])


