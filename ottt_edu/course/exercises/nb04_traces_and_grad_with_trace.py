"""The exercises of notebook 04 (traces and GradwithTrace): OTTT's presynaptic trace and its
weight gradient.

``check_trace_closed_form`` (the trace ``a[t] = sum_{t' <= t} (1 - 1/tau)^(t - t') s[t']``
against ``OTTTLIFNode``'s), ``check_ottt_weight_grad`` (``dL/dW = sum_t g[t]^T a[t]`` against
``GradwithTrace``'s ``weight.grad``), and two build-it exercises: ``check_ottt_lif_step`` (one
step of ``OTTTLIFNode`` with its trace, alone and as the neuron of an MLP and a CNN) and
``check_grad_with_trace`` (``GradwithTrace`` from ``ReplaceforGrad``: value from the spike,
parameter gradients from the trace, alone and inside an MLP and a CNN).

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning``.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn

from ..._checks import is_spike_trace_pair as _is_pair
from ...layer.grad_with_trace import GradwithTrace
from ...layer.ottt_sequential import OTTTSequential
from ...neuron.lif import OTTTLIFNode
from ...neuron.surrogate import Sigmoid
from ..language import say
from .core import (watched, ExerciseError, _NotAttempted, _correct, _fail, _fmt, _need_class, _need_dtype,
                   _need_tensor, _not_attempted)
from .harness import (_registers_module, _Dispatch, _StepFnNode, _close, _compare_online, _grad_hint,
                      _inputs_unchanged, _layers, _run)

__all__ = ["check_trace_closed_form", "check_ottt_weight_grad", "check_ottt_lif_step",
           "check_grad_with_trace"]


# -- 04: traces and the OTTT weight gradient ---------------------------------------------------
def _library_spikes_and_traces(T: int, N: int, tau: float, seed: int
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and traces ``(T, N)`` of an ``OTTTLIFNode`` driven by seeded random currents."""
    gen = torch.Generator().manual_seed(seed)
    node = OTTTLIFNode(tau=tau).train()
    x = 1.2 * torch.rand(T, N, generator=gen, dtype=torch.float64)
    spikes, traces = [], []
    for t in range(T):
        s, a = node(x[t])
        spikes.append(s.detach())
        traces.append(a.detach().clone())
    return torch.stack(spikes), torch.stack(traces)


@watched()
def check_trace_closed_form(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(spikes, tau) -> traces`` (notebook 04), both ``(T, N)``.

    ``a[t] = sum_{t' <= t} (1 - 1/tau)^(t - t') s[t']``, compared with the ``trace`` that
    ``OTTTLIFNode`` keeps, for seeded spike trains and ``tau`` in ``{2, 4, 1.5}``. The spikes
    come in float64 and in float32 (the answer must work for both: build new tensors with
    ``spikes.dtype``), and one train is long (T = 200, float32: ``k^-(T-1)`` is past float32's
    range, so an answer that raises k to a negative power, or divides by ``k^t``, gives inf or
    NaN); an error inside your code is turned into a hint.
    """
    name = "check_trace_closed_form"
    try:
        for i, (T, N, tau, dtype) in enumerate([(8, 3, 2.0, torch.float64), (12, 5, 4.0, torch.float32),
                                                (6, 2, 1.5, torch.float64), (7, 2, 2.0, torch.float32),
                                                (200, 3, 2.0, torch.float32)]):
            spikes, traces = _library_spikes_and_traces(T, N, tau, seed=40 + i)
            spikes, traces = spikes.to(dtype), traces.to(dtype)
            case = say(f"case {i} (T={T}, N={N}, tau={tau}, spikes {str(dtype).replace('torch.', '')})",
                       f"用例 {i} (T={T}, N={N}, tau={tau}, 脉冲为 {str(dtype).replace('torch.', '')})")
            spikes_in = spikes.clone()
            got = _run(name, case, fn, spikes_in, tau)
            _inputs_unchanged(name, case, spikes=(spikes, spikes_in))
            got = _need_tensor(name, case, got, (T, N))
            _need_dtype(name, case, got, dtype)
            got = got.detach().to(traces.dtype)
            atol = 1e-6 if dtype == torch.float64 else 1e-4
            if torch.allclose(got, traces, atol=atol):
                continue
            k = 1.0 - 1.0 / tau
            t_idx = torch.arange(T, dtype=torch.float64)
            lag = t_idx[:, None] - t_idx[None, :]
            K = torch.where(lag >= 0, k ** lag.clamp(min=0), torch.zeros_like(lag)).to(dtype)
            shifted = torch.cat([torch.zeros_like(traces[:1]), traces[:-1]])
            spikes64 = spikes.double()
            if not torch.isfinite(got).all():
                first = int((~torch.isfinite(got)).any(dim=1).nonzero()[0])
                hint = say(f"your traces hold inf or NaN for this long spike train, from t = {first} "
                           f"on: k^(t - t') with t' > t is k to a negative power, up to k^-{T - 1} = "
                           f"{k ** -(T - 1):.3g}, past {str(dtype).replace('torch.', '')}'s range, and "
                           f"so is 1 / k^t. For the matrix: zero the upper triangle before you raise k "
                           f"to the power (clamp the exponent at 0, or torch.where on t' <= t). A form "
                           f"that divides by k^t cannot be saved this way: use the matrix.",
                           f"对这个较长的脉冲序列，你的迹从 t = {first} 起含有 inf 或 NaN：t' > t 时 k^(t - t') "
                           f"是 k 的负数次幂，最大可达 k^-{T - 1} = {k ** -(T - 1):.3g}，超出了 "
                           f"{str(dtype).replace('torch.', '')} 的表示范围，1 / k^t 也一样。对矩阵形式："
                           f"请在求幂之前处理上三角（把指数截断为不小于 0，或对 t' <= t 用 torch.where）。"
                           f"除以 k^t 的形式无法这样补救：请改用矩阵形式。")
            elif torch.allclose(got.double(), (k ** lag.abs()) @ spikes64, atol=atol) or torch.allclose(
                    got.double(), (k ** lag) @ spikes64, atol=atol):
                hint = say("no mask: your K is non-zero above the diagonal too, so each trace also "
                           "counts later spikes. Keep t' <= t only (the lower triangle, torch.tril).",
                           "缺少掩码：你的 K 在对角线上方也不为零，所以每个迹还累计了之后的脉冲。"
                           "只保留 t' <= t 的部分（下三角，torch.tril）。")
            elif torch.allclose(got, -traces, atol=atol):
                hint = say("sign flip: a trace counts spikes, it is never negative.",
                           "符号反了：迹累计的是脉冲，永远不会是负数。")
            elif torch.allclose(got, shifted, atol=atol):
                hint = say("shifted by one time step: a[t] includes s[t] (a[0] = s[0]), the exponent "
                           "is t - t' with t' <= t.",
                           "错开了一个时间步：a[t] 包含 s[t] (a[0] = s[0])，指数是 t - t'，其中 "
                           "t' <= t。")
            elif torch.allclose(got, K.T @ spikes, atol=atol):
                hint = say("transposed matrix: you summed future spikes. K[t, t'] = k^(t - t') is "
                           "non-zero for t' <= t only, the lower triangle (torch.tril).",
                           "矩阵转置了：你累加的是未来的脉冲。K[t, t'] = k^(t - t') 只在 t' <= t "
                           "时非零，即下三角部分 (torch.tril)。")
            elif torch.allclose(got, k * traces, atol=atol):
                hint = say("your traces are k times too small: the current spike enters with "
                           "weight k^0 = 1 (exponent t - t', not t - t' + 1).",
                           "你的迹整体多乘了一个因子 k：当前时间步的脉冲以权重 k^0 = 1 计入"
                           "（指数是 t - t'，不是 t - t' + 1）。")
            elif torch.allclose(got, traces - spikes, atol=atol):
                hint = say("the sum runs over t' <= t: include the spike of the current step.",
                           "求和范围是 t' <= t：要包含当前时间步的脉冲。")
            elif torch.allclose(got.flip(0), traces, atol=atol):
                hint = say("time runs along dim 0 from the first step; check the direction of the powers.",
                           "时间沿 dim 0 从第一个时间步开始排列；请检查幂次的方向。")
            else:
                hint = say(f"the decay per step is k = 1 - 1/tau = {k:.4f} (not 1/tau, not "
                           f"exp(-1/tau)). Build the (T, T) matrix K[t, t'] = k^(t - t') for "
                           f"t' <= t and 0 otherwise, then traces = K @ spikes.",
                           f"每个时间步的衰减因子是 k = 1 - 1/tau = {k:.4f}（不是 1/tau，也不是 "
                           f"exp(-1/tau)）。构造 (T, T) 矩阵 K：t' <= t 时 K[t, t'] = k^(t - t')，"
                           f"否则为 0；然后 traces = K @ spikes。")
            _fail(name, case, traces, got, hint)
    except _NotAttempted:
        return _not_attempted(say("your trace_closed_form", "你的 trace_closed_form"))
    return _correct(say("your closed form equals OTTTLIFNode's trace on 4 spike trains "
                        "(float64 and float32).",
                        "在 4 个脉冲序列上（float64 和 float32），你的闭式解都等于 OTTTLIFNode "
                        "的迹。"))


@watched()
def check_ottt_weight_grad(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(g, a) -> dL/dW`` (notebook 04): ``sum_t g[t]^T a[t]``.

    ``g`` is ``(T, B, N_out)`` (the gradient of the loss with respect to the layer's output at
    each step), ``a`` is ``(T, B, N_in)`` (the presynaptic traces); the answer is
    ``(N_out, N_in)``, the shape of ``nn.Linear.weight``. Compared with the ``weight.grad``
    that ``GradwithTrace(nn.Linear(N_in, N_out))`` accumulates over the T steps; float64 and
    float32 inputs.
    """
    name = "check_ottt_weight_grad"
    try:
        for i, (T, B, n_in, n_out) in enumerate([(4, 2, 3, 2), (6, 3, 5, 4), (3, 1, 2, 3), (5, 2, 3, 4)]):
            gen = torch.Generator().manual_seed(50 + i)
            spikes, traces = _library_spikes_and_traces(T, B * n_in, 2.0, seed=60 + i)
            spikes, traces = spikes.reshape(T, B, n_in), traces.reshape(T, B, n_in)
            g = torch.randn(T, B, n_out, generator=gen, dtype=torch.float64)
            with torch.random.fork_rng():  # leave the notebook's random stream alone
                torch.manual_seed(70 + i)
                layer = GradwithTrace(nn.Linear(n_in, n_out).double())
            for t in range(T):
                layer([spikes[t], traces[t]]).backward(g[t])
            expected = layer.module.weight.grad
            dtype = torch.float32 if i == 3 else torch.float64
            case = say(f"case {i} (T={T}, B={B}, N_in={n_in}, N_out={n_out}, "
                       f"{str(dtype).replace('torch.', '')})",
                       f"用例 {i} (T={T}, B={B}, N_in={n_in}, N_out={n_out}, "
                       f"{str(dtype).replace('torch.', '')})")
            g_in, a_in = g.to(dtype), traces.to(dtype)
            g0, a0 = g_in.clone(), a_in.clone()
            got = _run(name, case, fn, g_in, a_in)
            _inputs_unchanged(name, case, g=(g0, g_in), a=(a0, a_in))
            if dtype == torch.float32:
                expected = torch.einsum("tbo,tbi->oi", g_in, a_in).double()
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (n_in, n_out) and n_in != n_out:
                _fail(name, case, expected, got,
                      say("transposed: nn.Linear stores its weight as (N_out, N_in), so the answer "
                          "is g^T a, summed over t and the batch.",
                          "转置了：nn.Linear 的权重形状是 (N_out, N_in)，所以答案是 g^T a，"
                          "并对 t 和批求和。"))
            got = _need_tensor(name, case, got, (n_out, n_in))
            _need_dtype(name, case, got, dtype)
            got = got.detach().to(expected.dtype)
            atol = 1e-8 if dtype == torch.float64 else 1e-4
            if torch.allclose(got, expected, atol=atol):
                continue
            hint = say("sum over both time and batch of the outer products g[t, b] a[t, b]^T (shape "
                       "(N_out, N_in)); torch.einsum can do it in one call.",
                       "对时间和批两个维度求外积 g[t, b] a[t, b]^T 之和（形状为 (N_out, N_in)）；"
                       "torch.einsum 一次调用就能完成。")
            a_prev = torch.cat([torch.zeros_like(traces[:1]), traces[:-1]])
            if torch.allclose(got, -expected, atol=atol):
                hint = say("sign flip: the gradient is + sum_t g[t]^T a[t] (the minus sign belongs to the update).",
                           "符号反了：梯度是 + sum_t g[t]^T a[t]（负号属于参数更新那一步）。")
            elif torch.allclose(got, torch.einsum("tbo,tbi->oi", g, a_prev), atol=atol):
                hint = say("shifted by one time step: pair g[t] with the trace of the same step, a[t].",
                           "错开了一个时间步：g[t] 要与同一时间步的迹 a[t] 配对。")
            elif torch.allclose(got * T, expected, atol=atol):
                hint = say("you averaged over time; the gradients of the T steps add up (sum, not mean).",
                           "你对时间取了平均；T 个时间步的梯度是相加的（求和，而不是平均）。")
            elif B > 1 and torch.allclose(got * B, expected, atol=atol):
                hint = say("you averaged over the batch; autograd sums over it.",
                           "你对批取了平均；自动微分 (autograd) 是对批求和的。")
            _fail(name, case, expected, got, hint)
    except _NotAttempted:
        return _not_attempted(say("your ottt_weight_grad", "你的 ottt_weight_grad"))
    return _correct(say("sum_t g[t]^T a[t] equals GradwithTrace's weight.grad on 4 cases "
                        "(float64 and float32).",
                        "在 4 个用例上（float64 和 float32），sum_t g[t]^T a[t] 都等于 "
                        "GradwithTrace 的 weight.grad。"))


# -- 04: one OTTT LIF step with the trace ------------------------------------------------------
def _lif_step_ref(x: torch.Tensor, v: torch.Tensor, trace: torch.Tensor, tau: float, thr: float,
                  training: bool) -> tuple[Any, torch.Tensor, torch.Tensor]:
    node = OTTTLIFNode(tau=tau, v_threshold=thr).train(training)
    node.v, node.trace = v, trace.clone()
    out = node(x)
    return out, node.v, node.trace


@watched("ottt_edu.neuron.surrogate")
def check_ottt_lif_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(x, v, trace, tau, v_threshold, surrogate, training) -> (out, v, trace)``:
    one step of ``OTTTLIFNode`` (notebook 04).

    ``x``, ``v`` (after the previous step's reset) and ``trace`` are tensors of one shape
    ``(B, ...)``. Checked against ``OTTTLIFNode`` (the neuron section 1 of the notebook
    describes): the values of the spike, the new ``v`` and the trace; which gradients flow
    (through the spike, through the new ``v``) and which must not (into the old ``v``, into
    the trace); exact ties ``v == v_threshold``; training (a ``[spike, trace]`` pair) and eval
    (the spike alone, the trace untouched); inputs left unchanged; then as the neuron of an
    MLP and a CNN over several steps and sequences, in training and eval mode.
    """
    name = "check_ottt_lif_step"
    gen = torch.Generator().manual_seed(41)
    sg = Sigmoid()
    try:
        for i, (shape, tau, thr, training) in enumerate(
                [((6,), 2.0, 1.0, True), ((2, 4), 4.0, 0.75, True), ((2, 4), 2.0, 1.0, False)]):
            case = say(f"case {i} (x of shape {shape}, tau={tau}, v_threshold={thr}, "
                       f"{'training' if training else 'eval'} mode)",
                       f"用例 {i} (x 的形状为 {shape}, tau={tau}, v_threshold={thr}, "
                       f"{'训练' if training else '评估'}模式)")
            k = 1.0 - 1.0 / tau
            x0 = 1.2 * torch.rand(shape, generator=gen, dtype=torch.float64)
            v0 = 0.8 * torch.rand(shape, generator=gen, dtype=torch.float64)
            a0 = 2.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
            flat_x, flat_v = x0.view(-1), v0.view(-1)
            flat_v[0], flat_x[0] = 0.5, thr - k * 0.5             # exact tie: v == v_threshold
            w = torch.randn(shape, generator=gen, dtype=torch.float64)

            def call():
                x = x0.clone().requires_grad_(True)
                v_leaf = v0.clone().requires_grad_(True)
                v = v_leaf * 1.0                                    # v carries a graph, as in a net
                a = a0.clone()
                res = _run(name, case, fn, x, v, a, tau, thr, sg, training)
                _inputs_unchanged(name, case, x=(x0, x), v=(v0, v), trace=(a0, a))
                if not (isinstance(res, (tuple, list)) and len(res) == 3):
                    raise ExerciseError(say(
                        f"{name}: for {case} return three things, (out, v, trace); "
                        f"got {_fmt(res) if not isinstance(res, (tuple, list)) else len(res)}.",
                        f"{name}：{case}：请返回三个值 (out, v, trace)；实际得到的是 "
                        f"{_fmt(res) if not isinstance(res, (tuple, list)) else len(res)}。"))
                return x, v_leaf, res

            out_ref, v_ref, a_ref = _lif_step_ref(x0.clone().requires_grad_(True), v0.clone(), a0,
                                                  tau, thr, training)
            s_ref = out_ref[0] if training else out_ref
            x, v_leaf, (out, v_new, a_new) = call()
            if training:
                if not _is_pair(out):
                    raise ExerciseError(say(
                        f"{name}: for {case} out is {_fmt(out)}.\n  hint: in training mode return "
                        f"out = [spike, trace] (a list of two tensors), the new trace second.",
                        f"{name}：{case}：out 是 {_fmt(out)}。\n  提示：在训练模式下返回 "
                        f"out = [spike, trace]（由两个张量组成的列表），新的迹放在第二个。"))
                if not isinstance(out, list):
                    raise ExerciseError(say(
                        f"{name}: for {case} out is a {type(out).__name__} of two tensors.\n  hint: "
                        f"in training return the pair as a list, [spike, trace], not a tuple: that "
                        f"is what OTTTLIFNode returns, and the next layers tell a pair from a "
                        f"tensor by it.",
                        f"{name}：{case}：out 是由两个张量组成的 {type(out).__name__}。\n  提示：训练模式下"
                        f"请把这一对作为列表 [spike, trace] 返回，而不是元组：OTTTLIFNode 返回的就是列表，"
                        f"后面的层也靠它区分一对张量和单个张量。"))
                spike = out[0]
                if not torch.equal(out[1].detach(), a_new.detach()):
                    _fail(name, case + ", out[1]", a_new, out[1],
                          say("out[1] must be the new trace, the same one you return third.",
                              "out[1] 必须是新的迹，也就是你作为第三个返回值返回的那个。"))
            else:
                if not isinstance(out, torch.Tensor):
                    raise ExerciseError(say(
                        f"{name}: for {case} out is {_fmt(out)}.\n  hint: in eval mode return "
                        f"only the spike tensor (no trace is kept).",
                        f"{name}：{case}：out 是 {_fmt(out)}。\n  提示：在评估模式下只返回"
                        f"脉冲张量（不保留迹）。"))
                spike = out
            spike = _need_tensor(name, case, spike, shape)
            if not torch.equal(spike.detach().to(s_ref.dtype), s_ref.detach()):
                alt = {
                    say("the input is not divided by tau here (decay_input=False): "
                        "v = (1 - 1/tau) * v + x",
                        "这里输入不除以 tau (decay_input=False)：v = (1 - 1/tau) * v + x"):
                        v0 + (x0 - v0) / tau,
                    say("the leak factor is k = 1 - 1/tau, not 1/tau",
                        "泄漏因子是 k = 1 - 1/tau，而不是 1/tau"): v0 / tau + x0,
                    say("the old v leaks: multiply it by k = 1 - 1/tau before adding x",
                        "旧的 v 会泄漏：先把它乘以 k = 1 - 1/tau，再加上 x"): v0 + x0,
                }
                hint = say("charge v = (1 - 1/tau) * v + x, then spike = surrogate(v - v_threshold).",
                           "先充电 v = (1 - 1/tau) * v + x，再发放 spike = surrogate(v - v_threshold)。")
                for why, h in alt.items():
                    if torch.equal(spike.detach(), (h >= thr).to(h.dtype)):
                        hint = say(f"charge equation: {why}.", f"充电方程：{why}。")
                        break
                else:
                    tie = torch.zeros(shape, dtype=torch.bool)
                    tie.view(-1)[0] = True
                    if torch.equal(spike.detach()[~tie], s_ref.detach()[~tie]):
                        hint = say("at an exact tie v == v_threshold (element 0 here) the neuron fires: "
                                   "spike = surrogate(v - v_threshold) is 1 where v - v_threshold >= 0; "
                                   "a strict v > v_threshold misses it.",
                                   "恰好 v == v_threshold 时（这里是第 0 个元素）神经元会发放："
                                   "spike = surrogate(v - v_threshold) 在 v - v_threshold >= 0 处为 1；"
                                   "严格的 v > v_threshold 会漏掉它。")
                    elif torch.equal(spike.detach(), 1 - s_ref.detach()):
                        hint = say("sign flip: fire where v - v_threshold >= 0, i.e. surrogate(v - v_threshold).",
                                   "符号反了：应在 v - v_threshold >= 0 处发放，即 "
                                   "surrogate(v - v_threshold)。")
                _fail(name, case + say(", spike", "，脉冲"), s_ref, spike, hint)
            if spike.grad_fn is None:
                _fail(name, case + say(", spike", "，脉冲"),
                      say("a spike with a graph", "带计算图的脉冲"), say("no graph", "没有计算图"),
                      say("fire through the surrogate, spike = surrogate(v - v_threshold), so the "
                          "spike has the surrogate gradient (a comparison like v >= v_threshold has none).",
                          "请通过替代函数发放，spike = surrogate(v - v_threshold)，这样脉冲才有替代"
                          "梯度（像 v >= v_threshold 这样的比较没有梯度）。"))
            _run(name, case + say(" (backward)", "（反向传播时）"),
                 lambda: (spike * w).sum().backward())
            if v_leaf.grad is not None and v_leaf.grad.abs().max() > 0:
                _fail(name, case + say(", gradient into the previous v", "，传入上一步 v 的梯度"),
                      say("no gradient", "没有梯度"), v_leaf.grad,
                      say("charge with v detached: v = (1 - 1/tau) * v.detach() + x. "
                          "OTTT cuts the graph to earlier steps here; that is what keeps memory "
                          "constant in T.",
                          "充电时要分离 v：v = (1 - 1/tau) * v.detach() + x。OTTT 在这里切断了通往"
                          "之前时间步的计算图，正因如此内存才不随 T 增长。"))
            xr = x0.clone().requires_grad_(True)
            (sg(k * v0 + xr - thr) * w).sum().backward()
            x_grad_ref = xr.grad
            if not _close(x.grad, x_grad_ref):
                _fail(name, case + say(", gradient dL/dx through the spike", "，经由脉冲的梯度 dL/dx"),
                      x_grad_ref, x.grad,
                      _grad_hint(x.grad, x_grad_ref, say("the spike's gradient with respect to x is "
                                                         "the surrogate derivative at v - v_threshold.",
                                                         "脉冲对 x 的梯度是替代函数在 "
                                                         "v - v_threshold 处的导数。")))
            if not _close(v_new, v_ref):
                hard = (k * v0 + x0) * (1 - s_ref.detach())
                hint = say("soft reset: v = v - spike * v_threshold, after firing.",
                           "软重置：发放之后 v = v - spike * v_threshold。")
                if _close(v_new, hard):
                    hint = say("this is a hard reset to 0; OTTTLIFNode resets softly: "
                               "v = v - spike * v_threshold.",
                               "这是重置到 0 的硬重置；OTTTLIFNode 使用软重置："
                               "v = v - spike * v_threshold。")
                elif _close(v_new, k * v0 + x0):
                    hint = say("v was not reset: subtract spike * v_threshold where the neuron fired.",
                               "v 没有重置：在神经元发放的位置减去 spike * v_threshold。")
                _fail(name, case + say(", new v", "，新的 v"), v_ref, v_new, hint)
            x2, _, (_, v_new2, _) = call()
            if v_new2.grad_fn is None:
                _fail(name, case + say(", new v", "，新的 v"),
                      say("a v with a graph to x", "带有通往 x 的计算图的 v"),
                      say("no graph", "没有计算图"),
                      say("the new v keeps its graph within the step (only the next step detaches it).",
                          "新的 v 在本时间步内保留计算图（到下一步才分离它）。"))
            _run(name, case + say(" (backward)", "（反向传播时）"), lambda: v_new2.sum().backward())
            if not _close(x2.grad, torch.ones_like(x0)):
                _fail(name, case + say(", gradient dv_new/dx", "，梯度 dv_new/dx"),
                      torch.ones_like(x0), x2.grad,
                      say("the reset must be detached: v = v - spike.detach() * v_threshold, so "
                          "the gradient through the new v does not pass through the spike.",
                          "重置必须分离：v = v - spike.detach() * v_threshold，这样经由新的 v 的"
                          "梯度不会穿过脉冲。"))
            if not _close(a_new, a_ref):
                hint = say("in training: trace = (1 - 1/tau) * trace + spike.",
                           "训练模式下：trace = (1 - 1/tau) * trace + spike。")
                if not training:
                    hint = say("in eval mode the trace is not updated: return it unchanged.",
                               "评估模式下迹不更新：原样返回它。")
                elif _close(a_new, a0 + s_ref):
                    hint = say("the trace decays: multiply the old trace by k = 1 - 1/tau.",
                               "迹会衰减：把旧的迹乘以 k = 1 - 1/tau。")
                elif _close(a_new, k * a0):
                    hint = say("add the new spike to the decayed trace.",
                               "把新的脉冲加到衰减后的迹上。")
                _fail(name, case + say(", new trace", "，新的迹"), a_ref, a_new, hint)
            if training and isinstance(a_new, torch.Tensor) and a_new.requires_grad:
                _fail(name, case + say(", new trace", "，新的迹"),
                      say("a trace without gradient", "不带梯度的迹"),
                      say("a trace with a graph", "带计算图的迹"),
                      say("update the trace without gradient: inside `with torch.no_grad():` (the "
                          "trace only supplies values for the next layer's weight gradient).",
                          "更新迹时不要计算梯度：放在 `with torch.no_grad():` 里面（迹只为下一层的"
                          "权重梯度提供数值）。"))
        for arch in ("mlp", "cnn"):
            ref = OTTTSequential(*_layers(arch, 1, OTTTLIFNode))
            mine = OTTTSequential(*_layers(arch, 1, lambda: _StepFnNode(fn)))
            _compare_online(name, arch, ref, mine,
                            say("each step works alone but the neuron differs inside a network: "
                                "check the state you return (the new v and trace, every step).",
                                "单独的每一步都正确，但放进网络后神经元的结果不同：请检查你返回的"
                                "状态（每一步新的 v 和迹）。"))
    except _NotAttempted:
        return _not_attempted(say("your ottt_lif_step", "你的 ottt_lif_step"))
    return _correct(say("one step matches OTTTLIFNode (values, gradients, detached v and reset, "
                        "trace without gradient, ties, train and eval), and so do an MLP and a CNN "
                        "built with it, over two sequences with reset_net between.",
                        "单步与 OTTTLIFNode 一致（数值、梯度、分离的 v 和重置、不带梯度的迹、恰好"
                        "相等的情况、训练和评估模式），用它搭建的 MLP 和 CNN 在两个序列上（中间调用 "
                        "reset_net）也一致。"))


# -- 04: GradwithTrace from ReplaceforGrad ------------------------------------------------------
@watched("ottt_edu.layer.replace_for_grad")
def check_grad_with_trace(wrapper_class: Callable[[nn.Module], nn.Module]) -> bool:
    """Check ``wrapper_class(module)([spike, trace]) -> y`` against ``GradwithTrace`` (notebook 04).

    The value must be ``module(spike)``; the module's parameters must get the gradient of
    ``module`` evaluated on the trace (``sum_t g^T a`` for a Linear), and the spike the input
    gradient (``g W``). Checked on ``nn.Linear`` (with and without bias) and ``nn.Conv2d``
    over several steps, then inside an MLP and a CNN (training mode, where the wrapper is used)
    against the library, with the inputs left unchanged.
    """
    name = "check_grad_with_trace"
    _need_class(name, wrapper_class, "MyGradwithTrace")
    gen = torch.Generator().manual_seed(42)
    try:
        _registers_module(name, wrapper_class, nn.Linear(3, 2), "MyGradwithTrace(nn.Linear(3, 2))")
        specs = [("nn.Linear(3, 2)", lambda: nn.Linear(3, 2), (2, 3)),
                 ("nn.Linear(4, 4, bias=False)", lambda: nn.Linear(4, 4, bias=False), (3, 4)),
                 ("nn.Conv2d(2, 3, 3, padding=1)", lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 4, 4))]
        for i, (mname, make, shape) in enumerate(specs):
            with torch.random.fork_rng():
                torch.manual_seed(80 + i)
                m_mine = make().double()
            m_ref, m_spike = copy.deepcopy(m_mine), copy.deepcopy(m_mine)
            wrapped = _run(name, f"{mname}", wrapper_class, m_mine)
            ref = GradwithTrace(m_ref, grad_path="two_pass")
            T = 3
            spikes = (torch.rand((T,) + shape, generator=gen) < 0.5).double()
            traces = torch.zeros_like(spikes)
            for t in range(T):
                traces[t] = spikes[t] + (0.5 * traces[t - 1] if t else 0.0)
            for t in range(T):
                case = say(f"{mname} on spikes of shape {shape}, step {t}",
                           f"{mname}，形状为 {shape} 的脉冲输入，第 {t} 步")
                s_leaf = spikes[t].clone().requires_grad_(True)
                s_ref = spikes[t].clone().requires_grad_(True)
                s_in, a_in = s_leaf * 1.0, traces[t].clone()
                s_before = s_in.detach().clone()
                y = _run(name, case, wrapped, [s_in, a_in])
                _inputs_unchanged(name, case, spike=(s_before, s_in), trace=(traces[t], a_in))
                y_ref = ref([s_ref * 1.0, traces[t].clone()])
                y = _need_tensor(name, case, y, tuple(y_ref.shape))
                if not _close(y, y_ref):
                    hint = say("the value must be module(spike).", "值必须是 module(spike)。")
                    with torch.no_grad():
                        if _close(y, m_ref(traces[t])):
                            hint = say("the value came from the trace; it must be module(spike).",
                                       "值来自迹；它必须是 module(spike)。")
                    _fail(name, case + say(", value", "，输出值"), y_ref, y, hint)
                if y.grad_fn is None:
                    _fail(name, case, say("an output with a graph", "带计算图的输出"),
                          say("no graph", "没有计算图"),
                          say("the output must carry the gradient path: module applied (with a graph) "
                              "to a tensor whose value is the trace.",
                              "输出必须带有梯度路径：把 module（带计算图地）作用于一个值等于迹的"
                              "张量。"))
                g = torch.randn(y_ref.shape, generator=gen, dtype=torch.float64)
                y_ref.backward(g)
                _run(name, case + say(" (backward)", "（反向传播时）"), lambda: y.backward(g))
                m_spike(spikes[t]).backward(g)
                if not _close(s_leaf.grad, s_ref.grad):
                    hint = _grad_hint(s_leaf.grad, s_ref.grad,
                                      say("the input gradient (g W for a Linear) must reach the spike: "
                                          "the tensor the module sees for the gradient has the trace's "
                                          "value and sends its gradient to the spike.",
                                          "输入梯度（对 Linear 来说是 g W）必须传到脉冲：module "
                                          "求梯度时看到的那个张量取迹的值，并把自己的梯度传给脉冲。"))
                    if (s_leaf.grad is not None and s_ref.grad.abs().max() > 0
                            and _close(s_leaf.grad, 2 * s_ref.grad)):
                        hint = say("the gradient reaches the spike twice, by two paths. Either the "
                                   "value m(spike) keeps a graph (compute it under torch.no_grad(); "
                                   "the gradient path is m(trace)), or the spike is in both "
                                   "arguments of ReplaceforGrad.apply(x, x_r), which sends the "
                                   "gradient to x and to x_r: x_r must be the trace alone (it has no "
                                   "graph), not spike + trace.",
                                   "梯度沿两条路径两次传到了脉冲。要么值 m(spike) 带着计算图（请在 "
                                   "torch.no_grad() 下计算它；梯度路径是 m(trace)），要么脉冲同时出现在 "
                                   "ReplaceforGrad.apply(x, x_r) 的两个参数里，而它会把梯度同时传给 x 和 "
                                   "x_r：x_r 必须只是迹（它没有计算图），而不是 spike + trace。")
                    _fail(name, case + say(", gradient to the spike", "，传到脉冲的梯度"),
                          s_ref.grad, s_leaf.grad, hint)
            for (pname, p_ref), p, p_spike in zip(m_ref.named_parameters(), m_mine.parameters(),
                                                 m_spike.parameters()):
                case = say(f"{mname}, gradient of {pname} after {T} steps",
                           f"{mname}，{T} 步之后 {pname} 的梯度")
                if _close(p.grad, p_ref.grad):
                    continue
                hint = _grad_hint(p.grad, p_ref.grad,
                                  say("the parameters' gradient is that of the module evaluated on "
                                      "the trace (sum_t g^T a for a Linear's weight).",
                                      "参数的梯度是 module 在迹上求值时的梯度（对 Linear 的权重来说"
                                      "是 sum_t g^T a）。"))
                if p.grad is None:
                    hint = say("no gradient reached the module's parameters: apply the module, with a "
                               "graph, to the tensor that carries the trace's value, and make the "
                               "output's gradient flow into that graph.",
                               "没有梯度传到模块的参数：请把 module 带计算图地作用于携带迹的值的张量，"
                               "并让输出的梯度流入这个计算图。")
                elif pname == "weight" and _close(p.grad, p_spike.grad):
                    hint = say("the weight gradient came from the spike (sum_t g^T s); it must come "
                               "from the trace (sum_t g^T a).",
                               "权重梯度来自脉冲 (sum_t g^T s)；它必须来自迹 (sum_t g^T a)。")
                _fail(name, case, p_ref.grad, p.grad, hint)
        for arch in ("mlp", "cnn"):
            ref = _Dispatch(*_layers(arch, 2, OTTTLIFNode),
                            gwt=lambda m: GradwithTrace(m, grad_path="two_pass"))
            mine = _Dispatch(*_layers(arch, 2, OTTTLIFNode), gwt=wrapper_class)
            _compare_online(name, arch, ref, mine,
                            say("every layer works alone but not inside a "
                                "network: check that your wrapper uses the module it was given.",
                                "每一层单独都正确，放进网络后却不对：请检查你的包装器是否使用了"
                                "传给它的那个模块。"),
                            modes=("train",))
    except _NotAttempted:
        return _not_attempted(say("your MyGradwithTrace", "你的 MyGradwithTrace"))
    return _correct(say("value module(spike), parameter gradients from the trace, input gradient to "
                        "the spike: as GradwithTrace on Linear and Conv2d layers and inside an MLP "
                        "and a CNN over two sequences.",
                        "值为 module(spike)，参数梯度来自迹，输入梯度传到脉冲：在 Linear 和 Conv2d "
                        "层上，以及在两个序列上的 MLP 和 CNN 中，都与 GradwithTrace 一致。"))
