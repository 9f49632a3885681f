"""Tests for ``ottt_edu.exercises``: every checker accepts a correct answer, reports an
unattempted one without failing, and rejects wrong answers with a helpful message."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu import OTTTLIFNode, OTTTSequential, reset_net
from ottt_edu.exercises import (
    ExerciseError,
    check_first_spike_time,
    check_ottt_a_step,
    check_ottt_weight_grad,
    check_replace_by_detach,
    check_surrogate_spike,
    check_trace_closed_form,
    check_wrapping_prediction,
)
from ottt_edu.surrogate import heaviside


def _not_implemented(*args):
    raise NotImplementedError


# -- 01 ---------------------------------------------------------------------------------------
def first_spike_time(x, tau, v_threshold):
    k = 1.0 - 1.0 / tau
    if x * tau <= v_threshold:
        return None
    # smallest t with x (1 - k^(t+1)) / (1 - k) >= v_threshold
    if x >= v_threshold:
        return 0
    return math.ceil(math.log(1.0 - v_threshold * (1.0 - k) / x) / math.log(k)) - 1


def test_first_spike_time_correct(capsys):
    assert check_first_spike_time(first_spike_time) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_first_spike_time_loop_answer_also_correct():
    def by_loop(x, tau, v_threshold):
        v = 0.0
        for t in range(5000):
            v = v * (1 - 1 / tau) + x
            if v >= v_threshold:
                return t
        return None

    assert check_first_spike_time(by_loop) is True


def test_first_spike_time_not_attempted(capsys):
    assert check_first_spike_time(_not_implemented) is False
    assert "Not attempted yet" in capsys.readouterr().out


def test_first_spike_time_off_by_one():
    def late(x, tau, v_threshold):
        t = first_spike_time(x, tau, v_threshold)
        return None if t is None else t + 1

    with pytest.raises(ExerciseError, match="off by one") as e:
        check_first_spike_time(late)
    assert "expected" in str(e.value) and "got" in str(e.value)


def test_first_spike_time_never_fires_hint():
    with pytest.raises(ExerciseError, match="never fires: return None"):
        check_first_spike_time(lambda x, tau, thr: first_spike_time(x, tau, thr) or 0)


def test_first_spike_time_does_fire_hint():
    with pytest.raises(ExerciseError, match="the neuron does fire"):
        check_first_spike_time(lambda x, tau, thr: None)


def test_checker_rejects_non_callable():
    with pytest.raises(ExerciseError, match="expected a function"):
        check_first_spike_time(3)


# -- 02 ---------------------------------------------------------------------------------------
def surrogate_spike(x, alpha):
    smooth = torch.sigmoid(alpha * x)
    return heaviside(x).detach() + (smooth - smooth.detach())


def test_surrogate_spike_correct(capsys):
    assert check_surrogate_spike(surrogate_spike) is True
    assert "Correct!" in capsys.readouterr().out


def test_surrogate_spike_not_attempted():
    assert check_surrogate_spike(_not_implemented) is False


def test_surrogate_spike_step_at_zero():
    with pytest.raises(ExerciseError, match="at x = 0 the spike is 1"):
        check_surrogate_spike(lambda x, a: (x > 0).to(x) + (torch.sigmoid(a * x) - torch.sigmoid(a * x).detach()))


def test_surrogate_spike_no_graph():
    with pytest.raises(ExerciseError, match="everything was detached"):
        check_surrogate_spike(lambda x, a: heaviside(x.detach()))


def test_surrogate_spike_alpha_forgotten():
    def no_alpha(x, a):
        s = torch.sigmoid(x)
        return heaviside(x).detach() + (s - s.detach())

    with pytest.raises(ExerciseError, match=r"sigmoid\(alpha \* x\)"):
        check_surrogate_spike(no_alpha)


# -- 03 ---------------------------------------------------------------------------------------
def test_replace_by_detach_correct(capsys):
    assert check_replace_by_detach(lambda x, x_r: x + (x_r - x).detach()) is True
    assert "Correct!" in capsys.readouterr().out


def test_replace_by_detach_not_attempted():
    assert check_replace_by_detach(_not_implemented) is False


def test_replace_by_detach_wrong_value():
    with pytest.raises(ExerciseError, match="y has x's value"):
        check_replace_by_detach(lambda x, x_r: x * 1.0)


def test_replace_by_detach_wrong_gradient():
    with pytest.raises(ExerciseError, match="gradient dL/dx"):
        check_replace_by_detach(lambda x, x_r: 2 * x + (x_r - 2 * x).detach())


def test_replace_by_detach_no_graph():
    with pytest.raises(ExerciseError, match="detached everything"):
        check_replace_by_detach(lambda x, x_r: x_r.clone())


# -- 04 ---------------------------------------------------------------------------------------
def trace_closed_form(spikes, tau):
    T = spikes.shape[0]
    t = torch.arange(T, dtype=spikes.dtype)
    diff = t[:, None] - t[None, :]
    K = torch.where(diff >= 0, (1 - 1 / tau) ** diff.clamp(min=0), torch.zeros_like(diff))
    return K @ spikes


def test_trace_closed_form_correct():
    assert check_trace_closed_form(trace_closed_form) is True


def test_trace_closed_form_not_attempted():
    assert check_trace_closed_form(_not_implemented) is False


def test_trace_closed_form_exponent_off_by_one():
    with pytest.raises(ExerciseError, match="k times too small"):
        check_trace_closed_form(lambda s, tau: (1 - 1 / tau) * trace_closed_form(s, tau))


def test_trace_closed_form_missing_current_spike():
    with pytest.raises(ExerciseError, match="include the spike of the current step"):
        check_trace_closed_form(lambda s, tau: trace_closed_form(s, tau) - s)


def test_trace_closed_form_wrong_decay():
    with pytest.raises(ExerciseError, match="k = 1 - 1/tau") as e:
        check_trace_closed_form(lambda s, tau: trace_closed_form(s, 1 / (1 - math.exp(-1 / tau))))
    assert "case 0" in str(e.value)


def test_trace_closed_form_wrong_shape():
    with pytest.raises(ExerciseError, match="returned shape"):
        check_trace_closed_form(lambda s, tau: trace_closed_form(s, tau).T)


def test_ottt_weight_grad_correct():
    assert check_ottt_weight_grad(lambda g, a: torch.einsum("tbo,tbi->oi", g, a)) is True


def test_ottt_weight_grad_not_attempted():
    assert check_ottt_weight_grad(_not_implemented) is False


def test_ottt_weight_grad_transposed():
    with pytest.raises(ExerciseError, match="transposed"):
        check_ottt_weight_grad(lambda g, a: torch.einsum("tbo,tbi->io", g, a))


def test_ottt_weight_grad_mean_over_time():
    with pytest.raises(ExerciseError, match="sum, not mean"):
        check_ottt_weight_grad(lambda g, a: torch.einsum("tbo,tbi->oi", g, a) / g.shape[0])


def test_checkers_leave_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_ottt_weight_grad(lambda g, a: torch.einsum("tbo,tbi->oi", g, a))
    check_ottt_a_step(_reference_ottt_a)
    assert torch.equal(torch.rand(3), expected)


# -- 05 ---------------------------------------------------------------------------------------
def _net():
    return OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Flatten(), nn.Linear(6, 3))


def test_wrapping_prediction_correct(capsys):
    pred = ["GradwithTrace", "neuron", "SpikeTraceOp", "gradwithtrace"]
    assert check_wrapping_prediction(_net(), pred) is True
    assert "Correct!" in capsys.readouterr().out


def test_wrapping_prediction_not_attempted(capsys):
    assert check_wrapping_prediction(_net(), None) is False
    assert "Not attempted yet" in capsys.readouterr().out


def test_wrapping_prediction_wrong_names_the_layer_and_reason():
    pred = ["GradwithTrace", "neuron", "GradwithTrace", "GradwithTrace"]
    with pytest.raises(ExerciseError, match="1 of 4 layers wrong") as e:
        check_wrapping_prediction(_net(), pred)
    assert "2: Flatten" in str(e.value) and "no parameters" in str(e.value)


def test_wrapping_prediction_wrong_length_and_unknown_name():
    with pytest.raises(ExerciseError, match="has 4 layers but your prediction has 2"):
        check_wrapping_prediction(_net(), ["GradwithTrace", "neuron"])
    with pytest.raises(ExerciseError, match="not a wrapper name"):
        check_wrapping_prediction(_net(), ["Linear", "neuron", "SpikeTraceOp", "GradwithTrace"])


def _reference_ottt_a(net, x_seq, y, optimizer):
    optimizer.zero_grad()
    T = x_seq.shape[0]
    for t in range(T):
        loss = F.cross_entropy(net(x_seq[t]), y) / T
        loss.backward()
    optimizer.step()
    reset_net(net)


def test_ottt_a_step_correct(capsys):
    assert check_ottt_a_step(_reference_ottt_a) is True
    assert "Correct!" in capsys.readouterr().out


def test_ottt_a_step_not_attempted():
    assert check_ottt_a_step(_not_implemented) is False


def test_ottt_a_step_online_is_detected():
    def ottt_o(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        T = x_seq.shape[0]
        for t in range(T):
            (F.cross_entropy(net(x_seq[t]), y) / T).backward()
            optimizer.step()
            optimizer.zero_grad()
        reset_net(net)

    with pytest.raises(ExerciseError, match="OTTT_O"):
        check_ottt_a_step(ottt_o)


def test_ottt_a_step_one_backward_over_summed_losses_is_rejected_for_its_memory():
    """Same gradients (OTTTLIFNode detaches v), but all T graphs alive at once: not online."""
    def summed(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        T = x_seq.shape[0]
        loss = sum(F.cross_entropy(net(x_seq[t]), y) / T for t in range(T))
        loss.backward()
        optimizer.step()
        reset_net(net)

    with pytest.raises(ExerciseError, match=r"inside the time loop.*BPTT's memory"):
        check_ottt_a_step(summed)


def test_ottt_a_step_missing_division_by_T():
    def no_div(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        for t in range(x_seq.shape[0]):
            F.cross_entropy(net(x_seq[t]), y).backward()
        optimizer.step()
        reset_net(net)

    with pytest.raises(ExerciseError, match="did not divide the loss by T"):
        check_ottt_a_step(no_div)


def test_ottt_a_step_missing_reset():
    def no_reset(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        for t in range(x_seq.shape[0]):
            (F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]).backward()
        optimizer.step()

    with pytest.raises(ExerciseError, match="reset_net"):
        check_ottt_a_step(no_reset)


def test_ottt_a_step_missing_zero_grad():
    def no_zero(net, x_seq, y, optimizer):
        for t in range(x_seq.shape[0]):
            (F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]).backward()
        optimizer.step()
        reset_net(net)

    with pytest.raises(ExerciseError, match="zero_grad"):
        check_ottt_a_step(no_zero)


def test_ottt_a_step_no_optimizer_step():
    def no_step(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        for t in range(x_seq.shape[0]):
            (F.cross_entropy(net(x_seq[t]), y) / x_seq.shape[0]).backward()
        reset_net(net)

    with pytest.raises(ExerciseError, match="did not change"):
        check_ottt_a_step(no_step)


def test_wrapping_prediction_rejects_a_plain_sequential():
    with pytest.raises(TypeError, match="must be an OTTTSequential"):
        check_wrapping_prediction(nn.Sequential(nn.Linear(2, 2)), ["GradwithTrace"])


def test_wrong_return_type_is_reported():
    with pytest.raises(ExerciseError, match="returned list, expected a torch.Tensor"):
        check_trace_closed_form(lambda s, tau: s.tolist())
