"""Training: ``TrainConfig`` and ``fit`` with OTTT_A, OTTT_O, BPTT, SLTT and FPTT / 训练。

``config`` (``TrainConfig`` and its factories), ``steps`` (one batch of OTTT_A, OTTT_O, BPTT),
``online_steps`` (SLTT, SLTT-K, FPTT), ``loops`` (epochs, evaluation, ``fit``). Built on them and
imported by their own paths: ``run`` (crash-safe, multi-process runs), ``checkpoint``,
``distributed``, ``recipes``, ``cli`` (``python -m ottt_edu train``).
"""
from .config import (METHODS, METHOD_NEURONS, OPTIMIZERS, SCHEDULERS, HISTORY_KEYS, LOSSES,
                     TrainConfig, make_loss, new_history, make_optimizer, make_scheduler,
                     make_loaders, resolve_device, seed_everything)
from .steps import (LossFn, SyncContext, cross_entropy_loss, StepResult, ottt_backward,
                    bptt_backward, ottt_a_step, ottt_o_step, bptt_step)
from .online_steps import online_backward, sltt_step, fptt_step, FPTTStep, DEFAULT_FPTT_ALPHA
from .loops import (STEP_FUNCTIONS, make_step, train_one_epoch, evaluate, predict, TrainState,
                    FitResult, fit, PROGRESS_REFRESHES, Callback)

__all__ = [
    "METHODS", "METHOD_NEURONS", "OPTIMIZERS", "SCHEDULERS", "HISTORY_KEYS", "LOSSES",
    "TrainConfig", "make_loss", "new_history", "make_optimizer", "make_scheduler",
    "make_loaders", "resolve_device", "seed_everything", "LossFn", "SyncContext",
    "cross_entropy_loss", "StepResult", "ottt_backward", "bptt_backward", "ottt_a_step",
    "ottt_o_step", "bptt_step", "online_backward", "sltt_step", "fptt_step", "FPTTStep",
    "DEFAULT_FPTT_ALPHA", "STEP_FUNCTIONS", "make_step", "train_one_epoch", "evaluate",
    "predict", "TrainState", "FitResult", "fit", "PROGRESS_REFRESHES", "Callback",
]
