"""The judges' training script: its augmentation and a run on a tiny set that records what it made."""
import pytest
import torch

from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.data import load_dataset, to_float
from ganhelpers.eval import train_judges
from ganhelpers.eval.extractors import FEATURE_DIM


def test_augment_keeps_shape_range_and_is_identity_without_jitter():
    x = to_float(load_dataset("mnist-5k", "test", n=8).images)
    g = torch.Generator().manual_seed(0)
    assert torch.allclose(train_judges.augment(x, g, 0, 0, 0), x, atol=1e-5)
    y = train_judges.augment(x, g, 2.5, 12, 0.12)
    assert y.shape == x.shape and y.min() >= -1 - 1e-5 and y.max() <= 1 + 1e-5 and not torch.allclose(x, y)


def test_train_judge_script_runs_and_records_what_it_made(monkeypatch, tmp_path):
    small = {split: load_dataset("mnist-5k", split, n=n) for split, n in (("train", 256), ("test", 100))}
    monkeypatch.setattr(train_judges, "load_dataset", lambda name, split, seed=0: small[split])
    monkeypatch.setitem(train_judges.RECIPES, "mnist-5k",
                        dict(epochs=1, batch_size=64, shift=1, degrees=5, scale=0.05, lr=3e-3))
    torch.manual_seed(3)
    before = torch.get_rng_state()
    record = train_judges.train_judge("mnist-5k", out=tmp_path / "j.pt", verbose=False)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is untouched
    saved = load_checkpoint(tmp_path / "j.pt")
    assert saved["meta"]["n_test"] == 100 and 0 <= saved["meta"]["test_accuracy"] <= 1
    assert saved["state_dict"]["head.weight"].dtype == torch.float16  # halves the shipped file
    ref = saved["reference"]["mnist-5k/train"]
    assert ref["n"] == 256 and ref["sigma"].shape == (FEATURE_DIM, FEATURE_DIM)
    assert record["meta"] == saved["meta"]


def test_main_checks_the_shipped_judges_and_refuses_unknown_names(capsys):
    assert train_judges.main(["--check", "mnist-5k"]) == 0
    assert capsys.readouterr().out.startswith("mnist-5k: held-out accuracy 0.9")
    with pytest.raises(SystemExit) as exit_info:
        train_judges.main(["cifar10"])
    assert exit_info.value.code == 2 and "no judge for 'cifar10'" in capsys.readouterr().err
