"""How a kind of model meets data: what it trains on, what its progress pictures show, how it is sampled
and how it is scored. `ModelSpec.task` is one of the two kinds below, so the command line and the search
ask the task instead of checking a model's name.

- `NOISE`: G(z, labels) learns the dataset's images; samples are grids (one class per row for conditional
  models); scores are the offline judge's or Inception's (FID, KID, IS).
- `PAIRED`: G(condition) translates (condition, target) pairs made from the dataset (edges -> digit,
  greyscale -> colour); samples are input | output | target triplets of held-out pairs; the score is L1
  on them.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..core.callbacks import Callback, FixedInputs
from ..data.datasets import DATASETS
from ..data.pairs import PairSampler, heldout_pairs, make_pairs
from ..data.sampler import BatchSampler
from ..data.sets import ImageSet, PointSet, to_float, to_uint8
from ..eval.extractors import JUDGE_FOR, MIXTURES
from ..eval.metrics import Metric, heldout_metric, judge_metric
from ..eval.scores import fid_scores, heldout_scores, judge_scores
from ..nn.conventions import device_of, eval_mode, translate
from ..viz.savers import SampleSaver, TripletSaver, save_triplets


class Task:
    """The interface: `metrics` lists the --metric choices, the default first."""
    kind = ""
    metrics: tuple = ()

    def sampler(self, data: ImageSet | PointSet, batch_size: int, device, seed: int) -> BatchSampler:
        """What the trainer draws batches from."""
        raise NotImplementedError

    def callbacks(self, out: Path, dataset: str, seed: int, every: int) -> list[Callback]:
        """The progress pictures of a command-line run (written to out/samples every `every` steps)."""
        raise NotImplementedError

    def sample(self, G, meta: dict, out: Path, n: int, labels: str | None, seed: int) -> str:
        """Write n samples to out (.png grid or .npz arrays); returns a line to print."""
        raise NotImplementedError

    def check_metric(self, metric: str, dataset: str) -> str | None:
        """None when `metric` can score this kind of model on `dataset`, else a message saying why not."""
        if metric not in self.metrics:
            return f"--metric {metric}: {self.kind} models are scored with --metric {' or '.join(self.metrics)}"
        return None

    def evaluate(self, G, meta: dict, metric: str, n: int | None, split: str, batch_size: int, seed: int,
                 device) -> dict:
        """Scores of G, each number a key, with "protocol" saying how they were measured."""
        raise NotImplementedError

    def search_metric(self, dataset: str, n: int, seed: int) -> Metric:
        """What the search ranks trials by."""
        raise NotImplementedError


class NoiseTask(Task):
    kind = "noise-to-image"
    metrics = ("judge", "fid", "kid", "is")

    def sampler(self, data, batch_size, device, seed):
        return BatchSampler(data, batch_size, device=device, seed=seed)

    def callbacks(self, out, dataset, seed, every):
        return [SampleSaver(out, every=every)]

    @torch.no_grad()
    def sample(self, G, meta, out, n, labels, seed):
        torch.manual_seed(seed)
        device, n_classes = device_of(G), G.n_classes
        by_class = bool(n_classes) and labels in (None, "all")
        per_class = -(-n // n_classes) if by_class else n  # ceil(n / n_classes): every row of the grid is full
        y = None
        if n_classes:
            if by_class:  # class by row: per_class samples of class 0, then of class 1, ...
                n = per_class * n_classes
                y = torch.arange(n_classes).repeat_interleave(per_class)
            else:
                y = torch.full((n,), int(labels))
            y = y.to(device)
        with eval_mode(G):
            images = G(torch.randn(n, G.z_dim, device=device), y).cpu()  # (n, C, H, W) in [-1, 1]
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".png":
            from ..viz.plot import save_grid
            save_grid(images, out, nrow=per_class if by_class else 8)
        else:
            import numpy as np
            arrays = {"images": to_uint8(images).numpy()}
            if y is not None:
                arrays["labels"] = y.cpu().numpy()
            np.savez(out, **arrays)
        return f"wrote {n} samples to {out}" + (f" ({per_class} per class, one class per row)" if by_class else "")

    def check_metric(self, metric, dataset):
        if problem := super().check_metric(metric, dataset):
            return problem + " (l1 scores image-to-image runs on held-out pairs)"
        if metric == "judge" and dataset not in JUDGE_FOR and dataset not in MIXTURES:
            return (f"no offline judge for {dataset!r} (judges: {', '.join(JUDGE_FOR)}, {', '.join(MIXTURES)}); "
                    "use --metric fid")
        if metric != "judge" and len(DATASETS.get(dataset, {}).get("shape", ())) == 1:
            return f"{dataset} holds 2-D points: Inception scores need images; use --metric judge"
        return None

    def evaluate(self, G, meta, metric, n, split, batch_size, seed, device):
        dataset = meta["dataset"]
        if metric == "judge":
            return judge_scores(G, dataset, n=n or 2000, reference_split=split, device=device, seed=seed,
                                batch_size=batch_size)
        return fid_scores(G, dataset, n=n or 10000, split=split, with_fid=metric == "fid", with_kid=metric == "kid",
                          with_is=metric == "is", device=device, seed=seed, batch_size=batch_size)

    def search_metric(self, dataset, n, seed):
        if dataset not in JUDGE_FOR:
            raise ValueError(f"no offline judge for {dataset!r}: pass metric= (e.g. eval.metrics.fid_metric('cifar10'))")
        return judge_metric(dataset, n=n, seed=seed)


class PairedTask(Task):
    kind = "image-to-image"
    metrics = ("l1",)
    n_fixed = 64  # held-out conditions the progress pictures show

    def sampler(self, data, batch_size, device, seed):
        return PairSampler(make_pairs(data), batch_size, device, seed)

    def callbacks(self, out, dataset, seed, every):
        pairs = heldout_pairs(dataset, seed)
        return [FixedInputs(to_float(pairs.conditions[:self.n_fixed])),  # dashboards: G on fixed test conditions
                TripletSaver(out, pairs, every=every)]  # out/samples: input | output | target

    def sample(self, G, meta, out, n, labels, seed):
        pairs = heldout_pairs(meta["dataset"], _train_seed(meta), n)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".png":
            save_triplets(G, pairs, out, n=n)
        else:
            import numpy as np
            np.savez(out, inputs=pairs.conditions.numpy(), outputs=to_uint8(translate(G, pairs.conditions)).numpy(),
                     targets=pairs.images.numpy(), labels=pairs.labels.numpy())
        return (f"wrote {len(pairs)} input | output | target triplets of {meta['dataset']} test pairs "
                f"({pairs.task}): {out}")

    def evaluate(self, G, meta, metric, n, split, batch_size, seed, device):
        pairs = heldout_pairs(meta["dataset"], _train_seed(meta), n)
        scores = heldout_scores(G, pairs, batch_size)
        protocol = (f"{len(pairs):,} held-out {meta['dataset']} test pairs ({pairs.task} -> image), G in eval mode; "
                    "l1: mean |G(x) - y| per pixel on the [-1, 1] scale; hf_ratio: 3x3-Laplacian energy of outputs "
                    "/ of targets")
        if "saturation_ratio" in scores:
            protocol += "; saturation_ratio: mean RGB max - min, outputs / targets"
        if "judge_accuracy" in scores:
            protocol += "; judge_accuracy: the offline judge gives the target's class"
        return {**scores, "protocol": protocol}

    def search_metric(self, dataset, n, seed):
        return heldout_metric(heldout_pairs(dataset, seed, n))


def _train_seed(meta: dict) -> int:
    """The seed a run was trained with (generated datasets' held-out pairs depend on it)."""
    return meta.get("train", {}).get("seed", 0)


NOISE, PAIRED = NoiseTask(), PairedTask()
