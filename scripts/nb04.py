"""Cells of notebooks/04_traces_and_grad_with_trace.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 04 · Traces and `GradwithTrace`

        BPTT (notebook 02) needs the whole past because the gradient at step $t$ depends on errors
        from *later* steps. OTTT turns that around: it keeps, for every neuron, a running summary of
        its *past* spikes, the **presynaptic trace**, and computes each weight update from the
        current error and the current trace. This notebook derives that rule from BPTT, builds
        `GradwithTrace` (the layer wrapper that implements it) from scratch with the
        `ReplaceforGrad` of notebook 03, and reads the result as a three-factor Hebbian rule.

        **Learning goals**
        - compute the trace $a[t] = k\,a[t-1] + s[t]$ and its closed form
          $a[t] = \sum_{t' \le t} k^{t-t'} s[t']$, and match `OTTTLIFNode`'s trace;
        - derive the OTTT weight gradient $\sum_t g[t]^\top a[t]$ from the BPTT gradient by dropping
          the temporal terms, and see when it is exact;
        - build `GradwithTrace` from scratch and check it against the hand formula and the library;
        - read the update as *error* $\times$ *surrogate derivative* $\times$ *presynaptic trace*.
        """),
        code(r"""
        import matplotlib.pyplot as plt
        import torch
        from torch import nn

        from ottt_edu import GradwithTrace, LIFNode, OTTTLIFNode, ReplaceforGrad, reset_net
        from ottt_edu.exercises import check_ottt_weight_grad, check_trace_closed_form
        from ottt_edu.surrogate import sigmoid_surrogate_grad
        from ottt_edu.viz import plot_grad_paths, plot_trace

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. The presynaptic trace

        With the same leak factor $k = 1 - \frac{1}{\tau}$ as the membrane, the trace of a spike
        train $s[t]$ is
        $$a[t] = k\,a[t-1] + s[t], \qquad a[-1] = 0,$$
        a leaky spike counter: each spike adds 1, and the total decays by $k$ per step. In training
        mode `OTTTLIFNode` keeps exactly this for its own spikes (without gradient) and returns
        `[spike, trace]`. First the recursion in plain code, checked against the neuron:
        """),
        code(r"""
        def trace_recursive(spikes, tau=2.0):
            # spikes (T, N) -> traces (T, N), a[t] = (1 - 1/tau) a[t-1] + s[t]
            a = torch.zeros_like(spikes[0])
            traces = []
            for s in spikes:
                a = (1.0 - 1.0 / tau) * a + s
                traces.append(a)
            return torch.stack(traces)


        T, N, tau = 30, 4, 2.0
        x_seq = 1.2 * torch.rand(T, N)                    # (T, N) input currents
        node = OTTTLIFNode(tau=tau)                        # training mode: returns [spike, trace]
        spikes, lib_traces = [], []
        for t in range(T):
            s, a = node(x_seq[t])
            spikes.append(s.detach())
            lib_traces.append(a.clone())
        spikes, lib_traces = torch.stack(spikes), torch.stack(lib_traces)   # (T, N) each
        reset_net(node)

        torch.testing.assert_close(trace_recursive(spikes, tau), lib_traces)
        print(f"{int(spikes.sum())} spikes; the recursion reproduces OTTTLIFNode's trace at all {T} steps")
        """),
        code(r"""
        fig, ax = plt.subplots(figsize=(10, 3))
        drawn = plot_trace(ax, spikes[:, 0], lib_traces[:, 0], tau=tau)
        plt.show()
        assert len(drawn["spikes"].get_segments()) == int(spikes[:, 0].sum())
        """),
        md(r"""
        Unrolling the recursion gives the closed form: the trace is an exponentially weighted sum of
        all past spikes,
        $$a[t] = \sum_{t'=0}^{t} k^{\,t-t'}\, s[t'].$$
        A neuron that spikes at every step has $a[t] = 1 + k + \dots + k^t \to \frac{1}{1-k} = \tau$;
        in general $a[t]/\tau$ is a running estimate of the firing rate.

        ## 2. Your turn: the closed form, without a loop

        Write `trace_closed_form(spikes, tau)` for `spikes` of shape `(T, N)`, **without a Python
        loop over time**: build the $(T, T)$ matrix $K[t, t'] = k^{t-t'}$ for $t' \le t$ (and $0$
        above the diagonal), then one matrix product gives all traces at once.
        """),
        code(r"""
        def trace_closed_form(spikes, tau):
            # spikes (T, N) -> traces (T, N), a[t] = sum_{t' <= t} (1 - 1/tau)^(t - t') s[t']
            raise NotImplementedError  # <- replace this line with your code


        passed = check_trace_closed_form(trace_closed_form)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        def trace_closed_form_solution(spikes, tau):
            T = spikes.shape[0]
            t = torch.arange(T, dtype=spikes.dtype)
            lag = t[:, None] - t[None, :]                                    # (T, T): t - t'
            K = torch.where(lag >= 0, (1.0 - 1.0 / tau) ** lag.clamp(min=0), torch.zeros_like(lag))
            return K @ spikes                                                # (T, T) @ (T, N)


        assert check_trace_closed_form(trace_closed_form_solution)
        """, hidden=True),
        code(r"""
        torch.testing.assert_close(trace_closed_form_solution(spikes, tau), lib_traces)
        always = trace_closed_form_solution(torch.ones(60, 1), tau)
        print(f"closed form = OTTTLIFNode's trace; a neuron firing at every step reaches a = {always[-1].item():.4f} (tau = {tau})")
        assert abs(always[-1].item() - tau) < 1e-6
        """),
        md(r"""
        ## 3. From BPTT to the OTTT gradient

        Take one layer $W$ (no bias) that feeds LIF neurons with OTTT's dynamics, driven by
        presynaptic spikes $s[t]$ (shape `(B, N_in)`), and a loss $L = \sum_t \ell_t(o[t])$ on the
        postsynaptic spikes $o[t]$:
        $$h[t] = k\,v[t-1] + W s[t], \qquad o[t] = H\big(h[t] - v_{\text{th}}\big), \qquad
        v[t] = h[t] - \operatorname{sg}(o[t])\,v_{\text{th}}.$$

        **BPTT.** $W$ enters every $h[t]$, so $\frac{\partial L}{\partial W} = \sum_t \delta[t]^\top s[t]$
        with $\delta[t] = \frac{\partial L}{\partial h[t]}$ (rows: batch). $h[t]$ acts on the loss
        *now*, through $o[t]$, and *later*, through $v[t] \to h[t+1]$ with factor $k$ (the reset is
        detached):
        $$\delta[t] = \underbrace{\frac{\partial \ell_t}{\partial o[t]}\, g'\big(h[t]-v_{\text{th}}\big)}_{e[t]\ \text{(immediate)}}
        \;+\; \underbrace{k\,\delta[t+1]}_{\text{temporal term}}
        \quad\Longrightarrow\quad \delta[t] = \sum_{t' \ge t} k^{\,t'-t}\, e[t'].$$
        The temporal term needs errors from the future: that is why BPTT must wait for the end of the
        sequence and keep everything until then.

        **Exchange the sums.**
        $$\frac{\partial L}{\partial W} = \sum_t \sum_{t' \ge t} k^{\,t'-t}\, e[t']^\top s[t]
        = \sum_{t'} e[t']^\top \underbrace{\sum_{t \le t'} k^{\,t'-t}\, s[t]}_{a[t']}
        = \sum_{t} e[t]^\top a[t].$$

        **OTTT** drops the temporal term from $\delta$ (with $v[t-1]$ detached, autograd sees only
        the immediate $g[t] = e[t]$) and uses the trace $a[t]$ in place of the spike $s[t]$:
        $$\boxed{\;\frac{\partial L}{\partial W} \approx \sum_t g[t]^\top a[t]\;}\qquad(= \text{here}, \approx \text{in general})$$
        Every term is available at step $t$: the update can be accumulated online. The exchange is
        exact when, as here, the layer's input is a spike train paired with its trace, its output
        drives LIF neurons with the same $\tau$ and a detached reset, and those neurons' spikes
        enter the loss at the same step; in a deep network OTTT also drops the paths from a layer's
        spikes to *later* steps of the layers above (and through resets), so there it is an
        approximation that Xiao et al. (2022) analyse in the paper. Let us check the single-layer
        algebra numerically.
        """),
        code(r"""
        T, B, N_in, N_out, tau, v_th = 12, 3, 5, 4, 2.0, 1.0
        k = 1.0 - 1.0 / tau
        s_in = (torch.rand(T, B, N_in) < 0.4).float()             # (T, B, N_in) presynaptic spikes
        c = torch.randn(T, B, N_out)                              # loss: L = sum_t <c[t], o[t]>
        W0 = 0.8 * torch.rand(N_out, N_in)

        # BPTT with autograd: LIFNode with OTTT's dynamics, the whole sequence at once
        fc = nn.Linear(N_in, N_out, bias=False)
        fc.weight.data.copy_(W0)
        lif = LIFNode(tau=tau, decay_input=False, v_reset=None, detach_reset=True, step_mode="m", store_v_seq=True)
        o = lif(fc(s_in))                                         # (T, B, N_out) postsynaptic spikes
        (c * o).sum().backward()
        grad_bptt = fc.weight.grad.clone()
        h = (lif.v_seq + o * v_th).detach()                       # potentials before reset, (T, B, N_out)
        print(f"{int(o.sum())} postsynaptic spikes; |dL/dW| (BPTT) = {grad_bptt.norm():.4f}")
        """),
        code(r"""
        e = c * sigmoid_surrogate_grad(h - v_th, 4.0)             # (T, B, N_out) immediate errors
        delta = torch.zeros_like(e)                               # BPTT's delta, backward in time
        delta[-1] = e[-1]
        for t in range(T - 2, -1, -1):
            delta[t] = e[t] + k * delta[t + 1]
        a_in = trace_closed_form_solution(s_in.reshape(T, -1), tau).reshape(T, B, N_in)

        grad_delta_spike = torch.einsum("tbo,tbi->oi", delta, s_in)     # sum_t delta[t]^T s[t]
        grad_e_trace = torch.einsum("tbo,tbi->oi", e, a_in)             # sum_t e[t]^T a[t]
        grad_e_spike = torch.einsum("tbo,tbi->oi", e, s_in)             # temporal terms dropped, no trace
        torch.testing.assert_close(grad_delta_spike, grad_bptt)
        torch.testing.assert_close(grad_e_trace, grad_bptt)
        rel = ((grad_e_spike - grad_bptt).norm() / grad_bptt.norm()).item()
        print("sum_t delta[t]^T s[t] = BPTT:  yes")
        print("sum_t e[t]^T a[t]     = BPTT:  yes (the exchange of sums)")
        print(f"sum_t e[t]^T s[t]     = BPTT:  no, relative error {rel:.2f} (dropping the temporal terms needs the trace)")
        assert rel > 0.1
        """),
        md(r"""
        ## 4. `GradwithTrace` from scratch

        To get $\sum_t g[t]^\top a[t]$ out of autograd, a layer $m$ must produce its **value** from
        the spike, $y = m(s)$, but its **weight gradient** as if its input had been the trace. Two
        `ReplaceforGrad`s do it:

        1. `out = m(spike)` without a graph: the value;
        2. `in_for_grad = ReplaceforGrad(spike, trace)`: value of the trace, gradient to the spike;
        3. `out_for_grad = m(in_for_grad)`: the graph of $m$ evaluated on the trace, so
           $\frac{\partial L}{\partial W} = g^\top a$, and the input gradient $g W$ goes to the spike;
        4. `ReplaceforGrad(out_for_grad, out)`: value $m(s)$, gradient into the trace graph.
        """),
        code(r"""
        class MyGradwithTrace(nn.Module):
            def __init__(self, module):
                super().__init__()
                self.module = module

            def forward(self, x):
                spike, trace = x
                with torch.no_grad():
                    out = self.module(spike)                          # 1. value from the spike
                in_for_grad = ReplaceforGrad.apply(spike, trace)      # 2. value: trace; grad -> spike
                out_for_grad = self.module(in_for_grad)               # 3. graph of m on the trace
                return ReplaceforGrad.apply(out_for_grad, out)        # 4. value: m(spike)
        """),
        code(r"""
        fig, ax = plt.subplots(figsize=(10, 3.6))
        drawn = plot_grad_paths(ax, "GradwithTrace")
        plt.show()
        assert len(drawn["grad_arrows"]) == 3
        """),
        md(r"""
        We drive it for $T$ steps with spikes, their traces, and an arbitrary upstream gradient
        $g[t]$ (via `y.backward(g[t])`), and check three things against the hand formula:
        the value $y[t] = W s[t] + b$, the weight gradient $\sum_t g[t]^\top a[t]$ (and
        $\sum_t g[t]$ for the bias), and the gradient reaching the spike, $g[t] W$. Then the same
        with the library's `GradwithTrace`.
        """),
        code(r"""
        g = torch.randn(T, B, N_out)                                    # upstream gradients dL/dy[t]

        def run_online(wrapper_cls):
            torch.manual_seed(1)
            layer = nn.Linear(N_in, N_out)
            wrapped = wrapper_cls(layer)
            values, spike_grads = [], []
            for t in range(T):
                spike = s_in[t].clone().requires_grad_(True)
                y = wrapped([spike, a_in[t]])
                y.backward(g[t])
                values.append(y.detach())
                spike_grads.append(spike.grad)
            return layer, torch.stack(values), torch.stack(spike_grads)


        mine, y_mine, ds_mine = run_online(MyGradwithTrace)
        W, b = mine.weight.detach(), mine.bias.detach()
        torch.testing.assert_close(y_mine, s_in @ W.T + b)                                  # value from spikes
        torch.testing.assert_close(mine.weight.grad, torch.einsum("tbo,tbi->oi", g, a_in))  # sum_t g^T a
        torch.testing.assert_close(mine.bias.grad, g.sum(dim=(0, 1)))                       # sum_t g
        torch.testing.assert_close(ds_mine, g @ W)                                          # g W to the spike

        lib, y_lib, ds_lib = run_online(GradwithTrace)
        for got, want in [(y_lib, y_mine), (ds_lib, ds_mine), (lib.weight.grad, mine.weight.grad), (lib.bias.grad, mine.bias.grad)]:
            torch.testing.assert_close(got, want)
        print("MyGradwithTrace: value W s + b, weight grad sum_t g^T a, bias grad sum_t g, spike grad g W")
        print("ottt_edu.GradwithTrace: identical on all four")
        """),
        md(r"""
        (A remark on the bias: it is not multiplied by the input, so no trace enters its gradient,
        $\sum_t g[t]$. Unlike the weight's, that is not the single-layer BPTT bias gradient
        $\sum_t \delta[t]$; it is simply what OTTT does.)

        Finally the whole online loop with the library pieces: `GradwithTrace(Linear)` on
        `[spike, trace]`, then an `OTTTLIFNode`, `backward()` at every step. Its accumulated weight
        gradient equals the BPTT gradient of section 3:
        """),
        code(r"""
        fc_online = nn.Linear(N_in, N_out, bias=False)
        fc_online.weight.data.copy_(W0)
        layer, neuron = GradwithTrace(fc_online), OTTTLIFNode(tau=tau)
        for t in range(T):
            o_t, _ = neuron(layer([s_in[t], a_in[t]]))
            (c[t] * o_t).sum().backward()                 # one step, one backward, graph freed
        reset_net(neuron)
        torch.testing.assert_close(fc_online.weight.grad, grad_bptt)
        print("online (OTTT) weight gradient = BPTT weight gradient for this single layer")
        """),
        md(r"""
        ## 5. Your turn: the OTTT weight gradient in one line

        Given the upstream gradients `g` of shape `(T, B, N_out)` and the presynaptic traces `a` of
        shape `(T, B, N_in)`, write `ottt_weight_grad(g, a)` returning $\sum_t g[t]^\top a[t]$
        (summed over time **and** batch) with the shape of `nn.Linear.weight`, `(N_out, N_in)`.
        The checker compares it with what `GradwithTrace` accumulates.
        """),
        code(r"""
        def ottt_weight_grad(g, a):
            # g (T, B, N_out), a (T, B, N_in) -> (N_out, N_in)
            raise NotImplementedError  # <- replace this line with your code


        passed = check_ottt_weight_grad(ottt_weight_grad)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        def ottt_weight_grad_solution(g, a):
            return torch.einsum("tbo,tbi->oi", g, a)      # sum over t and b of outer(g[t, b], a[t, b])


        assert check_ottt_weight_grad(ottt_weight_grad_solution)
        """, hidden=True),
        md(r"""
        ## 6. A three-factor Hebbian rule

        Write the OTTT update of one synapse $j \to i$ (presynaptic $j$, postsynaptic $i$), summed
        over the batch:
        $$\Delta W_{ij} = -\eta \sum_t
        \underbrace{\frac{\partial \ell_t}{\partial o_i[t]}}_{\text{error}}\;
        \underbrace{g'\big(h_i[t] - v_{\text{th}}\big)}_{\text{surrogate derivative}}\;
        \underbrace{a_j[t]}_{\text{presynaptic trace}}.$$
        Two factors are local to the synapse (the postsynaptic neuron's closeness to threshold and
        the presynaptic activity), the third is a signal that arrives at the same time step from
        the loss. That is the form of a *three-factor* learning rule (Hebbian co-activity gated by a
        modulating error signal), and each factor is available **now**: no memory of the past beyond
        the trace. (In a deep network the error factor is computed by backpropagating through the
        layers above at the same step: it is local in time, not in space.) Below, the three factors of synapse $0 \to 0$ for the first batch sample, step by
        step; their summed product is exactly that sample's share of the autograd gradient.
        """),
        code(r"""
        i, j, b = 0, 0, 0
        error = c[:, b, i]                                       # d loss_t / d o_i[t]
        surr = sigmoid_surrogate_grad(h[:, b, i] - v_th, 4.0)     # g'(h_i[t] - v_th)
        pre = a_in[:, b, j]                                       # a_j[t]
        print(" t   error   surrogate'  trace   product")
        for t in range(T):
            print(f"{t:2d}  {error[t].item():6.3f}   {surr[t].item():8.4f}   {pre[t].item():5.3f}   {(error[t] * surr[t] * pre[t]).item() + 0.0:7.4f}")
        three_factor = (error * surr * pre).sum()
        sample_grad = torch.einsum("to,ti->oi", e[:, b], a_in[:, b])[i, j]   # sample b's part of dL/dW_ij
        print(f"sum of products = {three_factor.item():.4f} = sample {b}'s part of dL/dW[{i},{j}] = {sample_grad.item():.4f}")
        torch.testing.assert_close(three_factor, sample_grad)
        torch.testing.assert_close(ottt_weight_grad_solution(e, a_in), fc_online.weight.grad)   # all synapses and samples
        """),
        md(r"""
        ## Summary

        - The trace $a[t] = k\,a[t-1] + s[t] = \sum_{t' \le t} k^{t-t'} s[t']$ is a leaky spike
          count; `OTTTLIFNode` keeps it (no gradient) and returns `[spike, trace]` in training mode.
        - BPTT's weight gradient $\sum_t \delta[t]^\top s[t]$ needs future errors. Exchanging the sums
          moves the leak into the trace: $\sum_t e[t]^\top a[t]$, computable online. OTTT keeps only
          the immediate gradient $g[t]$: exact for a layer that feeds LIF neurons (same $\tau$, detached
          reset) whose spikes enter the loss at the same step, an approximation in general.
        - `GradwithTrace(m)` = two `ReplaceforGrad`s: value $m(s)$, weight gradient $g^\top a$, input
          gradient to the spike. Ours and the library's agree with the hand formula.
        - Per synapse: error $\times$ surrogate derivative $\times$ presynaptic trace.

        **Next:** notebook 05 wires these pieces into whole networks with `SpikeTraceOp` and
        `OTTTSequential`, and runs a complete OTTT update.

        **Where this is in SpikingJelly:**
        `spikingjelly.activation_based.layer.online_learning.GradwithTrace` (built on
        `online_learning.ReplaceforGrad`), and the trace inside
        `spikingjelly.activation_based.neuron.OTTTLIFNode`. Here: `from ottt_edu import
        GradwithTrace, OTTTLIFNode`.
        """),
    ])
