"""Checkpoint I/O: RNG states, atomic and weights-only checkpoints, atomic text files and history.csv."""
import csv
import pickle
import random

import numpy as np
import pytest
import torch

from ganhelpers.core import checkpoint
from ganhelpers.core.runtime import seed_everything


def test_rng_state_round_trip_through_a_weights_only_checkpoint(tmp_path):
    seed_everything(7)
    state = checkpoint.rng_state()
    expected = (random.random(), np.random.rand(), torch.randn(3))
    checkpoint.save_checkpoint({"rng": state}, tmp_path / "c.pt")
    seed_everything(99)
    checkpoint.set_rng_state(checkpoint.load_checkpoint(tmp_path / "c.pt")["rng"])
    got = (random.random(), np.random.rand(), torch.randn(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_load_errors_say_what_happened(tmp_path):
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_checkpoint({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="(?i)cuda") as info:  # torch's own message, not "not a checkpoint"
        checkpoint.load_checkpoint(path, map_location="cuda:7")
    assert "refusing" not in str(info.value)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(ValueError, match="truncated or damaged|refusing"):
        checkpoint.load_checkpoint(path)


def test_text_files_are_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    checkpoint.write_text_atomic(path, "old")
    monkeypatch.setattr(checkpoint.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        checkpoint.write_text_atomic(path, "new")
    assert path.read_text() == "old"


def test_partial_write_never_replaces_a_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    checkpoint.save_checkpoint({"w": torch.ones(3)}, path)

    def crash_halfway(obj, f):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(checkpoint.load_checkpoint(path)["w"], torch.ones(3))
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
        checkpoint.load_checkpoint(path)
    assert not mark.exists()  # the payload never ran
    # a plain pickle (not a torch zip file) is refused too
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="refusing to load"):
        checkpoint.load_checkpoint(path)
    assert not mark.exists()


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="train first"):
        checkpoint.load_checkpoint(tmp_path / "nope.pt")


def test_rng_state_includes_the_mps_generator(monkeypatch):
    # steps draw their noise on the training device: on an Apple laptop resume must restore the MPS generator
    store = {"mps": torch.tensor([1, 2, 3], dtype=torch.uint8)}
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: store["mps"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: store.update(mps=state.clone()))
    state = checkpoint.rng_state()
    assert torch.equal(state["mps"], torch.tensor([1, 2, 3], dtype=torch.uint8))
    store["mps"] = torch.tensor([9, 9, 9], dtype=torch.uint8)  # the generator moves on
    checkpoint.set_rng_state(state)
    assert torch.equal(store["mps"], torch.tensor([1, 2, 3], dtype=torch.uint8))


def test_history_csv_merges_metric_columns(tmp_path):
    history = {"step": [10, 20], "loss_D": [1.0, 0.5], "fid": [30.0], "fid_step": [20]}
    checkpoint.write_history_csv(history, tmp_path / "h.csv")
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    assert rows == [{"step": "10", "loss_D": "1.0", "fid": ""}, {"step": "20", "loss_D": "0.5", "fid": "30.0"}]
