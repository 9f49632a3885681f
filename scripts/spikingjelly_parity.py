"""Parity with SpikingJelly 2.0.0: ``SLTTLIFNode``, ``ottt_online_training``, ``fptt_online_training``.

Builds small cases (float64, weights and data from fixed formulas, no random numbers) and runs
each with SpikingJelly and with ottt_edu: the same network, weights, data, optimizer and loss.
Prints, per case and quantity, the largest absolute difference. ``--write-reference PATH``
stores SpikingJelly's values as JSON; ``tests/functional/test_spikingjelly_parity.py`` compares ottt_edu
with that file, so the test suite needs no SpikingJelly.

Exits 0 with a message (and compares nothing) when SpikingJelly is not installed. Install it
in a separate environment, e.g.::

    python3 -m venv /tmp/sjvenv
    /tmp/sjvenv/bin/pip install torch numpy tensorboard
    /tmp/sjvenv/bin/pip install --no-deps spikingjelly==2.0.0 loguru
    PYTHONPATH=. /tmp/sjvenv/bin/python scripts/spikingjelly_parity.py
    PYTHONPATH=. /tmp/sjvenv/bin/python scripts/spikingjelly_parity.py \
        --write-reference tests/functional/spikingjelly_2.0.0_reference.json

(``spikingjelly.activation_based.learning`` imports ``torch.utils.tensorboard``, hence
``tensorboard``.)

Reference: SpikingJelly 2.0.0 ``activation_based.neuron.SLTTLIFNode`` and
``activation_based.learning.online_learning``.
"""
from __future__ import annotations

import argparse
import json
import sys
from types import SimpleNamespace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

DTYPE = torch.float64


def ottt_edu_api() -> SimpleNamespace:
    """The names the cases use, from ottt_edu."""
    import ottt_edu

    return SimpleNamespace(
        name="ottt_edu", SLTTLIFNode=ottt_edu.SLTTLIFNode, OTTTLIFNode=ottt_edu.OTTTLIFNode,
        LIFNode=ottt_edu.LIFNode, OTTTSequential=ottt_edu.OTTTSequential,
        reset_net=ottt_edu.reset_net, ottt_online_training=ottt_edu.ottt_online_training,
        fptt_online_training=ottt_edu.fptt_online_training,
        fptt_online_training_init_w_ra=ottt_edu.fptt_online_training_init_w_ra)


def spikingjelly_api() -> SimpleNamespace:
    """The same names from SpikingJelly (ImportError if it is not installed)."""
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.learning import online_learning

    return SimpleNamespace(
        name="spikingjelly", SLTTLIFNode=neuron.SLTTLIFNode, OTTTLIFNode=neuron.OTTTLIFNode,
        LIFNode=neuron.LIFNode, OTTTSequential=layer.OTTTSequential,
        reset_net=functional.reset_net, ottt_online_training=online_learning.ottt_online_training,
        fptt_online_training=online_learning.fptt_online_training,
        fptt_online_training_init_w_ra=online_learning.fptt_online_training_init_w_ra)


# -- fixed data ---------------------------------------------------------------------------------
def wave(*shape: int, freq: float = 0.37, phase: float = 0.0, scale: float = 1.0,
         offset: float = 0.0) -> torch.Tensor:
    """``offset + scale * sin(freq * i + phase)`` over the flattened index ``i``, shaped ``shape``."""
    n = 1
    for s in shape:
        n *= s
    i = torch.arange(n, dtype=DTYPE)
    return (offset + scale * torch.sin(freq * i + phase)).reshape(shape)


def set_weights(model: nn.Module) -> None:
    """Every parameter from ``wave``, a different phase per parameter."""
    with torch.no_grad():
        for k, p in enumerate(model.parameters()):
            p.copy_(wave(*p.shape, freq=0.61, phase=1.3 * k, scale=0.9, offset=0.1))


def flat(tensors) -> list[float]:
    return torch.cat([t.detach().reshape(-1).to(DTYPE) for t in tensors]).tolist()


# -- cases --------------------------------------------------------------------------------------
def case_sltt_neuron(api, **kw) -> dict[str, list[float]]:
    """One SLTT neuron layer over T=6 steps: spikes, v, input gradient of sum_t c[t]·s[t]; eval."""
    T, B, N = 6, 2, 3
    x = wave(T, B, N, scale=1.6, offset=0.9).requires_grad_()
    c = wave(T, B, N, freq=0.53, phase=0.4)
    node = api.SLTTLIFNode(**kw)
    node.train()
    spikes, vs = [], []
    for t in range(T):
        spikes.append(node(x[t]))
        vs.append(node.v.detach().clone())
    (torch.stack(spikes) * c).sum().backward()
    api.reset_net(node)
    node.eval()
    with torch.no_grad():
        eval_spikes = [node(x[t].detach()) for t in range(T)]
    api.reset_net(node)
    return {"spikes": flat(spikes), "v": flat(vs), "x_grad": flat([x.grad]),
            "eval_spikes": flat(eval_spikes)}


def _mlp(api, neuron: str) -> nn.Module:
    if neuron == "ottt":
        net = api.OTTTSequential(nn.Linear(4, 3), api.OTTTLIFNode(), nn.Linear(3, 2))
    elif neuron == "sltt":
        net = nn.Sequential(nn.Linear(4, 3), api.SLTTLIFNode(), nn.Linear(3, 2))
    else:                                           # plain LIF with OTTT's dynamics
        net = nn.Sequential(nn.Linear(4, 3),
                            api.LIFNode(tau=2.0, decay_input=False, v_reset=None,
                                        detach_reset=True, step_mode="s"),
                            nn.Linear(3, 2))
    net = net.to(DTYPE)
    set_weights(net)
    return net


def case_ottt_online_training(api, neuron: str, online: bool) -> dict[str, list[float]]:
    """Two sequences ([N=3, T=4, 4], batch first) with MSE targets, SGD; reset in between."""
    net = _mlp(api, neuron)
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.5)
    out: dict[str, list[float]] = {"batch_loss": [], "y_all": []}
    for seq in range(2):
        x_seq = wave(3, 4, 4, phase=0.9 * seq, scale=2.0, offset=1.0)     # [N, T, 4]
        target_seq = wave(3, 4, 2, freq=0.29, phase=seq, scale=0.8)        # [N, T, 2]
        batch_loss, y_all = api.ottt_online_training(net, opt, x_seq, target_seq, F.mse_loss, online)
        api.reset_net(net)
        out["batch_loss"].append(float(batch_loss))
        out["y_all"] += flat([y_all])
        out["y_all_shape"] = list(y_all.shape)
    out["params"] = flat(net.parameters())
    return out


def case_fptt(api, loss: str, optimizer: str) -> dict[str, list[float]]:
    """Two sequences ([T=4, N=3, 4], time first), alpha=0.1; the weights and w_ra after each."""
    net = _mlp(api, "lif")
    if optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.5)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
    w_ra = api.fptt_online_training_init_w_ra(opt)
    out: dict[str, list[float]] = {"params": [], "w_ra": []}
    for seq in range(2):
        x_seq = wave(4, 3, 4, phase=0.7 * seq, scale=2.0, offset=1.0)      # [T, N, 4]
        if loss == "mse":
            target_seq, f_loss = wave(4, 3, 2, freq=0.29, phase=seq, scale=0.8), F.mse_loss
        else:
            target_seq, f_loss = (torch.arange(12).reshape(4, 3) + seq) % 2, F.cross_entropy
        result = api.fptt_online_training(net, opt, x_seq, target_seq, f_loss, 0.1, w_ra)
        assert result is None
        api.reset_net(net)
        out["params"] += flat(net.parameters())
        out["w_ra"] += flat(w_ra)
    return out


CASES: dict[str, Callable] = {
    "sltt_neuron_defaults": lambda api: case_sltt_neuron(api),
    "sltt_neuron_soft_reset": lambda api: case_sltt_neuron(api, tau=3.0, decay_input=False,
                                                           v_reset=None),
    "ottt_online_training_ottt_online": lambda api: case_ottt_online_training(api, "ottt", True),
    "ottt_online_training_ottt_accumulate": lambda api: case_ottt_online_training(api, "ottt", False),
    "ottt_online_training_sltt_online": lambda api: case_ottt_online_training(api, "sltt", True),
    "ottt_online_training_sltt_accumulate": lambda api: case_ottt_online_training(api, "sltt", False),
    "fptt_mse_sgd": lambda api: case_fptt(api, "mse", "sgd"),
    "fptt_ce_adam": lambda api: case_fptt(api, "ce", "adam"),
}


def run_all(api) -> dict[str, dict[str, list[float]]]:
    return {name: case(api) for name, case in CASES.items()}


def max_differences(a: dict, b: dict) -> dict[str, dict[str, float]]:
    """Largest absolute difference per case and quantity (``inf`` where lengths differ)."""
    diffs = {}
    for name in a:
        diffs[name] = {}
        for key, va in a[name].items():
            vb = b[name][key]
            diffs[name][key] = (float("inf") if len(va) != len(vb) else
                                max((abs(p - q) for p, q in zip(va, vb)), default=0.0))
    return diffs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--write-reference", metavar="PATH", default=None,
                   help="write SpikingJelly's values as JSON (for tests/functional/test_spikingjelly_parity.py)")
    args = p.parse_args(argv)
    try:
        sj = spikingjelly_api()
    except ImportError as e:
        print(f"SpikingJelly is not installed ({e}); nothing compared. See this script's docstring.")
        return 0
    from importlib.metadata import version

    torch.set_num_threads(1)
    ref = run_all(sj)
    ours = run_all(ottt_edu_api())
    worst = 0.0
    print(f"SpikingJelly {version('spikingjelly')} vs ottt_edu, float64, "
          f"largest absolute difference:")
    for name, per_key in max_differences(ref, ours).items():
        line = ", ".join(f"{k} {v:.2e}" for k, v in per_key.items())
        print(f"  {name:40s} {line}")
        worst = max([worst, *per_key.values()])
    print(f"worst: {worst:.2e} ({'PASS' if worst < 1e-10 else 'FAIL'} at 1e-10)")
    if args.write_reference:
        with open(args.write_reference, "w", encoding="utf-8") as f:
            json.dump({"spikingjelly": "2.0.0", "torch": torch.__version__, "dtype": "float64",
                       "cases": ref}, f, indent=1)
            f.write("\n")
        print(f"wrote {args.write_reference}")
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
