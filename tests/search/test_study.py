"""Hyperparameter search on Optuna, in one process: validation before training, the default as trial 0 and never
pruned, seeded and repeatable trials, a rerun that trains nothing, rungs continued bit for bit, time budgets, the
table, and the paired task's metric. Worker processes sharing a study: tests/search/test_workers.py."""
import optuna
import pytest
import torch

from ganhelpers import search as S
from ganhelpers.core import TrainConfig, Trainer, seed_everything
from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.data import load_dataset
from ganhelpers.eval.metrics import Metric
from ganhelpers.models import MODELS, get_model
from ganhelpers.runs import load_generator
from ganhelpers.search import study as study_module


def weight_metric():
    """A cheap, deterministic stand-in for the judge: the sum of |weights| (lower counts as better)."""
    return Metric("weights", lambda G: float(sum(p.detach().double().abs().sum() for p in G.parameters())))


SPACE = {"lr_G": S.LogUniform(1e-4, 1e-3), "beta1": [0.0, 0.5], "batch_size": [8, 16]}
SMALL = dict(dataset="mnist-5k", steps=6, trials=4, eta=2, rungs=2, device="cpu", verbose=False)


def small_search(out, **kwargs):
    return S.Search("gan", kwargs.pop("space", SPACE), out=out, metric=weight_metric(), **{**SMALL, **kwargs})


def no_training(monkeypatch):
    monkeypatch.setattr(study_module, "Trainer", lambda *a, **k: pytest.fail("trained"))


@pytest.mark.parametrize("space, kwargs, message", [
    ({"lr_Z": [1e-3]}, {}, "unknown parameter 'lr_Z'"),
    ({}, {}, "search space is empty"),
    ({"lr_G": []}, {}, "non-empty list"),
    ({"lr_G": "fast"}, {}, "non-empty list"),
    ({"steps": [10, 20]}, {}, "set by the search itself"),
    ({"lr_G": [1e-3, -1.0]}, {}, "lr_G=-1.0 must be > 0"),
    ({"lr_G": S.LogUniform(0.0, 1e-3)}, {}, "0 < low on a log scale"),
    ({"lr_G": [1e-3]}, {"minutes": 0, "steps": None}, "must be positive"),
    ({"lr_G": [1e-3]}, {"minutes": -2.0, "steps": None}, "must be positive"),
    ({"lr_G": [1e-3]}, {"minutes": 1.0}, "exactly one budget"),
    ({"lr_G": [1e-3]}, {"dataset": "ring8"}, "2-D points"),
    ({"lr_G": [1e-3]}, {"eta": 1}, "eta"),
    ({"lr_G": [1e-3]}, {"sampler": "grid"}, "sampler='grid'"),
    ({"lr_G": [1e-3]}, {"storage": "redis://localhost/0"}, "give a database URL starting with sqlite://"),
    ({"lr_G": [1e-3]}, {"storage": "runs/study.db"}, "give a database URL"),
])
def test_bad_input_fails_before_anything_is_written(space, kwargs, message, tmp_path, monkeypatch):
    no_training(monkeypatch)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        S.search("gan", space, out=tmp_path / "s", metric=weight_metric(), **{**SMALL, **kwargs})
    assert not (tmp_path / "s").exists()


def test_other_bad_names_and_a_batch_larger_than_the_data(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown model"):
        S.Search("stylegan", SPACE, steps=4)
    with pytest.raises(ValueError, match="no offline judge for 'cifar10'"):  # the task has no metric: say so
        S.Search("dcgan", {"lr_G": [1e-3]}, dataset="cifar10", steps=4)
    no_training(monkeypatch)
    with pytest.raises(ValueError, match="batch_size 100000 > the 4000 images"):
        small_search(tmp_path / "b", space={"batch_size": [64, 100000]}).run()


def test_an_unreachable_database_is_named_before_any_training(tmp_path, monkeypatch):
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver (pip install ganhelpers[postgres])")
    no_training(monkeypatch)
    job = small_search(tmp_path / "s", storage="postgresql://gan:secret@127.0.0.1:1/gan")  # nothing listens on port 1
    with pytest.raises(ValueError, match="cannot open the study store postgresql://gan:\\*\\*\\*@127.0.0.1:1/gan: "
                                         ".*Is the database server running") as e:
        job.run()
    assert "secret" not in str(e.value)  # the password is never printed


def test_a_study_made_by_another_search_is_refused_before_any_training(tmp_path, monkeypatch):
    small_search(tmp_path / "s", trials=1, rungs=1).run()
    no_training(monkeypatch)
    other = small_search(tmp_path / "s", trials=1, rungs=1, space={"lr_G": S.LogUniform(1e-4, 1e-2)})
    with pytest.raises(ValueError, match="study 'gan-mnist-5k' .* was created by another search \\(space"):
        other.run()
    with pytest.raises(ValueError, match="steps 6 there, 7 here"):
        small_search(tmp_path / "s", trials=1, rungs=1, steps=7).run()
    monkeypatch.undo()
    second = small_search(tmp_path / "s", trials=1, rungs=1, study="second", steps=7).run()  # a new name: its own study
    assert second.user_attrs["search"]["steps"] == 7 and len(second.trials) == 2


class PruneAll(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_trial_zero_is_the_default_and_is_never_pruned(tmp_path):
    job = small_search(tmp_path / "s")
    job.pruner = PruneAll()  # every candidate stops at its first rung; the default must go on
    study = job.run()
    states = {t.number: t.state for t in study.trials}
    assert states == {0: optuna.trial.TrialState.COMPLETE, **{i: optuna.trial.TrialState.PRUNED for i in range(1, 5)}}
    default = study.trials[0]
    assert default.user_attrs["default"] and default.params == {}  # the model's own settings, no suggestion
    assert default.user_attrs["values"] == {"lr_G": 2e-4, "beta1": 0.5, "batch_size": 64}  # ModelSpec.defaults
    assert sorted(default.intermediate_values) == [1, 2] and default.user_attrs["steps"] == [3, 6]
    assert all(t.user_attrs["steps"] == [3] for t in study.trials[1:])
    assert S.default_trial(study).number == 0


def test_hyperband_prunes_within_its_brackets_and_keeps_the_default(tmp_path):
    study = small_search(tmp_path / "h", pruner="hyperband", trials=6, rungs=3, steps=8).run()
    assert isinstance(study.pruner, optuna.pruners.HyperbandPruner)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE and study.trials[0].user_attrs["default"]
    for t in study.trials:  # every trial reported at the rungs it reached: steps 1, 2, 4 (eta^k) after 2, 4, 8 G steps
        assert sorted(t.intermediate_values) == [1, 2, 4][:len(t.intermediate_values)]
        assert t.user_attrs["steps"] == [2, 4, 8][:len(t.intermediate_values)]
        assert (t.state == optuna.trial.TrialState.COMPLETE) == (len(t.intermediate_values) == 3)


def test_default_values_shown_for_a_two_rate_model():
    job = S.Search("wgan-gp", {"lr": S.LogUniform(1e-5, 1e-3), "beta1": [0.0, 0.5], "n_critic": [1, 5]}, steps=4)
    run = S.study.resolve(job.spec, {}, 0)
    assert S.study.shown_values(job.spec, job.space, run) == {"lr": "0.0002/0.0005", "beta1": 0.0, "n_critic": 5}
    lr = S.study.resolve(job.spec, {"lr": 3e-4, "beta1": 0.5}, 0)["train"]
    assert lr["lr_G"] == lr["lr_D"] == 3e-4 and lr["betas"] == [0.5, 0.9]  # "lr" sets both; beta2 kept


def measured(study, trials=None):
    """What a rerun must repeat exactly (the seconds differ run to run)."""
    return [(t.number, t.state, t.params, t.intermediate_values, t.user_attrs["steps"])
            for t in study.trials[:trials]]


def test_seeded_searches_repeat_and_a_rerun_trains_nothing(tmp_path, monkeypatch):
    first = small_search(tmp_path / "a").run()
    assert measured(small_search(tmp_path / "b").run()) == measured(first)  # a step budget on a CPU: bit for bit
    other = small_search(tmp_path / "c", seed=1).run()
    assert [t.params for t in other.trials] != [t.params for t in first.trials]
    params = [tuple(sorted(t.params.items())) for t in first.trials[1:]]
    assert len(set(params)) == len(params)  # no candidate repeats another
    no_training(monkeypatch)
    assert measured(small_search(tmp_path / "a").run()) == measured(first)  # finished: nothing trained again


def test_an_interrupted_study_continues_where_it_stopped(tmp_path, monkeypatch):
    straight = small_search(tmp_path / "a").run()
    real, calls = study_module.Search._objective, []

    def interrupted(self, trial, plan, data):
        calls.append(trial.number)
        if len(calls) == 3 and trial.number == 2:
            raise KeyboardInterrupt  # a closed laptop at the start of the third trial
        return real(self, trial, plan, data)

    monkeypatch.setattr(study_module.Search, "_objective", interrupted)
    with pytest.raises(KeyboardInterrupt):
        small_search(tmp_path / "b").run()
    calls.clear()
    resumed = small_search(tmp_path / "b").run()
    assert calls == [3, 4, 5]  # 0 and 1 kept; trial 2 failed with the interrupt, and one more trial replaces it
    finished = [t for t in resumed.trials if t.state != optuna.trial.TrialState.FAIL]
    assert len(finished) == 5 and resumed.trials[2].state == optuna.trial.TrialState.FAIL
    assert measured(resumed, 2) == measured(straight, 2)


def test_a_trial_continued_over_rungs_equals_one_straight_run(tmp_path):
    small_search(tmp_path / "s").run()
    spec, data = get_model("gan"), load_dataset("mnist-5k")
    seed_everything(0)
    G, D = spec.build(data.img_shape, data.n_classes, 100)
    config = TrainConfig(**{"batch_size": 64, **spec.defaults, "steps": 6, "device": "cpu", "progress": False})
    Trainer(G, D, *spec.steps(), data, config).fit()
    searched = load_checkpoint(tmp_path / "s" / "trial_000" / "checkpoint.pt")["G"]
    for name, value in G.state_dict().items():
        assert torch.equal(value, searched[name]), name
    loaded, meta = load_generator(tmp_path / "s" / "trial_000")  # a trial's folder is a run folder
    assert meta["step"] == 6 and meta["search_trial"] == 0 and meta["study"] == "gan-mnist-5k"
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in loaded.state_dict().items())


@pytest.mark.parametrize("n, eta, rungs, fractions, counts", [
    (9, 3, 3, [1 / 9, 1 / 3, 1], [9, 4, 2]),
    (9, 3, None, [1 / 3, 1], [9, 4]),
    (10, 3, None, [1 / 9, 1 / 3, 1], [10, 4, 2]),
    (5, 2, None, [1 / 4, 1 / 2, 1], [5, 3, 2]),
    (2, 3, None, [1], [2]),
])
def test_plan(n, eta, rungs, fractions, counts):
    plan = S.plan_rungs(n, eta, rungs)
    assert plan["counts"] == counts and plan["fractions"] == pytest.approx(fractions)
    steps = [f - p for f, p in zip(fractions, [0] + fractions[:-1])]
    assert plan["cost"] == pytest.approx(sum(c * s for c, s in zip(counts, steps)))


def test_time_budget_plans_the_trials_and_the_table_reads_the_study(tmp_path):
    study = S.search("gan", {"lr_G": [1e-4, 5e-4, 1e-3]}, dataset="mnist-5k", minutes=0.15, trials=2, eta=2,
                     out=tmp_path / "t", metric=weight_metric(), device="cpu", verbose=False)
    plan = study.user_attrs["plan"]
    assert plan["unit"] == "seconds" and plan["counts"] == [3, 2] and plan["trial_budget"] > 0
    for t in study.trials:  # each trial trained for its rung's share of T, not more (one step and a score of slack)
        rung = len(t.intermediate_values) - 1
        assert t.user_attrs["seconds"][-1] == pytest.approx(plan["fractions"][rung] * plan["trial_budget"], abs=1.0)
    rows = S.table_rows(study)
    best = min((t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.value)
    assert rows[0]["trial"] == best.number and rows[0]["note"].startswith("best")
    assert {r["trial"] for r in rows} == {0, 1, 2} and set(rows[0]) >= {"lr_G", "status", "weights@1", "weights@2"}
    text = S.format_table(study)
    assert text.splitlines()[0].split()[:2] == ["trial", "lr_G"] and "default (trial 0, same budget)" in text


def test_too_small_a_budget_is_refused(tmp_path):
    with pytest.raises(ValueError, match="give more minutes or fewer trials"):
        S.search("gan", {"lr_G": S.LogUniform(1e-4, 1e-3)}, minutes=0.01, trials=20, out=tmp_path / "x",
                 metric=weight_metric(), device="cpu", verbose=False)
    assert not list((tmp_path / "x").glob("trial_*"))


@pytest.mark.parametrize("name", list(MODELS))
def test_default_space_suits_every_model(name):
    spec = get_model(name)
    space = S.default_space(spec)
    assert set(space) == {"lr_G", "lr_D", "beta1", "n_critic", "batch_size"}
    assert space["n_critic"] == ([1, 2, 5] if spec.critic else [1, 2])  # a critic may want 5 steps per G step
    job = S.Search(name, steps=4, trials=3, n_eval=20)  # the command line's space validates for every model
    assert job.space == space and job.n_total == 4
    assert job.metric.name == spec.task.search_metric("mnist-5k", 20, 0).name  # judge_fd, or l1 for pairs


def test_a_paired_model_is_searched_by_held_out_l1(tmp_path):
    study = S.search("pix2pix-l1", {"lr_G": [1e-3, 3e-3]}, steps=2, trials=1, eta=2, n_eval=20, dataset="mnist-5k",
                     out=tmp_path / "p", device="cpu", verbose=False)
    assert study.user_attrs["search"]["metric"] == "l1"  # the paired task's search metric: no judge needed
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(0 < t.value < 2 for t in complete)  # l1 on the [-1, 1] scale
    text = S.format_table(study)
    assert "l1@1" in text and "default (trial 0, same budget): l1" in text


def test_format_value():
    assert [S.format_value(v) for v in (2e-4, 0.5, 12345.0, None, [1, 2], "x")] == \
        ["0.0002", "0.5", "1.23e+04", "-", "[1,2]", "x"]
