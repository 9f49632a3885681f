"""Checkers for the "your turn" exercises of notebooks 01-06.

English
    Every exercise in the notebooks asks you to write one small function (or make one
    prediction) and hands it to a ``check_*`` function from this module. The checker runs your
    answer on several seeded cases and compares it with the library (``ottt_edu``) or with a
    reference that is itself checked against the library:

    * correct: it prints a line starting with ``Correct!`` and returns ``True``;
    * not attempted yet (your function still raises ``NotImplementedError``, or your answer is
      ``None``): it prints a note and returns ``False`` without failing, so that "Run all"
      keeps working while you read;
    * wrong: it raises ``ExerciseError`` (a subclass of ``AssertionError``) whose message names
      the case that failed, what was expected, what you returned, and a hint.
中文
    每个练习的检查函数会在若干个固定随机种子的用例上运行你的答案, 并与库的实现比较: 正确时
    打印 ``Correct!`` 并返回 ``True``; 尚未作答 (函数仍抛出 ``NotImplementedError`` 或答案为
    ``None``) 时打印提示并返回 ``False``; 错误时抛出 ``ExerciseError``, 说明哪个用例失败、
    期望值、实际值以及提示。

Exercises (notebook: checker); the five "build it" ones first:
    03: ``check_replace_for_grad`` (a ``torch.autograd.Function``), ``check_replace_by_detach``
    04: ``check_ottt_lif_step``, ``check_grad_with_trace``, ``check_trace_closed_form``,
        ``check_ottt_weight_grad``
    05: ``check_spike_trace_op``, ``check_ottt_dispatch``, ``check_wrapping_prediction``
    06: ``check_ottt_a_step``
    01: ``check_first_spike_time``      02: ``check_surrogate_spike``
    11 (playground): ``ottt_edu.playground_tasks``

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly ``activation_based.layer.online_learning``.
"""
from __future__ import annotations

import ast
import copy
import inspect
import math
import numbers
import re
import sys
import textwrap
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .autograd_memory import SavedTensorMeter
from .grad_with_trace import GradwithTrace
from .language import say
from .memory import reset_net
from .neuron import LIFNode, OTTTLIFNode
from .ottt_sequential import OTTTSequential
from .replace_for_grad import ReplaceforGrad
from .surrogate import Sigmoid

__all__ = [
    "ExerciseError",
    "answer_value",
    "assert_own_code",
    "LIBRARY_NAMES",
    "check_first_spike_time",
    "check_surrogate_spike",
    "check_replace_by_detach",
    "check_trace_closed_form",
    "check_ottt_weight_grad",
    "check_wrapping_prediction",
    "check_ottt_a_step",
    "WRAPPER_NAMES",
]


class ExerciseError(AssertionError):
    """A wrong answer to an exercise; the message says which case failed and gives a hint."""


class _NotAttempted(Exception):
    """Internal: the answer still raises ``NotImplementedError``."""


# -- shared helpers ---------------------------------------------------------------------------
def _fmt(x: Any) -> str:
    """Short, rounded, address-free text for a value in an error message."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.numel() <= 8:
            vals = [round(float(v), 4) for v in x.reshape(-1)]
            return say(f"tensor of shape {tuple(x.shape)} with values {vals}",
                       f"形状为 {tuple(x.shape)} 的张量，值为 {vals}")
        first = [round(float(v), 4) for v in x.reshape(-1)[:6]]
        return say(f"tensor of shape {tuple(x.shape)} (first values {first} ...)",
                   f"形状为 {tuple(x.shape)} 的张量（前几个值为 {first} ...）")
    if isinstance(x, float):
        return f"{x:.4f}"
    return repr(x) if isinstance(x, (int, str, type(None), list, tuple)) else type(x).__name__


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the student's ``fn``; turn ``NotImplementedError`` into "not attempted"."""
    if not callable(fn):
        raise ExerciseError(say(
            f"{name}: expected a function, got {type(fn).__name__}. Pass the function itself, "
            f"e.g. check(my_fn), not check(my_fn(...)).",
            f"{name}：需要一个函数，收到的是 {type(fn).__name__}。请传入函数本身，例如 "
            f"check(my_fn)，而不是 check(my_fn(...))。"
        ))
    try:
        return fn(*args)
    except NotImplementedError as e:
        raise _NotAttempted() from e


def _not_attempted(what: str) -> bool:
    # To stderr: it stands out in the notebook, and nbgrader's autograder scores a graded cell
    # that writes to stderr with zero points (``nbgrader.utils.determine_grade``), while "Run all"
    # goes on to the end.
    print(say(
        f"Not attempted yet: {what} still raises NotImplementedError. Replace that line with your "
        f"code and run the cell again, then this one. (The rest of the notebook does not use your "
        f"answer, so it runs on.)",
        f"尚未作答：{what} 仍会抛出 NotImplementedError。请把那一行替换为你的代码，重新运行那个"
        f"单元格，再运行本单元格。（笔记本的其余部分不使用你的答案，会继续运行。）",
    ), file=sys.stderr)
    return False


def answer_value(name: str, answer: Any) -> Any:
    """The answer itself, or what a zero-argument answer function returns.

    The student edition asks for such answers as ``def my_answer(): ...; return value`` (its
    body is ``raise NotImplementedError()`` until answered); a ``NotImplementedError`` from it
    means "not attempted", like ``None``.
    """
    if callable(answer):
        try:
            return answer()
        except NotImplementedError:
            return None
        except TypeError as e:
            raise ExerciseError(say(f"{name}: call your answer function with no arguments failed "
                                    f"({e}); write it as def my_answer(): ... return value.",
                                    f"{name}：不带参数调用你的答案函数失败 ({e})；请写成 "
                                    f"def my_answer(): ... return value 的形式。")) from e
    return answer


#: The library's names that a build-it exercise must not hand in or call (hidden tests).
LIBRARY_NAMES = ("ReplaceforGrad", "GradwithTrace", "SpikeTraceOp", "OTTTSequential",
                 "OTTTLIFNode", "LIFNode", "SLTTLIFNode", "ottt_edu")


def _functions_of(obj: Any) -> list[Callable[..., Any]]:
    if inspect.isclass(obj):
        return [f for f in vars(obj).values()
                if inspect.isfunction(f) or isinstance(f, (staticmethod, classmethod))]
    return [obj]


def _names_used(code: Any) -> set[str]:
    """Global names a code object (and the functions nested in it) looks up."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _names_used(const)
    return names


def _library_use(fn: Callable[..., Any], used: str, forbidden: Sequence[str]) -> Optional[str]:
    """How ``fn`` reaches the library through the global (or attribute) name ``used``, or None."""
    if used in forbidden:
        return used
    target = fn.__globals__.get(used)
    module = getattr(target, "__module__", None) or getattr(target, "__name__", None) or ""
    if not isinstance(module, str) or not module.startswith("ottt_edu"):
        return None
    real = getattr(target, "__name__", used)
    if module.startswith("ottt_edu.reference") or real in forbidden:
        return f"{used} ({module}.{real})" if real != module else f"{used} ({module})"
    return None


def _called_names(source: str) -> list[tuple[str, list[str]]]:
    """For every call in ``source``: (the root name, the attribute names on the way)."""
    calls = []
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Call):
            func, attrs = node.func, []
            while isinstance(func, (ast.Attribute, ast.Call, ast.Subscript)):
                if isinstance(func, ast.Attribute):
                    attrs.append(func.attr)
                func = func.func if isinstance(func, ast.Call) else func.value
            if isinstance(func, ast.Name):
                calls.append((func.id, attrs))
    return calls


def assert_own_code(obj: Any, forbidden: Sequence[str] = LIBRARY_NAMES) -> None:
    """Raise ``ExerciseError`` if ``obj`` (a function or a class) is, inherits from, or *calls*
    one of the library names in ``forbidden`` (or anything of ``ottt_edu.reference``) instead of
    doing the work itself.

    The graded cells call it before the checker: the checker compares with the library, so
    handing in the library (or a wrapper of it) would pass it. It looks at the classes in the MRO
    and at every call in the source of every function and method, aliases included (``mr =
    memory_ratio; mr()``); naming the library otherwise (``isinstance(m, OTTTSequential)``, a
    comment, a docstring) is fine. Without source (code made by ``exec``) every global name the
    code looks up counts.
    """
    name = "assert_own_code"
    if inspect.isclass(obj):
        for base in obj.__mro__[1:]:
            if base.__module__.startswith("ottt_edu"):
                raise ExerciseError(say(f"{name}: {obj.__name__} inherits from the library's "
                                        f"{base.__name__}; build it from torch alone.",
                                        f"{name}：{obj.__name__} 继承了库中的 {base.__name__}；"
                                        f"请只用 torch 自己实现。"))
    if (getattr(obj, "__module__", None) or "").startswith("ottt_edu"):
        raise ExerciseError(say(f"{name}: this is the library's own {getattr(obj, '__name__', obj)}, "
                                f"not yours; hand in the function or class you wrote.",
                                f"{name}：这是库自带的 {getattr(obj, '__name__', obj)}，不是你写的；"
                                f"请提交你自己编写的函数或类。"))
    for fn in _functions_of(obj):
        fn = getattr(fn, "__func__", fn)
        try:
            calls = _called_names(inspect.getsource(fn))
        except (OSError, TypeError, SyntaxError):  # no source: every global name counts
            calls = [(used, []) for used in sorted(_names_used(fn.__code__))]
        for root, attrs in calls:
            how = _library_use(fn, root, forbidden) or next(
                (a for a in attrs if a in forbidden), None)
            if how:
                raise ExerciseError(say(f"{name}: {fn.__qualname__} calls {how} from the "
                                        f"library; the exercise is to write it yourself.",
                                        f"{name}：{fn.__qualname__} 调用了库中的 {how}；"
                                        f"本练习要求你自己编写。"))
    return None  # nothing to show in the graded cell


def _need_class(name: str, obj: Any, example: str) -> None:
    """A build-it checker's argument must be the student's class, not an instance or a value."""
    if isinstance(obj, nn.Module):
        raise ExerciseError(say(f"{name}: pass the class itself (e.g. {name}({example})), not an "
                                f"instance of it ({type(obj).__name__}(...)).",
                                f"{name}：请传入类本身（例如 {name}({example})），而不是它的实例"
                                f"（{type(obj).__name__}(...)）。"))
    if not callable(obj):
        raise ExerciseError(say(f"{name}: expected your class (e.g. {example}), got "
                                f"{type(obj).__name__}.",
                                f"{name}：需要你的类（例如 {example}），收到的是 "
                                f"{type(obj).__name__}。"))


def _correct(msg: str) -> bool:
    """Print the "Correct!" line; ``msg`` is already in the checkers' language (``say``)."""
    print(say(f"Correct! {msg}", f"正确！{msg}"))
    return True


def _fail(exercise: str, case: str, expected: Any, got: Any, hint: str) -> None:
    raise ExerciseError(say(
        f"{exercise}: wrong answer for {case}.\n"
        f"  expected: {_fmt(expected)}\n"
        f"  got:      {_fmt(got)}\n"
        f"  hint: {hint}",
        f"{exercise}：{case}，答案错误。\n"
        f"  期望值：{_fmt(expected)}\n"
        f"  实际值：{_fmt(got)}\n"
        f"  提示：{hint}"
    ))


def _need_tensor(exercise: str, case: str, got: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(say(
            f"{exercise}: for {case} your function returned {type(got).__name__}, expected a "
            f"torch.Tensor of shape {shape}.",
            f"{exercise}：{case}：你的函数返回了 {type(got).__name__}，应返回形状为 "
            f"{shape} 的 torch.Tensor。"
        ))
    if tuple(got.shape) != shape:
        raise ExerciseError(say(
            f"{exercise}: for {case} your function returned shape {tuple(got.shape)}, expected "
            f"{shape}.",
            f"{exercise}：{case}：你的函数返回的形状是 {tuple(got.shape)}，应为 {shape}。"
        ))
    return got


# -- 01: first spike time ---------------------------------------------------------------------
def _need_dtype(exercise: str, case: str, got: torch.Tensor, dtype: torch.dtype) -> None:
    """Raise if the answer's dtype is not the input's (a stray ``.float()`` / ``.double()``)."""
    if got.dtype != dtype:
        g, w = str(got.dtype).replace("torch.", ""), str(dtype).replace("torch.", "")
        cast = ".float()" if got.dtype == torch.float32 else f".to({g})"
        raise ExerciseError(say(
            f"{exercise}: for {case} your answer is {g}, the input is {w}.\n"
            f"  hint: your answer is {g} for {w} input: keep the input's dtype (no {cast}).",
            f"{exercise}：{case}：你的答案是 {g}，而输入是 {w}。\n"
            f"  提示：输入为 {w} 时你的答案是 {g}：请保持输入的 dtype（不要用 {cast}）。"
        ))


def _simulate_first_spike(x: float, tau: float, v_threshold: float, T_max: int = 2000
                          ) -> tuple[Optional[int], float]:
    """First spike index of an ``OTTTLIFNode`` under constant input ``x`` (float64).

    Also returns the smallest distance ``|v - v_threshold|`` seen before the spike, used to
    skip cases that sit on a rounding knife-edge.
    """
    node = OTTTLIFNode(tau=tau, v_threshold=v_threshold).eval()
    inp = torch.tensor([x], dtype=torch.float64)
    margin = float("inf")
    for t in range(T_max):
        s = node(inp)
        v_before_reset = float(node.v) + float(s) * v_threshold
        margin = min(margin, abs(v_before_reset - v_threshold))
        if float(s) == 1.0:
            return t, margin
    return None, margin


def _time_step_answer(exercise: str, case: str, got: Any) -> Union[int, float, None]:
    """``got`` as a time step: ``None``, an int, or a float (compared as a number; a whole float
    such as ``3.0`` counts as ``3``). A str, a bool or anything else is an ``ExerciseError``:
    ``'3'`` is not the number 3.

    Integers of any kind (Python, numpy, a one-element tensor) are accepted.
    """
    if got is None:
        return None
    number = got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got
    if not isinstance(number, bool) and isinstance(number, numbers.Real):
        if isinstance(number, numbers.Integral):
            return int(number)
        value = float(number)
        return int(value) if math.isfinite(value) and value == int(value) else value
    raise ExerciseError(say(
        f"{exercise}: for {case} your function returned {type(got).__name__} {got!r}; expected an "
        f"int (the first time step with a spike, counting from 0) or None (it never fires)"
        + (". Return the number itself, not text: int(...), not str(...)." if isinstance(got, str)
           else "."),
        f"{exercise}：{case}：你的函数返回了 {type(got).__name__} {got!r}；应返回一个 int"
        f"（第一个发放脉冲的时间步，从 0 开始计数）或 None（从不发放）"
        + ("。请返回数字本身，而不是文本：用 int(...)，不要用 str(...)。" if isinstance(got, str)
           else "。")
    ))


_FIRST_SPIKE_CASES = [  # (x, tau, v_threshold), away from exact ties
    (1.5, 2.0, 1.0), (0.6, 2.0, 1.0), (0.4, 2.0, 1.0), (0.3, 5.0, 1.0),
    (0.15, 10.0, 1.0), (0.9, 3.0, 2.0), (0.05, 10.0, 1.0), (0.26, 4.0, 1.0),
]
# Exact ties, v[t] == v_threshold in exact binary arithmetic (the neuron fires: v >= v_threshold);
# log(1 - v_threshold (1 - k) / x) / log(k) is an exact integer n here, the spike is at n - 1.
_FIRST_SPIKE_TIES = [
    (0.5, 2.0, 0.75), (0.5, 2.0, 0.875), (0.25, 2.0, 0.375), (1.0, 2.0, 1.0),
    (0.75, 4.0, 1.3125), (0.5, 2.0, 0.9375),
]


def _first_spike_by(x: float, tau: float, thr: float, charge: Callable[[float], float],
                    strict: bool = False, T_max: int = 2000) -> Optional[int]:
    """First spike of ``v = charge(v)`` from ``v = 0`` (a model of a wrong answer, for hints)."""
    v = 0.0
    for t in range(T_max):
        v = charge(v)
        if (v > thr) if strict else (v >= thr):
            return t
    return None


def _first_spike_mistakes(x: float, tau: float, thr: float) -> dict[str, Optional[int]]:
    """What common wrong answers give for one case, keyed by the hint that names the mistake."""
    k = 1.0 - 1.0 / tau
    return {
        say("an exact tie fires: the neuron spikes when v[t] >= v_threshold, and here "
            "v[t] == v_threshold exactly at the expected step (e.g. x=0.5, tau=2, v_threshold=0.75 "
            "fires at t=1). A strict v > v_threshold, or floor(n) in place of ceil(n) - 1, misses "
            "the tie.",
            "恰好相等时也会发放：神经元在 v[t] >= v_threshold 时发放脉冲，而这里在期望的时间步上"
            "恰好 v[t] == v_threshold（例如 x=0.5, tau=2, v_threshold=0.75 在 t=1 发放）。"
            "严格的 v > v_threshold，或用 floor(n) 代替 ceil(n) - 1，都会漏掉这种相等的情况。"):
            _first_spike_by(x, tau, thr, lambda v: k * v + x, strict=True),
        say("charge equation: this neuron does not divide the input by tau (decay_input=False): "
            "v[t] = (1 - 1/tau) v[t-1] + x.",
            "充电方程：这个神经元不把输入除以 tau (decay_input=False)："
            "v[t] = (1 - 1/tau) v[t-1] + x。"):
            _first_spike_by(x, tau, thr, lambda v: v + (x - v) / tau),
        say("charge equation: the leak factor is k = 1 - 1/tau, not 1/tau.",
            "充电方程：泄漏因子是 k = 1 - 1/tau，而不是 1/tau。"):
            _first_spike_by(x, tau, thr, lambda v: v / tau + x),
        say("charge equation: the leak factor is k = 1 - 1/tau, not exp(-1/tau).",
            "充电方程：泄漏因子是 k = 1 - 1/tau，而不是 exp(-1/tau)。"):
            _first_spike_by(x, tau, thr, lambda v: math.exp(-1.0 / tau) * v + x),
    }


def check_first_spike_time(fn: Callable[[float, float, float], Optional[int]]) -> bool:
    """Check ``fn(x, tau, v_threshold) -> first spike index or None`` (notebook 01).

    The neuron is ``OTTTLIFNode(tau, v_threshold)`` (``decay_input=False``, soft reset) fed the
    constant current ``x`` from ``v = 0``: ``v[t] = x (1 - k^(t+1)) / (1 - k)`` with
    ``k = 1 - 1/tau`` until the first spike. ``fn`` must return the first time step ``t``
    (counting from 0) at which it spikes, or ``None`` if it never does (``x * tau < v_threshold``).
    Checked on fixed and seeded random cases against a simulation of ``OTTTLIFNode``.
    """
    name = "check_first_spike_time"
    gen = torch.Generator().manual_seed(1)
    cases = list(_FIRST_SPIKE_CASES)
    while len(cases) < 20:
        x = 0.05 + 1.5 * float(torch.rand(1, generator=gen))
        tau = 1.5 + 8.5 * float(torch.rand(1, generator=gen))
        thr = 0.5 + 1.5 * float(torch.rand(1, generator=gen))
        if abs(x * tau - thr) > 1e-2:
            cases.append((round(x, 3), round(tau, 3), round(thr, 3)))
    cases += _FIRST_SPIKE_TIES
    try:
        answers = []                   # (case, expected, got) for every case that is checked
        for x, tau, thr in cases:
            expected, margin = _simulate_first_spike(x, tau, thr)
            if margin < 1e-9 and (x, tau, thr) not in _FIRST_SPIKE_TIES:
                continue               # a random case on a rounding knife-edge
            got = _time_step_answer(name, f"x={x}, tau={tau}, v_threshold={thr}",
                                    _call(name, fn, x, tau, thr))
            answers.append(((x, tau, thr), expected, got))
        wrong = [a for a in answers if not (a[2] == a[1] and (a[2] is None) == (a[1] is None))]
        if wrong:
            # A wrong *model* explains every answer: name it (better than a per-case guess).
            for hint, _ in _first_spike_mistakes(*wrong[0][0]).items():
                if all(_first_spike_mistakes(*c)[hint] == g for c, _, g in answers):
                    (x, tau, thr), expected, got = wrong[0]
                    _fail(name, f"x={x}, tau={tau}, v_threshold={thr}", expected, got, hint)
        for (x, tau, thr), expected, got in wrong[:1]:
            case = f"x={x}, tau={tau}, v_threshold={thr}"
            if expected is None:
                hint = say(f"here x * tau = {x * tau:.4f} < v_threshold, so v only approaches "
                           f"x * tau from below and the neuron never fires: return None.",
                           f"这里 x * tau = {x * tau:.4f} < v_threshold，v 只会从下方趋近 "
                           f"x * tau，神经元永远不会发放：请返回 None。")
            elif got is None:
                hint = say(f"the neuron does fire: v[t] tends to x * tau = {x * tau:.4f}, which is "
                           f"above v_threshold. Find the first t with v[t] >= v_threshold.",
                           f"神经元会发放：v[t] 趋近于 x * tau = {x * tau:.4f}，高于 v_threshold。"
                           f"请找出满足 v[t] >= v_threshold 的第一个 t。")
            elif isinstance(got, int) and got == expected + 1 and (x, tau, thr) in _FIRST_SPIKE_TIES:
                hint = say("an exact tie: v[t] == v_threshold here and the neuron fires "
                           "(v >= v_threshold); floor(n) or a strict > misses it, use ceil(n) - 1.",
                           "恰好相等：这里 v[t] == v_threshold，神经元会发放 (v >= v_threshold)；"
                           "floor(n) 或严格的 > 会漏掉它，请用 ceil(n) - 1。")
            elif isinstance(got, int) and got == expected + 1:
                hint = say("off by one: count time steps from 0, and v[0] = x already (the first "
                           "input is added at t = 0).",
                           "差了一步：时间步从 0 开始计数，而且 v[0] 已经等于 x（第一个输入在 "
                           "t = 0 时就加上了）。")
            elif isinstance(got, int) and got == expected - 1:
                hint = say("off by one: v[t] = x (1 - k^(t+1)) / (1 - k) has t+1 terms at step t; "
                           "a spike needs v[t] >= v_threshold, not v[t+1].",
                           "差了一步：在第 t 步，v[t] = x (1 - k^(t+1)) / (1 - k) 有 t+1 项；"
                           "发放脉冲要求的是 v[t] >= v_threshold，而不是 v[t+1]。")
            else:
                hint = say("with k = 1 - 1/tau, v[t] = x (1 - k^(t+1)) / (1 - k); solve "
                           "v[t] >= v_threshold for the smallest integer t (math.log, math.ceil).",
                           "令 k = 1 - 1/tau，则 v[t] = x (1 - k^(t+1)) / (1 - k)；求满足 "
                           "v[t] >= v_threshold 的最小整数 t (math.log, math.ceil)。")
            _fail(name, case, expected, got, hint)
    except _NotAttempted:
        return _not_attempted(say("your first_spike_time", "你的 first_spike_time"))
    return _correct(say(f"first spike times match OTTTLIFNode on {len(answers)} cases, "
                        f"including ones that never fire and exact ties v == v_threshold.",
                        f"在 {len(answers)} 个用例上，首次脉冲时间与 OTTTLIFNode 一致，包括从不"
                        f"发放的用例和恰好 v == v_threshold 的情况。"))


# -- 02: surrogate spike with detach ----------------------------------------------------------
def check_surrogate_spike(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(x, alpha) -> spike`` (notebook 02): step forward, sigmoid-surrogate backward.

    The output's value must equal ``heaviside(x)`` exactly (1 where ``x >= 0``) and its
    gradient must be ``alpha sigmoid(alpha x)(1 - sigmoid(alpha x))``, as for
    ``ottt_edu.surrogate.Sigmoid(alpha)``. Checked for several seeded ``x`` (including
    ``x = 0``) and ``alpha`` in ``{1, 4, 10}``.
    """
    name = "check_surrogate_spike"
    gen = torch.Generator().manual_seed(2)
    try:
        for i, alpha in enumerate([4.0, 1.0, 10.0]):
            x = (2.0 * torch.rand(3, 5, generator=gen, dtype=torch.float64) - 1.0)
            x[0, 0] = 0.0
            x_ref = x.clone().requires_grad_(True)
            ref = Sigmoid(alpha)(x_ref)
            w = torch.rand(3, 5, generator=gen, dtype=torch.float64)
            (ref * w).sum().backward()
            x_in = x.clone().requires_grad_(True)
            case = say(f"case {i} (alpha={alpha}, x of shape (3, 5))",
                       f"用例 {i} (alpha={alpha}, x 的形状为 (3, 5))")
            got = _need_tensor(name, case, _call(name, fn, x_in, alpha), (3, 5))
            if not torch.equal(got.detach().to(ref.dtype), ref.detach()):
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
                if torch.allclose(x_in.grad.to(plain.dtype), plain, atol=1e-6):
                    hint = say("you used sigmoid(x); the surrogate is sigmoid(alpha * x).",
                               "你用的是 sigmoid(x)；替代函数是 sigmoid(alpha * x)。")
                _fail(name, case + say(", gradient dL/dx", "，梯度 dL/dx"), x_ref.grad, x_in.grad,
                      hint)
    except _NotAttempted:
        return _not_attempted(say("your surrogate_spike", "你的 surrogate_spike"))
    return _correct(say("step forward and sigmoid-surrogate backward match surrogate.Sigmoid "
                        "for alpha = 4, 1 and 10.",
                        "前向为阶跃、反向为 sigmoid 替代梯度，在 alpha = 4、1 和 10 时都与 "
                        "surrogate.Sigmoid 一致。"))


# -- 03: ReplaceforGrad by detach ---------------------------------------------------------------
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
    return _correct(say("value of x_r, gradient to x, as ReplaceforGrad on 3 shapes.",
                        "值来自 x_r，梯度传给 x：在 3 种形状上与 ReplaceforGrad 一致。"))


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


def check_trace_closed_form(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(spikes, tau) -> traces`` (notebook 04), both ``(T, N)``.

    ``a[t] = sum_{t' <= t} (1 - 1/tau)^(t - t') s[t']``, compared with the ``trace`` that
    ``OTTTLIFNode`` keeps, for seeded spike trains and ``tau`` in ``{2, 4, 1.5}``. The spikes
    come in float64 and in float32 (the answer must work for both: build new tensors with
    ``spikes.dtype``); an error inside your code is turned into a hint.
    """
    name = "check_trace_closed_form"
    try:
        for i, (T, N, tau, dtype) in enumerate([(8, 3, 2.0, torch.float64), (12, 5, 4.0, torch.float32),
                                                (6, 2, 1.5, torch.float64), (7, 2, 2.0, torch.float32)]):
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
            if torch.allclose(got, -traces, atol=atol):
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


# -- 05/06: OTTTSequential and one OTTT_A update ------------------------------------------------
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
    prediction = answer_value(name, prediction)
    if prediction is None:
        print(say("Not attempted yet: my_prediction still raises NotImplementedError (or gives None): "
                  "make it return a list with one wrapper name per layer and run the cell again.",
                  "尚未作答：my_prediction 仍会抛出 NotImplementedError（或返回 None）：让它返回一个"
                  "列表，每层一个包装名称，然后重新运行该单元格。"),
              file=sys.stderr)
        return False
    truth = net.wrapping()
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
        if ans not in WRAPPER_NAMES:
            raise ExerciseError(say(
                f"{name}: layer {layer}: {answer!r} is not a wrapper name; use one of "
                f"{list(WRAPPER_NAMES)}.",
                f"{name}：层 {layer}：{answer!r} 不是包装名称；请使用 {list(WRAPPER_NAMES)} 之一。"
            ))
        if ans != how:
            wrong.append(say(f"  layer {layer}: you said {ans}, OTTTSequential uses {how} "
                             f"({_WRAPPER_REASON[how]}).",
                             f"  层 {layer}：你的答案是 {ans}，OTTTSequential 使用的是 {how}"
                             f"（{_WRAPPER_REASON_ZH[how]}）。"))
    if wrong:
        raise ExerciseError(say(f"{name}: {len(wrong)} of {len(truth)} layers wrong.\n",
                                f"{name}：{len(truth)} 层中有 {len(wrong)} 层答错了。\n")
                            + "\n".join(wrong))
    return _correct(say(f"all {len(truth)} layers predicted, as net.wrapping() says.",
                        f"全部 {len(truth)} 层都预测正确，与 net.wrapping() 的结果一致。"))


def _ottt_a_reference(net: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                      optimizer: torch.optim.Optimizer, *, online: bool = False,
                      divide_by_T: bool = True, reset: bool = True, steps: Optional[int] = None,
                      zero_grad_inside: bool = False, eval_mode: bool = False,
                      step_inside: bool = False, mean_output: bool = False) -> float:
    """OTTT_A (``online=False``) or OTTT_O (``online=True``) update on one sequence; the other
    switches model common mistakes. Returns the sequence's loss (sum of the per-step losses / T)."""
    T = x_seq.shape[0]
    if eval_mode:
        net.eval()
    optimizer.zero_grad()
    total = 0.0
    if mean_output:   # one loss on the time-averaged output, one backward after all T steps
        loss = F.cross_entropy(torch.stack([net(x_seq[t]) for t in range(T)]).mean(0), y)
        loss.backward()
        optimizer.step()
        reset_net(net)
        return loss.item()
    for t in range(T if steps is None else steps):
        if zero_grad_inside:
            optimizer.zero_grad()
        loss = F.cross_entropy(net(x_seq[t]), y)
        loss = loss / T if divide_by_T else loss
        loss.backward()
        total += loss.item()
        if online or step_inside:
            optimizer.step()
        if online:
            optimizer.zero_grad()
    if not (online or step_inside):
        optimizer.step()
    if reset:
        reset_net(net)
    return total


def _ottt_a_setup(seed: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    with torch.random.fork_rng():  # leave the notebook's random stream alone
        torch.manual_seed(seed)
        net = OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Linear(6, 3)).double()
    gen = torch.Generator().manual_seed(seed)
    x_seq = 2.0 * torch.rand(5, 2, 4, generator=gen, dtype=torch.float64)  # (T, B, N_in)
    y = torch.randint(0, 3, (2,), generator=gen)
    return net, x_seq, y


def check_ottt_a_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(net, x_seq, y, optimizer) -> loss``: one OTTT_A update on one sequence
    (notebook 06).

    ``fn`` must, for ``t`` in ``range(T)``: ``out = net(x_seq[t])``,
    ``loss = F.cross_entropy(out, y) / T``, ``loss.backward()``; then one
    ``optimizer.step()`` after the last step, and ``reset_net(net)``. The gradients must start
    from zero (``optimizer.zero_grad()`` first, once). It must return the sequence's loss, a
    float: the sum over t of ``loss.item()`` (each already divided by T). Checked on two seeded
    tiny networks (plain SGD) by comparing the updated parameters with a reference update.
    """
    name = "check_ottt_a_step"
    step_once = say("optimizer.step() once, after the T steps (OTTT_A); stepping every time step "
                    "is OTTT_O",
                    "在 T 个时间步之后调用一次 optimizer.step() (OTTT_A)；每个时间步都更新一次的是 "
                    "OTTT_O")
    variants = {   # what the student did (hint: "you ..."): the reference's switches that model it
        say("stepped the optimizer at every time step: call " + step_once,
            "在每个时间步都让优化器更新了一步：请" + step_once): dict(online=True),
        say("called optimizer.step() inside the time loop (with a single zero_grad, so every step "
            "also re-applies the earlier steps' gradients): call " + step_once,
            "在时间循环内调用了 optimizer.step()（而 zero_grad 只调用了一次，所以每一步还会重复应用"
            "之前各步的梯度）：请" + step_once):
            dict(step_inside=True),
        say("did not divide the loss by T", "没有把损失除以 T"): dict(divide_by_T=False),
        say("looped over range(T - 1): the last time step is missing, use range(T)",
            "循环用的是 range(T - 1)：漏掉了最后一个时间步，请用 range(T)"): dict(steps=4),
        say("called optimizer.zero_grad() inside the time loop: that erases the gradients of the "
            "earlier steps, only the last one is left. Call it once, before the loop",
            "在时间循环内调用了 optimizer.zero_grad()：这会清除之前各步的梯度，只剩下最后一步的。"
            "请在循环之前调用一次"):
            dict(zero_grad_inside=True),
        say("put the network in eval mode (net.eval()) before training: in eval mode the neurons "
            "return only spikes, no trace is kept, and the weights get the spike gradient instead "
            "of OTTT's trace gradient. Train in net.train() mode",
            "在训练前把网络设成了评估模式 (net.eval())：评估模式下神经元只返回脉冲，不保留迹，"
            "权重得到的是脉冲的梯度，而不是 OTTT 基于迹的梯度。请在 net.train() 模式下训练"):
            dict(eval_mode=True),
    }
    try:
        for i, seed in enumerate([5, 6]):
            net, x_seq, y = _ottt_a_setup(seed)
            ref = copy.deepcopy(net)
            net.train(), ref.train()
            ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
            with SavedTensorMeter() as ref_memory:
                ref_loss = _ottt_a_reference(ref, x_seq, y, ref_opt)
            opt = torch.optim.SGD(net.parameters(), lr=0.5)
            # a stale gradient, as after an earlier batch, to catch a missing zero_grad()
            for p in net.parameters():
                p.grad = torch.ones_like(p)
            with SavedTensorMeter() as memory:
                returned = _call(name, fn, net, x_seq, y, opt)
            case = say(f"case {i} (T=5, B=2, net Linear(4,6)-OTTTLIFNode-Linear(6,3), SGD lr=0.5)",
                       f"用例 {i} (T=5, B=2, 网络 Linear(4,6)-OTTTLIFNode-Linear(6,3), SGD lr=0.5)")
            if memory.peak_bytes > 1.5 * ref_memory.peak_bytes:
                mean_net, _, _ = _ottt_a_setup(seed)
                _ottt_a_reference(mean_net, x_seq, y,
                                  torch.optim.SGD(mean_net.parameters(), lr=0.5), mean_output=True)
                if all(torch.allclose(a, b, atol=1e-10)
                       for a, b in zip(net.parameters(), mean_net.parameters())):
                    raise ExerciseError(say(
                        f"{name}: {case}: you computed one loss on the time-averaged output and "
                        f"called backward() once (autograd held {memory.peak_bytes} bytes at "
                        f"once, {memory.peak_bytes / ref_memory.peak_bytes:.1f}x the online "
                        f"update's).\n  hint: one backward() after all T steps keeps every "
                        f"step's graph (BPTT's memory) and a loss on the averaged output is not "
                        f"OTTT_A's per-step loss. For t in range(T): a loss on net(x_seq[t]), "
                        f"divided by T, and its backward() at once.",
                        f"{name}：{case}：你在时间平均后的输出上计算了一个损失，并且只调用了一次 "
                        f"backward()（自动微分同时保存了 {memory.peak_bytes} 字节，是在线更新的 "
                        f"{memory.peak_bytes / ref_memory.peak_bytes:.1f} 倍）。\n  提示：在全部 "
                        f"T 个时间步之后才调用一次 backward() 会保留每一步的计算图（即 BPTT 的内存"
                        f"开销），而且平均输出上的损失也不是 OTTT_A 的逐步损失。对 t in range(T)："
                        f"在 net(x_seq[t]) 上计算损失，除以 T，并立即对它调用 backward()。"
                    ))
                raise ExerciseError(say(
                    f"{name}: {case}: autograd held {memory.peak_bytes} bytes at once, "
                    f"{memory.peak_bytes / ref_memory.peak_bytes:.1f}x the online update's "
                    f"{ref_memory.peak_bytes}. Call loss.backward() inside the time loop, at every "
                    f"step: summing the T losses and calling backward() once keeps all T graphs "
                    f"alive, which is BPTT's memory cost (the gradients happen to agree here only "
                    f"because OTTTLIFNode detaches v).",
                    f"{name}：{case}：自动微分同时保存了 {memory.peak_bytes} 字节，是在线更新 "
                    f"({ref_memory.peak_bytes} 字节) 的 "
                    f"{memory.peak_bytes / ref_memory.peak_bytes:.1f} 倍。请在时间循环内的每一步"
                    f"调用 loss.backward()：把 T 个损失相加后只调用一次 backward() 会让全部 T 个"
                    f"计算图同时存活，这正是 BPTT 的内存开销（这里梯度恰好一致，只是因为 "
                    f"OTTTLIFNode 分离了 v）。"
                ))
            for m in net.modules():
                if isinstance(m, LIFNode) and isinstance(m.v, torch.Tensor):
                    raise ExerciseError(say(
                        f"{name}: {case}: after your update the neurons still hold state "
                        f"(v of shape {tuple(m.v.shape)}). Call reset_net(net) at the end, so "
                        f"the next sequence starts from v = 0.",
                        f"{name}：{case}：更新之后神经元仍保留着状态（形状为 {tuple(m.v.shape)} "
                        f"的 v）。请在最后调用 reset_net(net)，让下一个序列从 v = 0 开始。"
                    ))
            for (pname, p), p_ref in zip(net.named_parameters(), ref.parameters()):
                if torch.allclose(p, p_ref, atol=1e-10):
                    continue
                hint = say("compare your loop with the description above the exercise, step by step: "
                           "what is each step's loss divided by, when is backward() called, how "
                           "often does the optimizer step, and when are the gradients zeroed?",
                           "请对照练习上方的说明逐步检查你的循环：每一步的损失除以什么？什么时候"
                           "调用 backward()？优化器多久更新一次？梯度什么时候清零？")
                for why, kw in variants.items():
                    alt_net, _, _ = _ottt_a_setup(seed)
                    alt_opt = torch.optim.SGD(alt_net.parameters(), lr=0.5)
                    _ottt_a_reference(alt_net, x_seq, y, alt_opt, **kw)
                    if all(torch.allclose(a, b, atol=1e-10)
                           for a, b in zip(net.parameters(), alt_net.parameters())):
                        hint = say(f"you {why}.", f"你{why}。")
                        break
                else:
                    start, _, _ = _ottt_a_setup(seed)
                    if all(torch.allclose(a, b) for a, b in zip(net.parameters(), start.parameters())):
                        hint = say("the parameters did not change: call optimizer.step() after the T steps.",
                                   "参数没有变化：请在 T 个时间步之后调用 optimizer.step()。")
                    elif not any(torch.allclose(a, b, atol=1e-10)
                                 for a, b in zip(net.parameters(), ref.parameters())):
                        hint += say(" (If your update does not start with optimizer.zero_grad(), "
                                    "add it: the checker leaves a stale gradient, as from an earlier "
                                    "batch, in every parameter.)",
                                    "（如果你的更新没有先调用 optimizer.zero_grad()，请加上：检查器会在"
                                    "每个参数里留下一个旧梯度，就像上一批数据留下的那样。）")
                _fail(name, say(f"{case}, parameter {pname}", f"{case}，参数 {pname}"), p_ref, p, hint)
            if isinstance(returned, torch.Tensor):
                _fail(name, say(f"{case}, returned value", f"{case}，返回值"), ref_loss, returned,
                      say("return the loss as a Python float, not a tensor: accumulate "
                          "loss.item() over the T steps (total += loss.item()).",
                          "请把损失作为 Python float 返回，而不是张量：在 T 个时间步上累加 "
                          "loss.item() (total += loss.item())。"))
            try:
                ok = (isinstance(returned, numbers.Real) and not isinstance(returned, bool)
                      and abs(float(returned) - ref_loss) < 1e-8)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                _fail(name, say(f"{case}, returned value", f"{case}，返回值"), ref_loss, returned,
                      say("return the sequence's loss as a float: add up loss.item() over the T steps "
                          "(each loss already divided by T).",
                          "请以 float 返回整个序列的损失：把 T 个时间步的 loss.item() 加起来"
                          "（每个损失都已除以 T）。"))
    except _NotAttempted:
        return _not_attempted(say("your ottt_a_step", "你的 ottt_a_step"))
    return _correct(say("your OTTT_A update gives the reference parameters on 2 seeded networks.",
                        "在 2 个固定随机种子的网络上，你的 OTTT_A 更新得到了与参考实现相同的参数。"))


# =============================================================================================
# "Build it" exercises: the student writes the five modules the course rebuilds, and each
# checker compares the student's object with the library: values, every gradient, training
# and eval mode, an MLP and a CNN with pooling and flatten, several time steps and
# ``reset_net`` between sequences. Every checker also verifies that the student's code left
# its inputs unchanged (an in-place ``x.data.copy_(...)`` would corrupt the caller's tensor).
#
#   03: check_replace_for_grad   (a torch.autograd.Function)
#   04: check_ottt_lif_step      (one OTTT LIF step with the trace)
#       check_grad_with_trace    (GradwithTrace from ReplaceforGrad)
#   05: check_spike_trace_op     (SpikeTraceOp)
#       check_ottt_dispatch      (OTTTSequential's dispatch rule)
# =============================================================================================
__all__ += [
    "check_replace_for_grad",
    "check_ottt_lif_step",
    "check_grad_with_trace",
    "check_spike_trace_op",
    "check_ottt_dispatch",
]

from ._checks import has_parameters as _has_parameters, is_spike_trace_pair as _is_pair  # noqa: E402


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
    return say("read the error above: it was raised while running your code.",
               "请阅读上面的错误信息：它是在运行你的代码时抛出的。")


def _run(name: str, case: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run student code: NotImplementedError -> not attempted; any other error -> a hint."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise _NotAttempted() from e
    except ExerciseError:
        raise
    except Exception as e:  # noqa: BLE001 - the student's code may raise anything
        raise ExerciseError(say(
            f"{name}: for {case} your code raised {type(e).__name__}: {str(e)[:600]}\n"
            f"  hint: {_error_hint(e)}",
            f"{name}：{case}：你的代码抛出了 {type(e).__name__}：{str(e)[:600]}\n"
            f"  提示：{_error_hint(e)}"
        )) from e


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
        from .spike_trace_op import SpikeTraceOp
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
        else:  # pragma: no cover
            raise ValueError(arch)
        for m in layers:
            for p in m.parameters():
                p.data.mul_(2.0)         # enough input current that the neurons fire
        return [m.double() for m in layers]


_IN_SHAPE = {"mlp": (4,), "cnn": (1, 4, 4), "cnn_pool_neuron": (1, 4, 4), "mlp_affine": (4,)}
_ARCH_TEXT = {"mlp": "MLP Linear-LIF-Linear-LIF-Linear",
              "mlp_affine": "MLP Linear-LIF-Affine-LIF-Linear (Affine: y = scale * x + shift, "
                            "a layer with parameters that is neither Linear nor Conv)",
              "cnn": "CNN Conv-LIF-Conv-LIF-AvgPool-Flatten-Linear",
              "cnn_pool_neuron": "CNN Conv-LIF-AvgPool-LIF-Flatten-Linear"}
_ARCH_TEXT_ZH = {"mlp": "MLP Linear-LIF-Linear-LIF-Linear",
                 "mlp_affine": "MLP Linear-LIF-Affine-LIF-Linear（Affine：y = scale * x + shift，"
                               "一个有参数、但既不是 Linear 也不是 Conv 的层）",
                 "cnn": "CNN Conv-LIF-Conv-LIF-AvgPool-Flatten-Linear",
                 "cnn_pool_neuron": "CNN Conv-LIF-AvgPool-LIF-Flatten-Linear"}


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


# -- 03: ReplaceforGrad as a torch.autograd.Function -------------------------------------------
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


# -- 04: one OTTT LIF step with the trace ------------------------------------------------------
def _lif_step_ref(x: torch.Tensor, v: torch.Tensor, trace: torch.Tensor, tau: float, thr: float,
                  training: bool) -> tuple[Any, torch.Tensor, torch.Tensor]:
    node = OTTTLIFNode(tau=tau, v_threshold=thr).train(training)
    node.v, node.trace = v, trace.clone()
    out = node(x)
    return out, node.v, node.trace


def check_ottt_lif_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(x, v, trace, tau, v_threshold, surrogate, training) -> (out, v, trace)``:
    one step of ``OTTTLIFNode`` (notebook 04).

    ``x``, ``v`` (after the previous step's reset) and ``trace`` are tensors of one shape
    ``(B, ...)``. With ``k = 1 - 1/tau``: charge ``v = k * v.detach() + x``; fire
    ``spike = surrogate(v - v_threshold)``; soft, detached reset
    ``v = v - spike.detach() * v_threshold``; in training the trace ``k * trace + spike``
    without gradient, and ``out = [spike, trace]``; in eval ``out = spike`` and the trace is
    returned unchanged. Checked step by step (values, the gradient through the spike, the
    gradient through the new ``v``, no gradient into the old ``v`` or the trace, exact ties
    ``v == v_threshold``, inputs unchanged), then as the neuron of an MLP and a CNN over
    several steps and sequences, in training and eval mode, against ``OTTTLIFNode``.
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
                        hint = say("the gradient reaches the spike twice: compute the value "
                                   "m(spike) without a graph (torch.no_grad()), the gradient path "
                                   "is m(trace).",
                                   "梯度两次传到了脉冲：请在不建计算图的情况下 (torch.no_grad()) "
                                   "计算值 m(spike)，梯度路径是 m(trace)。")
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


# -- 05: SpikeTraceOp -------------------------------------------------------------------------
class _Scale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x


def check_spike_trace_op(op_class: Callable[[nn.Module], nn.Module]) -> bool:
    """Check ``op_class(module)([spike, trace]) -> [module(spike), module(trace)]`` (notebook 05).

    The spike keeps its graph (the gradient flows back through ``module``), the trace is
    computed without one, the order is ``[spike, trace]`` and the inputs are left unchanged.
    Checked on ``nn.AvgPool2d(2)``, ``nn.Flatten()`` and a scaling, then inside CNNs with
    pooling and flatten (training mode, where the wrapper is used) against ``SpikeTraceOp``.
    """
    from .spike_trace_op import SpikeTraceOp
    name = "check_spike_trace_op"
    _need_class(name, op_class, "MySpikeTraceOp")
    gen = torch.Generator().manual_seed(51)
    try:
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
            out = _run(name, case, lambda: op_class(m)([s_in, a_in]))
            _inputs_unchanged(name, case, spike=(spike0, s_in), trace=(trace0, a_in))
            want_s, want_a = m(spike0), m(trace0)
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
def check_ottt_dispatch(fn: Callable[[list, Any], Any]) -> bool:
    """Check ``fn(layers, x) -> output``: ``OTTTSequential``'s forward (notebook 05).

    For each layer ``m`` in order: while ``x`` is a plain tensor, ``x = m(x)``; once it is a
    ``[spike, trace]`` pair, a spiking neuron gets the spike only (``m(x[0])``), a module with
    parameters goes through ``GradwithTrace``, a parameter-free one through ``SpikeTraceOp``.
    Checked on two MLPs (one with a parametric layer that is neither ``nn.Linear`` nor a conv,
    so that dispatching by type fails) and two CNNs (one with a neuron right after pooling);
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
    try:
        for arch in ("mlp", "cnn", "cnn_pool_neuron", "mlp_affine"):
            ref = OTTTSequential(*_layers(arch, 4, OTTTLIFNode))
            mine = _FnSequential(fn, *_layers(arch, 4, OTTTLIFNode))
            try:
                _compare_online(name, arch, ref, mine, rule)
            except ExerciseError as err:
                specific = _dispatch_mistake(name, arch, fn, rule)
                if specific is None and arch == "mlp_affine":
                    specific = by_type      # the other networks passed: the rule is by type
                if specific is None:
                    raise
                raise ExerciseError(say(f"{err}\n  more precisely: {specific}",
                                        f"{err}\n  更具体地说：{specific}")) from None
    except _NotAttempted:
        return _not_attempted(say("your ottt_forward", "你的 ottt_forward"))
    return _correct(say("same outputs and gradients as OTTTSequential on two MLPs (one with a "
                        "parametric layer that is neither Linear nor Conv) and two CNNs, in "
                        "training and eval mode, over two sequences with reset_net between.",
                        "在两个 MLP（其中一个含有既不是 Linear 也不是 Conv 的带参数层）和两个 CNN "
                        "上，训练模式和评估模式下，两个序列（中间调用 reset_net）的输出和梯度都与 "
                        "OTTTSequential 相同。"))


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
    from .spike_trace_op import SpikeTraceOp
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
