"""Cells of notebooks/08_making_it_fast.ipynb (generator; run build08.py)."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 08 · Making it fast: a single-pass `GradwithTrace`

        *Advanced.* `GradwithTrace` as SpikingJelly specifies it (notebook 04) runs every wrapped
        layer **twice** per time step: once on the spike, without a graph, for the value, and once
        on the trace, with a graph, for the gradient. For layers that are *linear in their input*
        (`nn.Linear`, `nn.Conv1d`, `nn.Conv2d`) the second forward pass is wasted work. In this
        notebook you derive a single-pass version from the two-pass one, write it for `Linear` from
        scratch as a custom autograd Function, check it against the library's
        (`ottt_edu.fast_path`), and measure what it buys in time and memory.

        **Learning goals**
        - count where the two-pass path spends its matrix products, and which ones a plain network
          needs;
        - derive the backward of the gradient pass by hand and notice that it never needs the
          pass's *value*;
        - write `LinearWithTrace` as a `torch.autograd.Function`, and gradcheck it correctly even
          though its weight gradient comes from a *different* tensor than its value;
        - use the library's switch `grad_path="auto" | "fast" | "two_pass"` and know which modules
          qualify;
        - measure speed fairly (interleaved, medians) and memory (saved tensors), and read the
          numbers honestly.
        """),
        code(r"""
        import copy
        import statistics
        import time

        import matplotlib.pyplot as plt
        import torch
        from torch import nn
        from torch.nn import functional as F
        from torch.utils._python_dispatch import TorchDispatchMode

        from ottt_edu import GradwithTrace, OTTTLIFNode, OTTTSequential, ReplaceforGrad, reset_net
        from ottt_edu.autograd_memory import SavedTensorMeter
        from ottt_edu.fast_path import LinearWithTrace, supports_fast_path, why_no_fast_path
        from ottt_edu.neuron import LIFNode
        from ottt_edu.vgg import ScaledWSConv2d

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. Where the two-pass path spends its time

        Here is the reference `GradwithTrace` for one layer `m`, in plain code (notebook 04):
        the value comes from `m(spike)` without a graph, the graph from `m` applied to the trace,
        and two `ReplaceforGrad`s stitch them together.

        To see the cost, we count the **matrix products** PyTorch runs, with a tiny
        `TorchDispatchMode`: every ATen operation, including the ones autograd runs in
        `backward()`, passes through its `__torch_dispatch__`.
        """),
        code(r"""
        def two_pass(m, spike, trace):
            with torch.no_grad():
                out = m(spike)                                   # value from the spike
            in_for_grad = ReplaceforGrad.apply(spike, trace)     # value: trace; grad -> spike
            return ReplaceforGrad.apply(m(in_for_grad), out)     # value: out; grad -> m(trace)


        class MatmulCounter(TorchDispatchMode):
            # counts matrix products (mm, addmm) run while the mode is active
            def __init__(self):
                super().__init__()
                self.count = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if func.overloadpacket.__name__ in ("mm", "addmm", "bmm", "matmul"):
                    self.count += 1
                return func(*args, **(kwargs or {}))


        def count_matmuls(step):
            # step() -> output; returns (#products in forward, #products in backward)
            with MatmulCounter() as fwd:
                out = step()
            with MatmulCounter() as bwd:
                out.sum().backward()
            return fwd.count, bwd.count


        B, N_in, N_out = 8, 6, 4
        fc = nn.Linear(N_in, N_out)
        spike = (torch.rand(B, N_in) > 0.5).float().requires_grad_()    # (B, N_in), 0/1
        trace = torch.rand(B, N_in) * 2                                  # (B, N_in)
        x = torch.rand(B, N_in).requires_grad_()                         # a plain input

        print("matrix products per step      forward  backward")
        print("two-pass GradwithTrace         %d        %d" % count_matmuls(lambda: two_pass(fc, spike, trace)))
        print("plain Linear (the floor)       %d        %d" % count_matmuls(lambda: fc(x)))
        """),
        md(r"""
        The plain layer needs three products per step: the value $xW^\top$, and in backward
        $gW$ (for the input) and $g^\top x$ (for the weight). The two-pass path needs four: it
        computes the layer's output twice, once on the spike and once on the trace, and then
        **throws the second one away** (the outer `ReplaceforGrad` returns the value of
        `out`). The only reason it is computed is to make autograd record the node whose
        backward we want.

        ## 2. Deriving the single pass

        Take the graph pass of a `Linear`, $y_g = aW^\top + b$, with $a$ the trace, and let
        $g = \partial L/\partial y$ be the gradient arriving at the output. Its backward is
        $$\frac{\partial L}{\partial W} = g^\top a,\qquad
          \frac{\partial L}{\partial b} = \textstyle\sum_{\text{batch}} g,\qquad
          \frac{\partial L}{\partial a} = gW,$$
        and the inner `ReplaceforGrad` sends $\partial L/\partial a$ on to the **spike**. None of
        the three uses $y_g$ itself: backward needs only $g$, the trace $a$ and the weight $W$.
        So a single custom Function can compute the value $y = sW^\top + b$ from the spike,
        save $(a, W)$, and return those three gradients. First, check the formulas against
        autograd's gradients of the two-pass path:
        """),
        code(r"""
        fc_ref = copy.deepcopy(fc)
        s_ref = spike.detach().clone().requires_grad_()
        y = two_pass(fc_ref, s_ref, trace)                       # (B, N_out)
        g = torch.randn(B, N_out)                                # dL/dy
        y.backward(g)

        torch.testing.assert_close(y, spike.detach() @ fc.weight.T + fc.bias)   # value: s W^T + b
        torch.testing.assert_close(fc_ref.weight.grad, g.T @ trace)             # dL/dW = g^T a
        torch.testing.assert_close(fc_ref.bias.grad, g.sum(0))                  # dL/db = sum g
        torch.testing.assert_close(s_ref.grad, g @ fc.weight.detach())          # dL/ds = g W
        print("two-pass gradients = hand formulas: value s W^T + b, dW = g^T a, db = sum g, ds = g W")
        """),
        md(r"""
        ## 3. `LinearWithTrace` from scratch

        The Function takes the spike, the trace, the weight and the bias. `forward` computes the
        value from the spike and saves only the trace and the weight; `backward` returns one
        gradient per input, and skips those nobody asked for (`ctx.needs_input_grad`). The
        trace receives the same gradient as the spike *if* it requires one, because that is what
        the two-pass path's `ReplaceforGrad` does (the neuron makes its trace without a graph,
        so in practice it never does).
        """),
        code(r"""
        class MyLinearWithTrace(torch.autograd.Function):
            @staticmethod
            def forward(ctx, spike, trace, weight, bias):
                ctx.save_for_backward(trace, weight)             # not the spike, not the output
                return F.linear(spike, weight, bias)             # (B, N_out) = s W^T + b

            @staticmethod
            def backward(ctx, g):                                # g: (B, N_out)
                trace, weight = ctx.saved_tensors
                need_s, need_a, need_w, need_b = ctx.needs_input_grad
                grad_in = g @ weight if (need_s or need_a) else None        # (B, N_in)
                grad_w = g.T @ trace if need_w else None                    # (N_out, N_in)
                grad_b = g.sum(0) if need_b else None                       # (N_out,); False for bias=None
                return (grad_in if need_s else None, grad_in if need_a else None, grad_w, grad_b)


        fc_mine = copy.deepcopy(fc)
        s_mine = spike.detach().clone().requires_grad_()
        y_mine = MyLinearWithTrace.apply(s_mine, trace, fc_mine.weight, fc_mine.bias)
        y_mine.backward(g)
        torch.testing.assert_close(y_mine, y)
        for mine, ref in [(fc_mine.weight.grad, fc_ref.weight.grad), (fc_mine.bias.grad, fc_ref.bias.grad),
                          (s_mine.grad, s_ref.grad)]:
            torch.testing.assert_close(mine, ref)
        print("MyLinearWithTrace = two-pass path: same value, same weight, bias and spike gradients")
        print("matrix products per step      forward  backward")
        print("MyLinearWithTrace              %d        %d" % count_matmuls(
            lambda: MyLinearWithTrace.apply(s_mine, trace, fc_mine.weight, fc_mine.bias)))
        """),
        md(r"""
        ### Gradcheck, done right

        `torch.autograd.gradcheck` compares the Function's backward with finite differences of
        its forward. Our Function is *deliberately* not the derivative of its forward when
        `spike` and `trace` differ: the weight gradient is $g^\top a$, but the output depends
        on $W$ through $s$. (That mismatch *is* OTTT.) So gradcheck it where the two agree,
        `trace == spike` (passed as a constant, `spike.detach()`, since the value does not
        depend on the trace); there the Function must be the true derivative, in float64.
        The case `trace != spike` was checked exactly above, against $g^\top a$.
        """),
        code(r"""
        s64 = torch.randn(5, N_in, dtype=torch.float64, requires_grad=True)
        w64 = torch.randn(N_out, N_in, dtype=torch.float64, requires_grad=True)
        b64 = torch.randn(N_out, dtype=torch.float64, requires_grad=True)
        ok = torch.autograd.gradcheck(lambda s, w, b: MyLinearWithTrace.apply(s, s.detach(), w, b),
                                      (s64, w64, b64))
        print(f"gradcheck with trace == spike: {ok}")
        assert ok
        """),
        md(r"""
        ## 4. The library version and the switch

        `ottt_edu.fast_path` holds the same Function for `Linear` (`LinearWithTrace`, which also
        handles inputs shaped `(B, ..., N)`) and one for convolutions (`ConvWithTrace`, whose
        backward calls PyTorch's own convolution backward with the *trace* as the input). The
        rule `supports_fast_path(module)` says which modules qualify, and `GradwithTrace` /
        `OTTTSequential` take a `grad_path` argument:

        | `grad_path` | what runs |
        |---|---|
        | `"auto"` (default) | the fast path if `supports_fast_path(m)`, else the two-pass reference |
        | `"fast"` | always the fast path; a `ValueError` for a module that does not qualify |
        | `"two_pass"` | always the reference (SpikingJelly's behaviour) |
        """),
        code(r"""
        outs, grads = {}, {}
        for name, step in [("from scratch", lambda m, s: MyLinearWithTrace.apply(s, trace, m.weight, m.bias)),
                           ("library LinearWithTrace", lambda m, s: LinearWithTrace.apply(s, trace, m.weight, m.bias)),
                           ("GradwithTrace auto", lambda m, s: GradwithTrace(m)([s, trace])),
                           ("GradwithTrace fast", lambda m, s: GradwithTrace(m, grad_path="fast")([s, trace])),
                           ("GradwithTrace two_pass", lambda m, s: GradwithTrace(m, grad_path="two_pass")([s, trace]))]:
            m, s = copy.deepcopy(fc), spike.detach().clone().requires_grad_()
            out = step(m, s)
            out.backward(g)
            outs[name], grads[name] = out, [m.weight.grad, m.bias.grad, s.grad]
            print(f"{name:<24} output grad_fn: {type(out.grad_fn).__name__}")
        for name in outs:
            torch.testing.assert_close(outs[name], outs["GradwithTrace two_pass"])
            for a, b in zip(grads[name], grads["GradwithTrace two_pass"]):
                torch.testing.assert_close(a, b)
        print("all five agree with the two-pass reference")
        """),
        md(r"""
        Which modules qualify? Exactly `nn.Linear`, `nn.Conv1d` and `nn.Conv2d` (any stride,
        padding, dilation, groups; zero padding only), subclasses that do not override
        `forward`, and the **effective-weight protocol**: a subclass that defines `get_weight()`
        (the weight its `forward` really uses, computed from parameters) and promises that
        `forward(x)` is the plain layer with that weight. The paper's weight-standardized
        `ScaledWSConv2d` (in `ottt_edu.vgg`) is one: the fast path computes
        `w = module.get_weight()` inside the graph, so the gradient still reaches `weight` and
        `gain` through the standardization. Everything else falls back to the two-pass path, and
        `why_no_fast_path` says why:
        """),
        code(r"""
        class Squared(nn.Linear):                      # overrides forward: not linear in its input
            def forward(self, x):
                return super().forward(x * x)


        candidates = [nn.Linear(4, 3), nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1),
                      ScaledWSConv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"),
                      nn.BatchNorm2d(8), Squared(4, 3)]
        for m in candidates:
            reason = why_no_fast_path(m)
            print(f"{type(m).__name__:<15} fast: {str(supports_fast_path(m)):<5}  {reason or ''}")
        assert [supports_fast_path(m) for m in candidates] == [True, True, True, False, False, False]
        """),
        md(r"""
        Asking for `"fast"` on a module that does not qualify is an error, raised when the
        wrapper is built, not a silent wrong gradient:
        """),
        code(r"""
        try:
            GradwithTrace(Squared(4, 3), grad_path="fast")
        except ValueError as error:
            print("ValueError:", error)
        else:
            raise AssertionError("grad_path='fast' must refuse a layer that is not linear in its input")
        """),
        md(r"""
        ## 5. Whole training steps agree

        Now a complete OTTT_A iteration (T steps of forward + backward, then one SGD step) of a
        small spiking MLP and CNN, once with `grad_path="fast"` and once with `"two_pass"`, from the
        same initial weights. Outputs, gradients and updated weights must match.
        """),
        code(r"""
        def ottt_a_iteration(net, x_seq, y, lr=0.1):
            # x_seq (T, B, ...) -> list of outputs; one SGD step on the summed gradient
            T = x_seq.shape[0]
            outs = []
            for t in range(T):
                out = net(x_seq[t])                              # (B, n_classes)
                (F.cross_entropy(out, y) / T).backward()
                outs.append(out.detach())
            grads = [p.grad.clone() for p in net.parameters()]
            with torch.no_grad():
                for p in net.parameters():
                    p -= lr * p.grad
                    p.grad = None
            reset_net(net)
            return outs, grads, [p.detach().clone() for p in net.parameters()]


        torch.manual_seed(1)
        small_nets = {
            "MLP": (OTTTSequential(nn.Linear(20, 32), OTTTLIFNode(), nn.Linear(32, 32), OTTTLIFNode(),
                                   nn.Linear(32, 5)), (20,)),
            "CNN": (OTTTSequential(nn.Conv2d(1, 8, 3, padding=1), OTTTLIFNode(),
                                   nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), OTTTLIFNode(),
                                   ScaledWSConv2d(8, 8, 3, padding=1), OTTTLIFNode(),
                                   nn.Flatten(), nn.Linear(8 * 6 * 6, 5)), (1, 12, 12)),
        }
        for name, (net, in_shape) in small_nets.items():
            with torch.no_grad():
                for p in net.parameters():
                    p.mul_(3.0)                                   # livelier spiking
            x_seq, y = torch.rand(4, 16, *in_shape) * 2, torch.randint(0, 5, (16,))
            results = {}
            for path in ("fast", "two_pass"):
                twin = copy.deepcopy(net)
                twin.grad_path = path
                results[path] = ottt_a_iteration(twin, x_seq, y)
            diff = 0.0
            for a_list, b_list in zip(results["fast"], results["two_pass"]):
                for a, b in zip(a_list, b_list):
                    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
                    diff = max(diff, (a - b).abs().max().item())
            print(f"{name}: outputs, gradients and new weights agree; largest difference {diff:.1e}")
        """),
        md(r"""
        ## 6. Speed and memory, side by side

        The full-size MLP of the benchmark, 784-1024-1024-10, T = 6, batch 128, three ways:
        the fast path, the two-pass path, and the **floor**: the same layers with ReLU instead of
        spiking neurons, forward + backward at each of the T steps. No OTTT implementation can beat
        the floor, since it does the layers' work and nothing else.

        Measuring fairly on a shared computer: warm up first, **interleave** the three methods
        (so a burst of background load hits all of them), and report the **median** of several
        repeats. We also use **one thread**: on a busy machine, multi-threaded PyTorch spends much
        of its time waiting for its own threads, which hides the work we want to compare (and one
        thread keeps this notebook quick). The full benchmark (an MLP and a CNN, more repeats, any
        thread count, CUDA) is `python benchmarks/fast_path.py --help`.
        """),
        code(r"""
        def mlp_layers(neuron):
            return [nn.Linear(784, 1024), neuron(), nn.Linear(1024, 1024), neuron(), nn.Linear(1024, 10)]


        def make_three():
            torch.manual_seed(0)
            fast = OTTTSequential(*mlp_layers(OTTTLIFNode), grad_path="fast")
            two = copy.deepcopy(fast)
            two.grad_path = "two_pass"
            floor = nn.Sequential(*mlp_layers(nn.ReLU))
            floor.load_state_dict(fast.state_dict())
            return {"fast": fast, "two-pass": two, "floor": floor}


        def train_iteration(net, opt, x_seq, y):
            # OTTT_A: T x (forward, backward), one optimizer step, reset
            for t in range(x_seq.shape[0]):
                (F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]).backward()
            opt.step()
            opt.zero_grad()
            reset_net(net)


        torch.set_num_threads(1)                      # steady timings on a shared machine (see above)
        T, B = 6, 128
        x_seq, y = torch.rand(T, B, 784) * 2, torch.randint(0, 10, (B,))   # (T, B, 784), (B,)
        """),
        md(r"""
        **Memory first** (it is deterministic). `SavedTensorMeter` reports the peak bytes autograd
        keeps for backward. We also count the same thing *leaving out the network's own tensors*
        (parameters, and the neurons' `v` and `trace`): the memory the graph costs **on top of**
        the network's state.
        """),
        code(r"""
        class GraphOnlyMeter:
            # peak bytes saved for backward, not counting storages the network itself holds
            def __init__(self, net):
                self.net, self.current, self.peak, self.live = net, 0, 0, {}

            def state_storages(self):
                ts = list(self.net.parameters())
                for m in self.net.modules():
                    if isinstance(m, LIFNode):
                        ts += [t for t in (m.v, getattr(m, "trace", None)) if torch.is_tensor(t)]
                return {t.untyped_storage().data_ptr() for t in ts}

            def pack(self, t):
                key = t.untyped_storage().data_ptr()
                if key in self.state_storages():
                    return (t, None)
                if key not in self.live:
                    self.live[key] = [t.untyped_storage().nbytes(), 0]
                    self.current += self.live[key][0]
                    self.peak = max(self.peak, self.current)
                self.live[key][1] += 1
                return (t, Release(self, key))

            def release(self, key):
                self.live[key][1] -= 1
                if self.live[key][1] == 0:
                    self.current -= self.live.pop(key)[0]

            def __enter__(self):
                self.hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda p: p[0])
                self.hooks.__enter__()
                return self

            def __exit__(self, *exc):
                self.hooks.__exit__(*exc)


        class Release:
            # tells the meter when autograd drops a saved tensor
            def __init__(self, meter, key):
                self.meter, self.key = meter, key

            def __del__(self):
                self.meter.release(self.key)


        nets = make_three()
        opts = {k: torch.optim.SGD(n.parameters(), lr=0.01) for k, n in nets.items()}
        saved, graph_only = {}, {}
        for k, net in nets.items():
            with SavedTensorMeter() as meter:          # hooks do not nest: one meter at a time
                train_iteration(net, opts[k], x_seq, y)
            with GraphOnlyMeter(net) as go:
                train_iteration(net, opts[k], x_seq, y)
            saved[k], graph_only[k] = meter.peak_bytes, go.peak
        print(f"{'network':<10}{'saved KiB':>11}{'graph-only KiB':>16}")
        for k in nets:
            print(f"{k:<10}{saved[k] / 1024:>11.0f}{graph_only[k] / 1024:>16.0f}")

        trace_bytes = B * 1024 * 4                     # one hidden layer's trace, float32
        assert saved["fast"] == saved["two-pass"]
        assert graph_only["two-pass"] - graph_only["fast"] == 2 * trace_bytes
        assert graph_only["fast"] == graph_only["floor"]
        """),
        md(r"""
        Read this carefully, because it is not what one might guess. Both OTTT paths **save the
        same number of bytes**: one trace-sized tensor and the weight per wrapped layer. The
        difference is *which* tensor. The fast path saves the neuron's own trace, which the
        network holds anyway until the next step; the two-pass path saves a *copy* of it (made by
        `ReplaceforGrad`, whose output autograd must not alias its input). So on top of the
        network's state the two-pass graph costs exactly one extra trace per wrapped layer,
        $2 \times 128 \times 1024 \times 4$ bytes = 1 MiB here, and the fast path's graph is
        exactly as big as the non-spiking floor's. (If a pooling layer sits between the neuron
        and the next layer, the trace that layer sees is a fresh tensor in both paths, and this
        saving disappears.)

        **Now time.** Timings depend on the machine and on what else runs on it, so the next
        cell's printed numbers are not compared by the notebook tests; the cell still asserts
        that the fast and two-pass networks, trained side by side for the same iterations, stay
        identical.
        """),
        code(r"""
        # NBVAL_IGNORE_OUTPUT
        # (why: timings vary with the machine and its load; the asserts in this cell do not)
        nets = make_three()
        opts = {k: torch.optim.SGD(n.parameters(), lr=0.01) for k, n in nets.items()}
        times = {k: [] for k in nets}
        order = list(nets)
        warmup, repeats = 1, 5
        for r in range(warmup + repeats):
            for k in order[r % 3:] + order[:r % 3]:       # interleave, rotating the order
                t0 = time.perf_counter()
                train_iteration(nets[k], opts[k], x_seq, y)
                if r >= warmup:
                    times[k].append(time.perf_counter() - t0)
        ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        print(f"{torch.get_num_threads()} threads, median of {repeats}")
        for k in nets:
            print(f"{k:<10}{ms[k]:8.1f} ms/iter")
        print(f"fast / two-pass = {ms['fast'] / ms['two-pass']:.2f}   fast / floor = {ms['fast'] / ms['floor']:.2f}")

        for a, b in zip(nets["fast"].parameters(), nets["two-pass"].parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)   # trained alike, step for step

        fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(9, 3.2))
        colors = ["tab:green", "tab:orange", "tab:gray"]
        ax_t.bar(list(ms), list(ms.values()), color=colors)
        ax_t.set_ylabel("ms per training iteration")
        ax_t.set_title("time (T = 6, batch 128)")
        ax_m.bar(list(nets), [graph_only[k] / 2**20 for k in nets], color=colors, label="graph only")
        ax_m.bar(list(nets), [(saved[k] - graph_only[k]) / 2**20 for k in nets], bottom=[graph_only[k] / 2**20 for k in nets],
                 color="none", edgecolor="k", hatch="//", label="params, v, trace (held anyway)")
        ax_m.set_ylabel("MiB saved for backward (peak)")
        ax_m.set_title("memory")
        ax_m.set_ylim(0, 1.35 * max(saved.values()) / 2**20)
        ax_m.legend(fontsize=8, loc="upper center", ncol=2)
        fig.tight_layout()
        """),
        md(r"""
        What to expect. On the 2-core machine this notebook was written on, shared with other
        jobs (`python benchmarks/fast_path.py --threads 1 --repeats 15`, medians), the fast path
        took **0.86x** the two-pass time for this MLP and **1.17x** the floor. The first ratio
        cannot go much lower: the first layer sees the plain input (no trace) and costs the same in
        all three networks, so the two-pass path runs six large matrix products per step and the
        fast path five, a FLOP ratio of 0.82. For the benchmark's small CNN the fast path took 0.83x the two-pass
        time but 1.5x the floor: there the spiking neurons' own element-wise work (charge, fire,
        reset, trace and surrogate gradient on 128 x (32·28² + 64·14² + 64·7²) ≈ 128 x 41k values
        per step) costs about as
        much as the whole gap, while the layers do exactly the floor's products. Making the
        neurons cheaper (fusing their element-wise steps) is the next speed-up, and it is a
        different one: ottt_edu offers it as the opt-in `OTTTLIFNode(backend="inductor")`, one
        `torch.compile`d kernel per step with bit-for-bit the same values (see the README).

        ## Summary

        - The two-pass `GradwithTrace` computes each layer's output twice and discards one; for
          layers linear in their input the discarded pass only served to record a graph.
        - Backward of $y_g = aW^\top + b$ needs only $g$, the trace and $W$:
          $\partial L/\partial W = g^\top a$, $\partial L/\partial b = \sum g$,
          $\partial L/\partial s = gW$. One custom Function computes the value from the spike and
          these gradients, saving only the trace and the weight.
        - Gradcheck such a Function where its value and gradient describe the same function
          (trace = spike), and check the OTTT case ($g^\top a$) exactly.
        - `grad_path="auto"` (default) uses it for `Linear`, `Conv1d`, `Conv2d` and layers with
          `get_weight()` (weight standardization), and the reference elsewhere; `"fast"` and
          `"two_pass"` force one. Values and gradients agree with the reference.
        - It saves one matrix product per wrapped layer and step, and one trace copy of memory.

        **Where this is in SpikingJelly:** nowhere: SpikingJelly's
        `spikingjelly.activation_based.layer.online_learning.GradwithTrace` is the two-pass path
        (here `grad_path="two_pass"`). The fast path is this library's addition; its Functions
        are in `ottt_edu.fast_path`.
        """),
    ])
