"""Metrics measured during training: `Metric` (a named score of G) and `MetricCallback`, which records
it in the history every N steps and keeps best.pt, plus the ready-made judge, FID, mixture and held-out metrics."""
from __future__ import annotations

import math

import torch

from ..core.callbacks import Callback
from ..core.checkpoint import write_history_csv
from ..data.pairs import PairSet
from ..data.synthetic import mixture_centers
from ..nn.conventions import device_of
from .extractors import InceptionExtractor
from .scores import fid_scores, heldout_scores, judge_scores, mixture_scores
from .statistics import batches


class Metric:
    """A named score of a generator for `MetricCallback`: metric(G) -> {name: value, ...extras}."""

    def __init__(self, name: str, fn, higher_is_better: bool = False):
        self.name, self.fn, self.higher_is_better = name, fn, higher_is_better

    def __call__(self, G) -> dict:
        out = self.fn(G)
        return out if isinstance(out, dict) else {self.name: float(out)}


class MetricCallback(Callback):
    """Measure `metric` every `every` steps and at the end; keep out_dir/best.pt when it improves.

    Scores the trainer's `G_ema` when there is one, else `G` (in eval mode, with its own seeded
    noise: a run with this callback ends with the same weights as one without). Records the metric in
    trainer.history[name] and [name + "_step"] (so curves and the dashboard show it; extras returned
    by the metric go in `self.results`). best.pt is a full checkpoint (`trainer.save`); pick `every` as a
    multiple of log_every, or saving it flushes a short history row.
    metric: a `Metric` (`judge_metric("mnist-5k")`, `fid_metric("cifar10")`, `mixture_metric("ring8")`) or a
    callable G -> float (give `name`).
    Taught in 02_dcgan.
    """

    def __init__(self, metric, every: int = 1000, name: str | None = None, higher_is_better: bool | None = None,
                 save_best: bool = True, verbose: bool = True):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every={every!r}: measure every N >= 1 steps")
        if not isinstance(metric, Metric):
            metric = Metric(name or getattr(metric, "__name__", "metric"), metric)
        self.metric = metric
        self.name = name or self.metric.name
        self.higher_is_better = self.metric.higher_is_better if higher_is_better is None else higher_is_better
        self.every, self.save_best, self.verbose = every, save_best, verbose
        self.best, self.best_step, self.results = None, None, []

    def state_dict(self) -> dict:
        return {"best": self.best, "best_step": self.best_step} if self.best is not None else {}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_step = state["best"], state["best_step"]  # a resumed run remembers its best score

    def on_train_start(self, trainer):
        past = trainer.history.get(self.name, [])  # a checkpoint without this callback's state: read its history
        if self.best is None and past:
            pick = max if self.higher_is_better else min
            self.best = pick(past)
            self.best_step = trainer.history[f"{self.name}_step"][past.index(self.best)]

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0 or trainer.step == trainer.config.steps:
            self.measure(trainer)

    def on_train_end(self, trainer):
        measured = trainer.history.get(f"{self.name}_step", [])
        if not measured or measured[-1] != trainer.step:  # stopped early (time budget, Stop button): measure it
            self.measure(trainer)
            if trainer.out_dir:
                write_history_csv(trainer.history, trainer.out_dir / "history.csv")

    def measure(self, trainer) -> float:
        G = getattr(trainer, "G_ema", None)
        scores = self.metric(trainer.G if G is None else G)
        value = float(scores[self.name])
        trainer.history.setdefault(self.name, []).append(value)
        trainer.history.setdefault(f"{self.name}_step", []).append(trainer.step)
        self.results.append({"step": trainer.step, **scores})
        improved = math.isfinite(value) and (self.best is None or (
            value > self.best if self.higher_is_better else value < self.best))
        if improved:
            self.best, self.best_step = value, trainer.step
            if self.save_best and trainer.out_dir:
                trainer.save(trainer.out_dir / "best.pt", latest=False)  # a copy: resume reads checkpoint.pt
        if self.verbose:
            note = "best so far" if improved else (f"best {self.best:.4g} at step {self.best_step}"
                                                   if self.best is not None else "no finite value yet")
            print(f"step {trainer.step}: {self.name} {value:.4g}  ({note})", flush=True)
        return value


def judge_metric(dataset: str, n: int = 1000, seed: int = 0) -> Metric:
    """"judge_fd" (lower is better) with the offline judge; extras: judge_confident, judge_classes."""
    def fn(G):
        s = judge_scores(G, dataset, n=n, device=device_of(G), seed=seed)
        return {"judge_fd": s["fd"], "judge_confident": s["confident"], "judge_classes": s["classes_covered"]}
    return Metric("judge_fd", fn)


def fid_metric(dataset: str = "cifar10", n: int = 10000, seed: int = 0, batch_size: int = 100) -> Metric:
    """"fid" (lower is better) with the Inception network; the network is loaded once, at first use."""
    cache = {}

    def fn(G):
        if "extractor" not in cache:
            cache["extractor"] = InceptionExtractor(device_of(G))
        s = fid_scores(G, dataset, n=n, with_kid=False, with_is=False, batch_size=batch_size, seed=seed,
                       extractor=cache["extractor"])
        return {"fid": s["fid"]}
    return Metric("fid", fn)


def mixture_metric(dataset: str = "ring8", n: int = 2000, seed: int = 0) -> Metric:
    """"modes_covered" (higher is better) of a 2-D generator; extra: high_quality."""
    def fn(G):
        points = torch.cat([x for x, _ in batches(G, n, 500, seed=seed)]).cpu()  # (n, 2); scored on the host
        centers, std = mixture_centers(dataset)
        s = mixture_scores(points, centers, std)
        return {"modes_covered": s["modes_covered"], "high_quality": s["high_quality"]}
    return Metric("modes_covered", fn, higher_is_better=True)


def heldout_metric(pairs: PairSet, batch_size: int = 250) -> Metric:
    """"l1" (lower is better) of an image-to-image generator on held-out pairs; extra: hf_ratio."""
    def fn(G):
        s = heldout_scores(G, pairs, batch_size, judge=False)
        return {"l1": s["l1"], "hf_ratio": s["hf_ratio"]}
    return Metric("l1", fn)
