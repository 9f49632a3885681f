"""The harness of the five "build it" exercises (notebooks 03-05), and the error hints.

In a build-it exercise the student writes one of the modules the course rebuilds, and its
checker compares the student's object with the library: values, every gradient, training and
eval mode, an MLP and a CNN with pooling and flatten, several time steps and ``reset_net``
between sequences. Every checker also verifies that the student's code left its inputs
unchanged (an in-place ``x.data.copy_(...)`` would corrupt the caller's tensor).

    03: check_replace_for_grad   (a torch.autograd.Function)
    04: check_ottt_lif_step      (one OTTT LIF step with the trace)
        check_grad_with_trace    (GradwithTrace from ReplaceforGrad)
    05: check_spike_trace_op     (SpikeTraceOp)
        check_ottt_dispatch      (OTTTSequential's dispatch rule)

Here: running student code with a hint for the error it raises (``_run``, ``_error_hint``),
the in-place check (``_inputs_unchanged``), comparisons (``_close``, ``_grad_hint``), the
networks the checkers run (``_Dispatch``: ``OTTTSequential``'s rule with exchangeable wrappers;
``_FnSequential``; ``_StepFnNode``; ``_Affine``; ``_layers``) and ``_compare_online``, which
runs a reference and the student's network online side by side.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly
``activation_based.layer.online_learning``.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from ..._checks import has_parameters as _has_parameters, is_spike_trace_pair as _is_pair
from ...functional.state import reset_net
from ...layer.grad_with_trace import GradwithTrace
from ...neuron.lif import LIFNode, OTTTLIFNode
from ..language import say
from .core import ExerciseError, _NotAttempted, _fail, _fmt


def _error_hint(err: BaseException) -> str:
    """A hint for an exception raised inside the student's code (or by the library on it)."""
    msg = str(err)
    low = msg.lower()
    if ("double" in low and "float" in low) or "expected scalar type" in low or "dtype" in low:
        return say("your code mixes float32 and float64 tensors. The checker passes both dtypes; "
                   "create every new tensor with the input's dtype, e.g. "
                   "torch.arange(T, dtype=spikes.dtype) or torch.zeros_like(x).",
                   "你的代码混用了 float32 和 float64 张量。检查器会传入这两种 dtype；请用输入的 "
                   "dtype 创建每个新张量，例如 torch.arange(T, dtype=spikes.dtype) 或 "
                   "torch.zeros_like(x)。")
    if "backward through the graph a second time" in low:
        return say("a tensor kept its graph from an earlier time step: detach the state you carry "
                   "from step to step (v.detach()), so each step's graph stands alone.",
                   "某个张量保留了之前时间步的计算图：请分离在时间步之间传递的状态 (v.detach())，"
                   "让每一步的计算图各自独立。")
    if "expects a tensor, got list" in low:
        return say("a spiking neuron received the [spike, trace] list: give a neuron only the "
                   "spike, x[0] (it makes its own new trace).",
                   "脉冲神经元收到了 [spike, trace] 列表：只把脉冲 x[0] 交给神经元（它会自己生成"
                   "新的迹）。")
    if "spiketraceop cannot apply" in low and "spiking neuron" in low:
        return say("a spiking neuron went into SpikeTraceOp, which would step it twice (on the "
                   "spike and on the trace): give a neuron only the spike, x[0], and call it once.",
                   "脉冲神经元被放进了 SpikeTraceOp，这会让它前进两步（一次作用于脉冲，一次作用于"
                   "迹）：只把脉冲 x[0] 交给神经元，并且只调用一次。")
    if "expects a [spike, trace] pair" in low and "types ['list'" in low:
        return say("a spiking neuron went through a wrapper, so its [spike, trace] output ended up "
                   "inside another pair: give a neuron only the spike, x[0], and call it once.",
                   "脉冲神经元经过了一个包装器，于是它输出的 [spike, trace] 被套进了另一个对里："
                   "只把脉冲 x[0] 交给神经元，并且只调用一次。")
    if "expects a [spike, trace] pair" in low:
        return say("a wrapper received a plain tensor: while x is a tensor (before the first "
                   "neuron, or in eval mode) a layer runs as itself, m(x).",
                   "包装器收到了一个普通张量：当 x 还是张量时（第一个神经元之前，或在评估模式下），"
                   "层直接以自身运行，即 m(x)。")
    if "spiketraceop wraps parameter-free" in low:
        return say("a module with parameters goes through GradwithTrace, not SpikeTraceOp.",
                   "有参数的模块要经过 GradwithTrace，而不是 SpikeTraceOp。")
    if "incorrect number of gradients" in low and "got 1)" in low:
        return say("backward returned one value where autograd wants one gradient per input of "
                   "forward: return them as a tuple, return grad_x, grad_x_r (a list, or a tuple "
                   "packed into one variable, counts as a single value).",
                   "backward 只返回了一个值，而自动微分要求为 forward 的每个输入各返回一个梯度："
                   "请以元组形式返回，return grad_x, grad_x_r（列表，或者装进同一个变量的元组，都只"
                   "算一个值）。")
    if "incorrect number of gradients" in low:
        return say("backward must return one gradient per input of forward: two here, for x "
                   "and for x_r.",
                   "backward 必须为 forward 的每个输入返回一个梯度：这里是两个，分别对应 x 和 x_r。")
    if "returned a tuple" in low:
        return say("in training, return the pair as a list, [spike, trace], not a tuple: that is "
                   "what OTTTLIFNode returns and what OTTTSequential passes between layers.",
                   "训练模式下要以列表 [spike, trace] 返回这一对，而不是元组：OTTTLIFNode 就是这样"
                   "返回的，OTTTSequential 在层之间传递的也是列表。")
    if "cannot unpack" in low or "not iterable" in low or "too many values" in low:
        return say("check what each piece returns: a [spike, trace] pair is a list of two tensors.",
                   "检查每个部分返回的是什么：[spike, trace] 对是由两个张量组成的列表。")
    return say("the error on the first line was raised while running your code (at the line "
               "shown, when there is one): fix that line, run its cell, then this one again.",
               "第一行的错误是在运行你的代码时抛出的（如有显示，就在所示的那一行）：改正那一行，"
               "运行它所在的单元格，然后再运行本单元格。")


def _student_line(err: BaseException) -> str:
    """``"ottt_forward, line 7: x = m(x[1])"``: the last frame of the student's code in
    ``err``'s traceback, or ``""``."""
    import traceback

    from .core import _kind
    frames = [f for f in traceback.extract_tb(err.__traceback__) if _kind(f.filename) == "student"]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.name}:{f.lineno}" + (f": {f.line.strip()}" if f.line else "")


def _run(name: str, case: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run student code: NotImplementedError -> not attempted; any other error -> a hint."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise _NotAttempted() from e
    except ExerciseError:
        raise
    except Exception as e:  # noqa: BLE001 - the student's code may raise anything
        hint = _error_hint(e)
        if "nn.Conv2d" in case and hint == _error_hint(Exception()):
            hint = say("the checker wraps nn.Conv2d too (inputs (B, C, H, W)), not only nn.Linear: "
                       "apply the module itself, self.module(...), rather than its weight.",
                       "检查器也会包装 nn.Conv2d（输入为 (B, C, H, W)），不只是 nn.Linear：请直接"
                       "调用模块本身 self.module(...)，而不要直接使用它的权重。")
        where = _student_line(e)
        raise ExerciseError(say(
            f"{name}: for {case} your code raised {type(e).__name__}: {str(e)[:600]}\n"
            + (f"  at your line: {where}\n" if where else "") + f"  hint: {hint}",
            f"{name}：{case}：你的代码抛出了 {type(e).__name__}：{str(e)[:600]}\n"
            + (f"  出错的是你的这一行：{where}\n" if where else "") + f"  提示：{hint}"
        )) from None  # the checker's own frames would only hide the student's line


def _inputs_unchanged(name: str, case: str, **pairs: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Raise if any input differs from the copy taken before the student's code ran."""
    for arg, (before, after) in pairs.items():
        if not torch.equal(before, after.detach()):
            raise ExerciseError(say(
                f"{name}: for {case} your code changed its input `{arg}` in place (values before "
                f"and after the call differ).\n  hint: leave the caller's tensors as they are; "
                f"build a new tensor instead of writing into `{arg}` (no {arg}.data.copy_(...), "
                f"{arg}.mul_(...), {arg}[...] = ...).",
                f"{name}：{case}：你的代码原地修改了输入 `{arg}`（调用前后的值不同）。\n"
                f"  提示：不要改动调用者的张量；请新建一个张量，而不是写入 `{arg}`（不要用 "
                f"{arg}.data.copy_(...)、{arg}.mul_(...)、{arg}[...] = ...）。"
            ))


def _registers_module(name: str, wrapper_class: Callable[[nn.Module], nn.Module],
                      module: nn.Module, what: str) -> None:
    """Raise unless ``wrapper_class(module)`` registers ``module`` as a submodule: kept in a
    plain list or dict it is invisible to ``.parameters()`` (an optimizer built from the network
    never updates it), to ``.train()``/``.eval()`` and to ``reset_net``."""
    wrapper = _run(name, what, lambda: wrapper_class(module))
    if not isinstance(wrapper, nn.Module) or not any(sub is module for sub in wrapper.modules()):
        raise ExerciseError(say(
            f"{name}: {what}: the wrapper does not register the module it wraps (it is not among "
            f"wrapper.modules()).\n  hint: keep it as an attribute, self.module = module (an "
            f"nn.Module attribute is registered); in a plain list or dict it is invisible to "
            f".parameters(), so an optimizer built from the network never updates it, and to "
            f".eval() and reset_net.",
            f"{name}：{what}：包装器没有注册它所包装的模块（它不在 wrapper.modules() 之中）。\n"
            f"  提示：请把它保存为属性 self.module = module（nn.Module 类型的属性会被注册）；放在普通的"
            f"列表或字典里，.parameters() 就看不到它，用网络参数构建的优化器永远不会更新它，.eval() "
            f"和 reset_net 也够不着它。"))


def _close(a: Any, b: Any, atol: float = 1e-10) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.detach().to(b.dtype), b.detach(), atol=atol, rtol=1e-7))


def _grad_hint(got: Optional[torch.Tensor], expected: Optional[torch.Tensor], default: str) -> str:
    """Sign flip, missing gradient, or the default hint."""
    if got is None:
        return default
    if expected is not None and _close(got, -expected) and expected.abs().max() > 0:
        return say("sign flip: the gradient has the right size but the opposite sign. " + default,
                   "符号反了：梯度的大小正确，但符号相反。" + default)
    return default


# -- the networks the build-it checkers run ---------------------------------------------------
class _Dispatch(nn.Sequential):
    """``OTTTSequential``'s rule with exchangeable wrappers (to test one student piece at a time)."""

    def __init__(self, *layers: nn.Module, gwt: Callable[[nn.Module], nn.Module] = GradwithTrace,
                 sto: Optional[Callable[[nn.Module], nn.Module]] = None) -> None:
        super().__init__(*layers)
        from ...layer.spike_trace_op import SpikeTraceOp
        self._gwt, self._sto = gwt, SpikeTraceOp if sto is None else sto

    def forward(self, x: Any) -> Any:
        for m in self:
            if not _is_pair(x):
                x = m(x)
            elif isinstance(m, LIFNode):
                x = m(x[0])
            elif _has_parameters(m):
                x = self._gwt(m)(x)
            else:
                x = self._sto(m)(x)
        return x


class _FnSequential(nn.Sequential):
    """An ``nn.Sequential`` whose forward is the student's ``fn(layers, x)``."""

    def __init__(self, fn: Callable[[list, Any], Any], *layers: nn.Module) -> None:
        super().__init__(*layers)
        self._fn = fn

    def forward(self, x: Any) -> Any:
        return self._fn(list(self), x)


class _StepFnNode(OTTTLIFNode):
    """An ``OTTTLIFNode`` whose step is the student's ``fn(x, v, trace, tau, v_threshold,
    surrogate, training) -> (out, v, trace)``; state and ``reset_net`` as the library's."""

    def __init__(self, fn: Callable[..., Any], tau: float = 2.0, v_threshold: float = 1.0) -> None:
        super().__init__(tau=tau, v_threshold=v_threshold)
        self._fn = fn

    def forward(self, x: torch.Tensor) -> Any:
        self._state_like("v", x)
        self._state_like("trace", x)
        result = self._fn(x, self.v, self.trace, self.tau, self.v_threshold,
                          self.surrogate_function, self.training)
        if not (isinstance(result, (tuple, list)) and len(result) == 3):
            raise ExerciseError(say(
                "check_ottt_lif_step: your ottt_lif_step must return three things, "
                f"(out, v, trace); it returned {type(result).__name__}.",
                "check_ottt_lif_step：你的 ottt_lif_step 必须返回三个值 (out, v, trace)；"
                f"它返回了 {type(result).__name__}。"
            ))
        out, self.v, self.trace = result
        return out


class _Affine(nn.Module):
    """``scale * x + shift`` per feature: parameters, but neither ``nn.Linear`` nor a conv."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(1.0 + 0.2 * torch.rand(n))
        self.shift = nn.Parameter(0.1 * torch.randn(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x + self.shift


def _layers(arch: str, seed: int, node: Callable[[], nn.Module]) -> list[nn.Module]:
    """Seeded float64 layers; ``node()`` makes each spiking neuron. Inputs: mlp (B, 4), the
    CNNs (B, 1, 4, 4); every network ends in 3 class scores."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if arch == "mlp":
            layers = [nn.Linear(4, 6), node(), nn.Linear(6, 5), node(), nn.Linear(5, 3)]
        elif arch == "cnn":          # conv -> neuron -> pool -> flatten -> linear (like 05/06)
            layers = [nn.Conv2d(1, 2, 3, padding=1), node(), nn.Conv2d(2, 3, 3, padding=1), node(),
                      nn.AvgPool2d(2), nn.Flatten(), nn.Linear(12, 3)]
        elif arch == "mlp_affine":   # a parametric layer that is neither Linear nor Conv
            layers = [nn.Linear(4, 6), node(), _Affine(6), node(), nn.Linear(6, 3)]
        elif arch == "cnn_pool_neuron":   # a neuron right after a SpikeTraceOp
            layers = [nn.Conv2d(1, 2, 3, padding=1), node(), nn.AvgPool2d(2), node(),
                      nn.Flatten(), nn.Linear(8, 3)]
        elif arch == "mlp_renamed":  # a neuron of a subclass with a name of its own
            layers = [nn.Linear(4, 6), node(), nn.Flatten(), _SpikingUnit(), nn.Linear(6, 3)]
        elif arch == "mlp_norm":     # buffers (running statistics) but no parameters
            layers = [nn.Linear(4, 6), node(), _Centre(6), nn.Linear(6, 3)]
        elif arch == "mlp_nested":   # a block that is itself an OTTTSequential
            from ...layer.ottt_sequential import OTTTSequential
            layers = [nn.Linear(4, 6), node(), OTTTSequential(nn.Linear(6, 5), node()),
                      nn.Linear(5, 3)]
        else:  # pragma: no cover
            raise ValueError(arch)
        for m in layers:
            for p in m.parameters():
                p.data.mul_(2.0)         # enough input current that the neurons fire
        return [m.double() for m in layers]


class _Centre(nn.Module):
    """``x - centre`` with ``centre`` a buffer: state, but no parameters (a SpikeTraceOp layer)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.register_buffer("centre", torch.full((n,), 0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.centre


class _SpikingUnit(OTTTLIFNode):
    """An ``OTTTLIFNode`` under another class name: a neuron is known by ``isinstance``."""


_IN_SHAPE = {"mlp": (4,), "cnn": (1, 4, 4), "cnn_pool_neuron": (1, 4, 4), "mlp_affine": (4,),
             "mlp_renamed": (4,), "mlp_norm": (4,), "mlp_nested": (4,)}
_ARCH_TEXT = {"mlp": "MLP Linear-LIF-Linear-LIF-Linear",
              "mlp_affine": "MLP Linear-LIF-Affine-LIF-Linear (Affine: y = scale * x + shift, "
                            "a layer with parameters that is neither Linear nor Conv)",
              "cnn": "CNN Conv-LIF-Conv-LIF-AvgPool-Flatten-Linear",
              "cnn_pool_neuron": "CNN Conv-LIF-AvgPool-LIF-Flatten-Linear",
              "mlp_renamed": "MLP Linear-LIF-Flatten-SpikingUnit-Linear (SpikingUnit: a subclass of OTTTLIFNode)",
              "mlp_norm": "MLP Linear-LIF-Centre-Linear (Centre: x - a buffer, no parameters)",
              "mlp_nested": "MLP Linear-LIF-OTTTSequential(Linear-LIF)-Linear"}
_ARCH_TEXT_ZH = {"mlp": "MLP Linear-LIF-Linear-LIF-Linear",
                 "mlp_affine": "MLP Linear-LIF-Affine-LIF-Linear（Affine：y = scale * x + shift，"
                               "一个有参数、但既不是 Linear 也不是 Conv 的层）",
                 "cnn": "CNN Conv-LIF-Conv-LIF-AvgPool-Flatten-Linear",
                 "cnn_pool_neuron": "CNN Conv-LIF-AvgPool-LIF-Flatten-Linear",
                 "mlp_renamed": "MLP Linear-LIF-Flatten-SpikingUnit-Linear（SpikingUnit：OTTTLIFNode 的子类）",
                 "mlp_norm": "MLP Linear-LIF-Centre-Linear (Centre: x - a buffer, no parameters)",
                 "mlp_nested": "MLP Linear-LIF-OTTTSequential(Linear-LIF)-Linear"}


def _compare_online(name: str, arch: str, ref: nn.Module, mine: nn.Module, hint: str,
                    modes: Sequence[str] = ("train", "eval"), seed: int = 0) -> None:
    """Run ``ref`` and ``mine`` (same parameters) online: two sequences per mode (T=4, B=2 then
    T=3, B=3, ``reset_net`` between), per-step backward of a seeded weighted sum in training;
    compare every output, every input gradient and, at the end, every parameter gradient."""
    gen = torch.Generator().manual_seed(100 + seed)
    where = say(f"the {_ARCH_TEXT[arch]}", f"{_ARCH_TEXT_ZH[arch]}")
    for mode in modes:
        train = mode == "train"
        ref.train(train), mine.train(train)
        for j, (T, B) in enumerate([(4, 2), (3, 3)]):
            x_seq = 1.5 * torch.rand((T, B) + _IN_SHAPE[arch], generator=gen, dtype=torch.float64)
            for t in range(T):
                case = say(f"{where}, {mode} mode, sequence {j} (T={T}, B={B}), step {t}",
                           f"{where}，{'训练' if train else '评估'}模式，第 {j} 个序列 "
                           f"(T={T}, B={B})，第 {t} 步")
                x_ref = x_seq[t].clone().requires_grad_(train)
                x_mine = x_seq[t].clone().requires_grad_(train)
                with torch.set_grad_enabled(train):
                    out_ref = ref(x_ref)
                    out = _run(name, case, mine, x_mine)
                if not isinstance(out, torch.Tensor) or out.shape != out_ref.shape:
                    raise ExerciseError(say(f"{name}: {case}: the network returned {_fmt(out)}, "
                                            f"expected {_fmt(out_ref)}.\n  hint: {hint}",
                                            f"{name}：{case}：网络返回了 {_fmt(out)}，应为 "
                                            f"{_fmt(out_ref)}。\n  提示：{hint}"))
                if not _close(out, out_ref, atol=1e-8):
                    _fail(name, case + say(", network output", "，网络输出"), out_ref, out, hint)
                if train:
                    w = torch.randn(out_ref.shape, generator=gen, dtype=torch.float64)
                    (out_ref * w).sum().backward()
                    if out.grad_fn is None:
                        _fail(name, case, say("an output with a graph", "带计算图的输出"),
                              say("no graph", "没有计算图"), hint)
                    _run(name, case + say(" (backward)", "（反向传播时）"),
                         lambda: (out * w).sum().backward())
                    if not _close(x_mine.grad, x_ref.grad, atol=1e-8):
                        _fail(name, case + say(", gradient to the input", "，传到输入的梯度"),
                              x_ref.grad, x_mine.grad, _grad_hint(x_mine.grad, x_ref.grad, hint))
            reset_net(ref), reset_net(mine)
        if train:
            for (pname, p_ref), p in zip(ref.named_parameters(), mine.parameters()):
                if not _close(p.grad, p_ref.grad, atol=1e-8):
                    _fail(name, say(f"{where}, gradient of parameter {pname} after both sequences",
                                    f"{where}，两个序列之后参数 {pname} 的梯度"),
                          p_ref.grad, p.grad, _grad_hint(p.grad, p_ref.grad, hint))
