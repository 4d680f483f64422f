"""The command line: errors exit 2 before any work; train -> sample round trip on tiny runs."""
import subprocess
import sys

import numpy as np
import pytest

from ganhelpers.__main__ import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ganhelpers", *args], capture_output=True, text=True, timeout=300)


def test_list_prints_models_and_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("gan", "dcgan", "wgan-gp", "mnist-5k", "shapes", "cifar10", "ring8"):
        assert name in out


@pytest.mark.parametrize("args, message", [
    (["train", "stylegan"], "unknown model 'stylegan'"),
    (["train", "dcgan", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "dcgan", "--steps", "0"], "must be at least 1"),
    (["train", "dcgan", "--steps", "ten"], "not a whole number"),
    (["train", "dcgan", "--minutes", "-3"], "positive"),
    (["train", "dcgan", "--batch-size", "0"], "must be at least 1"),
    (["train", "dcgan", "--dataset", "ring8"], "2-D points"),
    (["train", "dcgan", "--device", "tpu"], "invalid choice"),
    (["train", "dcgan", "--batch-size", "100000", "--steps", "1"], "larger than the dataset"),
    (["sample", "no/such/run", "--out", "x.png"], "not a run folder"),
])
def test_bad_input_exits_2_with_a_message(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing was trained or written


def test_train_then_sample_png_and_npz(tmp_path):
    run = tmp_path / "run"
    done = run_cli("train", "dcgan", "--dataset", "mnist-5k", "--steps", "4", "--batch-size", "16",
                   "--out", str(run), "--device", "cpu", "--ckpt-every", "2", "--sample-every", "2")
    assert done.returncode == 0, done.stderr
    for name in ("checkpoint.pt", "history.csv", "config.json", "samples/step_000004.png"):
        assert (run / name).is_file(), name
    again = run_cli("train", "dcgan", "--out", str(run), "--steps", "6")
    assert again.returncode == 2 and "--resume" in again.stderr  # never overwrite a run by accident
    other_batch = run_cli("train", "dcgan", "--dataset", "mnist-5k", "--steps", "6", "--batch-size", "32",
                          "--out", str(run), "--device", "cpu", "--resume")
    assert other_batch.returncode == 2 and "resume with --batch-size 16" in other_batch.stderr  # before any data
    resumed = run_cli("train", "dcgan", "--dataset", "mnist-5k", "--steps", "6", "--batch-size", "16",
                      "--out", str(run), "--device", "cpu", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.npz")]) == 0
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (10, 1, 28, 28) and arrays["images"].dtype == np.uint8
    assert "labels" not in arrays  # dcgan is unconditional
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", str(run), "--labels", "3", "--out", str(tmp_path / "c.png")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["sample", str(run), "--out", str(tmp_path / "s.jpg")])


def test_offline_download_fails_clearly(tmp_path, monkeypatch):
    from ganhelpers import data
    monkeypatch.setattr(data, "_reachable", lambda *a, **k: False)
    monkeypatch.setenv("GANHELPERS_DATA", str(tmp_path))
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "dcgan", "--dataset", "cifar10", "--steps", "1"]) == 1
