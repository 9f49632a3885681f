"""Command line: ``python -m ottt_edu train --dataset digits --method ottt_a --T 6 ...``.

English
    ``build_parser()`` builds the ``argparse`` parser (one sub-command, ``train``, whose options
    mirror ``TrainConfig``; ``add_train_arguments`` can be reused or extended), and
    ``main(argv)`` parses, trains with ``train.fit``, prints a line per epoch and the final test
    accuracy, and optionally writes the history as JSON (``--json``) and the learning curves
    as PNG (``--png``), both atomically. Bad arguments get argparse errors (exit status 2),
    output paths that could not be written included, before anything trains; any later error
    (a dataset that cannot be loaded, a damaged checkpoint, a full disk) is one line that says
    how to fix it (exit status 1); ``--debug`` or ``OTTT_EDU_DEBUG=1`` shows the traceback. ``--recipe cifar10_paper`` starts from the
    paper's CIFAR-10 settings; ``--checkpoint-dir``/``--resume`` and ``torchrun`` go through
    ``ottt_edu.train.run.run_training`` (checkpoints, exact resume, DistributedDataParallel).
中文
    命令行入口: ``python -m ottt_edu train ...``; 参数对应 ``TrainConfig``, 训练结束后打印测试准确率,
    可选地把训练历史写为 JSON、把学习曲线写为 PNG。

Reference: Xiao et al., "Online Training Through Time for Spiking Neural Networks", NeurIPS 2022
(arXiv 2210.04195).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from ..data import DATASETS
from ..functional.encoding import ENCODINGS
from ..models import MODELS
from ..threads import capped_threads
from .checkpoint import CheckpointError, write_atomic
from .distributed import is_torchrun
from .recipes import RECIPES, get_recipe
from .config import LOSSES, METHODS, OPTIMIZERS, SCHEDULERS, TrainConfig
from .loops import FitResult, TrainState

__all__ = ["build_parser", "add_train_arguments", "config_from_args", "main", "write_outputs",
           "recipe_defaults", "check_output_paths", "output_path_problem", "DEBUG_ENV"]

#: Set to 1 to get tracebacks instead of one-line errors (as ``--debug`` does).
DEBUG_ENV = "OTTT_EDU_DEBUG"
_PROG = "python -m ottt_edu train"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number (finite), got {text}")
    return value


def tau_type(text: str) -> float:
    """argparse type: a membrane time constant > 1."""
    value = positive_float(text)
    if not value > 1:
        raise argparse.ArgumentTypeError(f"tau must be greater than 1 (leak 1 - 1/tau in (0, 1)), got {value}")
    return value


def seed_type(text: str) -> int:
    """argparse type: a seed every generator accepts, an integer in [0, 2**32 - 1]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32 - 1], got {text!r}") from None
    if not 0 <= value <= 2 ** 32 - 1:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, 2**32 - 1] (numpy's seed range), got {value}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``TrainConfig`` (and the output options) to ``parser``."""
    d = TrainConfig()
    what = parser.add_argument_group("what to train")
    what.add_argument("--dataset", choices=sorted(DATASETS), default=d.dataset)
    what.add_argument("--model", choices=sorted(MODELS), default=d.model)
    what.add_argument("--method", choices=list(METHODS), default=d.method,
                      help="ottt_a: accumulate over T, one step; ottt_o: a step every time step; "
                           "bptt: unrolled; sltt: SLTT neurons, no trace; fptt: a step every time "
                           "step with FPTT's regulariser (default: %(default)s)")
    what.add_argument("--sltt-k", type=positive_int, default=d.sltt_k, metavar="K",
                      help="--method sltt only: SLTT-K, backward at K random steps of T (default: all)")
    what.add_argument("--fptt-alpha", type=positive_float, default=None, metavar="ALPHA",
                      help=f"--method fptt only: FPTT's regularisation strength (default: {d.fptt_alpha})")
    what.add_argument("--T", type=positive_int, default=d.T, help="time steps (default: %(default)s)")
    what.add_argument("--tau", type=tau_type, default=d.tau, help="membrane time constant (default: %(default)s)")
    what.add_argument("--hidden", type=positive_int, nargs="+", default=list(d.hidden),
                      help="MLP hidden widths (default: %(default)s)")
    what.add_argument("--channels", type=positive_int, nargs="+", default=list(d.channels),
                      help="CNN conv channels (default: %(default)s)")
    what.add_argument("--dropout", type=fraction, default=d.dropout)
    what.add_argument("--width", type=positive_float, default=d.width,
                      help="channel multiplier of --model vgg (1.0: the paper's network)")
    what.add_argument("--encoding", choices=list(ENCODINGS), default=d.encoding)
    what.add_argument("--loss", choices=sorted(LOSSES), default=d.loss)
    how = parser.add_argument_group("how to train")
    how.add_argument("--epochs", type=positive_int, default=d.epochs, help="(default: %(default)s)")
    how.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="(default: %(default)s)")
    how.add_argument("--lr", type=positive_float, default=d.lr, help="(default: %(default)s)")
    how.add_argument("--optimizer", choices=list(OPTIMIZERS), default=d.optimizer)
    how.add_argument("--momentum", type=fraction, default=d.momentum, help="SGD momentum")
    how.add_argument("--weight-decay", type=non_negative_float, default=d.weight_decay)
    how.add_argument("--scheduler", choices=list(SCHEDULERS), default=d.scheduler)
    how.add_argument("--seed", type=seed_type, default=d.seed, help="in [0, 2**32 - 1]; seeds torch, "
                     "numpy and Python's random (default: %(default)s)")
    how.add_argument("--device", default=d.device, help="cpu, cuda, cuda:N or auto (default: %(default)s)")
    how.add_argument("--threads", type=positive_int, default=None,
                     help="torch CPU threads (default: torch's choice)")
    data = parser.add_argument_group("data")
    data.add_argument("--n-train", type=positive_int, default=None, help="use a seeded subset of the training set")
    data.add_argument("--n-test", type=positive_int, default=None, help="use a seeded subset of the test set")
    data.add_argument("--data-root", default=None,
                      help="folder of optional dataset files (default: $OTTT_EDU_DATA or ~/.cache/ottt_edu/data)")
    data.add_argument("--download", action="store_true", help="let torchvision download missing files")
    run = parser.add_argument_group(
        "recipes, checkpoints and processes",
        "Start several processes with `torchrun --nproc_per_node=N -m ottt_edu train ...` "
        "(DistributedDataParallel; --batch-size is per process). Only rank 0 prints and writes.")
    run.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                     help="start from a named recipe's settings (explicit options still win): "
                          + "; ".join(f"{r.name}: {r.description}" for r in RECIPES.values()))
    run.add_argument("--checkpoint-dir", metavar="DIR", default=None,
                     help="write an atomic checkpoint to DIR after every epoch")
    run.add_argument("--resume", action="store_true",
                     help="continue from the latest checkpoint in --checkpoint-dir (fresh start if none)")
    run.add_argument("--keep-last", type=positive_int, default=None, metavar="N",
                     help="keep only the N newest checkpoints (default: all)")
    out = parser.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")
    out.add_argument("--json", metavar="PATH", default=None, help="write config and history as JSON")
    out.add_argument("--png", metavar="PATH", default=None, help="write the learning curves as PNG")
    out.add_argument("--debug", action="store_true",
                     help=f"show the full traceback of an error (or set {DEBUG_ENV}=1)")
    return parser


def build_parser(defaults: Optional[dict] = None) -> argparse.ArgumentParser:
    """The ``python -m ottt_edu`` parser, with the ``train`` sub-command.

    ``defaults`` (e.g. a recipe's ``overrides()``) replace the ``train`` options' defaults.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ottt_edu",
        description="Train spiking networks with OTTT (Xiao et al., NeurIPS 2022) or BPTT.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train = sub.add_parser(
        "train", help="train a spiking network and report its test accuracy",
        description="Train a spiking network with OTTT_A, OTTT_O, BPTT, SLTT or FPTT and report "
                    "test accuracy.")
    add_train_arguments(train)
    if defaults:
        train.set_defaults(**defaults)
    return parser


def recipe_defaults(argv: Optional[Sequence[str]]) -> Optional[dict]:
    """The defaults of the recipe named by ``--recipe NAME`` in ``argv`` (``None`` if absent)."""
    pre = argparse.ArgumentParser(add_help=False, prog=_PROG)
    pre.add_argument("--recipe", choices=sorted(RECIPES), default=None)
    known, _ = pre.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    return None if known.recipe is None else get_recipe(known.recipe).overrides()


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` described by parsed arguments."""
    return TrainConfig(
        dataset=args.dataset, model=args.model, method=args.method, T=args.T, tau=args.tau,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        momentum=args.momentum, weight_decay=args.weight_decay, scheduler=args.scheduler,
        encoding=args.encoding, loss=args.loss, hidden=tuple(args.hidden),
        channels=tuple(args.channels), dropout=args.dropout, width=args.width, seed=args.seed,
        quiet=args.quiet,
        device=args.device, n_train=args.n_train, n_test=args.n_test, data_root=args.data_root,
        download=args.download, sltt_k=args.sltt_k,
        fptt_alpha=TrainConfig.fptt_alpha if args.fptt_alpha is None else args.fptt_alpha)


def output_path_problem(path: str, kind: str = "file") -> Optional[str]:
    """Why ``path`` could not be written as a ``kind`` (``'file'`` or ``'folder'``), or ``None``.

    Checked before training starts, so that no result is lost at the end: a file path must not
    be a folder nor lie under a file; a folder path must not be a file; the nearest existing
    folder must accept new files (``--json``/``--png`` are written atomically, through a
    temporary file next to them).
    """
    p = Path(path)
    if kind == "file" and p.is_dir():
        return f"is a folder; give a file name in it, e.g. {p / 'run.json'}"
    if kind == "folder" and p.exists() and not p.is_dir():
        return "is a file, not a folder"
    if kind == "file" and p.exists() and not os.access(p, os.W_OK):
        return "exists and is not writable"
    existing = p if kind == "folder" and p.is_dir() else p.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"lies under {existing}, which is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot be written: no permission to create files in {existing}"
    try:                                   # read-only file systems, ACLs: try for real
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".ottt_edu-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot be written: creating a file in {existing} fails ({e.strerror or e})"
    return None


def check_output_paths(args: argparse.Namespace) -> list[str]:
    """One message per output option of ``args`` that could not be written (before training)."""
    problems = []
    for option, path, kind in (("--json", args.json, "file"), ("--png", args.png, "file"),
                               ("--checkpoint-dir", args.checkpoint_dir, "folder")):
        if path:
            why = output_path_problem(path, kind)
            if why is not None:
                problems.append(f"{option} {path} {why}")
    if args.json and args.png and os.path.abspath(args.json) == os.path.abspath(args.png):
        problems.append(f"--json and --png are the same file ({args.json})")
    return problems


def write_outputs(result: FitResult, json_path: Optional[str] = None,
                  png_path: Optional[str] = None) -> None:
    """Write ``{'config': ..., 'history': ...}`` as JSON and/or the learning curves as PNG.

    Both are written atomically (``checkpoint.write_atomic``: temporary file, fsync, replace),
    so a crash or a full disk never leaves a partial or empty file.
    """
    if json_path:
        text = json.dumps({"config": result.config.to_dict(), "history": result.history}, indent=2)
        write_atomic(json_path, text.encode("utf-8"))
    if png_path:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        from ..viz import plot_learning_curves

        fig = Figure(figsize=(9, 3.2))
        ax_loss, ax_acc = fig.subplots(1, 2)
        plot_learning_curves(ax_loss, result.history, keys=("train_loss", "test_loss"))
        plot_learning_curves(ax_acc, result.history, keys=("train_acc", "test_acc"))
        ax_loss.set_title("Loss")
        ax_acc.set_title("Accuracy")
        c = result.config
        fig.suptitle(f"{c.method} on {c.dataset} ({c.model}, T={c.T}, tau={c.tau})")
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        write_atomic(png_path, png.getbuffer())


def _epoch_line(state: TrainState) -> None:
    from tqdm.auto import tqdm

    h = state.history
    tqdm.write(f"epoch {h['epoch'][-1]:3d}  train loss {h['train_loss'][-1]:.4f}  "
               f"train acc {h['train_acc'][-1]:.4f}  test loss {h['test_loss'][-1]:.4f}  "
               f"test acc {h['test_acc'][-1]:.4f}  ({h['time'][-1]:.1f} s training)")


def one_line(message: str) -> str:
    """``message`` with its lines joined: a command-line error is one line."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def debug_requested(argv: Optional[Sequence[str]]) -> bool:
    """``--debug`` among the arguments, or ``$OTTT_EDU_DEBUG`` set to something other than 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    return "--debug" in args or os.environ.get(DEBUG_ENV, "0") not in ("", "0")


#: Errors whose message is written for the user (no type name is added to the one line).
_CLEAR_ERRORS = (ImportError, OSError, CheckpointError, ValueError, TypeError, FloatingPointError)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``python -m ottt_edu``; returns the exit status.

    Bad options: argparse's usage line and a one-line error, exit status 2, before anything is
    loaded or trained (output paths included). Any later error: one line on stderr, exit
    status 1 (130 for Ctrl-C); ``--debug`` or ``OTTT_EDU_DEBUG=1`` shows the traceback instead.
    """
    debug = debug_requested(argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:                 # SystemExit (argparse, exit 2) passes through
        if debug:
            raise
        text = one_line(e) or type(e).__name__
        if not isinstance(e, _CLEAR_ERRORS):
            text = f"{type(e).__name__}: {text} (run with --debug for the traceback)"
        print(f"{_PROG}: error: {text}", file=sys.stderr)
        return 1


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser(recipe_defaults(argv))
    args = parser.parse_args(argv)
    if args.command != "train":  # pragma: no cover - argparse enforces the choices
        parser.error(f"unknown command {args.command!r}")
    if args.fptt_alpha is not None and args.method != "fptt":
        parser.error(f"--fptt-alpha applies to --method fptt only (got --method {args.method}); "
                     f"drop it, or train with --method fptt.")
    try:
        config = config_from_args(args)
    except ValueError as e:
        parser.error(one_line(e))
    import torch

    from .config import resolve_device
    from .loops import fit

    try:
        resolve_device(config.device)
    except RuntimeError as e:
        parser.error(one_line(e))
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir DIR (the directory to resume from).")
    problems = check_output_paths(args)
    if problems:
        parser.error("; ".join(problems))
    if args.threads is not None:
        n, note = capped_threads(args.threads, f"--threads {args.threads}")
        if note:
            print(f"note: {note}", file=sys.stderr)
        torch.set_num_threads(n)
    distributed = is_torchrun()
    is_main = not distributed or os.environ.get("RANK") == "0"
    if distributed or args.checkpoint_dir is not None:
        from tqdm.auto import tqdm

        from .run import RunOptions, run_training

        options = RunOptions(checkpoint_dir=args.checkpoint_dir, resume=args.resume,
                             keep_last=args.keep_last, distributed=distributed,
                             log=None if args.quiet else tqdm.write)
        result = run_training(config, options, on_epoch_end=None if args.quiet else _epoch_line)
    else:
        result = fit(config, on_epoch_end=None if args.quiet else _epoch_line)
    if not is_main:  # only rank 0 reports and writes files
        return 0
    h = result.history
    print(f"final test accuracy: {h['test_acc'][-1]:.4f} ({config.method}, {config.dataset}, "
          f"{config.model}, T={config.T}; {h['time'][-1]:.1f} s training, {len(h['epoch'])} epochs)")
    write_outputs(result, args.json, args.png)
    return 0
