"""The exercise of notebook 01 (spiking neurons): the first spike time of an LIF neuron.

``check_first_spike_time`` checks ``fn(x, tau, v_threshold) -> first spike index or None``
for an ``OTTTLIFNode`` (``decay_input=False``, soft reset) under a constant input, against a
simulation of the neuron, on fixed, seeded random and exactly tied cases; a wrong answer that
a known wrong model (a strict ``>``, the wrong leak factor or charge equation) explains gets
that model's hint.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Optional, Union

import torch

from ...neuron.lif import OTTTLIFNode
from ..language import say
from .core import (ExerciseError, _NotAttempted, _call, _call_limited, _correct, _fail,
                   _not_attempted, watched)

__all__ = ["check_first_spike_time"]


# -- 01: first spike time ---------------------------------------------------------------------
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


# Slow neurons (x * tau just above v_threshold): the first spike comes after 50 to 500 steps, so
# a loop capped at a few dozen steps reports them silent.
_FIRST_SPIKE_LATE = [(0.0505, 20.0, 1.0), (0.02, 60.0, 1.0), (0.0101, 100.0, 1.0)]
# x * tau == v_threshold exactly (in binary too): v[t] = v_threshold (1 - k^(t+1)) < v_threshold
# for every t, so the neuron never fires; a floating-point simulation (OTTTLIFNode included)
# reaches the threshold after some 25 (float32) or 50 (float64) steps by rounding alone. None is
# the answer; the step at which a float64 loop fires is accepted too (it is the same loop as the
# simulation's); a guard x * tau < v_threshold sends the closed form into log(0).
_NEVER_EXACTLY = [(0.5, 2.0, 1.0), (0.1, 10.0, 1.0), (0.25, 4.0, 1.0), (0.75, 2.0, 1.5)]


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
        say("charge equation: the leak comes before the input: v[t] = (1 - 1/tau) v[t-1] + x, "
            "not (1 - 1/tau) (v[t-1] + x) (that leaks the new input too).",
            "充电方程：先泄漏、再加输入：v[t] = (1 - 1/tau) v[t-1] + x，而不是 "
            "(1 - 1/tau) (v[t-1] + x)（那样连新的输入也泄漏了）。"):
            _first_spike_by(x, tau, thr, lambda v: k * (v + x)),
        say("charge equation: the leak factor is k = 1 - 1/tau, not 1/tau.",
            "充电方程：泄漏因子是 k = 1 - 1/tau，而不是 1/tau。"):
            _first_spike_by(x, tau, thr, lambda v: v / tau + x),
        say("charge equation: the leak factor is k = 1 - 1/tau, not exp(-1/tau).",
            "充电方程：泄漏因子是 k = 1 - 1/tau，而不是 exp(-1/tau)。"):
            _first_spike_by(x, tau, thr, lambda v: math.exp(-1.0 / tau) * v + x),
    }


def _equality_hint(x: float, tau: float) -> str:
    return say(f"here x * tau = {x * tau:g} = v_threshold exactly: v[t] = v_threshold (1 - k^(t+1)) "
               f"stays below v_threshold for every t and only reaches it in the limit, so the "
               f"neuron never fires: return None. Decide it with x * tau <= v_threshold (the "
               f"formula's log(0) fails; a float64 loop that fires after some 50 steps by rounding "
               f"alone is accepted too).",
               f"这里 x * tau = {x * tau:g}，恰好等于 v_threshold：v[t] = v_threshold (1 - k^(t+1)) "
               f"对每个 t 都低于 v_threshold，只在极限中才达到，所以神经元永远不会发放：请返回 "
               f"None。请用 x * tau <= v_threshold 判断（公式中的 log(0) 会出错；仅因舍入误差而在大约 "
               f"50 步后发放的 float64 循环也算正确）。")


def _never_hint() -> str:
    return say("this neuron never fires (x * tau <= v_threshold: v creeps up towards x * tau and "
               "never reaches the threshold), so a loop that waits for its spike never ends; "
               "return None for it before looping.",
               "这个神经元永远不会发放（x * tau <= v_threshold：v 逐渐趋近 x * tau，永远达不到阈值），"
               "所以等待它发放的循环永远不会结束；请在循环之前为它返回 None。")


def _fires_hint(expected: Optional[int]) -> str:
    return say(f"this neuron does fire (x * tau > v_threshold), at t = {expected}, but your loop "
               f"never saw v reach the threshold: check the charge equation, "
               f"v[t] = (1 - 1/tau) v[t-1] + x.",
               f"这个神经元确实会发放（x * tau > v_threshold），在 t = {expected}，但你的循环一直没看到 v "
               f"达到阈值：请检查充电方程 v[t] = (1 - 1/tau) v[t-1] + x。")


@watched()
def check_first_spike_time(fn: Callable[[float, float, float], Optional[int]]) -> bool:
    """Check ``fn(x, tau, v_threshold) -> first spike index or None`` (notebook 01).

    The neuron is ``OTTTLIFNode(tau, v_threshold)`` (``decay_input=False``, soft reset) fed the
    constant current ``x`` from ``v = 0``: ``v[t] = x (1 - k^(t+1)) / (1 - k)`` with
    ``k = 1 - 1/tau`` until the first spike. ``fn`` must return the first time step ``t``
    (counting from 0) at which it spikes, or ``None`` if it never does (``x * tau <= v_threshold``).
    Checked on fixed and seeded random cases against a simulation of ``OTTTLIFNode``, slow
    neurons that fire after hundreds of steps, exact ties, and ``x * tau == v_threshold``
    exactly (never fires; the step at which a float64 loop fires by rounding is accepted too).
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
    cases += _FIRST_SPIKE_TIES + _FIRST_SPIKE_LATE
    try:
        answers = []                   # (case, expected, got) for every case that is checked
        for x, tau, thr in cases + _NEVER_EXACTLY:
            if (x, tau, thr) in _NEVER_EXACTLY:
                expected = None        # exact: v only reaches v_threshold in the limit
                try:
                    raw = _call_limited(name, f"x={x}, tau={tau}, v_threshold={thr}", fn, x, tau, thr,
                                        hint=_never_hint())
                except (ValueError, ZeroDivisionError, OverflowError) as e:
                    _fail(name, f"x={x}, tau={tau}, v_threshold={thr}", None,
                          f"{type(e).__name__}: {e}", _equality_hint(x, tau))
            else:
                expected, margin = _simulate_first_spike(x, tau, thr)
                if margin < 1e-9 and (x, tau, thr) not in _FIRST_SPIKE_TIES:
                    continue           # a random case on a rounding knife-edge
                try:
                    raw = _call_limited(name, f"x={x}, tau={tau}, v_threshold={thr}", fn, x, tau, thr,
                                        hint=_never_hint() if x * tau <= thr else _fires_hint(expected))
                except (ValueError, ZeroDivisionError, OverflowError) as e:
                    if x * tau > thr:
                        raise
                    # a closed form without the guard: log of a negative number for a neuron
                    # that never fires
                    _fail(name, f"x={x}, tau={tau}, v_threshold={thr}", None,
                          f"{type(e).__name__}: {e}", _never_hint())
            got = _time_step_answer(name, f"x={x}, tau={tau}, v_threshold={thr}", raw)
            if (x, tau, thr) in _NEVER_EXACTLY and got is not None and got == _simulate_first_spike(x, tau, thr)[0]:
                got = None             # a float64 loop's answer: rounding, accepted as "never"
            answers.append(((x, tau, thr), expected, got))
        wrong = [a for a in answers if not (a[2] == a[1] and (a[2] is None) == (a[1] is None))]
        if wrong:
            # A wrong *model* explains every answer: name it (better than a per-case guess).
            # (every answer, or, with two wrong answers or more and not all None, every wrong one:
            # a guard "x * tau <= v_threshold: return None" can keep a wrong model right elsewhere)
            for hint, _ in _first_spike_mistakes(*wrong[0][0]).items():
                if all(_first_spike_mistakes(*c)[hint] == g for c, _, g in answers) or (
                        len(wrong) >= 2 and any(g is not None for _, _, g in wrong)
                        and all(_first_spike_mistakes(*c)[hint] == g for c, _, g in wrong)):
                    (x, tau, thr), expected, got = wrong[0]
                    _fail(name, f"x={x}, tau={tau}, v_threshold={thr}", expected, got, hint)
        for (x, tau, thr), expected, got in wrong[:1]:
            case = f"x={x}, tau={tau}, v_threshold={thr}"
            if (x, tau, thr) in _NEVER_EXACTLY:
                hint = _equality_hint(x, tau)
            elif expected is not None and expected > 50 and got is None:
                hint = say(f"the neuron does fire, late: x * tau = {x * tau:.4f} is just above "
                           f"v_threshold, so v[t] creeps up for many steps. A loop capped at a "
                           f"few dozen steps stops too early; once x * tau > v_threshold the neuron "
                           f"always fires, so a loop needs no cap (or use the closed form).",
                           f"神经元会发放，只是很晚：x * tau = {x * tau:.4f} 仅略高于 v_threshold，"
                           f"v[t] 要缓慢上升很多步。只循环几十步就停下太早了；只要 x * tau > "
                           f"v_threshold，神经元就一定会发放，所以循环不需要上限（或者用闭式解）。")
            elif expected is None:
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
