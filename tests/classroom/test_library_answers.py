"""Answers that hand the exercise to the library score 0 under ``grade``, as the checker says in
the notebook (issue 25: five such answers passed before, one of them also at grading).

Each submission answers every exercise of its notebook with the teacher's answer except one,
which calls the library under another name (an alias, an attribute, ``getattr``); the graded
rows of that exercise must be 0, the others full. The same checkers run in the notebook
(``tests/course/test_exercises.py::test_an_answer_that_runs_the_library_is_refused...``)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import classroom_sim as sim
from ottt_edu import classroom
from ottt_edu.classroom.sandbox import sandbox_problem

ROOT = Path(__file__).resolve().parents[2]

LIBRARY_ANSWERS = {
    ("02_surrogate_gradients_and_bptt", "surrogate_spike", "check_surrogate_spike"): '''
from ottt_edu.neuron import surrogate as s

def surrogate_spike(x, alpha):
    return s.SigmoidSpike.apply(x, alpha)
''',
    ("04_traces_and_grad_with_trace", "my_grad_with_trace", "check_grad_with_trace"): '''
from ottt_edu.layer import fast_path as fp

class MyGradwithTrace(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        spike, trace = x
        return fp.fast_path_forward(self.module, spike, trace)
''',
    ("05_spike_trace_op_and_ottt_sequential", "ottt_forward", "check_ottt_dispatch"): '''
import ottt_edu.layer.ottt_sequential as seq

def ottt_forward(layers, x, log=None):
    for m in layers:
        how = seq.wrapper_for(m) if isinstance(x, list) else "itself"
        if how == "itself":
            x = m(x)
        elif how.startswith("neuron"):
            x = m(x[0])
        else:
            x = (GradwithTrace if how == "GradwithTrace" else SpikeTraceOp)(m)(x)
    return x
''',
    ("05_spike_trace_op_and_ottt_sequential", "my_prediction", "check_wrapping_prediction"): '''
def my_prediction():
    return [w for _, w in exercise_net.wrapping()]
''',
    ("06_training_mode_and_one_ottt_update", "ottt_a_step", "check_ottt_a_step"): '''
from ottt_edu.train import steps as library_steps

def ottt_a_step(net, x_seq, y, optimizer):
    return library_steps.ottt_a_step(net, x_seq, y, optimizer).loss
''',
}


@pytest.mark.skipif(sandbox_problem() is not None, reason=str(sandbox_problem()))
def test_answers_that_call_the_library_score_zero_under_grade(tmp_path):
    release = tmp_path / "release"
    classroom.build_student_edition("en", release)
    subs, expected = tmp_path / "subs", {}
    for i, ((stem, answer_id, check_id), source) in enumerate(LIBRARY_ANSWERS.items()):
        teacher = sim.read(ROOT / "notebooks" / f"{stem}.ipynb")
        student = sim.read(release / "en" / f"{stem}.ipynb")
        nb = sim.submission(teacher, student, {g: "correct" for g in sim.solution_ids(teacher)})
        sim.cell(nb, answer_id).source = source
        who = f"s{i}_{answer_id}"
        (subs / who).mkdir(parents=True)
        nbformat.write(nb, subs / who / f"{stem}.ipynb")
        expected[who] = (stem, check_id)
    rows = classroom.grade(subs, "en", work=tmp_path / "work")
    for who, (stem, check_id) in expected.items():
        mine = {r.exercise: r for r in rows if r.student == who and r.notebook == stem}
        assert mine[check_id].score == 0.0, (who, mine[check_id].note)
        assert "library" in mine[check_id].note, mine[check_id].note
        others = [r for g, r in mine.items() if g not in (check_id, "TOTAL")]
        assert all(r.score == r.max_score for r in others), [(r.exercise, r.note) for r in others]
