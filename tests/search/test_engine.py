"""Hyperparameter search: validation before training, seeded configurations, successive halving,
bit-exact continuation and resumable results."""
import json

import pytest
import torch

from ganhelpers import search as S
from ganhelpers.core import TrainConfig, Trainer, seed_everything
from ganhelpers.core.checkpoint import load_checkpoint
from ganhelpers.data import load_dataset
from ganhelpers.eval.metrics import Metric
from ganhelpers.models import MODELS, get_model
from ganhelpers.runs import load_generator
from ganhelpers.search import engine


def weight_metric():
    """A cheap, deterministic stand-in for the judge: the sum of |weights| (lower counts as better)."""
    return Metric("weights", lambda G: float(sum(p.detach().double().abs().sum() for p in G.parameters())))


SPACE = {"lr_G": S.LogUniform(1e-4, 1e-3), "beta1": [0.0, 0.5], "batch_size": [8, 16]}
SMALL = dict(dataset="mnist-5k", steps=6, trials=4, eta=2, rungs=2, device="cpu", verbose=False)


def small_search(out, **kwargs):
    return S.Search("gan", SPACE, out=out, metric=weight_metric(), **{**SMALL, **kwargs})


@pytest.mark.parametrize("space, kwargs, message", [
    ({"lr_Z": [1e-3]}, {}, "unknown parameter 'lr_Z'"),
    ({}, {}, "search space is empty"),
    ({"lr_G": []}, {}, "non-empty list"),
    ({"lr_G": "fast"}, {}, "non-empty list"),
    ({"steps": [10, 20]}, {}, "set by the search itself"),
    ({"lr_G": [1e-3, -1.0]}, {}, "lr_G=-1.0 must be > 0"),
    ({"lr_G": S.LogUniform(0.0, 1e-3)}, {}, "0 < low on a log scale"),
    ({"lr_G": S.LogUniform(1e-4, 1e-3)}, {"method": "grid"}, "a grid needs a list"),
    ({"lr_G": [1e-3]}, {"minutes": 0, "steps": None}, "must be positive"),
    ({"lr_G": [1e-3]}, {"minutes": -2.0, "steps": None}, "must be positive"),
    ({"lr_G": [1e-3]}, {"minutes": 1.0}, "exactly one budget"),
    ({"lr_G": [1e-3, 2e-4]}, {"trials": 2}, "holds 1 configurations besides the default"),
    ({"lr_G": [1e-3]}, {"dataset": "ring8"}, "2-D points"),
    ({"lr_G": [1e-3]}, {"eta": 1}, "eta"),
])
def test_bad_input_fails_before_any_training(space, kwargs, message, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "Trainer", lambda *a, **k: pytest.fail("trained despite bad input"))
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        S.search("gan", space, out=tmp_path / "s", metric=weight_metric(), **{**SMALL, **kwargs})
    assert not (tmp_path / "s").exists()


def test_other_bad_names(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        S.Search("stylegan", SPACE, steps=4)
    with pytest.raises(ValueError, match="no offline judge for 'cifar10'"):  # the task has no metric: say so
        S.Search("dcgan", {"lr_G": [1e-3]}, dataset="cifar10", steps=4)
    with pytest.raises(ValueError, match="batch_size 100000"):
        S.search("gan", {"batch_size": [100000]}, steps=2, trials=1, out=tmp_path / "b", metric=weight_metric())
    assert not (tmp_path / "b").exists()


def test_trial_zero_is_the_model_default_and_configurations_are_seeded():
    wgan = S.Search("wgan-gp", {"lr": S.LogUniform(1e-5, 1e-3), "beta1": [0.0, 0.5], "n_critic": [1, 5]}, steps=4,
                    trials=6, seed=3)
    default = wgan.trials[0]
    assert default["default"] and default["params"] == {}
    # the ModelSpec defaults; its two rates differ (TTUR), so the table shows them as "G/D"
    assert default["values"] == {"lr": "0.0002/0.0005", "beta1": 0.0, "n_critic": 5}
    assert (default["train"]["lr_G"], default["train"]["lr_D"]) == (2e-4, 5e-4)
    assert default["train"]["betas"] == (0.0, 0.9)
    for t in wgan.trials[1:]:
        assert 1e-5 <= t["train"]["lr_G"] == t["train"]["lr_D"] <= 1e-3  # "lr" sets both
        assert t["train"]["betas"] == [t["values"]["beta1"], 0.9]  # beta2 kept from the defaults
        assert float(f"{t['values']['lr']:.3g}") == t["values"]["lr"]  # readable: 3 significant digits
    again = S.Search("wgan-gp", wgan.space, steps=4, trials=6, seed=3)
    other = S.Search("wgan-gp", wgan.space, steps=4, trials=6, seed=4)
    assert [t["params"] for t in again.trials] == [t["params"] for t in wgan.trials]
    assert [t["params"] for t in other.trials] != [t["params"] for t in wgan.trials]
    values = [json.dumps(t["values"], sort_keys=True) for t in wgan.trials]
    assert len(set(values)) == len(values)  # no trial repeats another or the default


def test_grid_enumerates_the_product_without_the_default_and_knows_build_and_step_arguments():
    grid = S.Search("dcgan", {"beta1": [0.0, 0.5], "smooth": [0.0, 0.1]}, steps=4, method="grid", trials=None)
    combos = [(t["values"]["beta1"], t["values"]["smooth"]) for t in grid.trials]
    assert combos[0] == (0.5, 0.0)  # the default, once: (0.5, 0.0) is not repeated as a grid point
    assert sorted(combos) == [(0.0, 0.0), (0.0, 0.1), (0.5, 0.0), (0.5, 0.1)]
    assert any(t["steps_kwargs"] == {"smooth": 0.1} for t in grid.trials)
    z_dims = S.Search("dcgan", {"z_dim": [64]}, steps=4, method="grid", trials=None).trials
    assert [t["z_dim"] for t in z_dims] == [100, 64]
    assert "base" in S.Search("sagan", {"base": [16]}, steps=4, trials=None, method="grid").build_keys


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


def test_successive_halving_keeps_the_best_and_the_default(tmp_path):
    results = small_search(tmp_path / "s", trials=5).run()
    trials = results["trials"]
    first = sorted((t for t in trials if not t["default"]), key=lambda t: t["scores"][0])
    kept = {t["trial"] for t in first[:3]}  # ceil(5 candidates / eta 2)
    assert {t["trial"] for t in trials if len(t["scores"]) == 2} == kept | {0}
    for t in trials:
        assert t["status"] == ("finished" if t["trial"] in kept | {0} else "pruned")
        assert t["steps"][-1] == (6 if t["status"] == "finished" else 3)
        assert (tmp_path / "s" / f"trial_{t['trial']:03d}" / "checkpoint.pt").is_file() == (t["status"] == "finished")
    finals = {t["trial"]: t["scores"][-1] for t in trials if t["status"] == "finished"}
    assert results["best"] == min(finals, key=finals.get)


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
    assert meta["step"] == 6 and meta["search_trial"] == 0
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in loaded.state_dict().items())


def measured(results):
    """What a rerun must repeat exactly (the seconds differ run to run)."""
    return [(t["trial"], t["values"], t["scores"], t["steps"], t["status"]) for t in results["trials"]]


def test_reproducible_and_resumable_after_an_interruption(tmp_path, monkeypatch):
    straight = small_search(tmp_path / "a").run()
    real_train, calls, state = S.Search._train, [], {"interrupt": True}

    def interrupted(self, *args):
        calls.append(args[0]["trial"])
        if state["interrupt"] and len(calls) == 3:
            state["interrupt"] = False
            raise KeyboardInterrupt  # a closed laptop in the middle of the third trial
        real_train(self, *args)

    monkeypatch.setattr(S.Search, "_train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        small_search(tmp_path / "b").run()
    saved = S.load_results(tmp_path / "b")
    assert [len(t["scores"]) for t in saved["trials"]] == [1, 1, 0, 0, 0]  # persisted after every trial
    calls.clear()
    resumed = small_search(tmp_path / "b").run()
    assert calls[:3] == [2, 3, 4]  # the finished trials were skipped
    assert measured(resumed) == measured(straight) and resumed["best"] == straight["best"]  # bit for bit
    calls.clear()
    assert measured(small_search(tmp_path / "b").run()) == measured(straight) and calls == []  # all done: no training
    with pytest.raises(ValueError, match="holds a different search"):
        small_search(tmp_path / "b", seed=1).run()


def test_time_budget_table_files_and_plot(tmp_path):
    out = tmp_path / "t"
    results = S.search("gan", {"lr_G": [1e-4, 5e-4, 1e-3]}, dataset="mnist-5k", minutes=0.15, trials=2, eta=2,
                       out=out, metric=weight_metric(), device="cpu", verbose=False)
    plan = results["plan"]
    assert plan["unit"] == "seconds" and plan["counts"] == [3, 2]
    assert 0 < results["elapsed"] < 0.15 * 60 * 1.5
    for t in results["trials"]:  # each trial trained for its rung's share of T, not more (one step of slack)
        assert t["seconds"][-1] == pytest.approx(plan["fractions"][len(t["scores"]) - 1] * plan["trial_budget"],
                                                 abs=1.0)
    rows = S.table_rows(results)
    assert rows[0]["trial"] == results["best"] and {r["trial"] for r in rows} == {0, 1, 2}
    text = S.format_table(results)
    assert text.splitlines()[0].split()[:2] == ["trial", "lr_G"] and "default (trial 0, same budget)" in text
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("trial,lr_G,status") and len(csv_lines) == 4
    assert json.loads((out / "results.json").read_text())["best"] == results["best"]
    fig = S.plot_search(results, out / "search.png")
    assert len(fig.axes) == 2 and (out / "search.png").read_bytes()[:4] == b"\x89PNG"


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
    search = S.Search(name, steps=4, trials=3, n_eval=20)  # the command line's space validates for every model
    assert search.space == space and len(search.trials) == 4
    assert search.metric.name == spec.task.search_metric("mnist-5k", 20, 0).name  # judge_fd, or l1 for pairs


def test_a_paired_model_is_searched_by_held_out_l1(tmp_path):
    results = S.search("pix2pix-l1", {"lr_G": [1e-3, 3e-3]}, steps=2, trials=1, eta=2, n_eval=20, dataset="mnist-5k",
                       out=tmp_path / "p", device="cpu", verbose=False)
    assert results["key"]["metric"] == "l1"  # the paired task's search metric: no judge needed
    finished = [t for t in results["trials"] if t["status"] == "finished"]
    assert len(finished) == 2 and all(0 < t["scores"][-1] < 2 for t in finished)  # l1 on the [-1, 1] scale
    assert results["best"] in {t["trial"] for t in finished}
    text = S.format_table(results)
    assert "l1@1" in text and "default (trial 0, same budget): l1" in text
