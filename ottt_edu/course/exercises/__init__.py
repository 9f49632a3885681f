"""Checkers for the "your turn" exercises of notebooks 01-06, one module per notebook.

English
    Every exercise in the notebooks asks you to write one small function (or make one
    prediction) and hands it to a ``check_*`` function from this package. The checker runs your
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

Modules (notebook: checkers); import the checkers from here, ``ottt_edu.course.exercises``:
    ``core``: what every checker shares (``ExerciseError``, ``answer_value``,
    ``assert_own_code``, ``LIBRARY_NAMES``); ``harness``: the networks and comparisons of the
    five "build it" exercises (03-05).
    ``nb01_spiking_neurons``                    01: ``check_first_spike_time``
    ``nb02_surrogate_gradients_and_bptt``       02: ``check_surrogate_spike``
    ``nb03_replace_for_grad``                   03: ``check_replace_by_detach``,
                                                    ``check_replace_for_grad`` (build it)
    ``nb04_traces_and_grad_with_trace``         04: ``check_trace_closed_form``,
        ``check_ottt_weight_grad``, ``check_ottt_lif_step`` and ``check_grad_with_trace``
        (build it)
    ``nb05_spike_trace_op_and_ottt_sequential`` 05: ``check_wrapping_prediction``
        (``WRAPPER_NAMES``), ``check_spike_trace_op`` and ``check_ottt_dispatch`` (build it)
    ``nb06_training_mode_and_one_ottt_update``  06: ``check_ottt_a_step``
    11 (playground): ``ottt_edu.course.playground``

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly ``activation_based.layer.online_learning``.
"""
from __future__ import annotations

from .core import LIBRARY_NAMES, ExerciseError, answer_value, assert_own_code
from .nb01_spiking_neurons import check_first_spike_time
from .nb02_surrogate_gradients_and_bptt import check_surrogate_spike
from .nb03_replace_for_grad import check_replace_by_detach, check_replace_for_grad
from .nb04_traces_and_grad_with_trace import (check_grad_with_trace, check_ottt_lif_step,
                                              check_ottt_weight_grad, check_trace_closed_form)
from .nb05_spike_trace_op_and_ottt_sequential import (WRAPPER_NAMES, check_ottt_dispatch,
                                                      check_spike_trace_op,
                                                      check_wrapping_prediction)
from .nb06_training_mode_and_one_ottt_update import check_ottt_a_step

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
    "check_replace_for_grad",
    "check_ottt_lif_step",
    "check_grad_with_trace",
    "check_spike_trace_op",
    "check_ottt_dispatch",
]
