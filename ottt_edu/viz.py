"""Plot helpers for the notebooks: spikes, membrane potential, traces, gradients, memory, curves.

English
    Every function draws on a matplotlib ``ax`` that you pass in, returns the artists it drew
    (so tests and notebooks can inspect them) and never calls ``plt.show()``. Inputs may be
    torch tensors (converted with ``.detach().cpu().numpy()``), NumPy arrays or lists; shapes
    are checked early with an error that says how to fix them. All plots share one palette
    (``PALETTE``) and one axis style (``style_axis``), so the figures of the course look alike.
中文
    所有函数都在传入的 matplotlib ``ax`` 上作图, 返回所画的对象, 从不调用 ``plt.show()``。
    输入可以是 torch 张量、NumPy 数组或列表; 形状不对时立即给出清晰的错误信息。

What is drawn follows the paper's quantities: spikes ``s[t]``, membrane potential ``v[t]`` with
``v_threshold``, presynaptic trace ``a[t] = (1 - 1/tau) a[t-1] + s[t]``, the surrogate
``g'(x) = alpha sigmoid(alpha x)(1 - sigmoid(alpha x))``, and the OTTT-vs-BPTT comparisons.

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); SpikingJelly ``spikingjelly.visualizing`` (for the raster idea).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D

from .neuron.surrogate import heaviside, sigmoid_surrogate_grad

__all__ = [
    "PALETTE",
    "style_axis",
    "plot_raster",
    "plot_membrane",
    "plot_trace",
    "plot_surrogate",
    "plot_grad_paths",
    "plot_memory_vs_T",
    "plot_cosine_similarity",
    "plot_method_bars",
    "plot_learning_curves",
    "plot_confusion_matrix",
    "plot_firing_rates",
    "plot_rate_histogram",
    "plot_class_heatmap",
]

# -- one look for every figure --------------------------------------------------------------
#: Colours by meaning (colour-blind-safe Okabe-Ito hues). Methods have fixed colours too.
PALETTE: dict[str, str] = {
    "spike": "#000000",
    "v": "#0072B2",
    "threshold": "#D55E00",
    "input": "#999999",
    "trace": "#009E73",
    "value": "#0072B2",  # forward-value path in the gradient diagrams
    "grad": "#D55E00",  # gradient path in the gradient diagrams
    "bar": "#56B4E9",
    "OTTT": "#009E73",
    "BPTT": "#CC79A7",
    "OTTT_A": "#009E73",
    "OTTT_O": "#56B4E9",
    "SLTT": "#E69F00",
    "FPTT": "#0072B2",
}
#: Colours for series without a fixed colour (other methods, history keys).
CYCLE: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
LINEWIDTH = 1.8
GRID_ALPHA = 0.3


def _legend_above(ax: Axes) -> None:
    """Legend in one row just above the axes, so it never hides data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False,
              fontsize="small", borderaxespad=0.2)


def _integer_time_ticks(ax: Axes) -> None:
    """Discrete time: ticks only at whole time steps."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def style_axis(ax: Axes, xlabel: Optional[str] = None, ylabel: Optional[str] = None,
               title: Optional[str] = None) -> None:
    """Apply the common look: labels, light grid, no top/right spines."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=GRID_ALPHA)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def _color(name: str, i: int) -> str:
    return PALETTE.get(name, CYCLE[i % len(CYCLE)])


#: Series labels that keep their method's colour in every plot (curves, grouped bars, lines).
METHOD_NAMES = ("OTTT", "BPTT", "OTTT_A", "OTTT_O", "SLTT", "FPTT")


def _series_color(label: Any, i: int) -> str:
    """A method's fixed colour for a method name, else the i-th colour of ``CYCLE``."""
    return PALETTE[label] if label in METHOD_NAMES else CYCLE[i % len(CYCLE)]


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Tensor / array / sequence -> float64 NumPy array, with a clear error otherwise."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a tensor, a NumPy array or a sequence of numbers, got "
            f"{type(x).__name__} ({err})."
        ) from None
    return arr


def _check_1d(x: Any, name: str, length: Optional[int] = None) -> np.ndarray:
    arr = _to_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D with shape (T,), got shape {arr.shape}. For one neuron of a "
            f"(T, B, N) recording pass e.g. {name}[:, 0, 0]."
        )
    if length is not None and arr.shape[0] != length:
        raise ValueError(
            f"{name} has {arr.shape[0]} time steps but v/spikes have {length}; pass sequences "
            f"of the same length T."
        )
    return arr


def _check_binary(arr: np.ndarray, name: str) -> None:
    if not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)][:3]
        raise ValueError(
            f"{name} must contain only 0 and 1 (spikes), found values such as {bad.tolist()}. "
            f"Pass the neuron's spike output, not v or a trace."
        )


# -- spikes, membrane, trace -----------------------------------------------------------------
def plot_raster(ax: Axes, spikes: Any, *, t0: int = 0, color: Optional[str] = None,
                label: Optional[str] = None) -> PathCollection:
    """Spike raster: a tick at ``(t, n)`` for every ``s[t, n] = 1``.

    Args:
        spikes: ``(T, N)`` 0/1 tensor or array (a ``(T,)`` input is one neuron).
        t0: time of the first row (for rasters of a later window).
    Returns:
        the ``PathCollection`` of the ticks (``get_offsets()`` gives the ``(t, n)`` pairs).
    """
    arr = _to_numpy(spikes, "spikes")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"spikes must have shape (T, N), got {arr.shape}. For a (T, B, N) recording pick "
            f"one sample: spikes[:, 0]."
        )
    _check_binary(arr, "spikes")
    T, N = arr.shape
    t_idx, n_idx = np.nonzero(arr)
    coll = ax.scatter(t_idx + t0, n_idx, marker="|", s=120, linewidths=1.5,
                      color=color or PALETTE["spike"], label=label)
    ax.set_xlim(t0 - 0.5, t0 + T - 0.5)
    ax.set_ylim(-0.5, N - 0.5)
    style_axis(ax, "time step t", "neuron", None)
    _integer_time_ticks(ax)
    return coll


def plot_membrane(ax: Axes, v: Any, *, spikes: Any = None, v_threshold: float = 1.0,
                  x: Any = None, label: Optional[str] = None) -> dict[str, Any]:
    """Membrane potential ``v[t]`` with the threshold line, spike marks and optional input.

    Args:
        v: ``(T,)`` membrane potential (before reset, as compared with the threshold, or after
            it, as the neuron stores it; say which with ``label``).
        spikes: optional ``(T,)`` 0/1 spikes; each is marked above the threshold line.
        v_threshold: firing threshold (horizontal dashed line).
        x: optional ``(T,)`` input current, drawn as grey steps.
    Returns:
        ``{"v": Line2D, "threshold": Line2D, "spikes": PathCollection, "x": Line2D}`` (the last
        two only when given).
    """
    v_arr = _check_1d(v, "v")
    T = v_arr.shape[0]
    t = np.arange(T)
    drawn: dict[str, Any] = {}
    if x is not None:
        x_arr = _check_1d(x, "x", T)
        (drawn["x"],) = ax.step(t, x_arr, where="mid", color=PALETTE["input"], lw=1.2,
                                label="input x[t]")
    (drawn["v"],) = ax.plot(t, v_arr, "o-", ms=3, lw=LINEWIDTH, color=PALETTE["v"],
                            label=label or "v[t]")
    drawn["threshold"] = ax.axhline(v_threshold, ls="--", lw=1.2, color=PALETTE["threshold"],
                                    label="v_threshold")
    if spikes is not None:
        s_arr = _check_1d(spikes, "spikes", T)
        _check_binary(s_arr, "spikes")
        ts = t[s_arr > 0]
        top = max(float(v_threshold), float(np.max(v_arr)) if T else 0.0)
        drawn["spikes"] = ax.scatter(ts, np.full(ts.shape, top + 0.15 * abs(top or 1.0)),
                                     marker="v", s=30, color=PALETTE["spike"], zorder=3,
                                     label="spike s[t]")
    style_axis(ax, "time step t", "membrane potential", None)
    _integer_time_ticks(ax)
    _legend_above(ax)
    return drawn


def plot_trace(ax: Axes, spikes: Any, trace: Any, *, tau: Optional[float] = None
               ) -> dict[str, Any]:
    """Presynaptic trace ``a[t] = (1 - 1/tau) a[t-1] + s[t]`` next to the spikes it sums.

    Args:
        spikes: ``(T,)`` 0/1 spikes.
        trace: ``(T,)`` trace values.
        tau: if given, shown in the legend.
    Returns:
        ``{"spikes": LineCollection (vertical bars of height 1), "trace": Line2D}``.
    """
    s_arr = _check_1d(spikes, "spikes")
    _check_binary(s_arr, "spikes")
    a_arr = _check_1d(trace, "trace", s_arr.shape[0])
    t = np.arange(s_arr.shape[0])
    ts = t[s_arr > 0]
    drawn: dict[str, Any] = {}
    drawn["spikes"] = ax.vlines(ts, 0.0, 1.0, color=PALETTE["spike"], lw=2.0, label="spike s[t]")
    name = "trace a[t]" if tau is None else f"trace a[t] (tau={tau:g})"
    (drawn["trace"],) = ax.plot(t, a_arr, "o-", ms=3, lw=LINEWIDTH, color=PALETTE["trace"],
                                label=name)
    style_axis(ax, "time step t", "spike / trace", None)
    _integer_time_ticks(ax)
    _legend_above(ax)
    return drawn


# -- surrogate gradient ----------------------------------------------------------------------
def plot_surrogate(ax: Axes, alpha: float = 4.0, *, x_range: tuple[float, float] = (-2.0, 2.0),
                   show_step: bool = True, num: int = 401) -> dict[str, Line2D]:
    """The step ``H(x)``, its smooth stand-in ``sigmoid(alpha x)`` and the surrogate gradient.

    ``g'(x) = alpha sigmoid(alpha x)(1 - sigmoid(alpha x))`` peaks at ``alpha/4`` at ``x = 0``.
    Computed with ``ottt_edu.neuron.surrogate`` so the curve is the library's own.

    Returns:
        ``{"step": Line2D (if show_step), "sigmoid": Line2D, "grad": Line2D}``.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}; try the default alpha=4.0.")
    lo, hi = float(x_range[0]), float(x_range[1])
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}.")
    x = torch.linspace(lo, hi, num, dtype=torch.float64)
    drawn: dict[str, Line2D] = {}
    if show_step:
        (drawn["step"],) = ax.plot(x.numpy(), heaviside(x).numpy(), color=PALETTE["spike"],
                                   lw=1.2, label="forward: step H(x)")
    (drawn["sigmoid"],) = ax.plot(x.numpy(), torch.sigmoid(alpha * x).numpy(), ls="--",
                                  color=PALETTE["v"], lw=LINEWIDTH,
                                  label=f"sigmoid({alpha:g} x)")
    (drawn["grad"],) = ax.plot(x.numpy(), sigmoid_surrogate_grad(x, alpha).numpy(),
                               color=PALETTE["grad"], lw=LINEWIDTH,
                               label="backward: surrogate g'(x)")
    style_axis(ax, "x = v - v_threshold", None, f"Sigmoid surrogate, alpha = {alpha:g}")
    ax.legend(loc="upper left", fontsize="small")
    return drawn


# -- diagrams of the value path vs the gradient path ---------------------------------------
_DIAGRAMS: dict[str, dict[str, Any]] = {
    "ReplaceforGrad": {
        "title": "ReplaceforGrad.apply(x, x_r): value of x_r, gradient to both",
        "boxes": {
            "x": (0.13, 0.8, "x\n(has a graph)"),
            "x_r": (0.13, 0.2, "x_r\n(gives the value)"),
            "y": (0.55, 0.5, "y = ReplaceforGrad(x, x_r)\nvalue = x_r"),
            "L": (0.9, 0.5, "loss L"),
        },
        "value": [("x_r", "y"), ("y", "L")],
        "grad": [("L", "y"), ("y", "x"), ("y", "x_r")],
    },
    "GradwithTrace": {
        "title": "GradwithTrace(m): value from spike s[t], weight gradient from trace a[t]",
        "boxes": {
            "s": (0.08, 0.8, "spike\ns[t]"),
            "a": (0.08, 0.2, "trace a[t]\n(no grad)"),
            "ms": (0.37, 0.8, "m(s)\n(no graph)"),
            "ma": (0.37, 0.2, "m(ReplaceforGrad(s, a))\nvalue m(a); W.grad += g^T a"),
            "y": (0.7, 0.5, "y = ReplaceforGrad(\nm-graph, m(s))\nvalue = m(s)"),
            "L": (0.93, 0.5, "loss"),
        },
        "value": [("s", "ms"), ("ms", "y"), ("y", "L")],
        "grad": [("L", "y"), ("y", "ma"), ("ma", "s")],
        "aux": [("a", "ma")],
    },
}


def plot_grad_paths(ax: Axes, kind: str = "GradwithTrace") -> dict[str, Any]:
    """Diagram of where the forward *value* comes from and where the *gradient* goes.

    Solid blue arrows: the value path of the forward pass. Dashed orange arrows: the gradient
    path of the backward pass. ``kind="ReplaceforGrad"`` shows ``y = x_r`` forward and
    ``dL/dx = dL/dx_r = dL/dy`` backward; ``kind="GradwithTrace"`` shows ``y = m(s)`` forward
    and ``dL/dW = g^T a``, ``dL/ds = dm(a)/da^T g`` backward (Xiao et al. 2022, Eq. 9-11).

    Returns:
        ``{"boxes": {name: Text}, "value_arrows": [Annotation], "grad_arrows": [Annotation],
        "aux_arrows": [Annotation]}`` (aux: the trace entering the graph, dotted grey).
    """
    if kind not in _DIAGRAMS:
        raise ValueError(f"kind must be one of {sorted(_DIAGRAMS)}, got {kind!r}.")
    spec = _DIAGRAMS[kind]
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    boxes = {}
    for name, (bx, by, text) in spec["boxes"].items():
        boxes[name] = ax.text(bx, by, text, ha="center", va="center", fontsize=9,
                              transform=ax.transAxes, zorder=3,
                              bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="#444444"))

    def arrow(src: str, dst: str, color: str, style: str, rad: float):
        (x0, y0, _), (x1, y1, _) = spec["boxes"][src], spec["boxes"][dst]
        return ax.annotate(
            "", xy=(x1, y1), xytext=(x0, y0), xycoords="axes fraction",
            textcoords="axes fraction", zorder=4,   # above the boxes: heads stay visible
            arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6, ls=style, shrinkA=1,
                            shrinkB=1, mutation_scale=16, patchA=boxes[src].get_bbox_patch(),
                            patchB=boxes[dst].get_bbox_patch(),
                            connectionstyle=f"arc3,rad={rad}"),
        )

    value_arrows = [arrow(a, b, PALETTE["value"], "-", 0.0) for a, b in spec["value"]]
    grad_arrows = [arrow(a, b, PALETTE["grad"], "--", 0.3) for a, b in spec["grad"]]
    aux_arrows = [arrow(a, b, PALETTE["input"], ":", 0.0) for a, b in spec.get("aux", [])]
    ax.plot([], [], color=PALETTE["value"], lw=1.6, label="forward value")
    ax.plot([], [], color=PALETTE["grad"], lw=1.6, ls="--", label="backward gradient")
    if aux_arrows:
        ax.plot([], [], color=PALETTE["input"], lw=1.6, ls=":",
                label="the trace gives the graph's input its value (no gradient)")
    ax.legend(loc="upper center", fontsize="small", ncol=3, frameon=False,
              bbox_to_anchor=(0.5, 0.02))
    ax.set_axis_off()
    ax.set_title(spec["title"], fontsize=10)
    return {"boxes": boxes, "value_arrows": value_arrows, "grad_arrows": grad_arrows,
            "aux_arrows": aux_arrows}


# -- OTTT vs BPTT ---------------------------------------------------------------------------
_BYTE_UNITS = (("B", 1), ("KiB", 1024), ("MiB", 1024 ** 2), ("GiB", 1024 ** 3))


def plot_memory_vs_T(ax: Axes, Ts: Sequence[int],
                     bytes_by_method: Mapping[str, Sequence[float]]) -> dict[str, Line2D]:
    """Memory saved for backward against the number of time steps ``T``, one line per method.

    The y unit (B, KiB, MiB, GiB) is chosen from the largest value and written on the axis;
    line data are ``bytes / unit``. BPTT grows linearly in T, OTTT stays flat.

    Args:
        Ts: the time-step counts, e.g. ``[2, 4, 8]``.
        bytes_by_method: ``{"OTTT": [...], "BPTT": [...]}``, each as long as ``Ts``.
    Returns:
        ``{method: Line2D}``.
    """
    T_arr = _check_1d(Ts, "Ts")
    if not bytes_by_method:
        raise ValueError("bytes_by_method is empty; pass e.g. {'OTTT': [...], 'BPTT': [...]}.")
    series = {}
    for method, values in bytes_by_method.items():
        arr = _to_numpy(values, f"bytes_by_method[{method!r}]")
        if arr.shape != T_arr.shape:
            raise ValueError(
                f"bytes_by_method[{method!r}] has shape {arr.shape} but Ts has {T_arr.shape}; "
                f"give one byte count per T."
            )
        series[method] = arr
    peak = max(float(np.max(a)) if a.size else 0.0 for a in series.values())
    unit, scale = _BYTE_UNITS[0]
    for u, s in _BYTE_UNITS:
        if peak >= s:
            unit, scale = u, s
    lines = {}
    for i, (method, arr) in enumerate(series.items()):
        (lines[method],) = ax.plot(T_arr, arr / scale, "o-", lw=LINEWIDTH,
                                   color=_color(method, i), label=method)
    ax.set_ylim(bottom=0)
    style_axis(ax, "time steps T", f"saved for backward ({unit})", "Memory vs T")
    ax.legend(fontsize="small")
    return lines


def plot_cosine_similarity(ax: Axes, cos_by_layer: Mapping[str, Any]
                           ) -> Union[BarContainer, dict[str, BarContainer]]:
    """Cosine similarity between OTTT and BPTT gradients, one bar per layer.

    ``cos = <g_OTTT, g_BPTT> / (|g_OTTT| |g_BPTT|)``, 1 means the same direction.

    Args:
        cos_by_layer: ``{layer: cos}``; or ``{label: {layer: cos}}`` for grouped bars (e.g. one
            group per tau), all groups with the same layers.
    Returns:
        a ``BarContainer``; for grouped input ``{label: BarContainer}``.
    """
    if not cos_by_layer:
        raise ValueError("cos_by_layer is empty; pass e.g. {'fc1': 0.98, 'fc2': 1.0}.")
    grouped = all(isinstance(v, Mapping) for v in cos_by_layer.values())
    groups = dict(cos_by_layer) if grouped else {None: dict(cos_by_layer)}
    layers = list(next(iter(groups.values())).keys())
    for label, d in groups.items():
        if list(d.keys()) != layers:
            raise ValueError(
                f"every group must list the same layers in the same order: {layers} vs "
                f"{list(d.keys())} (group {label!r})."
            )
        for layer, c in d.items():
            if isinstance(c, Mapping) or not -1.0 - 1e-6 <= float(c) <= 1.0 + 1e-6:
                raise ValueError(
                    f"cosine similarity of layer {layer!r} must be a number in [-1, 1], got {c!r}."
                )
    x = np.arange(len(layers))
    width = 0.8 / len(groups)
    out = {}
    for i, (label, d) in enumerate(groups.items()):
        vals = np.array([float(d[k]) for k in layers])
        offset = (i - (len(groups) - 1) / 2) * width
        color = PALETTE["bar"] if label is None else _series_color(label, i)
        out[label] = ax.bar(x + offset, vals, width, color=color,
                            label=None if label is None else str(label))
    ax.set_xticks(x, [str(k) for k in layers])
    lo = min(0.0, min(float(c) for d in groups.values() for c in d.values()) - 0.05)
    ax.set_ylim(lo, 1.05)
    ax.axhline(1.0, color="#444444", lw=0.8, ls=":")
    style_axis(ax, "layer", "cosine(OTTT grad, BPTT grad)", "Gradient agreement per layer")
    if grouped:
        ax.legend(fontsize="small")
        return out
    return out[None]


def plot_method_bars(ax: Axes, values_by_method: Mapping[str, float], *, ylabel: str,
                     title: Optional[str] = None, reference: Optional[float] = None,
                     fmt: str = "{:.2f}") -> BarContainer:
    """One bar per training method (e.g. time per iteration / BPTT's, or test accuracy).

    Each bar is labelled with its value (``fmt``); methods with a fixed colour in ``PALETTE``
    (``BPTT``, ``OTTT_A``, ``OTTT_O``, ``SLTT``, ``FPTT``) get it. ``reference`` draws a dotted
    horizontal line there (e.g. 1.0 for a ratio to BPTT).

    Args:
        values_by_method: ``{"BPTT": 1.0, "OTTT_A": 1.6, ...}``, finite numbers.
    Returns:
        the ``BarContainer`` (bars in the order of ``values_by_method``).
    """
    if not values_by_method:
        raise ValueError("values_by_method is empty; pass e.g. {'BPTT': 1.0, 'SLTT': 1.2}.")
    names = [str(k) for k in values_by_method]
    vals = _to_numpy([float(v) for v in values_by_method.values()], "values_by_method")
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"values_by_method must be finite numbers, got {dict(zip(names, vals.tolist()))}.")
    x = np.arange(len(names))
    bars = ax.bar(x, vals, color=[_color(n, i) for i, n in enumerate(names)])
    ax.bar_label(bars, labels=[fmt.format(v) for v in vals], fontsize="small", padding=2)
    ax.set_xticks(x, names)
    if reference is not None:
        ax.axhline(float(reference), color="#444444", lw=0.8, ls=":")
    top = max(float(vals.max()), 0.0 if reference is None else float(reference))
    ax.set_ylim(min(0.0, float(vals.min()) * 1.15), top * 1.15 if top > 0 else 1.0)
    style_axis(ax, "method", ylabel, title)
    return bars


# -- training -------------------------------------------------------------------------------
def plot_learning_curves(ax: Axes, history: Mapping[str, Sequence[float]],
                         keys: Sequence[str] = ("train_acc", "test_acc")) -> dict[str, Line2D]:
    """Learning curves from a training history ``{"epoch": [...], "train_acc": [...], ...}``.

    The x axis is ``history["epoch"]`` when present, else ``1..n``.

    Returns:
        ``{key: Line2D}``.
    """
    if isinstance(keys, str):
        keys = (keys,)
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(
            f"history has no key(s) {missing}; available: {sorted(history)}. Pass keys=... "
            f"from those."
        )
    n = len(history[keys[0]])
    for k in keys:
        if len(history[k]) != n:
            raise ValueError(f"history[{k!r}] has {len(history[k])} values, expected {n}.")
    if "epoch" in history:
        x = _check_1d(history["epoch"], "history['epoch']")
        if x.shape[0] != n:
            raise ValueError(f"history['epoch'] has {x.shape[0]} values but the curves have {n}.")
    else:
        x = np.arange(1, n + 1, dtype=np.float64)
    lines = {}
    for i, k in enumerate(keys):
        (lines[k],) = ax.plot(x, _check_1d(history[k], f"history[{k!r}]"), "o-", ms=3,
                              lw=LINEWIDTH, color=_series_color(k, i), label=k)
    if all(k.endswith("acc") for k in keys):
        ylabel = "accuracy"
    elif all(k.endswith("loss") for k in keys):
        ylabel = "loss"
    else:
        ylabel = "value"
    style_axis(ax, "epoch", ylabel, "Learning curves")
    ax.legend(fontsize="small")
    return lines


def plot_confusion_matrix(ax: Axes, cm: Any, class_names: Optional[Sequence[str]] = None
                          ) -> dict[str, Any]:
    """Confusion matrix ``cm[i, j]`` = number of samples of true class i predicted as j.

    Returns:
        ``{"image": AxesImage, "texts": [Text, ...]}`` (one count per cell).
    """
    arr = _to_numpy(cm, "cm")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix, got shape {arr.shape}.")
    C = arr.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(C)]
    if len(class_names) != C:
        raise ValueError(f"class_names has {len(class_names)} names but cm has {C} classes.")
    image = ax.imshow(arr, cmap="Blues")
    vmax = float(arr.max()) if arr.size else 0.0
    texts = []
    for i in range(C):
        for j in range(C):
            val = arr[i, j]
            txt = f"{int(val)}" if float(val).is_integer() else f"{val:.2f}"
            texts.append(ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                                 color="white" if val > vmax / 2 else "black"))
    ax.set_xticks(range(C), list(class_names))
    ax.set_yticks(range(C), list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    return {"image": image, "texts": texts}


def plot_firing_rates(ax: Axes, rates: Mapping[str, float]) -> BarContainer:
    """Mean firing rate per layer (spikes per neuron per time step, in [0, 1]).

    Returns:
        the ``BarContainer``.
    """
    if not rates:
        raise ValueError("rates is empty; pass e.g. {'lif1': 0.12, 'lif2': 0.05}.")
    names = [str(k) for k in rates]
    vals = np.array([float(v) for v in rates.values()])
    if np.any(vals < 0) or np.any(vals > 1):
        raise ValueError(
            f"firing rates must lie in [0, 1] (spikes per neuron per step), got {vals.tolist()}."
        )
    bars = ax.bar(np.arange(len(names)), vals, color=PALETTE["bar"])
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylim(0, max(0.05, float(vals.max()) * 1.2))
    style_axis(ax, "layer", "firing rate", "Firing rate per layer")
    return bars


def plot_rate_histogram(ax: Axes, spikes: Any, *, layer: str = "layer", bins: int = 20
                        ) -> dict[str, Any]:
    """Histogram of the neurons' firing rates in one layer.

    Args:
        spikes: ``(T, B, N)`` 0/1 spikes of one layer (e.g. ``record_spikes(...)["lif1"]``); a
            neuron's rate is its mean over ``T`` and ``B`` (spikes per step, in [0, 1]).
        layer: the layer's name, for the title.
        bins: number of equal bins on [0, 1].
    Returns:
        ``{"rates": (N,) array, "counts": (bins,) array, "patches": BarContainer}``.
    """
    arr = _to_numpy(spikes, "spikes")
    if arr.ndim != 3:
        raise ValueError(f"spikes must be (T, B, N), got shape {arr.shape}.")
    _check_binary(arr, "spikes")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}.")
    rates = arr.mean(axis=(0, 1))
    counts, _, patches = ax.hist(rates, bins=bins, range=(0.0, 1.0), color=PALETTE["bar"],
                                 edgecolor="white")
    silent = int((rates == 0).sum())
    style_axis(ax, "firing rate (spikes per step)", "neurons",
               f"{layer}: {rates.size} neurons, {silent} silent, mean {rates.mean():.2f}")
    return {"rates": rates, "counts": counts, "patches": patches}


def plot_class_heatmap(ax: Axes, counts: Any, labels: Any, *, n_classes: Optional[int] = None,
                       neurons: Optional[Sequence[int]] = None, sort: bool = True
                       ) -> dict[str, Any]:
    """Mean spike count of each neuron for each class: which neurons answer to which digit.

    Args:
        counts: ``(B, N)`` spikes per sample summed over time (``spikes.sum(0)``).
        labels: ``(B,)`` integer class of each sample.
        n_classes: number of classes (default: ``max(labels) + 1``).
        neurons: optional indices of the neurons to show (rows), e.g. the most selective ones.
        sort: order the rows by each neuron's preferred class (its largest mean count), so
            neurons that answer to the same digit stand together.
    Returns:
        ``{"matrix": (rows, n_classes) array, "neurons": the neuron index of each row,
        "image": AxesImage}``.
    """
    c = _to_numpy(counts, "counts").astype(float)
    y = _to_numpy(labels, "labels")
    if c.ndim != 2 or y.ndim != 1 or y.shape[0] != c.shape[0]:
        raise ValueError(f"counts must be (B, N) and labels (B,), got {c.shape} and {y.shape}.")
    if not np.all(y == np.round(y)) or (y.size and y.min() < 0):
        raise ValueError("labels must be non-negative integers (class indices).")
    y = y.astype(int)
    C = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.size and y.max() >= C:
        raise ValueError(f"a label is {int(y.max())} but n_classes is {C}.")
    rows = np.arange(c.shape[1]) if neurons is None else np.asarray(list(neurons), dtype=int)
    matrix = np.zeros((rows.size, C))
    for k in range(C):
        if np.any(y == k):
            matrix[:, k] = c[y == k][:, rows].mean(axis=0)
    if sort and rows.size:
        order = np.lexsort((-matrix.max(axis=1), matrix.argmax(axis=1)))
        matrix, rows = matrix[order], rows[order]
    image = ax.imshow(matrix, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(C), [str(k) for k in range(C)])
    ax.set_xlabel("class")
    ax.set_ylabel("neuron (by preferred class)" if sort else "neuron")
    ax.set_title("Mean spike count per class")
    ax.figure.colorbar(image, ax=ax, label="spikes per sample")
    return {"matrix": matrix, "neurons": rows, "image": image}
