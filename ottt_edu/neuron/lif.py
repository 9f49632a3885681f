"""Leaky integrate-and-fire neurons: ``LIFNode`` (for BPTT) and ``OTTTLIFNode`` (for OTTT).

English
    Both neurons integrate an input current ``x[t]`` into a leaky membrane potential ``v``,
    emit a spike when ``v`` reaches ``v_threshold`` and then reset. ``LIFNode`` keeps the whole
    history of ``v`` in the autograd graph, as backpropagation through time (BPTT) needs.
    ``OTTTLIFNode`` detaches ``v`` at the start of every step, so the graph of a step never
    reaches into earlier steps, and keeps a presynaptic trace ``a[t]`` (no gradient) that the
    next layer uses for its weight gradient (see ``GradwithTrace``).
中文
    两种神经元都把输入电流 ``x[t]`` 积分到带泄漏的膜电位 ``v`` 上, ``v`` 达到 ``v_threshold``
    时发放脉冲并重置。``LIFNode`` 在计算图中保留 ``v`` 的全部历史, 供随时间反向传播 (BPTT)
    使用; ``OTTTLIFNode`` 在每个时间步开始时切断 ``v`` 的计算图, 并维护一个不求梯度的突触前迹
    ``a[t]``, 供下一层计算权重梯度 (见 ``GradwithTrace``)。

Discrete-time equations (``k = 1 - 1/tau``; ``v_reset = None`` is a soft reset, and counts as
0 in the charge equations)::

    charge, decay_input=False:  v[t] = v[t-1] - (v[t-1] - v_reset)/tau + x[t]
                                     (= k*v[t-1] + x[t] when v_reset is None or 0)
    charge, decay_input=True:   v[t] = v[t-1] + (x[t] - (v[t-1] - v_reset))/tau
    fire:                       s[t] = H(v[t] - v_threshold)         (surrogate gradient)
    reset, soft (v_reset=None): v[t] = v[t] - s[t]*v_threshold
    reset, hard:                v[t] = (1 - s[t])*v[t] + s[t]*v_reset
    trace (OTTTLIFNode only):   a[t] = k*a[t-1] + s[t]                (no gradient)

With ``detach_reset=True`` the reset uses ``s[t].detach()``. ``OTTTLIFNode`` replaces ``v[t-1]``
by ``v[t-1].detach()``. Shapes: any ``(B, ...)`` in single-step mode; ``(T, B, ...)`` in
``LIFNode``'s multi-step mode.

Checked arguments: ``tau`` a finite number ``> 1``, ``v_threshold`` a finite number ``> 0``,
``v_reset`` ``None`` or a finite number below ``v_threshold`` (strings, NaN and inf raise).

Non-finite values. Without a check, a NaN in the input makes ``v`` NaN; ``NaN >= v_threshold`` is
false, so the neuron silently never fires again until ``reset_net`` (and its trace decays to 0);
an ``inf`` makes it fire at every step. Nothing raises. ``with finite_check(model):`` (or
``node.check_finite = True``) makes every neuron check its input and its new ``v`` at every step
and raise ``FloatingPointError`` naming the layer and the time step (counted from the last
``reset_net``); it costs a reduction per step, so it is off by default.

Modes. ``OTTTLIFNode`` keeps no trace in eval mode; stepping it in training mode after eval-mode
steps, without ``reset_net`` in between, raises (its trace would ignore the eval-mode spikes).

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Sec. 4; SpikingJelly ``activation_based.neuron.LIFNode`` and
``activation_based.neuron.OTTTLIFNode``.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional, Union

import torch
from torch import nn

from .._checks import real_number
from .fused_lif import FusedLIFConfig, check_torch_compile_available, fused_lif_step
from .memory import MemoryModule
from .surrogate import Sigmoid

__all__ = ["LIFNode", "OTTTLIFNode", "finite_check"]


class LIFNode(MemoryModule):
    """Leaky integrate-and-fire neuron, for BPTT / 泄漏积分发放神经元 (用于 BPTT)。

    English
        Same defaults as SpikingJelly's ``neuron.LIFNode``: ``decay_input=True``, hard reset to
        ``v_reset=0`` and ``detach_reset=False``. To reproduce ``OTTTLIFNode``'s dynamics for an
        OTTT-vs-BPTT comparison, pass ``decay_input=False, v_reset=None, detach_reset=True``.
        ``step_mode='s'`` takes one step ``(B, ...)``; ``step_mode='m'`` takes a whole sequence
        ``(T, B, ...)`` and returns the spikes ``(T, B, ...)``.
    中文
        默认参数与 SpikingJelly 的 ``neuron.LIFNode`` 相同。单步模式输入 ``(B, ...)``,
        多步模式输入 ``(T, B, ...)``。

    Args:
        tau: membrane time constant; the leak factor per step is ``1 - 1/tau`` (needs ``tau > 1``).
        decay_input: whether the input is also divided by ``tau``.
        v_threshold: firing threshold.
        v_reset: reset potential (hard reset), or ``None`` for a soft reset (subtract threshold).
        surrogate_function: spike function with a surrogate gradient.
        detach_reset: whether the reset is left out of the gradient.
        step_mode: ``'s'`` (single step) or ``'m'`` (multi step).
        store_v_seq: in multi-step mode, keep ``v`` after every step in ``self.v_seq``.

    Reference: SpikingJelly ``activation_based.neuron.LIFNode``; Xiao et al., NeurIPS 2022.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = 0.0,
        surrogate_function: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        tau = real_number(tau, "tau", where)
        if not tau > 1.0:
            raise ValueError(
                f"{where}: tau must be greater than 1 (the leak factor 1 - 1/tau must lie in "
                f"(0, 1)), got tau={tau}. Typical values are 2.0 to 10.0."
            )
        if step_mode not in self.supported_step_modes():
            raise ValueError(
                f"step_mode must be one of {self.supported_step_modes()}, got {step_mode!r}."
            )
        v_threshold = real_number(v_threshold, "v_threshold", where)
        if not v_threshold > 0.0:
            raise ValueError(
                f"{where}: v_threshold must be positive, got {v_threshold}: v starts at 0 (or "
                f"v_reset), so a threshold <= 0 fires at every step whatever the input. The usual "
                f"value is 1.0."
            )
        if v_reset is not None:
            v_reset = real_number(v_reset, "v_reset", where)
            if not v_reset < v_threshold:
                raise ValueError(
                    f"{where}: v_reset ({v_reset}) must be below v_threshold ({v_threshold}), or "
                    f"None for a soft reset: a reset at or above the threshold fires again at once."
                )
        self.__dict__["_steps"] = 0              # steps since reset_net (named by finite_check)
        self.tau = tau
        self.decay_input = decay_input
        self.v_threshold = v_threshold
        self.v_reset = v_reset
        if surrogate_function is not None and not callable(surrogate_function):
            raise TypeError(
                f"{where}: surrogate_function must be a spike function with a surrogate gradient, "
                f"e.g. surrogate.Sigmoid(alpha=4.0), got {type(surrogate_function).__name__} "
                f"{surrogate_function!r}; to set the sharpness alpha, pass "
                f"surrogate.Sigmoid(alpha={surrogate_function!r})."
            )
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.detach_reset = detach_reset
        self.step_mode = step_mode
        self.store_v_seq = store_v_seq
        self.register_memory("v", 0.0 if v_reset is None else float(v_reset))
        if store_v_seq:
            self.register_memory("v_seq", None)

    #: check input and membrane potential for NaN/inf at every step (see ``finite_check``)
    check_finite: bool = False
    #: the name used in the finite check's message (``finite_check`` sets the module's name)
    finite_name: Optional[str] = None

    @staticmethod
    def supported_step_modes() -> tuple[str, ...]:
        return ("s", "m")

    def reset(self) -> None:
        super().reset()
        self.__dict__["_steps"] = 0

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau}, decay_input={self.decay_input}, v_threshold={self.v_threshold}, "
            f"v_reset={self.v_reset}, detach_reset={self.detach_reset}, step_mode={self.step_mode!r}"
        )

    # -- state -----------------------------------------------------------------------------
    def _state_like(self, name: str, x: torch.Tensor) -> None:
        """Turn the float initial value of memory ``name`` into a tensor shaped like ``x``."""
        value = getattr(self, name)
        if isinstance(value, torch.Tensor):
            if value.shape != x.shape:
                raise ValueError(
                    f"{type(self).__name__} holds state `{name}` of shape {tuple(value.shape)} "
                    f"but got an input of shape {tuple(x.shape)}. Call reset_net(model) between "
                    f"sequences (e.g. after every batch), and always before the batch size "
                    f"or input shape changes."
                )
        else:
            setattr(self, name, torch.full_like(x, value))

    # -- the three phases ----------------------------------------------------------------
    def neuronal_charge(self, x: torch.Tensor) -> None:
        v, tau = self.v, self.tau
        if self.decay_input:
            if self.v_reset is None or self.v_reset == 0.0:
                self.v = v + (x - v) / tau
            else:
                self.v = v + (x - (v - self.v_reset)) / tau
        else:
            if self.v_reset is None or self.v_reset == 0.0:
                self.v = v * (1.0 - 1.0 / tau) + x
            else:
                self.v = v - (v - self.v_reset) / tau + x

    def neuronal_fire(self) -> torch.Tensor:
        return self.surrogate_function(self.v - self.v_threshold)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        spike_d = spike.detach() if self.detach_reset else spike
        if self.v_reset is None:
            self.v = self.v - spike_d * self.v_threshold
        else:
            self.v = (1.0 - spike_d) * self.v + spike_d * self.v_reset

    # -- forward ---------------------------------------------------------------------------
    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self._state_like("v", x)
        self.neuronal_charge(x)
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 2:
            raise ValueError(
                f"multi-step mode expects a sequence shaped (T, B, ...), got shape "
                f"{tuple(x_seq.shape)}."
            )
        spikes, v_seq = [], []
        for t in range(x_seq.shape[0]):
            spikes.append(self._step(x_seq[t]))
            if self.store_v_seq:
                v_seq.append(self.v)
        if self.store_v_seq:
            self.v_seq = torch.stack(v_seq)
        return torch.stack(spikes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__} expects a tensor, got {type(x).__name__}. A [spike, trace] "
                f"list is handled by OTTTSequential."
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{type(self).__name__} expects a floating-point input (a membrane current), got "
                f"{x.dtype}; convert it with x.float()."
            )
        if self.step_mode == "s":
            return self._step(x)
        return self.multi_step_forward(x)

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        """``single_step_forward`` with the opt-in finite check and the step count."""
        if self.check_finite:
            self._raise_if_not_finite(x, "input")
        spike = self.single_step_forward(x)
        if self.check_finite:
            self._raise_if_not_finite(self.v, "membrane potential v")
        self.__dict__["_steps"] += 1
        return spike

    def _raise_if_not_finite(self, t: torch.Tensor, what: str) -> None:
        if not isinstance(t, torch.Tensor) or bool(torch.isfinite(t).all()):
            return
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        name = self.finite_name or type(self).__name__
        step = self.__dict__["_steps"]
        cause = ("the layer before it produced them: look at the data and the previous layer's "
                 "weights (a learning rate too large makes them diverge)") if what == "input" else (
                 f"the input was finite, so v overflowed {t.dtype}: the input is far too large")
        raise FloatingPointError(
            f"neuron {name!r} ({type(self).__name__}): non-finite {what} at time step {step} "
            f"(counted from 0 after the last reset_net): {n_nan} NaN and {n_inf} inf among "
            f"{t.numel()} values; {cause}."
        )


class OTTTLIFNode(LIFNode):
    """LIF neuron for online training through time / 用于 OTTT 在线训练的 LIF 神经元。

    English
        Single-step only. ``v`` is detached at the start of every step, so each step's graph is
        independent of earlier steps and memory does not grow with T. In training mode the
        neuron also updates its presynaptic trace ``a[t] = (1 - 1/tau)*a[t-1] + s[t]`` (without
        gradient) and returns ``[spike, trace]``; wrap the next parametric layer in
        ``GradwithTrace`` (``OTTTSequential`` does it for you). In eval mode it returns ``spike``.
        State is created from the first input and cleared by ``reset_net``.
    中文
        仅支持单步模式。每个时间步开始时切断 ``v`` 的计算图, 训练显存不随 T 增长。训练模式下还
        更新突触前迹并返回 ``[spike, trace]``; 推理模式下只返回 ``spike``。

    Args: as ``LIFNode``, with OTTT's defaults ``decay_input=False``, ``v_reset=None`` (soft
    reset) and ``detach_reset=True``, plus

        backend: ``"torch"`` (default: eager PyTorch operations) or ``"inductor"`` (opt-in: the
            whole step fused into one ``torch.compile``-d kernel, see ``ottt_edu.neuron.fused_lif``;
            same spike, ``v`` and trace bit for bit on CPU, same input gradient to float
            rounding; needs ``detach_reset=True``, a ``surrogate.Sigmoid`` surrogate and a
            working ``torch.compile``; its ``v`` carries no autograd history) /
            ``"torch"`` (默认, 逐个 PyTorch 运算) 或 ``"inductor"`` (可选, 整个时间步融合为一个
            ``torch.compile`` 编译的内核, 数值相同)。

    Example (``tau=2``)::

        x     = 0.6  0.9  1.5  0.2
        spike = 0    1    1    0
        v     = 0.6  0.2  0.6  0.5     (after reset)
        trace = 0    1    1.5  0.75

    Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks",
    NeurIPS 2022, Eq. (6)-(8); SpikingJelly ``activation_based.neuron.OTTTLIFNode``.
    """

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = False,
        v_threshold: float = 1.0,
        v_reset: Optional[float] = None,
        surrogate_function: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
        detach_reset: bool = True,
        step_mode: str = "s",
        backend: str = "torch",
    ) -> None:
        if step_mode != "s":
            raise ValueError(
                f"OTTTLIFNode supports only step_mode='s' (got {step_mode!r}): OTTT trains online, "
                f"one time step at a time. Call the network once per step in a loop over T, or use "
                f"LIFNode(step_mode='m') for BPTT."
            )
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function,
                         detach_reset, step_mode, store_v_seq=False)
        self.register_memory("trace", 0.0)
        self.__dict__["_eval_steps"] = 0         # eval-mode steps since reset_net
        if backend not in self.supported_backends():
            raise ValueError(
                f"backend must be one of {self.supported_backends()}, got {backend!r}. Use "
                f"'torch' (default) or 'inductor' (fused torch.compile kernel)."
            )
        self.backend = backend
        if backend == "inductor":
            check_torch_compile_available()
            self._fused_config()                                  # validate early

    @staticmethod
    def supported_backends() -> tuple[str, ...]:
        return ("torch", "inductor")

    def extra_repr(self) -> str:
        extra = super().extra_repr()
        return extra if self.backend == "torch" else f"{extra}, backend={self.backend!r}"

    def _fused_config(self) -> FusedLIFConfig:
        """The hyper-parameters of the fused step; raises if ``backend="inductor"`` can't run."""
        sf = self.surrogate_function
        if not (isinstance(sf, Sigmoid) and sf.spiking):
            raise ValueError(
                f"backend='inductor' supports only the sigmoid surrogate "
                f"ottt_edu.neuron.surrogate.Sigmoid(alpha, spiking=True), got {sf!r}. Use "
                f"backend='torch' for other surrogate functions."
            )
        if not self.detach_reset:
            raise ValueError(
                "backend='inductor' supports only detach_reset=True (OTTT's setting). Use "
                "backend='torch' for detach_reset=False."
            )
        return FusedLIFConfig(self.tau, bool(self.decay_input), self.v_threshold, self.v_reset,
                              sf.alpha)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.backend == "torch":
            return super().single_step_forward(x)
        # backend="inductor": charge, fire, reset and (in training) trace in one fused step.
        cfg = self._fused_config()
        self._state_like("v", x)
        if self.training:
            self._state_like("trace", x)
        spike, self.v, trace = fused_lif_step(x, self.v, self.trace if self.training else None,
                                              cfg)
        if self.training:
            self.trace = trace
        return spike

    @staticmethod
    def supported_step_modes() -> tuple[str, ...]:
        return ("s",)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.v = self.v.detach()
        super().neuronal_charge(x)

    def reset(self) -> None:
        super().reset()
        self.__dict__["_eval_steps"] = 0

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, list[torch.Tensor]]:
        if not self.training:
            self.__dict__["_eval_steps"] += 1
            return super().forward(x)
        if self.__dict__["_eval_steps"]:
            raise RuntimeError(
                f"{type(self).__name__} was stepped {self.__dict__['_eval_steps']} time(s) in eval "
                f"mode since the last reset_net and is now stepped in training mode: eval mode keeps "
                f"no trace, so the trace would ignore those spikes and the weight gradients would be "
                f"wrong. Call reset_net(model) after switching modes (model.train(); "
                f"reset_net(model))."
            )
        spike = super().forward(x)
        if self.backend != "torch":                   # the fused step has updated the trace
            return [spike, self.trace]
        self._state_like("trace", spike)
        with torch.no_grad():
            self.trace = self.trace * (1.0 - 1.0 / self.tau) + spike
        return [spike, self.trace]


@contextlib.contextmanager
def finite_check(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Check every neuron's input and membrane potential for NaN/inf inside the block.

    English
        ``with finite_check(model): ...`` makes every ``LIFNode``/``OTTTLIFNode`` of ``model``
        check, at every step, that its input and its new ``v`` are finite, and raise
        ``FloatingPointError`` naming the neuron (its name in ``model``, e.g. ``'lif1'``) and the
        time step (counted from 0 after the last ``reset_net``). Off by default: the check costs
        one reduction (and on a GPU one synchronisation) per neuron and step. Without it, a NaN
        silently stops a neuron from firing until ``reset_net``.
    中文
        在 ``with`` 块内, 每个神经元在每一步检查输入与膜电位是否有限, 出现 NaN/inf 时抛出
        ``FloatingPointError``, 指明层名与时间步。默认关闭。

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: ``model`` holds no ottt_edu neuron.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"finite_check expects an nn.Module (the network), got {type(model).__name__}.")
    neurons = [(name, m) for name, m in model.named_modules() if isinstance(m, LIFNode)]
    if not neurons:
        raise ValueError(
            f"finite_check: {type(model).__name__} holds no ottt_edu neuron (LIFNode or "
            f"OTTTLIFNode), so there is nothing to check."
        )
    saved = [(m, {k: m.__dict__[k] for k in ("check_finite", "finite_name") if k in m.__dict__})
             for _, m in neurons]
    for name, m in neurons:
        m.check_finite = bool(enabled)
        m.finite_name = name or type(m).__name__
    try:
        yield model
    finally:
        for m, old in saved:
            for key in ("check_finite", "finite_name"):
                if key in old:
                    m.__dict__[key] = old[key]
                else:
                    m.__dict__.pop(key, None)
