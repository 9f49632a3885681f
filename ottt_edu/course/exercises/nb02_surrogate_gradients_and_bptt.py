"""The exercise of notebook 02 (surrogate gradients and BPTT): a surrogate spike by detach.

``check_surrogate_spike`` checks ``fn(x, alpha) -> spike``: the exact step ``heaviside(x)``
as the value and the gradient of ``sigmoid(alpha x)``, as
``ottt_edu.neuron.surrogate.Sigmoid(alpha)`` gives, on seeded inputs (``x = 0`` included) and
``alpha`` in ``{1, 4, 10}``.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195).
"""
from __future__ import annotations

from typing import Callable

import torch

from ...neuron.surrogate import Sigmoid
from ..language import say
from .harness import _inputs_unchanged
from .core import (_NotAttempted, _call, _correct, _fail, _need_dtype, _need_tensor, _not_attempted,
                   watched)

__all__ = ["check_surrogate_spike"]


#: how far the forward value may be from the exact step, in units of the dtype's eps: the
#: natural ``H + s - s.detach()`` is off by one unit of rounding where ``s`` is not small
VALUE_TOLERANCE = 4


# -- 02: surrogate spike with detach ----------------------------------------------------------
@watched("ottt_edu.neuron.surrogate.heaviside")
def check_surrogate_spike(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(x, alpha) -> spike`` (notebook 02): step forward, sigmoid-surrogate backward.

    The output's value must equal ``heaviside(x)`` (1 where ``x >= 0``), up to 4 units of
    rounding (``VALUE_TOLERANCE`` times the dtype's eps), it must keep the input's dtype, and its
    gradient must be ``alpha sigmoid(alpha x)(1 - sigmoid(alpha x))``, as for
    ``ottt_edu.neuron.surrogate.Sigmoid(alpha)``. Checked for several seeded ``x`` (including
    ``x = 0``), ``alpha`` in ``{1, 4, 10}``, float64 and float32.
    """
    name = "check_surrogate_spike"
    gen = torch.Generator().manual_seed(2)
    try:
        for i, (alpha, dtype) in enumerate([(4.0, torch.float64), (1.0, torch.float64),
                                            (10.0, torch.float64), (4.0, torch.float32)]):
            x = (2.0 * torch.rand(3, 5, generator=gen, dtype=torch.float64) - 1.0).to(dtype)
            x[0, 0] = 0.0
            x_ref = x.clone().requires_grad_(True)
            ref = Sigmoid(alpha)(x_ref)
            w = torch.rand(3, 5, generator=gen, dtype=torch.float64).to(dtype)
            (ref * w).sum().backward()
            x_in = x.clone().requires_grad_(True)
            kind = str(dtype).replace("torch.", "")
            case = say(f"case {i} (alpha={alpha}, x of shape (3, 5), {kind})",
                       f"用例 {i} (alpha={alpha}, x 的形状为 (3, 5), {kind})")
            got = _need_tensor(name, case, _call(name, fn, x_in, alpha), (3, 5))
            _inputs_unchanged(name, case, x=(x, x_in))
            _need_dtype(name, case, got, dtype)
            # the value: the step, up to the last bits (H + s - s.detach() rounds there)
            off = float((got.detach() - ref.detach()).abs().max())
            if off > VALUE_TOLERANCE * torch.finfo(dtype).eps:
                hint = say("the forward value must be the exact step: 1.0 where x >= 0 (x = 0 "
                           "included), 0.0 elsewhere. A value like sigmoid(alpha x) + ... - ... "
                           "can be off by rounding: keep the exact step as the value and add a term that is "
                           "zero in value but carries the smooth function's gradient.",
                           "前向值必须严格等于阶跃函数：x >= 0 处（包括 x = 0）为 1.0，其余位置为 "
                           "0.0。像 sigmoid(alpha x) + ... - ... 这样的值可能有舍入误差：以严格的阶跃作为值，"
                           "再加上一项数值为零、但带有平滑函数梯度的项。")
                if float(got.detach()[0, 0]) == 0.0:
                    hint = say("at x = 0 the spike is 1 (SpikingJelly fires when v >= v_threshold).",
                               "在 x = 0 处脉冲为 1（SpikingJelly 在 v >= v_threshold 时发放）。")
                hint += say(f" (largest difference from the step: {off:.3g}; accepted: "
                            f"{VALUE_TOLERANCE} x the dtype's eps, {VALUE_TOLERANCE * torch.finfo(dtype).eps:.1g})",
                            f"（与阶跃函数的最大差值：{off:.3g}；可接受：该 dtype 的 eps 的 "
                            f"{VALUE_TOLERANCE} 倍，即 {VALUE_TOLERANCE * torch.finfo(dtype).eps:.1g}）")
                _fail(name, case + say(", forward value", "，前向值"), ref, got, hint)
            if got.grad_fn is None:
                _fail(name, case + say(", gradient", "，梯度"),
                      say("an output with a graph (grad_fn)", "带计算图 (grad_fn) 的输出"),
                      say("no graph", "没有计算图"),
                      say("everything was detached; keep one term with a graph, e.g. "
                          "sigmoid(alpha * x) - sigmoid(alpha * x).detach().",
                          "所有项都被分离了；请保留一个带计算图的项，例如 "
                          "sigmoid(alpha * x) - sigmoid(alpha * x).detach()。"))
            (got * w).sum().backward()
            if x_in.grad is None:
                _fail(name, case + say(", gradient", "，梯度"), x_ref.grad, None,
                      say("no gradient reached x: the surviving term must depend on x.",
                          "没有梯度传到 x：保留下来的那一项必须依赖于 x。"))
            if not torch.allclose(x_in.grad.to(x_ref.grad.dtype), x_ref.grad, atol=1e-6, rtol=1e-5):
                hint = say("the gradient must be that of sigmoid(alpha * x), not of the step.",
                           "梯度必须是 sigmoid(alpha * x) 的梯度，而不是阶跃函数的梯度。")
                plain = torch.sigmoid(x) * (1 - torch.sigmoid(x)) * w
                mine = x_in.grad.to(x_ref.grad.dtype)
                if torch.allclose(x_in.grad.to(plain.dtype), plain, atol=1e-6):
                    hint = say("you used sigmoid(x); the surrogate is sigmoid(alpha * x).",
                               "你用的是 sigmoid(x)；替代函数是 sigmoid(alpha * x)。")
                elif torch.allclose(mine, -x_ref.grad, atol=1e-6, rtol=1e-5):
                    hint = say("the gradient has the wrong sign: the term with the graph must be "
                               "added and its detached copy subtracted (+ sg - sg.detach()), not "
                               "the other way round.",
                               "梯度的符号反了：带计算图的项要加上，它分离后的副本要减去 "
                               "(+ sg - sg.detach())，而不是反过来。")
                elif torch.allclose(mine, alpha * x_ref.grad, atol=1e-6, rtol=1e-5):
                    hint = say("the gradient is alpha times too large: sigmoid(alpha * x) already "
                               "brings its factor alpha through the chain rule; do not multiply "
                               "by alpha again.",
                               "梯度大了 alpha 倍：sigmoid(alpha * x) 通过链式法则已经带上了因子 "
                               "alpha；不要再乘一次 alpha。")
                _fail(name, case + say(", gradient dL/dx", "，梯度 dL/dx"), x_ref.grad, x_in.grad,
                      hint)
    except _NotAttempted:
        return _not_attempted(say("your surrogate_spike", "你的 surrogate_spike"))
    return _correct(say("step forward and sigmoid-surrogate backward match surrogate.Sigmoid "
                        "for alpha = 4, 1 and 10, in float64 and float32.",
                        "前向为阶跃、反向为 sigmoid 替代梯度，在 alpha = 4、1 和 10 时，float64 与 "
                        "float32 下都与 surrogate.Sigmoid 一致。"))
