import pickle
import random

import numpy as np
import pytest
import torch

from ganhelpers import utils


def test_seed_everything_repeats_all_rngs():
    utils.seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(2))
    utils.seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(2))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_rng_state_round_trip_through_a_weights_only_checkpoint(tmp_path):
    utils.seed_everything(7)
    state = utils.rng_state()
    expected = (random.random(), np.random.rand(), torch.randn(3))
    utils.save_checkpoint({"rng": state}, tmp_path / "c.pt")
    utils.seed_everything(99)
    utils.set_rng_state(utils.load_checkpoint(tmp_path / "c.pt")["rng"])
    got = (random.random(), np.random.rand(), torch.randn(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_device_choice_and_errors(monkeypatch):
    assert utils.get_device("cpu").type == "cpu"
    assert utils.get_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        utils.get_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        utils.get_device("cuda")


def test_run_mode(monkeypatch):
    monkeypatch.setenv("GANHELPERS_MODE", "full")
    assert utils.run_mode() == "full"
    monkeypatch.setenv("GANHELPERS_MODE", "smoke")
    assert utils.run_mode() == "smoke"
    monkeypatch.setenv("GANHELPERS_MODE", "fast")
    with pytest.raises(ValueError, match="smoke"):
        utils.run_mode()
    monkeypatch.delenv("GANHELPERS_MODE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert utils.run_mode() == "smoke"  # no GPU: the quick version by default
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert utils.run_mode() == "smoke"  # an Apple laptop too: full mode means CIFAR-10 for 30 minutes on CUDA
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert utils.run_mode() == "full"


def test_load_errors_say_what_happened(tmp_path):
    path = tmp_path / "checkpoint.pt"
    utils.save_checkpoint({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="(?i)cuda") as info:  # torch's own message, not "not a checkpoint"
        utils.load_checkpoint(path, map_location="cuda:7")
    assert "refusing" not in str(info.value)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(ValueError, match="truncated or damaged|refusing"):
        utils.load_checkpoint(path)


def test_text_files_are_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    utils.write_text_atomic(path, "old")
    monkeypatch.setattr(utils.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        utils.write_text_atomic(path, "new")
    assert path.read_text() == "old"


def test_partial_write_never_replaces_a_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    utils.save_checkpoint({"w": torch.ones(3)}, path)

    def crash_halfway(obj, f):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        utils.save_checkpoint({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(utils.load_checkpoint(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind


class Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['EVIL_MARK']).write_text('pwned')",))


def test_malicious_pickle_is_refused(tmp_path, monkeypatch):
    mark = tmp_path / "mark"
    monkeypatch.setenv("EVIL_MARK", str(mark))
    path = tmp_path / "evil.pt"
    torch.save({"G": Evil()}, path)
    with pytest.raises(ValueError, match="refusing to load"):
        utils.load_checkpoint(path)
    assert not mark.exists()  # the payload never ran
    # a plain pickle (not a torch zip file) is refused too
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="refusing to load"):
        utils.load_checkpoint(path)
    assert not mark.exists()


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="train first"):
        utils.load_checkpoint(tmp_path / "nope.pt")


def test_rng_state_includes_the_mps_generator(monkeypatch):
    # steps draw their noise on the training device: on an Apple laptop resume must restore the MPS generator
    store = {"mps": torch.tensor([1, 2, 3], dtype=torch.uint8)}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: store["mps"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: store.update(mps=state.clone()))
    state = utils.rng_state()
    assert torch.equal(state["mps"], torch.tensor([1, 2, 3], dtype=torch.uint8))
    store["mps"] = torch.tensor([9, 9, 9], dtype=torch.uint8)  # the generator moves on
    utils.set_rng_state(state)
    assert torch.equal(store["mps"], torch.tensor([1, 2, 3], dtype=torch.uint8))


def test_rehearse_cuts_only_the_counts_of_full_mode(monkeypatch, capsys):
    full = dict(dataset="cifar10", base=64, batch_size=128, steps=40_000, demo_steps=10_000, minutes=30, seconds=120,
                log_every=50, ckpt_every=1000, metric_every=5000, every=1000, n_metric=10_000, per_class=500, n=10_000,
                n_critic=5, n_images=None, sizes=(500, 1000, 10_000), amp="auto", channels_last=True, resume=False,
                out_dir="runs/x", search=dict(minutes=10, trials=8), lr=2e-4)
    monkeypatch.delenv("GANHELPERS_REHEARSAL", raising=False)
    assert utils.rehearse(full, "full") is full  # no switch: untouched
    monkeypatch.setenv("GANHELPERS_REHEARSAL", "1")
    assert utils.rehearse(full, "smoke") is full  # smoke mode is already small
    cut = utils.rehearse(full, "full")
    assert cut == dict(full, steps=2, demo_steps=2, minutes=0.5, seconds=2.0, log_every=1, ckpt_every=1,
                       metric_every=1, every=1, n_metric=10, per_class=8, n=10, sizes=(8, 8, 10),
                       search=dict(minutes=10 / 60, trials=2))
    assert "steps 40000 -> 2" in capsys.readouterr().out  # the notebook says what it cut
    monkeypatch.setenv("GANHELPERS_REHEARSAL", "maybe")
    with pytest.raises(ValueError, match="GANHELPERS_REHEARSAL"):
        utils.rehearse(full, "full")
