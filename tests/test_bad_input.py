"""The bad-input campaign (issue 15): every case that was silent or unclear now gets an early,
clear error (type + a phrase of its message), a one-line CLI error with its exit code, or a
warning. One test per case; the command-line cases are at the end."""
from __future__ import annotations

import copy
import math
import os

import pytest
import torch
from torch import nn

from ottt_edu import (Dropout, GradwithTrace, LIFNode, OTTTLIFNode, OTTTSequential, ReplaceforGrad,
                      SpikeTraceOp, detach_net, finite_check, reset_net, surrogate)


def pair(shape=(2, 4)):
    return [torch.ones(shape, requires_grad=True), torch.full(shape, 0.5)]


def trained_step(net: nn.Module, x: torch.Tensor):
    """One training-mode step (the pair reaches every layer after the neuron)."""
    net.train()
    return net(x)


# -- spike and trace of different devices / dtypes ----------------------------------------------
@pytest.mark.parametrize("grad_path", ["auto", "fast", "two_pass"])
def test_spike_and_trace_on_different_devices(grad_path):
    # a 'meta' tensor stands for another device on a machine without a GPU; the check runs
    # before any computation, so this is exactly the CUDA-vs-CPU case
    spike, trace = torch.ones(2, 4), torch.empty(2, 4, device="meta")
    with pytest.raises(ValueError, match=r"same device.*model\.to\(device\)"):
        GradwithTrace(nn.Linear(4, 3), grad_path)([spike, trace])
    with pytest.raises(ValueError, match="same device"):
        SpikeTraceOp(nn.Flatten())([spike, trace])


def test_float32_spike_with_float64_trace_fails_at_the_forward():
    spike, trace = torch.ones(2, 4, requires_grad=True), torch.ones(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"same dtype.*torch\.float32.*torch\.float64"):
        GradwithTrace(nn.Linear(4, 3))([spike, trace])


# -- modules that differ between the spike's call and the trace's --------------------------------
def test_batchnorm_with_affine_after_a_neuron():
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"OTTTSequential layer 2 \(BatchNorm1d\): GradwithTrace cannot apply BatchNorm1d.*running statistics twice"):
        trained_step(net, torch.rand(3, 4))


def test_batchnorm_without_affine_after_a_neuron():
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), nn.BatchNorm1d(4, affine=False), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="SpikeTraceOp cannot apply BatchNorm1d"):
        trained_step(net, torch.rand(3, 4))


def test_batchnorm_before_the_first_neuron_and_in_eval_is_fine():
    net = OTTTSequential(nn.Linear(4, 4), nn.BatchNorm1d(4), OTTTLIFNode(), nn.Linear(4, 2))
    trained_step(net, torch.rand(3, 4))                   # BatchNorm sees a plain tensor
    bn = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
    assert bn(torch.rand(3, 4)).shape == (3, 2)


def test_batchnorm_inside_a_block_is_found():
    block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), block)
    with pytest.raises(ValueError, match=r"submodule '1' \(BatchNorm1d\)"):
        trained_step(net, torch.rand(3, 4))


def test_rrelu_after_a_neuron():
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), nn.RReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="RReLU draws new random slopes"):
        trained_step(net, torch.rand(3, 4))


class Jitter(nn.Module):
    """A parameter-free random module the structural check does not know."""

    def forward(self, x):
        return x + 0.01 * torch.randn_like(x)


def test_any_random_module_after_a_neuron():
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), Jitter(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="Jitter drew new random numbers when applied to the trace"):
        trained_step(net, torch.rand(3, 4))


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return x


def test_a_module_updating_a_buffer_per_call_after_a_neuron():
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), Counter(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"updated its buffer\(s\) \['calls'\]"):
        trained_step(net, torch.rand(3, 4))


def test_ottt_edu_dropout_nested_in_a_block_is_fine():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(4, 4), Dropout(0.5))
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), block)
    trained_step(net, torch.rand(3, 4)).sum().backward()


def test_torch_dropout_nested_in_a_plain_sequential():
    with pytest.raises(ValueError, match=r"layer 2 \(Sequential\), submodule '1': torch.nn.Dropout"):
        OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), nn.Sequential(nn.Flatten(), nn.Dropout(0.2)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        return self.drop(self.fc(x))


def test_torch_dropout_nested_in_a_block_with_parameters():
    with pytest.raises(ValueError, match=r"layer 2 \(Block\), submodule 'drop'.*ottt_edu.Dropout"):
        OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), Block())


def test_torch_dropout_nested_in_a_directly_used_wrapper():
    with pytest.raises(ValueError, match=r"submodule '1' \(Dropout\).*new random mask"):
        SpikeTraceOp(nn.Sequential(nn.Flatten(), nn.Dropout(0.2)))(pair())


def test_neuron_inside_a_wrapped_block_would_be_stepped_twice():
    with pytest.raises(ValueError, match="stepped twice per time step"):
        SpikeTraceOp(OTTTLIFNode())(pair())


# -- one neuron at two places ------------------------------------------------------------------
def test_same_neuron_instance_twice_in_ottt_sequential():
    lif = OTTTLIFNode()
    with pytest.raises(ValueError, match=r"same OTTTLIFNode instance is at '1' and at '3'"):
        OTTTSequential(nn.Linear(4, 4), lif, nn.Linear(4, 4), lif, nn.Linear(4, 2))


def test_same_neuron_instance_twice_found_by_reset_net():
    lif = LIFNode()
    net = nn.Sequential(nn.Linear(4, 4), lif, nn.Linear(4, 4), lif)
    with pytest.raises(ValueError, match="reset_net: the same LIFNode instance is at '1' and at '3'"):
        reset_net(net)


# -- neuron hyper-parameters --------------------------------------------------------------------
@pytest.mark.parametrize("cls", [OTTTLIFNode, LIFNode])
@pytest.mark.parametrize("v_threshold", [0.0, -1.0])
def test_threshold_not_positive(cls, v_threshold):
    with pytest.raises(ValueError, match="v_threshold must be positive"):
        cls(v_threshold=v_threshold)


@pytest.mark.parametrize("v_threshold", [math.nan, math.inf])
def test_threshold_not_finite(v_threshold):
    with pytest.raises(ValueError, match="v_threshold must be a finite number"):
        OTTTLIFNode(v_threshold=v_threshold)


@pytest.mark.parametrize("tau", [math.inf, math.nan])
def test_tau_not_finite(tau):
    with pytest.raises(ValueError, match="tau must be a finite number"):
        OTTTLIFNode(tau=tau)


@pytest.mark.parametrize("v_reset", [math.nan, -math.inf])
def test_v_reset_not_finite(v_reset):
    with pytest.raises(ValueError, match="v_reset must be a finite number"):
        OTTTLIFNode(v_reset=v_reset)


@pytest.mark.parametrize("alpha", [math.inf, math.nan])
def test_alpha_not_finite(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        surrogate.Sigmoid(alpha=alpha)


def test_fused_backend_config_refuses_inf():
    from ottt_edu.neuron.fused_lif import FusedLIFConfig
    with pytest.raises(ValueError, match="tau must be a finite number.*literal"):
        FusedLIFConfig(math.inf, False, 1.0, None, 4.0)


@pytest.mark.parametrize("v_reset", [1.0, 1.5])
def test_v_reset_at_or_above_threshold(v_reset):
    with pytest.raises(ValueError, match=r"v_reset \(1\.[05]\) must be below v_threshold \(1\.0\)"):
        OTTTLIFNode(v_reset=v_reset, v_threshold=1.0)


@pytest.mark.parametrize("kwargs, name", [({"tau": "2"}, "tau"), ({"v_threshold": "1"}, "v_threshold"),
                                          ({"v_reset": "0"}, "v_reset"), ({"tau": None}, "tau")])
def test_hyper_parameter_given_as_a_string_or_none(kwargs, name):
    with pytest.raises(TypeError, match=f"OTTTLIFNode: {name} must be a real number, got"):
        OTTTLIFNode(**kwargs)


def test_numpy_and_tensor_scalars_are_numbers():
    import numpy as np
    node = OTTTLIFNode(tau=np.float64(3.0), v_threshold=torch.tensor(0.5))
    assert node.tau == 3.0 and node.v_threshold == 0.5 and isinstance(node.v_threshold, float)


# -- train/eval switched while a neuron holds state ---------------------------------------------
def test_eval_steps_then_training_without_reset_raises():
    net = OTTTSequential(nn.Linear(4, 4), OTTTLIFNode(), nn.Linear(4, 2))
    net.eval()
    net(torch.rand(3, 4))
    net.train()
    with pytest.raises(RuntimeError, match=r"stepped 1 time\(s\) in eval mode.*reset_net\(model\)"):
        net(torch.rand(3, 4))
    reset_net(net)
    net(torch.rand(3, 4))                                  # fine after reset_net


def test_train_then_eval_without_reset_is_allowed():
    node = OTTTLIFNode()
    node.train()(torch.ones(1))
    assert isinstance(node.eval()(torch.ones(1)), torch.Tensor)   # as notebook 06 shows


# -- NaN / inf: the opt-in finite check ---------------------------------------------------------
def make_mlp():
    torch.manual_seed(0)
    from ottt_edu.models import mlp
    return mlp((8,), in_shape=(1, 2, 2))


def test_nan_input_names_the_layer_and_time_step():
    net = make_mlp()
    x = torch.rand(3, 1, 2, 2)
    with finite_check(net):
        net(x)
        net(x)
        with pytest.raises(FloatingPointError, match=r"neuron 'lif1' \(OTTTLIFNode\): non-finite input at time step 2"):
            net(torch.full_like(x, math.nan))
    reset_net(net)
    net(torch.full_like(x, math.nan))                      # off again outside the block: silent


def test_infinite_membrane_potential_is_reported():
    node = OTTTLIFNode()
    node.check_finite = True
    node(torch.full((2,), 3e38))
    with pytest.raises(FloatingPointError, match=r"non-finite membrane potential v at time step 1.*overflowed"):
        node(torch.full((2,), 3e38))                       # 0.5 * 3e38 + 3e38 > float32 max


def test_without_the_check_nan_silently_stops_firing():
    node = OTTTLIFNode().eval()
    assert node(torch.tensor([math.nan])).item() == 0.0    # documented: no spike, no error
    assert node(torch.tensor([5.0])).item() == 0.0         # v stays NaN until reset_net


def test_finite_check_needs_a_network_with_neurons():
    with pytest.raises(ValueError, match="holds no ottt_edu neuron"):
        with finite_check(nn.Linear(2, 2)):
            pass


# -- reset_net --------------------------------------------------------------------------------
class ForeignNeuron(nn.Module):
    """Stands for SpikingJelly's neurons: a memory of its own and a reset() method."""

    def __init__(self):
        super().__init__()
        self._memories = {"v": 0.0}

    def reset(self):
        self._memories["v"] = 0.0

    def forward(self, x):
        return x


def test_reset_net_on_a_network_of_foreign_neurons():
    net = nn.Sequential(nn.Linear(2, 2), ForeignNeuron())
    with pytest.raises(TypeError, match=r"not ottt_edu's: 1 \(.*ForeignNeuron\).*spikingjelly"):
        reset_net(net)


def test_reset_net_on_a_plain_ann_is_a_no_op():
    reset_net(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))   # nothing stateful: nothing to do


@pytest.mark.parametrize("fn", [reset_net, detach_net])
def test_reset_net_given_a_non_module(fn):
    with pytest.raises(TypeError, match=r"expects the network, an nn.Module, got list"):
        fn([OTTTLIFNode()])


# -- what OTTTSequential passes between layers ---------------------------------------------------
def test_ottt_sequential_given_a_list_of_three_tensors():
    net = OTTTSequential(nn.Linear(4, 2))
    with pytest.raises(TypeError, match=r"expects one time step.*a list of 3 item\(s\)"):
        net([torch.ones(1, 4)] * 3)


def test_wrapper_given_a_list_of_three_tensors():
    with pytest.raises(TypeError, match=r"GradwithTrace expects a \[spike, trace\] pair.*list of 3"):
        GradwithTrace(nn.Linear(4, 2))([torch.ones(1, 4)] * 3)


class TwoOutputs(nn.Module):
    def forward(self, x):
        return x, x.clone()


def test_module_returning_a_tuple_inside_ottt_sequential():
    net = OTTTSequential(nn.Linear(4, 4), TwoOutputs(), nn.Linear(4, 2))
    with pytest.raises(TypeError, match=r"layer 1 \(TwoOutputs\) returned a tuple of 2 item\(s\)"):
        net(torch.ones(1, 4))


def test_neuron_hidden_inside_a_plain_sequential():
    with pytest.raises(ValueError, match=r"plain nn.Sequential\) holds an OTTTLIFNode at position '1' followed by Linear"):
        OTTTSequential(nn.Sequential(nn.Linear(4, 4), OTTTLIFNode(), nn.Linear(4, 2)))
    OTTTSequential(nn.Sequential(nn.Linear(4, 4), OTTTLIFNode()), nn.Linear(4, 2))   # last: fine


@pytest.mark.parametrize("x, x_r", [(torch.zeros(2), 3.0), ([0.0, 1.0], torch.zeros(2))])
def test_replace_for_grad_given_a_non_tensor(x, x_r):
    with pytest.raises(TypeError, match="takes two tensors of the same shape"):
        ReplaceforGrad.apply(x, x_r)


# -- the valid uses keep working (and stay exact) ------------------------------------------------
def test_checked_network_still_matches_the_reference_semantics():
    torch.manual_seed(1)
    net = OTTTSequential(nn.Linear(4, 6), OTTTLIFNode(), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(3, 2))
    twin = copy.deepcopy(net)
    twin.grad_path = "two_pass"
    x = 3 * torch.rand(4, 5, 4)
    for t in range(4):
        net(x[t]).sum().backward()
        twin(x[t]).sum().backward()
    for p, q in zip(net.parameters(), twin.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


# -- exercise checkers --------------------------------------------------------------------------
def first_spike_solution(x, tau, v_threshold):
    k, v = 1.0 - 1.0 / tau, 0.0
    for t in range(2000):
        v = k * v + x
        if v >= v_threshold:
            return t
        # soft reset never happens before the first spike
    return None


def test_exercise_answer_of_the_wrong_type():
    from ottt_edu.course.exercises import ExerciseError, check_first_spike_time
    assert check_first_spike_time(first_spike_solution)
    as_text = lambda x, tau, th: None if first_spike_solution(x, tau, th) is None else str(first_spike_solution(x, tau, th))
    with pytest.raises(ExerciseError, match=r"returned str '\d+'; expected an int.*not str\(\.\.\.\)"):
        check_first_spike_time(as_text)
    as_bool = lambda x, tau, th: first_spike_solution(x, tau, th) is not None
    with pytest.raises(ExerciseError, match="returned bool True; expected an int"):
        check_first_spike_time(as_bool)
    import numpy as np
    assert check_first_spike_time(lambda *a: None if first_spike_solution(*a) is None
                                  else np.int64(first_spike_solution(*a)))   # numbers are fine


# -- explorers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_explorer_input_strength_not_finite(value):
    from ottt_edu.course import explore
    with pytest.raises(ValueError, match="simulate_lif: input_strength must be a finite number"):
        explore.simulate_lif(input_strength=value)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_explorer_alpha_not_finite(value):
    from ottt_edu.course import explore
    with pytest.raises(ValueError, match="surrogate_curves: alpha must be a finite number"):
        explore.surrogate_curves(alpha=value)


def test_explorer_other_parameters_not_finite():
    from ottt_edu.course import explore
    with pytest.raises(ValueError, match="simulate_lif: tau must be a finite number"):
        explore.simulate_lif(tau=math.inf)
    with pytest.raises(ValueError, match="x_max must be a finite number"):
        explore.surrogate_curves(x_max=math.inf)
    with pytest.raises(ValueError, match="ottt_vs_bptt_sweep: tau must be a finite number"):
        explore.ottt_vs_bptt_sweep(T=2, Ts=(1, 2), tau=math.nan)
    with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*32 - 1\]"):
        explore.simulate_lif(seed=-1)


# -- configurations: seeds, sizes, numbers ------------------------------------------------------
@pytest.mark.parametrize("seed", [-1, 2 ** 32])
def test_config_seed_out_of_range(seed):
    from ottt_edu.train import TrainConfig
    with pytest.raises(ValueError, match=r"TrainConfig: seed must lie in \[0, 2\*\*32 - 1\]"):
        TrainConfig(seed=seed)


@pytest.mark.parametrize("kwargs, phrase", [
    (dict(hidden=(2.5,)), "every entry of hidden must be an integer >= 1, got float 2.5"),
    (dict(batch_size=3.5), "batch_size must be an integer >= 1, got float 3.5"),
    (dict(n_train=10.5), "n_train must be an integer >= 1, got float 10.5"),
    (dict(hidden=128), r"hidden must be a sequence of integers, e.g. hidden=\(128,\)"),
])
def test_config_non_integer_sizes(kwargs, phrase):
    from ottt_edu.train import TrainConfig
    with pytest.raises(ValueError, match=phrase) as e:      # also a TypeError
        TrainConfig(**kwargs)
    assert isinstance(e.value, TypeError)


def test_model_config_non_integer_sizes():
    from ottt_edu.models import ModelConfig
    with pytest.raises(TypeError, match="ModelConfig: every entry of channels must be an integer, got float 1.5"):
        ModelConfig(kind="cnn", channels=(1.5, 2))


@pytest.mark.parametrize("cls", ["TrainConfig", "ModelConfig"])
def test_config_tau_given_as_a_string(cls):
    from ottt_edu.models import ModelConfig
    from ottt_edu.train import TrainConfig
    with pytest.raises(TypeError, match=f"{cls}: tau must be a real number, got str '2.0'"):
        {"TrainConfig": TrainConfig, "ModelConfig": ModelConfig}[cls](tau="2.0")


def test_config_poisson_with_normalised_cifar10():
    from ottt_edu.train import TrainConfig
    with pytest.raises(ValueError, match=r"encoding 'poisson' needs pixel values in \[0, 1\].*cifar10"):
        TrainConfig(dataset="cifar10", encoding="poisson")


def test_fit_seeds_numpy_and_python_too():
    import random

    import numpy as np

    from ottt_edu.train import TrainConfig, fit
    cfg = TrainConfig(hidden=(8,), T=1, epochs=1, n_train=32, n_test=16, quiet=True, seed=5)
    states = []
    for noise in (1, 2):
        np.random.seed(noise), random.seed(noise)          # whatever ran before
        fit(cfg)
        states.append((np.random.get_state()[1].tolist(), random.getstate()))
    assert states[0] == states[1]
    np.random.seed(5)
    assert states[0][0] == np.random.get_state()[1].tolist()


# -- CIFAR-10 files ----------------------------------------------------------------------------
def write_cifar(root, n=2):
    import pickle

    import numpy as np
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        rng = np.random.default_rng(i)
        with open(folder / name, "wb") as f:
            pickle.dump({b"labels": rng.integers(0, 10, n).tolist(),
                         b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}, f, protocol=2)
    return folder


def test_cifar_corrupt_file(tmp_path):
    from ottt_edu.data.cifar import read_cifar10_arrays
    folder = write_cifar(tmp_path)
    (folder / "data_batch_3").write_bytes(b"\x00\x01 this is not a pickle")
    with pytest.raises(ValueError, match=r"data_batch_3 is not a valid CIFAR-10 batch.*extract https://\S+ into \S+ again"):
        read_cifar10_arrays(tmp_path)


def test_cifar_truncated_file(tmp_path):
    from ottt_edu.data.cifar import read_cifar10_arrays
    folder = write_cifar(tmp_path)
    data = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"test_batch is not a valid CIFAR-10 batch \(.*(EOF|truncated)"):
        read_cifar10_arrays(tmp_path)


def test_cifar_wrongly_shaped_file(tmp_path):
    import pickle

    import numpy as np

    from ottt_edu.data.cifar import read_cifar10_arrays
    folder = write_cifar(tmp_path)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"labels": [1, 2], b"data": np.zeros((2, 1024), dtype=np.uint8)}, f, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_2 is not a valid CIFAR-10 batch \(images of shape \(2, 1024\), expected \(N, 3072\)\)"):
        read_cifar10_arrays(tmp_path)


def test_cifar_binary_file_of_the_wrong_size(tmp_path):
    import numpy as np

    from ottt_edu.data.cifar import read_cifar10_arrays
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]:
        np.zeros(2 * 3073, dtype=np.uint8).tofile(folder / name)
    np.zeros(3000, dtype=np.uint8).tofile(folder / "data_batch_4.bin")
    with pytest.raises(ValueError, match=r"data_batch_4.bin is not a valid CIFAR-10 batch \(3000 bytes"):
        read_cifar10_arrays(tmp_path)


# -- checkpoints: resume from a bad checkpoint, full disk ---------------------------------------
def run_config(**kw):
    from ottt_edu.train import TrainConfig
    base = dict(hidden=(8,), T=1, epochs=2, batch_size=16, n_train=32, n_test=16, quiet=True,
                optimizer="sgd", lr=0.1)
    base.update(kw)
    return TrainConfig(**base)


def one_epoch_checkpoint(tmp_path, **kw):
    """A run directory holding epoch_0001.pt of a 2-epoch run (as if stopped after epoch 1)."""
    from ottt_edu.train.run import RunOptions, run_training
    run_training(run_config(**kw), RunOptions(checkpoint_dir=str(tmp_path)),
                 on_epoch_end=lambda state: True)
    return tmp_path / "epoch_0001.pt"


def rewrite(path, change):
    from ottt_edu.train.checkpoint import load_checkpoint, save_checkpoint
    state = load_checkpoint(path)
    change(state)
    state.pop("format")
    save_checkpoint(path, state, overwrite=True)


def test_resume_from_non_finite_weights(tmp_path):
    from ottt_edu.train.checkpoint import CheckpointError
    from ottt_edu.train.run import RunOptions, run_training
    path = one_epoch_checkpoint(tmp_path)
    rewrite(path, lambda s: s["model"]["fc1.weight"].view(-1)[:3].fill_(math.nan))
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"non-finite values \(NaN or inf\) in model fc1.weight \(3 of"):
        run_training(run_config(), RunOptions(checkpoint_dir=str(tmp_path), resume=True))
    assert path.read_bytes() == before


def test_resume_epoch_count_contradicts_history(tmp_path):
    from ottt_edu.train.checkpoint import CheckpointError
    from ottt_edu.train.run import RunOptions, run_training
    path = one_epoch_checkpoint(tmp_path)
    rewrite(path, lambda s: s["history"]["epoch"].append(2))
    with pytest.raises(CheckpointError, match=r"contradicts itself: it says 1 finished epoch\(s\), but its history holds \[1, 2\]"):
        run_training(run_config(), RunOptions(checkpoint_dir=str(tmp_path), resume=True))


def test_resume_epoch_count_beyond_the_runs_epochs(tmp_path):
    from ottt_edu.train.checkpoint import CheckpointError, checkpoint_path
    from ottt_edu.train.run import RunOptions, run_training
    path = one_epoch_checkpoint(tmp_path, epochs=1)

    def three_epochs(s):
        s["epoch"] = 3
        for v in s["history"].values():
            v.extend(v * 2)
        s["history"]["epoch"] = [1, 2, 3]
    rewrite(path, three_epochs)
    path.rename(checkpoint_path(tmp_path, 3))
    with pytest.raises(CheckpointError, match=r"3 finished epoch\(s\), more than this run's --epochs 1"):
        run_training(run_config(epochs=1), RunOptions(checkpoint_dir=str(tmp_path), resume=True))


def fail_writes_after(monkeypatch, n_ok: int, errno_=28):
    """Let the first ``n_ok`` atomic writes succeed; later ones hit a full disk half-way."""
    import tempfile
    import types

    from ottt_edu.train import checkpoint as ckpt
    real_write, failing = ckpt.os.write, set()
    count = {"files": 0}

    def mkstemp(*args, **kwargs):                          # one temporary file per atomic write
        fd, name = tempfile.mkstemp(*args, **kwargs)
        count["files"] += 1
        (failing.add if count["files"] > n_ok else failing.discard)(fd)
        return fd, name

    def write(fd, data):
        if fd in failing:                                  # fails once: the fd is then closed
            failing.discard(fd)
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno_, os.strerror(errno_))
        return real_write(fd, data)
    monkeypatch.setattr(ckpt, "tempfile", types.SimpleNamespace(mkstemp=mkstemp))
    monkeypatch.setattr(ckpt.os, "write", write)



def test_disk_full_while_saving_a_checkpoint(tmp_path, monkeypatch):
    from ottt_edu.train.checkpoint import CheckpointError, load_checkpoint
    from ottt_edu.train.run import RunOptions, run_training
    fail_writes_after(monkeypatch, n_ok=1)
    with pytest.raises(CheckpointError, match=r"no space left on device while writing the checkpoint \S+epoch_0002.pt") as e:
        run_training(run_config(), RunOptions(checkpoint_dir=str(tmp_path)))
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0001.pt"]   # no partial, no tmp
    assert load_checkpoint(tmp_path / "epoch_0001.pt")["epoch"] == 1       # the earlier one intact


def test_disk_full_at_fsync_leaves_nothing_behind(tmp_path, monkeypatch):
    import errno

    from ottt_edu.train import checkpoint as ckpt
    (tmp_path / "old.json").write_text("previous", encoding="utf-8")

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(ckpt.os, "fsync", fsync)
    with pytest.raises(OSError, match=r"no space left on device while writing \S+old.json") as e:
        ckpt.write_atomic(tmp_path / "old.json", b"new contents")
    assert e.value.errno == errno.ENOSPC
    assert [p.name for p in tmp_path.iterdir()] == ["old.json"]
    assert (tmp_path / "old.json").read_text(encoding="utf-8") == "previous"


# -- the command line -------------------------------------------------------------------------
TINY = ["train", "--hidden", "8", "--T", "1", "--epochs", "1", "--n-train", "32", "--n-test", "16",
        "--quiet"]


def cli_error(argv, capsys, code):
    """Run the CLI, expect exit status ``code``; return the last stderr line (the error)."""
    from ottt_edu.train.cli import main
    if code == 2:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
    else:
        assert main(argv) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("python -m ottt_edu") and ": error: " in lines[-1]
    if code != 2:
        assert len(lines) == 1, err                        # one line, no traceback
    return lines[-1]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if training starts: the CLI must refuse before."""
    import ottt_edu.train.run
    import ottt_edu.train.loops

    def trained(*a, **k):
        raise AssertionError("training started before the output paths were checked")
    monkeypatch.setattr(ottt_edu.train.loops, "fit", trained)
    monkeypatch.setattr(ottt_edu.train.run, "run_training", trained)


@pytest.mark.parametrize("option", ["--json", "--png"])
def test_cli_output_under_a_file(option, tmp_path, capsys, no_training):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    line = cli_error(TINY + [option, str(tmp_path / "notes.txt" / "out")], capsys, 2)
    assert f"{option} " in line and "lies under" in line and "notes.txt, which is a file" in line


@pytest.mark.parametrize("option", ["--json", "--png"])
def test_cli_output_is_a_folder(option, tmp_path, capsys, no_training):
    line = cli_error(TINY + [option, str(tmp_path)], capsys, 2)
    assert f"{option} {tmp_path} is a folder; give a file name" in line


@pytest.mark.parametrize("option", ["--json", "--png"])
def test_cli_output_not_writable(option, tmp_path, capsys, monkeypatch, no_training):
    import ottt_edu.train.cli as cli
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    real_access = os.access
    # Root may write anyway, and on Windows (no os.geteuid) a folder's mode bits do not stop
    # writes: there the refusal is simulated.
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        monkeypatch.setattr(cli.os, "access", lambda p, m: False if os.fspath(p) == str(locked)
                            else real_access(p, m))
    try:
        line = cli_error(TINY + [option, str(locked / "out")], capsys, 2)
    finally:
        locked.chmod(0o700)
    assert "cannot be written: no permission to create files in" in line


def test_cli_checkpoint_dir_is_a_file(tmp_path, capsys, no_training):
    (tmp_path / "ckpt").write_text("x", encoding="utf-8")
    line = cli_error(TINY + ["--checkpoint-dir", str(tmp_path / "ckpt")], capsys, 2)
    assert "--checkpoint-dir" in line and "is a file, not a folder" in line


def test_run_training_checkpoint_dir_is_a_file(tmp_path):
    from ottt_edu.train.run import RunOptions, run_training
    (tmp_path / "ckpt").write_text("x", encoding="utf-8")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        run_training(run_config(), RunOptions(checkpoint_dir=str(tmp_path / "ckpt")))


def fit_result():
    from ottt_edu.train import FitResult, TrainConfig
    history = {"epoch": [1], "train_loss": [1.0], "train_acc": [0.5], "test_loss": [1.0],
               "test_acc": [0.5], "lr": [0.1], "time": [0.1]}
    return FitResult(None, history, TrainConfig(), None, None, None)


@pytest.mark.parametrize("kind", ["json", "png"])
def test_cli_outputs_are_written_atomically(kind, tmp_path, monkeypatch):
    from ottt_edu.train import checkpoint as ckpt
    from ottt_edu.train.cli import write_outputs
    target = tmp_path / f"out.{kind}"
    target.write_bytes(b"previous complete file")

    def killed(src, dst):                                  # a kill right before the rename
        raise KeyboardInterrupt
    monkeypatch.setattr(ckpt.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(fit_result(), **{f"{kind}_path": str(target)})
    assert [p.name for p in tmp_path.iterdir()] == [target.name]      # no 0-byte file, no tmp
    assert target.read_bytes() == b"previous complete file"
    monkeypatch.undo()
    write_outputs(fit_result(), **{f"{kind}_path": str(target)})
    assert target.read_bytes()[:1] == b"{" if kind == "json" else target.read_bytes()[:4] == b"\x89PNG"


def test_cli_disk_full_while_writing_json_is_one_line(tmp_path, capsys, monkeypatch):
    fail_writes_after(monkeypatch, n_ok=0)
    line = cli_error(TINY + ["--json", str(tmp_path / "h.json")], capsys, 1)
    assert "no space left on device while writing" in line and "h.json" in line
    assert not list(tmp_path.iterdir())


def test_cli_disk_full_while_saving_a_checkpoint_is_one_line(tmp_path, capsys, monkeypatch):
    fail_writes_after(monkeypatch, n_ok=0)
    line = cli_error(TINY + ["--checkpoint-dir", str(tmp_path / "ck")], capsys, 1)
    assert "no space left on device while writing the checkpoint" in line and "epoch_0001.pt" in line


def test_cli_resume_from_non_finite_weights_is_one_line(tmp_path, capsys):
    path = one_epoch_checkpoint(tmp_path, hidden=(8,), T=1, epochs=2, batch_size=32, n_train=32,
                                n_test=16, optimizer="adam", lr=3e-3)
    rewrite(path, lambda s: s["model"]["readout.bias"].fill_(math.inf))
    argv = ["train", "--hidden", "8", "--T", "1", "--epochs", "2", "--n-train", "32", "--n-test",
            "16", "--quiet", "--checkpoint-dir", str(tmp_path), "--resume"]
    line = cli_error(argv, capsys, 1)
    assert "non-finite values (NaN or inf) in model readout.bias" in line


def test_cli_corrupt_cifar_file_is_one_line(tmp_path, capsys):
    folder = write_cifar(tmp_path)
    (folder / "data_batch_1").write_bytes(b"garbage")
    line = cli_error(["train", "--dataset", "cifar10", "--model", "cnn", "--quiet", "--data-root",
                      str(tmp_path)], capsys, 1)
    assert "data_batch_1 is not a valid CIFAR-10 batch" in line


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5"])
def test_cli_seed_out_of_range(seed, capsys, no_training):
    line = cli_error(TINY + ["--seed", seed], capsys, 2)
    assert "argument --seed: expected an integer in [0, 2**32 - 1]" in line


def test_cli_poisson_with_normalised_cifar10_rejected_at_parse_time(capsys, no_training):
    line = cli_error(["train", "--recipe", "cifar10_paper", "--encoding", "poisson"], capsys, 2)
    assert "encoding 'poisson' needs pixel values in [0, 1]" in line and "--encoding direct" in line


def test_cli_unexpected_error_is_one_line_without_traceback(capsys, monkeypatch):
    import ottt_edu.train.loops

    def broken(*a, **k):
        raise RuntimeError("something deep\nwent wrong")
    monkeypatch.setattr(ottt_edu.train.loops, "fit", broken)
    line = cli_error(TINY, capsys, 1)
    assert line.endswith("error: RuntimeError: something deep went wrong (run with --debug for the traceback)")


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_cli_debug_shows_the_traceback(how, capsys, monkeypatch):
    import ottt_edu.train.loops
    from ottt_edu.train.cli import DEBUG_ENV, main

    def broken(*a, **k):
        raise RuntimeError("something deep")
    monkeypatch.setattr(ottt_edu.train.loops, "fit", broken)
    if how == "environment":
        monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="something deep"):
        main(TINY + (["--debug"] if how == "flag" else []))


def test_checkpoints_of_two_runs_with_one_seed_hold_the_same_numpy_and_python_states(tmp_path):
    import random

    import numpy as np

    from ottt_edu.train.checkpoint import load_checkpoint
    from ottt_edu.train.run import RunOptions, run_training
    states = []
    for noise in (1, 2):
        np.random.seed(noise), random.seed(noise)
        run_training(run_config(epochs=1), RunOptions(checkpoint_dir=str(tmp_path / str(noise))))
        rng = load_checkpoint(tmp_path / str(noise) / "epoch_0001.pt")["rng"][0]
        states.append((rng["numpy"]["keys"], rng["numpy"]["pos"], rng["python"]["internal"]))
    assert torch.equal(states[0][0], states[1][0]) and states[0][1] == states[1][1]
    assert torch.equal(states[0][2], states[1][2])


@pytest.mark.parametrize("argv, phrase", [
    (["--hidden", "2.5"], "argument --hidden: expected an integer >= 1, got '2.5'"),
    (["--batch-size", "8.0"], "argument --batch-size: expected an integer >= 1, got '8.0'"),
    (["--tau", "two"], "argument --tau: expected a positive number, got 'two'"),
    (["--weight-decay", "inf"], "argument --weight-decay: expected a finite number >= 0"),
    (["--recipe", "bogus"], "argument --recipe: invalid choice: 'bogus'"),
])
def test_cli_bad_numbers_name_the_option(argv, phrase, capsys, no_training):
    line = cli_error(TINY + argv, capsys, 2)
    assert phrase in line


def test_cli_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    import ottt_edu.train.loops

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(ottt_edu.train.loops, "fit", interrupted)
    from ottt_edu.train.cli import main
    assert main(TINY) == 130
    assert capsys.readouterr().err == "python -m ottt_edu train: interrupted\n"
