"""The exercises of notebook 03 (ReplaceforGrad): the value of one tensor, the gradient of another.

``check_replace_by_detach`` checks ``fn(x, x_r) -> y`` written with ``detach`` and arithmetic
(value of ``x_r``, gradient to ``x``); ``check_replace_for_grad`` (a build-it exercise) checks
a ``torch.autograd.Function`` subclass against ``ReplaceforGrad``: exactly ``x_r``'s value,
the incoming gradient to both inputs, on several shapes in float32 and float64, inputs left
unchanged.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning``.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Callable

import torch

from ...layer.replace_for_grad import ReplaceforGrad
from ..language import say
from .core import (watched, ExerciseError, _NotAttempted, _call, _correct, _fail, _need_dtype, _need_tensor,
                   _not_attempted)
from .harness import _close, _grad_hint, _inputs_unchanged, _run

__all__ = ["check_replace_by_detach", "check_replace_for_grad"]


# -- 03: ReplaceforGrad by detach ---------------------------------------------------------------
def _detach_only(name: str, fn: Any) -> None:
    """The exercise is the detach trick: a custom ``autograd.Function`` (the exercise above) or
    ``.data`` (which hides a change from autograd) is not it. Read from ``fn``'s source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return
    for node in ast.walk(tree):
        used = (node.attr if isinstance(node, ast.Attribute) else
                node.id if isinstance(node, ast.Name) else None)
        if used in ("Function", "apply", "data"):
            how = ".data" if used == "data" else say("a custom autograd.Function",
                                                     "自定义的 autograd.Function")
            raise ExerciseError(say(
                f"{name}: your replace_by_detach uses {how}; this exercise is the other way, "
                f"with arithmetic and .detach() only (a Function is MyReplaceforGrad's way, above; "
                f".data changes a value behind autograd's back).",
                f"{name}：你的 replace_by_detach 用了 {how}；本练习要走另一条路：只用算术运算和 "
                f".detach()（Function 是上面 MyReplaceforGrad 的做法；.data 会绕过自动微分修改数值）。"))


@watched()
def check_replace_by_detach(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(x, x_r) -> y`` (notebook 03): value of ``x_r``, gradient to ``x``.

    Written with ``detach`` and arithmetic only, ``y`` must have ``x_r``'s value (up to
    rounding, 1e-6) and pass the incoming gradient unchanged to ``x``, as
    ``ReplaceforGrad.apply(x, x_r)`` does. (Unlike ``ReplaceforGrad``, ``x_r`` need not
    receive a gradient: in ``GradwithTrace`` it never needs one.)
    """
    name = "check_replace_by_detach"
    gen = torch.Generator().manual_seed(3)
    try:
        for i, shape in enumerate([(4,), (2, 3), (3, 2, 2)]):
            x0 = torch.randn(shape, generator=gen, dtype=torch.float64)
            x_r = torch.randn(shape, generator=gen, dtype=torch.float64)
            upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
            x_ref = x0.clone().requires_grad_(True)
            y_ref = ReplaceforGrad.apply(x_ref * 1.0, x_r)
            y_ref.backward(upstream)
            x_in = x0.clone().requires_grad_(True)
            x_r_leaf = x_r.clone().requires_grad_(True)   # to see where the gradient goes
            case = say(f"case {i} (shape {shape})", f"用例 {i} (形状 {shape})")
            x_arg, x_r_arg = x_in * 1.0, x_r_leaf * 1.0
            got = _call(name, fn, x_arg, x_r_arg)
            _inputs_unchanged(name, case, x=(x0, x_arg), x_r=(x_r, x_r_arg))
            got = _need_tensor(name, case, got, shape)
            _need_dtype(name, case, got, x_r.dtype)
            if not torch.allclose(got.detach().to(x_r.dtype), x_r, atol=1e-6, rtol=0):
                hint = say("y's value must be x_r's value.", "y 的值必须等于 x_r 的值。")
                if torch.allclose(got.detach().to(x_r.dtype), x0, atol=1e-6):
                    hint = say("y has x's value; it should have x_r's: add to x a detached term that "
                               "turns its value into x_r's.",
                               "y 的值是 x 的值；它应该是 x_r 的值：给 x 加上一个分离（detach）的项，"
                               "把它的值变成 x_r 的值。")
                _fail(name, case + say(", forward value", "，前向值"), x_r, got, hint)
            if got.grad_fn is None:
                _fail(name, case + say(", gradient", "，梯度"),
                      say("an output with a graph", "带计算图的输出"), say("no graph", "没有计算图"),
                      say("you detached everything: the x term must keep its graph.",
                          "你把所有项都分离了：x 这一项必须保留它的计算图。"))
            got.backward(upstream)
            if x_in.grad is None and x_r_leaf.grad is not None:
                _fail(name, case + say(", gradient dL/dx", "，梯度 dL/dx"), x_ref.grad, x_in.grad,
                      say("x gets no gradient (it all went to x_r): the value must come from x_r, "
                          "the gradient must flow to x. Keep the value of x_r and the gradient path "
                          "of x: start from x and add a correction that autograd ignores.",
                          "x 没有得到梯度（梯度全部流向了 x_r）：值必须来自 x_r，梯度必须流向 x。"
                          "保留 x_r 的值和 x 的梯度路径：从 x 出发，加上一个自动微分会忽略的修正项。"))
            if x_in.grad is None or not torch.allclose(x_in.grad, x_ref.grad, atol=1e-9):
                _fail(name, case + say(", gradient dL/dx", "，梯度 dL/dx"), x_ref.grad, x_in.grad,
                      say("x must receive the incoming gradient unchanged (times 1): detach only the "
                          "term that corrects the value, not x itself.",
                          "x 必须原样（乘以 1）接收传入的梯度：只分离修正数值的那一项，"
                          "而不是 x 本身。"))
    except _NotAttempted:
        return _not_attempted(say("your replace_by_detach", "你的 replace_by_detach"))
    _detach_only(name, fn)  # right values and gradients: now the way it got them
    return _correct(say("value of x_r, gradient to x, as ReplaceforGrad on 3 shapes.",
                        "值来自 x_r，梯度传给 x：在 3 种形状上与 ReplaceforGrad 一致。"))

# -- 03: ReplaceforGrad as a torch.autograd.Function -------------------------------------------
@watched()
def check_replace_for_grad(fn_class: Any) -> bool:
    """Check a ``torch.autograd.Function`` subclass against ``ReplaceforGrad`` (notebook 03).

    ``fn_class.apply(x, x_r)`` must return a tensor with exactly ``x_r``'s value, and its
    backward must hand the incoming gradient, unchanged, to both ``x`` and ``x_r``. Checked on
    several shapes in float32 and float64, with ``x`` the output of a layer (``W @ u``, so
    ``W`` must get ``grad u^T``), and the inputs must be left unchanged.
    """
    name = "check_replace_for_grad"
    if not (isinstance(fn_class, type) and issubclass(fn_class, torch.autograd.Function)):
        raise ExerciseError(say(
            f"{name}: expected a subclass of torch.autograd.Function (the class itself, e.g. "
            f"check_replace_for_grad(MyReplaceforGrad)), got {type(fn_class).__name__}.",
            f"{name}：需要 torch.autograd.Function 的一个子类（类本身，例如 "
            f"check_replace_for_grad(MyReplaceforGrad)），收到的是 {type(fn_class).__name__}。"))
    gen = torch.Generator().manual_seed(31)
    try:
        for i, (shape, dtype) in enumerate([((4,), torch.float64), ((2, 3), torch.float32),
                                            ((3, 2, 2), torch.float64)]):
            case = say(f"case {i} (shape {shape}, {str(dtype).replace('torch.', '')})",
                       f"用例 {i} (形状 {shape}, {str(dtype).replace('torch.', '')})")
            n = shape[-1]
            W0 = torch.randn(shape[:-1] + (n, n), generator=gen, dtype=dtype)
            u = torch.randn(shape, generator=gen, dtype=dtype)
            x_r0 = torch.randn(shape, generator=gen, dtype=dtype)
            up = torch.randn(shape, generator=gen, dtype=dtype)
            W = W0.clone().requires_grad_(True)
            x_r_leaf = x_r0.clone().requires_grad_(True)
            x_in = (W @ u.unsqueeze(-1)).squeeze(-1)            # x has a graph back to W
            x_r_in = x_r_leaf * 1.0
            x_before, x_r_before = x_in.detach().clone(), x_r_in.detach().clone()
            y = _run(name, case, fn_class.apply, x_in, x_r_in)
            _inputs_unchanged(name, case, x=(x_before, x_in), x_r=(x_r_before, x_r_in))
            y = _need_tensor(name, case, y, shape)
            _need_dtype(name, case, y, dtype)
            if not torch.equal(y.detach(), x_r0):
                if _close(y, x_before, atol=1e-6):
                    hint = say("forward returned x's value; it must return x_r's value.",
                               "forward 返回了 x 的值；它必须返回 x_r 的值。")
                elif _close(y, x_r0, atol=1e-5):
                    hint = say("close to x_r but not equal: return x_r's value exactly (no "
                               "arithmetic on it).",
                               "接近 x_r 但不相等：请原样返回 x_r 的值（不要对它做任何运算）。")
                else:
                    hint = say("forward must return a tensor with the value of x_r.",
                               "forward 必须返回一个值等于 x_r 的张量。")
                _fail(name, case + say(", forward value", "，前向值"), x_r0, y, hint)
            if y.grad_fn is None:
                _fail(name, case, say("an output with a graph", "带计算图的输出"),
                      say("no graph", "没有计算图"),
                      say("call the Function with .apply(x, x_r), and return a tensor from forward.",
                          "请用 .apply(x, x_r) 调用这个 Function，并从 forward 返回一个张量。"))
            _run(name, case + say(" (backward)", "（反向传播时）"), lambda: y.backward(up))
            want_W = up.unsqueeze(-1) * u.unsqueeze(-2)          # grad to x is up; W gets up u^T
            if x_r_leaf.grad is None:
                _fail(name, case + say(", gradient dL/dx_r", "，梯度 dL/dx_r"), up, None,
                      say("backward returned None for x_r: both inputs get the incoming gradient.",
                          "backward 对 x_r 返回了 None：两个输入都要得到传入的梯度。"))
            if W.grad is None:
                _fail(name, case + say(", gradient dL/dx", "，梯度 dL/dx"), up, None,
                      say("no gradient reached x: backward's first return value is x's gradient, "
                          "and it is the incoming gradient itself (x's value was never used).",
                          "没有梯度传到 x：backward 的第一个返回值是 x 的梯度，它就是传入的梯度"
                          "本身（x 的值从未被用到）。"))
            tol = 1e-5 if dtype == torch.float32 else 1e-10
            for what, got, want in [("dL/dx_r", x_r_leaf.grad, up),
                                    (say("dL/dW through x", "经由 x 的 dL/dW"), W.grad, want_W)]:
                if not _close(got, want, atol=tol):
                    hint = _grad_hint(got, want, say("backward passes the incoming gradient "
                                                     "unchanged (times 1) to x and to x_r.",
                                                     "backward 把传入的梯度原样（乘以 1）传给 x "
                                                     "和 x_r。"))
                    _fail(name, say(f"{case}, gradient {what}", f"{case}，梯度 {what}"), want, got,
                          hint)
    except _NotAttempted:
        return _not_attempted(say("your Function", "你的 Function"))
    return _correct(say("value of x_r exactly, the incoming gradient to both x and x_r, inputs left "
                        "unchanged: as ReplaceforGrad on 3 shapes (float32 and float64).",
                        "值严格等于 x_r，传入的梯度同时传给 x 和 x_r，输入保持不变：在 3 种形状上"
                        "（float32 和 float64）都与 ReplaceforGrad 一致。"))
