"""A fused ``OTTTLIFNode`` step: charge, fire, reset and trace as one compiled kernel.

English
    ``OTTTLIFNode(backend="torch")`` (the default) runs one time step as about ten separate
    element-wise PyTorch operations, each reading and writing whole tensors, and autograd records
    each of them. On a CPU that memory traffic costs as much as a small convolution. With
    ``backend="inductor"`` the step is one custom ``torch.autograd.Function``
    (``FusedOTTTLIFStep``) whose forward and backward are pure functions compiled by
    ``torch.compile`` (TorchInductor), so each is a single loop over the elements. This is the
    same idea as SpikingJelly's ``backend="cupy"`` neurons (kernels generated from the
    hyper-parameters), done with the compiler that ships with PyTorch.

    Exactness. The forward uses the same formulas in the same order as ``LIFNode`` /
    ``OTTTLIFNode`` (``v*(1 - 1/tau) + x`` etc.), and the hyper-parameters are written into the
    compiled source as the same double-precision literals that the eager code uses, so spike,
    ``v`` and trace are bit for bit those of ``backend="torch"`` on CPU (Inductor keeps divisions
    and does not contract ``a*b + c`` into FMAs there; the tests check ``torch.equal``). The
    backward computes the same surrogate gradient in the same order; its ``sigmoid`` is
    Inductor's, so the input gradient agrees to float rounding (``torch.testing.assert_close``).
    On CUDA (Triton) Inductor replaces a division by a constant by a multiplication, so there
    the values may differ in the last bit; this has not been measured.

    Scope. Only what OTTT needs: ``detach_reset=True`` and the sigmoid surrogate
    (``ottt_edu.neuron.surrogate.Sigmoid(alpha, spiking=True)``). ``v`` is detached at the start of
    every step in OTTT anyway, so the fused step returns ``v`` without autograd history (the
    eager step's ``v`` has a history that the next step cuts); the trace never has one. The
    only gradient is the one to the input current ``x``, through the spike.

    Compile cache. One Python function per set of hyper-parameters is generated from source
    text (``step_source``), each with its own code object, and compiled lazily on first use.
    The compiled functions are cached at module level (``functools.lru_cache``) keyed by the
    frozen ``FusedLIFConfig``, so every neuron with the same hyper-parameters shares them, and
    each set has its own ``torch.compile`` recompile budget (a function shared between sets
    would see the constants as guarded Python floats and, from the second set on, turn them into
    runtime arguments). The cache holds compiled code only, no configuration: results never
    depend on what was compiled before. Cost: the first call of a set compiles (seconds); the
    first input of a new shape compiles once more, with symbolic shapes, and every later
    shape reuses that. Wrapping a model that uses this backend in ``torch.compile`` as a whole
    has not been tested.
中文
    ``backend="inductor"`` 把一个时间步 (充电、发放、重置、迹) 融合为一个自定义自动求导函数,
    其前向与反向都是由 ``torch.compile`` 编译的纯函数, 各为一次逐元素循环。前向公式与运算顺序
    与 ``backend="torch"`` 完全相同, 在 CPU 上脉冲、``v`` 与迹逐位相等; 输入梯度在浮点舍入内
    相等。仅支持 ``detach_reset=True`` 与 Sigmoid 替代函数。编译结果按超参数缓存在模块级。

Discrete-time equations of one step (``k = 1 - 1/tau``; ``x`` input current, ``v`` the
detached membrane potential of the previous step, ``a`` the trace; all ``(B, ...)``)::

    charge   h    = k*v + x                   (decay_input=False, v_reset None or 0)
                  = v - (v - v_reset)/tau + x (decay_input=False, other v_reset)
                  = v + (x - v)/tau           (decay_input=True,  v_reset None or 0)
                  = v + (x - (v - v_reset))/tau  (decay_input=True, other v_reset)
    fire     s    = H(h - v_threshold)
    reset    v'   = h - s*v_threshold         (soft, v_reset None)
                  = (1 - s)*h + s*v_reset     (hard)
    trace    a'   = k*a + s                   (training mode only)
    backward dL/dx = dL/ds * g'(h - v_threshold) * dh/dx,   dh/dx = 1 or 1/tau (decay_input)
             g'(u) = alpha*sigmoid(alpha*u)*(1 - sigmoid(alpha*u))

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Eq. (6)-(8); SpikingJelly ``activation_based.neuron.OTTTLIFNode`` and its
``backend`` argument (``activation_based.auto_cuda`` kernels generated per hyper-parameter set);
Ansel et al., "PyTorch 2: Faster Machine Learning Through Dynamic Python Bytecode Transformation
and Graph Compilation", ASPLOS 2024 (``torch.compile``).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch.autograd.function import once_differentiable

__all__ = [
    "FusedLIFConfig",
    "FusedOTTTLIFStep",
    "fused_lif_step",
    "step_source",
    "compiled_forward",
    "compiled_backward",
    "check_torch_compile_available",
]

_NEEDS_COMPILE = (
    'backend="inductor" needs a working torch.compile (on CPU: TorchInductor with a C++ '
    "compiler such as g++ on the PATH). Use OTTTLIFNode(backend=\"torch\") instead; it computes "
    "the same values."
)


@dataclass(frozen=True)
class FusedLIFConfig:
    """The static hyper-parameters of a fused step (the key of the compile cache).

    Args:
        tau: membrane time constant (``> 1``).
        decay_input: whether the input is divided by ``tau``.
        v_threshold: firing threshold.
        v_reset: hard-reset potential, or ``None`` for a soft reset.
        alpha: steepness of the sigmoid surrogate.
    """

    tau: float
    decay_input: bool
    v_threshold: float
    v_reset: Optional[float]
    alpha: float

    def __post_init__(self) -> None:
        # the values are written into generated source: refuse what is not a finite literal
        values = {"tau": self.tau, "v_threshold": self.v_threshold, "alpha": self.alpha}
        if self.v_reset is not None:
            values["v_reset"] = self.v_reset
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ValueError(f"FusedLIFConfig: {name} must be a finite number, got {value!r} "
                                 f"(it is compiled into the fused step as a literal).")


def _lit(value: float) -> str:
    """A Python literal for ``value`` that reads back as the same double."""
    return f"({float(value)!r})"


def step_source(cfg: FusedLIFConfig, kind: str) -> str:
    """The Python source of the pure step function that ``torch.compile`` compiles.

    ``kind`` is ``"train"`` (``(x, v, trace) -> (spike, v_next, trace_next, h)``), ``"eval"``
    (``(x, v) -> (spike, v_next, h)``, no trace) or ``"backward"``
    (``(grad_spike, h) -> grad_x``). The operations and their order are those of
    ``LIFNode.neuronal_charge``/``neuronal_fire``/``neuronal_reset``, ``SigmoidSpike`` and
    ``OTTTLIFNode.forward``; the hyper-parameters appear as literals. Print it to see exactly
    what is compiled.
    """
    tau, th = _lit(cfg.tau), _lit(cfg.v_threshold)
    k = _lit(1.0 - 1.0 / cfg.tau)              # the same double as the eager (1.0 - 1.0 / tau)
    if kind == "backward":
        lines = [
            "def lif_step_backward(grad_spike, h):",
            f"    sg = torch.sigmoid({_lit(cfg.alpha)} * (h - {th}))",
            f"    grad_h = grad_spike * ({_lit(cfg.alpha)} * sg * (1.0 - sg))",
            f"    return grad_h / {tau}" if cfg.decay_input else "    return grad_h",
        ]
        return "\n".join(lines) + "\n"
    if kind not in ("train", "eval"):
        raise ValueError(f"kind must be 'train', 'eval' or 'backward', got {kind!r}.")
    zero_reset = cfg.v_reset is None or cfg.v_reset == 0.0
    if cfg.decay_input:
        charge = ("v + (x - v) / " + tau) if zero_reset else \
            f"v + (x - (v - {_lit(cfg.v_reset)})) / {tau}"
    else:
        charge = f"v * {k} + x" if zero_reset else f"v - (v - {_lit(cfg.v_reset)}) / {tau} + x"
    if cfg.v_reset is None:
        reset = f"h - spike * {th}"
    else:
        reset = f"(1.0 - spike) * h + spike * {_lit(cfg.v_reset)}"
    args, outs = ("x, v, trace", "spike, v_next, trace_next, h") if kind == "train" else \
        ("x, v", "spike, v_next, h")
    lines = [
        f"def lif_step_{kind}({args}):",
        f"    h = {charge}",                                      # charge
        f"    spike = ((h - {th}) >= 0).to(h)",                   # fire (Heaviside)
        f"    v_next = {reset}",                                  # reset (detached spike)
    ]
    if kind == "train":
        lines.append(f"    trace_next = trace * {k} + spike")     # presynaptic trace
    lines.append(f"    return {outs}")
    return "\n".join(lines) + "\n"


def _make_function(cfg: FusedLIFConfig, kind: str) -> Callable[..., object]:
    """Execute ``step_source(cfg, kind)``: a fresh function with its own code object."""
    namespace: dict[str, object] = {"torch": torch}
    exec(compile(step_source(cfg, kind), f"<ottt_edu.neuron.fused_lif {kind} {cfg}>", "exec"), namespace)
    return namespace[f"lif_step_{kind}"]  # type: ignore[return-value]


def check_torch_compile_available() -> None:
    """Raise ``RuntimeError`` early if this PyTorch cannot run ``torch.compile`` at all."""
    compile_fn = getattr(torch, "compile", None)
    supported = getattr(getattr(torch, "_dynamo", None), "is_dynamo_supported", None)
    if compile_fn is None or supported is None:
        raise RuntimeError(f"This PyTorch ({torch.__version__}) has no torch.compile. "
                           + _NEEDS_COMPILE)
    try:
        ok = supported()
    except Exception:                                     # is_dynamo_supported may raise
        ok = False
    if not ok:
        raise RuntimeError(f"torch.compile is not supported by this Python/PyTorch "
                           f"({torch.__version__}). " + _NEEDS_COMPILE)


@functools.lru_cache(maxsize=None)
def compiled_forward(cfg: FusedLIFConfig, with_trace: bool) -> Callable[..., tuple]:
    """The compiled forward for ``cfg`` (cached; compiled lazily, on its first call)."""
    return torch.compile(_make_function(cfg, "train" if with_trace else "eval"), fullgraph=True)


@functools.lru_cache(maxsize=None)
def compiled_backward(cfg: FusedLIFConfig) -> Callable[..., torch.Tensor]:
    """The compiled backward (surrogate gradient w.r.t. ``x``) for ``cfg`` (cached, lazy)."""
    return torch.compile(_make_function(cfg, "backward"), fullgraph=True)


def _run_compiled(fn: Callable[..., object], *args: torch.Tensor):
    """Call a compiled step; turn a compiler failure into a clear ``RuntimeError``."""
    try:
        return fn(*args)
    except Exception as err:
        # Errors raised by the compiler stack come from torch._dynamo / torch._inductor (or a
        # subprocess / OS error from the C++ toolchain). An error of the traced operations
        # themselves (TorchRuntimeError: bad shapes, devices) and anything else is re-raised.
        module = type(err).__module__ or ""
        is_user_error = type(err).__name__ == "TorchRuntimeError"
        if not is_user_error and (module.startswith(("torch._dynamo", "torch._inductor",
                                                     "subprocess")) or isinstance(err, OSError)):
            raise RuntimeError(f"Compiling the fused OTTTLIFNode step failed "
                               f"({type(err).__name__}: {str(err).strip()[:300]}). "
                               + _NEEDS_COMPILE) from err
        raise


class FusedOTTTLIFStep(torch.autograd.Function):
    """One fused ``OTTTLIFNode`` step: ``(x, v, trace) -> (spike, v_next, trace_next)``.

    Shapes: ``x``, ``v``, ``trace`` all ``(B, ...)`` (``trace`` may be ``None``: eval mode, no
    trace, and ``trace_next`` is then ``None``). Only ``spike`` is differentiable (w.r.t. ``x``);
    ``v`` and ``trace`` receive no gradient. Saves the charged potential ``h`` (one tensor of
    the shape of ``x``) for backward, as the eager step saves ``h - v_threshold``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, v: torch.Tensor, trace: Optional[torch.Tensor],
                cfg: FusedLIFConfig):
        if trace is None:
            spike, v_next, h = _run_compiled(compiled_forward(cfg, False), x, v)
            trace_next = None
            ctx.mark_non_differentiable(v_next)
        else:
            spike, v_next, trace_next, h = _run_compiled(compiled_forward(cfg, True), x, v, trace)
            ctx.mark_non_differentiable(v_next, trace_next)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(h)
        ctx.cfg = cfg
        return spike, v_next, trace_next

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_spike: torch.Tensor, _grad_v, _grad_trace):
        (h,) = ctx.saved_tensors
        grad_x = _run_compiled(compiled_backward(ctx.cfg), grad_spike, h)
        return grad_x, None, None, None


def fused_lif_step(x: torch.Tensor, v: torch.Tensor, trace: Optional[torch.Tensor],
                   cfg: FusedLIFConfig):
    """Apply ``FusedOTTTLIFStep``; ``v`` and ``trace`` are detached first (OTTT's rule).

    Returns ``(spike, v_next, trace_next)``, each ``(B, ...)`` (``trace_next`` is ``None`` when
    ``trace`` is). ``spike`` carries the surrogate gradient to ``x``.
    """
    return FusedOTTTLIFStep.apply(x, v.detach(), None if trace is None else trace.detach(), cfg)
