"""Input encodings: turn a static image into a sequence of T inputs, ``(B, ...) -> (T, B, ...)``.

English
    A spiking network runs for T time steps, so a static image must become a sequence.
    ``DirectEncoder`` repeats the analog pixel values at every step (the first layer then acts as
    the encoder, as in the OTTT paper's experiments). ``PoissonEncoder`` draws rate-coded
    spikes: pixel value ``p`` in ``[0, 1]`` fires with probability ``p`` at each step,
    independently, from its own seeded generator so runs repeat exactly.
中文
    直接编码把模拟像素值在每个时间步重复输入; 泊松 (频率) 编码以像素值为概率在每步独立地发放
    脉冲, 使用自带种子的随机数生成器, 结果可复现。

Equations::

    direct   x[t] = x                                   for t = 0..T-1
    poisson  x[t] = 1 if u[t] < x else 0,   u[t] ~ U(0, 1) i.i.d.   (so E[x[t]] = x)

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022,
Sec. 5 (direct encoding); SpikingJelly ``activation_based.encoding.PoissonEncoder``.
"""
from __future__ import annotations

from typing import Optional, Union

import torch

__all__ = ["DirectEncoder", "PoissonEncoder", "make_encoder", "ENCODINGS"]


def _check_T(T: int) -> int:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T (number of time steps) must be an integer >= 1, got {T!r}.")
    return T


class DirectEncoder:
    """Repeat the input at every time step / 直接编码: 每个时间步重复输入。

    ``encoder(x, T)`` maps ``x`` of shape ``(B, ...)`` to ``(T, B, ...)`` (a view, no copy).
    """

    name = "direct"

    def __call__(self, x: torch.Tensor, T: int) -> torch.Tensor:
        _check_T(T)
        return x.unsqueeze(0).expand(T, *x.shape)  # (T, B, ...)

    def __repr__(self) -> str:
        return "DirectEncoder()"


class PoissonEncoder:
    """Rate-coded (Bernoulli per step) spikes with a seeded generator / 泊松频率编码。

    ``encoder(x, T)`` maps ``x`` of shape ``(B, ...)``, values in ``[0, 1]``, to binary spikes
    ``(T, B, ...)`` with ``P(x[t] = 1) = x``. ``seed`` fixes the sequence of draws;
    ``reseed(seed)`` starts it again.
    """

    name = "poisson"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._generators: dict[torch.device, torch.Generator] = {}

    def reseed(self, seed: Optional[int] = None) -> None:
        """Restart the random stream (from ``seed``, or from the constructor's seed)."""
        if seed is not None:
            self.seed = seed
        self._generators.clear()

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def __call__(self, x: torch.Tensor, T: int) -> torch.Tensor:
        _check_T(T)
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"PoissonEncoder needs firing probabilities in [0, 1], got values in "
                f"[{x.min().item():.4g}, {x.max().item():.4g}]; scale the input first."
            )
        u = torch.rand((T, *x.shape), generator=self._generator(x.device), device=x.device, dtype=x.dtype)
        return (u < x.unsqueeze(0)).to(x.dtype)  # (T, B, ...)

    def __repr__(self) -> str:
        return f"PoissonEncoder(seed={self.seed})"


ENCODINGS = ("direct", "poisson")


def make_encoder(name: str, seed: int = 0) -> Union[DirectEncoder, PoissonEncoder]:
    """``'direct'`` -> ``DirectEncoder()``; ``'poisson'`` -> ``PoissonEncoder(seed)``."""
    if name == "direct":
        return DirectEncoder()
    if name == "poisson":
        return PoissonEncoder(seed)
    raise ValueError(f"unknown encoding {name!r}; choose one of {list(ENCODINGS)}.")
