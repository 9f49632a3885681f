"""Checkers for the guided tasks of notebook 11 (the playground with the three explorers).

English
    Each task asks one question that you answer by moving an explorer's sliders (or by calling
    the function behind it, ``ottt_edu.course.explore``, in a loop) and writing one number into a
    variable. You hand that number to a ``check_*`` function here, which behaves like the
    checkers of ``ottt_edu.course.exercises``:

    * right (within the tolerance the task states): prints ``Correct! ...``, returns ``True``;
    * not attempted yet (the answer is still ``None``): prints a note and returns ``False``;
    * wrong: raises ``ExerciseError`` with a hint on what to look at (not the answer);
    * not a number (e.g. the text ``"0.5"``): raises ``ExerciseError`` saying so.

    The right answers are computed here, from the same library functions the explorers draw
    (``explore.simulate_lif``, ``explore.surrogate_curves``, ``explore.ottt_vs_bptt_sweep``),
    so they cannot drift from what the sliders show. They are cached: each is computed once.
中文
    第 10 本笔记中引导任务的检查函数: 移动滑块 (或循环调用 ``ottt_edu.course.explore`` 中的函数) 找到
    答案, 写入一个变量后交给 ``check_*``。正确时打印 ``Correct!`` 并返回 ``True``; 答案仍为
    ``None`` 时打印提示并返回 ``False``; 错误时抛出带提示的 ``ExerciseError``。正确答案由库
    函数计算, 不会与滑块显示的结果不一致。

Tasks (section: checker -> answer):
    1 LIF:       ``check_lif_threshold_strength`` (weakest constant input that fires),
                 ``check_lif_tau_for_spikes`` (smallest tau on the slider with 13 spikes)
    2 surrogate: ``check_surrogate_alpha_for_peak`` (alpha with peak gradient 2),
                 ``check_surrogate_fwhm`` (width at half height, alpha = 2.5)
    3 OTTT/BPTT: ``check_lowest_cosine_tau`` (tau on the slider with the lowest first-layer
                 cosine at T = 8), ``check_memory_ratio`` (BPTT / OTTT saved bytes at T = 32)
"""
from __future__ import annotations

import functools
import math
import numbers
import sys
from typing import Any, Callable, Optional

import numpy as np
import torch

from . import explore
from .exercises import ExerciseError, answer_value
from .exercises.core import watched
from .language import say

__all__ = [
    "LIF_TAU_GRID", "OTTT_TAU_GRID",
    "LIF_TASK", "SPIKES_WANTED", "PEAK_WANTED", "FWHM_ALPHA", "COSINE_T", "SLIDER_T_END", "MEMORY_T",
    "MEMORY_TAU",
    "first_firing_strength", "smallest_tau_with_spikes", "alpha_for_peak", "measured_fwhm",
    "lowest_cosine_tau", "memory_ratio",
    "check_lif_threshold_strength", "check_lif_tau_for_spikes", "check_surrogate_alpha_for_peak",
    "check_surrogate_fwhm", "check_lowest_cosine_tau", "check_memory_ratio",
]

#: The values of ``lif_explorer``'s tau slider (1.2 to 10.0 in steps of 0.1).
LIF_TAU_GRID: tuple[float, ...] = tuple(round(1.2 + 0.1 * i, 1) for i in range(89))
#: The values of ``ottt_vs_bptt_explorer``'s tau slider (1.5 to 8.0 in steps of 0.5).
OTTT_TAU_GRID: tuple[float, ...] = tuple(1.5 + 0.5 * i for i in range(14))

#: Task 1a: the neuron of the LIF explorer with a constant input (rate 1).
LIF_TASK = explore.LIFParams(tau=2.0, v_threshold=1.0, rate=1.0, T=40)
SPIKES_WANTED = 13      # task 1b: spikes in T = 40 steps, explorer defaults otherwise
PEAK_WANTED = 2.0       # task 2a: peak of the surrogate gradient
FWHM_ALPHA = 2.5        # task 2b: alpha whose width at half height is asked
COSINE_T = 8            # task 3a: T at which the first-layer cosine is compared over tau (its
                        # lowest tau, 6.0, lies inside the slider: at T = 16 it was the end, 8.0)
SLIDER_T_END = 16       # the explorer's T slider ends here (task 3b's hint)
MEMORY_T = 32           # task 3b: T at which BPTT's and OTTT's saved bytes are compared
MEMORY_TAU = 2.0        # task 3b: tau (the explorer's default)

#: the right answers below: an answer function must not call them (``assert_own_code``)
ANSWER_FUNCTIONS = ("first_firing_strength", "smallest_tau_with_spikes", "alpha_for_peak",
                    "measured_fwhm", "lowest_cosine_tau", "memory_ratio")
#: what an answer function may run: the explorers' functions and what they are built on
_MAY_USE = ("ottt_edu.course.explore", "ottt_edu.measure", "ottt_edu.neuron", "ottt_edu.layer",
            "ottt_edu.functional", "ottt_edu.models")
_EPS = 1e-6             # tolerances are inclusive, up to rounding (float32 answers too)


# -- the right answers, from the library ------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _first_firing_strength(tau: float = LIF_TASK.tau, v_threshold: float = LIF_TASK.v_threshold,
                          T: int = LIF_TASK.T) -> float:
    """:func:`first_firing_strength`, computed once (cached)."""
    def fires(x: float) -> bool:
        d = explore.simulate_lif(tau=tau, v_threshold=v_threshold, input_strength=x, rate=1.0,
                                 reset=LIF_TASK.reset, T=T, seed=LIF_TASK.seed)
        return bool(d["spike"].sum() > 0)

    lo, hi = 0.0, float(v_threshold)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fires(mid) else (mid, hi)
    return hi


def first_firing_strength(tau: float = LIF_TASK.tau, v_threshold: float = LIF_TASK.v_threshold,
                          T: int = LIF_TASK.T) -> float:
    """Weakest constant input (``rate=1``) at which ``explore.simulate_lif`` spikes within ``T``.

    Bisection (60 halvings) on ``input_strength`` between 0 (never fires) and ``v_threshold``
    (fires at t = 0). Analytically ``v_threshold / (tau (1 - k^T))`` with ``k = 1 - 1/tau``.
    """
    return _first_firing_strength(tau, v_threshold, T)  # a Python function over the cache: the checkers see the call


def _lif_spike_count(tau: float) -> int:
    return int(explore.simulate_lif(**{**explore.LIFParams().__dict__, "tau": tau})["spike"].sum())


@functools.lru_cache(maxsize=None)
def _smallest_tau_with_spikes(n_spikes: int = SPIKES_WANTED) -> Optional[float]:
    """:func:`smallest_tau_with_spikes`, computed once (cached)."""
    for tau in LIF_TAU_GRID:
        if _lif_spike_count(tau) >= n_spikes:
            return tau
    return None


def smallest_tau_with_spikes(n_spikes: int = SPIKES_WANTED) -> Optional[float]:
    """Smallest tau in ``LIF_TAU_GRID`` at which the LIF explorer's default neuron
    (``explore.LIFParams()`` but tau) spikes at least ``n_spikes`` times; ``None`` if none does."""
    return _smallest_tau_with_spikes(n_spikes)  # a Python function over the cache: the checkers see the call


def _surrogate_peak(alpha: float) -> float:
    return float(explore.surrogate_curves(alpha=alpha)["grad"].max())


@functools.lru_cache(maxsize=None)
def _alpha_for_peak(peak: float = PEAK_WANTED) -> float:
    """:func:`alpha_for_peak`, computed once (cached)."""
    return float(peak) / _surrogate_peak(1.0)


def alpha_for_peak(peak: float = PEAK_WANTED) -> float:
    """The alpha at which the surrogate gradient's maximum (autograd through
    ``surrogate.Sigmoid``) equals ``peak``; the peak is proportional to alpha (``alpha/4``)."""
    return _alpha_for_peak(peak)  # a Python function over the cache: the checkers see the call


@functools.lru_cache(maxsize=None)
def _measured_fwhm(alpha: float = FWHM_ALPHA) -> float:
    """:func:`measured_fwhm`, computed once (cached)."""
    c = explore.surrogate_curves(alpha=alpha, num=40001)
    x, g = c["x"], c["grad"]
    half = g.max() / 2.0
    above = np.nonzero(g >= half)[0]
    i, j = int(above[0]), int(above[-1])
    left = x[i - 1] + (half - g[i - 1]) * (x[i] - x[i - 1]) / (g[i] - g[i - 1])
    right = x[j] + (g[j] - half) * (x[j + 1] - x[j]) / (g[j] - g[j + 1])
    return float(right - left)


def measured_fwhm(alpha: float = FWHM_ALPHA) -> float:
    """Full width at half maximum of the surrogate gradient for ``alpha``, measured on the
    library's gradient curve (40001 points on [-2, 2], linear interpolation at both crossings)."""
    return _measured_fwhm(alpha)  # a Python function over the cache: the checkers see the call


def _cosine_over_tau(T: int) -> dict[float, float]:
    """First-layer cosine(OTTT, BPTT) at ``T`` for every tau of ``OTTT_TAU_GRID`` (cached in
    ``explore``, so the explorer and this checker share the runs)."""
    out = {}
    for tau in OTTT_TAU_GRID:
        cosine = explore.ottt_vs_bptt_sweep(T=T, tau=tau, Ts=(T,))["cosine"]
        out[tau] = next(iter(cosine.values()))
    return out


@functools.lru_cache(maxsize=None)
def _lowest_cosine_tau(T: int = COSINE_T) -> float:
    """:func:`lowest_cosine_tau`, computed once (cached)."""
    cosines = _cosine_over_tau(T)
    return min(cosines, key=cosines.__getitem__)


def lowest_cosine_tau(T: int = COSINE_T) -> float:
    """The tau in ``OTTT_TAU_GRID`` with the lowest first-layer gradient cosine at ``T``."""
    return _lowest_cosine_tau(T)  # a Python function over the cache: the checkers see the call


@functools.lru_cache(maxsize=None)
def _memory_ratio(T: int = MEMORY_T, tau: float = MEMORY_TAU) -> float:
    """:func:`memory_ratio`, computed once (cached)."""
    d = explore.ottt_vs_bptt_sweep(T=T, tau=tau, Ts=(T,))
    return d["bptt_bytes"] / d["ottt_bytes"]


def memory_ratio(T: int = MEMORY_T, tau: float = MEMORY_TAU) -> float:
    """BPTT's saved bytes divided by OTTT's, ``ottt_vs_bptt(T, tau)`` as the explorer runs it."""
    return _memory_ratio(T, tau)  # a Python function over the cache: the checkers see the call


# -- shared checking --------------------------------------------------------------------------
def _as_number(task: str, answer: Any) -> Optional[float]:
    """``answer`` as a float; ``None`` stays ``None``; text, bools, NaN and the rest raise."""
    if answer is None:
        return None
    value = answer
    if isinstance(answer, np.ndarray) and answer.size == 1:
        value = answer.item()
    elif isinstance(answer, torch.Tensor) and answer.numel() == 1:
        value = answer.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        extra = (say(f" Write the number itself, without quotes: {answer.strip()}, not {answer!r}.",
                     f"请直接写数字本身，不要加引号：写 {answer.strip()}，而不是 {answer!r}。")
                 if isinstance(answer, str) else "")
        raise ExerciseError(say(f"{task}: your answer must be a number, got {type(answer).__name__} "
                                f"{answer!r}.{extra}",
                                f"{task}：你的答案必须是一个数，收到的是 {type(answer).__name__} "
                                f"{answer!r}。{extra}"))
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(say(f"{task}: your answer must be a finite number, got {value}.",
                                f"{task}：你的答案必须是一个有限的数，收到的是 {value}。"))
    return value


def _not_attempted(task: str, variable: str) -> bool:
    # stderr: nbgrader's autograder gives a graded cell that writes there zero points
    print(say(f"Not attempted yet ({task}): {variable} still raises NotImplementedError (or gives "
              f"None). Make it return your number and run the cell again.",
              f"尚未作答（{task}）：{variable} 仍会抛出 NotImplementedError（或返回 None）。"
              f"让它返回你的数，然后重新运行该单元格。"), file=sys.stderr)
    return False


def _correct(msg: str) -> bool:
    """Print the "Correct!" line; ``msg`` is already in the checkers' language (``say``)."""
    print(say(f"Correct! {msg}", f"正确！{msg}"))
    return True


def _wrong(task: str, value: float, tolerance: str, hint: str) -> None:
    raise ExerciseError(say(f"{task}: {value:g} is not it (accepted: {tolerance}).\n  hint: {hint}",
                            f"{task}：{value:g} 不对（可接受：{tolerance}）。\n  提示：{hint}"))


def _check(task: str, variable: str, answer: Any, truth: float, tol: float, tolerance: str,
           hint: Callable[[float], str], correct: str, given: bool = True) -> bool:
    """``given``: ``answer`` is as the student gave it (a function); else its value already."""
    value = _as_number(task, answer_value(task, answer, forbidden=ANSWER_FUNCTIONS) if given else answer)
    if value is None:
        return _not_attempted(task, variable)
    if abs(value - truth) <= tol + _EPS:
        return _correct(correct)
    _wrong(task, value, tolerance, hint(value))
    return False  # not reached


# -- 1 · LIF neuron ---------------------------------------------------------------------------
@watched(*_MAY_USE)
def check_lif_threshold_strength(answer: Any) -> bool:
    """Task 1a: the weakest input strength at which the LIF explorer's neuron with ``rate = 1``,
    ``tau = 2``, ``v_threshold = 1``, soft reset, fires at least once in ``T = 40`` steps.

    The exact limit is ``first_firing_strength()`` (0.5 and a hair: at 0.5 itself ``v`` only
    approaches the threshold); on the slider the first value that fires is 0.55. Accepted: from
    the limit (rounded to 0.5) up to one slider step above it, so 0.50 and 0.55 pass and 0.45,
    which never fires, does not."""
    limit = first_firing_strength()
    low, high = round(limit, 6) - 1e-6, limit + 0.05   # [0.5, 0.55] up to rounding

    def hint(value: float) -> str:
        if value > high:
            return say("the neuron already fires at a weaker input. Set rate = 1, tau = 2, "
                       "v_threshold = 1 and lower input strength until no spike is left; watch "
                       "where v[t] levels off in the middle panel.",
                       "在更弱的输入下神经元就已经会发放了。设置 rate = 1、tau = 2、v_threshold = 1，"
                       "然后降低 input strength，直到一个脉冲也不剩；观察中间面板中 v[t] 在哪里趋于"
                       "平稳。")
        return say("at that strength v[t] never reaches v_threshold in 40 steps. With a constant "
                   "input v climbs towards a ceiling and levels off: find the strength at which "
                   "that ceiling just reaches the dashed threshold line.",
                   "在这个强度下，v[t] 在 40 步内始终达不到 v_threshold。在恒定输入下，v 会朝一个"
                   "上限攀升并趋于平稳：找出让这个上限恰好碰到阈值虚线的强度。")

    centre, half = (low + high) / 2, (high - low) / 2
    return _check("check_lif_threshold_strength", "my_strength", answer, centre, half,
                  say("from the limit up to one slider step (0.05) above it",
                      "从极限值到比它高一个滑块步长 (0.05) 的值"),
                  hint, say(f"the limit is {limit:.4f}: v[t] rises to x * tau * (1 - k^(t+1)), so it "
                            f"fires iff x * tau * (1 - k^T) >= v_threshold (k = 1 - 1/tau). At 0.50 "
                            f"v only creeps up to the threshold; 0.55 is the first slider value "
                            f"that fires.",
                            f"极限值是 {limit:.4f}：v[t] 上升到 x * tau * (1 - k^(t+1))，所以当且仅当 "
                            f"x * tau * (1 - k^T) >= v_threshold (k = 1 - 1/tau) 时发放。在 0.50 时 "
                            f"v 只是缓慢地逼近阈值；0.55 是滑块上第一个会发放的值。"))


@watched(*_MAY_USE)
def check_lif_tau_for_spikes(answer: Any) -> bool:
    """Task 1b: the smallest tau on the LIF explorer's slider at which its default neuron
    (input strength 0.8, rate 0.5, v_threshold 1, soft reset, T = 40, seed 0) spikes at least
    ``SPIKES_WANTED`` (13) times. Accepted within half a slider step (0.05) of that value."""
    truth = smallest_tau_with_spikes()
    assert truth is not None, say("no tau on the slider gives that many spikes",
                                  "滑块上没有哪个 tau 能产生这么多脉冲")

    def hint(value: float) -> str:
        if value < truth:
            return say(f"at that tau the neuron fires fewer than {SPIKES_WANTED} times: read the "
                       f"spike count in the figure's title while you move tau up.",
                       f"在这个 tau 下，神经元发放的次数少于 {SPIKES_WANTED} 次：一边增大 tau，一边"
                       f"读图标题中的脉冲数。")
        return say(f"a smaller tau already gives {SPIKES_WANTED} spikes: move tau down until the "
                   f"count in the title drops below {SPIKES_WANTED}; the answer is the last value "
                   f"before it drops. Keep the other sliders at their start values.",
                   f"更小的 tau 就已经能产生 {SPIKES_WANTED} 个脉冲：把 tau 往下调，直到标题中的"
                   f"计数降到 {SPIKES_WANTED} 以下；答案是下降之前的最后一个值。其他滑块保持初始值。")

    answer = answer_value("check_lif_tau_for_spikes", answer, forbidden=ANSWER_FUNCTIONS)  # once
    value = _as_number("check_lif_tau_for_spikes", answer)
    if (value is not None and truth - 0.1 < value < truth - 0.05
            and _lif_spike_count(value) >= SPIKES_WANTED):  # a finer grid than the slider's
        return _correct(say(f"tau = {value:g} already gives {SPIKES_WANTED} spikes: it lies between "
                            f"two slider values; on the slider (steps of 0.1) the answer is "
                            f"{truth:.1f}.",
                            f"tau = {value:g} 已经能产生 {SPIKES_WANTED} 个脉冲：它位于两个滑块值之间；"
                            f"在滑块上（步长 0.1）答案是 {truth:.1f}。"))
    return _check("check_lif_tau_for_spikes", "my_tau", answer, truth, 0.05,
                  say("within half a slider step (0.05) of the slider value",
                      "与滑块值相差不超过半个滑块步长 (0.05)"),
                  hint,
                  say(f"tau = {truth:.1f} is the smallest tau with {SPIKES_WANTED} spikes; at "
                      f"tau = {truth - 0.1:.1f} there are "
                      f"{_lif_spike_count(round(truth - 0.1, 1))}. A slower leak lets more pulses "
                      f"add up.",
                      f"tau = {truth:.1f} 是产生 {SPIKES_WANTED} 个脉冲的最小 tau；在 "
                      f"tau = {truth - 0.1:.1f} 时只有 "
                      f"{_lif_spike_count(round(truth - 0.1, 1))} 个。泄漏越慢，能累加起来的输入"
                      f"脉冲就越多。"), given=False)


# -- 2 · surrogate ----------------------------------------------------------------------------
@watched(*_MAY_USE)
def check_surrogate_alpha_for_peak(answer: Any) -> bool:
    """Task 2a: the alpha at which the surrogate gradient's peak equals ``PEAK_WANTED`` (2).
    Accepted within 0.25 (half a slider step) of ``alpha_for_peak()``."""
    truth = alpha_for_peak()

    def hint(value: float) -> str:
        direction = say("too small", "太小") if value < truth else say("too large", "太大")
        return say(f"that alpha is {direction}: its gradient peaks at "
                   f"{_surrogate_peak(value):.2f}, not {PEAK_WANTED:g}. Read the peak in the "
                   f"explorer's box while you move alpha; how does the peak grow with alpha?",
                   f"这个 alpha {direction}了：它的梯度峰值是 {_surrogate_peak(value):.2f}，而不是 "
                   f"{PEAK_WANTED:g}。一边移动 alpha，一边读探索器方框中的峰值；峰值随 alpha 怎样"
                   f"增长？")

    return _check("check_surrogate_alpha_for_peak", "my_alpha", answer, truth, 0.25,
                  say("within 0.25 of the alpha", "与正确的 alpha 相差不超过 0.25"), hint,
                  say(f"alpha = {truth:g}: the peak is alpha/4 = {PEAK_WANTED:g}.",
                      f"alpha = {truth:g}：峰值为 alpha/4 = {PEAK_WANTED:g}。"))


@watched(*_MAY_USE)
def check_surrogate_fwhm(answer: Any) -> bool:
    """Task 2b: the full width at half height of the surrogate gradient for ``alpha = 2.5``,
    measured on the curve. Accepted within 0.02 of ``measured_fwhm()``."""
    truth = measured_fwhm()

    def hint(value: float) -> str:
        if abs(value - truth / 2) <= 0.02:
            return say("that is half the width: measure from the left crossing of the half "
                       "height to the right one, not from 0.",
                       "这是宽度的一半：应从左侧与半高的交点量到右侧的交点，而不是从 0 量起。")
        return say("half height is half the peak (peak = alpha/4). Find the two x on either side "
                   f"of 0 where curves['grad'] crosses it (for alpha = {FWHM_ALPHA:g}) and give their distance.",
                   "半高是峰值的一半（峰值 = alpha/4）。找出 0 两侧 curves['grad'] 与半高相交的两个 "
                   f"x（alpha = {FWHM_ALPHA:g} 时），给出它们之间的距离。")

    return _check("check_surrogate_fwhm", "my_width", answer, truth, 0.02,
                  say("within 0.02", "误差不超过 0.02"), hint,
                  say(f"the width at half height for alpha = {FWHM_ALPHA:g} is {truth:.4f} "
                      f"(closed form 2 ln(3 + 2 sqrt 2) / alpha); doubling alpha halves it.",
                      f"alpha = {FWHM_ALPHA:g} 时半高宽为 {truth:.4f}（闭式解 "
                      f"2 ln(3 + 2 sqrt 2) / alpha）；alpha 加倍，宽度减半。"))


# -- 3 · OTTT vs BPTT -------------------------------------------------------------------------
@watched(*_MAY_USE)
def check_lowest_cosine_tau(answer: Any) -> bool:
    """Task 3a: the tau on the OTTT-vs-BPTT explorer's slider (1.5 ... 8.0) with the lowest
    first-layer (``fc1``) gradient cosine at ``T = 8``. Accepted within 0.25 (half a slider
    step), i.e. the slider value itself."""
    truth = lowest_cosine_tau()
    cosines = _cosine_over_tau(COSINE_T)

    def hint(value: float) -> str:
        if not OTTT_TAU_GRID[0] - 0.25 <= value <= OTTT_TAU_GRID[-1] + 0.25:
            return say(f"the tau slider runs from {OTTT_TAU_GRID[0]:g} to {OTTT_TAU_GRID[-1]:g} "
                       f"in steps of 0.5: answer one of its values.",
                       f"tau 滑块的范围是 {OTTT_TAU_GRID[0]:g} 到 {OTTT_TAU_GRID[-1]:g}，步长 0.5："
                       f"请回答其中的一个值。")
        return say(f"with T = {COSINE_T} some tau has a lower first-layer cosine than this one. "
                   f"Read the fc1 number on the left panel for every tau (or call "
                   f"explore.ottt_vs_bptt_sweep in a loop); the values do not fall evenly, so "
                   f"compare all of them.",
                   f"在 T = {COSINE_T} 时，有别的 tau 的第一层余弦相似度比这个更低。对每个 tau 读出"
                   f"左侧面板上 fc1 的数值（或在循环中调用 explore.ottt_vs_bptt_sweep）；这些值并不"
                   f"是均匀下降的，所以要全部比较一遍。")

    return _check("check_lowest_cosine_tau", "my_tau_lowest", answer, truth, 0.25,
                  say("within 0.25, i.e. the slider value itself", "误差不超过 0.25，即滑块上的值本身"),
                  hint,
                  say(f"at T = {COSINE_T} the first-layer cosine is lowest for tau = {truth:g} "
                      f"(cosine {cosines[truth]:.3f}): a longer membrane memory gives the temporal "
                      f"terms that OTTT drops more weight.",
                      f"在 T = {COSINE_T} 时，tau = {truth:g} 的第一层余弦相似度最低（余弦相似度 "
                      f"{cosines[truth]:.3f}）：膜电位的记忆越长，OTTT 舍弃的那些时间项所占的"
                      f"权重就越大。"))


#: what notebook 08 reports for its 64-256-10 network at T = 32 (a number a student may bring)
NOTEBOOK_08_RATIO = 27.0


@watched(*_MAY_USE)
def check_memory_ratio(answer: Any) -> bool:
    """Task 3b: how many times more bytes BPTT saves for backward than OTTT at ``T = 32``,
    ``tau = 2``. Accepted within 5 % of ``memory_ratio()``."""
    truth = memory_ratio()
    at_end = memory_ratio(SLIDER_T_END, MEMORY_TAU)

    def hint(value: float) -> str:
        if value < 1:
            return say("BPTT keeps more than OTTT: give BPTT's bytes divided by OTTT's.",
                       "BPTT 保存的比 OTTT 多：请给出 BPTT 的字节数除以 OTTT 的字节数。")
        if abs(value - at_end) <= 0.05 * at_end:
            return say(f"that is the ratio at T = {SLIDER_T_END} (the slider's end); the task asks for "
                       f"T = {MEMORY_T}.",
                       f"这是 T = {SLIDER_T_END}（滑块的最右端）时的比值；题目问的是 T = {MEMORY_T}。")
        if abs(value - NOTEBOOK_08_RATIO) <= 0.05 * NOTEBOOK_08_RATIO:
            return say(f"{NOTEBOOK_08_RATIO:g}x is notebook 08's ratio, for its 64-256-10 network; the "
                       f"explorer's network is another (its memory plot, or ottt_vs_bptt(T={MEMORY_T}, "
                       f"tau={MEMORY_TAU:g}), gives its own bytes).",
                       f"{NOTEBOOK_08_RATIO:g} 倍是 notebook 08 中 64-256-10 网络的比值；探索器用的是另一个"
                       f"网络（它的内存图，或 ottt_vs_bptt(T={MEMORY_T}, tau={MEMORY_TAU:g})，给出它自己的字节数）。")
        return say(f"BPTT's saved bytes grow in proportion to T and OTTT's stay flat: extrapolate "
                   f"from the memory plot to T = {MEMORY_T}, or call ottt_vs_bptt(T={MEMORY_T}, "
                   f"tau={MEMORY_TAU:g}) and divide.",
                   f"BPTT 保存的字节数与 T 成正比增长，OTTT 的则保持不变：从内存图外推到 "
                   f"T = {MEMORY_T}，或者调用 ottt_vs_bptt(T={MEMORY_T}, tau={MEMORY_TAU:g}) "
                   f"再相除。")

    return _check("check_memory_ratio", "my_ratio", answer, truth, 0.05 * truth,
                  say("within 5 %", "误差不超过 5 %"), hint,
                  say(f"at T = {MEMORY_T} BPTT saves {truth:.1f}x the bytes of OTTT "
                      f"({at_end:.1f}x at T = {SLIDER_T_END}): BPTT's bytes grow with T, "
                      f"OTTT's do not.",
                      f"在 T = {MEMORY_T} 时，BPTT 保存的字节数是 OTTT 的 {truth:.1f} 倍（T = "
                      f"{SLIDER_T_END} 时为 {at_end:.1f} 倍）：BPTT 的字节数随 T 增长，OTTT 的不会。"))
