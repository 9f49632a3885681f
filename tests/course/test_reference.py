"""The reference answers (ottt_edu.course.reference) pass their checkers, and are rejected as answers."""
from __future__ import annotations

import pytest

from ottt_edu.course import reference
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


@pytest.mark.parametrize("answer", [p[1] for p in PAIRS], ids=[p[1].__name__ for p in PAIRS])
def test_reference_itself_is_not_an_answer(answer):
    with pytest.raises(ExerciseError, match="library's own"):
        assert_own_code(answer)


def test_a_function_that_calls_a_reference_through_an_alias_is_rejected():
    namespace = {"alias": reference.first_spike_time}
    exec("def first_spike_time(x, tau, v_threshold):\n    return alias(x, tau, v_threshold)\n",
         namespace)
    with pytest.raises(ExerciseError, match=r"calls alias \(ottt_edu.course.reference.first_spike_time\) from the library"):
        assert_own_code(namespace["first_spike_time"])


def test_own_code_with_a_helper_of_its_own_passes():
    namespace = {}
    exec("import math\ndef helper(k):\n    return k\n"
         "def first_spike_time(x, tau, v_threshold):\n    return helper(None)\n", namespace)
    assert assert_own_code(namespace["first_spike_time"]) is None


def test_an_imported_alias_of_a_forbidden_library_function_is_rejected():
    from ottt_edu.course.playground import memory_ratio
    namespace = {"mr": memory_ratio}
    exec("def my_ratio():\n    return mr()\n", namespace)
    with pytest.raises(ExerciseError, match=r"calls mr \(ottt_edu.course.playground.memory_ratio\) from the library"):
        assert_own_code(namespace["my_ratio"], ["memory_ratio"])
