"""The exercises of notebook 05 (SpikeTraceOp and OTTTSequential): how OTTT wraps each layer.

``check_wrapping_prediction`` (a prediction, one of ``WRAPPER_NAMES`` per layer, of what
``OTTTSequential`` does with each layer, against ``net.wrapping()``), and two build-it
exercises: ``check_spike_trace_op`` (``SpikeTraceOp``: ``[module(spike), module(trace)]``,
the trace without a graph, alone and inside CNNs with pooling and flatten) and
``check_ottt_dispatch`` (``OTTTSequential``'s dispatch rule on MLPs and CNNs; a neuron given
the trace or stepped twice gets its own hint).

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning``.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from ..._checks import has_parameters as _has_parameters, is_spike_trace_pair as _is_pair
from ...layer.grad_with_trace import GradwithTrace
from ...layer.ottt_sequential import OTTTSequential
from ...neuron.lif import LIFNode, OTTTLIFNode
from ..language import say
from .core import (watched, ExerciseError, _NotAttempted, _correct, _fail, _fmt, _need_class,
                   _not_attempted, answer_value)
from .harness import (_registers_module, _Dispatch, _FnSequential, _close, _compare_online, _grad_hint,
                      _inputs_unchanged, _layers, _run)

__all__ = ["WRAPPER_NAMES", "check_wrapping_prediction", "check_spike_trace_op",
           "check_ottt_dispatch"]


# -- 05: predicting OTTTSequential's wrappers -------------------------------------------------
WRAPPER_NAMES = ("GradwithTrace", "SpikeTraceOp", "neuron (spike only)", "itself")

_WRAPPER_REASON = {
    "GradwithTrace": "it has parameters, so its weight gradient must come from the trace",
    "SpikeTraceOp": "it has no parameters, so spike and trace both go through it",
    "neuron (spike only)": "a spiking neuron takes the spike (it makes its own trace)",
    "itself": "it already handles [spike, trace] pairs",
}
_WRAPPER_REASON_ZH = {
    "GradwithTrace": "它有参数，所以它的权重梯度必须来自迹",
    "SpikeTraceOp": "它没有参数，所以脉冲和迹都要经过它",
    "neuron (spike only)": "脉冲神经元只接收脉冲（它会自己生成迹）",
    "itself": "它本身就能处理 [spike, trace] 对",
}


def _normalize_wrapper(answer: Any) -> Any:
    if not isinstance(answer, str):
        return answer
    a = answer.strip().lower()
    if a.startswith("neuron"):
        return "neuron (spike only)"
    for name in WRAPPER_NAMES:
        if a == name.lower():
            return name
    return answer


@watched()
def check_wrapping_prediction(net: OTTTSequential, prediction: Optional[Sequence[str]]) -> bool:
    """Check a prediction of how ``OTTTSequential`` applies each layer (notebook 05).

    ``prediction`` lists one name per layer of ``net``, each one of ``WRAPPER_NAMES``:
    ``"GradwithTrace"``, ``"SpikeTraceOp"``, ``"neuron (spike only)"`` or ``"itself"``
    (case-insensitive; ``"neuron"`` is accepted). ``None`` means not attempted yet.
    The truth is ``net.wrapping()``.
    """
    name = "check_wrapping_prediction"
    if not isinstance(net, OTTTSequential):
        raise TypeError(say(f"{name}: net must be an OTTTSequential, got {type(net).__name__}.",
                            f"{name}：net 必须是 OTTTSequential，收到的是 {type(net).__name__}。"))
    prediction = answer_value(name, prediction, forbidden=["wrapping", "ottt_forward"])
    if prediction is None:
        print(say("Not attempted yet: my_prediction still raises NotImplementedError (or gives None): "
                  "make it return a list with one wrapper name per layer and run the cell again.",
                  "尚未作答：my_prediction 仍会抛出 NotImplementedError（或返回 None）：让它返回一个"
                  "列表，每层一个包装名称，然后重新运行该单元格。"),
              file=sys.stderr)
        return False
    truth = net.wrapping()
    if not isinstance(prediction, (str, list, tuple)):
        raise ExerciseError(say(
            f"{name}: your prediction must be a list of wrapper names, one per layer (e.g. "
            f"[\"GradwithTrace\", \"neuron\", ...]), got {type(prediction).__name__} {prediction!r}.",
            f"{name}：你的预测必须是一个包装名称的列表，每层一个（例如 [\"GradwithTrace\", "
            f"\"neuron\", ...]），收到的是 {type(prediction).__name__} {prediction!r}。"))
    if isinstance(prediction, str) or len(prediction) != len(truth):
        n = 1 if isinstance(prediction, str) else len(prediction)
        raise ExerciseError(say(
            f"{name}: the network has {len(truth)} layers but your prediction has {n} "
            f"entr{'y' if n == 1 else 'ies'}; give one name per layer, in order.",
            f"{name}：网络有 {len(truth)} 层，但你的预测有 {n} 项；请按顺序为每层给出一个名称。"
        ))
    wrong = []
    for (layer, how), answer in zip(truth, prediction):
        ans = _normalize_wrapper(answer)
        if type(ans) is not str or ans not in WRAPPER_NAMES:  # exactly a str: an object "equal to
            # anything" (a class of its own with __eq__) is not a name
            raise ExerciseError(say(
                f"{name}: layer {layer}: {answer!r} is not a wrapper name; use one of "
                f"{list(WRAPPER_NAMES)}.",
                f"{name}：层 {layer}：{answer!r} 不是包装名称；请使用 {list(WRAPPER_NAMES)} 之一。"
            ))
        if ans != how:
            wrong.append(say(f"  layer {layer}: you said {ans}; for a [spike, trace] input "
                             f"OTTTSequential would use {how} ({_WRAPPER_REASON[how]}).",
                             f"  层 {layer}：你的答案是 {ans}；对 [spike, trace] 输入，OTTTSequential "
                             f"会使用 {how}（{_WRAPPER_REASON_ZH[how]}）。"))
    if wrong:
        raise ExerciseError(say(f"{name}: {len(wrong)} of {len(truth)} layers wrong.\n",
                                f"{name}：{len(truth)} 层中有 {len(wrong)} 层答错了。\n")
                            + "\n".join(wrong))
    return _correct(say(f"all {len(truth)} layers predicted, as net.wrapping() says.",
                        f"全部 {len(truth)} 层都预测正确，与 net.wrapping() 的结果一致。"))

# -- 05: SpikeTraceOp -------------------------------------------------------------------------
class _Scale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


@watched()
def check_spike_trace_op(op_class: Callable[[nn.Module], nn.Module]) -> bool:
    """Check ``op_class(module)([spike, trace]) -> [module(spike), module(trace)]`` (notebook 05).

    The spike keeps its graph (the gradient flows back through ``module``), the trace is
    computed without one, the order is ``[spike, trace]`` and the inputs are left unchanged.
    Checked on ``nn.AvgPool2d(2)``, ``nn.Flatten()`` and a scaling, then inside CNNs with
    pooling and flatten (training mode, where the wrapper is used) against ``SpikeTraceOp``.
    """
    from ...layer.spike_trace_op import SpikeTraceOp
    name = "check_spike_trace_op"
    _need_class(name, op_class, "MySpikeTraceOp")
    gen = torch.Generator().manual_seed(51)
    try:
        _registers_module(name, op_class, nn.Flatten(), "MySpikeTraceOp(nn.Flatten())")
        for i, (mname, m, shape) in enumerate([("nn.AvgPool2d(2)", nn.AvgPool2d(2), (2, 3, 4, 4)),
                                               ("nn.Flatten()", nn.Flatten(), (2, 3, 2, 2)),
                                               ("0.5 * x", _Scale(), (2, 5))]):
            case = say(f"{mname} on spike and trace of shape {shape}",
                       f"{mname}，形状为 {shape} 的脉冲和迹")
            spike0 = (torch.rand(shape, generator=gen) < 0.5).double()
            trace0 = spike0 + torch.rand(shape, generator=gen, dtype=torch.float64)
            s_leaf = spike0.clone().requires_grad_(True)
            a_leaf = trace0.clone().requires_grad_(True)    # a trace with a graph, to be ignored
            s_in, a_in = s_leaf * 1.0, a_leaf * 1.0
            pair = [s_in, a_in]
            out = _run(name, case, lambda: op_class(m)(pair))
            _inputs_unchanged(name, case, spike=(spike0, s_in), trace=(trace0, a_in))
            if len(pair) != 2 or pair[0] is not s_in or pair[1] is not a_in:
                raise ExerciseError(say(
                    f"{name}: for {case} your wrapper wrote into the list it was given (x[0] = "
                    f"... or x[:] = ...).\n  hint: the caller may still need its [spike, trace]; "
                    f"return a new list, [module(spike), module(trace)].",
                    f"{name}：{case}：你的包装器改写了传给它的列表（x[0] = ... 或 x[:] = ...）。\n"
                    f"  提示：调用者可能还需要它的 [spike, trace]；请返回一个新的列表 "
                    f"[module(spike), module(trace)]。"))
            want_s, want_a = m(spike0), m(trace0)
            if isinstance(out, tuple) and len(out) == 2:  # as 04's neuron: a list, the pair's form
                raise ExerciseError(say(
                    f"{name}: for {case} your wrapper returned a tuple of two tensors.\n  hint: "
                    f"return the pair as a list, [module(spike), module(trace)], as OTTTLIFNode "
                    f"returns it: the next layers tell a pair from a tensor by it.",
                    f"{name}：{case}：你的包装器返回了由两个张量组成的元组。\n  提示：请像 OTTTLIFNode "
                    f"那样把这一对作为列表 [module(spike), module(trace)] 返回：后面的层靠它区分一对张量和单个张量。"))
            if not (isinstance(out, (list, tuple)) and len(out) == 2
                    and all(isinstance(o, torch.Tensor) for o in out)):
                raise ExerciseError(say(f"{name}: for {case} your wrapper returned {_fmt(out)}.\n"
                                        f"  hint: return a list of two tensors, [module(spike), "
                                        f"module(trace)].",
                                        f"{name}：{case}：你的包装器返回了 {_fmt(out)}。\n"
                                        f"  提示：请返回由两个张量组成的列表 [module(spike), "
                                        f"module(trace)]。"))
            s_out, a_out = out
            if _close(s_out, want_a) and _close(a_out, want_s):
                _fail(name, case, "[module(spike), module(trace)]", "[module(trace), module(spike)]",
                      say("swapped: the spike comes first, the trace second.",
                          "顺序反了：脉冲在前，迹在后。"))
            if not _close(s_out, want_s):
                _fail(name, case + say(", spike", "，脉冲"), want_s, s_out,
                      say("the first output is module(spike).", "第一个输出是 module(spike)。"))
            if not _close(a_out, want_a):
                hint = say("the second output is module(trace).", "第二个输出是 module(trace)。")
                if _close(a_out, trace0):
                    hint = say("the trace must go through the same operation as the spike: "
                               "module(trace), or the next layer pairs the wrong entries.",
                               "迹必须经过与脉冲相同的运算，即 module(trace)，否则下一层会把不对应"
                               "的元素配成对。")
                _fail(name, case + say(", trace", "，迹"), want_a, a_out, hint)
            lib_a = SpikeTraceOp(m)([spike0.clone(), trace0.clone().requires_grad_(True) * 1.0])[1]
            if a_out.requires_grad and not lib_a.requires_grad:
                _fail(name, case + say(", trace", "，迹"),
                      say("a trace without graph", "不带计算图的迹"),
                      say("a trace with a graph", "带计算图的迹"),
                      say("compute module(trace) without gradient (inside `with torch.no_grad():`): "
                          "the trace never needs one, and a graph on it would hold memory.",
                          "计算 module(trace) 时不要计算梯度（放在 `with torch.no_grad():` 里面）："
                          "迹从来不需要梯度，它上面的计算图只会白白占用内存。"))
            if s_out.grad_fn is None:
                _fail(name, case + say(", spike", "，脉冲"),
                      say("a spike with a graph", "带计算图的脉冲"), say("no graph", "没有计算图"),
                      say("the spike keeps its graph: gradients flow back through the module to "
                          "the neuron that fired (no torch.no_grad or detach on the spike).",
                          "脉冲要保留计算图：梯度经由 module 反向流回发放脉冲的神经元（不要对脉冲"
                          "使用 torch.no_grad 或 detach）。"))
            g = torch.randn(want_s.shape, generator=gen, dtype=torch.float64)
            s_ref = spike0.clone().requires_grad_(True)
            m(s_ref).backward(g)
            _run(name, case + say(" (backward)", "（反向传播时）"), lambda: s_out.backward(g))
            if not _close(s_leaf.grad, s_ref.grad):
                _fail(name, case + say(", gradient to the spike", "，传到脉冲的梯度"),
                      s_ref.grad, s_leaf.grad,
                      _grad_hint(s_leaf.grad, s_ref.grad,
                                 say("the spike's gradient flows back "
                                     "through the module unchanged in form.",
                                     "脉冲的梯度照常经由 module 反向传播，形式不变。")))
        for arch in ("cnn", "cnn_pool_neuron"):
            ref = _Dispatch(*_layers(arch, 3, OTTTLIFNode), sto=SpikeTraceOp)
            mine = _Dispatch(*_layers(arch, 3, OTTTLIFNode), sto=op_class)
            _compare_online(name, arch, ref, mine,
                            say("the wrapper works alone but not in a "
                                "network: check that it applies the module it was given.",
                                "包装器单独使用时正确，放进网络后却不对：请检查它是否应用了传给它"
                                "的那个模块。"),
                            modes=("train",))
    except _NotAttempted:
        return _not_attempted(say("your MySpikeTraceOp", "你的 MySpikeTraceOp"))
    return _correct(say("[module(spike), module(trace)], spike with graph and trace without, inputs "
                        "unchanged: as SpikeTraceOp alone and inside two CNNs with pooling and flatten.",
                        "[module(spike), module(trace)]，脉冲带计算图而迹不带，输入保持不变：单独"
                        "使用时以及在两个带池化和 flatten 的 CNN 中，都与 SpikeTraceOp 一致。"))


# -- 05: OTTTSequential's dispatch rule --------------------------------------------------------
@watched("ottt_edu.neuron", "ottt_edu.layer.grad_with_trace", "ottt_edu.layer.spike_trace_op",
         "ottt_edu.layer.replace_for_grad", "ottt_edu.layer.pair_module", "ottt_edu.layer.dropout",
         "ottt_edu.layer.ottt_sequential.OTTTSequential.forward")  # running a nested block
def check_ottt_dispatch(fn: Callable[[list, Any], Any]) -> bool:
    """Check ``fn(layers, x) -> output``: ``OTTTSequential``'s forward (notebook 05).

    For each layer ``m`` in order: while ``x`` is a plain tensor, ``x = m(x)``; once it is a
    ``[spike, trace]`` pair, a spiking neuron gets the spike only (``m(x[0])``), a module with
    parameters goes through ``GradwithTrace``, a parameter-free one through ``SpikeTraceOp``.
    A nested ``OTTTSequential`` gets the pair as it is (it runs as itself). Checked on two
    MLPs (one with a parametric layer that is neither ``nn.Linear`` nor a conv, so that
    dispatching by type fails), two CNNs (one with a neuron right after pooling), a neuron
    of a renamed subclass, a layer with a buffer and no parameters, and a
    nested ``OTTTSequential``;
    a neuron given the trace or stepped twice gets its own hint. In training mode
    (outputs, input and parameter gradients) and eval mode, over two sequences with
    ``reset_net`` between, against ``OTTTSequential``.
    """
    name = "check_ottt_dispatch"
    if not callable(fn):
        raise ExerciseError(say(f"{name}: expected a function fn(layers, x), got {type(fn).__name__}.",
                                f"{name}：需要一个函数 fn(layers, x)，收到的是 {type(fn).__name__}。"))
    rule = say("the rule: plain tensor -> m(x); [spike, trace] and a neuron -> m(x[0]); with "
               "parameters -> GradwithTrace(m)(x); without -> SpikeTraceOp(m)(x). A neuron is "
               "called once per step, on the spike.",
               "规则：普通张量 -> m(x)；[spike, trace] 遇到神经元 -> m(x[0])；有参数 -> "
               "GradwithTrace(m)(x)；无参数 -> SpikeTraceOp(m)(x)。神经元每个时间步只调用一次，"
               "作用于脉冲。")
    by_type = say("a layer with parameters (any kind) goes through GradwithTrace: test "
                  "any(p.requires_grad for p in m.parameters())-style, not its type (this layer "
                  "is neither nn.Linear nor nn.Conv2d).",
                  "有参数的层（无论哪种）都要经过 GradwithTrace：请用类似 "
                  "any(p.requires_grad for p in m.parameters()) 的方式判断，而不是看它的类型"
                  "（这一层既不是 nn.Linear 也不是 nn.Conv2d）。")
    by_name = say("a neuron is recognised by isinstance(m, LIFNode), not by its class name: "
                  "this network's neuron is a subclass of OTTTLIFNode with a name of its own.",
                  "要用 isinstance(m, LIFNode) 识别神经元，而不是看类名：这个网络中的神经元是 "
                  "OTTTLIFNode 的一个子类，有自己的名字。")
    by_buffers = say("parameters, not buffers: this layer keeps a tensor as a buffer (state, like "
                     "BatchNorm's running statistics) but has no parameters, so it goes through "
                     "SpikeTraceOp (m.parameters(), not m.state_dict() or m.buffers()).",
                     "看参数，而不是缓冲区：这一层把一个张量保存为缓冲区（状态，就像 BatchNorm 的"
                     "运行统计量），但没有参数，所以它要经过 SpikeTraceOp（用 m.parameters()，而不是 "
                     "m.state_dict() 或 m.buffers()）。")
    nested = say("a nested OTTTSequential takes the [spike, trace] pair as it is and applies the "
                 "rule to its own layers (it runs as itself): wrapping it in GradwithTrace would "
                 "step its neurons twice.",
                 "嵌套的 OTTTSequential 原样接收 [spike, trace]，并对它自己的各层应用同样的规则"
                 "（它作为自身运行）：把它包进 GradwithTrace 会让其中的神经元前进两步。")
    try:
        for arch in ("mlp", "cnn", "cnn_pool_neuron", "mlp_affine", "mlp_renamed", "mlp_norm",
                     "mlp_nested"):
            ref = OTTTSequential(*_layers(arch, 4, OTTTLIFNode))
            mine = _FnSequential(fn, *_layers(arch, 4, OTTTLIFNode))
            try:
                _compare_online(name, arch, ref, mine, rule)
            except ExerciseError as err:
                specific = _dispatch_mistake(name, arch, fn, rule)
                if specific is None:        # the earlier networks passed: this one's point
                    specific = {"mlp_affine": by_type, "mlp_renamed": by_name,
                                "mlp_norm": by_buffers, "mlp_nested": nested}.get(arch)
                if specific is None:
                    raise
                raise ExerciseError(say(f"{err}\n  more precisely: {specific}",
                                        f"{err}\n  更具体地说：{specific}")) from None
    except _NotAttempted:
        return _not_attempted(say("your ottt_forward", "你的 ottt_forward"))
    return _correct(say("same outputs and gradients as OTTTSequential on seven networks (a "
                        "parametric layer that is neither Linear nor Conv, CNNs, a renamed neuron, "
                        "a layer with a buffer and no parameters, a nested OTTTSequential), in training and "
                        "eval mode, over two sequences with reset_net between.",
                        "在七个网络上（含有既不是 Linear 也不是 Conv 的带参数层、CNN、改了名的神经元、"
                        "只有缓冲区而没有参数的层、嵌套的 OTTTSequential），训练模式和评估模式下，两个序列"
                        "（中间调用 reset_net）的输出和梯度都与 OTTTSequential 相同。"))


def _neuron_on_trace(layers: list, x: Any) -> Any:
    """The dispatch rule with a common slip: a neuron gets the trace instead of the spike."""
    for m in layers:
        if not _is_pair(x):
            x = m(x)
        elif isinstance(m, LIFNode):
            x = m(x[1])
        else:
            x = (GradwithTrace(m) if _has_parameters(m) else _spike_trace_op()(m))(x)
    return x


def _neuron_twice(layers: list, x: Any) -> Any:
    """The dispatch rule with a common slip: a neuron is stepped twice on the spike."""
    for m in layers:
        if not _is_pair(x):
            x = m(x)
        elif isinstance(m, LIFNode):
            m(x[0])
            x = m(x[0])
        else:
            x = (GradwithTrace(m) if _has_parameters(m) else _spike_trace_op()(m))(x)
    return x


def _spike_trace_op() -> type:
    from ...layer.spike_trace_op import SpikeTraceOp
    return SpikeTraceOp


_DISPATCH_MISTAKES = (
    (_neuron_on_trace, "the neuron was given the trace, x[1]: a neuron takes the spike, x[0] "
                       "(it makes its own new trace)."),
    (_neuron_twice, "a neuron was called twice in one time step (its state advanced twice): "
                    "call it once, x = m(x[0])."),
)
_DISPATCH_MISTAKES_ZH = {
    _neuron_on_trace: "神经元收到的是迹 x[1]：神经元应接收脉冲 x[0]（它会自己生成新的迹）。",
    _neuron_twice: "同一个时间步内神经元被调用了两次（它的状态前进了两步）：只调用一次，"
                   "x = m(x[0])。",
}


def _dispatch_mistake(name: str, arch: str, fn: Callable[[list, Any], Any], rule: str
                      ) -> Optional[str]:
    """The hint of the known slip that ``fn`` reproduces on ``arch``, else ``None``."""
    for slip, hint in _DISPATCH_MISTAKES:
        try:
            _compare_online(name, arch, _FnSequential(slip, *_layers(arch, 4, OTTTLIFNode)),
                            _FnSequential(fn, *_layers(arch, 4, OTTTLIFNode)), rule)
        except Exception:  # noqa: BLE001 - not this slip
            continue
        return say(hint, _DISPATCH_MISTAKES_ZH[slip])
    return None
