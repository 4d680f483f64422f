"""Worker processes sharing one study, with real parts: `python -m ganhelpers search` started twice on one local
SQLite store; a worker killed (SIGKILL) in the middle of a trial, then the same command run again; and two workers
against a real PostgreSQL server (CI starts one on 127.0.0.1 and sets GANHELPERS_POSTGRES_URL, see .ci/run)."""
import json
import os
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from ganhelpers.search import open_storage

# worker processes end to end (~50 s): run by the main pytest at current versions; the floors run test_study.py
pytestmark = pytest.mark.slow_e2e
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # two workers on two cores


def command(out, trials=3, steps=20, *extra):
    return [sys.executable, "-m", "ganhelpers", "search", "gan", "--steps", str(steps), "--trials", str(trials),
            "--eta", "2", "--out", str(out), "--device", "cpu", "--heartbeat", "1", *extra]


def load(storage, name="gan-mnist-5k"):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=open_storage(storage))  # picks the installed PostgreSQL driver


def check_study(study, out, n_total, concurrent):
    """Every trial recorded once: unique numbers, none left running or waiting, the study's size reached (one more
    at most when two workers ask for the last trial in the same instant), each finished trial with its own run
    folder naming it, the default complete once, and no two candidates with the same values."""
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in FINISHED]
    assert len({t.number for t in trials}) == len(trials)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert n_total <= len(finished) <= n_total + (1 if concurrent else 0), [t.state for t in trials]
    for t in finished:
        config = json.loads((out / f"trial_{t.number:03d}" / "config.json").read_text())
        assert config["search_trial"] == t.number and t.user_attrs["steps"]
    defaults = [t for t in finished if t.user_attrs["default"]]
    assert len(defaults) == 1 and defaults[0].state == TrialState.COMPLETE
    candidates = [tuple(sorted(t.params.items())) for t in finished if not t.user_attrs["default"]]
    assert len(set(candidates)) == len(candidates)
    return finished


def test_two_worker_processes_share_one_local_study(tmp_path):
    out = tmp_path / "s"
    workers = [subprocess.Popen(command(out, 4), cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    results = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in results]
    finished = check_study(load(f"sqlite:///{out}/study.db"), out, 5, concurrent=True)
    ran = [{int(line.split()[3]) for line in text.splitlines() if line.startswith("rung 1/")} for text, _ in results]
    assert ran[0] and ran[1] and not ran[0] & ran[1]  # both worked, never on the same trial
    assert ran[0] | ran[1] == {t.number for t in finished}


def test_a_worker_killed_mid_trial_leaves_the_study_consistent_and_a_rerun_completes_it(tmp_path):
    out, storage = tmp_path / "s", f"sqlite:///{tmp_path / 's' / 'study.db'}"
    worker = subprocess.Popen(command(out, 2, 60), cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the default's first rung is scored, mid-trial
        try:
            trial = load(storage).trials[0]
            if trial.state == TrialState.RUNNING and trial.intermediate_values:
                break
        except (KeyError, IndexError, Exception):  # no study or no trial yet
            pass
        assert worker.poll() is None, worker.stderr.read()[-2000:]
        time.sleep(0.05)
    worker.kill()
    worker.wait()
    study = load(storage)
    assert study.trials[0].state == TrialState.RUNNING and len(study.trials) == 1  # what the killed worker left
    time.sleep(3.5)  # three missed heartbeats of 1 s: the trial is stale
    again = subprocess.run(command(out, 2, 60), cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    study = load(storage)
    assert study.trials[0].state == TrialState.FAIL  # the killed trial, marked failed
    finished = check_study(study, out, 3, concurrent=False)
    retry = [t for t in finished if t.system_attrs.get("failed_trial") == 0]
    assert len(retry) == 1 and retry[0].user_attrs["default"] and retry[0].state == TrialState.COMPLETE
    assert "default (trial" in again.stdout


def test_two_workers_share_a_study_on_a_postgresql_server(tmp_path):
    url = os.environ.get("GANHELPERS_POSTGRES_URL")
    if not url:
        if os.environ.get("GANHELPERS_REQUIRE_POSTGRES"):
            pytest.fail("GANHELPERS_REQUIRE_POSTGRES is set but GANHELPERS_POSTGRES_URL is not: .ci/run could not "
                        "start PostgreSQL (see its CI: lines)")
        pytest.skip("no PostgreSQL server: set GANHELPERS_POSTGRES_URL (CI starts one, see .ci/run)")
    name, out = f"test-{uuid.uuid4().hex[:8]}", tmp_path / "s"
    try:
        done = subprocess.run(command(out, 3, 20, "--storage", url, "--study", name, "--workers", "2"), cwd=tmp_path,
                              env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        check_study(load(url, name), out, 4, concurrent=True)
        assert not (out / "study.db").exists()  # the study is in the server, not in a local file
        again = subprocess.run(command(out, 3, 20, "--storage", url, "--study", name), cwd=tmp_path, env=ENV,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "rung 1/" not in again.stdout  # finished: a rerun trains nothing
        other = subprocess.run(command(out, 3, 21, "--storage", url, "--study", name), cwd=tmp_path, env=ENV,
                               capture_output=True, text=True, timeout=300)
        assert other.returncode == 2 and "was created by another search (steps 20 there, 21 here)" in other.stderr
    finally:
        try:
            optuna.delete_study(study_name=name, storage=open_storage(url))
        except Exception:
            pass
