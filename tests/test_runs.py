"""Run folders: read_config and load_generator rebuild a run's generator from config.json and its weights."""
import json

import pytest
import torch

from ganhelpers.core import seed_everything
from ganhelpers.core.checkpoint import save_checkpoint
from ganhelpers.models.conditional import ConditionalGenerator
from ganhelpers.models.sagan import build_sagan
from ganhelpers.runs import load_generator, read_config
from tests.helpers import make_run


def test_read_config(tmp_path):
    run = make_run(tmp_path / "run", "cgan")
    assert read_config(run) == {"model": "cgan", "dataset": "mnist-5k", "z_dim": 16, "img_shape": [1, 28, 28],
                                "n_classes": 10, "train": {}}
    with pytest.raises(FileNotFoundError, match="is not a run folder: it has no config.json"):
        read_config(tmp_path / "nothing")


def test_load_generator_rebuilds_the_model_with_its_weights_in_eval_mode(tmp_path):
    run = make_run(tmp_path / "run", "cgan", step=7)
    G, meta = load_generator(run)
    assert isinstance(G, ConditionalGenerator) and not G.training and G.z_dim == 16 and G.n_classes == 10
    assert meta["step"] == 7 and meta["model"] == "cgan"
    saved = torch.load(run / "checkpoint.pt", weights_only=True)["G"]
    assert all(torch.equal(v, saved[k]) for k, v in G.state_dict().items())
    with pytest.raises(FileNotFoundError, match="train first"):
        load_generator(run, weights="best.pt")


def test_load_generator_reads_best_pt_and_the_build_options_of_a_search_trial(tmp_path):
    run = make_run(tmp_path / "run", "sagan")  # config.json and an untrained checkpoint.pt of the default width
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "build": {"base": 8}}))  # as a searched width records it
    seed_everything(1)
    narrow, _ = build_sagan((1, 28, 28), 10, 16, base=8)
    save_checkpoint({"G": narrow.state_dict(), "step": 4}, run / "best.pt")
    G, meta = load_generator(run, weights="best.pt")
    assert meta["step"] == 4 and all(torch.equal(v, narrow.state_dict()[k]) for k, v in G.state_dict().items())
    with pytest.raises(RuntimeError, match="size mismatch"):  # checkpoint.pt holds the default width, not base 8
        load_generator(run)
