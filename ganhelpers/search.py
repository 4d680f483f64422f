"""Hyperparameter search with successive halving, under one total time budget.

    results = search("dcgan", {"lr_G": LogUniform(5e-5, 2e-3), "beta1": [0.0, 0.5]}, minutes=10)
    print(format_table(results)); plot_search(results)

Trial 0 is always the model's default (its `ModelSpec.defaults`), trained under exactly the budget of
every finalist, so "beats the default" is a fair comparison. Every trial trains through the one
`Trainer` and is scored by `MetricCallback` (the offline judge's Fréchet distance by default, lower is
better). Successive halving (Jamieson & Talwalkar 2016; the inner loop of Hyperband) spends little on
hopeless trials: with R rungs every trial trains for T / eta^(R-1), the best 1/eta of the candidates
(plus the default) continue from their checkpoint to T / eta^(R-2), and so on up to T.

Budgets are in seconds (`minutes`: the *total* for the search; T is planned from it) or in G steps
(`steps`: T in steps, the run then repeats bit for bit on a CPU). OUT/results.json is rewritten
atomically after every trial and rung; running the same search again with the same OUT skips what is
done and continues the rest from their checkpoints (`Trainer` resumes bit-exactly).
Space values: a list (the choices) or `LogUniform(low, high)` / `Uniform(low, high)` (random only).
Keys: `TrainConfig` fields, "lr" (both lr_G and lr_D), "beta1", "beta2", "z_dim", and the keyword
arguments of the model's build and steps functions (e.g. "smooth" for dcgan, "gp_weight" for wgan-gp).
"""
from __future__ import annotations

import csv
import inspect
import itertools
import json
import math
import os
import random
import time
from dataclasses import dataclass, fields
from pathlib import Path

from .train import UNLIMITED, Callback, NonFiniteLoss, TrainConfig, Trainer

FIXED = {"steps", "minutes", "out_dir", "resume", "device", "progress", "log_every", "ckpt_every", "n_fixed"}
TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - FIXED
Z_DIM = 100  # as the command line's `train`


@dataclass(frozen=True)
class LogUniform:
    """A number drawn uniformly on a log scale in [low, high] (learning rates)."""
    low: float
    high: float


@dataclass(frozen=True)
class Uniform:
    """A number drawn uniformly in [low, high]."""
    low: float
    high: float


def default_space(model: str) -> dict:
    """The command line's space: both learning rates, Adam's beta1, n_critic and the batch size."""
    critic = model in ("wgan-gp", "cgan")
    return {"lr_G": LogUniform(5e-5, 2e-3), "lr_D": LogUniform(5e-5, 2e-3), "beta1": [0.0, 0.5, 0.9],
            "n_critic": [1, 2, 5] if critic else [1, 2], "batch_size": [32, 64, 128]}


def plan_rungs(n_trials: int, eta: int, rungs: int | None = None) -> dict:
    """Rung fractions of the full per-trial budget T, trials per rung, and the cost in units of T.

    n_trials counts the default; each rung keeps ceil(candidates / eta) candidates plus the default.
    n_trials=9, eta=3, rungs=3: fractions [1/9, 1/3, 1], counts [9, 4, 2], cost 3.22 T.
    """
    if rungs is None:  # as many as let eta^(R-1) <= candidates, at most 3
        rungs = 1 + sum(1 for k in (1, 2) if eta ** k <= max(n_trials - 1, 1))
    counts = [n_trials]
    for _ in range(rungs - 1):
        counts.append(math.ceil((counts[-1] - 1) / eta) + 1)
    fractions = [eta ** -(rungs - 1 - k) for k in range(rungs)]
    cost = sum(n * (f - prev) for n, f, prev in zip(counts, fractions, [0.0] + fractions[:-1]))
    return {"fractions": fractions, "counts": counts, "cost": cost}


def _sample(spec, rng: random.Random):
    if isinstance(spec, LogUniform):
        return float(f"{math.exp(rng.uniform(math.log(spec.low), math.log(spec.high))):.3g}")
    if isinstance(spec, Uniform):
        return float(f"{rng.uniform(spec.low, spec.high):.3g}")
    return rng.choice(list(spec))


def _describe(spec):
    if isinstance(spec, (LogUniform, Uniform)):
        return {type(spec).__name__.lower(): [spec.low, spec.high]}
    return {"choices": [list(v) if isinstance(v, tuple) else v for v in spec]}


class Search:
    """A validated search: `Search(...)` checks everything (no training), `.run()` trains and scores."""

    def __init__(self, model: str, space: dict | None = None, dataset: str = "mnist-5k", minutes: float | None = None,
                 steps: int | None = None, trials: int | None = 8, method: str = "random", eta: int = 3,
                 rungs: int | None = None, out="runs/search", seed: int = 0, metric=None, n_eval: int = 1000,
                 device: str = "auto", verbose: bool = True):
        from . import judges, pix2pix
        from .data import DATASETS
        from .models import get_model
        from .utils import get_device
        self.spec = get_model(model)
        if model in pix2pix.MODEL_NAMES:
            raise ValueError(f"{model} translates paired images (scored by L1 on held-out pairs), it does not sample "
                             "from noise: search a noise-to-image model")
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
        problem = self.spec.check(tuple(DATASETS[dataset]["shape"]))
        if problem:
            raise ValueError(problem)
        if (minutes is None) == (steps is None):
            raise ValueError("give exactly one budget: minutes (the total for the search) or steps (per trial)")
        if (minutes is not None and not 0 < minutes < math.inf) or (steps is not None and (
                not isinstance(steps, int) or steps < 1)):
            raise ValueError(f"budget minutes={minutes}, steps={steps}: it must be positive (steps a whole number)")
        if method not in ("random", "grid"):
            raise ValueError(f"unknown method {method!r}: use 'random' or 'grid'")
        if not isinstance(eta, int) or eta < 2 or (rungs is not None and not 1 <= rungs <= 6):
            raise ValueError(f"eta={eta}, rungs={rungs}: eta is a whole number >= 2 and rungs in 1..6")
        if trials is not None and (not isinstance(trials, int) or trials < 1):
            raise ValueError(f"trials={trials}: ask for at least one trial besides the default")
        if metric is None and dataset not in judges.JUDGE_FOR:
            raise ValueError(f"no offline judge for {dataset!r}: pass metric= (e.g. judges.fid_metric('cifar10'))")
        get_device(device)
        self.model, self.dataset, self.minutes, self.steps, self.eta = model, dataset, minutes, steps, eta
        self.seed, self.device, self.verbose, self.n_eval, self.out = seed, device, verbose, n_eval, Path(out)
        self.space = default_space(model) if space is None else dict(space)
        self.build_keys = set(inspect.signature(self.spec.build).parameters) - {"img_shape", "n_classes", "z_dim"}
        self.step_keys = set(inspect.signature(self.spec.steps).parameters)
        self._check_space(method)
        trials = 8 if trials is None and method == "random" else trials
        self.metric = metric or judges.judge_metric(dataset, n=n_eval)
        self.trials = [self._trial(0, {})] + [self._trial(i + 1, p) for i, p in
                                              enumerate(self._configs(method, trials))]
        self.plan = plan_rungs(len(self.trials), eta, rungs)
        self.key = {"model": model, "dataset": dataset, "minutes": minutes, "steps": steps, "method": method,
                    "eta": eta, "seed": seed, "n_eval": n_eval, "metric": self.metric.name,
                    "space": {k: _describe(v) for k, v in self.space.items()}, "plan": self.plan,
                    "trials": [t["params"] for t in self.trials]}
        self.n_images = None  # batch sizes are checked against the data in run(), before any training

    # ---- validation and configurations ----------------------------------------------------------
    def _check_space(self, method):
        if not self.space:
            raise ValueError("the search space is empty: give at least one parameter and its values")
        known = TRAIN_KEYS | {"lr", "beta1", "beta2", "z_dim"} | self.build_keys | self.step_keys
        for key, spec in self.space.items():
            if key in FIXED:
                raise ValueError(f"{key!r} is set by the search itself (budget, folders, logging): not searchable")
            if key not in known:
                raise ValueError(f"unknown parameter {key!r} for {self.spec.name}: choose from {', '.join(sorted(known))}")
            if isinstance(spec, (LogUniform, Uniform)):
                if method == "grid":
                    raise ValueError(f"{key}: a grid needs a list of values, not {spec}")
                if not spec.low < spec.high or (isinstance(spec, LogUniform) and spec.low <= 0):
                    raise ValueError(f"{key}: {spec} needs 0 < low < high (low may be 0 or negative for Uniform)")
            elif isinstance(spec, str) or not hasattr(spec, "__iter__") or len(list(spec)) == 0:
                raise ValueError(f"{key}: give a non-empty list of values, LogUniform(low, high) or Uniform(low, high)")
            else:
                for value in spec:  # every choice must make a valid TrainConfig
                    self._trial(0, {key: value})

    def _configs(self, method, trials):
        rng, seen = random.Random(self.seed), {self._text({})}
        if all(isinstance(s, (list, tuple)) for s in self.space.values()):  # finite: enumerate it
            combos = [dict(zip(self.space, c)) for c in itertools.product(*map(list, self.space.values()))]
            combos = [c for c in combos if self._text(c) not in seen]
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
        build, steps_kwargs, z_dim = {}, {}, Z_DIM
        for key, value in params.items():
            value = list(value) if isinstance(value, tuple) else value
            if key == "lr":
                train["lr_G"] = train["lr_D"] = value
            elif key in ("beta1", "beta2"):
                betas = list(train.get("betas", (0.5, 0.999)))
                betas[key == "beta2"] = value
                train["betas"] = betas
            elif key in TRAIN_KEYS:
                train[key] = value
            elif key == "z_dim":
                z_dim = value
            elif key in self.build_keys:
                build[key] = value
            else:
                steps_kwargs[key] = value
        config = TrainConfig(**{**train, "steps": 1})  # raises for impossible values, before any training
        values = {}
        for key in self.space:
            if key == "lr":
                values[key] = config.lr_G if config.lr_G == config.lr_D else f"{config.lr_G:g}/{config.lr_D:g}"
            elif key in ("beta1", "beta2"):
                values[key] = config.betas[key == "beta2"]
            elif key in TRAIN_KEYS:
                values[key] = list(v) if isinstance(v := getattr(config, key), tuple) else v
            elif key == "z_dim":
                values[key] = z_dim
            else:
                where = (build, self.spec.build) if key in self.build_keys else (steps_kwargs, self.spec.steps)
                values[key] = where[0].get(key, inspect.signature(where[1]).parameters[key].default)
        return {"trial": number, "default": number == 0, "params": params, "values": values, "train": train,
                "build": build, "steps_kwargs": steps_kwargs, "z_dim": z_dim, "scores": [], "extras": [],
                "steps": [], "seconds": [], "rung": 0, "status": "running"}

    # ---- running ----------------------------------------------------------------------------------
    def run(self) -> dict:
        from .data import load_dataset
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
                    self._train(t, k, max(1, round(target)) if self.steps else target, data, results)
                    results["elapsed"] += time.monotonic() - start
                    start = time.monotonic()
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
        path = self.out / "results.json"
        if path.is_file():
            results = load_results(self.out)
            if results["key"] != json.loads(json.dumps(self.key)):
                raise ValueError(f"{self.out} holds a different search (model, space, budget, trials or seed differ): "
                                 "choose another out folder, or delete this one to start over")
            done = sum(len(t["scores"]) for t in results["trials"])
            self._say(f"resuming {path}: {done} trial-rungs already done are skipped")
            return results
        if any(self.out.glob("trial_*/checkpoint.pt")):
            raise ValueError(f"{self.out} holds trial folders but no results.json: choose another out folder")
        plan = dict(self.plan, unit="steps" if self.steps else "seconds", trial_budget=self.steps)
        if self.minutes:  # T from the total: minus one measured evaluation per trial-rung, and a margin
            tick = time.monotonic()
            self.metric(self._build(self.trials[0], data)[0].to(self._device()))  # also warms the judge's caches
            overhead = 1.2 * (time.monotonic() - tick) + 0.5  # evaluation, building, checkpoints
            train_s = 0.95 * self.minutes * 60 - overhead * (sum(plan["counts"]) + 1)
            plan["trial_budget"] = train_s / plan["cost"]
            if train_s <= 0 or plan["trial_budget"] * plan["fractions"][0] < 1.0:
                raise ValueError(f"{self.minutes} min cannot train {len(self.trials)} trials (a trial-rung costs about "
                                 f"{overhead:.1f} s to score): give more minutes or fewer trials")
        results = {"key": self.key, "plan": plan, "trials": self.trials, "promoted": 0, "elapsed": 0.0,
                   "best": None, "metric": self.metric.name, "higher_is_better": self.metric.higher_is_better}
        unit = "steps" if self.steps else "s"
        self._say(f"search: {self.model} on {self.dataset}, {len(self.trials)} trials (trial 0 = the default), "
                  f"{len(plan['counts'])} rungs of " + ", ".join(f"{f * plan['trial_budget']:.0f} {unit}" for f in
                  plan["fractions"]) + f" per trial for " + " -> ".join(map(str, plan["counts"])) +
                  f" trials; {self.metric.name} ({'higher' if self.metric.higher_is_better else 'lower'} is better)")
        save_results(results, self.out)
        return results

    def _device(self):
        from .utils import get_device
        return get_device(self.device)

    def _build(self, t, data):
        from .utils import seed_everything
        seed_everything(self.seed)  # every trial starts from the same draw of its architecture's weights
        return self.spec.build(data.img_shape, data.n_classes, t["z_dim"], **t["build"])

    def _train(self, t, k, target, data, results):
        """Train trial `t` up to the rung's target (steps or cumulative seconds) and score it."""
        from .metrics import MetricCallback
        folder = self.out / f"trial_{t['trial']:03d}"
        G, D = self._build(t, data)
        resume = (folder / "checkpoint.pt").is_file()
        config = TrainConfig(**{**t["train"], "steps": self.steps or UNLIMITED, "device": self.device,
                                "out_dir": str(folder), "resume": resume, "progress": False, "log_every": 10})
        done_s = t["seconds"][-1] if t["seconds"] else 0.0
        rung = _Rung(target if self.steps else None, None if self.steps else target - done_s)
        scorer = MetricCallback(self.metric, every=10**9, save_best=False, verbose=False)
        trainer = Trainer(G, D, *self.spec.steps(**t["steps_kwargs"]), data, config, callbacks=[rung, scorer],
                          meta={"model": self.model, "dataset": self.dataset, "z_dim": t["z_dim"], "search_trial":
                                t["trial"], "img_shape": list(data.img_shape), "n_classes": data.n_classes})
        try:
            if trainer.step > (t["steps"][-1] if t["steps"] else 0):  # interrupted after its last save: done
                rung.seconds = 0.0 if self.steps else target - done_s
                score = self.metric(trainer.G)
            else:
                trainer.fit()
                trainer.save()  # the checkpoint's history now holds the score too
                score = scorer.results[-1]
            value = float(score[self.metric.name])
            t["scores"].append(value if math.isfinite(value) else None)
            t["extras"].append({k_: v for k_, v in score.items() if k_ != "step"})
        except NonFiniteLoss as e:
            t["scores"].append(None), t["extras"].append({"error": str(e)})
            t["status"] = "diverged"
        t["steps"].append(trainer.step)
        t["seconds"].append(done_s + rung.seconds)
        shown = " ".join(f"{key}={_fmt(v)}" for key, v in t["values"].items())
        self._say(f"rung {k + 1}/{len(results['plan']['fractions'])} trial {t['trial']:>2} "
                  f"{'(default) ' if t['default'] else ''}{shown}: {self.metric.name} {_fmt(t['scores'][-1])} "
                  f"({trainer.step} steps, {t['seconds'][-1]:.0f} s)")

    def _order(self, score):
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
                for name in ("checkpoint.pt", "best.pt"):  # a pruned trial is never continued
                    (self.out / f"trial_{t['trial']:03d}" / name).unlink(missing_ok=True)
        for t in results["trials"]:
            if t["default"] and t["status"] == "running":
                t["rung"] = k + 1
        results["promoted"] = k + 1
        save_results(results, self.out)
        self._say(f"rung {k + 1} done: trials {', '.join(str(t['trial']) for t in ranked[:keep])} and the default go on")

    def _say(self, text):
        if self.verbose:
            print(text, flush=True)


class _Rung(Callback):
    """Stops a trial at its rung's end: `steps` reached, or `seconds` of training in this call spent."""

    def __init__(self, steps=None, seconds=None):
        self.target_steps, self.target_seconds, self.seconds = steps, seconds, 0.0

    def on_train_start(self, trainer):
        self.start = time.monotonic()

    def on_step_end(self, trainer):
        self.seconds = time.monotonic() - self.start
        if (self.target_steps is not None and trainer.step >= self.target_steps) or (
                self.target_seconds is not None and self.seconds >= self.target_seconds):
            trainer.stop("end of rung")


def search(model: str, space: dict | None = None, **kwargs) -> dict:
    """Validate (a clear ValueError before any training), run and return the results (see `Search`)."""
    return Search(model, space, **kwargs).run()


def save_results(results: dict, out) -> None:
    """OUT/results.json (everything) and OUT/results.csv (the table), each written atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _atomic(out / "results.json", lambda f: json.dump(results, f, indent=1))
    rows = table_rows(results)

    def write_csv(f):
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _atomic(out / "results.csv", write_csv)


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_results(out) -> dict:
    return json.loads((Path(out) / "results.json").read_text())


def table_rows(results: dict) -> list[dict]:
    """One dict per trial, best first: trial, the parameters, steps, seconds, the score at each rung."""
    name, sign = results["metric"], -1 if results["higher_is_better"] else 1
    rungs = len(results["plan"]["fractions"])

    def order(t):
        last = t["scores"][-1] if t["scores"] else None
        return (-len(t["scores"]), math.inf if last is None else sign * last, t["trial"])

    rows = []
    for t in sorted(results["trials"], key=order):
        note = "default" if t["default"] else ""
        note = "best" + (" (default)" if note else "") if t["trial"] == results.get("best") else note
        rows.append({"trial": t["trial"], **t["values"], "status": t["status"], "steps": (t["steps"] or [0])[-1],
                     "seconds": round((t["seconds"] or [0.0])[-1], 1),
                     **{f"{name}@{k + 1}": (t["scores"][k] if k < len(t["scores"]) else "") for k in range(rungs)},
                     "note": note})
    return rows


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4g}"
    return "-" if v is None else str(v).replace(" ", "")


def format_table(results: dict) -> str:
    """The results as a plain-text table (best first), then the best configuration against the default."""
    rows = table_rows(results)
    columns = list(rows[0])
    cells = [[_fmt(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    by_id = {t["trial"]: t for t in results["trials"]}
    best, default, name = by_id.get(results.get("best")), by_id[0], results["metric"]
    if best is not None:
        lines.append(f"best: trial {best['trial']} {name} {_fmt(best['scores'][-1])} with "
                     + ", ".join(f"{k}={_fmt(v)}" for k, v in best["values"].items()))
        lines.append(f"default (trial 0, same budget): {name} {_fmt(default['scores'][-1] if default['scores'] else None)}"
                     + ("; the best beats the default" if not best["default"] else "; no candidate beat the default"))
    return "\n".join(lines)


def plot_search(results: dict, path=None):
    """Score against trial (every rung) and one scatter per parameter (first-rung scores); returns the figure."""
    from .plot import _tight, new_figure
    keys, name = list(results["key"]["space"]), results["metric"]
    fig, axes = new_figure(1 + len(keys), figsize=(3.4 * (1 + len(keys)), 3.2))
    trials = results["trials"]
    for k in range(len(results["plan"]["fractions"])):
        at = [(t["trial"], t["scores"][k]) for t in trials if len(t["scores"]) > k and t["scores"][k] is not None]
        if at:
            axes[0].scatter(*zip(*at), s=14 + 14 * k, label=f"rung {k + 1}")
    axes[0].set(xlabel="trial (0 = default)", ylabel=name, title="score by trial")
    axes[0].legend(fontsize=7)
    for ax, key in zip(axes[1:], keys):
        points = [(t["values"][key], t["scores"][0], t["default"]) for t in trials if t["scores"] and
                  t["scores"][0] is not None and isinstance(t["values"][key], (int, float))]
        if points:
            x, y, is_default = zip(*points)
            ax.scatter(x, y, c=["tab:red" if d else "tab:blue" for d in is_default], s=18)
            if min(x) > 0 and max(x) / min(x) > 20:
                ax.set_xscale("log")
        ax.set(xlabel=key, title=f"{name} at rung 1 (red: default)")
    _tight(fig)
    if path:
        fig.savefig(path, dpi=80)
    return fig
