"""SavedTensorMeter: counts live bytes saved for backward, once per storage."""
import torch
from torch import nn

from ottt_edu import LIFNode, OTTTLIFNode, OTTTSequential
from ottt_edu.measure.autograd_memory import SavedTensorMeter


def test_counts_a_known_op_and_releases_after_backward():
    x = torch.ones(100, requires_grad=True)        # 400 bytes
    with SavedTensorMeter() as m:
        y = (x * x).sum()                          # mul saves x (once: same storage twice)
        assert m.current_bytes == 400 and m.saved_count == 2
        y.backward()
        del y
    assert m.peak_bytes == 400 and m.current_bytes == 0


def test_nothing_counted_outside_the_context_or_without_grad():
    x = torch.ones(10, requires_grad=True)
    with SavedTensorMeter() as m:
        with torch.no_grad():
            (x * x).sum()
    (x * x).sum()
    assert m.peak_bytes == 0 and m.saved_count == 0


def _peak(T, online):
    torch.manual_seed(0)
    if online:
        net = OTTTSequential(nn.Linear(16, 32), OTTTLIFNode(), nn.Linear(32, 4))
    else:
        net = nn.Sequential(nn.Linear(16, 32), LIFNode(decay_input=False, v_reset=None), nn.Linear(32, 4))
    x = torch.rand(8, 16)
    with SavedTensorMeter() as m:
        if online:
            for _ in range(T):
                (net(x).sum() / T).backward()
        else:
            sum(net(x).sum() / T for _ in range(T)).backward()
    return m.peak_bytes


def test_ottt_flat_bptt_linear_in_T():
    ottt = [_peak(T, True) for T in (1, 4, 16)]
    bptt = [_peak(T, False) for T in (1, 4, 16)]
    assert ottt[0] == ottt[1] == ottt[2]
    assert bptt[0] == ottt[0]
    # BPTT: a constant (the weights) plus the same activation bytes for every extra step.
    assert bptt[2] - bptt[1] == 4 * (bptt[1] - bptt[0]) > 0
