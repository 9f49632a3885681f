"""Tests for the command line ``python -m ottt_edu train``: a short run with JSON/PNG output,
argparse errors for bad arguments, and a clear error for an unavailable dataset."""
import json
import subprocess
import sys

import pytest

from ottt_edu.train.cli import build_parser, config_from_args, main


def test_short_run_writes_json_and_png(tmp_path, capsys):
    js, png = tmp_path / "out" / "h.json", tmp_path / "c.png"
    rc = main(["train", "--dataset", "digits", "--method", "ottt_a", "--T", "2", "--epochs", "2",
               "--hidden", "16", "--n-train", "64", "--n-test", "32", "--seed", "1",
               "--json", str(js), "--png", str(png)])
    assert rc == 0
    out = capsys.readouterr()
    assert "final test accuracy:" in out.out
    assert "epoch   2" in out.out + out.err
    saved = json.loads(js.read_text(encoding="utf-8"))
    assert saved["config"]["T"] == 2 and saved["config"]["hidden"] == [16]
    assert saved["history"]["epoch"] == [1, 2] and len(saved["history"]["test_acc"]) == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quiet_prints_only_the_result(capsys):
    assert main(["train", "--method", "bptt", "--T", "1", "--epochs", "1", "--hidden", "8",
                 "--n-train", "32", "--n-test", "16", "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("final test accuracy:") and out.out.count("\n") == 1
    assert out.err == ""


def test_parser_defaults_match_train_config():
    from ottt_edu.train import TrainConfig
    args = build_parser().parse_args(["train"])
    assert config_from_args(args) == TrainConfig()


@pytest.mark.parametrize("argv, match", [
    (["train", "--dataset", "cifar100"], "invalid choice: 'cifar100'"),
    (["train", "--method", "sgd"], "invalid choice: 'sgd'"),
    (["train", "--T", "0"], "--T: expected an integer >= 1"),
    (["train", "--T", "two"], "--T: expected an integer >= 1"),
    (["train", "--tau", "1"], "tau must be greater than 1"),
    (["train", "--lr", "-3"], "--lr: expected a positive number"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--dropout", "1.5"], "--dropout"),
    (["train", "--device", "tpu"], "device must be"),
    ([], "required: COMMAND"),
])
def test_bad_arguments_are_argparse_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert match in capsys.readouterr().err


def test_missing_torchvision_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    assert main(["train", "--dataset", "mnist", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "pip install torchvision" in err


def test_module_entry_point_help():
    r = subprocess.run([sys.executable, "-m", "ottt_edu", "train", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "--method {ottt_a,ottt_o,bptt,sltt,fptt}" in r.stdout
