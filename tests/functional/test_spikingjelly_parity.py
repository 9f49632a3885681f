"""ottt_edu against SpikingJelly 2.0.0's SLTTLIFNode, ottt_online_training and fptt_online_training.

The reference values in ``spikingjelly_2.0.0_reference.json`` were written by
``scripts/spikingjelly_parity.py --write-reference`` with SpikingJelly 2.0.0 installed (float64,
weights and data from fixed formulas); this test rebuilds the same cases with ottt_edu alone,
so it needs no SpikingJelly."""
import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import spikingjelly_parity as parity  # noqa: E402

REFERENCE = json.loads((ROOT / "tests" / "functional" / "spikingjelly_2.0.0_reference.json")
                       .read_text(encoding="utf-8"))
OURS = parity.run_all(parity.ottt_edu_api())


def test_reference_covers_every_case():
    assert REFERENCE["spikingjelly"] == "2.0.0" and REFERENCE["dtype"] == "float64"
    assert sorted(REFERENCE["cases"]) == sorted(parity.CASES)


@pytest.mark.parametrize("case", sorted(parity.CASES))
def test_same_values_and_gradients_as_spikingjelly(case):
    ref, ours = REFERENCE["cases"][case], OURS[case]
    assert sorted(ref) == sorted(ours)
    for key, values in ref.items():
        assert len(ours[key]) == len(values), key
        assert ours[key] == pytest.approx(values, rel=1e-10, abs=1e-12), f"{case}: {key}"


def test_the_cases_are_not_trivial():
    for case in ("sltt_neuron_defaults", "sltt_neuron_soft_reset"):
        spikes = REFERENCE["cases"][case]["spikes"]
        assert 0 < sum(spikes) < len(spikes)
    for case, values in REFERENCE["cases"].items():
        if "w_ra" in values:                               # FPTT moved the weights and w_ra
            n = len(values["params"]) // 2
            assert values["params"][:n] != values["params"][n:]
            assert values["w_ra"][:n] != values["params"][:n]
