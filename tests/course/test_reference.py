"""The reference answers (tests/course/reference_answers.py) pass their checkers; the installed
library holds no copy of them (issue 25)."""
from __future__ import annotations

import importlib.util

import pytest

import reference_answers as reference
from ottt_edu.course.exercises import (ExerciseError, assert_own_code, check_first_spike_time,
                                check_ottt_a_step, check_ottt_dispatch, check_ottt_lif_step,
                                check_ottt_weight_grad, check_replace_by_detach,
                                check_surrogate_spike, check_trace_closed_form)

PAIRS = [
    (check_first_spike_time, reference.first_spike_time),
    (check_surrogate_spike, reference.surrogate_spike),
    (check_replace_by_detach, reference.replace_by_detach),
    (check_ottt_lif_step, reference.ottt_lif_step),
    (check_trace_closed_form, reference.trace_closed_form),
    (check_ottt_weight_grad, reference.ottt_weight_grad),
    (check_ottt_dispatch, reference.ottt_forward),
    (check_ottt_a_step, reference.ottt_a_step),
]


@pytest.mark.parametrize("check, answer", PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_reference_passes_its_checker(check, answer):
    assert check(answer) is True


def test_the_installed_library_holds_no_reference_answers():
    assert importlib.util.find_spec(".".join(("ottt_edu", "course", "reference"))) is None  # moved to the tests
