"""ganhelpers/reference.py: the reference set's commands, one run end to end through the command line (records
for G_ema and G, skipped when recorded), and its fp16 export, which `ganhelpers.reference.load_reference` loads."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from ganhelpers import reference
from ganhelpers.records import check_citations


def test_ema_settings_average_the_last_tenth_from_halfway():
    assert reference.ema_settings(1000) == (0.99, 500)
    assert reference.ema_settings(11_000) == (0.999091, 5500)


def test_commands_name_portable_paths_and_the_recipe():
    train, score, raw, sample = reference.commands("dcgan", 0)
    assert train[:8] == ["train", "dcgan", "--dataset", "mnist-5k", "--steps", "2200", "--seed", "0"]
    assert train[train.index("--ema") + 1] == str(reference.ema_settings(2200)[0])
    assert score[-1] == "data/records/reference/dcgan/seed0.json" and "--raw" in raw
    assert sample[-1] == "data/gallery/dcgan.png" and sample[1] == "runs/reference/dcgan-seed0"
    assert len(reference.commands("dcgan", 1)) == 3  # only seed 0 draws the gallery's grid


def test_a_variant_trains_the_same_time_with_its_change_and_records_apart(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reference, "RECORDS_DIR", tmp_path)
    (tmp_path / "bench_augment.json").write_text(json.dumps({"results": {"dcgan": {"ratio": 1.1}}}))
    assert reference.variant_steps("dcgan", "augment") == 2000 and reference.variant_steps("dcgan") == 2200
    train, score, raw = reference.commands("dcgan", 0, "augment")  # no gallery grid for a variant
    assert train[train.index("--steps") + 1] == "2000" and train[train.index("--augment") + 1] == "translation,cutout"
    assert train[train.index("--ema") + 1] == str(reference.ema_settings(2000)[0])
    assert train[train.index("--out") + 1] == "runs/reference/dcgan-augment-seed0"
    assert score[-1] == "data/records/reference/dcgan-augment/seed0.json"
    with pytest.raises(ValueError, match="no cost ratio for 'gan'"):
        reference.variant_steps("gan", "augment")
    with pytest.raises(SystemExit):  # before any training
        reference.main(["gan", "--variant", "augment", "--seeds", "0"])
    assert "run its benchmark for gan first" in capsys.readouterr().err


def test_every_variant_is_named_in_the_gallery():
    from ganhelpers import gallery
    assert set(reference.VARIANTS) <= set(gallery.CHANGES)


def test_every_shipped_reference_loads_and_samples():
    """What a student's runtime does with the package's fp16 generators (on the floors too): load in float32, sample."""
    shipped = reference.reference_models()
    assert set(shipped) <= set(reference.RECIPES) and shipped, "no reference generator ships with the package"
    for model in shipped:
        G, meta = reference.load_reference(model)
        assert meta["model"] == model and not G.training and next(G.parameters()).dtype == torch.float32
        images, nrow = reference.reference_samples(G, meta, n=8)
        assert images.dim() == 4 and images.shape[-2:] == (28, 28) and len(images) % nrow == 0, model  # full rows
        assert torch.isfinite(images).all() and images.abs().max() <= 1, model
        assert f"reference {model} ({meta['generator']})" in reference.describe_reference(meta)


def test_bad_input_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        reference.main(["stylegan"])
    assert info.value.code == 2 and "unknown model 'stylegan'" in capsys.readouterr().err


# ~14 `python -m ganhelpers` processes (about a minute): the maintainers' command, run at current versions only;
# on the floors, loading what it shipped is test_every_shipped_reference_loads_and_samples's (and the notebooks')
@pytest.mark.slow_e2e
def test_one_run_records_g_ema_and_g_exports_fp16_and_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "CHECKOUT", tmp_path)
    monkeypatch.setattr(reference, "RECORDS_DIR", tmp_path / "data" / "records")
    monkeypatch.setattr(reference, "RECIPES", {"gan": 4})
    lines = []
    run = reference.run_one("gan", 0, log=lines.append)
    folder = tmp_path / "data" / "records" / "reference" / "gan"
    ema, raw = (json.loads((folder / name).read_text()) for name in ("seed0.json", "seed0-raw.json"))
    assert ema["generator"] == "G_ema" and raw["generator"] == "G" and ema["train"]["steps"] == 4
    assert ema["train"]["parts"][0]["command"].startswith("python -m ganhelpers train gan --dataset mnist-5k")
    assert ema["train"]["parts"][0]["environment"]["threads"] == 1  # one thread: the step budget repeats
    assert (tmp_path / "data" / "gallery" / "gan.png").is_file()
    reference.run_one("gan", 0, log=lines.append)
    assert lines[-1] == "gan seed 0: recorded, skipped"
    asset = reference.export("gan", run, tmp_path / "assets" / "gan.pt")
    stored = torch.load(asset, weights_only=True)
    assert all(v.dtype == torch.float16 for v in stored["state"].values() if v.is_floating_point())
    monkeypatch.setattr(reference, "ASSETS", tmp_path / "assets")
    G, meta = reference.load_reference("gan")
    assert not G.training and next(G.parameters()).dtype == torch.float32
    assert G(torch.randn(3, G.z_dim)).shape == (3, 1, 28, 28)
    assert meta["record"]["scores"] == ema["scores"] and meta["generator"] == "G_ema"
    assert reference.reference_models() == ["gan"]
    text = reference.describe_reference(meta)
    assert "reference gan (G_ema), 4 G steps" in text and "python -m ganhelpers train gan" in text
    assert f"fd {ema['scores']['fd']:.3g}" in text
    images, nrow = reference.reference_samples(G, meta, n=16)
    assert images.shape == (16, 1, 28, 28) and nrow == 8 and images.abs().max() <= 1
    raw_asset = torch.load(reference.export("gan", run, tmp_path / "assets" / "gan.pt", ema=False), weights_only=True)
    assert raw_asset["generator"] == "G" and raw_asset["record"]["scores"] == raw["scores"]
    assert raw_asset["record_file"] == "reference/gan/seed0-raw.json"
    with pytest.raises(FileNotFoundError, match="ships gan"):
        reference.load_reference("dcgan")
    assert check_citations(f"{ema['scores']['fd']:.1f}<!-- record reference/gan/seed0.json scores.fd .1f -->",
                           tmp_path / "data" / "records") == []
    (tmp_path / "pyproject.toml").write_text("")  # the command, in a checkout: one seed decides nothing, so G ships
    (tmp_path / "README.md").write_text("# x\n<!-- gallery:start -->\n<!-- gallery:end -->\n")
    grid = tmp_path / "data" / "gallery" / "gan.png"
    grid.write_bytes(b"G_ema's grid")
    assert reference.main(["gan", "--seeds", "0"]) == 0
    assert torch.load(tmp_path / "assets" / "gan.pt", weights_only=True)["generator"] == "G"
    assert grid.read_bytes().startswith(b"\x89PNG") and "| `gan` | <img" in (tmp_path / "README.md").read_text()
    shutil.rmtree(run)  # a clone: the records but no run folder; seed 0 is trained again, and must score the same
    assert reference.seed_zero_run("gan", log=lines.append) == run and (run / "checkpoint.pt").is_file()
    assert "gan seed 0 (again, to export it): python -m ganhelpers train gan" in lines[-3]
    shutil.rmtree(run)  # stopped during training (a checkpoint at step 2 of 4): the rerun resumes, scores the same
    for name in ("seed0.json", "seed0-raw.json"):
        (folder / name).unlink()
    train = reference.commands("gan", 0)[0]
    train[train.index("--steps") + 1] = "2"
    subprocess.run([sys.executable, "-m", "ganhelpers", *train], cwd=tmp_path, check=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    assert reference.trained_steps(run) == 2
    reference.run_one("gan", 0, log=lines.append)
    assert lines[-4].endswith("--resume") and reference.trained_steps(run) == 4
    assert json.loads((folder / "seed0.json").read_text())["scores"] == ema["scores"]  # bit for bit
    shutil.rmtree(run)
    (folder / "seed0.json").write_text(json.dumps({**ema, "scores": {**ema["scores"], "fd": 1.0}}))
    with pytest.raises(RuntimeError, match="another torch build or CPU"):
        reference.seed_zero_run("gan", log=lines.append)
