"""Checkers for the "your turn" exercises of notebooks 01-05.

English
    Every exercise in the notebooks asks you to write one small function (or make one
    prediction) and hands it to a ``check_*`` function from this module. The checker runs your
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

Exercises (notebook: checker):
    01: ``check_first_spike_time``      02: ``check_surrogate_spike``
    03: ``check_replace_by_detach``     04: ``check_trace_closed_form``, ``check_ottt_weight_grad``
    05: ``check_wrapping_prediction``, ``check_ottt_a_step``

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly ``activation_based.layer.online_learning``.
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from .autograd_memory import SavedTensorMeter
from .grad_with_trace import GradwithTrace
from .memory import reset_net
from .neuron import LIFNode, OTTTLIFNode
from .ottt_sequential import OTTTSequential
from .replace_for_grad import ReplaceforGrad
from .surrogate import Sigmoid

__all__ = [
    "ExerciseError",
    "check_first_spike_time",
    "check_surrogate_spike",
    "check_replace_by_detach",
    "check_trace_closed_form",
    "check_ottt_weight_grad",
    "check_wrapping_prediction",
    "check_ottt_a_step",
    "WRAPPER_NAMES",
]


class ExerciseError(AssertionError):
    """A wrong answer to an exercise; the message says which case failed and gives a hint."""


class _NotAttempted(Exception):
    """Internal: the answer still raises ``NotImplementedError``."""


# -- shared helpers ---------------------------------------------------------------------------
def _fmt(x: Any) -> str:
    """Short, rounded, address-free text for a value in an error message."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.numel() <= 8:
            vals = [round(float(v), 4) for v in x.reshape(-1)]
            return f"tensor of shape {tuple(x.shape)} with values {vals}"
        return f"tensor of shape {tuple(x.shape)} (first values {[round(float(v), 4) for v in x.reshape(-1)[:6]]} ...)"
    if isinstance(x, float):
        return f"{x:.4f}"
    return repr(x) if isinstance(x, (int, str, type(None), list, tuple)) else type(x).__name__


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the student's ``fn``; turn ``NotImplementedError`` into "not attempted"."""
    if not callable(fn):
        raise ExerciseError(
            f"{name}: expected a function, got {type(fn).__name__}. Pass the function itself, "
            f"e.g. check(my_fn), not check(my_fn(...))."
        )
    try:
        return fn(*args)
    except NotImplementedError as e:
        raise _NotAttempted() from e


def _not_attempted(what: str) -> bool:
    print(
        f"Not attempted yet: {what} still raises NotImplementedError. Replace its body with your "
        f"code and run the cell again. (The reference solution in the hidden cell below is what "
        f"the rest of the notebook uses.)"
    )
    return False


def _correct(msg: str) -> bool:
    print(f"Correct! {msg}")
    return True


def _fail(exercise: str, case: str, expected: Any, got: Any, hint: str) -> None:
    raise ExerciseError(
        f"{exercise}: wrong answer for {case}.\n"
        f"  expected: {_fmt(expected)}\n"
        f"  got:      {_fmt(got)}\n"
        f"  hint: {hint}"
    )


def _need_tensor(exercise: str, case: str, got: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(
            f"{exercise}: for {case} your function returned {type(got).__name__}, expected a "
            f"torch.Tensor of shape {shape}."
        )
    if tuple(got.shape) != shape:
        raise ExerciseError(
            f"{exercise}: for {case} your function returned shape {tuple(got.shape)}, expected "
            f"{shape}."
        )
    return got


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
    raise ExerciseError(
        f"{exercise}: for {case} your function returned {type(got).__name__} {got!r}; expected an "
        f"int (the first time step with a spike, counting from 0) or None (it never fires)"
        + (". Return the number itself, not text: int(...), not str(...)." if isinstance(got, str)
           else ".")
    )


_FIRST_SPIKE_CASES = [  # (x, tau, v_threshold), away from exact ties
    (1.5, 2.0, 1.0), (0.6, 2.0, 1.0), (0.4, 2.0, 1.0), (0.3, 5.0, 1.0),
    (0.15, 10.0, 1.0), (0.9, 3.0, 2.0), (0.05, 10.0, 1.0), (0.26, 4.0, 1.0),
]


def check_first_spike_time(fn: Callable[[float, float, float], Optional[int]]) -> bool:
    """Check ``fn(x, tau, v_threshold) -> first spike index or None`` (notebook 01).

    The neuron is ``OTTTLIFNode(tau, v_threshold)`` (``decay_input=False``, soft reset) fed the
    constant current ``x`` from ``v = 0``: ``v[t] = x (1 - k^(t+1)) / (1 - k)`` with
    ``k = 1 - 1/tau`` until the first spike. ``fn`` must return the first time step ``t``
    (counting from 0) at which it spikes, or ``None`` if it never does (``x * tau < v_threshold``).
    Checked on fixed and seeded random cases against a simulation of ``OTTTLIFNode``.
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
    try:
        for x, tau, thr in cases:
            expected, margin = _simulate_first_spike(x, tau, thr)
            if margin < 1e-9:
                continue
            got = _time_step_answer(name, f"x={x}, tau={tau}, v_threshold={thr}",
                                    _call(name, fn, x, tau, thr))
            if got == expected and (got is None) == (expected is None):
                continue
            case = f"x={x}, tau={tau}, v_threshold={thr}"
            if expected is None:
                hint = (f"here x * tau = {x * tau:.4f} < v_threshold, so v only approaches "
                        f"x * tau from below and the neuron never fires: return None.")
            elif got is None:
                hint = (f"the neuron does fire: v[t] tends to x * tau = {x * tau:.4f}, which is "
                        f"above v_threshold. Find the first t with v[t] >= v_threshold.")
            elif isinstance(got, int) and got == expected + 1:
                hint = ("off by one: count time steps from 0, and v[0] = x already (the first "
                        "input is added at t = 0).")
            elif isinstance(got, int) and got == expected - 1:
                hint = ("off by one: v[t] = x (1 - k^(t+1)) / (1 - k) has t+1 terms at step t; "
                        "a spike needs v[t] >= v_threshold, not v[t+1].")
            else:
                hint = ("with k = 1 - 1/tau, v[t] = x (1 - k^(t+1)) / (1 - k); solve "
                        "v[t] >= v_threshold for the smallest integer t (math.log, math.ceil).")
            _fail(name, case, expected, got, hint)
    except _NotAttempted:
        return _not_attempted("your first_spike_time")
    return _correct(f"first spike times match OTTTLIFNode on {len(cases)} cases, "
                    f"including ones that never fire.")


# -- 02: surrogate spike with detach ----------------------------------------------------------
def check_surrogate_spike(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(x, alpha) -> spike`` (notebook 02): step forward, sigmoid-surrogate backward.

    The output's value must equal ``heaviside(x)`` exactly (1 where ``x >= 0``) and its
    gradient must be ``alpha sigmoid(alpha x)(1 - sigmoid(alpha x))``, as for
    ``ottt_edu.surrogate.Sigmoid(alpha)``. Checked for several seeded ``x`` (including
    ``x = 0``) and ``alpha`` in ``{1, 4, 10}``.
    """
    name = "check_surrogate_spike"
    gen = torch.Generator().manual_seed(2)
    try:
        for i, alpha in enumerate([4.0, 1.0, 10.0]):
            x = (2.0 * torch.rand(3, 5, generator=gen, dtype=torch.float64) - 1.0)
            x[0, 0] = 0.0
            x_ref = x.clone().requires_grad_(True)
            ref = Sigmoid(alpha)(x_ref)
            w = torch.rand(3, 5, generator=gen, dtype=torch.float64)
            (ref * w).sum().backward()
            x_in = x.clone().requires_grad_(True)
            case = f"case {i} (alpha={alpha}, x of shape (3, 5))"
            got = _need_tensor(name, case, _call(name, fn, x_in, alpha), (3, 5))
            if not torch.equal(got.detach().to(ref.dtype), ref.detach()):
                hint = ("the forward value must be the exact step: 1.0 where x >= 0 (x = 0 "
                        "included), 0.0 elsewhere. A value like sigmoid(alpha x) + ... - ... "
                        "can be off by rounding: build it as step + (smooth - smooth.detach()).")
                if float(got.detach()[0, 0]) == 0.0:
                    hint = "at x = 0 the spike is 1 (SpikingJelly fires when v >= v_threshold)."
                _fail(name, case + ", forward value", ref, got, hint)
            if got.grad_fn is None:
                _fail(name, case + ", gradient", "an output with a graph (grad_fn)", "no graph",
                      "everything was detached; keep one term with a graph, e.g. "
                      "sigmoid(alpha * x) - sigmoid(alpha * x).detach().")
            (got * w).sum().backward()
            if x_in.grad is None:
                _fail(name, case + ", gradient", x_ref.grad, None,
                      "no gradient reached x: the surviving term must depend on x.")
            if not torch.allclose(x_in.grad.to(x_ref.grad.dtype), x_ref.grad, atol=1e-6, rtol=1e-5):
                hint = "the gradient must be that of sigmoid(alpha * x), not of the step."
                plain = torch.sigmoid(x) * (1 - torch.sigmoid(x)) * w
                if torch.allclose(x_in.grad.to(plain.dtype), plain, atol=1e-6):
                    hint = "you used sigmoid(x); the surrogate is sigmoid(alpha * x)."
                _fail(name, case + ", gradient dL/dx", x_ref.grad, x_in.grad, hint)
    except _NotAttempted:
        return _not_attempted("your surrogate_spike")
    return _correct("step forward and sigmoid-surrogate backward match surrogate.Sigmoid "
                    "for alpha = 4, 1 and 10.")


# -- 03: ReplaceforGrad by detach ---------------------------------------------------------------
def check_replace_by_detach(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(x, x_r) -> y`` (notebook 03): value of ``x_r``, gradient to ``x``.

    Written with ``detach`` and arithmetic only, ``y`` must have ``x_r``'s value (up to
    rounding, 1e-6) and pass the incoming gradient unchanged to ``x``, as
    ``ReplaceforGrad.apply(x, x_r)`` does. (Unlike ``ReplaceforGrad``, ``x_r`` need not
    receive a gradient: in ``GradwithTrace`` it never needs one.)
    """
    name = "check_replace_by_detach"
    gen = torch.Generator().manual_seed(3)
    try:
        for i, shape in enumerate([(4,), (2, 3), (3, 2, 2)]):
            x0 = torch.randn(shape, generator=gen, dtype=torch.float64)
            x_r = torch.randn(shape, generator=gen, dtype=torch.float64)
            upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
            x_ref = x0.clone().requires_grad_(True)
            y_ref = ReplaceforGrad.apply(x_ref * 1.0, x_r)
            y_ref.backward(upstream)
            x_in = x0.clone().requires_grad_(True)
            case = f"case {i} (shape {shape})"
            got = _need_tensor(name, case, _call(name, fn, x_in * 1.0, x_r.clone()), shape)
            if not torch.allclose(got.detach().to(x_r.dtype), x_r, atol=1e-6, rtol=0):
                hint = "y's value must be x_r's value."
                if torch.allclose(got.detach().to(x_r.dtype), x0, atol=1e-6):
                    hint = "y has x's value; it should have x_r's (try x + (x_r - x).detach())."
                _fail(name, case + ", forward value", x_r, got, hint)
            if got.grad_fn is None:
                _fail(name, case + ", gradient", "an output with a graph", "no graph",
                      "you detached everything: the x term must keep its graph.")
            got.backward(upstream)
            if x_in.grad is None or not torch.allclose(x_in.grad, x_ref.grad, atol=1e-9):
                _fail(name, case + ", gradient dL/dx", x_ref.grad, x_in.grad,
                      "x must receive the incoming gradient unchanged (times 1): detach the "
                      "correction term (x_r - x), not x itself.")
    except _NotAttempted:
        return _not_attempted("your replace_by_detach")
    return _correct("value of x_r, gradient to x, as ReplaceforGrad on 3 shapes.")


# -- 04: traces and the OTTT weight gradient ---------------------------------------------------
def _library_spikes_and_traces(T: int, N: int, tau: float, seed: int
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and traces ``(T, N)`` of an ``OTTTLIFNode`` driven by seeded random currents."""
    gen = torch.Generator().manual_seed(seed)
    node = OTTTLIFNode(tau=tau).train()
    x = 1.2 * torch.rand(T, N, generator=gen, dtype=torch.float64)
    spikes, traces = [], []
    for t in range(T):
        s, a = node(x[t])
        spikes.append(s.detach())
        traces.append(a.detach().clone())
    return torch.stack(spikes), torch.stack(traces)


def check_trace_closed_form(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    """Check ``fn(spikes, tau) -> traces`` (notebook 04), both ``(T, N)``.

    ``a[t] = sum_{t' <= t} (1 - 1/tau)^(t - t') s[t']``, compared with the ``trace`` that
    ``OTTTLIFNode`` keeps, for seeded spike trains and ``tau`` in ``{2, 4, 1.5}``.
    """
    name = "check_trace_closed_form"
    try:
        for i, (T, N, tau) in enumerate([(8, 3, 2.0), (12, 5, 4.0), (6, 2, 1.5)]):
            spikes, traces = _library_spikes_and_traces(T, N, tau, seed=40 + i)
            case = f"case {i} (T={T}, N={N}, tau={tau})"
            got = _need_tensor(name, case, _call(name, fn, spikes.clone(), tau), (T, N))
            got = got.detach().to(traces.dtype)
            if torch.allclose(got, traces, atol=1e-6):
                continue
            k = 1.0 - 1.0 / tau
            if torch.allclose(got, k * traces, atol=1e-6):
                hint = ("your traces are k times too small: the current spike enters with "
                        "weight k^0 = 1 (exponent t - t', not t - t' + 1).")
            elif torch.allclose(got, traces - spikes, atol=1e-6):
                hint = "the sum runs over t' <= t: include the spike of the current step."
            elif torch.allclose(got.flip(0), traces, atol=1e-6):
                hint = "time runs along dim 0 from the first step; check the direction of the powers."
            else:
                hint = (f"the decay per step is k = 1 - 1/tau = {k:.4f} (not 1/tau, not "
                        f"exp(-1/tau)). Build the (T, T) matrix K[t, t'] = k^(t - t') for "
                        f"t' <= t and 0 otherwise, then traces = K @ spikes.")
            _fail(name, case, traces, got, hint)
    except _NotAttempted:
        return _not_attempted("your trace_closed_form")
    return _correct("your closed form equals OTTTLIFNode's trace on 3 spike trains.")


def check_ottt_weight_grad(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Check ``fn(g, a) -> dL/dW`` (notebook 04): ``sum_t g[t]^T a[t]``.

    ``g`` is ``(T, B, N_out)`` (the gradient of the loss with respect to the layer's output at
    each step), ``a`` is ``(T, B, N_in)`` (the presynaptic traces); the answer is
    ``(N_out, N_in)``, the shape of ``nn.Linear.weight``. Compared with the ``weight.grad``
    that ``GradwithTrace(nn.Linear(N_in, N_out))`` accumulates over the T steps.
    """
    name = "check_ottt_weight_grad"
    try:
        for i, (T, B, n_in, n_out) in enumerate([(4, 2, 3, 2), (6, 3, 5, 4), (3, 1, 2, 3)]):
            gen = torch.Generator().manual_seed(50 + i)
            spikes, traces = _library_spikes_and_traces(T, B * n_in, 2.0, seed=60 + i)
            spikes, traces = spikes.reshape(T, B, n_in), traces.reshape(T, B, n_in)
            g = torch.randn(T, B, n_out, generator=gen, dtype=torch.float64)
            with torch.random.fork_rng():  # leave the notebook's random stream alone
                torch.manual_seed(70 + i)
                layer = GradwithTrace(nn.Linear(n_in, n_out).double())
            for t in range(T):
                layer([spikes[t], traces[t]]).backward(g[t])
            expected = layer.module.weight.grad
            case = f"case {i} (T={T}, B={B}, N_in={n_in}, N_out={n_out})"
            got = _call(name, fn, g.clone(), traces.clone())
            if isinstance(got, torch.Tensor) and tuple(got.shape) == (n_in, n_out) and n_in != n_out:
                _fail(name, case, expected, got,
                      "transposed: nn.Linear stores its weight as (N_out, N_in), so the answer "
                      "is g^T a, summed over t and the batch.")
            got = _need_tensor(name, case, got, (n_out, n_in)).detach().to(expected.dtype)
            if torch.allclose(got, expected, atol=1e-8):
                continue
            hint = ("sum over both time and batch of the outer products g[t, b] a[t, b]^T, e.g. "
                    "torch.einsum('tbo,tbi->oi', g, a).")
            if torch.allclose(got * T, expected, atol=1e-8):
                hint = "you averaged over time; the gradients of the T steps add up (sum, not mean)."
            elif B > 1 and torch.allclose(got * B, expected, atol=1e-8):
                hint = "you averaged over the batch; autograd sums over it."
            _fail(name, case, expected, got, hint)
    except _NotAttempted:
        return _not_attempted("your ottt_weight_grad")
    return _correct("sum_t g[t]^T a[t] equals GradwithTrace's weight.grad on 3 cases.")


# -- 05: OTTTSequential and one OTTT_A update ---------------------------------------------------
WRAPPER_NAMES = ("GradwithTrace", "SpikeTraceOp", "neuron (spike only)", "itself")

_WRAPPER_REASON = {
    "GradwithTrace": "it has parameters, so its weight gradient must come from the trace",
    "SpikeTraceOp": "it has no parameters, so spike and trace both go through it",
    "neuron (spike only)": "a spiking neuron takes the spike (it makes its own trace)",
    "itself": "it already handles [spike, trace] pairs",
}


def _normalize_wrapper(answer: Any) -> Any:
    if not isinstance(answer, str):
        return answer
    a = answer.strip().lower()
    if a.startswith("neuron"):
        return "neuron (spike only)"
    for name in WRAPPER_NAMES:
        if a == name.lower():
            return name
    return answer


def check_wrapping_prediction(net: OTTTSequential, prediction: Optional[Sequence[str]]) -> bool:
    """Check a prediction of how ``OTTTSequential`` applies each layer (notebook 05).

    ``prediction`` lists one name per layer of ``net``, each one of ``WRAPPER_NAMES``:
    ``"GradwithTrace"``, ``"SpikeTraceOp"``, ``"neuron (spike only)"`` or ``"itself"``
    (case-insensitive; ``"neuron"`` is accepted). ``None`` means not attempted yet.
    The truth is ``net.wrapping()``.
    """
    name = "check_wrapping_prediction"
    if not isinstance(net, OTTTSequential):
        raise TypeError(f"{name}: net must be an OTTTSequential, got {type(net).__name__}.")
    if prediction is None:
        print("Not attempted yet: set my_prediction to a list with one wrapper name per layer and "
              "run the cell again.")
        return False
    truth = net.wrapping()
    if isinstance(prediction, str) or len(prediction) != len(truth):
        n = 1 if isinstance(prediction, str) else len(prediction)
        raise ExerciseError(
            f"{name}: the network has {len(truth)} layers but your prediction has {n} "
            f"entr{'y' if n == 1 else 'ies'}; give one name per layer, in order."
        )
    wrong = []
    for (layer, how), answer in zip(truth, prediction):
        ans = _normalize_wrapper(answer)
        if ans not in WRAPPER_NAMES:
            raise ExerciseError(
                f"{name}: layer {layer}: {answer!r} is not a wrapper name; use one of "
                f"{list(WRAPPER_NAMES)}."
            )
        if ans != how:
            wrong.append(f"  layer {layer}: you said {ans}, OTTTSequential uses {how} "
                         f"({_WRAPPER_REASON[how]}).")
    if wrong:
        raise ExerciseError(f"{name}: {len(wrong)} of {len(truth)} layers wrong.\n"
                            + "\n".join(wrong))
    return _correct(f"all {len(truth)} layers predicted, as net.wrapping() says.")


def _ottt_a_reference(net: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
                      optimizer: torch.optim.Optimizer, *, online: bool = False,
                      divide_by_T: bool = True, reset: bool = True) -> None:
    """OTTT_A (``online=False``) or OTTT_O (``online=True``) update on one sequence."""
    T = x_seq.shape[0]
    optimizer.zero_grad()
    for t in range(T):
        loss = F.cross_entropy(net(x_seq[t]), y)
        (loss / T if divide_by_T else loss).backward()
        if online:
            optimizer.step()
            optimizer.zero_grad()
    if not online:
        optimizer.step()
    if reset:
        reset_net(net)


def _ottt_a_setup(seed: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    with torch.random.fork_rng():  # leave the notebook's random stream alone
        torch.manual_seed(seed)
        net = OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.Linear(6, 3)).double()
    gen = torch.Generator().manual_seed(seed)
    x_seq = 2.0 * torch.rand(5, 2, 4, generator=gen, dtype=torch.float64)  # (T, B, N_in)
    y = torch.randint(0, 3, (2,), generator=gen)
    return net, x_seq, y


def check_ottt_a_step(fn: Callable[..., Any]) -> bool:
    """Check ``fn(net, x_seq, y, optimizer)``: one OTTT_A update on one sequence (notebook 05).

    ``fn`` must, for ``t`` in ``range(T)``: ``out = net(x_seq[t])``,
    ``loss = F.cross_entropy(out, y) / T``, ``loss.backward()``; then one
    ``optimizer.step()`` after the last step, and ``reset_net(net)``. The gradients must start
    from zero (``optimizer.zero_grad()`` first). Checked on two seeded tiny networks (plain SGD)
    by comparing the updated parameters with a reference update.
    """
    name = "check_ottt_a_step"
    variants = {
        "stepped the optimizer at every time step (that is OTTT_O, not OTTT_A)":
            dict(online=True),
        "did not divide the loss by T": dict(divide_by_T=False),
    }
    try:
        for i, seed in enumerate([5, 6]):
            net, x_seq, y = _ottt_a_setup(seed)
            ref = copy.deepcopy(net)
            net.train(), ref.train()
            ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
            with SavedTensorMeter() as ref_memory:
                _ottt_a_reference(ref, x_seq, y, ref_opt)
            opt = torch.optim.SGD(net.parameters(), lr=0.5)
            # a stale gradient, as after an earlier batch, to catch a missing zero_grad()
            for p in net.parameters():
                p.grad = torch.ones_like(p)
            with SavedTensorMeter() as memory:
                _call(name, fn, net, x_seq, y, opt)
            case = f"case {i} (T=5, B=2, net Linear(4,6)-OTTTLIFNode-Linear(6,3), SGD lr=0.5)"
            if memory.peak_bytes > 1.5 * ref_memory.peak_bytes:
                raise ExerciseError(
                    f"{name}: {case}: autograd held {memory.peak_bytes} bytes at once, "
                    f"{memory.peak_bytes / ref_memory.peak_bytes:.1f}x the online update's "
                    f"{ref_memory.peak_bytes}. Call loss.backward() inside the time loop, at every "
                    f"step: summing the T losses and calling backward() once keeps all T graphs "
                    f"alive, which is BPTT's memory cost (the gradients happen to agree here only "
                    f"because OTTTLIFNode detaches v)."
                )
            for m in net.modules():
                if isinstance(m, LIFNode) and isinstance(m.v, torch.Tensor):
                    raise ExerciseError(
                        f"{name}: {case}: after your update the neurons still hold state "
                        f"(v of shape {tuple(m.v.shape)}). Call reset_net(net) at the end, so "
                        f"the next sequence starts from v = 0."
                    )
            for (pname, p), p_ref in zip(net.named_parameters(), ref.parameters()):
                if torch.allclose(p, p_ref, atol=1e-10):
                    continue
                hint = ("for t in range(T): loss = F.cross_entropy(net(x_seq[t]), y) / T; "
                        "loss.backward(); then optimizer.step() once, then reset_net(net).")
                for why, kw in variants.items():
                    alt_net, _, _ = _ottt_a_setup(seed)
                    alt_opt = torch.optim.SGD(alt_net.parameters(), lr=0.5)
                    _ottt_a_reference(alt_net, x_seq, y, alt_opt, **kw)
                    if all(torch.allclose(a, b, atol=1e-10)
                           for a, b in zip(net.parameters(), alt_net.parameters())):
                        hint = f"you {why}."
                        break
                else:
                    start, _, _ = _ottt_a_setup(seed)
                    if all(torch.allclose(a, b) for a, b in zip(net.parameters(), start.parameters())):
                        hint = "the parameters did not change: call optimizer.step() after the T steps."
                    elif not any(torch.allclose(a, b, atol=1e-10)
                                 for a, b in zip(net.parameters(), ref.parameters())):
                        hint += (" Start with optimizer.zero_grad(): gradients from an earlier "
                                 "batch are still there.")
                _fail(name, f"{case}, parameter {pname}", p_ref, p, hint)
    except _NotAttempted:
        return _not_attempted("your ottt_a_step")
    return _correct("your OTTT_A update gives the reference parameters on 2 seeded networks.")
