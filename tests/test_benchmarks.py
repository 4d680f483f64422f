"""The benchmark scripts run (tiny sizes, so the numbers mean nothing) and write the records a text cites."""
import json
import subprocess
import sys

import pytest

from ganhelpers import records
from tests.helpers import REPO

# the maintainers' benchmark scripts, each in a subprocess (~17 s together), run at current versions only; the code
# they time (the trainer, FID's extractor, augmentation) is unit-tested on the floors in its own files
pytestmark = pytest.mark.slow_e2e


def test_bench_train_writes_a_record_of_every_number_it_prints(tmp_path):
    path = tmp_path / "bench_train.json"
    args = ["--steps", "1", "--rounds", "1", "--warmup", "0", "--batch-size", "8", "--images", "64",
            "--workers", "0", "--models", "dcgan", "--record", str(path)]
    out = subprocess.run([sys.executable, "tests/benchmarks/bench_train.py", *args], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(path.read_text())
    assert record["benchmark"] == "bench_train" and record["command"].startswith("python tests/benchmarks/bench_train.py ")
    assert record["environment"]["threads"] >= 1 and record["settings"]["steps"] == 1
    ratio = record["results"]["dcgan"]["trainer"]["ratio"]
    assert ratio > 0 and f"ratio {ratio:5.2f}x" in out.stdout  # the printed ratio is the recorded one
    assert records.check_citations(f"{ratio:.2f}<!-- record bench_train.json results.dcgan.trainer.ratio .2f -->",
                                   tmp_path) == []  # a text can cite it


def test_bench_fid_writes_a_record(tmp_path):
    path = tmp_path / "bench_fid.json"
    out = subprocess.run([sys.executable, "tests/benchmarks/bench_fid.py", "--n", "4", "--batch-size", "2",
                          "--skip-reference", "--record", str(path)], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(path.read_text())
    assert record["benchmark"] == "bench_fid" and record["settings"]["n"] == 4
    rate = record["results"]["ganhelpers"]["images_per_s"]
    assert rate > 0 and f"{rate:8.1f} images/s" in out.stdout and "pytorch_fid" not in record["results"]


def test_bench_augment_writes_the_ratio_the_reference_variant_reads(tmp_path):
    path = tmp_path / "bench_augment.json"
    out = subprocess.run([sys.executable, "tests/benchmarks/bench_augment.py", "gan", "--steps", "2", "--rounds", "2",
                          "--record", str(path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(path.read_text())
    assert record["benchmark"] == "bench_augment" and record["settings"]["policy"] == "translation,cutout"
    gan = record["results"]["gan"]
    assert len(gan["plain_ms"]) == len(gan["augmented_ms"]) == 2 and gan["ratio"] > 0
    assert f"{gan['ratio']:.3f} times as long" in out.stdout
