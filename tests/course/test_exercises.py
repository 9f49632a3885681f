"""Tests for ``ottt_edu.course.exercises``: every checker accepts a correct answer, reports an
unattempted one without failing, and rejects wrong answers with a helpful message."""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ottt_edu import OTTTLIFNode, OTTTSequential, reset_net
from ottt_edu.course.exercises import (
    ExerciseError,
    check_first_spike_time,
    check_ottt_a_step,
    check_ottt_weight_grad,
    check_replace_by_detach,
    check_surrogate_spike,
    check_trace_closed_form,
    check_wrapping_prediction,
)
from ottt_edu.neuron.surrogate import heaviside


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
    assert "Not attempted yet" in capsys.readouterr().err


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
        check_replace_by_detach(lambda x, x_r: x.detach() + (x_r - x).detach())


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


def test_ottt_a_step_that_zeroes_the_callers_tensors_is_rejected():
    """The update is right, but the caller's x_seq and y are wiped afterwards (issue 23)."""
    def wipes(net, x_seq, y, optimizer):
        total = _reference_ottt_a(net, x_seq, y, optimizer)
        x_seq.zero_()
        y.zero_()
        return total
    with pytest.raises(ExerciseError, match="changed its input `x_seq` in place"):
        check_ottt_a_step(wipes)


@pytest.mark.parametrize("bad", [42, None, "MyReplaceforGrad", [1, 2], 5.0])
def test_assert_own_code_given_no_function_or_class_says_what_to_pass(bad):
    from ottt_edu.course.exercises import assert_own_code
    with pytest.raises(ExerciseError, match=r"pass the function or class you wrote"):
        assert_own_code(bad)


# -- 05 ---------------------------------------------------------------------------------------
def _as_answer(value):
    """A prediction as the notebook writes it: a function that returns it."""
    return lambda: value


def _net():
    return OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Flatten(), nn.Linear(6, 3))


def test_wrapping_prediction_correct(capsys):
    pred = ["GradwithTrace", "neuron", "SpikeTraceOp", "gradwithtrace"]
    assert check_wrapping_prediction(_net(), _as_answer(pred)) is True
    assert "Correct!" in capsys.readouterr().out


def test_wrapping_prediction_not_attempted(capsys):
    assert check_wrapping_prediction(_net(), None) is False
    assert "Not attempted yet" in capsys.readouterr().err


def test_wrapping_prediction_wrong_names_the_layer_and_reason():
    pred = ["GradwithTrace", "neuron", "GradwithTrace", "GradwithTrace"]
    with pytest.raises(ExerciseError, match="1 of 4 layers wrong") as e:
        check_wrapping_prediction(_net(), _as_answer(pred))
    assert "2: Flatten" in str(e.value) and "no parameters" in str(e.value)


@pytest.mark.parametrize("bad", [5, 2.5, {"a": 1}])
def test_wrapping_prediction_that_is_no_list_says_so(bad):
    with pytest.raises(ExerciseError, match="must be a list of wrapper names"):
        check_wrapping_prediction(_net(), _as_answer(bad))


def test_wrapping_prediction_wrong_length_and_unknown_name():
    with pytest.raises(ExerciseError, match="has 4 layers but your prediction has 2"):
        check_wrapping_prediction(_net(), _as_answer(["GradwithTrace", "neuron"]))
    with pytest.raises(ExerciseError, match="not a wrapper name"):
        check_wrapping_prediction(_net(), _as_answer(["Linear", "neuron", "SpikeTraceOp", "GradwithTrace"]))


def _reference_ottt_a(net, x_seq, y, optimizer):
    optimizer.zero_grad()
    T = x_seq.shape[0]
    total = 0.0
    for t in range(T):
        loss = F.cross_entropy(net(x_seq[t]), y) / T
        loss.backward()
        total += loss.item()
    optimizer.step()
    reset_net(net)
    return total


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
        check_wrapping_prediction(nn.Sequential(nn.Linear(2, 2)), _as_answer(["GradwithTrace"]))


def test_wrong_return_type_is_reported():
    with pytest.raises(ExerciseError, match="returned list, expected a torch.Tensor"):
        check_trace_closed_form(lambda s, tau: s.tolist())


# =============================================================================================
# Probes from the issue-12 walkthrough: one test per wrong answer (rejected, with the hint that
# names the mistake) and one per correct answer.
# =============================================================================================
from ottt_edu import GradwithTrace, LIFNode, ReplaceforGrad, SpikeTraceOp  # noqa: E402
from ottt_edu.course.exercises import (  # noqa: E402
    check_grad_with_trace,
    check_ottt_dispatch,
    check_ottt_lif_step,
    check_replace_for_grad,
    check_spike_trace_op,
)


# -- 01: exact ties and wrong charge equations -------------------------------------------------
def test_first_spike_time_floor_misses_exact_ties():
    def floor_answer(x, tau, v_threshold):
        k = 1.0 - 1.0 / tau
        if x * tau <= v_threshold:
            return None
        if x >= v_threshold:
            return 0
        return math.floor(math.log(1.0 - v_threshold * (1.0 - k) / x) / math.log(k))

    with pytest.raises(ExerciseError, match="exact tie") as e:
        check_first_spike_time(floor_answer)
    assert "floor(n)" in str(e.value)


def test_first_spike_time_strict_comparison_misses_exact_ties():
    def strict(x, tau, v_threshold):
        v = 0.0
        for t in range(5000):
            v = v * (1 - 1 / tau) + x
            if v > v_threshold:
                return t
        return None

    with pytest.raises(ExerciseError, match="exact tie") as e:
        check_first_spike_time(strict)
    assert "v > v_threshold" in str(e.value)


def test_first_spike_time_wrong_charge_equation_names_the_equation():
    def decayed_input(x, tau, v_threshold):
        v = 0.0
        for t in range(5000):
            v = v + (x - v) / tau
            if v >= v_threshold:
                return t
        return None

    with pytest.raises(ExerciseError, match="charge equation") as e:
        check_first_spike_time(decayed_input)
    assert "off by one" not in str(e.value)


def test_first_spike_time_exact_ties_are_checked(capsys):
    assert check_first_spike_time(first_spike_time) is True
    assert "exact ties" in capsys.readouterr().out


# -- 03: inputs must be left unchanged ----------------------------------------------------------
def test_replace_by_detach_in_place_copy_is_rejected():
    def overwrite(x, x_r):
        x.data.copy_(x_r)
        return x

    with pytest.raises(ExerciseError, match="changed its input `x` in place"):
        check_replace_by_detach(overwrite)


class _RFG(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, x_r):
        return x_r.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def _rfg(forward=None, backward=None):
    class Fn(torch.autograd.Function):
        pass
    Fn.forward = staticmethod(forward or _RFG.forward)
    Fn.backward = staticmethod(backward or _RFG.backward)
    return Fn


def test_replace_for_grad_correct(capsys):
    assert check_replace_for_grad(_RFG) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_replace_for_grad_library_is_correct():
    assert check_replace_for_grad(ReplaceforGrad) is True


def test_replace_for_grad_not_attempted(capsys):
    def todo(ctx, *a):
        raise NotImplementedError
    assert check_replace_for_grad(_rfg(todo, todo)) is False
    assert "Not attempted yet" in capsys.readouterr().err


def test_replace_for_grad_in_place_copy_is_rejected():
    def overwrite(ctx, x, x_r):
        x.copy_(x_r)
        return x
    with pytest.raises(ExerciseError, match="changed its input `x` in place"):
        check_replace_for_grad(_rfg(forward=overwrite))


def test_replace_for_grad_value_of_x():
    with pytest.raises(ExerciseError, match="returned x's value"):
        check_replace_for_grad(_rfg(forward=lambda ctx, x, x_r: x.clone()))


def test_replace_for_grad_sign_flip():
    with pytest.raises(ExerciseError, match="sign flip"):
        check_replace_for_grad(_rfg(backward=lambda ctx, g: (-g, -g)))


def test_replace_for_grad_no_gradient_to_x():
    with pytest.raises(ExerciseError, match="no gradient reached x"):
        check_replace_for_grad(_rfg(backward=lambda ctx, g: (None, g)))


def test_replace_for_grad_one_gradient_only():
    with pytest.raises(ExerciseError, match="one gradient per input"):
        check_replace_for_grad(_rfg(backward=lambda ctx, g: g))


def test_replace_for_grad_needs_a_function_class():
    with pytest.raises(ExerciseError, match="subclass of torch.autograd.Function"):
        check_replace_for_grad(lambda x, x_r: x_r)


# -- 04: dtypes, sign flip, shift by one, transposed -------------------------------------------
def test_trace_closed_form_float_double_mix_becomes_a_hint():
    def float32_matrix(spikes, tau):
        T = spikes.shape[0]
        t = torch.arange(T, dtype=torch.float32)
        lag = t[:, None] - t[None, :]
        K = torch.where(lag >= 0, (1 - 1 / tau) ** lag.clamp(min=0), torch.zeros_like(lag))
        return K @ spikes

    with pytest.raises(ExerciseError, match="mixes float32 and float64") as e:
        check_trace_closed_form(float32_matrix)
    assert "RuntimeError" in str(e.value)


def test_trace_closed_form_sign_flip():
    with pytest.raises(ExerciseError, match="sign flip"):
        check_trace_closed_form(lambda s, tau: -trace_closed_form(s, tau))


def test_trace_closed_form_shift_by_one():
    def shifted(s, tau):
        a = trace_closed_form(s, tau)
        return torch.cat([torch.zeros_like(a[:1]), a[:-1]])

    with pytest.raises(ExerciseError, match="shifted by one time step"):
        check_trace_closed_form(shifted)


def test_trace_closed_form_transposed_matrix():
    def transposed(s, tau):
        T = s.shape[0]
        t = torch.arange(T, dtype=s.dtype)
        lag = t[:, None] - t[None, :]
        K = torch.where(lag >= 0, (1 - 1 / tau) ** lag.clamp(min=0), torch.zeros_like(lag))
        return K.T @ s

    with pytest.raises(ExerciseError, match="transposed matrix"):
        check_trace_closed_form(transposed)


def test_ottt_weight_grad_sign_flip():
    with pytest.raises(ExerciseError, match="sign flip"):
        check_ottt_weight_grad(lambda g, a: -torch.einsum("tbo,tbi->oi", g, a))


def test_ottt_weight_grad_shift_by_one():
    def shifted(g, a):
        a_prev = torch.cat([torch.zeros_like(a[:1]), a[:-1]])
        return torch.einsum("tbo,tbi->oi", g, a_prev)

    with pytest.raises(ExerciseError, match="shifted by one time step"):
        check_ottt_weight_grad(shifted)


def test_ottt_weight_grad_float_double_mix_becomes_a_hint():
    def double_sum(g, a):
        out = torch.zeros(g.shape[2], a.shape[2], dtype=torch.float64)
        return out + torch.einsum("tbo,tbi->oi", g, a).to(torch.float32) @ torch.eye(a.shape[2])

    with pytest.raises(ExerciseError, match="mixes float32 and float64"):
        check_ottt_weight_grad(lambda g, a: torch.eye(g.shape[2], dtype=torch.float64)
                               @ torch.einsum("tbo,tbi->oi", g, a))


# -- 04: one OTTT LIF step -----------------------------------------------------------------------
def ottt_lif_step(x, v, trace, tau, v_threshold, surrogate, training, *, detach_v=True,
                  detach_reset=True, trace_no_grad=True, strict=False, hard=False, decay_input=False):
    k = 1.0 - 1.0 / tau
    v_prev = v.detach() if detach_v else v
    v = v_prev + (x - v_prev) / tau if decay_input else k * v_prev + x
    spike = surrogate(v - v_threshold)
    if strict:
        spike = spike * (v != v_threshold)
    s_r = spike.detach() if detach_reset else spike
    v = v * (1 - s_r) if hard else v - s_r * v_threshold
    if not training:
        return spike, v, trace
    if trace_no_grad:
        with torch.no_grad():
            trace = k * trace + spike
    else:
        trace = k * trace + spike
    return [spike, trace], v, trace


def _lif_variant(**kw):
    return lambda *a: ottt_lif_step(*a, **kw)


def test_ottt_lif_step_correct(capsys):
    assert check_ottt_lif_step(ottt_lif_step) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_ottt_lif_step_not_attempted():
    assert check_ottt_lif_step(_not_implemented) is False


def test_ottt_lif_step_v_not_detached():
    with pytest.raises(ExerciseError, match=r"charge with v detached: v = \(1 - 1/tau\) \* v.detach\(\)"):
        check_ottt_lif_step(_lif_variant(detach_v=False))


def test_ottt_lif_step_reset_not_detached():
    with pytest.raises(ExerciseError, match=r"reset must be detached"):
        check_ottt_lif_step(_lif_variant(detach_reset=False))


def test_ottt_lif_step_trace_with_gradient():
    with pytest.raises(ExerciseError, match=r"torch.no_grad"):
        check_ottt_lif_step(_lif_variant(trace_no_grad=False))


def test_ottt_lif_step_strict_threshold_misses_tie():
    with pytest.raises(ExerciseError, match="exact tie"):
        check_ottt_lif_step(_lif_variant(strict=True))


def test_ottt_lif_step_hard_reset():
    with pytest.raises(ExerciseError, match="hard reset"):
        check_ottt_lif_step(_lif_variant(hard=True))


def test_ottt_lif_step_wrong_charge_equation():
    with pytest.raises(ExerciseError, match="charge equation: the input is not divided by tau"):
        check_ottt_lif_step(_lif_variant(decay_input=True))


def test_ottt_lif_step_trace_in_eval_mode():
    def always_pair(x, v, trace, tau, v_threshold, surrogate, training):
        return ottt_lif_step(x, v, trace, tau, v_threshold, surrogate, True)

    with pytest.raises(ExerciseError, match="in eval mode return only the spike"):
        check_ottt_lif_step(always_pair)


def test_ottt_lif_step_in_place_state_update():
    def in_place(x, v, trace, tau, v_threshold, surrogate, training):
        out, v_new, _ = ottt_lif_step(x, v, trace, tau, v_threshold, surrogate, training)
        if training:
            with torch.no_grad():
                trace.mul_(1 - 1 / tau).add_(out[0])
            return [out[0], trace], v_new, trace
        return out, v_new, trace

    with pytest.raises(ExerciseError, match="changed its input `trace` in place"):
        check_ottt_lif_step(in_place)


# -- 04: GradwithTrace -------------------------------------------------------------------------
class MyGradwithTrace(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        spike, trace = x
        with torch.no_grad():
            out = self.module(spike)
        in_for_grad = ReplaceforGrad.apply(spike, trace)
        return ReplaceforGrad.apply(self.module(in_for_grad), out)


def test_grad_with_trace_correct(capsys):
    assert check_grad_with_trace(MyGradwithTrace) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_grad_with_trace_library_is_correct():
    assert check_grad_with_trace(GradwithTrace) is True


def test_grad_with_trace_not_attempted():
    class Todo(MyGradwithTrace):
        def forward(self, x):
            raise NotImplementedError
    assert check_grad_with_trace(Todo) is False


def test_grad_with_trace_swapped_arguments_take_the_gradient_from_the_spike():
    class Swapped(MyGradwithTrace):
        def forward(self, x):
            spike, trace = x
            with torch.no_grad():
                out = self.module(spike)
            return ReplaceforGrad.apply(self.module(ReplaceforGrad.apply(trace, spike)), out)

    with pytest.raises(ExerciseError, match=r"came from the spike \(sum_t g\^T s\)"):
        check_grad_with_trace(Swapped)


def test_grad_with_trace_value_from_the_trace():
    class FromTrace(MyGradwithTrace):
        def forward(self, x):
            spike, trace = x
            return self.module(ReplaceforGrad.apply(spike, trace))

    with pytest.raises(ExerciseError, match="value came from the trace"):
        check_grad_with_trace(FromTrace)


def test_grad_with_trace_sign_flip():
    class Flipped(MyGradwithTrace):
        def forward(self, x):
            spike, trace = x
            with torch.no_grad():
                out = self.module(spike)
            y = self.module(ReplaceforGrad.apply(spike, trace))
            return ReplaceforGrad.apply(-y, out)

    with pytest.raises(ExerciseError, match="sign flip"):
        check_grad_with_trace(Flipped)


def test_grad_with_trace_in_place_on_the_spike():
    class Overwrites(MyGradwithTrace):
        def forward(self, x):
            spike, trace = x
            out = self.module(spike.detach())
            spike.data.copy_(trace)
            return ReplaceforGrad.apply(self.module(spike), out)

    with pytest.raises(ExerciseError, match="changed its input `spike` in place"):
        check_grad_with_trace(Overwrites)


def test_grad_with_trace_no_gradient_to_the_spike():
    class NoSpikeGrad(MyGradwithTrace):
        def forward(self, x):
            spike, trace = x
            with torch.no_grad():
                out = self.module(spike)
            return ReplaceforGrad.apply(self.module(trace), out)

    with pytest.raises(ExerciseError, match="must reach the spike"):
        check_grad_with_trace(NoSpikeGrad)


# -- 05: SpikeTraceOp and the dispatch rule ------------------------------------------------------
class MySpikeTraceOp(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        spike, trace = x
        spike = self.module(spike)
        with torch.no_grad():
            trace = self.module(trace)
        return [spike, trace]


def test_spike_trace_op_correct(capsys):
    assert check_spike_trace_op(MySpikeTraceOp) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_spike_trace_op_library_is_correct():
    assert check_spike_trace_op(SpikeTraceOp) is True


def test_spike_trace_op_not_attempted():
    class Todo(MySpikeTraceOp):
        def forward(self, x):
            raise NotImplementedError
    assert check_spike_trace_op(Todo) is False


def test_spike_trace_op_trace_skips_the_operation():
    class Skips(MySpikeTraceOp):
        def forward(self, x):
            return [self.module(x[0]), x[1]]

    with pytest.raises(ExerciseError, match="same operation as the spike"):
        check_spike_trace_op(Skips)


def test_spike_trace_op_trace_with_graph():
    class Graph(MySpikeTraceOp):
        def forward(self, x):
            return [self.module(x[0]), self.module(x[1])]

    with pytest.raises(ExerciseError, match="torch.no_grad"):
        check_spike_trace_op(Graph)


def test_spike_trace_op_spike_without_graph():
    class NoGraph(MySpikeTraceOp):
        def forward(self, x):
            with torch.no_grad():
                return [self.module(x[0]), self.module(x[1])]

    with pytest.raises(ExerciseError, match="the spike keeps its graph"):
        check_spike_trace_op(NoGraph)


def test_spike_trace_op_swapped():
    class Swapped(MySpikeTraceOp):
        def forward(self, x):
            s, a = super().forward(x)
            return [a, s]

    with pytest.raises(ExerciseError, match="swapped"):
        check_spike_trace_op(Swapped)


def ottt_forward(layers, x, *, neuron_rule=True, plain_rule=True, params_rule=True,
                 nested_rule=True, neuron_test=None, has_params=None):
    for m in layers:
        pair = isinstance(x, list) and len(x) == 2
        if not pair and plain_rule:
            x = m(x)
        elif pair and nested_rule and isinstance(m, OTTTSequential):
            x = m(x)
        elif neuron_test is not None and pair:
            x = m(x[0]) if neuron_test(m) else (
                GradwithTrace(m)(x) if any(True for _ in m.parameters()) else SpikeTraceOp(m)(x))
        elif has_params is not None and pair and not isinstance(m, LIFNode):
            x = GradwithTrace(m)(x) if has_params(m) else SpikeTraceOp(m)(x)
        elif isinstance(m, LIFNode) and neuron_rule:
            x = m(x[0] if pair else x)
        elif (any(True for _ in m.parameters()) if params_rule else False):
            x = GradwithTrace(m)(x)
        else:
            x = SpikeTraceOp(m)(x)
    return x


def test_ottt_dispatch_correct(capsys):
    assert check_ottt_dispatch(ottt_forward) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_ottt_dispatch_library_forward_is_correct():
    """The checker's comparison agrees with the library's container; handed in, the container
    itself is refused (the exercise is to write the dispatch)."""
    assert check_ottt_dispatch.__wrapped__(lambda layers, x: OTTTSequential(*layers)(x)) is True
    with pytest.raises(ExerciseError, match="runs the library's ottt_edu.layer.ottt_sequential.OTTTSequential"):
        check_ottt_dispatch(lambda layers, x: OTTTSequential(*layers)(x))


def test_ottt_dispatch_not_attempted():
    assert check_ottt_dispatch(_not_implemented) is False


def test_ottt_dispatch_neuron_gets_the_pair():
    with pytest.raises(ExerciseError, match=r"give a neuron only the spike, x\[0\]"):
        check_ottt_dispatch(lambda layers, x: ottt_forward(layers, x, neuron_rule=False))


def test_ottt_dispatch_wraps_plain_tensors():
    with pytest.raises(ExerciseError, match="a layer runs as itself"):
        check_ottt_dispatch(lambda layers, x: ottt_forward(layers, x, plain_rule=False))


def test_ottt_dispatch_parametric_layer_in_spike_trace_op():
    with pytest.raises(ExerciseError, match="goes through GradwithTrace"):
        check_ottt_dispatch(lambda layers, x: ottt_forward(layers, x, params_rule=False))


# -- 06: OTTT_A slips ----------------------------------------------------------------------------
def test_ottt_a_step_range_T_minus_1():
    def short(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        T = x_seq.shape[0]
        total = 0.0
        for t in range(T - 1):
            loss = F.cross_entropy(net(x_seq[t]), y) / T
            loss.backward()
            total += loss.item()
        optimizer.step()
        reset_net(net)
        return total

    with pytest.raises(ExerciseError, match=r"range\(T - 1\)"):
        check_ottt_a_step(short)


def test_ottt_a_step_zero_grad_inside_the_loop():
    def inside(net, x_seq, y, optimizer):
        T = x_seq.shape[0]
        total = 0.0
        for t in range(T):
            optimizer.zero_grad()
            loss = F.cross_entropy(net(x_seq[t]), y) / T
            loss.backward()
            total += loss.item()
        optimizer.step()
        reset_net(net)
        return total

    with pytest.raises(ExerciseError, match="zero_grad\\(\\) inside the time loop"):
        check_ottt_a_step(inside)


def test_ottt_a_step_eval_before_training():
    def in_eval(net, x_seq, y, optimizer):
        net.eval()
        return _reference_ottt_a(net, x_seq, y, optimizer)

    with pytest.raises(ExerciseError, match="eval mode"):
        check_ottt_a_step(in_eval)


def test_ottt_a_step_must_return_the_loss():
    def returns_nothing(net, x_seq, y, optimizer):
        _reference_ottt_a(net, x_seq, y, optimizer)

    with pytest.raises(ExerciseError, match="return the sequence's loss"):
        check_ottt_a_step(returns_nothing)


# -- dtype: the answer keeps the input's dtype (float64 and float32) --------------------------
_DTYPE_HINT = r"float32 for float64 input: keep the input's dtype \(no \.float\(\)\)"


def test_trace_closed_form_always_float32_is_rejected():
    def f32(spikes, tau):
        return trace_closed_form(spikes.double(), tau).float()

    with pytest.raises(ExerciseError, match=_DTYPE_HINT):
        check_trace_closed_form(f32)


def test_ottt_weight_grad_always_float32_is_rejected():
    with pytest.raises(ExerciseError, match=_DTYPE_HINT):
        check_ottt_weight_grad(lambda g, a: torch.einsum("tbo,tbi->oi", g.float(), a.float()))


def test_replace_by_detach_float32_cast_is_rejected():
    with pytest.raises(ExerciseError, match=_DTYPE_HINT):
        check_replace_by_detach(lambda x, x_r: x_r.float() + (x - x.detach()).float())


def test_replace_for_grad_float32_cast_names_the_dtype():
    class Cast(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, x_r):
            return x_r.float()

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(ExerciseError, match=_DTYPE_HINT) as e:
        check_replace_for_grad(Cast)
    assert "close to x_r" not in str(e.value)


def test_replace_for_grad_returning_x_r_itself_is_accepted(capsys):
    """SpikingJelly's forward returns x_r itself; the task text no longer forbids it."""
    class ReturnXr(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, x_r):
            return x_r

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    assert check_replace_for_grad(ReturnXr) is True
    assert "Correct!" in capsys.readouterr().out


def test_grad_with_trace_value_with_a_graph_doubles_the_spike_gradient():
    class ValueWithGraph(MyGradwithTrace):
        def forward(self, x):
            spike, trace = x
            out = self.module(spike)                      # no torch.no_grad(): a second path
            return ReplaceforGrad.apply(self.module(ReplaceforGrad.apply(spike, trace)), out)

    with pytest.raises(ExerciseError, match=r"reaches the spike twice.*torch\.no_grad\(\)"):
        check_grad_with_trace(ValueWithGraph)


def test_replace_by_detach_returning_x_r_says_x_gets_no_gradient():
    with pytest.raises(ExerciseError, match="x gets no gradient") as e:
        check_replace_by_detach(lambda x, x_r: x_r)
    assert "detached everything" not in str(e.value)
    assert "(x_r - x).detach()" not in str(e.value)      # a nudge, not the answer


def test_replace_by_detach_x_r_plus_detached_x_is_accepted():
    assert check_replace_by_detach(lambda x, x_r: x_r + (x - x.detach())) is True


def test_ottt_a_step_loss_on_the_averaged_output_is_named():
    def mean_out(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        T = x_seq.shape[0]
        loss = F.cross_entropy(torch.stack([net(x_seq[t]) for t in range(T)]).mean(0), y)
        loss.backward()
        optimizer.step()
        reset_net(net)
        return loss.item()

    with pytest.raises(ExerciseError, match=r"BPTT's memory\) and a loss on the averaged output "
                                            r"is not OTTT_A's per-step loss") as e:
        check_ottt_a_step(mean_out)
    assert "summing the T losses" not in str(e.value)


def test_ottt_a_step_returning_a_tensor_is_rejected():
    def ret_tensor(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        T, total = x_seq.shape[0], 0.0
        for t in range(T):
            loss = F.cross_entropy(net(x_seq[t]), y) / T
            loss.backward()
            total = total + loss.detach()
        optimizer.step()
        reset_net(net)
        return total

    with pytest.raises(ExerciseError, match=r"not a tensor.*loss\.item\(\)"):
        check_ottt_a_step(ret_tensor)


def test_ottt_a_step_stepping_inside_the_loop_is_named():
    def step_in_loop(net, x_seq, y, optimizer):
        optimizer.zero_grad()
        T, total = x_seq.shape[0], 0.0
        for t in range(T):
            loss = F.cross_entropy(net(x_seq[t]), y) / T
            loss.backward()
            total += loss.item()
            optimizer.step()
        reset_net(net)
        return total

    with pytest.raises(ExerciseError, match=r"optimizer\.step\(\) once, after the T steps "
                                            r"\(OTTT_A\); stepping every time step is OTTT_O"):
        check_ottt_a_step(step_in_loop)


# -- 05: dispatch by type, neuron on the trace, neuron stepped twice ------------------------------
def _dispatch_variant(kind):
    def fwd(layers, x):
        for m in layers:
            if not (isinstance(x, list) and len(x) == 2):
                x = m(x)
            elif isinstance(m, LIFNode):
                if kind == "twice":
                    m(x[0])
                x = m(x[1] if kind == "trace" else x[0])
            elif (isinstance(m, (nn.Linear, nn.Conv2d)) if kind == "type"
                  else any(True for _ in m.parameters())):
                x = GradwithTrace(m)(x)
            else:
                x = SpikeTraceOp(m)(x)
        return x
    return fwd


def test_ottt_dispatch_by_type_is_rejected():
    with pytest.raises(ExerciseError, match=r"a layer with parameters \(any kind\) goes through "
                                            r"GradwithTrace.*not its type"):
        check_ottt_dispatch(_dispatch_variant("type"))


def test_ottt_dispatch_neuron_given_the_trace_is_named():
    with pytest.raises(ExerciseError, match=r"the neuron was given the trace, x\[1\]"):
        check_ottt_dispatch(_dispatch_variant("trace"))


def test_ottt_dispatch_neuron_called_twice_is_named():
    with pytest.raises(ExerciseError, match="a neuron was called twice in one time step"):
        check_ottt_dispatch(_dispatch_variant("twice"))


def test_wrapping_prediction_task_text_names_every_allowed_name():
    import pathlib
    from ottt_edu.course.exercises import WRAPPER_NAMES
    md = (pathlib.Path(__file__).parents[2] / "notebooks"
          / "05_spike_trace_op_and_ottt_sequential.md").read_text(encoding="utf-8")
    task = md.split("### Your turn: predict the wrapping")[1].split("```")[0]
    for wrapper in WRAPPER_NAMES:
        assert f'"{wrapper}"' in task


# -- nbgrader support: answer functions, stderr for "not attempted", own code -----------------
def test_not_attempted_goes_to_stderr_so_nbgrader_scores_zero(capsys):
    assert check_first_spike_time(_not_implemented) is False
    captured = capsys.readouterr()
    assert captured.out == "" and "Not attempted yet" in captured.err


def test_answer_value_calls_answer_functions():
    from ottt_edu.course.exercises import answer_value

    def unanswered():
        raise NotImplementedError()

    assert answer_value("t", 3.5) == 3.5
    assert answer_value("t", lambda: [1, 2]) == [1, 2]
    assert answer_value("t", unanswered) is None
    with pytest.raises(ExerciseError, match="no arguments"):
        answer_value("t", lambda x: x)


def test_assert_own_code_rejects_the_library_and_wrappers_of_it():
    from ottt_edu import ReplaceforGrad
    from ottt_edu.course.exercises import assert_own_code

    class Wrapper(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, x_r):
            return ReplaceforGrad.apply(x, x_r)

    class Subclass(ReplaceforGrad):
        pass

    class Own(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, x_r):
            return x_r.clone()

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(ExerciseError, match="library's own"):
        assert_own_code(ReplaceforGrad, ["ReplaceforGrad"])
    with pytest.raises(ExerciseError, match="calls ReplaceforGrad from the library"):
        assert_own_code(Wrapper, ["ReplaceforGrad"])
    with pytest.raises(ExerciseError, match="inherits from"):
        assert_own_code(Subclass, ["ReplaceforGrad"])
    assert assert_own_code(Own, ["ReplaceforGrad"]) is None


def test_assert_own_code_allows_naming_the_library_without_calling_it():
    from ottt_edu import GradwithTrace, OTTTSequential
    from ottt_edu.course.exercises import assert_own_code

    def ottt_forward(layers, x, log=None):
        """Like OTTTSequential, but mine."""  # the name in a docstring or comment is fine
        for m in layers:
            if isinstance(m, OTTTSequential):   # the "itself" rule: a type check, not a call
                x = m(x)
            else:
                x = GradwithTrace(m)(x)
        return x

    assert assert_own_code(ottt_forward, ["OTTTSequential"]) is None

    def delegates(layers, x, log=None):
        return OTTTSequential(*layers)(x)

    with pytest.raises(ExerciseError, match="calls OTTTSequential"):
        assert_own_code(delegates, ["OTTTSequential"])

    def reads_the_truth():
        return [how for _, how in _net().wrapping()]

    with pytest.raises(ExerciseError, match="calls wrapping"):
        assert_own_code(reads_the_truth, ["wrapping"])


def test_an_instance_instead_of_the_class_is_named():
    from ottt_edu.course.exercises import check_grad_with_trace, check_spike_trace_op
    with pytest.raises(ExerciseError, match="pass the class itself"):
        check_grad_with_trace(nn.Linear(2, 2))
    with pytest.raises(ExerciseError, match="pass the class itself"):
        check_spike_trace_op(nn.AvgPool2d(2))


# -- answers that run the library, whatever name reaches it (issue 25) ------------------------
class _FastGradwithTrace(nn.Module):
    """A one-line GradwithTrace: the library's fused fast path under another name."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        from ottt_edu.layer import fast_path as fp
        run = fp.fast_path_forward
        return run(self.module, x[0], x[1]) if isinstance(x, list) else self.module(x)


def _dispatch_by_wrapper_for(layers, x):
    import ottt_edu.layer.ottt_sequential as seq
    wrappers = {"GradwithTrace": GradwithTrace, "SpikeTraceOp": SpikeTraceOp}
    for m in layers:
        how = seq.wrapper_for(m) if isinstance(x, list) else "itself"
        x = m(x) if how == "itself" else m(x[0]) if how.startswith("neuron") else wrappers[how](m)(x)
    return x


def _step_by_library(net, x_seq, y, optimizer):
    from ottt_edu import train
    step = getattr(train, "ottt_a_step")
    return step(net, x_seq, y, optimizer).loss


def _surrogate_by_library(x, alpha):
    from ottt_edu.neuron import surrogate as s
    return s.SigmoidSpike.apply(x, alpha)


_PREDICTED_NET = _net()  # made outside the answer: the answer only reads it


@pytest.mark.parametrize("check, answer, runs", [
    (lambda a: check_surrogate_spike(a), _surrogate_by_library, "SigmoidSpike"),
    (lambda a: check_grad_with_trace(a), _FastGradwithTrace, "fast_path"),
    (lambda a: check_ottt_dispatch(a), _dispatch_by_wrapper_for, "wrapper_for"),
    (lambda a: check_ottt_a_step(a), _step_by_library, "ottt_a_step"),
    (lambda a: check_wrapping_prediction(_PREDICTED_NET, a),
     lambda: [w for _, w in _PREDICTED_NET.wrapping()], "wrapping"),
], ids=["02-SigmoidSpike.apply", "04-fast_path_forward", "05-wrapper_for", "06-ottt_a_step",
        "05-net.wrapping"])
def test_an_answer_that_runs_the_library_is_refused_whatever_name_reaches_it(check, answer, runs):
    """Issue 25's five cases: each passed before (a library function under an alias, an
    attribute, getattr); the checker now sees what runs, not what it is called."""
    with pytest.raises(ExerciseError, match=rf"(runs the library's|calls) \S*{runs}"):
        check(answer)


def test_the_library_watch_leaves_the_profiler_as_it_found_it():
    import sys
    seen = []
    previous = lambda frame, event, arg: seen.append(event)  # noqa: E731
    sys.setprofile(previous)
    try:
        check_first_spike_time(lambda x, tau, v_th: None)
    except ExerciseError:
        pass
    finally:
        now = sys.getprofile()
        sys.setprofile(None)
    assert now is previous


# -- 01: the gaps of issue 25 -----------------------------------------------------------------
def _loop_answer(cap=None, guard="<="):
    def first_spike_time(x, tau, v_threshold):
        k = 1.0 - 1.0 / tau
        if (x * tau <= v_threshold) if guard == "<=" else (x * tau < v_threshold) if guard == "<" else False:
            return None
        v, t = 0.0, 0
        while cap is None or t < cap:
            v = k * v + x
            if v >= v_threshold:
                return t
            t += 1
        return None
    return first_spike_time


def _closed_form(guard):
    def first_spike_time(x, tau, v_threshold):
        k = 1.0 - 1.0 / tau
        if (x * tau < v_threshold) if guard == "<" else (x * tau <= v_threshold):
            return None
        if x >= v_threshold:
            return 0
        return math.ceil(math.log(1.0 - v_threshold * (1.0 - k) / x) / math.log(k)) - 1
    return first_spike_time


def test_first_spike_time_a_loop_without_cap_behind_the_guard_is_correct():
    assert check_first_spike_time(_loop_answer()) is True


def test_first_spike_time_a_capped_loop_is_told_the_neuron_fires_late():
    with pytest.raises(ExerciseError, match="fire, late") as e:
        check_first_spike_time(_loop_answer(cap=50))
    assert "needs no cap" in str(e.value)


def test_first_spike_time_the_equality_case_never_fires():
    """x * tau == v_threshold: a strict guard sends the closed form into log(0); named."""
    with pytest.raises(ExerciseError, match=r"v_threshold exactly.*never fires: return None"):
        check_first_spike_time(_closed_form("<"))
    assert check_first_spike_time(_loop_answer(cap=10_000, guard=None)) is True  # float64 rounding


def test_first_spike_time_leaking_the_new_input_is_named():
    def leaky(x, tau, v_threshold):
        k = 1.0 - 1.0 / tau
        v = 0.0
        for t in range(2000):
            v = k * (v + x)
            if v >= v_threshold:
                return t
        return None
    with pytest.raises(ExerciseError, match=r"the leak comes before the input"):
        check_first_spike_time(leaky)


# -- 02: the gaps of issue 25 -----------------------------------------------------------------
def test_surrogate_spike_the_natural_form_is_accepted_up_to_rounding():
    """``H + s - s.detach()`` is off by one unit of rounding where s is not small: accepted
    (the tolerance is stated), as is the form of the reference."""
    def natural(x, alpha):
        s = torch.sigmoid(alpha * x)
        return heaviside(x) + s - s.detach()
    assert check_surrogate_spike(natural) is True


def test_surrogate_spike_a_float_cast_is_named():
    def cast(x, alpha):
        s = torch.sigmoid(alpha * x.float())
        return (heaviside(x.float()) + (s - s.detach()))
    with pytest.raises(ExerciseError, match=r"float32, the input is float64"):
        check_surrogate_spike(cast)


def test_surrogate_spike_a_value_off_by_more_than_rounding_shows_the_difference():
    def sloppy(x, alpha):
        s = torch.sigmoid(alpha * x)
        return heaviside(x) + 1e-9 * s
    with pytest.raises(ExerciseError, match=r"largest difference from the step: .*accepted: 4 x"):
        check_surrogate_spike(sloppy)


def test_surrogate_spike_an_in_place_edit_of_x_is_named():
    def in_place(x, alpha):
        x.data.mul_(1.0 + 1e-3)
        s = torch.sigmoid(alpha * x)
        return heaviside(x).detach() + (s - s.detach())
    with pytest.raises(ExerciseError, match=r"changed its input `x` in place"):
        check_surrogate_spike(in_place)


# -- 04/05: the gaps of issue 25 --------------------------------------------------------------
class _UnregisteredGradwithTrace(nn.Module):
    """Correct maths, but the module kept in a plain list: .parameters() cannot see it."""

    def __init__(self, module):
        super().__init__()
        self.held = [module]

    def forward(self, x):
        m = self.held[0]
        spike, trace = x
        with torch.no_grad():
            out = m(spike)
        return ReplaceforGrad.apply(m(ReplaceforGrad.apply(spike, trace)), out)


class _UnregisteredSpikeTraceOp(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.held = {"m": module}

    def forward(self, x):
        spike = self.held["m"](x[0])
        with torch.no_grad():
            trace = self.held["m"](x[1])
        return [spike, trace]


class _OverwritingSpikeTraceOp(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        x[0] = self.module(x[0])
        with torch.no_grad():
            x[1] = self.module(x[1])
        return x


@pytest.mark.parametrize("check, answer, says", [
    (lambda a: check_grad_with_trace(a), _UnregisteredGradwithTrace, "does not register the module"),
    (lambda a: check_spike_trace_op(a), _UnregisteredSpikeTraceOp, "does not register the module"),
    (lambda a: check_spike_trace_op(a), _OverwritingSpikeTraceOp, "wrote into the list it was given"),
], ids=["04-unregistered", "05-unregistered", "05-overwrites-input"])
def test_wrappers_that_hide_the_module_or_overwrite_the_input_are_named(check, answer, says):
    with pytest.raises(ExerciseError, match=says):
        check(answer)


@pytest.mark.parametrize("answer, says", [
    (lambda layers, x: ottt_forward(layers, x, neuron_test=lambda m: type(m).__name__ in
                                    ("OTTTLIFNode", "LIFNode")), "not by its class name"),
    (lambda layers, x: ottt_forward(layers, x, has_params=lambda m: len(m.state_dict()) > 0),
     "parameters, not buffers"),
    (lambda layers, x: ottt_forward(layers, x, nested_rule=False), "nested OTTTSequential"),
], ids=["neuron-by-class-name", "buffers-as-parameters", "nested-in-GradwithTrace"])
def test_ottt_dispatch_the_gaps_of_issue_25_are_named(answer, says):
    with pytest.raises(ExerciseError, match=says):
        check_ottt_dispatch(answer)


# -- 06: the gaps of issue 25 -----------------------------------------------------------------
def _ottt_a_variant(divide_power=1, zero_grad=True):
    def step(net, x_seq, y, optimizer):
        T = x_seq.shape[0]
        if zero_grad:
            optimizer.zero_grad()
        total = 0.0
        for t in range(T):
            loss = F.cross_entropy(net(x_seq[t]), y) / T ** divide_power
            loss.backward()
            total += loss.item()
        optimizer.step()
        reset_net(net)
        return total
    return step


@pytest.mark.parametrize("answer, says", [
    (_ottt_a_variant(divide_power=2), "divided each step's loss by T twice"),
    (_ottt_a_variant(zero_grad=False), "did not zero the gradients first"),
], ids=["T-squared", "no-zero_grad"])
def test_ottt_a_step_the_gaps_of_issue_25_get_their_own_hint(answer, says):
    with pytest.raises(ExerciseError, match=says):
        check_ottt_a_step(answer)


# -- 03/04: hints of issue 25 -----------------------------------------------------------------
def test_replace_for_grad_a_backward_returning_a_list_is_told_to_return_a_tuple():
    class AsList(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, x_r):
            return x_r.clone()

        @staticmethod
        def backward(ctx, grad):
            return [grad, grad]
    with pytest.raises(ExerciseError, match="return them as a tuple"):
        check_replace_for_grad(AsList)


def test_grad_with_trace_a_linear_only_wrapper_is_told_about_conv2d():
    class LinearOnly(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, x):
            s, a = x
            W, b = self.module.weight, self.module.bias
            bias = b if b is not None else 0.0
            with torch.no_grad():
                out = s @ W.t() + bias
            return ReplaceforGrad.apply(ReplaceforGrad.apply(s, a) @ W.t() + bias, out)
    with pytest.raises(ExerciseError, match="wraps nn.Conv2d too"):
        check_grad_with_trace(LinearOnly)


# -- the fourth attacking pass (issue 24, C10 and C12) -----------------------------------------
class _CopiedGradwithTrace(nn.Module):
    """Its own __init__, the library's forward copied off the class (C10)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    forward = GradwithTrace.forward


class _PropertyGradwithTrace(nn.Module):
    forward = property(GradwithTrace.forward)


def test_a_method_copied_off_a_library_class_is_refused():
    """C10: ``forward = GradwithTrace.forward`` ran the library's code from the student's class,
    and nothing the student wrote called the library: it scored full marks."""
    from ottt_edu.course.exercises.core import assert_own_code
    with pytest.raises(ExerciseError, match=r"takes GradwithTrace\.forward from the library"):
        assert_own_code(_CopiedGradwithTrace)
    whole = type("MyGradwithTrace", (nn.Module,), {  # every method of the library's, copied
        k: v for k, v in vars(GradwithTrace).items() if callable(v) or isinstance(v, property)})
    with pytest.raises(ExerciseError, match="from the library"):
        assert_own_code(whole)
    with pytest.raises(ExerciseError, match="from the library"):
        assert_own_code(_PropertyGradwithTrace)


def test_a_prediction_equal_to_anything_is_refused():
    """C12: an object whose ``__eq__`` says yes to everything passed ``in WRAPPER_NAMES`` and
    ``!=`` the truth; a name must be exactly a ``str``."""
    anything = type("Anything", (), {"__eq__": lambda s, o: True, "__ne__": lambda s, o: False,
                                     "__hash__": lambda s: 0})()
    layers = len(_PREDICTED_NET.wrapping())
    with pytest.raises(ExerciseError, match="is not a wrapper name"):
        check_wrapping_prediction(_PREDICTED_NET, lambda: [anything] * layers)


@pytest.mark.parametrize("check, answer", [
    (lambda a: check_ottt_a_step(a), _step_by_library),
    (lambda a: check_grad_with_trace(a), _FastGradwithTrace),
], ids=["06-ottt_a_step", "04-fast_path_forward"])
def test_no_correct_is_printed_above_the_library_error(check, answer, capsys):
    """The student pass of issue 25: "Correct! ..." was printed, then the watch's error said the
    same answer "scores nothing". The verdict waits for the watch."""
    with pytest.raises(ExerciseError, match="library"):
        check(answer)
    assert "Correct!" not in capsys.readouterr().out


def test_a_correct_answer_still_prints_its_verdict(capsys):
    import reference_answers as reference
    assert check_ottt_a_step(reference.ottt_a_step) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_a_loop_that_never_ends_is_stopped_with_the_case_and_why():
    """The student pass of issue 25: the most natural first loop waits for a spike that a slow
    neuron never fires, and the checker's cell ran forever with no output."""
    import time

    def first_spike_time(x, tau, v_threshold):
        k, v, t = 1.0 - 1.0 / tau, 0.0, 0
        while True:
            v = k * v + x
            if v >= v_threshold:
                return t
            t += 1

    start = time.perf_counter()
    with pytest.raises(ExerciseError, match=r"without returning: a loop that never ends\?(.|\n)*"
                                            r"this neuron never fires") as e:
        check_first_spike_time(first_spike_time)
    assert "x=" in str(e.value) and time.perf_counter() - start < 60


def test_the_step_limit_leaves_a_capped_loop_and_the_tracer_alone():
    import sys
    before = sys.gettrace()
    assert check_first_spike_time(_loop_answer(cap=100_000)) is True
    assert sys.gettrace() is before


def _masked_after_power(spikes, tau):
    """``k**lag * (lag >= 0)``: right for short trains, inf * 0 = NaN once k**-lag overflows."""
    T = spikes.shape[0]
    t = torch.arange(T, dtype=spikes.dtype)
    lag = t[:, None] - t[None, :]
    return ((1 - 1 / tau) ** lag * (lag >= 0)) @ spikes


def _divided_by_powers(spikes, tau):
    """``k^t * cumsum(s / k^t)``: right for short trains, inf once k^t underflows."""
    k = 1 - 1 / tau
    powers = k ** torch.arange(spikes.shape[0], dtype=spikes.dtype)[:, None]
    return powers * torch.cumsum(spikes / powers, dim=0)


@pytest.mark.parametrize("answer", [_masked_after_power, _divided_by_powers])
def test_trace_closed_form_that_overflows_on_a_long_train_is_refused(answer):
    """The student pass of issue 25: both passed (the cases had T <= 12); at T = 200 in float32
    they give NaN or inf."""
    with pytest.raises(ExerciseError, match=r"inf or NaN(.|\n)*negative power"):
        check_trace_closed_form(answer)


def test_trace_closed_form_without_the_mask_is_told_so():
    def no_mask(spikes, tau):
        t = torch.arange(spikes.shape[0], dtype=spikes.dtype)
        return ((1 - 1 / tau) ** (t[:, None] - t[None, :]).abs()) @ spikes
    with pytest.raises(ExerciseError, match="no mask"):
        check_trace_closed_form(no_mask)


def test_a_guarded_decay_input_loop_is_told_its_charge_equation():
    """The student pass of issue 25: ``v += (x - v) / tau`` behind the guard
    ``x * tau <= v_threshold: return None`` was told "off by one"."""
    def first_spike_time(x, tau, v_threshold):
        if x * tau <= v_threshold:
            return None
        v, t = 0.0, 0
        while t < 100_000:
            v = v + (x - v) / tau
            if v >= v_threshold:
                return t
            t += 1
        return None
    with pytest.raises(ExerciseError, match="does not divide the input by tau"):
        check_first_spike_time(first_spike_time)


@pytest.mark.parametrize("answer, says", [
    (lambda x, a: heaviside(x) + torch.sigmoid(a * x).detach() - torch.sigmoid(a * x), "wrong sign"),
    (lambda x, a: heaviside(x) + a * torch.sigmoid(a * x) - (a * torch.sigmoid(a * x)).detach(),
     "alpha times too large"),
], ids=["sign", "alpha-twice"])
def test_surrogate_spike_gradient_slips_are_named(answer, says):
    """The student pass of issue 25: both were told "the gradient must be that of
    sigmoid(alpha * x), not of the step"."""
    with pytest.raises(ExerciseError, match=says):
        check_surrogate_spike(answer)


class _SpikeInBothArguments(nn.Module):
    """``ReplaceforGrad.apply(spike, spike + trace)`` on the gradient path (the student pass)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        if not isinstance(x, list):
            return self.module(x)
        spike, trace = x
        with torch.no_grad():
            value = self.module(spike)
        return ReplaceforGrad.apply(self.module(ReplaceforGrad.apply(spike, spike + trace)), value)


def test_grad_with_trace_spike_in_both_arguments_is_told_so():
    """It was told "compute the value m(spike) without a graph", which it already did."""
    with pytest.raises(ExerciseError, match="in both\\s+arguments of ReplaceforGrad"):
        check_grad_with_trace(_SpikeInBothArguments)


def test_ottt_lif_step_a_tuple_is_told_plainly():
    """The student pass of issue 25: the first line spoke of OTTTSequential and _StepFnNode,
    which notebook 04 has not introduced."""
    import reference_answers as reference

    def as_tuple(*args):
        out, v, trace = reference.ottt_lif_step(*args)
        return (tuple(out) if isinstance(out, list) else out), v, trace
    with pytest.raises(ExerciseError) as e:
        check_ottt_lif_step(as_tuple)
    first = str(e.value).splitlines()[0]
    assert "tuple of two tensors" in first and "_StepFnNode" not in str(e.value), str(e.value)


class _MyFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, x_r):
        return x_r.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


def _by_function(x, x_r):
    return _MyFunction.apply(x, x_r)


def _by_data(x, x_r):
    y = x * 1.0
    y.data = x_r.detach().clone()
    return y


@pytest.mark.parametrize("answer, how", [(_by_function, "a custom autograd.Function"),
                                         (_by_data, ".data")], ids=["Function", "data"])
def test_replace_by_detach_refuses_the_other_ways(answer, how):
    """The student pass of issue 25: both passed, though the section asks for arithmetic and
    .detach() only."""
    with pytest.raises(ExerciseError, match=f"uses {re.escape(how)}"):
        check_replace_by_detach(answer)


def test_spike_trace_op_a_tuple_is_refused_as_in_04():
    """Issue 25: a tuple was refused from 04's neuron but accepted from MySpikeTraceOp; both ask
    for the list now."""
    class AsTuple(MySpikeTraceOp):
        def forward(self, x):
            return tuple(super().forward(x))

    with pytest.raises(ExerciseError, match="returned a tuple of two tensors"):
        check_spike_trace_op(AsTuple)


def test_a_closed_form_without_the_guard_is_told_the_neuron_never_fires():
    """The second student pass: math.log of a negative number for a neuron that never fires
    came out as a bare ValueError from inside the checker."""
    def first_spike_time(x, tau, v_threshold):
        k = 1 - 1 / tau
        return max(0, math.ceil(math.log(1 - v_threshold / (x * tau)) / math.log(k)) - 1)

    with pytest.raises(ExerciseError, match=r"ValueError(.|\n)*this neuron never fires"):
        check_first_spike_time(first_spike_time)
