"""The runtime: seeds, the device choice, the notebooks' run mode and the rehearsal's cut of full mode."""
import random

import numpy as np
import pytest
import torch

from ganhelpers.core import runtime


def test_seed_everything_repeats_all_rngs():
    runtime.seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(2))
    runtime.seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(2))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_device_choice_and_errors(monkeypatch):
    assert runtime.get_device("cpu").type == "cpu"
    assert runtime.get_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        runtime.get_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runtime.get_device("cuda")


def test_run_mode(monkeypatch):
    monkeypatch.setenv("GANHELPERS_MODE", "full")
    assert runtime.run_mode() == "full"
    monkeypatch.setenv("GANHELPERS_MODE", "smoke")
    assert runtime.run_mode() == "smoke"
    monkeypatch.setenv("GANHELPERS_MODE", "fast")
    with pytest.raises(ValueError, match="smoke"):
        runtime.run_mode()
    monkeypatch.setenv("GANHELPERS_MODE", "cpu")  # a notebook's own reference protocol
    assert runtime.run_mode(extra=("cpu",)) == "cpu"
    with pytest.raises(ValueError, match="other notebooks"):
        runtime.run_mode()  # a notebook without that protocol refuses it
    monkeypatch.delenv("GANHELPERS_MODE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.run_mode() == "smoke"  # no GPU: the quick version by default
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.run_mode() == "smoke"  # an Apple laptop too: full mode means CIFAR-10 for 30 minutes on CUDA
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.run_mode() == "full"


def test_rehearse_cuts_only_the_counts_of_full_mode(monkeypatch, capsys):
    full = dict(dataset="cifar10", base=64, batch_size=128, steps=40_000, demo_steps=10_000, minutes=30, seconds=120,
                log_every=50, ckpt_every=1000, metric_every=5000, every=1000, n_metric=10_000, per_class=500, n=10_000,
                n_critic=5, n_images=None, sizes=(500, 1000, 10_000), amp="auto", channels_last=True, resume=False,
                out_dir="runs/x", search=dict(minutes=10, trials=8), lr=2e-4)
    monkeypatch.delenv("GANHELPERS_REHEARSAL", raising=False)
    assert runtime.rehearse(full, "full") is full  # no switch: untouched
    monkeypatch.setenv("GANHELPERS_REHEARSAL", "1")
    assert runtime.rehearse(full, "smoke") is full  # smoke mode is already small
    cut = runtime.rehearse(full, "full")
    assert cut == dict(full, steps=2, demo_steps=2, minutes=0.5, seconds=2.0, log_every=1, ckpt_every=1,
                       metric_every=1, every=1, n_metric=10, per_class=8, n=10, sizes=(8, 8, 10),
                       search=dict(minutes=10 / 60, trials=2))
    assert "steps 40000 -> 2" in capsys.readouterr().out  # the notebook says what it cut
    monkeypatch.setenv("GANHELPERS_REHEARSAL", "maybe")
    with pytest.raises(ValueError, match="GANHELPERS_REHEARSAL"):
        runtime.rehearse(full, "full")


def test_environment_names_what_a_record_needs_and_loads_with_weights_only(tmp_path):
    from ganhelpers.core.checkpoint import load_checkpoint, save_checkpoint
    env = runtime.environment("cpu")
    assert env["torch"] == torch.__version__ and type(env["torch"]) is str  # TorchVersion would not load
    assert env["device"] == "cpu" and env["gpu"] is None and env["threads"] == torch.get_num_threads()
    assert env["cores"] >= 1 and env["cpu"] and env["date"].endswith("+00:00")
    assert len(env["load"]) == 3 and all(x >= 0 for x in env["load"])  # Linux has a load average
    save_checkpoint({"meta": {"parts": [{"environment": env}]}}, tmp_path / "c.pt")  # config.json meta lives here too
    assert load_checkpoint(tmp_path / "c.pt")["meta"]["parts"][0]["environment"] == env
