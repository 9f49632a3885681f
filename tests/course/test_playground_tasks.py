"""Tests for the guided-task checkers of notebook 11 (``ottt_edu.course.playground``).

Every checker: the right answer is accepted (prints ``Correct!``, returns True), ``None`` is
"not attempted" (prints a note, returns False, no raise), a wrong number raises
``ExerciseError`` with a hint that does not give the answer away, and text raises a clear
"must be a number". The right answers are also checked against closed forms and the explorers'
sliders, so a change of either shows up here.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from ottt_edu.course import explore, playground as pt, widgets
from ottt_edu.course.exercises import ExerciseError

# (checker, right answer, a wrong answer, words its hint must contain)
CASES = [
    (pt.check_lif_threshold_strength, 0.5, 0.8, "weaker input"),
    (pt.check_lif_threshold_strength, 0.55, 0.3, "ceiling"),
    (pt.check_lif_tau_for_spikes, 6.1, 4.0, "fewer than 13"),
    (pt.check_lif_tau_for_spikes, 6.1, 9.0, "move tau down"),
    (pt.check_surrogate_alpha_for_peak, 8.0, 4.0, "too small"),
    (pt.check_surrogate_fwhm, 1.41, 0.705, "half the width"),
    (pt.check_surrogate_fwhm, 1.4102, 0.8814, "half the peak"),       # 0.8814: alpha = 4's width
    (pt.check_lowest_cosine_tau, 6.0, 2.0, "lower first-layer cosine"),
    (pt.check_lowest_cosine_tau, 6.0, 8.0, "lower first-layer cosine"),   # the slider's end: not it
    (pt.check_lowest_cosine_tau, 6.0, 20.0, "slider runs from 1.5 to 8"),
    (pt.check_memory_ratio, 21.0, 10.7, "ratio at T = 16"),
    (pt.check_memory_ratio, 21.0, 0.05, "divided by OTTT"),
    (pt.check_memory_ratio, 21.0, 40.0, "extrapolate"),
    (pt.check_memory_ratio, 21.0, 27.0, "notebook 08"),
]
CHECKERS = sorted({c[0] for c in CASES}, key=lambda f: f.__name__)


def _f(value):
    """The answer as the notebook writes it: a function that returns the value."""
    return lambda: value


# -- the right answers, from the library ------------------------------------------------------
def test_first_firing_strength_matches_closed_form_and_simulation():
    p = pt.LIF_TASK
    k = 1.0 - 1.0 / p.tau
    closed = p.v_threshold / (p.tau * (1.0 - k ** p.T))
    assert pt.first_firing_strength() == pytest.approx(closed, abs=1e-9)
    for x, fires in ((closed * 1.001, True), (closed * 0.999, False)):
        d = explore.simulate_lif(tau=p.tau, v_threshold=p.v_threshold, input_strength=x,
                                 rate=1.0, T=p.T)
        assert (d["spike"].sum() > 0) == fires


def test_smallest_tau_with_spikes_is_where_the_count_first_reaches_13():
    tau = pt.smallest_tau_with_spikes()
    assert tau == 6.1
    count = lambda t: int(explore.simulate_lif(tau=t)["spike"].sum())  # noqa: E731
    assert count(tau) >= pt.SPIKES_WANTED > count(round(tau - 0.1, 1))
    assert pt.smallest_tau_with_spikes(10_000) is None


def test_surrogate_answers_match_closed_forms():
    assert pt.alpha_for_peak() == pytest.approx(4.0 * pt.PEAK_WANTED)
    assert pt.measured_fwhm() == pytest.approx(
        explore.surrogate_curves(alpha=pt.FWHM_ALPHA)["fwhm"], abs=1e-6)
    assert pt.measured_fwhm(8.0) == pytest.approx(pt.measured_fwhm(4.0) / 2, abs=1e-6)


def test_ottt_answers_come_from_the_explorers_function():
    cosines = {tau: explore.ottt_vs_bptt_sweep(T=8, tau=tau, Ts=(8,))["cosine"]["fc1"]
               for tau in pt.OTTT_TAU_GRID}
    assert pt.lowest_cosine_tau() == min(cosines, key=cosines.get) == 6.0
    # inside the slider, by a margin (the slider's end is not the answer: issue 25)
    assert min(c for tau, c in cosines.items() if tau != 6.0) - cosines[6.0] > 5e-4
    d = explore.ottt_vs_bptt_sweep(T=32, tau=2.0, Ts=(32,))
    assert pt.memory_ratio() == d["bptt_bytes"] / d["ottt_bytes"]
    assert 15 < pt.memory_ratio() < 30 and pt.memory_ratio(16) < pt.memory_ratio()


def test_tau_grids_are_the_explorers_sliders():
    def grid(slider):
        n = round((slider.max - slider.min) / slider.step)
        return tuple(round(slider.min + i * slider.step, 6) for i in range(n + 1))

    lif = widgets.lif_explorer().controls["tau"]
    ottt = widgets.ottt_vs_bptt_explorer(explore.OTTTvsBPTTParams(T=1, Ts=(1,))).controls["tau"]
    assert grid(lif) == tuple(round(t, 6) for t in pt.LIF_TAU_GRID)
    assert grid(ottt) == pt.OTTT_TAU_GRID
    assert max(explore.OTTTvsBPTTParams().Ts) == pt.SLIDER_T_END  # T = 16 is the T slider's end
    assert pt.COSINE_T in range(1, pt.SLIDER_T_END + 1)


# -- the checkers -----------------------------------------------------------------------------
@pytest.mark.parametrize("check, right, wrong, hint", CASES,
                         ids=[f"{c[0].__name__}-{c[2]}" for c in CASES])
def test_right_accepted_wrong_rejected_with_hint(check, right, wrong, hint, capsys):
    assert check(_f(right)) is True
    assert capsys.readouterr().out.startswith("Correct!")
    with pytest.raises(ExerciseError, match="hint:") as info:
        check(_f(wrong))
    assert hint in str(info.value)


@pytest.mark.parametrize("check", CHECKERS, ids=lambda f: f.__name__)
def test_none_is_not_attempted(check, capsys):
    assert check(None) is False
    assert "Not attempted yet" in capsys.readouterr().err


@pytest.mark.parametrize("check", CHECKERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", ["8.0", True, [1.0], float("nan")], ids=repr)
def test_not_a_number_is_rejected_clearly(check, bad):
    with pytest.raises(ExerciseError, match="must be a (finite )?number") as info:
        check(_f(bad))
    if isinstance(bad, str):
        assert "without quotes" in str(info.value)


@pytest.mark.parametrize("answer", [np.float64(8.0), np.array(8.0), torch.tensor(8.0), 8],
                         ids=lambda a: type(a).__name__)
def test_numbers_of_any_kind_are_accepted(answer, capsys):
    assert pt.check_surrogate_alpha_for_peak(_f(answer)) is True


def test_tolerances_are_inclusive_and_stated():
    truth = pt.first_firing_strength()
    assert pt.check_lif_threshold_strength(_f(0.5)) and pt.check_lif_threshold_strength(_f(0.55))
    with pytest.raises(ExerciseError, match="one slider step"):
        pt.check_lif_threshold_strength(_f(truth + 0.06))
    with pytest.raises(ExerciseError, match="never reaches"):      # 0.45 never fires
        pt.check_lif_threshold_strength(_f(0.45))
    ratio = pt.memory_ratio()
    assert pt.check_memory_ratio(_f(ratio * 1.049))
    with pytest.raises(ExerciseError, match="within 5 %"):
        pt.check_memory_ratio(_f(ratio * 1.06))


def test_hints_do_not_give_the_answer_away():
    answers = {pt.check_lif_threshold_strength: pt.first_firing_strength(),
               pt.check_lif_tau_for_spikes: pt.smallest_tau_with_spikes(),
               pt.check_surrogate_fwhm: pt.measured_fwhm(),
               pt.check_lowest_cosine_tau: pt.lowest_cosine_tau(),
               pt.check_memory_ratio: pt.memory_ratio()}
    for check, truth in answers.items():
        # (1.5 x the lowest-cosine tau is off the slider, whose end, 8, the hint names)
        wrongs = (truth * 0.5,) if check is pt.check_lowest_cosine_tau else (
            truth * 0.5, truth * 1.5)
        for wrong in wrongs:
            with pytest.raises(ExerciseError) as info:
                check(_f(wrong))
            text = str(info.value)
            for shown in {f"{truth:.1f}", f"{truth:.2f}", f"{truth:.4f}", f"{truth:g}"}:
                assert shown not in text.replace(f"{wrong:g}", ""), (check.__name__, shown)
    assert math.isfinite(pt.alpha_for_peak())


def test_tau_between_two_slider_values_that_fires_13_times_is_accepted():
    from ottt_edu.course.playground import _lif_spike_count, smallest_tau_with_spikes
    truth = smallest_tau_with_spikes()
    finer = [round(truth - 0.1 + 0.01 * i, 2) for i in range(1, 10)]
    firing = [t for t in finer if _lif_spike_count(t) >= 13 and t < truth - 0.05]
    assert firing, "the test needs a value between two slider steps that fires 13 times"
    assert pt.check_lif_tau_for_spikes(_f(firing[0])) is True


def test_a_float32_answer_at_the_edge_is_accepted():
    assert pt.check_lif_threshold_strength(_f(torch.tensor(0.55))) is True


@pytest.mark.parametrize("check", CHECKERS, ids=lambda f: f.__name__)
def test_a_bare_value_is_refused_with_the_form_to_use(check):
    """The graded check runs the answer function (to see it computes nothing from the library):
    a bare value would say Correct! here and score 0 at grading, so it is refused here too."""
    with pytest.raises(ExerciseError, match=r"write your answer as the function"):
        check(8.0)


@pytest.mark.parametrize("check, answer", [
    (pt.check_lif_threshold_strength, lambda: pt.first_firing_strength()),
    (pt.check_memory_ratio, lambda: answers.memory_ratio()),
    (pt.check_lowest_cosine_tau, lambda: hidden()),
], ids=["direct", "alias", "through-a-helper"])
def test_an_answer_that_calls_the_right_answer_function_is_refused(check, answer):
    with pytest.raises(ExerciseError, match="(calls|runs the library's) .*(first_firing_strength|"
                                            "memory_ratio|lowest_cosine_tau)"):
        check(answer)


answers = pt


def hidden():
    return pt.lowest_cosine_tau()
