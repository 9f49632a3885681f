"""Cells of notebooks/02_surrogate_gradients_and_bptt.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 02 · Surrogate gradients and backpropagation through time

        In notebook 01 the neuron fired with a step function. Training a network by gradient descent
        needs the derivative of every operation, and the step's derivative is useless. This notebook
        introduces the standard fix, the **surrogate gradient**, trains through time with it
        (**BPTT**), and then measures what BPTT costs: memory that grows with the number of time
        steps $T$. That cost is the problem OTTT solves.

        **Learning goals**
        - explain why the Heaviside step gives no useful gradient;
        - write the sigmoid surrogate and its derivative, and say what `alpha` controls;
        - unroll a small LIF network over $T$ steps in plain code, backpropagate through it, and
          match `LIFNode(step_mode='m')` gradient for gradient;
        - measure the bytes autograd saves for backward, in plain code and with
          `SavedTensorMeter`, for several $T$, and see them grow linearly.

        (Exercises work as explained in notebook 01: the stub prints *"Not attempted yet"*, the
        collapsed cell below it holds a checked reference solution.)
        """),
        code(r"""
        import matplotlib.pyplot as plt
        import torch
        import torch.nn.functional as F
        from torch import nn

        from ottt_edu import LIFNode, OTTTLIFNode, OTTTSequential, reset_net, surrogate
        from ottt_edu.autograd_memory import SavedTensorMeter
        from ottt_edu.exercises import check_surrogate_spike
        from ottt_edu.surrogate import heaviside
        from ottt_edu.viz import plot_memory_vs_T, plot_surrogate

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. The step has no useful gradient

        A neuron fires when $x = h - v_{\text{th}} \ge 0$: $s = H(x)$. In code that is a comparison,
        and autograd cannot differentiate a comparison: the result simply has no graph.
        """),
        code(r"""
        x = torch.linspace(-1.0, 1.0, 5, requires_grad=True)
        s = (x >= 0).to(x.dtype)
        print("x =", [round(v, 2) for v in x.tolist()], " s =", s.tolist())
        print("does s remember how it was computed?", s.requires_grad)
        assert not s.requires_grad
        """),
        md(r"""
        Even mathematically the derivative is no help: it is $0$ everywhere except at $x = 0$, where
        it is infinite. Finite differences $\frac{H(x+\varepsilon) - H(x-\varepsilon)}{2\varepsilon}$
        show it: zero away from the threshold, $\frac{1}{2\varepsilon} \to \infty$ at it. A weight
        change would either change nothing or flip a spike; gradient descent gets no direction.
        """),
        code(r"""
        for eps in [1e-1, 1e-2, 1e-3]:
            at = {x0: ((heaviside(torch.tensor(x0 + eps)) - heaviside(torch.tensor(x0 - eps))) / (2 * eps)).item()
                  for x0 in [0.0, 0.3]}
            print(f"eps = {eps:g}:  slope at x=0: {at[0.0]:7.1f}   slope at x=0.3: {at[0.3]:.1f}")
            assert at[0.3] == 0.0 and abs(at[0.0] - 1 / (2 * eps)) < 1e-3 / eps
        """),
        md(r"""
        ## 2. The sigmoid surrogate

        The surrogate-gradient trick keeps the exact step in the **forward** pass (the network still
        sends binary spikes) and, in the **backward** pass only, pretends the step was the smooth
        function $\sigma(\alpha x)$, with $\sigma(z) = \frac{1}{1+e^{-z}}$:
        $$\text{forward: } s = H(x), \qquad
        \text{backward: } \frac{\partial s}{\partial x} := g'(x) = \alpha\,\sigma(\alpha x)\big(1 - \sigma(\alpha x)\big).$$

        `alpha` sets the steepness: $g'$ peaks at $g'(0) = \alpha/4$, its width shrinks like
        $1/\alpha$, and its area is always $\int g' = \sigma(\infty) - \sigma(-\infty) = 1$, the
        size of the step it replaces. SpikingJelly's default is $\alpha = 4$.
        """),
        code(r"""
        def surrogate_grad(x, alpha=4.0):
            sg = torch.sigmoid(alpha * x)
            return alpha * sg * (1.0 - sg)


        xs = torch.linspace(-20.0, 20.0, 200001, dtype=torch.float64, requires_grad=True)
        for alpha in [1.0, 4.0, 10.0]:
            (auto,) = torch.autograd.grad(torch.sigmoid(alpha * xs).sum(), xs)   # autograd's d/dx
            mine = surrogate_grad(xs.detach(), alpha)
            torch.testing.assert_close(mine, auto)
            peak = surrogate_grad(torch.tensor(0.0), alpha).item()
            area = torch.trapezoid(mine, xs.detach()).item()
            print(f"alpha = {alpha:4.1f}:  peak g'(0) = {peak:.4f} (alpha/4 = {alpha / 4:.4f}),  area = {area:.4f}")
            assert abs(peak - alpha / 4) < 1e-12 and abs(area - 1.0) < 1e-6
        """),
        code(r"""
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
        for ax, alpha in zip(axes, [1.0, 4.0, 10.0]):
            drawn = plot_surrogate(ax, alpha)
        plt.show()
        assert set(drawn) == {"step", "sigmoid", "grad"}
        """),
        md(r"""
        The library's `surrogate.Sigmoid(alpha)` is this rule packaged as a module: forward exactly
        the step, backward exactly $g'$. We check both halves.
        """),
        code(r"""
        x = (torch.arange(-20, 21) / 10).requires_grad_(True)     # -2.0, -1.9, ..., 2.0 (exact 0 at index 20)
        s = surrogate.Sigmoid(alpha=4.0)(x)
        torch.testing.assert_close(s, heaviside(x.detach()), rtol=0, atol=0)   # forward: the exact step
        s.sum().backward()
        torch.testing.assert_close(x.grad, surrogate_grad(x.detach(), 4.0))    # backward: g'(x)
        print(f"surrogate.Sigmoid: {int(s.sum())} of {len(x)} entries spike; gradient at the threshold = {x.grad[20].item():.4f}")
        """),
        md(r"""
        ## 3. Your turn: a surrogate spike without a custom Function

        You can build "step forward, sigmoid backward" from ordinary tensor operations and
        `.detach()`: a detached tensor keeps its value but is a constant for autograd. Write
        `surrogate_spike(x, alpha)` whose **value** is exactly $H(x)$ (1 where $x \ge 0$) and whose
        **gradient** is $g'(x)$.

        *Hint:* $\sigma(\alpha x) - \sigma(\alpha x)$ is zero in value, but if one of the two terms
        is detached, its gradient is not.
        """),
        code(r"""
        def surrogate_spike(x, alpha):
            # value: heaviside(x); gradient: that of sigmoid(alpha * x)
            raise NotImplementedError  # <- replace this line with your code


        passed = check_surrogate_spike(surrogate_spike)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        def surrogate_spike_solution(x, alpha=4.0):
            smooth = torch.sigmoid(alpha * x)
            return heaviside(x).detach() + (smooth - smooth.detach())   # value H(x); grad of smooth


        assert check_surrogate_spike(surrogate_spike_solution)
        """, hidden=True),
        md(r"""
        ## 4. Backpropagation through time (BPTT)

        Now a small network: a linear layer feeds LIF neurons (OTTT's dynamics: `decay_input=False`,
        soft reset, reset detached from the gradient), and a linear readout turns their spikes into 3
        class scores at every step. The loss averages the per-step cross-entropy,
        $L = \frac{1}{T}\sum_t \ell\big(o[t], y\big)$:
        $$h[t] = k\,v[t-1] + W_1 x[t] + b_1, \quad s[t] = H(h[t] - v_{\text{th}}), \quad
        v[t] = h[t] - \operatorname{sg}(s[t])\,v_{\text{th}}, \quad o[t] = W_2\, s[t] + b_2,$$
        where $\operatorname{sg}$ means "stop gradient" (`.detach()`). BPTT is simply autograd on the
        unrolled loop: one `backward()` after all $T$ steps, which needs every step's graph.
        """),
        code(r"""
        def bptt_loss(fc1, fc2, x_seq, y, tau=2.0, v_threshold=1.0):
            # x_seq: (T, B, N_in), or a list of T tensors (B, N_in) -> mean over t of the loss
            T, B = len(x_seq), x_seq[0].shape[0]
            v = torch.zeros(B, fc1.out_features)
            loss = 0.0
            for t in range(T):
                h = (1.0 - 1.0 / tau) * v + fc1(x_seq[t])            # charge
                s = surrogate_spike_solution(h - v_threshold)         # fire, surrogate gradient
                v = h - s.detach() * v_threshold                      # soft reset (detached)
                loss = loss + F.cross_entropy(fc2(s), y) / T
            return loss


        T, B, N_in, N_hidden, N_out = 8, 4, 6, 16, 3
        fc1, fc2 = nn.Linear(N_in, N_hidden), nn.Linear(N_hidden, N_out)
        x_seq = 2.0 * torch.rand(T, B, N_in)                                 # (T, B, N_in)
        y = torch.randint(0, N_out, (B,))                                   # (B,)

        loss = bptt_loss(fc1, fc2, x_seq, y)
        loss.backward()
        grads_plain = [p.grad.clone() for p in (fc1.weight, fc1.bias, fc2.weight, fc2.bias)]
        print(f"loss = {loss.item():.4f};  |dL/dW1| = {grads_plain[0].norm():.4f},  |dL/dW2| = {grads_plain[2].norm():.4f}")
        """),
        md(r"""
        The library version: `LIFNode` with OTTT's dynamics in multi-step mode takes the whole
        sequence `(T, B, N)`; `nn.Linear` applies to every step at once. Same weights, same loss,
        the same gradients:
        """),
        code(r"""
        lif = LIFNode(decay_input=False, v_reset=None, detach_reset=True, step_mode="m")
        net = nn.Sequential(fc1, lif, fc2)                  # shares fc1, fc2 with the plain version
        for p in net.parameters():
            p.grad = None
        out = net(x_seq)                                    # (T, B, N_out)
        loss_lib = sum(F.cross_entropy(out[t], y) for t in range(T)) / T
        loss_lib.backward()
        torch.testing.assert_close(loss_lib, loss)
        for g_plain, p in zip(grads_plain, net.parameters()):
            torch.testing.assert_close(p.grad, g_plain)
        reset_net(net)
        print("LIFNode(step_mode='m'): same loss and same gradients for all 4 parameters")
        """),
        md(r"""
        ### Why "through time"

        The potential $v[t-1]$ feeds $h[t]$, so the loss at the *last* step depends on the input at
        the *first* step. To compute that dependence, `backward()` walks the whole chain back through
        all $T$ steps, and autograd must keep every step's intermediate tensors until then.
        """),
        code(r"""
        x_req = x_seq.clone().requires_grad_(True)
        v = torch.zeros(B, N_hidden)
        for t in range(T):                         # the same loop, keeping only the last step's loss
            h = 0.5 * v + fc1(x_req[t])
            s = surrogate_spike_solution(h - 1.0)
            v = h - s.detach()
        last_loss = F.cross_entropy(fc2(s), y)
        (g_x,) = torch.autograd.grad(last_loss, x_req)
        per_step = g_x.abs().sum(dim=(1, 2))       # (T,) how much each input step matters
        print("|d loss[T-1] / d x[t]| for t = 0..T-1:", [f"{v:.2e}" for v in per_step.tolist()])
        assert per_step[0] > 0                     # the first input still reaches the last loss
        """),
        md(r"""
        ## 5. The price: memory that grows with $T$

        Autograd stores, for every operation, the tensors its backward will need (inputs of a
        matrix product, the sigmoid's output, ...). PyTorch lets us watch that with
        `torch.autograd.graph.saved_tensors_hooks(pack, unpack)`: `pack` is called on every tensor
        saved for backward. A plain counter:
        """),
        code(r"""
        class SavedBytesCounter:
            # Adds up the bytes of every tensor autograd saves for backward (each save counted).
            def __init__(self):
                self.bytes = 0
                self.count = 0

            def pack(self, tensor):
                self.bytes += tensor.numel() * tensor.element_size()
                self.count += 1
                return tensor

            def unpack(self, tensor):
                return tensor


        def bptt_saved_bytes(T, B=32, N_in=100, N_hidden=256):
            torch.manual_seed(1)
            l1, l2 = nn.Linear(N_in, N_hidden), nn.Linear(N_hidden, 10)
            xs = [torch.rand(B, N_in) for _ in range(T)]     # T inputs of shape (B, N_in)
            ys = torch.randint(0, 10, (B,))
            counter = SavedBytesCounter()
            with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
                loss = bptt_loss(l1, l2, xs, ys)
            loss.backward()
            return counter.bytes


        Ts = [4, 8, 16, 32, 64]
        plain_bytes = [bptt_saved_bytes(T) for T in Ts]
        for T, b in zip(Ts, plain_bytes):
            print(f"T = {T:3d}: {b / 2**20:7.3f} MiB saved for backward")
        per_step = [(b2 - b1) / (T2 - T1) for (T1, b1), (T2, b2) in zip(zip(Ts, plain_bytes), zip(Ts[1:], plain_bytes[1:]))]
        assert len(set(per_step)) == 1                       # exactly the same cost for every extra step
        print(f"every extra time step costs {per_step[0] / 1024:.1f} KiB")
        """),
        md(r"""
        The counter adds up every save. Two things make that an over-estimate of the memory actually
        held: the same tensor (a weight, used at every step) is saved many times but stored once, and
        a graph's saved tensors are freed as soon as its `backward()` has run. The library's
        `SavedTensorMeter` accounts for both: it counts each storage once and subtracts it when freed,
        and reports the **peak**. For BPTT the peak is reached at the end of the forward pass.

        For comparison we also measure the OTTT way of training, which notebook 05 builds:
        `OTTTSequential` with `OTTTLIFNode`, calling `backward()` after **every** step, so each step's
        graph is freed before the next one is built.

        (The inputs are a list of $T$ separate tensors, as they would arrive one step at a time.
        The meter counts whole storages, so slices `x[t]` of one big `(T, B, N)` tensor would each
        count the entire input sequence.)
        """),
        code(r"""
        def peak_bytes(T, method, B=32, N_in=100, N_hidden=256):
            torch.manual_seed(1)
            l1, l2 = nn.Linear(N_in, N_hidden), nn.Linear(N_hidden, 10)
            xs = [torch.rand(B, N_in) for _ in range(T)]     # T inputs of shape (B, N_in)
            ys = torch.randint(0, 10, (B,))
            with SavedTensorMeter() as meter:
                if method == "BPTT":
                    bptt_loss(l1, l2, xs, ys).backward()
                else:                                        # OTTT: one step at a time
                    net = OTTTSequential(l1, OTTTLIFNode(), l2)
                    for t in range(T):
                        (F.cross_entropy(net(xs[t]), ys) / T).backward()
                    reset_net(net)
            return meter.peak_bytes


        measured = {
            "BPTT, plain counter (every save)": plain_bytes,
            "BPTT, SavedTensorMeter peak": [peak_bytes(T, "BPTT") for T in Ts],
            "OTTT (notebook 05), SavedTensorMeter peak": [peak_bytes(T, "OTTT") for T in Ts],
        }
        for name, values in measured.items():
            print(f"{name:<42}", "  ".join(f"{v / 2**20:6.3f}" for v in values), "MiB")

        bptt_peak, ottt_peak = measured["BPTT, SavedTensorMeter peak"], measured["OTTT (notebook 05), SavedTensorMeter peak"]
        assert all(p <= c for p, c in zip(bptt_peak, plain_bytes))      # de-duplication only removes bytes
        assert bptt_peak[-1] > 10 * bptt_peak[0]                         # T x16 -> BPTT memory > x10
        assert len(set(ottt_peak)) == 1                                  # OTTT: flat, independent of T
        """),
        code(r"""
        fig, ax = plt.subplots(figsize=(7, 4))
        lines = plot_memory_vs_T(ax, Ts, measured)
        plt.show()
        assert set(lines) == set(measured)
        """),
        md(r"""
        Linear growth is the whole story: to train on longer sequences (or with a larger network at
        the same $T$) BPTT needs proportionally more memory, because the gradient at step $t$ needs
        the error from all later steps. OTTT's line is flat: notebooks 03 to 05 show how it gets
        away with keeping only the current step plus one **trace** per neuron.

        ## 6. Explore

        Move `alpha` and see the step, its smooth stand-in and the surrogate gradient change
        together. (Without a live kernel you see the picture for the default values.)
        """),
        code(r"""
        from ottt_edu.widgets import surrogate_explorer

        surrogate_explorer()
        """),
        md(r"""
        ## Summary

        - The spike $H(x)$ has derivative $0$ almost everywhere: no learning signal.
        - Surrogate gradients keep $H$ forward and use $g'(x) = \alpha\sigma(\alpha x)(1-\sigma(\alpha x))$
          backward; `alpha` trades peak height ($\alpha/4$) for width, the area stays 1.
        - BPTT is autograd through the unrolled loop; the plain loop and
          `LIFNode(step_mode='m')` give identical gradients.
        - Its memory grows linearly with $T$ (measured: a fixed number of bytes per extra step),
          while OTTT's stays flat.

        **Next:** notebook 03 opens autograd up: custom `Function`s, and `ReplaceforGrad`, the
        switch that lets a value come from one tensor and its gradient go to another.

        **Where this is in SpikingJelly:** `spikingjelly.activation_based.surrogate.Sigmoid`
        (`alpha=4.0` by default) and `spikingjelly.activation_based.neuron.LIFNode(step_mode='m')`.
        Here: `ottt_edu.surrogate.Sigmoid`, `ottt_edu.LIFNode`. Memory is measured with
        `ottt_edu.autograd_memory.SavedTensorMeter` (built on PyTorch's
        `torch.autograd.graph.saved_tensors_hooks`; SpikingJelly has no counterpart).
        """),
    ])
