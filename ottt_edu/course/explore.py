"""Pure compute functions behind the interactive explorers (``ottt_edu.course.widgets``).

English
    Each explorer in ``ottt_edu.course.widgets`` is a thin layer of sliders over one function here:
    ``simulate_lif`` runs the library's own ``OTTTLIFNode`` on a random input spike train and
    records input, membrane potential, spikes and presynaptic trace; ``surrogate_curves``
    evaluates the library's ``surrogate.Sigmoid`` forward and, through autograd, its backward;
    ``ottt_vs_bptt_sweep`` runs ``ottt_edu.measure.ottt_vs_bptt`` for a range of ``T``. The
    ``draw_*`` functions fill a matplotlib ``Figure`` with ``ottt_edu.viz`` plots. Everything
    is deterministic for a given seed, so the functions are unit-tested like any other code.
中文
    交互式探索工具背后的纯计算函数: 用库中的 ``OTTTLIFNode`` 模拟单个神经元, 用
    ``surrogate.Sigmoid`` 计算替代梯度曲线, 以及 OTTT 与 BPTT 的梯度/显存对比。

Equations (OTTTLIFNode, ``k = 1 - 1/tau``; input ``x[t] = input_strength * b[t]`` with
``b[t] ~ Bernoulli(rate)``)::

    v[t] = k*v[t-1] + x[t]                 (charge; "v before reset")
    s[t] = H(v[t] - v_threshold)
    v[t] = v[t] - s[t]*v_threshold         (soft reset)   or   (1 - s[t])*v[t]  (hard, v_reset=0)
    a[t] = k*a[t-1] + s[t]                 (trace)

Gradient agreement (OTTT vs BPTT, same weights, same batch) per layer::

    cos = <dL/dW_OTTT, dL/dW_BPTT> / (|dL/dW_OTTT| |dL/dW_BPTT|)

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Eq. (6)-(8), Sec. 4.3 and Fig. 2;
SpikingJelly ``activation_based.neuron.OTTTLIFNode``,
``activation_based.surrogate.Sigmoid``.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .. import viz
from .._checks import real_number, seed_value
from ..measure import OTTTvsBPTT, ottt_vs_bptt
from ..neuron.lif import OTTTLIFNode
from ..neuron.surrogate import Sigmoid

__all__ = [
    "RESET_MODES",
    "LIFParams",
    "simulate_lif",
    "draw_lif",
    "SurrogateParams",
    "surrogate_curves",
    "draw_surrogate",
    "OTTTvsBPTTParams",
    "ottt_vs_bptt_sweep",
    "draw_ottt_vs_bptt",
]

#: Reset modes of the LIF explorer -> ``v_reset`` of the neuron.
RESET_MODES: dict[str, Any] = {"soft": None, "hard": 0.0}


@dataclass(frozen=True)
class LIFParams:
    """Parameters of the LIF + trace explorer (defaults are the explorer's start values)."""

    tau: float = 2.0
    v_threshold: float = 1.0
    input_strength: float = 0.8
    rate: float = 0.5
    reset: str = "soft"
    T: int = 40
    seed: int = 0


class _RecordingOTTTLIFNode(OTTTLIFNode):
    """``OTTTLIFNode`` that also keeps ``v`` between charge and reset (``v_before_reset``)."""

    def neuronal_fire(self) -> torch.Tensor:
        self.v_before_reset = self.v.detach().clone()
        return super().neuronal_fire()


def simulate_lif(tau: float = 2.0, v_threshold: float = 1.0, input_strength: float = 0.8,
                 rate: float = 0.5, reset: str = "soft", T: int = 40, seed: int = 0
                 ) -> dict[str, np.ndarray]:
    """Run one ``OTTTLIFNode`` for ``T`` steps on random input spikes of height ``input_strength``.

    Input ``x[t] = input_strength * b[t]``, ``b[t] ~ Bernoulli(rate)`` drawn from a
    ``torch.Generator`` seeded with ``seed`` (``rate=1`` gives a constant current). The neuron is
    the library's ``OTTTLIFNode(tau, v_threshold=v_threshold, v_reset=RESET_MODES[reset])`` in
    training mode, so spikes, ``v`` and trace are exactly what the library computes.

    Returns:
        ``{"x", "v_before_reset", "v", "spike", "trace"}``, each a float64 array of shape ``(T,)``;
        ``v`` is the potential after reset (the neuron's state), ``v_before_reset`` the one that
        is compared with the threshold.
    """
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {sorted(RESET_MODES)}, got {reset!r}.")
    tau, v_threshold, input_strength, rate = (
        real_number(value, name, "simulate_lif") for value, name in (
            (tau, "tau"), (v_threshold, "v_threshold"), (input_strength, "input_strength"),
            (rate, "rate")))
    seed = seed_value(seed, "seed", "simulate_lif")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(
            f"rate is a spike probability per step and must lie in [0, 1], got {rate}.")
    if not (isinstance(T, int) and T >= 1):
        raise ValueError(f"T must be a positive int (number of time steps), got {T!r}.")
    if not v_threshold > 0:
        raise ValueError(f"v_threshold must be positive, got {v_threshold}.")
    gen = torch.Generator().manual_seed(int(seed))
    x = input_strength * (torch.rand(T, 1, generator=gen, dtype=torch.float64) < rate).double()
    node = _RecordingOTTTLIFNode(tau=tau, v_threshold=v_threshold, v_reset=RESET_MODES[reset])
    node.train()
    rec: dict[str, list[torch.Tensor]] = {"v_before_reset": [], "v": [], "spike": [], "trace": []}
    with torch.no_grad():
        for t in range(T):
            spike, trace = node(x[t])  # (1,), (1,)
            rec["v_before_reset"].append(node.v_before_reset)
            rec["v"].append(node.v.clone())
            rec["spike"].append(spike)
            rec["trace"].append(trace.clone())
    out = {"x": x[:, 0].numpy()}
    for name, values in rec.items():
        out[name] = torch.cat(values).numpy()  # (T,)
    return out


def draw_lif(fig: Figure, params: LIFParams) -> dict[str, Any]:
    """Fill ``fig`` with the LIF explorer's three panels: input, membrane potential, trace.

    Returns:
        ``{"data": simulate_lif(...) output, "axes": [ax_x, ax_v, ax_trace], "x": Line2D,
        "v": {...plot_membrane artists}, "trace": {...plot_trace artists}}``.
    """
    data = simulate_lif(**asdict(params))
    ax_x, ax_v, ax_a = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2, 1.5]})
    t = np.arange(params.T)
    (x_line,) = ax_x.step(t, data["x"], where="mid", color=viz.PALETTE["input"], lw=1.5)
    viz.style_axis(ax_x, None, "input x[t]", None)
    ax_x.set_ylim(-0.05, max(1e-3, float(data["x"].max())) * 1.2 + 0.05)
    membrane = viz.plot_membrane(ax_v, data["v_before_reset"], spikes=data["spike"],
                                 v_threshold=params.v_threshold, label="v[t] before reset")
    trace = viz.plot_trace(ax_a, data["spike"], data["trace"], tau=params.tau)
    n_spikes = int(data["spike"].sum())
    fig.suptitle(
        f"LIF neuron ({params.reset} reset): {n_spikes} spikes in T={params.T} steps, "
        f"firing rate {n_spikes / params.T:.2f}"
    )
    ax_v.set_xlabel(None)
    return {"data": data, "axes": [ax_x, ax_v, ax_a], "x": x_line, "v": membrane, "trace": trace}


@dataclass(frozen=True)
class SurrogateParams:
    """Parameters of the surrogate explorer."""

    alpha: float = 4.0
    x_min: float = -2.0
    x_max: float = 2.0
    num: int = 401


def surrogate_curves(alpha: float = 4.0, x_min: float = -2.0, x_max: float = 2.0,
                     num: int = 401) -> dict[str, Any]:
    """Forward step, smooth sigmoid and backward surrogate gradient of ``surrogate.Sigmoid``.

    The gradient is obtained by autograd through the library's ``Sigmoid(alpha)`` spike
    function, i.e. what training really uses, and equals
    ``g'(x) = alpha sigmoid(alpha x)(1 - sigmoid(alpha x))``: peak ``alpha/4`` at ``x = 0``,
    full width at half maximum ``2 ln(3 + 2 sqrt 2) / alpha``, area 1 over the real line.

    Returns:
        ``{"x", "step", "sigmoid", "grad"}`` float64 arrays ``(num,)`` and the floats
        ``"peak"``, ``"fwhm"`` (closed forms) and ``"area"`` (trapezoid rule on the grid).
    """
    alpha, x_min, x_max = (real_number(value, name, "surrogate_curves") for value, name in (
        (alpha, "alpha"), (x_min, "x_min"), (x_max, "x_max")))
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}; try the default alpha=4.0.")
    if not x_min < x_max:
        raise ValueError(f"need x_min < x_max, got x_min={x_min}, x_max={x_max}.")
    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f"num must be an integer of at least 2 grid points, got {num!r}.")
    x = torch.linspace(x_min, x_max, num, dtype=torch.float64, requires_grad=True)
    step = Sigmoid(alpha)(x)
    (grad,) = torch.autograd.grad(step.sum(), x)
    smooth = Sigmoid(alpha, spiking=False)(x.detach())
    x_np, g_np = x.detach().numpy(), grad.numpy()
    return {
        "x": x_np,
        "step": step.detach().numpy(),
        "sigmoid": smooth.numpy(),
        "grad": g_np,
        "peak": alpha / 4.0,
        "fwhm": 2.0 * float(np.log(3.0 + 2.0 * np.sqrt(2.0))) / alpha,
        "area": float(np.sum(0.5 * (g_np[1:] + g_np[:-1]) * np.diff(x_np))),
    }


def draw_surrogate(fig: Figure, params: SurrogateParams) -> dict[str, Any]:
    """Fill ``fig`` with the surrogate explorer: step, sigmoid and gradient for ``alpha``.

    Returns:
        ``{"data": surrogate_curves(...) output, "axes": [ax], **plot_surrogate artists}``.
    """
    data = surrogate_curves(**asdict(params))
    ax = fig.subplots(1, 1)
    drawn = viz.plot_surrogate(ax, params.alpha, x_range=(params.x_min, params.x_max),
                               num=params.num)
    ax.set_ylim(-0.05, max(1.05, data["peak"] * 1.1))
    ax.text(0.98, 0.55,
            f"peak alpha/4 = {data['peak']:.2f}\nwidth (FWHM) = {data['fwhm']:.2f}\n"
            f"area on [{params.x_min:g}, {params.x_max:g}] = {data['area']:.3f}",
            transform=ax.transAxes, ha="right", va="center", fontsize=9,
            bbox=dict(boxstyle="round", fc="white", ec="#cccccc"))
    return {"data": data, "axes": [ax], **drawn}


@dataclass(frozen=True)
class OTTTvsBPTTParams:
    """Parameters of the OTTT-vs-BPTT explorer: the point ``(T, tau)`` and the ``Ts`` swept."""

    T: int = 6
    tau: float = 2.0
    seed: int = 0
    Ts: tuple[int, ...] = (1, 2, 4, 8, 16)


@functools.lru_cache(maxsize=256)
def _ottt_vs_bptt_cached(T: int, tau: float, seed: int) -> OTTTvsBPTT:
    return ottt_vs_bptt(T, tau, seed=seed)


def ottt_vs_bptt_sweep(T: int = 6, tau: float = 2.0, seed: int = 0,
                       Ts: Sequence[int] = (1, 2, 4, 8, 16)) -> dict[str, Any]:
    """OTTT vs BPTT at ``(T, tau)`` and over the time-step counts ``Ts`` (plus ``T``) at ``tau``.

    Every point is ``ottt_edu.measure.ottt_vs_bptt(T, tau, seed=seed)``: a small MLP on a fixed
    digits batch, same weights for both methods; results are cached per ``(T, tau, seed)``, as
    they are deterministic.

    Returns:
        ``{"cosine": {layer: cos at T}, "ottt_bytes": int, "bptt_bytes": int (at T),
        "Ts": int array (S,), "cosine_vs_T": {layer: array (S,)},
        "ottt_bytes_vs_T": array (S,), "bptt_bytes_vs_T": array (S,)}``.
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an integer >= 1, got {T!r}.")
    if not Ts or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in Ts):
        raise ValueError(f"Ts must be a non-empty sequence of integers >= 1, got {Ts!r}.")
    tau = real_number(tau, "tau", "ottt_vs_bptt_sweep")
    seed = seed_value(seed, "seed", "ottt_vs_bptt_sweep")
    sweep = sorted(set(Ts) | {T})
    points = {t: _ottt_vs_bptt_cached(t, float(tau), int(seed)) for t in sweep}
    layers = list(points[T].cosine)
    return {
        "cosine": dict(points[T].cosine),
        "ottt_bytes": points[T].ottt_bytes,
        "bptt_bytes": points[T].bptt_bytes,
        "Ts": np.array(sweep),
        "cosine_vs_T": {k: np.array([points[t].cosine[k] for t in sweep]) for k in layers},
        "ottt_bytes_vs_T": np.array([points[t].ottt_bytes for t in sweep], dtype=np.float64),
        "bptt_bytes_vs_T": np.array([points[t].bptt_bytes for t in sweep], dtype=np.float64),
    }


def draw_ottt_vs_bptt(fig: Figure, params: OTTTvsBPTTParams) -> dict[str, Any]:
    """Fill ``fig`` with three panels: cosine per layer at ``T``, cosine vs T, memory vs T.

    Returns:
        ``{"data": ottt_vs_bptt_sweep(...) output, "axes": [...], "bars": BarContainer,
        "cosine_lines": {layer: Line2D}, "memory": {"OTTT": Line2D, "BPTT": Line2D},
        "marker": Line2D (the current T on the memory plot)}``.
    """
    data = ottt_vs_bptt_sweep(params.T, params.tau, params.seed, params.Ts)
    ax_bar, ax_cos, ax_mem = fig.subplots(1, 3)
    bars = viz.plot_cosine_similarity(ax_bar, data["cosine"])
    ax_bar.set_title(f"at T={params.T}, tau={params.tau:g}")
    for rect, c in zip(bars, data["cosine"].values()):
        ax_bar.text(rect.get_x() + rect.get_width() / 2, 0.05, f"{c:.4f}", ha="center",
                    va="bottom", fontsize=9)
    cosine_lines = {}
    for i, (layer, values) in enumerate(data["cosine_vs_T"].items()):
        (cosine_lines[layer],) = ax_cos.plot(data["Ts"], values, "o-", lw=viz.LINEWIDTH,
                                             color=viz.CYCLE[i % len(viz.CYCLE)], label=layer)
    ax_cos.axvline(params.T, color="#444444", lw=0.8, ls=":")
    viz.style_axis(ax_cos, "time steps T", "cosine(OTTT, BPTT)",
                   f"Gradient agreement, tau={params.tau:g}")
    ax_cos.legend(fontsize="small")
    memory = viz.plot_memory_vs_T(ax_mem, data["Ts"], {"OTTT": data["ottt_bytes_vs_T"],
                                                       "BPTT": data["bptt_bytes_vs_T"]})
    unit = ax_mem.get_ylabel().split("(")[-1].rstrip(")")
    scale = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}[unit]
    (marker,) = ax_mem.plot([params.T, params.T],
                            [data["ottt_bytes"] / scale, data["bptt_bytes"] / scale],
                            "s", ms=8, mfc="none", color="#444444", label=f"T={params.T}")
    ax_mem.legend(fontsize="small")
    fig.suptitle(f"OTTT vs BPTT: BPTT keeps {data['bptt_bytes'] / data['ottt_bytes']:.1f}x the "
                 f"bytes OTTT keeps for backward, at T={params.T}")
    return {"data": data, "axes": [ax_bar, ax_cos, ax_mem], "bars": bars,
            "cosine_lines": cosine_lines, "memory": memory, "marker": marker}
