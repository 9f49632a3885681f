"""Cells of notebooks/03_replace_for_grad.ipynb."""
from nbgen import code, md, notebook


def build():
    return notebook([
        md(r"""
        # 03 · Custom autograd Functions and `ReplaceforGrad`

        OTTT needs a layer whose output **value** is computed from spikes but whose **weight
        gradient** is computed from traces. Ordinary autograd cannot do that: it differentiates
        exactly what was computed. A *custom autograd Function* can: you write the forward pass and
        the backward pass separately, and they need not be each other's derivative. SpikingJelly's
        `ReplaceforGrad` is the smallest such Function, and the switch behind everything in
        notebooks 04 and 05.

        **Learning goals**
        - write a `torch.autograd.Function` (`forward`, `backward`, `ctx`) and check it with
          `torch.autograd.gradcheck`;
        - tell the *value path* of a tensor from its *gradient path*;
        - build `ReplaceforGrad` from scratch, gradcheck it, and read off, on a tiny example,
          which tensor supplies the value and which receive the gradient;
        - explain why `gradcheck` must *fail* for one of its inputs.
        """),
        code(r"""
        import matplotlib.pyplot as plt
        import torch
        from torch.autograd import gradcheck

        from ottt_edu import ReplaceforGrad, surrogate
        from ottt_edu.exercises import check_replace_by_detach
        from ottt_edu.surrogate import heaviside, sigmoid_surrogate_grad
        from ottt_edu.viz import plot_grad_paths

        _ = torch.manual_seed(0)            # seed everything (the "_ =" hides the returned generator)
        """),
        md(r"""
        ## 1. Anatomy of a custom Function

        A `torch.autograd.Function` has two static methods:

        - `forward(ctx, *inputs)` computes the output from plain tensors (no graph is recorded
          inside) and may stash what backward needs with `ctx.save_for_backward(...)`;
        - `backward(ctx, grad_output)` receives $\frac{\partial L}{\partial y}$ and returns
          $\frac{\partial L}{\partial \text{input}}$, **one entry per input** of `forward` (`None`
          for inputs that need no gradient).

        You call it with `.apply(...)`. First an honest one, $y = x^2$ with
        $\frac{\partial L}{\partial x} = 2x\,\frac{\partial L}{\partial y}$:
        """),
        code(r"""
        class Square(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)          # backward needs x
                return x * x

            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return 2.0 * x * grad_output      # one gradient per forward input


        x = torch.randn(5, dtype=torch.float64, requires_grad=True)
        Square.apply(x).sum().backward()
        torch.testing.assert_close(x.grad, 2.0 * x.detach())
        ok = gradcheck(Square.apply, (x,))
        print("Square: gradient is 2x; gradcheck passes:", ok)
        assert ok
        """),
        md(r"""
        `gradcheck` compares your `backward` with finite differences of your `forward`, in float64.
        It passes exactly when `backward` is the true derivative of `forward`.

        Now a Function that is *not* honest on purpose: the spike of notebook 02, with the step
        forward and the sigmoid surrogate backward. This is how the library's `surrogate.Sigmoid`
        is written; we check that ours agrees with it, and that `gradcheck` rejects it, as it should.
        """),
        code(r"""
        class SpikeFn(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, alpha):
                ctx.save_for_backward(x)
                ctx.alpha = alpha                  # non-tensor arguments can live on ctx
                return (x >= 0).to(x.dtype)        # forward: the exact step

            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                sg = torch.sigmoid(ctx.alpha * x)
                return grad_output * ctx.alpha * sg * (1.0 - sg), None   # no gradient for alpha


        x = torch.tensor([-1.3, -0.4, 0.0, 0.2, 1.1], dtype=torch.float64, requires_grad=True)
        x_lib = x.detach().clone().requires_grad_(True)
        s, s_lib = SpikeFn.apply(x, 4.0), surrogate.Sigmoid(4.0)(x_lib)
        s.sum().backward()
        s_lib.sum().backward()
        torch.testing.assert_close(s, s_lib)
        torch.testing.assert_close(x.grad, x_lib.grad)
        print("spikes:", s.tolist(), " surrogate gradients:", [round(g, 4) for g in x.grad.tolist()])

        ok = gradcheck(lambda x: SpikeFn.apply(x, 4.0), (x.detach().requires_grad_(True),),
                       raise_exception=False)
        print("gradcheck on the surrogate spike:", ok, "(finite differences of the step: 0 away from 0, ~1/(2 eps) at 0; never g')")
        assert not ok
        """),
        md(r"""
        ## 2. `ReplaceforGrad`: value from one tensor, gradient to both

        `ReplaceforGrad.apply(x, x_r)` returns a tensor with the **value of `x_r`**; in the backward
        pass it hands the incoming gradient, unchanged, to **both** `x` and `x_r`:
        $$\text{forward: } y = x_r, \qquad
        \text{backward: } \frac{\partial L}{\partial x} := \frac{\partial L}{\partial y}, \quad
        \frac{\partial L}{\partial x_r} := \frac{\partial L}{\partial y}.$$
        So whatever graph produced `x` receives the gradient of a value it never computed. From
        scratch it is four lines:
        """),
        code(r"""
        class MyReplaceforGrad(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, x_r):
                return x_r.clone()        # the value of x_r, as a new tensor (not x_r itself)

            @staticmethod
            def backward(ctx, grad):
                return grad, grad         # the same gradient to x and to x_r
        """),
        md(r"""
        ### Which tensor supplies the value, which receive the gradient?

        A tiny example: $x = (1, 2, 3)$, $x_r = (10, 20, 30)$ and $L = \frac12 \sum_i y_i^2$, so
        $\frac{\partial L}{\partial y} = y$. The value of $y$ is $x_r$'s, hence the gradient is
        $(10, 20, 30)$, and it goes to $x$ as well, although $x$'s values $1, 2, 3$ were never used.
        """),
        code(r"""
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x_r = torch.tensor([10.0, 20.0, 30.0], requires_grad=True)
        y = MyReplaceforGrad.apply(x, x_r)
        (0.5 * (y ** 2).sum()).backward()

        print("y      =", y.tolist(), "  <- the value of x_r")
        print("x.grad =", x.grad.tolist(), "  <- dL/dy, evaluated at y = x_r")
        print("x_r.grad =", x_r.grad.tolist())
        assert y.tolist() == [10.0, 20.0, 30.0]
        assert x.grad.tolist() == x_r.grad.tolist() == [10.0, 20.0, 30.0]
        """),
        md(r"""
        The library's `ReplaceforGrad` behaves identically. The diagram shows both paths: solid
        arrows carry the value forward, dashed arrows carry the gradient back.
        """),
        code(r"""
        x2 = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x_r2 = torch.tensor([10.0, 20.0, 30.0], requires_grad=True)
        y2 = ReplaceforGrad.apply(x2, x_r2)
        (0.5 * (y2 ** 2).sum()).backward()
        torch.testing.assert_close(y2, y)
        torch.testing.assert_close(x2.grad, x.grad)
        torch.testing.assert_close(x_r2.grad, x_r.grad)

        fig, ax = plt.subplots(figsize=(8, 3.2))
        drawn = plot_grad_paths(ax, "ReplaceforGrad")
        plt.show()
        assert len(drawn["value_arrows"]) == 2 and len(drawn["grad_arrows"]) == 3
        """),
        md(r"""
        ### When `x` has a graph

        The interesting case is when `x` is the output of a layer. Below, `x = W @ u` while the value
        comes from some other `x_r`. The weight then gets $\frac{\partial L}{\partial y}\,u^\top$:
        the gradient is evaluated **at the replaced value** $x_r$ and flows into `W` **through the
        graph of `x`**. Notebook 04 uses exactly this to give a layer the gradient of its *trace*
        input while its output keeps the value computed from *spikes*.
        """),
        code(r"""
        W = torch.randn(2, 3, requires_grad=True)
        u = torch.randn(3)
        x_r = torch.randn(2)
        y = ReplaceforGrad.apply(W @ u, x_r)
        target = torch.tensor([1.0, -1.0])
        loss = 0.5 * ((y - target) ** 2).sum()                 # dL/dy = y - target = x_r - target
        loss.backward()
        torch.testing.assert_close(y, x_r)
        torch.testing.assert_close(W.grad, torch.outer(x_r - target, u))
        print("W.grad = (x_r - target) u^T: the gradient at x_r's value, routed through W @ u")
        """),
        md(r"""
        ## 3. Checking `ReplaceforGrad` with `gradcheck`

        `gradcheck` asks: is `backward` the true derivative of `forward`? For `ReplaceforGrad`:

        - with respect to `x_r`: $y = x_r$, so the true Jacobian is the identity, and `backward`
          returns the gradient unchanged: **gradcheck passes**;
        - with respect to `x`: $y$ does not depend on $x$ at all (true Jacobian $0$), yet `backward`
          returns the gradient: **gradcheck fails, by design**. That "lie" is the whole point.

        Instead, we check the Jacobians `backward` implements against the equations above: both are
        the identity.
        """),
        code(r"""
        xd = torch.randn(4, dtype=torch.float64)
        xrd = torch.randn(4, dtype=torch.float64)
        for name, Fn in [("MyReplaceforGrad", MyReplaceforGrad), ("ottt_edu.ReplaceforGrad", ReplaceforGrad)]:
            ok_xr = gradcheck(Fn.apply, (xd, xrd.clone().requires_grad_(True)))
            ok_x = gradcheck(Fn.apply, (xd.clone().requires_grad_(True), xrd), raise_exception=False)
            J_x, J_xr = torch.autograd.functional.jacobian(Fn.apply, (xd, xrd))
            torch.testing.assert_close(J_x, torch.eye(4, dtype=torch.float64))
            torch.testing.assert_close(J_xr, torch.eye(4, dtype=torch.float64))
            print(f"{name:<24} gradcheck w.r.t. x_r: {ok_xr};  w.r.t. x: {ok_x};  implemented Jacobians: identity, identity")
            assert ok_xr and not ok_x
        """),
        md(r"""
        ## 4. Your turn: `ReplaceforGrad` without a Function

        The detach trick of notebook 02 gives an (almost) equivalent one-liner. Write
        `replace_by_detach(x, x_r)` using only arithmetic and `.detach()`, so that the result has the
        **value of `x_r`** and passes the incoming gradient **unchanged to `x`**.

        *Hint:* start from `x` (which keeps its graph) and add a correction that autograd ignores.
        """),
        code(r"""
        def replace_by_detach(x, x_r):
            # value: x_r; gradient: passed unchanged to x
            raise NotImplementedError  # <- replace this line with your code


        passed = check_replace_by_detach(replace_by_detach)
        """),
        code(r"""
        # Reference solution (collapsed; click to open)
        def replace_by_detach_solution(x, x_r):
            return x + (x_r - x).detach()          # value x + x_r - x = x_r; gradient 1 to x only


        assert check_replace_by_detach(replace_by_detach_solution)
        """, hidden=True),
        md(r"""
        "Almost" equivalent, for *this* form, in two ways. First, $x + (x_r - x)$ equals $x_r$ only up
        to floating point rounding, while the Function returns $x_r$ bit for bit. Second, in this
        form `x_r` receives no gradient. (The other pattern of notebook 02,
        `x_r + (x - x.detach())`, is exact in value *and* gives both inputs the gradient: it is a
        fine answer too.) (In `GradwithTrace` the `x_r` arguments never need one, so only
        the rounding matters there; a custom Function is exact and costs one graph node.)
        """),
        code(r"""
        x = torch.randn(1000, requires_grad=True)
        x_r = torch.randn(1000, requires_grad=True)
        y_detach = replace_by_detach_solution(x, x_r)
        y_fn = ReplaceforGrad.apply(x, x_r)
        err = (y_detach - x_r).abs().max().item()
        print(f"detach trick: max |y - x_r| = {err:.1e};  ReplaceforGrad: exactly x_r: {torch.equal(y_fn, x_r)}")
        assert 0 < err < 1e-6 and torch.equal(y_fn, x_r)

        y_detach.sum().backward()
        print("x_r.grad after the detach version:", x_r.grad)
        assert x_r.grad is None and torch.equal(x.grad, torch.ones(1000))
        """),
        md(r"""
        ## Summary

        - A custom `torch.autograd.Function` sets the forward value and the backward gradient
          independently; `gradcheck` tells you whether the two are consistent.
        - `ReplaceforGrad.apply(x, x_r)`: **value of `x_r`**, gradient passed unchanged to **both**
          `x` and `x_r`. Any graph behind `x` receives the gradient evaluated at `x_r`'s value.
        - `gradcheck` passes for `x_r` and must fail for `x`: the mismatch is the feature.
        - `x + (x_r - x).detach()` is the same up to rounding, without a gradient for `x_r`.

        **Next:** notebook 04 introduces the presynaptic **trace** and uses `ReplaceforGrad` twice
        to build `GradwithTrace`, whose weight gradient is $\sum_t g[t]^\top a[t]$.

        **Where this is in SpikingJelly:**
        `spikingjelly.activation_based.layer.online_learning.ReplaceforGrad` (and the surrogate
        Function pattern in `spikingjelly.activation_based.surrogate`). Here:
        `from ottt_edu import ReplaceforGrad`.
        """),
    ])
