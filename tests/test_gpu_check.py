"""The GPU check's logic, on the CPU (tests/gpu/ itself holds scripts for a lent GPU machine, no tests).

- tests/gpu/check_models.py on the CPU: its rows for two models, its failure rows, its precision grid;
- tests/gpu/report.py: the one table from the sections' rows, a JUnit XML or a -rA summary, and time limits;
- tests/gpu/check.sh on a machine without CUDA: exit 2 at once, saying why.
"""
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
GPU = REPO / "tests" / "gpu"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", GPU / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_models = _load("check_models")
report = _load("report")


def test_check_models_on_cpu_two_models(tmp_path, capsys):
    rows_file = tmp_path / "rows.jsonl"
    rc = check_models.main(["--device", "cpu", "--models", "dcgan,pix2pix-l1", "--steps", "2", "--log-every", "1",
                            "--batch-size", "8", "--json", str(rows_file)])
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert rc == 0, out
    assert [r["model"] for r in rows] == ["dcgan", "pix2pix-l1"]
    for r in rows:
        assert r["result"] == "PASS", r
        assert (r["dataset"], r["precision"], r["channels_last"], r["steps"]) == ("mnist-5k", "fp32", False, 2)
        assert math.isfinite(r["loss_D"]) and math.isfinite(r["loss_G"]) and r["seconds"] > 0
    assert rows[1]["loss_D"] == 0  # the L1-only baseline's idle D
    assert "| dcgan | mnist-5k | fp32 | no | 2 |" in out
    assert "| pix2pix-l1 | mnist-5k | fp32 | no | 2 |" in out
    assert "2 of 2 passed or skipped, 0 failed" in out


def test_check_models_failures_are_rows_with_the_error(tmp_path, capsys, monkeypatch):
    from ganhelpers import models
    from ganhelpers.models.steps import bce_steps

    def broken_steps():
        d_step, g_step = bce_steps()

        def d_boom(G, D, real, labels, trainer):
            raise RuntimeError("boom in d_step")
        return d_boom, g_step

    def idle_steps():  # G's loss reaches none of G's weights: no optimiser step changes them
        d_step, _ = bce_steps()
        return d_step, lambda G, D, real, labels, trainer: {"loss_G": torch.zeros((), requires_grad=True)}

    dcgan = models.MODELS["dcgan"]
    monkeypatch.setitem(models.MODELS, "broken", models.ModelSpec("broken", "", dcgan.build, broken_steps))
    monkeypatch.setitem(models.MODELS, "idle", models.ModelSpec("idle", "", dcgan.build, idle_steps))
    rows_file = tmp_path / "rows.jsonl"
    rc = check_models.main(["--device", "cpu", "--models", "broken,idle", "--steps", "2", "--log-every", "1",
                            "--batch-size", "8", "--json", str(rows_file)])
    out = capsys.readouterr().out
    rows = {r["model"]: r for r in map(json.loads, rows_file.read_text().splitlines())}
    assert rc == 1
    assert rows["broken"]["result"] == "FAIL" and rows["broken"]["note"] == "RuntimeError: boom in d_step"
    assert rows["idle"]["result"] == "FAIL" and "no optimiser step changed G's weights" in rows["idle"]["note"]
    assert rows["idle"]["steps"] == 2
    assert "0 of 2 passed or skipped, 2 failed" in out


def test_precision_grid(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert check_models.combinations(cpu) == [("off", False)]
    assert check_models.combinations(cpu, ["auto", "fp16"], "on") == [("off", False)]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))  # H100/H200
    assert check_models.combinations(cuda) == [(a, c) for a in ("off", "fp16", "bf16") for c in (False, True)]
    assert check_models.combinations(cuda, ["auto"], "on") == [("bf16", True)]
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # T4: no native bf16
    assert check_models.combinations(cuda) == [(a, c) for a in ("off", "fp16") for c in (False, True)]
    assert check_models.combinations(cuda, ["auto", "bf16"], "off") == [("fp16", False)]


def _write(path, text):
    path.write_text(text)
    return path


def test_report_table_groups_sections_and_flags_failures(tmp_path):
    work = tmp_path
    _write(work / "sections.tsv", "setup\t3.0\t0\tran\t\nmodels\t95.5\t1\tran\t\nbench\t20\t1\tran\t\n"
                                  "rehearsal\t300\t124\tran\t\n")
    report.main(["row", str(work), "setup", "GPU", "--numbers", "NVIDIA H200, compute capability 9.0"])
    model_row = {"section": "models", "model": "dcgan", "dataset": "mnist-5k", "precision": "bf16",
                 "channels_last": True, "steps": 6, "seconds": 0.84, "loss_D": 1.2345, "loss_G": 0.9876,
                 "result": "PASS", "note": ""}
    failed = dict(model_row, model="sagan", result="FAIL", loss_D=None, loss_G=None, note="RuntimeError: a | b")
    _write(work / "rows-models.jsonl", json.dumps(model_row) + "\n" + json.dumps(failed) + "\n{cut by a time li")
    _write(work / "bench.log", "device cuda\nTraceback...\nValueError: bench broke\n")
    _write(work / "rehearsal.log", "\n".join([
        "=== short test summary info ===",
        "PASSED tests/rehearsal/test_full_mode.py::test_notebook_full_mode[00_gan_game]",
        "FAILED tests/rehearsal/test_full_mode.py::test_notebook_full_mode[01_vanilla_gan] - 01 (first): cell 9 "
        "raised ValueError: x",
        "SKIPPED [1] tests/rehearsal/test_environment.py:15: environment used as is",
    ]))
    out_file = tmp_path / "gpu-check.md"
    rc = report.main(["table", str(work), "--out", str(out_file)])
    table = out_file.read_text()
    assert rc == 1
    order = [table.index(f"**{title}**") for title in ("setup", "a. models", "b. rehearsal", "c. bench_train")]
    assert order == sorted(order)
    assert "| | dcgan | mnist-5k bf16 NHWC | 6 | 0.8 | 1.23 / 0.988 | PASS |  |" in table
    assert "| | sagan | mnist-5k bf16 NHWC | 6 | 0.8 |  | FAIL | RuntimeError: a \\| b |" in table
    assert "| **a. models** | 2 rows | | | 96 | | 1 FAIL, 1 PASS | |" in table
    assert "| | 00_gan_game | notebook, full mode (GANHELPERS_REHEARSAL=1) |  |  |  | PASS |  |" in table
    assert "| | 01_vanilla_gan |" in table and "raised ValueError: x" in table
    assert "| | test_environment.py:15 |" in table and "environment used as is" in table
    timeout = next(line for line in table.splitlines() if "(time limit)" in line)
    assert "TIMEOUT" in timeout and "stopped after 300 s" in timeout and "02_dcgan" in timeout
    assert "00_gan_game" not in timeout
    assert "| | exit code 1 |" in table and "ValueError: bench broke" in table  # a failure that left no row
    assert table.rstrip().endswith("FAILED: 4 failed, timed-out or errored rows")


def test_report_reads_the_junit_xml_first(tmp_path):
    _write(tmp_path / "sections.tsv", "rehearsal\t42\t1\tran\t\n")
    _write(tmp_path / "rehearsal.xml", """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite>
<testcase classname="tests.rehearsal.test_full_mode" name="test_notebook_full_mode[02_dcgan]" time="31.5" />
<testcase classname="tests.rehearsal.test_full_mode" name="test_notebook_full_mode[09_evaluation]" time="12.25">
<failure message="09_evaluation.ipynb (first): cell 7 raised RuntimeError: CUDA error&#10;--- cell 7 ---">x</failure>
</testcase><testcase time="0.004" /></testsuite></testsuites>""")
    _write(tmp_path / "rehearsal.log", "PASSED tests/rehearsal/test_full_mode.py::test_notebook_full_mode[xx]\n")
    rows = report.rehearsal_rows(tmp_path / "rehearsal.xml", tmp_path / "rehearsal.log")
    assert [(r["check"], r["seconds"], r["result"]) for r in rows] == [("02_dcgan", 31.5, "PASS"),
                                                                      ("09_evaluation", 12.25, "FAIL")]
    assert rows[1]["note"] == "09_evaluation.ipynb (first): cell 7 raised RuntimeError: CUDA error"
    assert report.main(["table", str(tmp_path)]) == 1


def test_report_missing_rehearsal_is_a_row_not_a_failure(tmp_path, capsys):
    _write(tmp_path / "sections.tsv", "rehearsal\t0\t0\tmissing\ttests/rehearsal does not exist in this checkout\n")
    assert report.main(["table", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| | rehearsal: missing |" in out and "MISSING" in out


@pytest.mark.skipif(shutil.which("bash") is None, reason="check.sh is a bash script")
def test_check_sh_without_a_gpu_exits_2_and_says_why():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                                                          os.environ.get("PATH", "")]))
    env.pop("GPU_CHECK_CPU", None)
    start = time.monotonic()
    proc = subprocess.run(["bash", "tests/gpu/check.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ("no CUDA GPU found: this check needs one (it runs on a lent GPU machine; "
                                   "CI never runs it)")
    assert time.monotonic() - start < 60
