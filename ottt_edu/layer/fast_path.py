"""Single-pass ``GradwithTrace`` for layers that are linear in their input (the "fast path").

English
    The reference ``GradwithTrace`` runs the wrapped layer twice per time step: once on the spike
    (without a graph) for the value, once on the trace (with a graph) for the gradient. For a layer
    that is *linear in its input*, ``y = W * s + b`` (``*`` a matrix product or a convolution),
    the second pass is wasted work, because everything its backward needs is already known:

    - the value is ``W * s + b``;
    - the weight gradient is the layer's usual weight gradient with the trace as input
      (``g^T a`` for ``Linear``; the convolution's weight gradient of ``g`` against ``a``);
    - the bias gradient is ``g`` summed over every dimension but the channel one;
    - the input gradient is the layer's usual transposed operation on ``g`` (``g W`` for
      ``Linear``), and depends on ``W`` only, not on the input.

    So one custom autograd Function per layer kind (``LinearWithTrace``, ``ConvWithTrace``)
    computes the value from the spike and, in backward, the three gradients above. It saves only
    the trace and the weight. ``GradwithTrace`` (and so ``OTTTSequential``) uses it automatically
    for the modules that qualify (``supports_fast_path``) and the two-pass path for every other
    module; ``grad_path="fast"`` / ``"two_pass"`` forces one of them.
中文
    对输入为线性的层 (``nn.Linear``、``nn.Conv1d``、``nn.Conv2d`` 及权重由参数计算的权重标准化
    变体), ``GradwithTrace`` 无需再在迹上前向一次: 输出为 ``W * s + b``, 反向时权重梯度由迹计算
    (``g^T a``), 偏置梯度为 ``g`` 的求和, 输入梯度为 ``g W``。每种层一个自定义自动求导函数,
    只保存迹和权重。

Equations for one time step (``s`` spike, ``a`` trace, ``g = dL/dy``)::

    forward   y = W * s + b                                  # Linear: s W^T + b   (B, N_out)
    backward  dL/dW = weight-grad(a, g)                      # Linear: g^T a       (N_out, N_in)
              dL/db = sum of g over all but the channel dim  # Linear: sum_B g     (N_out,)
              dL/ds = input-grad(W, g)                       # Linear: g W         (B, N_in)

These are exactly the gradients of the two-pass path, which evaluates ``W * a + b`` with a graph
and hands its input gradient to the spike (through ``ReplaceforGrad``, which also gives the same
gradient to the trace if the trace requires one; the fast path does the same).

Which modules qualify (``supports_fast_path``):

1. exactly ``nn.Linear``, ``nn.Conv1d`` or ``nn.Conv2d`` (any stride, padding, dilation, groups;
   ``padding_mode='zeros'`` only; ``padding='same'`` only when it pads both sides equally), or a
   subclass that overrides neither ``forward`` nor ``_conv_forward``;
2. the **effective-weight protocol**, for weight-standardized layers such as the paper's
   ``ScaledWSConv2d``: a subclass of ``nn.Linear``/``nn.Conv1d``/``nn.Conv2d`` that defines a
   method ``get_weight()`` returning the weight it actually uses, computed from its parameters
   with autograd, and whose ``forward(x)`` is exactly
   ``F.conv2d(x, self.get_weight(), self.bias, self.stride, self.padding, self.dilation,
   self.groups)`` (or ``F.linear(x, self.get_weight(), self.bias)``). The fast path then calls
   ``w = module.get_weight()`` inside the graph and runs the fast Function on
   ``(spike, trace, w, bias)``, so the weight gradient flows back through ``get_weight`` into
   the parameters (e.g. the gain and the raw weight). Example::

       class ScaledWSConv2d(nn.Conv2d):
           def __init__(self, *args, gain=True, eps=1e-4, **kwargs):
               super().__init__(*args, **kwargs)
               self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1)) if gain else None
               self.eps = eps
           def get_weight(self):                      # (C_out, C_in/groups, kH, kW)
               fan_in = self.weight[0].numel()
               mean = self.weight.mean(dim=(1, 2, 3), keepdim=True)
               var = self.weight.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
               w = (self.weight - mean) / (var * fan_in + self.eps) ** 0.5
               return w * self.gain if self.gain is not None else w
           def forward(self, x):
               return F.conv2d(x, self.get_weight(), self.bias, self.stride, self.padding,
                               self.dilation, self.groups)

A subclass that overrides ``forward`` without ``get_weight`` might be nonlinear, so it falls
back to the two-pass path; so does any module with forward/backward hooks (the fast path would
skip them), and any other module (BatchNorm, custom layers, containers).

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195), Eq. (9)-(11) (weight gradient from presynaptic traces; the paper's VGG uses
scaled weight standardization, see ``ottt_edu.models.vgg.ScaledWSConv2d``); SpikingJelly
``activation_based.layer.online_learning.GradwithTrace`` (the two-pass reference).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "GRAD_PATHS",
    "LinearWithTrace",
    "ConvWithTrace",
    "check_grad_path",
    "fast_path_forward",
    "supports_fast_path",
    "why_no_fast_path",
]

GRAD_PATHS: tuple[str, ...] = ("auto", "fast", "two_pass")
"""Valid ``grad_path`` values: ``'auto'`` (fast when the module qualifies, else two-pass),
``'fast'`` (always; an error for a module that does not qualify), ``'two_pass'`` (the reference)."""

_LINEAR_IN_INPUT = (nn.Linear, nn.Conv1d, nn.Conv2d)


def check_grad_path(grad_path: str) -> str:
    """Return ``grad_path`` if it is one of ``GRAD_PATHS``, else raise a clear ``ValueError``."""
    if not isinstance(grad_path, str) or grad_path not in GRAD_PATHS:
        raise ValueError(
            f"grad_path must be one of {list(GRAD_PATHS)}, got {grad_path!r}: 'auto' uses the "
            f"single-pass fast path for layers linear in their input (Linear, Conv1d, Conv2d) and "
            f"the two-pass reference for others; 'fast' and 'two_pass' force one of them."
        )
    return grad_path


# -- which modules qualify -------------------------------------------------------------------
def _base_class(module: nn.Module) -> Optional[type]:
    for base in _LINEAR_IN_INPUT:
        if isinstance(module, base):
            return base
    return None


def _has_hooks(module: nn.Module) -> bool:
    own = (module._forward_hooks, module._forward_pre_hooks, module._backward_hooks,
           getattr(module, "_backward_pre_hooks", None))
    glob = [getattr(nn.modules.module, name, None) for name in (
        "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
        "_global_backward_pre_hooks")]
    return any(bool(h) for h in own) or any(bool(h) for h in glob)


def _conv_padding(module: nn.Module) -> Optional[tuple[int, ...]]:
    """Symmetric integer padding of a conv module, or ``None`` if it pads sides unequally."""
    if isinstance(module.padding, str):
        if module.padding == "valid":
            return (0,) * len(module.kernel_size)
        # 'same': (left, right) per dim, last dim first; usable only if left == right everywhere.
        rev = module._reversed_padding_repeated_twice
        pairs = [(rev[2 * i], rev[2 * i + 1]) for i in range(len(rev) // 2)]
        if any(left != right for left, right in pairs):
            return None
        return tuple(left for left, _ in reversed(pairs))
    return tuple(module.padding)


def why_no_fast_path(module: nn.Module) -> Optional[str]:
    """Why ``module`` cannot use the fast path, or ``None`` if it can (see the module docstring)."""
    base = _base_class(module)
    if base is None:
        return (f"{type(module).__name__} is not nn.Linear, nn.Conv1d or nn.Conv2d (the fast path "
                f"needs a layer linear in its input)")
    if type(module) is not base and not callable(getattr(module, "get_weight", None)):
        overridden = [name for name in ("forward", "_conv_forward")
                      if getattr(type(module), name, None) is not getattr(base, name, None)]
        if overridden:
            return (f"{type(module).__name__} subclasses nn.{base.__name__} and overrides "
                    f"{overridden} without the get_weight() protocol, so it may not be linear in "
                    f"its input (define get_weight() returning the effective weight to opt in)")
    if _has_hooks(module):
        return (f"{type(module).__name__} has forward/backward hooks (e.g. weight_norm or "
                f"spectral_norm), which the fast path would skip")
    if base is not nn.Linear:
        if module.padding_mode != "zeros":
            return (f"{type(module).__name__} has padding_mode={module.padding_mode!r}; the fast "
                    f"path supports only 'zeros'")
        if _conv_padding(module) is None:
            return (f"{type(module).__name__} has padding='same' with unequal padding on the two "
                    f"sides (even kernel size); the fast path needs symmetric padding")
    return None


def supports_fast_path(module: nn.Module) -> bool:
    """Whether ``GradwithTrace(module, grad_path='auto')`` takes the single-pass fast path."""
    return why_no_fast_path(module) is None


# -- the autograd Functions -------------------------------------------------------------------
class LinearWithTrace(torch.autograd.Function):
    """``y = s W^T + b`` with ``dL/dW = g^T a`` / 值来自脉冲, 权重梯度来自迹的线性层。

    ``apply(spike, trace, weight, bias)``; spike and trace ``(B, ..., N_in)``, weight
    ``(N_out, N_in)``, bias ``(N_out,)`` or ``None``; returns ``(B, ..., N_out)``. Backward:
    ``dL/ds = g W`` (also given to the trace if it requires grad, as in the two-pass path),
    ``dL/dW = g^T a``, ``dL/db = sum g``. Saves only ``trace`` and ``weight``.

    Reference: Xiao et al., NeurIPS 2022, Eq. (9)-(11).
    """

    @staticmethod
    def forward(ctx, spike: torch.Tensor, trace: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(trace, weight)
        ctx.has_bias = bias is not None
        return F.linear(spike, weight, bias)                   # (B, ..., N_out)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        trace, weight = ctx.saved_tensors
        need_s, need_a, need_w, need_b = ctx.needs_input_grad
        grad_in = grad_weight = grad_bias = None
        if need_s or need_a:
            grad_in = grad.matmul(weight)                      # g W            (B, ..., N_in)
        g2 = grad.reshape(-1, grad.shape[-1])                  # (B*..., N_out)
        if need_w:
            a2 = trace.reshape(-1, trace.shape[-1])            # (B*..., N_in)
            grad_weight = g2.t().mm(a2)                        # g^T a            (N_out, N_in)
        if need_b and ctx.has_bias:
            grad_bias = g2.sum(0)                              # (N_out,)
        return (grad_in if need_s else None, grad_in if need_a else None, grad_weight, grad_bias)


class ConvWithTrace(torch.autograd.Function):
    """Convolution valued on the spike, weight gradient from the trace / 卷积的快速路径。

    ``apply(spike, trace, weight, bias, stride, padding, dilation, groups)`` for batched
    ``Conv1d`` ``(B, C, L)`` or ``Conv2d`` ``(B, C, H, W)`` inputs (chosen by ``weight.dim()``);
    ``padding`` is a tuple of ints (symmetric zero padding). Backward calls the same kernel as
    autograd's convolution backward (``torch.ops.aten.convolution_backward``, which is what
    ``torch.nn.grad.conv2d_input`` / ``conv2d_weight`` call too) with the *trace* as the input,
    so ``dL/dW`` is the weight gradient of ``g`` against ``a`` and ``dL/ds`` is the transposed
    convolution of ``g``. Saves only ``trace`` and ``weight``.

    Reference: Xiao et al., NeurIPS 2022, Eq. (9)-(11).
    """

    @staticmethod
    def forward(ctx, spike: torch.Tensor, trace: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor], stride: Sequence[int], padding: Sequence[int],
                dilation: Sequence[int], groups: int) -> torch.Tensor:
        conv = F.conv1d if weight.dim() == 3 else F.conv2d
        ctx.save_for_backward(trace, weight)
        ctx.conf = (list(stride), list(padding), list(dilation), groups)
        ctx.bias_sizes = None if bias is None else list(bias.shape)
        return conv(spike, weight, bias, stride, padding, dilation, groups)  # (B, C_out, ...)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        trace, weight = ctx.saved_tensors
        need_s, need_a, need_w, need_b = ctx.needs_input_grad[:4]
        stride, padding, dilation, groups = ctx.conf
        need_b = need_b and ctx.bias_sizes is not None
        grad_in, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, trace, weight, ctx.bias_sizes, stride, padding, dilation, False,
            [0] * len(stride), groups, [need_s or need_a, need_w, need_b])
        return (grad_in if need_s else None, grad_in if need_a else None,
                grad_weight if need_w else None, grad_bias if need_b else None,
                None, None, None, None)


def fast_path_forward(module: nn.Module, spike: torch.Tensor, trace: torch.Tensor) -> torch.Tensor:
    """Apply ``module`` to ``[spike, trace]`` in one pass / 单次前向的 ``GradwithTrace``。

    Value ``module(spike)``; in backward, ``module``'s parameters get their gradients from the
    trace and the spike gets the input gradient, as in the two-pass ``GradwithTrace``. The
    module must qualify (``supports_fast_path``); the weight is ``module.get_weight()`` when the
    module defines it (computed here, with autograd), else ``module.weight``.

    Shapes: spike and trace ``(B, ..., N_in)`` for Linear; ``(B, C, L)`` or ``(C, L)`` for
    Conv1d; ``(B, C, H, W)`` or ``(C, H, W)`` for Conv2d.
    """
    reason = why_no_fast_path(module)
    if reason is not None:
        raise ValueError(f"The fast path cannot be used: {reason}. Use grad_path='auto' or "
                         f"'two_pass' for this module.")
    get_weight = getattr(module, "get_weight", None)
    weight = get_weight() if callable(get_weight) else module.weight
    if weight.shape != module.weight.shape:
        raise ValueError(
            f"{type(module).__name__}.get_weight() returned shape {tuple(weight.shape)}, but the "
            f"effective-weight protocol needs the shape of module.weight, "
            f"{tuple(module.weight.shape)}."
        )
    if isinstance(module, nn.Linear):
        return LinearWithTrace.apply(spike, trace, weight, module.bias)
    nd = len(module.kernel_size)
    unbatched = spike.dim() == nd + 1                          # (C, ...) -> (1, C, ...)
    if unbatched:
        spike, trace = spike.unsqueeze(0), trace.unsqueeze(0)
    elif spike.dim() != nd + 2:
        raise ValueError(
            f"{type(module).__name__} expects a {nd + 2}-D (batched) or {nd + 1}-D (unbatched) "
            f"spike, got shape {tuple(spike.shape)}."
        )
    out = ConvWithTrace.apply(spike, trace, weight, module.bias, module.stride,
                              _conv_padding(module), module.dilation, module.groups)
    return out.squeeze(0) if unbatched else out
