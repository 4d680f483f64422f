"""The command line: errors exit 2 before any work; every registered model trains, resumes, samples and is
evaluated the same way; sampling by class; evaluation's metrics per task; the search command."""
import dataclasses
import json
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganhelpers.cli import main
from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.data import datasets
from ganhelpers.models import MODELS
from ganhelpers.runs import load_generator
from tests.helpers import make_run, offline


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ganhelpers", *args], capture_output=True, text=True, timeout=300)


def printed_scores(out: str) -> dict:
    """The `  key value` lines `evaluate` prints, as {key: text of the value}."""
    lines = [line.split() for line in out.splitlines() if line.startswith("  ") and not line.startswith("  protocol")]
    return {parts[0]: parts[1] for parts in lines}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_resumes_samples_and_evaluates(name, tmp_path, capsys, monkeypatch):
    """The same commands for every registered model: the command line asks the model's spec and task what to do."""
    spec, run = MODELS[name], tmp_path / "run"
    g_steps = []  # G updates the command line runs, counted through the spec's own steps

    def counted_steps(**options):
        d_step, g_step = spec.steps(**options)
        return d_step, lambda *a: g_steps.append(1) or g_step(*a)
    monkeypatch.setitem(MODELS, name, dataclasses.replace(spec, steps=counted_steps))
    train = ["train", name, "--dataset", "mnist-5k", "--batch-size", "8", "--out", str(run), "--device", "cpu",
             "--ckpt-every", "1"]
    assert main([*train, "--steps", "2"]) == 0
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2 and len(g_steps) == 2
    assert main([*train, "--steps", "3", "--resume"]) == 0
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["step"] == 3 and len(g_steps) == 3  # the resumed run trained one step, on top of the first two
    assert ckpt["history"]["step"] == [1, 2, 3]  # a history row at every checkpoint, the first two kept
    for path in ("config.json", "history.csv", "samples/step_000003.png"):
        assert (run / path).is_file(), path

    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.png"), "--device", "cpu"]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.npz"), "--device", "cpu"]) == 0
    with np.load(tmp_path / "s.npz") as arrays:
        assert arrays.files and all(len(arrays[k]) == 10 for k in arrays.files)  # 10 samples (1 per class, or pairs)
        images = [arrays[k] for k in arrays.files if arrays[k].ndim == 4]
        assert images and all(a.shape[1:] == (1, 28, 28) and a.dtype == np.uint8 for a in images)

    metric = spec.task.metrics[0]  # the default of --metric: the task's first
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "20", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"({name} on mnist-5k, G of checkpoint.pt at step 3):" in out and "  protocol: " in out
    G, meta = load_generator(run)  # the same numbers as the task's own evaluation of the run
    expected = spec.task.evaluate(G, meta, metric, 20, "train", 100, 0, "cpu")
    keys = [k for k, v in expected.items() if v is not None and k not in ("protocol", "n", "n_classes", "n_modes")
            and not k.endswith("_std")]
    assert keys and printed_scores(out) == {k: f"{expected[k]:.4g}" for k in keys}
    assert f"  protocol: {expected['protocol']}" in out


def test_evaluate_writes_a_record_that_names_how_to_reproduce_it(tmp_path, capsys):
    run, record = tmp_path / "run", tmp_path / "records" / "dcgan.json"
    train = ["train", "dcgan", "--batch-size", "8", "--out", str(run), "--device", "cpu", "--seed", "3"]
    assert main([*train, "--steps", "2"]) == 0
    assert main([*train, "--steps", "3", "--resume"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "20", "--device", "cpu", "--record", str(record)]) == 0
    out = capsys.readouterr().out
    r = json.loads(record.read_text())
    assert [p["command"] for p in r["train"]["parts"]] == [  # every part of the run, as typed
        "python -m ganhelpers " + shlex.join([*train, "--steps", "2"]),
        "python -m ganhelpers " + shlex.join([*train, "--steps", "3", "--resume"])]
    assert r["evaluate"]["command"].startswith(f"python -m ganhelpers evaluate {run} --n 20")
    for env in [p["environment"] for p in r["train"]["parts"]] + [r["evaluate"]["environment"]]:
        assert {"date", "torch", "cpu", "cores", "threads", "device"} <= set(env)
    assert r["model"] == "dcgan" and r["train"]["seed"] == 3 and r["train"]["steps"] == 3
    assert r["train"]["seconds"] > 0 and r["train"]["config"]["batch_size"] == 8
    assert printed_scores(out) == {k: f"{v:.4g}" for k, v in r["scores"].items()
                                   if v is not None and k not in ("n", "n_classes", "n_modes")}
    assert f"  protocol: {r['protocol']}" in out


def test_list_prints_models_and_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in (*MODELS, "mnist-5k", "shapes", "cifar10", "ring8"):
        assert name in out


@pytest.mark.parametrize("args, message", [
    (["train", "stylegan"], "unknown model 'stylegan'"),
    (["train", "dcgan", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "dcgan", "--steps", "0"], "must be at least 1"),
    (["train", "dcgan", "--steps", "ten"], "not a whole number"),
    (["train", "dcgan", "--minutes", "-3"], "positive"),
    (["train", "dcgan", "--batch-size", "0"], "must be at least 1"),
    (["train", "dcgan", "--dataset", "ring8"], "2-D points"),
    (["train", "cgan", "--dataset", "ring8"], "2-D points"),
    (["train", "dcgan", "--device", "tpu"], "invalid choice"),
    (["train", "dcgan", "--batch-size", "100000", "--steps", "1"], "larger than the dataset"),
    (["sample", "no/such/run", "--out", "x.png"], "not a run folder"),
    (["train", "dcgan", "--ema", "1.0"], "lives in [0, 1)"),
    (["train", "dcgan", "--ema-start", "5"], "only with --ema"),
    (["train", "dcgan", "--augment", "flip"], "unknown DiffAugment policy"),
    (["train", "pix2pix", "--augment", "cutout"], "DiffAugment is for noise-to-image models"),
])
def test_bad_input_exits_2_with_a_message(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing was trained or written


def test_python_m_ganhelpers_trains_and_a_run_is_never_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    done = run_cli("train", "dcgan", "--dataset", "mnist-5k", "--steps", "2", "--batch-size", "8",
                   "--out", str(run), "--device", "cpu", "--ckpt-every", "2", "--sample-every", "2")
    assert done.returncode == 0, done.stderr
    for name in ("checkpoint.pt", "history.csv", "config.json", "samples/step_000002.png"):
        assert (run / name).is_file(), name
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dcgan", "--out", str(run), "--steps", "6"])
    assert exit_info.value.code == 2 and "--resume" in capsys.readouterr().err  # never overwrite a run by accident
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dcgan", "--dataset", "mnist-5k", "--steps", "6", "--batch-size", "32", "--out", str(run),
              "--device", "cpu", "--resume"])
    assert exit_info.value.code == 2 and "resume with --batch-size 8" in capsys.readouterr().err  # before any data
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2  # untouched
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.npz")]) == 0
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (10, 1, 28, 28) and arrays["images"].dtype == np.uint8
    assert "labels" not in arrays  # dcgan is unconditional
    for bad, message in ((["--labels", "3", "--out", str(tmp_path / "c.png")], "unconditional: drop --labels"),
                         (["--out", str(tmp_path / "s.jpg")], "use a .png (grid) or .npz")):
        with pytest.raises(SystemExit) as exit_info:
            main(["sample", str(run), *bad])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_offline_download_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "reachable", lambda *a, **k: False)
    monkeypatch.setenv("GANHELPERS_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "DATA_DIR", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "dcgan", "--dataset", "cifar10", "--steps", "1"]) == 1


# ---- sample ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [name for name, spec in MODELS.items() if spec.conditional])
def test_conditional_models_sample_class_by_row(name, tmp_path, capsys):
    run = make_run(tmp_path / "run", name)  # a run folder with untrained weights: sampling needs no training
    assert main(["sample", str(run), "--labels", "all", "--n", "25", "--out", str(tmp_path / "all.npz")]) == 0
    labels = np.load(tmp_path / "all.npz")["labels"]
    assert labels.tolist() == [k for k in range(10) for _ in range(3)]  # ceil(25 / 10) = 3 per class, in rows
    assert main(["sample", str(run), "--labels", "all", "--out", str(tmp_path / "all.png")]) == 0
    assert (tmp_path / "all.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sample", str(run), "--labels", "3", "--n", "5", "--out", str(tmp_path / "three.npz")]) == 0
    assert np.load(tmp_path / "three.npz")["labels"].tolist() == [3] * 5
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", str(run), "--labels", "10", "--out", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2 and "class index 0..9" in capsys.readouterr().err


# ---- evaluate -------------------------------------------------------------------------------------

def test_evaluate_prints_judge_numbers_with_their_protocol(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["evaluate", str(run), "--metric", "judge", "--n", "200", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "fd" in out and "classes_covered" in out and "protocol: 200 samples vs mnist-5k train" in out
    assert "step 7" in out


@pytest.mark.parametrize("name", list(MODELS))
def test_evaluate_refuses_a_metric_the_model_s_task_does_not_have(name, tmp_path, capsys):
    run = make_run(tmp_path / "run", name)
    task = MODELS[name].task
    for metric in sorted({"judge", "fid", "kid", "is", "l1"} - set(task.metrics)):  # e.g. judge for pix2pix
        with pytest.raises(SystemExit) as exit_info:
            main(["evaluate", str(run), "--metric", metric])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and f"{task.kind} models are scored with --metric {task.metrics[0]}" in err


@pytest.mark.parametrize("args, message", [
    ([], "no offline judge for 'cifar10'"),  # judge, the default for a noise model, has no cifar10 judge
    (["--metric", "judge"], "no offline judge for 'cifar10'"),
    (["--metric", "bleu"], "invalid choice"),
])
def test_evaluate_bad_input_exits_2(tmp_path, capsys, args, message):
    run = make_run(tmp_path / "run", "dcgan", "cifar10", (3, 32, 32))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_not_a_run_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2 and "not a run folder" in capsys.readouterr().err
    run = make_run(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run), "--best"])  # no best.pt without a metric callback
    assert exit_info.value.code == 2 and "it needs config.json and best.pt" in capsys.readouterr().err


def test_evaluate_fid_offline_exits_1_naming_the_judges(tmp_path, capsys, monkeypatch):
    offline(monkeypatch, tmp_path)
    run = make_run(tmp_path / "run")
    assert main(["evaluate", str(run), "--metric", "fid", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "no network" in err and "--metric judge" in err


# ---- search ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["search", "stylegan", "--steps", "4"], "unknown model 'stylegan'"),
    (["search", "gan", "--minutes", "0"], "positive"),
    (["search", "gan"], "exactly one budget"),
    (["search", "dcgan", "--dataset", "ring8", "--steps", "4"], "2-D points"),
    (["search", "pix2pix", "--dataset", "ring8", "--steps", "4"], "2-D points"),
    (["search", "dcgan", "--dataset", "cifar10", "--steps", "4"], "no offline judge for 'cifar10'"),
    (["search", "gan", "--steps", "4", "--eta", "1"], "eta=1"),
    (["search", "gan", "--steps", "4", "--storage", "mongodb://localhost/gan"], "give a database URL starting with"),
])
def test_cli_search_bad_input_exits_2_before_any_work(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cli_search_prints_the_table_the_best_and_the_default_and_refuses_another_search(tmp_path, capsys):
    out = tmp_path / "s"
    search = ["search", "gan", "--steps", "4", "--trials", "2", "--eta", "2", "--out", str(out), "--device", "cpu"]
    assert main(search) == 0
    text = capsys.readouterr().out
    assert "trial  lr_G" in text and "judge_fd@2" in text and "best: trial" in text
    assert "default (trial 0, same budget): judge_fd" in text and "study 'gan-mnist-5k' in" in text
    assert {p.name for p in out.iterdir()} >= {"study.db", "trial_000"}
    assert main(search) == 0
    assert "rung 1/" not in capsys.readouterr().out  # the study is complete: nothing trained again
    with pytest.raises(SystemExit) as exit_info:  # the same study with another space: refused before training
        main([*search[:-2], "--sampler", "random", "--device", "cpu"])
    assert exit_info.value.code == 2
    assert "was created by another search (sampler 'tpe' there, 'random' here)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_a_missing_gpu_exits_2_with_a_message(command, tmp_path, capsys, monkeypatch):
    run = make_run(tmp_path / "run")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = ["--out", str(tmp_path / "s.png")] if command == "sample" else []
    with pytest.raises(SystemExit) as exit_info:
        main([command, str(run), "--device", "cuda", *out])
    assert exit_info.value.code == 2 and "no CUDA GPU is visible" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_ema_run_samples_and_scores_g_ema_unless_raw(tmp_path, capsys):
    """--ema keeps G_ema in the checkpoint (a resume continues it); sample and evaluate use it, --raw uses G;
    the record names which generator it scored."""
    run = tmp_path / "run"
    train = ["train", "gan", "--batch-size", "8", "--out", str(run), "--device", "cpu", "--ema", "0.9"]
    assert main([*train, "--steps", "2"]) == 0
    assert main([*train, "--steps", "4", "--resume"]) == 0
    ckpt = load_checkpoint(run / "checkpoint.pt")
    (state,) = [v["G_ema"] for k, v in ckpt["callbacks"].items() if k.endswith(".EMA")]
    G_ema, meta = load_generator(run)
    G, raw = load_generator(run, ema=False)
    assert meta["generator"] == "G_ema" and raw["generator"] == "G"
    assert all(torch.equal(a, b) for a, b in zip(G_ema.state_dict().values(), state.values()))
    assert any(not torch.equal(a, b) for a, b in zip(G_ema.state_dict().values(), G.state_dict().values()))
    capsys.readouterr()
    record = tmp_path / "r.json"
    assert main(["evaluate", str(run), "--n", "20", "--device", "cpu", "--record", str(record)]) == 0
    assert "G_ema of checkpoint.pt" in capsys.readouterr().out
    assert json.loads(record.read_text())["generator"] == "G_ema"
    assert main(["evaluate", str(run), "--n", "20", "--device", "cpu", "--raw"]) == 0
    assert "G of checkpoint.pt" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a resume must keep the average going, or say why it cannot
        main([*train[:-2], "--steps", "5", "--resume"])
    assert "was trained with --ema" in capsys.readouterr().err


def test_augment_wraps_d_is_recorded_and_must_be_kept_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    train = ["train", "dcgan", "--batch-size", "8", "--out", str(run), "--device", "cpu", "--augment", "translation, cutout"]
    assert main([*train, "--steps", "2"]) == 0
    assert json.loads((run / "config.json").read_text())["augment"] == "translation,cutout"
    assert all(k.startswith("inner.") for k in load_checkpoint(run / "checkpoint.pt")["D"])
    assert main([*train, "--steps", "3", "--resume"]) == 0
    with pytest.raises(SystemExit):
        main([*train[:-2], "--steps", "4", "--resume"])
    assert "was trained with --augment translation,cutout" in capsys.readouterr().err
