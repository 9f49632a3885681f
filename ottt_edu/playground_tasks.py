"""Checkers for the guided tasks of notebook 11 (the playground with the three explorers).

English
    Each task asks one question that you answer by moving an explorer's sliders (or by calling
    the function behind it, ``ottt_edu.explore``, in a loop) and writing one number into a
    variable. You hand that number to a ``check_*`` function here, which behaves like the
    checkers of ``ottt_edu.exercises``:

    * right (within the tolerance the task states): prints ``Correct! ...``, returns ``True``;
    * not attempted yet (the answer is still ``None``): prints a note and returns ``False``;
    * wrong: raises ``ExerciseError`` with a hint on what to look at (not the answer);
    * not a number (e.g. the text ``"0.5"``): raises ``ExerciseError`` saying so.

    The right answers are computed here, from the same library functions the explorers draw
    (``explore.simulate_lif``, ``explore.surrogate_curves``, ``explore.ottt_vs_bptt_sweep``),
    so they cannot drift from what the sliders show. They are cached: each is computed once.
中文
    第 10 本笔记中引导任务的检查函数: 移动滑块 (或循环调用 ``ottt_edu.explore`` 中的函数) 找到
    答案, 写入一个变量后交给 ``check_*``。正确时打印 ``Correct!`` 并返回 ``True``; 答案仍为
    ``None`` 时打印提示并返回 ``False``; 错误时抛出带提示的 ``ExerciseError``。正确答案由库
    函数计算, 不会与滑块显示的结果不一致。

Tasks (section: checker -> answer):
    1 LIF:       ``check_lif_threshold_strength`` (weakest constant input that fires),
                 ``check_lif_tau_for_spikes`` (smallest tau on the slider with 13 spikes)
    2 surrogate: ``check_surrogate_alpha_for_peak`` (alpha with peak gradient 2),
                 ``check_surrogate_fwhm`` (width at half height, alpha = 2.5)
    3 OTTT/BPTT: ``check_lowest_cosine_tau`` (tau on the slider with the lowest first-layer
                 cosine at T = 16), ``check_memory_ratio`` (BPTT / OTTT saved bytes at T = 32)
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

__all__ = [
    "LIF_TAU_GRID", "OTTT_TAU_GRID",
    "LIF_TASK", "SPIKES_WANTED", "PEAK_WANTED", "FWHM_ALPHA", "COSINE_T", "MEMORY_T",
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
COSINE_T = 16           # task 3a: T at which the first-layer cosine is compared over tau
MEMORY_T = 32           # task 3b: T at which BPTT's and OTTT's saved bytes are compared
MEMORY_TAU = 2.0        # task 3b: tau (the explorer's default)

_EPS = 1e-9             # tolerances are inclusive, up to rounding


# -- the right answers, from the library ------------------------------------------------------
@functools.lru_cache(maxsize=None)
def first_firing_strength(tau: float = LIF_TASK.tau, v_threshold: float = LIF_TASK.v_threshold,
                          T: int = LIF_TASK.T) -> float:
    """Weakest constant input (``rate=1``) at which ``explore.simulate_lif`` spikes within ``T``.

    Bisection (60 halvings) on ``input_strength`` between 0 (never fires) and ``v_threshold``
    (fires at t = 0). Analytically ``v_threshold / (tau (1 - k^T))`` with ``k = 1 - 1/tau``.
    """
    def fires(x: float) -> bool:
        d = explore.simulate_lif(tau=tau, v_threshold=v_threshold, input_strength=x, rate=1.0,
                                 reset=LIF_TASK.reset, T=T, seed=LIF_TASK.seed)
        return bool(d["spike"].sum() > 0)

    lo, hi = 0.0, float(v_threshold)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if fires(mid) else (mid, hi)
    return hi


def _lif_spike_count(tau: float) -> int:
    return int(explore.simulate_lif(**{**explore.LIFParams().__dict__, "tau": tau})["spike"].sum())


@functools.lru_cache(maxsize=None)
def smallest_tau_with_spikes(n_spikes: int = SPIKES_WANTED) -> Optional[float]:
    """Smallest tau in ``LIF_TAU_GRID`` at which the LIF explorer's default neuron
    (``explore.LIFParams()`` but tau) spikes at least ``n_spikes`` times; ``None`` if none does."""
    for tau in LIF_TAU_GRID:
        if _lif_spike_count(tau) >= n_spikes:
            return tau
    return None


def _surrogate_peak(alpha: float) -> float:
    return float(explore.surrogate_curves(alpha=alpha)["grad"].max())


@functools.lru_cache(maxsize=None)
def alpha_for_peak(peak: float = PEAK_WANTED) -> float:
    """The alpha at which the surrogate gradient's maximum (autograd through
    ``surrogate.Sigmoid``) equals ``peak``; the peak is proportional to alpha (``alpha/4``)."""
    return float(peak) / _surrogate_peak(1.0)


@functools.lru_cache(maxsize=None)
def measured_fwhm(alpha: float = FWHM_ALPHA) -> float:
    """Full width at half maximum of the surrogate gradient for ``alpha``, measured on the
    library's gradient curve (40001 points on [-2, 2], linear interpolation at both crossings)."""
    c = explore.surrogate_curves(alpha=alpha, num=40001)
    x, g = c["x"], c["grad"]
    half = g.max() / 2.0
    above = np.nonzero(g >= half)[0]
    i, j = int(above[0]), int(above[-1])
    left = x[i - 1] + (half - g[i - 1]) * (x[i] - x[i - 1]) / (g[i] - g[i - 1])
    right = x[j] + (g[j] - half) * (x[j + 1] - x[j]) / (g[j] - g[j + 1])
    return float(right - left)


def _cosine_over_tau(T: int) -> dict[float, float]:
    """First-layer cosine(OTTT, BPTT) at ``T`` for every tau of ``OTTT_TAU_GRID`` (cached in
    ``explore``, so the explorer and this checker share the runs)."""
    out = {}
    for tau in OTTT_TAU_GRID:
        cosine = explore.ottt_vs_bptt_sweep(T=T, tau=tau, Ts=(T,))["cosine"]
        out[tau] = next(iter(cosine.values()))
    return out


@functools.lru_cache(maxsize=None)
def lowest_cosine_tau(T: int = COSINE_T) -> float:
    """The tau in ``OTTT_TAU_GRID`` with the lowest first-layer gradient cosine at ``T``."""
    cosines = _cosine_over_tau(T)
    return min(cosines, key=cosines.__getitem__)


@functools.lru_cache(maxsize=None)
def memory_ratio(T: int = MEMORY_T, tau: float = MEMORY_TAU) -> float:
    """BPTT's saved bytes divided by OTTT's, ``ottt_vs_bptt(T, tau)`` as the explorer runs it."""
    d = explore.ottt_vs_bptt_sweep(T=T, tau=tau, Ts=(T,))
    return d["bptt_bytes"] / d["ottt_bytes"]


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
        extra = (f" Write the number itself, without quotes: {answer.strip()}, not {answer!r}."
                 if isinstance(answer, str) else "")
        raise ExerciseError(f"{task}: your answer must be a number, got {type(answer).__name__} "
                            f"{answer!r}.{extra}")
    value = float(value)
    if not math.isfinite(value):
        raise ExerciseError(f"{task}: your answer must be a finite number, got {value}.")
    return value


def _not_attempted(task: str, variable: str) -> bool:
    # stderr: nbgrader's autograder gives a graded cell that writes there zero points
    print(f"Not attempted yet ({task}): {variable} still raises NotImplementedError (or gives "
          f"None). Make it return your number and run the cell again.", file=sys.stderr)
    return False


def _correct(msg: str) -> bool:
    print(f"Correct! {msg}")
    return True


def _wrong(task: str, value: float, tolerance: str, hint: str) -> None:
    raise ExerciseError(f"{task}: {value:g} is not it (accepted: {tolerance}).\n  hint: {hint}")


def _check(task: str, variable: str, answer: Any, truth: float, tol: float, tolerance: str,
           hint: Callable[[float], str], correct: str) -> bool:
    value = _as_number(task, answer_value(task, answer))
    if value is None:
        return _not_attempted(task, variable)
    if abs(value - truth) <= tol + _EPS:
        return _correct(correct)
    _wrong(task, value, tolerance, hint(value))
    return False  # not reached


# -- 1 · LIF neuron ---------------------------------------------------------------------------
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
            return ("the neuron already fires at a weaker input. Set rate = 1, tau = 2, "
                    "v_threshold = 1 and lower input strength until no spike is left; watch "
                    "where v[t] levels off in the middle panel.")
        return ("at that strength v[t] never reaches v_threshold in 40 steps. With a constant "
                "input v climbs towards a ceiling and levels off: find the strength at which "
                "that ceiling just reaches the dashed threshold line.")

    centre, half = (low + high) / 2, (high - low) / 2
    return _check("check_lif_threshold_strength", "my_strength", answer, centre, half,
                  "from the limit up to one slider step (0.05) above it",
                  hint, f"the limit is {limit:.4f}: v[t] rises to x * tau * (1 - k^(t+1)), so it "
                        f"fires iff x * tau * (1 - k^T) >= v_threshold (k = 1 - 1/tau). At 0.50 "
                        f"v only creeps up to the threshold; 0.55 is the first slider value "
                        f"that fires.")


def check_lif_tau_for_spikes(answer: Any) -> bool:
    """Task 1b: the smallest tau on the LIF explorer's slider at which its default neuron
    (input strength 0.8, rate 0.5, v_threshold 1, soft reset, T = 40, seed 0) spikes at least
    ``SPIKES_WANTED`` (13) times. Accepted within 0.05, i.e. the slider value itself."""
    truth = smallest_tau_with_spikes()
    assert truth is not None, "no tau on the slider gives that many spikes"

    def hint(value: float) -> str:
        if value < truth:
            return (f"at that tau the neuron fires fewer than {SPIKES_WANTED} times: read the "
                    f"spike count in the figure's title while you move tau up.")
        return (f"a smaller tau already gives {SPIKES_WANTED} spikes: move tau down until the "
                f"count in the title drops below {SPIKES_WANTED}; the answer is the last value "
                f"before it drops. Keep the other sliders at their start values.")

    return _check("check_lif_tau_for_spikes", "my_tau", answer, truth, 0.05,
                  "within 0.05, i.e. the slider value itself", hint,
                  f"tau = {truth:.1f} is the smallest tau with {SPIKES_WANTED} spikes; at "
                  f"tau = {truth - 0.1:.1f} there are "
                  f"{_lif_spike_count(round(truth - 0.1, 1))}. A slower leak lets more pulses "
                  f"add up.")


# -- 2 · surrogate ----------------------------------------------------------------------------
def check_surrogate_alpha_for_peak(answer: Any) -> bool:
    """Task 2a: the alpha at which the surrogate gradient's peak equals ``PEAK_WANTED`` (2).
    Accepted within 0.25 (half a slider step) of ``alpha_for_peak()``."""
    truth = alpha_for_peak()

    def hint(value: float) -> str:
        direction = "too small" if value < truth else "too large"
        return (f"that alpha is {direction}: its gradient peaks at "
                f"{_surrogate_peak(value):.2f}, not {PEAK_WANTED:g}. Read the peak in the "
                f"explorer's box while you move alpha; how does the peak grow with alpha?")

    return _check("check_surrogate_alpha_for_peak", "my_alpha", answer, truth, 0.25,
                  "within 0.25 of the alpha", hint,
                  f"alpha = {truth:g}: the peak is alpha/4 = {PEAK_WANTED:g}.")


def check_surrogate_fwhm(answer: Any) -> bool:
    """Task 2b: the full width at half height of the surrogate gradient for ``alpha = 2.5``,
    measured on the curve. Accepted within 0.02 of ``measured_fwhm()``."""
    truth = measured_fwhm()

    def hint(value: float) -> str:
        if abs(value - truth / 2) <= 0.02:
            return ("that is half the width: measure from the left crossing of the half "
                    "height to the right one, not from 0.")
        return ("half height is half the peak (peak = alpha/4). Find the two x on either side "
                f"of 0 where curves['grad'] crosses it (for alpha = {FWHM_ALPHA:g}) and give their distance.")

    return _check("check_surrogate_fwhm", "my_width", answer, truth, 0.02, "within 0.02", hint,
                  f"the width at half height for alpha = {FWHM_ALPHA:g} is {truth:.4f} "
                  f"(closed form 2 ln(3 + 2 sqrt 2) / alpha); doubling alpha halves it.")


# -- 3 · OTTT vs BPTT -------------------------------------------------------------------------
def check_lowest_cosine_tau(answer: Any) -> bool:
    """Task 3a: the tau on the OTTT-vs-BPTT explorer's slider (1.5 ... 8.0) with the lowest
    first-layer (``fc1``) gradient cosine at ``T = 16``. Accepted within 0.25 (half a slider
    step), i.e. the slider value itself."""
    truth = lowest_cosine_tau()
    cosines = _cosine_over_tau(COSINE_T)

    def hint(value: float) -> str:
        if not OTTT_TAU_GRID[0] - 0.25 <= value <= OTTT_TAU_GRID[-1] + 0.25:
            return (f"the tau slider runs from {OTTT_TAU_GRID[0]:g} to {OTTT_TAU_GRID[-1]:g} "
                    f"in steps of 0.5: answer one of its values.")
        return (f"with T = {COSINE_T} some tau has a lower first-layer cosine than this one. "
                f"Read the fc1 number on the left panel for every tau (or call "
                f"explore.ottt_vs_bptt_sweep in a loop); the values do not fall evenly, so "
                f"compare all of them.")

    return _check("check_lowest_cosine_tau", "my_tau_lowest", answer, truth, 0.25,
                  "within 0.25, i.e. the slider value itself", hint,
                  f"at T = {COSINE_T} the first-layer cosine is lowest for tau = {truth:g} "
                  f"(cosine {cosines[truth]:.3f}): a longer membrane memory gives the temporal "
                  f"terms that OTTT drops more weight.")


def check_memory_ratio(answer: Any) -> bool:
    """Task 3b: how many times more bytes BPTT saves for backward than OTTT at ``T = 32``,
    ``tau = 2``. Accepted within 5 % of ``memory_ratio()``."""
    truth = memory_ratio()
    at_16 = memory_ratio(COSINE_T, MEMORY_TAU)

    def hint(value: float) -> str:
        if value < 1:
            return "BPTT keeps more than OTTT: give BPTT's bytes divided by OTTT's."
        if abs(value - at_16) <= 0.05 * at_16:
            return (f"that is the ratio at T = {COSINE_T} (the slider's end); the task asks for "
                    f"T = {MEMORY_T}.")
        return (f"BPTT's saved bytes grow in proportion to T and OTTT's stay flat: extrapolate "
                f"from the memory plot to T = {MEMORY_T}, or call ottt_vs_bptt(T={MEMORY_T}, "
                f"tau={MEMORY_TAU:g}) and divide.")

    return _check("check_memory_ratio", "my_ratio", answer, truth, 0.05 * truth, "within 5 %",
                  hint, f"at T = {MEMORY_T} BPTT saves {truth:.1f}x the bytes of OTTT "
                        f"({at_16:.1f}x at T = {COSINE_T}): BPTT's bytes grow with T, "
                        f"OTTT's do not.")
