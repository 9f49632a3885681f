"""Cells of notebooks/05_spike_trace_op_and_ottt_sequential.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 05 · `SpikeTraceOp`, `OTTTSequential` and one complete OTTT update

        Notebook 04 gave one layer its OTTT gradient. A real network also has pooling, flattening
        and dropout between its layers, several spiking layers, and a training loop around it all.
        This notebook builds the last two pieces of SpikingJelly's online-learning module and then
        runs, and checks by hand, one full OTTT update.

        **Learning goals**
        - explain why parameter-free operations must act on the spike *and* the trace alike
          (`SpikeTraceOp`), and when that is exact;
        - predict how `OTTTSequential` wraps each layer, and rebuild its dispatch in plain code;
        - compare training-mode and eval-mode outputs, and use `reset_net` between sequences;
        - recognise the *"Trying to backward through the graph a second time"* error and fix it;
        - run one complete OTTT_A update of a tiny network and check its gradients against the
          formula of notebook 04.
        """),
        code(r"""
        import copy

        import matplotlib.pyplot as plt
        import torch
        import torch.nn.functional as F
        from torch import nn

        from ottt_edu import (Dropout, GradwithTrace, LIFNode, OTTTLIFNode, OTTTSequential,
                              SpikeTraceOp, detach_net, reset_net)
        from ottt_edu.exercises import check_ottt_a_step, check_wrapping_prediction
        from ottt_edu.surrogate import sigmoid_surrogate_grad
        from ottt_edu.viz import plot_learning_curves

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)


        def trace_of(spikes, tau=2.0):
            # (T, ...) spikes -> (T, ...) traces, a[t] = (1 - 1/tau) a[t-1] + s[t]   (notebook 04)
            a, out = torch.zeros_like(spikes[0]), []
            for s in spikes:
                a = (1.0 - 1.0 / tau) * a + s
                out.append(a)
            return torch.stack(out)
        """),
        md(r"""
        ## 1. Operations between layers act on spike and trace alike

        `GradwithTrace(m)` needs the trace **of the tensor that `m` receives**. If a pooling layer
        sits between a neuron and `m`, then `m` receives pooled spikes, and needs the trace of the
        pooled spikes. Average pooling is linear and the same at every step, so it commutes with the
        trace: pooling the trace *is* the trace of the pooled spikes,
        $$\operatorname{pool}\big(a[t]\big) = \operatorname{pool}\Big(\sum_{t' \le t} k^{t-t'} s[t']\Big)
        = \sum_{t' \le t} k^{t-t'} \operatorname{pool}\big(s[t']\big).$$
        So it is enough to apply the operation to the spike and to the trace alike. (For a
        nonlinear operation such as max pooling the two differ; OTTT networks use average pooling.)
        """),
        code(r"""
        T = 10
        spikes = (torch.rand(T, 2, 3, 4, 4) < 0.3).float()             # (T, B, C, H, W)
        traces = trace_of(spikes)
        for name, op in [("AvgPool2d", nn.AvgPool2d(2)), ("Flatten", nn.Flatten()), ("MaxPool2d", nn.MaxPool2d(2))]:
            op_of_trace = torch.stack([op(a) for a in traces])
            trace_of_op = trace_of(torch.stack([op(s) for s in spikes]))
            same = torch.allclose(op_of_trace, trace_of_op)
            print(f"{name:<10} op(trace) == trace(op(spikes)): {same}")
            assert same == (name != "MaxPool2d")
        """),
        md(r"""
        If the trace skipped the operation, the next layer would receive mismatched tensors; the
        library refuses such a pair with a clear error:
        """),
        code(r"""
        fc = nn.Linear(3 * 4 * 4, 5)
        s0, a0 = spikes[0], traces[0]
        try:
            GradwithTrace(fc)([nn.Flatten()(s0), a0])                 # trace not flattened
        except ValueError as err:
            message = str(err)
        print(message)
        assert "same shape" in message
        """),
        md(r"""
        `SpikeTraceOp(m)` returns `[m(spike), m(trace)]`. The spike keeps its graph (gradients flow
        back through `m` to the neuron), the trace is computed without one (it never needs a
        gradient). In plain code, checked against the library:
        """),
        code(r"""
        class MySpikeTraceOp(nn.Module):
            def __init__(self, module):
                super().__init__()
                self.module = module

            def forward(self, x):
                spike, trace = x
                spike = self.module(spike)                 # with graph
                with torch.no_grad():
                    trace = self.module(trace)             # no graph needed
                return [spike, trace]


        s_req = s0.clone().requires_grad_(True)
        s_req_lib = s0.clone().requires_grad_(True)
        mine = MySpikeTraceOp(nn.AvgPool2d(2))([s_req, a0])
        lib = SpikeTraceOp(nn.AvgPool2d(2))([s_req_lib, a0])
        for m_, l_ in zip(mine, lib):
            torch.testing.assert_close(m_, l_)
        mine[0].sum().backward()
        lib[0].sum().backward()
        torch.testing.assert_close(s_req.grad, s_req_lib.grad)
        assert not mine[1].requires_grad and not lib[1].requires_grad
        print("MySpikeTraceOp = SpikeTraceOp: same pooled spike and trace, same gradient to the spike")
        """),
        md(r"""
        ### Dropout needs one mask per sequence

        `torch.nn.Dropout` draws a fresh random mask at every call: a neuron would be dropped at some
        steps and not at others, and the spike and its trace (two calls) would get different masks.
        `ottt_edu.Dropout`, like SpikingJelly's `layer.Dropout`, draws the mask once per sequence and
        keeps it until `reset_net`. `SpikeTraceOp` refuses `torch.nn.Dropout`:
        """),
        code(r"""
        try:
            SpikeTraceOp(nn.Dropout(0.5))
        except ValueError as err:
            print(err)
        drop = SpikeTraceOp(Dropout(0.5))
        s1, a1 = drop([torch.ones(2, 8), torch.full((2, 8), 3.0)])
        s2, _ = drop([torch.ones(2, 8), torch.full((2, 8), 3.0)])     # next time step
        assert torch.equal(s1 == 0, a1 == 0) and torch.equal(s1, s2)   # same mask: spike, trace, steps
        reset_net(drop)
        s3, _ = drop([torch.ones(2, 8), torch.full((2, 8), 3.0)])
        print(f"kept {int((s1 > 0).sum())} of 16 (same entries for spike, trace and the next step); after reset_net a new mask differs: {not torch.equal(s1, s3)}")
        assert not torch.equal(s1, s3)
        """),
        md(r"""
        ## 2. `OTTTSequential`: automatic wrapping

        `OTTTSequential` is an `nn.Sequential` that looks at what each layer receives. As long as
        that is a plain tensor, the layer runs as itself. Once a neuron has returned `[spike, trace]`:

        - a spiking neuron gets the spike only (it makes its own new trace);
        - a module **with parameters** is wrapped in `GradwithTrace`;
        - a module **without parameters** is wrapped in `SpikeTraceOp`.

        `net.wrapping()` lists the wrapper each layer gets *for a `[spike, trace]` input*. Layers
        before the first neuron never see one: they receive the input image and run as themselves.
        """),
        code(r"""
        torch.manual_seed(1)
        net = OTTTSequential(
            nn.Conv2d(1, 4, 3, padding=1), OTTTLIFNode(),       # (B, 1, 8, 8) -> (B, 4, 8, 8)
            nn.AvgPool2d(2), nn.Flatten(),                      # -> (B, 64)
            nn.Linear(64, 16), OTTTLIFNode(),
            nn.Linear(16, 3),                                   # -> (B, 3) class scores
        )
        for layer, how in net.wrapping():
            print(f"{layer:<14} -> {how}")
        assert [how for _, how in net.wrapping()] == [
            "GradwithTrace", "neuron (spike only)", "SpikeTraceOp", "SpikeTraceOp",
            "GradwithTrace", "neuron (spike only)", "GradwithTrace"]
        """),
        md(r"""
        The dispatch rule fits in a few lines of plain code. We run ours and the library's on two
        identical copies of the network, for several steps, and compare outputs and gradients. Our
        version also records what each layer *actually* did at run time.
        """),
        code(r"""
        def my_ottt_forward(layers, x, log=None):
            for m in layers:
                if not (isinstance(x, list) and len(x) == 2):
                    how, x = "as itself (plain tensor in)", m(x)
                elif isinstance(m, LIFNode):
                    how, x = "neuron (spike only)", m(x[0])
                elif any(True for _ in m.parameters()):
                    how, x = "GradwithTrace", GradwithTrace(m)(x)
                else:
                    how, x = "SpikeTraceOp", SpikeTraceOp(m)(x)
                if log is not None:
                    log.append(how)
            return x


        net_mine = copy.deepcopy(net)
        images = torch.rand(4, 2, 1, 8, 8)                      # (T, B, 1, 8, 8)
        labels = torch.tensor([0, 2])
        for t in range(images.shape[0]):
            log = []
            out_mine = my_ottt_forward(list(net_mine), images[t], log)
            out_lib = net(images[t])
            torch.testing.assert_close(out_mine, out_lib)
            F.cross_entropy(out_mine, labels).backward()
            F.cross_entropy(out_lib, labels).backward()
        for p_mine, p_lib in zip(net_mine.parameters(), net.parameters()):
            torch.testing.assert_close(p_mine.grad, p_lib.grad)
        reset_net(net), reset_net(net_mine)
        print("at run time:", log)
        print("same outputs and same gradients as OTTTSequential over", images.shape[0], "steps")
        """),
        md(r"""
        In this network every neuron receives the plain output of the layer before it, and the
        layers right after a neuron are the ones that see `[spike, trace]`. (The
        `"neuron (spike only)"` rule is for a neuron that follows a `SpikeTraceOp` directly.)
        This rule, `net.wrapping()` and the refusal of `torch.nn.Dropout` are ottt_edu additions:
        SpikingJelly's `OTTTSequential` would wrap such a neuron in `SpikeTraceOp` and step it twice,
        so there, put a parametric layer before every neuron.
        """),
        md(r"""
        ### Your turn: predict the wrapping

        For the network below, write down, for every layer in order, what `net.wrapping()` will say
        — how the layer *would* be applied to a `[spike, trace]` input, even for layers (like the
        first) that never receive one:
        one of `"GradwithTrace"`, `"SpikeTraceOp"`, `"neuron (spike only)"` (or just `"neuron"`).
        Decide first, then set `my_prediction` and run the cell.
        """),
        code(r"""
        exercise_net = OTTTSequential(
            nn.Linear(16, 32), OTTTLIFNode(), Dropout(0.2),
            nn.Linear(32, 32), OTTTLIFNode(), nn.Flatten(), nn.Linear(32, 4),
        )
        my_prediction = None          # e.g. ["GradwithTrace", "neuron", ...], one name per layer

        passed = check_wrapping_prediction(exercise_net, my_prediction)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        prediction_solution = ["GradwithTrace", "neuron", "SpikeTraceOp",     # Dropout has no parameters
                               "GradwithTrace", "neuron", "SpikeTraceOp", "GradwithTrace"]
        assert check_wrapping_prediction(exercise_net, prediction_solution)
        """, hidden=True),
        md(r"""
        ## 3. Training mode versus eval mode

        In **training** mode every `OTTTLIFNode` returns `[spike, trace]` and the wrappers build the
        gradient paths. In **eval** mode the neurons return only the spike, nothing is wrapped, and
        no trace is kept. The *values* are the same, because `GradwithTrace` and `SpikeTraceOp` take
        their values from the spike (this network has no dropout, which would differ by design):
        """),
        code(r"""
        def run(model, x_seq):
            outs = [model(x) for x in x_seq]
            reset_net(model)
            return torch.stack(outs)

        net.train()
        out_train = run(net, images)
        net.eval()
        with torch.no_grad():
            out_eval = run(net, images)
        torch.testing.assert_close(out_train.detach(), out_eval)
        print(f"train: output has a graph: {out_train.requires_grad};  eval: {out_eval.requires_grad};  same values: True")

        node = OTTTLIFNode()
        print("OTTTLIFNode returns in train mode:", type(node.train()(torch.ones(1))).__name__,
              "| in eval mode:", type(node.eval()(torch.ones(1))).__name__)
        _ = net.train()                               # back to training mode
        """),
        md(r"""
        ## 4. `reset_net` between sequences

        Neurons keep `v` (and `trace`) between calls, shaped like the batch. A new sequence must start
        from zero, and a batch of another size does not even fit:
        """),
        code(r"""
        _ = net(images[0])                          # a step with batch size 2: state is (2, ...)
        try:
            net(torch.rand(5, 1, 8, 8))             # batch size 5, without reset
        except ValueError as err:
            print(err)
        reset_net(net)
        out = net(torch.rand(5, 1, 8, 8))
        print("after reset_net: output", tuple(out.shape))
        assert out.shape == (5, 3)
        reset_net(net)
        """),
        md(r"""
        ## 5. The pitfall: state that is not detached

        OTTT calls `backward()` at **every** step. Try that with an ordinary `LIFNode`: its `v`
        still carries the graph of the previous step, which the previous `backward()` has already
        freed. The second `backward()` reaches into it and fails:
        """),
        code(r"""
        # NBVAL_RAISES_EXCEPTION
        torch.manual_seed(2)
        bptt_net = nn.Sequential(nn.Linear(3, 4), LIFNode(decay_input=False, v_reset=None, detach_reset=True), nn.Linear(4, 2))
        x_seq, y = torch.rand(3, 5, 3), torch.tensor([0, 1, 1, 0, 1])
        for t in range(3):
            loss = F.cross_entropy(bptt_net(x_seq[t]), y) / 3
            loss.backward()           # t = 0 works; t = 1 walks into step 0's freed graph
        """, raises=True),
        md(r"""
        (`retain_graph=True` would silence the error but keep every step's graph alive, and every
        `backward()` would walk back to step 0: that is BPTT again, with its memory.) Two proper
        fixes:

        - `OTTTLIFNode` detaches `v` at the start of every step (its `neuronal_charge` begins with
          `self.v = self.v.detach()`), so each step's graph is self-contained;
        - for other stateful modules, `detach_net(net)` after each step cuts the graph through all
          their state, without changing any value.
        """),
        code(r"""
        grads = {}
        for fix in ["OTTTLIFNode", "detach_net"]:
            torch.manual_seed(2)
            neuron = OTTTLIFNode() if fix == "OTTTLIFNode" else LIFNode(decay_input=False, v_reset=None, detach_reset=True)
            model = OTTTSequential(nn.Linear(3, 4), neuron, nn.Linear(4, 2))
            for t in range(3):
                loss = F.cross_entropy(model(x_seq[t]), y) / 3
                loss.backward()                          # no error now
                if fix == "detach_net":
                    detach_net(model)
            reset_net(model)
            grads[fix] = (model[0].weight.grad, model[2].weight.grad)
            print(f"fix with {fix:<12}: 3 backward passes;  |grad W1| = {grads[fix][0].norm():.4f},  |grad W2| = {grads[fix][1].norm():.4f}")
        torch.testing.assert_close(grads["OTTTLIFNode"][0], grads["detach_net"][0])   # same first-layer gradient
        assert not torch.allclose(grads["OTTTLIFNode"][1], grads["detach_net"][1])     # W2: trace vs spike
        """),
        md(r"""
        The two fixes give the same neuron dynamics and the same gradient for the first layer, but
        not for the second: with `LIFNode` + `detach_net` the neuron returns only a spike, so the
        second layer's gradient is $\sum_t g[t]^\top s[t]$, online training *without* the trace of
        notebook 04. OTTT is the `OTTTLIFNode` version, $\sum_t g[t]^\top a[t]$. For this read-out,
        which feeds the loss directly with no membrane after it, $\sum_t g[t]^\top s[t]$ is in fact
        the exact BPTT gradient: OTTT deliberately uses the trace for every layer after a neuron
        (Xiao et al. justify it through spike, i.e. firing-rate, representations), so here
        OTTT ≠ BPTT.

        ## 6. One complete OTTT_A update, checked by hand

        The OTTT training loop for one sequence. Xiao et al. (2022) describe two variants: **OTTT_A**
        accumulates the per-step gradients and updates once at the end of the sequence; **OTTT_O**
        updates after every step (`optimizer.step(); optimizer.zero_grad()` inside the loop). Here
        is OTTT_A:

        ```
        optimizer.zero_grad()
        for t in range(T):
            loss = loss_fn(net(x[t]), y) / T
            loss.backward()           # gradients accumulate in .grad; this step's graph is freed
        optimizer.step()              # OTTT_A: one update per sequence
        reset_net(net)
        ```

        We run it on a tiny network, `Linear(3, 4)` → `OTTTLIFNode` → `Linear(4, 2)`, and recompute
        every gradient by hand. With $o[t] = W_2 s[t] + b_2$ and cross-entropy averaged over the
        batch, the readout's upstream gradient is $g_2[t] = \frac{\operatorname{softmax}(o[t]) -
        \operatorname{onehot}(y)}{B\,T}$, and by notebook 04
        $$\frac{\partial L}{\partial W_2} = \sum_t g_2[t]^\top a[t], \qquad
        \frac{\partial L}{\partial W_1} = \sum_t \Big(\big(g_2[t]\,W_2\big) \odot g'\big(h[t]-v_{\text{th}}\big)\Big)^\top x[t].$$
        The first layer receives the raw input $x[t]$, not a `[spike, trace]` pair, so
        `OTTTSequential` (like SpikingJelly's) runs it as a plain `Linear`. Its gradient uses $x[t]$,
        not a trace of $x$: its temporal term is dropped with nothing to compensate (the
        $\sum_t e[t]^\top s[t]$ row of notebook 04), so these are OTTT's gradients, not BPTT's.
        """),
        code(r"""
        torch.manual_seed(3)
        T, B = 6, 5
        tiny = OTTTSequential(nn.Linear(3, 4), OTTTLIFNode(), nn.Linear(4, 2))
        x_seq = 2.0 * torch.rand(T, B, 3)                      # (T, B, 3)
        y = torch.randint(0, 2, (B,))
        optimizer = torch.optim.SGD(tiny.parameters(), lr=0.5)
        W1, b1, W2, b2 = [p.detach().clone() for p in tiny.parameters()]

        optimizer.zero_grad()
        for t in range(T):
            loss = F.cross_entropy(tiny(x_seq[t]), y) / T
            loss.backward()
        grads = [p.grad.clone() for p in tiny.parameters()]
        optimizer.step()
        reset_net(tiny)
        print("OTTT_A update done; gradient norms:", [f"{g.norm():.4f}" for g in grads])
        """),
        code(r"""
        k, v_th = 0.5, 1.0
        v, a = torch.zeros(B, 4), torch.zeros(B, 4)
        dW1, db1, dW2, db2 = torch.zeros_like(W1), torch.zeros_like(b1), torch.zeros_like(W2), torch.zeros_like(b2)
        for t in range(T):
            h = k * v + x_seq[t] @ W1.T + b1                  # charge (v from the last step, detached)
            s = (h >= v_th).float()                            # fire
            v = h - s * v_th                                   # soft reset
            a = k * a + s                                      # trace
            o = s @ W2.T + b2                                  # readout value (from the spike)
            g2 = (torch.softmax(o, dim=1) - F.one_hot(y, 2)) / (B * T)
            dW2 += g2.T @ a                                    # error x trace
            db2 += g2.sum(0)
            e1 = (g2 @ W2) * sigmoid_surrogate_grad(h - v_th, 4.0)   # error x surrogate derivative
            dW1 += e1.T @ x_seq[t]                             # ... x input
            db1 += e1.sum(0)

        for name, hand, auto in zip(["W1", "b1", "W2", "b2"], [dW1, db1, dW2, db2], grads):
            torch.testing.assert_close(auto, hand)
        for name, p, p0, g in zip(["W1", "b1", "W2", "b2"], tiny.parameters(), [W1, b1, W2, b2], grads):
            torch.testing.assert_close(p.detach(), p0 - 0.5 * g)      # plain SGD step
        print("all four gradients equal the hand formulas; the update is p - lr * grad")
        """),
        md(r"""
        ### Your turn: write the update

        Write `ottt_a_step(net, x_seq, y, optimizer)` performing one OTTT_A update on one sequence
        `x_seq` of shape `(T, B, ...)`, with `F.cross_entropy` as the per-step loss (divided by
        $T$). Remember where the gradients start, when the optimizer steps, and what the next
        sequence needs. The checker compares the updated parameters with a reference on two seeded
        networks, and recognises the usual slips.
        """),
        code(r"""
        def ottt_a_step(net, x_seq, y, optimizer):
            raise NotImplementedError  # <- replace this line with your code


        passed = check_ottt_a_step(ottt_a_step)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        def ottt_a_step_solution(net, x_seq, y, optimizer):
            T = x_seq.shape[0]
            optimizer.zero_grad()
            total = 0.0
            for t in range(T):
                loss = F.cross_entropy(net(x_seq[t]), y) / T
                loss.backward()
                total += loss.item()
            optimizer.step()
            reset_net(net)
            return total                  # the sequence's loss, for logging


        assert check_ottt_a_step(ottt_a_step_solution)
        """, hidden=True),
        md(r"""
        Repeating the update on one small batch where class 1 has a stronger first input, the loss goes down: the tiny network learns.
        """),
        code(r"""
        torch.manual_seed(4)
        tiny = OTTTSequential(nn.Linear(3, 16), OTTTLIFNode(), nn.Linear(16, 2))
        optimizer = torch.optim.SGD(tiny.parameters(), lr=0.2)
        y = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
        x_seq = 2.0 * torch.rand(6, 8, 3)                         # (T, B, 3)
        x_seq[:, y == 1, 0] += 1.0                                # class 1: a stronger first input
        history = {"epoch": [], "train_loss": []}
        for update in range(1, 41):
            history["epoch"].append(update)
            history["train_loss"].append(ottt_a_step_solution(tiny, x_seq, y, optimizer))

        fig, ax = plt.subplots(figsize=(6, 3.2))
        lines = plot_learning_curves(ax, history, keys=("train_loss",))
        ax.set_xlabel("OTTT_A update")
        plt.show()
        first, last = history["train_loss"][0], history["train_loss"][-1]
        print(f"loss: {first:.4f} -> {last:.4f}")
        assert last < 0.5 * first
        """),
        md(r"""
        ## Summary

        - Between layers, parameter-free operations are applied to spike and trace alike
          (`SpikeTraceOp`); for linear operations (average pooling, flatten, dropout with a fixed
          mask) that is exactly the trace of the transformed spikes.
        - `OTTTSequential` dispatches by the input: plain tensors run as themselves; on
          `[spike, trace]`, neurons get the spike, parametric layers `GradwithTrace`, the rest
          `SpikeTraceOp`. `net.wrapping()` shows it; a dozen plain lines reproduce it.
        - Train and eval give the same values; only training builds gradient paths and traces.
          `reset_net` after every sequence.
        - A per-step `backward()` needs state detached between steps (`OTTTLIFNode` does it;
          `detach_net` for other modules); otherwise *"Trying to backward through the graph a
          second time"*.
        - One OTTT_A update = per-step loss/T, `backward()` every step, one `optimizer.step()`,
          `reset_net`; its gradients are exactly the hand formulas above (which are OTTT's, not
          BPTT's).

        **Where this is in SpikingJelly:**
        `spikingjelly.activation_based.layer.online_learning.SpikeTraceOp` and
        `.OTTTSequential`, `spikingjelly.activation_based.layer.Dropout`,
        `spikingjelly.activation_based.functional.reset_net` / `detach_net`. Here: `from ottt_edu
        import SpikeTraceOp, OTTTSequential, Dropout, reset_net, detach_net` (the neuron rule,
        `wrapping()` and the `nn.Dropout` refusal are ottt_edu additions).
        """),
    ])
