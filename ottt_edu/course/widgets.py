"""Interactive explorers (ipywidgets): move a slider, see the neuron, the surrogate, OTTT vs BPTT.

English
    ``lif_explorer()``, ``surrogate_explorer()`` and ``ottt_vs_bptt_explorer()`` each return an
    ``Explorer``: a ``VBox`` of controls above an image of a matplotlib figure. Every change of
    a control calls one pure function from ``ottt_edu.course.explore`` (unit-tested on its own) that
    redraws the figure; the figure is rendered to PNG into an ``ipywidgets.Image``, so no
    matplotlib backend or ``plt.show()`` is involved. Where no widget frontend exists (nbval,
    plain ``nbconvert``, a notebook viewer), displaying an explorer still shows a static PNG of
    the figure for its current (at first: default) values and a one-line text summary: the
    display bundle holds the widget view *and* an ``image/png`` fallback.
中文
    交互式探索工具: 每个工具是一组滑块加一张 matplotlib 图; 滑块变化时调用 ``ottt_edu.course.explore``
    中经过单元测试的纯函数重新作图。没有 widget 前端 (nbval、nbconvert) 时显示默认参数下的
    静态 PNG 图。

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195); ipywidgets documentation, "Widget Events" and "Image" widget.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import ipywidgets as widgets
import PIL.Image
from matplotlib.figure import Figure

from . import explore

__all__ = ["FigureSpec", "Explorer", "lif_explorer", "surrogate_explorer",
           "ottt_vs_bptt_explorer"]


@dataclass(frozen=True)
class FigureSpec:
    """Size and resolution of an explorer's figure (inches, dots per inch)."""

    width: float = 8.0
    height: float = 5.0
    dpi: int = 100


DrawFn = Callable[[Figure, Mapping[str, Any]], dict]


class Explorer(widgets.VBox):
    """Controls + live figure; a static PNG where widgets cannot be shown / 交互式探索工具。

    Args:
        title: shown above the controls and in the text summary.
        controls: ``{name: widget}``; ``{name: widget.value}`` is what ``draw`` receives.
        draw: ``draw(fig, values) -> dict`` fills an empty ``Figure`` and returns its artists
            (kept in ``self.drawn`` so tests can read the plotted data).
        figure: figure size and resolution.

    Attributes:
        figure: the matplotlib ``Figure`` of the current values (a new one after each change).
        image: the ``ipywidgets.Image`` showing ``figure`` as PNG.
        drawn: what the last successful ``draw`` returned.
        status: an ``HTML`` line that shows why values could not be drawn (empty otherwise).
        error: that message, or ``None``.
    """

    def __init__(self, title: str, controls: Mapping[str, widgets.ValueWidget], draw: DrawFn,
                 figure: FigureSpec = FigureSpec()) -> None:
        if not controls:
            raise ValueError("an Explorer needs at least one control widget.")
        self.title = title
        self.controls = dict(controls)
        self._draw = draw
        self._figure_spec = figure
        self.figure = self._new_figure()
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.status = widgets.HTML("")
        self.drawn: dict = {}
        self.error: Optional[str] = None
        header = widgets.HTML(f"<b>{title}</b>")
        control_box = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))"),
        )
        super().__init__(children=[header, control_box, self.status, self.image])
        self.add_class("ottt-explorer")
        if not self.refresh():
            raise ValueError(f"{title}: the initial values cannot be drawn: {self.error}")
        for control in self.controls.values():
            control.observe(self._on_change, names="value")

    # -- state ---------------------------------------------------------------------------
    @property
    def values(self) -> dict[str, Any]:
        """Current ``{name: value}`` of the controls."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self) -> bool:
        """Redraw the figure for the current values and update the image widget.

        If the values are rejected (``ValueError`` from the compute function), the previous
        figure stays, the message is shown above it (and kept in ``self.error``), and the
        result is ``False``.
        """
        figure = self._new_figure()
        try:
            drawn = self._draw(figure, self.values)
        except ValueError as err:
            self.error = str(err)
            self.status.value = (f'<span style="color:#D55E00">Cannot draw these values: '
                                 f'{html.escape(self.error)}</span>')
            return False
        self.figure, self.drawn, self.error = figure, drawn, None
        self.status.value = ""
        self.image.value = self.png()
        return True

    def _new_figure(self) -> Figure:
        spec = self._figure_spec
        return Figure(figsize=(spec.width, spec.height), dpi=spec.dpi, layout="constrained")

    def png(self) -> bytes:
        """The current figure as a palette PNG (64 colours: a third of the bytes, same look)."""
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png")
        buf.seek(0)
        image = PIL.Image.open(buf).convert("RGB").quantize(colors=64)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    # -- display -------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: the title and the current values (rounded, stable across runs)."""
        parts = []
        for name, value in self.values.items():
            parts.append(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}")
        return f"{self.title} ({', '.join(parts)})"

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Widget view for live frontends, plus a PNG and a text line for everything else."""
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = (
            f"{self.summary()}\n[interactive in JupyterLab; static figure for these values]"
        )
        data["image/png"] = base64.b64encode(bytes(self.image.value)).decode("ascii")
        return data


# -- the explorers -----------------------------------------------------------------------------
def _slider(value: float, lo: float, hi: float, step: float, description: str,
            readout_format: str = ".2f") -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               continuous_update=False, readout_format=readout_format,
                               style={"description_width": "initial"})


def lif_explorer(params: explore.LIFParams = explore.LIFParams()) -> Explorer:
    """LIF neuron + presynaptic trace: sliders for tau, threshold, input strength and rate, reset.

    Runs the library's ``OTTTLIFNode`` (``explore.simulate_lif``) and plots the input ``x[t]``,
    the membrane potential ``v[t]`` before reset with the threshold and the spikes, and the
    trace ``a[t] = (1 - 1/tau) a[t-1] + s[t]`` (Xiao et al. 2022, Eq. 6-8).
    """
    controls = {
        "tau": _slider(params.tau, 1.2, 10.0, 0.1, "tau"),
        "v_threshold": _slider(params.v_threshold, 0.2, 2.0, 0.05, "v_threshold"),
        "input_strength": _slider(params.input_strength, 0.0, 2.0, 0.05, "input strength"),
        "rate": _slider(params.rate, 0.0, 1.0, 0.05, "input rate"),
        "reset": widgets.ToggleButtons(options=sorted(explore.RESET_MODES),
                                       value=params.reset, description="reset",
                                       style={"button_width": "5em"}),
        "T": widgets.IntSlider(value=params.T, min=5, max=100, step=5, description="T",
                               continuous_update=False),
    }

    def draw(fig: Figure, values: Mapping[str, Any]) -> dict:
        return explore.draw_lif(fig, explore.LIFParams(**values, seed=params.seed))

    return Explorer("LIF neuron and trace explorer", controls, draw,
                    FigureSpec(width=8.0, height=6.0))


def surrogate_explorer(params: explore.SurrogateParams = explore.SurrogateParams()) -> Explorer:
    """Surrogate gradient: the slider ``alpha`` sets the steepness of ``sigmoid(alpha x)``.

    Larger ``alpha``: closer to the step, taller (``alpha/4``) and narrower gradient.
    """
    controls = {"alpha": _slider(params.alpha, 0.5, 20.0, 0.5, "alpha")}

    def draw(fig: Figure, values: Mapping[str, Any]) -> dict:
        return explore.draw_surrogate(
            fig, explore.SurrogateParams(alpha=values["alpha"], x_min=params.x_min,
                                         x_max=params.x_max, num=params.num))

    return Explorer("Surrogate gradient explorer", controls, draw,
                    FigureSpec(width=7.0, height=4.0))


def ottt_vs_bptt_explorer(params: explore.OTTTvsBPTTParams = explore.OTTTvsBPTTParams()
                          ) -> Explorer:
    """OTTT vs BPTT: sliders ``T`` and ``tau``; gradient cosine per layer and memory vs T.

    Each point runs ``ottt_edu.measure.ottt_vs_bptt`` (cached): with ``T = 1`` the gradients are
    identical; BPTT's saved bytes grow linearly in ``T``, OTTT's stay flat (Xiao et al. 2022,
    Sec. 4.3). The first draw and each new ``tau`` take a few seconds (a short warm start).
    """
    controls = {
        "T": widgets.IntSlider(value=params.T, min=1, max=max(params.Ts), step=1,
                               description="T", continuous_update=False),
        "tau": _slider(params.tau, 1.5, 8.0, 0.5, "tau"),
    }

    def draw(fig: Figure, values: Mapping[str, Any]) -> dict:
        return explore.draw_ottt_vs_bptt(
            fig, explore.OTTTvsBPTTParams(T=values["T"], tau=values["tau"], seed=params.seed,
                                          Ts=params.Ts))

    return Explorer("OTTT vs BPTT explorer", controls, draw, FigureSpec(width=11.0, height=3.8))
