"""Hyperparameter search on Optuna: one study, any number of workers, successive halving inside each trial.

    job = Search("dcgan", {"lr": LogUniform(5e-5, 2e-3), "beta1": [0.0, 0.5]}, minutes=10)
    study = job.run()            # an optuna.Study; print(format_table(study)) shows it again

A trial is one short training run of the model. It reports its score (the offline judge's Fréchet distance
by default: lower is better) at the end of each rung, `trial.report(score, eta**k)`, and Optuna's pruner
(successive halving, or Hyperband) decides whether it goes on: with R rungs and a per-trial budget T, rung k
ends at T * eta^(k-R+1), and the trial is stopped there unless its score is in the best 1/eta of the scores
reported at that rung so far. Trial 0 is the model's default (`ModelSpec.defaults`): it is never stopped, so
the last rung compares the candidates with the default trained under exactly the same budget.

The study lives in a store: by default a SQLite file, OUT/study.db, or any database URL (PostgreSQL for a
class). Every worker started with the same arguments adds trials to it until it holds `trials + 1`; a rerun
continues it; a worker killed mid-trial stops sending heartbeats, and the next worker marks its trial failed
and runs the same configuration again. The budget is `minutes` (the whole search's, on this machine; T is
planned from it) or `steps` (T in G steps: then one worker on a CPU repeats bit for bit).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..core.callbacks import Callback
from ..core.config import UNLIMITED, TrainConfig
from ..core.runtime import get_device, seed_everything
from ..core.trainer import NonFiniteLoss, Trainer
from ..data.datasets import DATASETS, load_dataset
from ..eval.metrics import MetricCallback
from ..models import get_model
from .results import format_table, format_value
from .space import Uniform, check_space, default_space, describe, resolve, shown_values, suggest

SCHEMES = ("sqlite", "postgresql", "mysql")  # the databases Optuna's RDBStorage (SQLAlchemy) is tested with
SAMPLERS = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
PRUNERS = ("halving", "hyperband")
TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)  # count towards the study


@contextlib.contextmanager
def _quiet():
    """Optuna without its INFO lines (each worker prints its own line per rung) and without the warnings that call
    heartbeats and stale-trial retries "experimental" (they have been in Optuna since 2.8 and 2.9)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def plan_rungs(n_trials: int, eta: int, rungs: int | None = None) -> dict:
    """Rung fractions of the full per-trial budget T, trials per rung, and the cost in units of T, for synchronous
    successive halving that keeps the default: each rung keeps ceil(candidates / eta) candidates plus the default.

    n_trials=9, eta=3, rungs=3: fractions [1/9, 1/3, 1], counts [9, 4, 2], cost 3.22 T.
    Without `rungs`: as many (at most 3) as keep eta^(R-1) <= the number of candidates.
    The search plans T from this cost (Optuna's asynchronous rule promotes a few more early trials).
    Taught in 10_comparison_and_search.
    """
    rungs = rungs or 1 + sum(1 for k in (1, 2) if eta ** k <= max(n_trials - 1, 1))
    counts = [n_trials]
    for _ in range(rungs - 1):
        counts.append(math.ceil((counts[-1] - 1) / eta) + 1)
    fractions = [eta ** -(rungs - 1 - k) for k in range(rungs)]
    cost = sum(n * (f - prev) for n, f, prev in zip(counts, fractions, [0.0] + fractions[:-1]))
    return {"fractions": fractions, "counts": counts, "cost": cost}


def check_storage(url: str) -> str:
    """The URL's database name (sqlite, postgresql, mysql), or a ValueError that says what to give."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        backend = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        backend = None
    if backend not in SCHEMES:
        raise ValueError(f"--storage {url!r}: give a database URL starting with "
                         f"{', '.join(s + '://' for s in SCHEMES)} "
                         "(e.g. sqlite:///runs/study.db, or postgresql://USER:PASSWORD@HOST:5432/DATABASE)")
    return backend


def open_storage(url: str, heartbeat: int = 10) -> optuna.storages.RDBStorage:
    """Optuna's database storage with heartbeats: a trial whose worker is silent for 3 heartbeats is failed and
    queued again (`RetryHeartbeatStaleTrialCallback`). A ValueError that says what to check when it cannot connect."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    backend, parsed = check_storage(url), make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.drivername == "postgresql":  # no driver named: take the one installed (SQLAlchemy 2.0 would
        import importlib.util              # take psycopg2, 2.1 psycopg 3; Colab has psycopg2)
        driver = next((d for d in ("psycopg2", "psycopg") if importlib.util.find_spec(d)), None)
        url = parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False) if driver else url
    connect = {"timeout": 60} if backend == "sqlite" else {"connect_timeout": 10} if backend == "postgresql" else {}
    try:
        for attempt in range(3):
            try:
                with _quiet():
                    return optuna.storages.RDBStorage(
                        url, engine_kwargs={"connect_args": connect}, heartbeat_interval=heartbeat,
                        grace_period=3 * heartbeat,
                        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))
            except SQLAlchemyError as e:  # two workers creating a new store's tables at once: the second one waits
                if "already exists" not in str(e) or attempt == 2:
                    raise
                time.sleep(0.5)
    except ImportError as e:  # SQLAlchemy imports the database's driver on first use
        raise ValueError(f"{shown}: the {backend} driver is missing ({e}): pip install "
                         f"{'psycopg2-binary' if backend == 'postgresql' else 'a driver for ' + backend}") from None
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise ValueError(f"cannot open the study store {shown}: {reason}. Is the database server running and "
                         "reachable, and are host, port, user, password and database name right?") from None


class Search:
    """A validated search: `Search(...)` checks every argument (a ValueError, nothing written), `.run()` runs one
    worker. sampler: "tpe" (Optuna's default) or "random"; pruner: "halving" or "hyperband"; storage: a database
    URL (default sqlite:///OUT/study.db); study: its name in the store (default MODEL-DATASET); heartbeat: seconds
    between a worker's signs of life (a trial silent for 3 of them is failed and run again)."""

    def __init__(self, model: str, space: dict | None = None, dataset: str = "mnist-5k", minutes: float | None = None,
                 steps: int | None = None, trials: int = 8, sampler: str = "tpe", pruner: str = "halving",
                 eta: int = 3, rungs: int | None = None, out="runs/search", storage: str | None = None,
                 study: str | None = None, seed: int = 0, metric=None, n_eval: int = 1000, device: str = "auto",
                 workers: int = 1, heartbeat: int = 10, verbose: bool = True):
        self.spec = get_model(model)
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
        if problem := self.spec.check(tuple(DATASETS[dataset]["shape"]), DATASETS[dataset]["n_classes"]):
            raise ValueError(problem)
        if (minutes is None) == (steps is None):
            raise ValueError("give exactly one budget: minutes (the total for the search) or steps (per trial)")
        if not (0 < minutes < math.inf if steps is None else isinstance(steps, int) and steps >= 1):
            raise ValueError(f"budget minutes={minutes}, steps={steps}: it must be positive (steps a whole number)")
        if sampler not in SAMPLERS or pruner not in PRUNERS:
            raise ValueError(f"sampler={sampler!r}, pruner={pruner!r}: use one of {', '.join(SAMPLERS)} and one of "
                             f"{', '.join(PRUNERS)}")
        if not isinstance(eta, int) or eta < 2 or rungs not in (None, *range(1, 7)):
            raise ValueError(f"eta={eta}, rungs={rungs}: use a whole eta >= 2 and 1..6 rungs")
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials={trials}: ask for at least one trial besides the default")
        if not isinstance(workers, int) or workers < 1 or not isinstance(heartbeat, int) or heartbeat < 1:
            raise ValueError(f"workers={workers}, heartbeat={heartbeat}: both must be whole numbers >= 1")
        self.out = Path(out)
        self.storage = storage or f"sqlite:///{(self.out / 'study.db').resolve()}"
        check_storage(self.storage)
        from sqlalchemy.engine import make_url
        self.shown_storage = make_url(self.storage).render_as_string(hide_password=True)  # printed: no password
        self.space = default_space(self.spec) if space is None else dict(space)
        check_space(self.spec, self.space, seed)
        self.metric = metric or self.spec.task.search_metric(dataset, n_eval, seed)  # raises when there is none
        get_device(device)
        self.model, self.dataset, self.minutes, self.steps, self.eta = model, dataset, minutes, steps, eta
        self.sampler, self.seed, self.device, self.verbose = sampler, seed, device, verbose
        self.workers, self.heartbeat, self.n_total = workers, heartbeat, trials + 1
        self.study_name = study or f"{model}-{dataset}"
        self.plan = plan_rungs(self.n_total, eta, rungs)
        n_rungs = len(self.plan["fractions"])
        self.pruner = (optuna.pruners.NopPruner() if n_rungs == 1 else
                       optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
                       if pruner == "halving" else
                       optuna.pruners.HyperbandPruner(min_resource=1, max_resource=eta ** (n_rungs - 1),
                                                      reduction_factor=eta))
        # what every worker of one study must share; a worker with anything else is refused before training
        self.key = {"model": model, "dataset": dataset, "minutes": minutes, "steps": steps, "trials": trials,
                    "sampler": sampler, "pruner": pruner, "eta": eta, "rungs": n_rungs, "seed": seed,
                    "n_eval": n_eval, "metric": self.metric.name, "space": describe(self.space)}
        self.study = None

    # ---- the study ----------------------------------------------------------------------------------
    def open(self) -> optuna.Study:
        """Connect to the store, then load the study or create it; a ValueError when the stored study is another
        search (model, space, budget, ...) or the store cannot be reached."""
        if self.study is not None:
            return self.study
        if self.storage.startswith("sqlite:///"):
            Path(self.storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        with _quiet():
            storage = open_storage(self.storage, self.heartbeat)
            study = optuna.create_study(storage=storage, study_name=self.study_name, load_if_exists=True,
                                        direction="maximize" if self.metric.higher_is_better else "minimize",
                                        sampler=self._sampler(0), pruner=self.pruner)
        stored = study.user_attrs.get("search")
        if stored is None:
            study.set_user_attr("search", self.key)
        elif stored != self.key:
            differ = ", ".join(f"{k} {stored.get(k)!r} there, {v!r} here" for k, v in self.key.items()
                               if stored.get(k) != v)
            raise ValueError(f"study {self.study_name!r} in {self.shown_storage} was created by another search "
                             f"({differ}): give another --study name (or out folder), or the same arguments as the first worker")
        self.study = study
        return study

    def prepare(self, data=None) -> dict:
        """The per-trial budget T, stored in the study by its first worker so that every worker trains alike:
        `steps`, or seconds planned from `minutes` (less one measured scoring per trial-rung and a 5% margin)."""
        study = self.open()
        if (plan := study.user_attrs.get("plan")) is not None:
            return plan
        plan = {**self.plan, "unit": "steps" if self.steps else "seconds", "trial_budget": self.steps}
        if self.minutes:
            data = data or load_dataset(self.dataset, "train", seed=self.seed)
            tick = time.monotonic()
            self.metric(self._build({"build": {}, "z_dim": self.spec.z_dim}, data)[0].to(get_device(self.device)))
            overhead = 1.2 * (time.monotonic() - tick) + 0.5  # scoring, building, checkpoints
            train_s = 0.95 * self.minutes * 60 * self.workers - overhead * (sum(plan["counts"]) + 1)
            plan["trial_budget"] = train_s / plan["cost"]
            if train_s <= 0 or plan["trial_budget"] * plan["fractions"][0] < 1.0:
                raise ValueError(f"{self.minutes} min cannot train {self.n_total} trials (a trial-rung costs about "
                                 f"{overhead:.1f} s to score): give more minutes or fewer trials")
        study.set_user_attr("plan", plan)
        return study.user_attrs["plan"]  # what is stored: two first workers at once agree on the last one written

    def run(self) -> optuna.Study:
        """One worker: add trials to the study until it holds `trials + 1` (or `minutes` are spent); the study."""
        study = self.open()
        data = load_dataset(self.dataset, "train", seed=self.seed)
        self._check_data(data)
        plan = self.prepare(data)
        deadline = time.monotonic() + self.minutes * 60 if self.minutes else math.inf
        unit = "steps" if plan["unit"] == "steps" else "s"
        rungs = ", ".join(f"{f * plan['trial_budget']:.0f}" for f in plan["fractions"])
        self._say(f"search: {self.model} on {self.dataset}, study {self.study_name!r} in {self.shown_storage}: "
                  f"{self.n_total} trials (trial 0 = the default), rungs at {rungs} {unit}, "
                  f"{self.metric.name} ({'higher' if self.metric.higher_is_better else 'lower'} is better)")
        with _quiet():
            while True:
                optuna.storages.fail_stale_trials(study)  # a killed worker's trial: failed, and queued again
                taken = study.get_trials(deepcopy=False, states=TAKEN)
                if len(taken) >= self.n_total and not any(t.state == TrialState.WAITING for t in taken):
                    break
                if time.monotonic() > deadline:
                    self._say(f"{self.minutes:g} min spent with {len(taken)} of {self.n_total} trials: run the same "
                              "command again to continue the study")
                    break
                study.optimize(lambda trial: self._objective(trial, plan, data), n_trials=1)
        if running := study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self._say(f"trials {', '.join(str(t.number) for t in running)} still running in other workers (a worker "
                      f"that died is noticed {3 * self.heartbeat} s after its last heartbeat and its trial run again)")
        if self.verbose:
            print(format_table(study), flush=True)
        return study

    # ---- one trial ----------------------------------------------------------------------------------
    def _sampler(self, number: int):
        # seeded by (seed, trial number): one worker repeats exactly, and workers never draw the same values
        return SAMPLERS[self.sampler](seed=self.seed * 1_000_003 + number)

    def _check_data(self, data):
        """What needs the data, checked before any training: every batch size fits, every width builds."""
        for key, values in self.space.items():
            for value in [] if isinstance(values, Uniform) else values:
                run = resolve(self.spec, {key: value}, self.seed)
                if run["train"]["batch_size"] > len(data):
                    raise ValueError(f"batch_size {run['train']['batch_size']} > the {len(data)} images of "
                                     f"{self.dataset}: remove it from the space")
                if run["build"] or key == "z_dim":
                    self._build(run, data)

    def _build(self, run, data):
        seed_everything(self.seed)  # every trial starts from the same draw of its architecture's weights
        return self.spec.build(data.img_shape, data.n_classes, run["z_dim"], **run["build"])

    def _objective(self, trial: optuna.Trial, plan: dict, data) -> float:
        default = trial.number == 0 or trial.user_attrs.get("default", False)  # a retried default stays the default
        trial.set_user_attr("default", default)
        trial.study.sampler = self._sampler(trial.number)
        run = resolve(self.spec, {} if default else suggest(trial, self.space), self.seed)
        values = shown_values(self.spec, self.space, run)
        trial.set_user_attr("values", values)
        T, n_rungs = plan["trial_budget"], len(plan["fractions"])
        config = TrainConfig(**{**run["train"], "steps": self.steps or UNLIMITED, "device": self.device,
                                "log_every": 10, "out_dir": str(self.out / f"trial_{trial.number:03d}"),
                                "progress": False})
        rung = _Rung()
        scorer = MetricCallback(self.metric, every=10**9, save_best=False, verbose=False)  # at each rung's end
        sampler = self.spec.task.sampler(data, config.batch_size, get_device(self.device), self.seed)
        trainer = Trainer(*self._build(run, data), *self.spec.steps(**run["steps_kwargs"]), sampler, config,
                          callbacks=[rung, scorer],
                          meta={"model": self.model, "dataset": self.dataset, "z_dim": run["z_dim"],
                                "build": run["build"], "search_trial": trial.number, "study": self.study_name,
                                "img_shape": list(data.img_shape), "n_classes": data.n_classes})
        steps, seconds = [], []
        for k, fraction in enumerate(plan["fractions"]):
            previous = plan["fractions"][k - 1] if k else 0.0
            rung.until(steps=max(1, round(fraction * T)) if self.steps else None,
                       seconds=None if self.steps else (fraction - previous) * T)
            try:
                trainer.fit()  # continues where the previous rung stopped
            except NonFiniteLoss as e:
                trial.set_user_attr("diverged", str(e))
                self._say(f"trial {trial.number:>2}: diverged ({e})")
                raise optuna.TrialPruned(str(e)) from None
            score = scorer.results[-1]
            value = float(score[self.metric.name])
            steps.append(trainer.step)
            seconds.append(round(trainer.seconds, 2))
            trial.set_user_attr("steps", steps)
            trial.set_user_attr("seconds", seconds)
            trial.set_user_attr("scores", {key: v for key, v in score.items() if key != "step"})
            trial.report(value, self.eta ** k)  # the step: this rung's budget in units of the first rung's
            self._say(f"rung {k + 1}/{n_rungs} trial {trial.number:>2}{' (default)' if default else ''} "
                      + " ".join(f"{key}={format_value(v)}" for key, v in values.items())
                      + f": {self.metric.name} {format_value(value)} ({trainer.step} steps, {trainer.seconds:.0f} s)")
            if not math.isfinite(value):
                trial.set_user_attr("diverged", f"{self.metric.name} is {value}")
                raise optuna.TrialPruned(f"{self.metric.name} is {value}")
            if k + 1 < n_rungs and trial.should_prune() and not default:  # the default always goes on
                raise optuna.TrialPruned(f"stopped at rung {k + 1}")
        return value

    def _say(self, text):
        if self.verbose:
            print(text, flush=True)


class _Rung(Callback):
    """Stops a fit at its rung's end: `steps` reached, or `seconds` of training spent in this fit."""

    def __init__(self):
        self.steps = self.limit = math.inf

    def until(self, steps=None, seconds=None):
        self.steps, self.limit = math.inf if steps is None else steps, math.inf if seconds is None else seconds

    def on_train_start(self, trainer):
        self.start = time.monotonic()

    def on_step_end(self, trainer):
        if trainer.step >= self.steps or time.monotonic() - self.start >= self.limit:
            trainer.stop("end of rung")


def search(model: str, space: dict | None = None, **kwargs) -> optuna.Study:
    """Validate (a clear ValueError before any training), run one worker and return the study (see `Search`).

    Taught in 10_comparison_and_search.
    """
    return Search(model, space, **kwargs).run()


def worker_threads(workers: int) -> int:
    """Torch threads for each of `workers` processes on this machine: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // workers)
