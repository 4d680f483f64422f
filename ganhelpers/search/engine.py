"""Hyperparameter search with successive halving, under one total time budget.

    results = search("dcgan", {"lr_G": LogUniform(5e-5, 2e-3), "beta1": [0.0, 0.5]}, minutes=10)
    print(format_table(results)); plot_search(results)

Trial 0 is the model's default (`ModelSpec.defaults`), trained under the same budget as every finalist, so
"beats the default" is measured fairly. Trials train through the one `Trainer` and are scored by
`MetricCallback` (the offline judge's Fréchet distance by default: lower is better). Successive halving
(Jamieson & Talwalkar 2016, the inner loop of Hyperband): with R rungs every trial trains for T / eta^(R-1),
the best 1/eta of the candidates and the default continue from their checkpoints to T / eta^(R-2), ... up to T.
The budget is `minutes` (the total; T is planned from it) or `steps` (T in G steps: then a CPU run repeats bit
for bit). OUT/results.json (and results.csv) are rewritten atomically after every trial and rung; the same
search with the same OUT skips what is done and resumes the rest (the `Trainer` resumes bit-exactly).
Space values: a list of choices, or `LogUniform(low, high)` / `Uniform(low, high)` (random search only).
Keys: `TrainConfig` fields, "lr" (sets lr_G and lr_D), "beta1", "beta2", "z_dim", and the keyword
arguments of the model's build and steps functions ("smooth" for dcgan, "gp_weight" for wgan-gp, ...).
"""
from __future__ import annotations

import inspect
import itertools
import json
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..core.callbacks import Callback
from ..core.config import UNLIMITED, TrainConfig
from ..core.runtime import get_device, seed_everything
from ..core.trainer import NonFiniteLoss, Trainer
from ..data.datasets import DATASETS, load_dataset
from ..eval.metrics import MetricCallback
from ..models import get_model
from ..models.spec import ModelSpec
from .results import format_table, format_value, load_results, save_results

FIXED = {"steps", "minutes", "out_dir", "resume", "device", "progress", "log_every", "ckpt_every", "n_fixed"}
TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - FIXED


@dataclass(frozen=True)
class Uniform:
    """A number drawn uniformly from [low, high]; on a log scale with log=True (see `LogUniform`)."""
    low: float
    high: float
    log: bool = False


def LogUniform(low: float, high: float) -> Uniform:
    """A number whose logarithm is uniform in [log low, log high]: learning rates."""
    return Uniform(low, high, log=True)


def default_space(spec: ModelSpec) -> dict:
    """The command line's space: both learning rates, Adam's beta1, n_critic (up to 5 for a critic) and the batch size."""
    return {"lr_G": LogUniform(5e-5, 2e-3), "lr_D": LogUniform(5e-5, 2e-3), "beta1": [0.0, 0.5, 0.9],
            "n_critic": [1, 2, 5] if spec.critic else [1, 2], "batch_size": [32, 64, 128]}


def plan_rungs(n_trials: int, eta: int, rungs: int | None = None) -> dict:
    """Rung fractions of the full per-trial budget T, trials per rung, and the cost in units of T.

    n_trials counts the default; each rung keeps ceil(candidates / eta) candidates plus the default.
    n_trials=9, eta=3, rungs=3: fractions [1/9, 1/3, 1], counts [9, 4, 2], cost 3.22 T.
    Without `rungs`: as many (at most 3) as keep eta^(R-1) <= the number of candidates.
    Taught in 10_comparison_and_search.
    """
    rungs = rungs or 1 + sum(1 for k in (1, 2) if eta ** k <= max(n_trials - 1, 1))
    counts = [n_trials]
    for _ in range(rungs - 1):
        counts.append(math.ceil((counts[-1] - 1) / eta) + 1)
    fractions = [eta ** -(rungs - 1 - k) for k in range(rungs)]
    cost = sum(n * (f - prev) for n, f, prev in zip(counts, fractions, [0.0] + fractions[:-1]))
    return {"fractions": fractions, "counts": counts, "cost": cost}


def _sample(spec, rng: random.Random):
    if not isinstance(spec, Uniform):
        return rng.choice(list(spec))
    if spec.log:
        return float(f"{math.exp(rng.uniform(math.log(spec.low), math.log(spec.high))):.3g}")  # 3 digits: readable
    return float(f"{rng.uniform(spec.low, spec.high):.3g}")


class Search:
    """A validated search: `Search(...)` checks everything (a ValueError, no training), `.run()` runs it."""

    def __init__(self, model: str, space: dict | None = None, dataset: str = "mnist-5k", minutes: float | None = None,
                 steps: int | None = None, trials: int | None = 8, method: str = "random", eta: int = 3,
                 rungs: int | None = None, out="runs/search", seed: int = 0, metric=None, n_eval: int = 1000,
                 device: str = "auto", verbose: bool = True):
        self.spec = get_model(model)
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
        if problem := self.spec.check(tuple(DATASETS[dataset]["shape"]), DATASETS[dataset]["n_classes"]):
            raise ValueError(problem)
        if (minutes is None) == (steps is None):
            raise ValueError("give exactly one budget: minutes (the total for the search) or steps (per trial)")
        if not (0 < minutes < math.inf if steps is None else isinstance(steps, int) and steps >= 1):
            raise ValueError(f"budget minutes={minutes}, steps={steps}: it must be positive (steps a whole number)")
        if method not in ("random", "grid") or not isinstance(eta, int) or eta < 2 or rungs not in (None, *range(1, 7)):
            raise ValueError(f"method={method!r}, eta={eta}, rungs={rungs}: use 'random' or 'grid', a whole eta >= 2 "
                             "and 1..6 rungs")
        if trials is not None and (not isinstance(trials, int) or trials < 1):
            raise ValueError(f"trials={trials}: ask for at least one trial besides the default")
        trials = 8 if trials is None and method == "random" else trials
        metric = metric or self.spec.task.search_metric(dataset, n_eval, seed)  # raises when there is none
        get_device(device)
        self.model, self.dataset, self.minutes, self.steps, self.eta = model, dataset, minutes, steps, eta
        self.seed, self.device, self.verbose, self.out = seed, device, verbose, Path(out)
        self.space = default_space(self.spec) if space is None else dict(space)
        self.build_keys = set(inspect.signature(self.spec.build).parameters) - {"img_shape", "n_classes", "z_dim"}
        self.step_keys = set(inspect.signature(self.spec.steps).parameters)
        self._check_space(method)
        self.metric = metric
        self.trials = [self._trial(i, params) for i, params in enumerate([{}] + self._configs(method, trials))]
        self.plan = plan_rungs(len(self.trials), eta, rungs)
        self.key = {"model": model, "dataset": dataset, "minutes": minutes, "steps": steps, "method": method,
                    "eta": eta, "seed": seed, "n_eval": n_eval, "metric": self.metric.name, "plan": self.plan,
                    "space": {k: asdict(v) if isinstance(v, Uniform) else {"choices": list(v)}
                              for k, v in self.space.items()}, "trials": [t["params"] for t in self.trials]}

    # ---- validation and configurations ----------------------------------------------------------
    def _check_space(self, method):
        if not self.space:
            raise ValueError("the search space is empty: give at least one parameter and its values")
        known = TRAIN_KEYS | {"lr", "beta1", "beta2", "z_dim"} | self.build_keys | self.step_keys
        for key, spec in self.space.items():
            if key in FIXED:
                raise ValueError(f"{key!r} is set by the search itself (budget, folders, logging): not searchable")
            if key not in known:
                raise ValueError(f"unknown parameter {key!r} for {self.spec.name}: choose from "
                                 + ", ".join(sorted(known)))
            if isinstance(spec, Uniform):
                if method == "grid":
                    raise ValueError(f"{key}: a grid needs a list of values, not {spec}")
                if not spec.low < spec.high or (spec.log and spec.low <= 0):
                    raise ValueError(f"{key}: {spec} needs low < high (and 0 < low on a log scale)")
            elif isinstance(spec, str) or not hasattr(spec, "__iter__") or len(list(spec)) == 0:
                raise ValueError(f"{key}: give a non-empty list of values, LogUniform(low, high) or Uniform(low, high)")
            else:
                for value in spec:  # every choice must make a valid TrainConfig
                    self._trial(0, {key: value})

    def _configs(self, method, trials) -> list[dict]:
        rng, seen = random.Random(self.seed), {self._text({})}
        if all(not isinstance(s, Uniform) for s in self.space.values()):  # finite: enumerate it
            combos = [dict(zip(self.space, c)) for c in itertools.product(*map(list, self.space.values()))]
            combos = [c for c in combos if self._text(c) not in seen]  # the default is trial 0 already
            if method == "random" and trials > len(combos):
                raise ValueError(f"the space holds {len(combos)} configurations besides the default: ask for at "
                                 f"most {len(combos)} trials")
            rng.shuffle(combos)  # a seeded subset when trials < the grid
            return combos[:trials] if trials else combos
        configs = []
        while len(configs) < trials:
            for _ in range(1000):  # distinct from the default and from each other
                params = {k: _sample(s, rng) for k, s in self.space.items()}
                if self._text(params) not in seen:
                    break
            seen.add(self._text(params))
            configs.append(params)
        return configs

    def _text(self, params) -> str:
        return json.dumps(self._trial(0, params)["values"], sort_keys=True)

    def _trial(self, number: int, params: dict) -> dict:
        """A trial record: its overrides, the resolved train/build/steps settings, and what was measured."""
        train = {"batch_size": 64, **self.spec.defaults, "seed": self.seed}
        build, steps_kwargs, z_dim = {}, {}, self.spec.z_dim
        for key, value in params.items():
            value = list(value) if isinstance(value, tuple) else value
            if key == "lr":
                train["lr_G"] = train["lr_D"] = value
            elif key in ("beta1", "beta2"):
                train["betas"] = list(train.get("betas", (0.5, 0.999)))
                train["betas"][key == "beta2"] = value
            elif key in TRAIN_KEYS:
                train[key] = value
            elif key == "z_dim":
                z_dim = value
            else:
                (build if key in self.build_keys else steps_kwargs)[key] = value
        config = TrainConfig(**{**train, "steps": 1})  # raises for impossible values, before any training
        values = {}  # what the table shows: each searched key's value in this trial
        for key in self.space:
            if key == "lr":
                values[key] = config.lr_G if config.lr_G == config.lr_D else f"{config.lr_G:g}/{config.lr_D:g}"
            elif key in ("beta1", "beta2"):
                values[key] = config.betas[key == "beta2"]
            elif key in TRAIN_KEYS:
                values[key] = list(v) if isinstance(v := getattr(config, key), tuple) else v
            else:
                given, fn = (build, self.spec.build) if key in self.build_keys else (steps_kwargs, self.spec.steps)
                values[key] = z_dim if key == "z_dim" else given.get(key, inspect.signature(fn).parameters[key].default)
        return {"trial": number, "default": number == 0, "params": params, "values": values, "train": train,
                "build": build, "steps_kwargs": steps_kwargs, "z_dim": z_dim, "scores": [], "extras": [],
                "steps": [], "seconds": [], "rung": 0, "status": "running"}

    # ---- running ----------------------------------------------------------------------------------
    def run(self) -> dict:
        data = load_dataset(self.dataset, "train", seed=self.seed)
        for t in self.trials:  # what needs the data is checked before any training too
            if t["train"]["batch_size"] > len(data):
                raise ValueError(f"trial {t['trial']}: batch_size {t['train']['batch_size']} > {len(data)} images")
            if t["build"]:
                self._build(t, data)
        start = time.monotonic()
        results = self._load_or_start(data)
        plan = results["plan"]
        for k, fraction in enumerate(plan["fractions"]):
            for t in results["trials"]:
                if t["rung"] >= k and len(t["scores"]) == k and t["status"] == "running":
                    target = fraction * plan["trial_budget"]
                    self._train(t, k, max(1, round(target)) if self.steps else target, data, len(plan["fractions"]))
                    results["elapsed"], start = results["elapsed"] + time.monotonic() - start, time.monotonic()
                    save_results(results, self.out)
            if k + 1 < len(plan["fractions"]) and results["promoted"] == k:
                self._promote(results, k)
        for t in results["trials"]:
            t["status"] = "finished" if t["status"] == "running" else t["status"]
        ranked = sorted((t for t in results["trials"] if t["status"] == "finished" and t["scores"][-1] is not None),
                        key=lambda t: self._order(t["scores"][-1]))
        results["best"] = ranked[0]["trial"] if ranked else None
        save_results(results, self.out)
        if self.verbose:
            print(format_table(results))
        return results

    def _load_or_start(self, data) -> dict:
        if (self.out / "results.json").is_file():
            results = load_results(self.out)
            if results["key"] != json.loads(json.dumps(self.key)):
                raise ValueError(f"{self.out} holds a different search (model, space, budget, trials or seed differ): "
                                 "choose another out folder, or delete this one to start over")
            done = sum(len(t["scores"]) for t in results["trials"])
            self._say(f"resuming {self.out}: the {done} trial-rungs already done are skipped")
            return results
        if any(self.out.glob("trial_*/checkpoint.pt")):
            raise ValueError(f"{self.out} holds trial folders but no results.json: choose another out folder")
        plan = dict(self.plan, unit="steps" if self.steps else "seconds", trial_budget=self.steps)
        if self.minutes:  # T from the total, less one measured evaluation per trial-rung and a 5% margin
            tick = time.monotonic()
            self.metric(self._build(self.trials[0], data)[0].to(get_device(self.device)))  # warms the judge too
            overhead = 1.2 * (time.monotonic() - tick) + 0.5  # evaluation, building, checkpoints
            train_s = 0.95 * self.minutes * 60 - overhead * (sum(plan["counts"]) + 1)
            plan["trial_budget"] = train_s / plan["cost"]
            if train_s <= 0 or plan["trial_budget"] * plan["fractions"][0] < 1.0:
                raise ValueError(f"{self.minutes} min cannot train {len(self.trials)} trials (a trial-rung costs about "
                                 f"{overhead:.1f} s to score): give more minutes or fewer trials")
        results = {"key": self.key, "plan": plan, "trials": self.trials, "promoted": 0, "elapsed": 0.0,
                   "best": None, "metric": self.metric.name, "higher_is_better": self.metric.higher_is_better}
        rungs = ", ".join(f"{f * plan['trial_budget']:.0f}" for f in plan["fractions"])
        self._say(f"search: {self.model} on {self.dataset}, {len(self.trials)} trials (trial 0 = the default); rungs "
                  f"at {rungs} {'steps' if self.steps else 's'} for {' -> '.join(map(str, plan['counts']))} trials; "
                  f"{self.metric.name}, {'higher' if self.metric.higher_is_better else 'lower'} is better")
        save_results(results, self.out)
        return results

    def _build(self, t, data):
        seed_everything(self.seed)  # every trial starts from the same draw of its architecture's weights
        return self.spec.build(data.img_shape, data.n_classes, t["z_dim"], **t["build"])

    def _train(self, t, k, target, data, n_rungs):
        """Train trial `t` up to the rung's target (steps, or cumulative seconds) and score it."""
        folder, G_D = self.out / f"trial_{t['trial']:03d}", self._build(t, data)
        config = TrainConfig(**{**t["train"], "steps": self.steps or UNLIMITED, "device": self.device, "log_every": 10,
                                "out_dir": str(folder), "resume": (folder / "checkpoint.pt").is_file(),
                                "progress": False})
        done_s = t["seconds"][-1] if t["seconds"] else 0.0
        rung = _Rung(target if self.steps else None, None if self.steps else target - done_s)
        scorer = MetricCallback(self.metric, every=10**9, save_best=False, verbose=False)  # scores at the end only
        sampler = self.spec.task.sampler(data, config.batch_size, get_device(self.device), self.seed)
        trainer = Trainer(*G_D, *self.spec.steps(**t["steps_kwargs"]), sampler, config, callbacks=[rung, scorer],
                          meta={"model": self.model, "dataset": self.dataset, "z_dim": t["z_dim"], "build": t["build"],
                                "search_trial": t["trial"], "img_shape": list(data.img_shape),
                                "n_classes": data.n_classes})
        try:
            if trainer.step > (t["steps"][-1] if t["steps"] else 0):  # interrupted after its last save: trained
                rung.seconds, score = (0.0 if self.steps else target - done_s), self.metric(trainer.G)
            else:
                trainer.fit()
                trainer.save()  # again, so that the checkpoint's history holds the score too
                score = scorer.results[-1]
            value = float(score[self.metric.name])
            t["scores"].append(value if math.isfinite(value) else None)
            t["extras"].append({key: v for key, v in score.items() if key != "step"})
        except NonFiniteLoss as e:
            t["scores"].append(None)
            t["extras"].append({"error": str(e)})
            t["status"] = "diverged"
        t["steps"].append(trainer.step)
        t["seconds"].append(done_s + rung.seconds)
        self._say(f"rung {k + 1}/{n_rungs} trial {t['trial']:>2}{' (default)' if t['default'] else ''} "
                  + " ".join(f"{key}={format_value(v)}" for key, v in t["values"].items())
                  + f": {self.metric.name} {format_value(t['scores'][-1])} ({trainer.step} steps, {t['seconds'][-1]:.0f} s)")

    def _order(self, score):  # a sort key: best first, failures last
        return math.inf if score is None else (-score if self.metric.higher_is_better else score)

    def _promote(self, results, k):
        entered = [t for t in results["trials"] if t["rung"] >= k and not t["default"]]
        keep = math.ceil(len(entered) / self.eta)
        ranked = sorted((t for t in entered if t["status"] == "running"), key=lambda t: self._order(t["scores"][k]))
        for i, t in enumerate(ranked):
            if i < keep:
                t["rung"] = k + 1
            else:
                t["status"] = "pruned"
                (self.out / f"trial_{t['trial']:03d}" / "checkpoint.pt").unlink(missing_ok=True)  # never continued
        for t in results["trials"]:
            t["rung"] = k + 1 if t["default"] and t["status"] == "running" else t["rung"]
        results["promoted"] = k + 1
        save_results(results, self.out)
        self._say(f"rung {k + 1} done: trials {', '.join(str(t['trial']) for t in ranked[:keep])} and the default "
                  "go on")

    def _say(self, text):
        if self.verbose:
            print(text, flush=True)


class _Rung(Callback):
    """Stops a trial at its rung's end: `steps` reached, or `seconds` of training in this call spent."""

    def __init__(self, steps=None, seconds=None):
        self.steps, self.limit = math.inf if steps is None else steps, math.inf if seconds is None else seconds
        self.seconds = 0.0

    def on_train_start(self, trainer):
        self.start = time.monotonic()

    def on_step_end(self, trainer):
        self.seconds = time.monotonic() - self.start
        if trainer.step >= self.steps or self.seconds >= self.limit:
            trainer.stop("end of rung")


def search(model: str, space: dict | None = None, **kwargs) -> dict:
    """Validate (a clear ValueError before any training), run and return the results (see `Search`).

    Taught in 10_comparison_and_search.
    """
    return Search(model, space, **kwargs).run()
