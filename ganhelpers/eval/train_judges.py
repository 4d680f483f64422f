"""Training the offline judges (a few CPU minutes each) and checking the shipped ones.

    python -m ganhelpers.eval.train_judges mnist-5k      # retrain one judge
    python -m ganhelpers.eval.train_judges --check       # held-out accuracy of the shipped judges
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..core.checkpoint import save_checkpoint
from ..data.datasets import load_dataset
from ..data.sets import to_float
from .extractors import CONVS, JUDGES_DIR, WIDTHS, Judge, JudgeExtractor
from .statistics import compute_statistics


# training recipes; augmentation: max shift (pixels), rotation (degrees) and relative rescale
RECIPES = {"mnist-5k": dict(epochs=40, batch_size=64, shift=2.5, degrees=12, scale=0.12, lr=3e-3),
           "shapes": dict(epochs=6, batch_size=128, shift=2.0, degrees=6, scale=0.08, lr=3e-3)}


def augment(x: torch.Tensor, generator: torch.Generator, shift: float, degrees: float, scale: float) -> torch.Tensor:
    """A random small affine jitter per image (shift in pixels, rotation, rescale); the border is -1."""
    b, _, h, w = x.shape

    def uniform():  # (B,) in [-1, 1]
        return torch.rand(b, generator=generator) * 2 - 1
    angle, s = uniform() * math.radians(degrees), 1 + uniform() * scale
    tx, ty = uniform() * shift * 2 / w, uniform() * shift * 2 / h  # affine_grid measures in half-images
    cos, sin = angle.cos() / s, angle.sin() / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False) - 1  # zero padding of x + 1: black (-1) borders


@torch.no_grad()
def accuracy(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Share of uint8 images (N, C, H, W) that the judge classifies as `labels` (N,)."""
    judge.eval()
    correct = sum(int((judge(to_float(images[i:i + batch_size]))[1].argmax(1) == labels[i:i + batch_size]).sum())
                  for i in range(0, len(images), batch_size))
    return correct / len(images)


def train_judge(name: str, seed: int = 0, out=None, verbose: bool = True) -> dict:
    """Train the judge of an embedded dataset on its train split; save and return its record.

    The record {"state_dict" (float16), "meta", "reference"} goes through `save_checkpoint` to `out`
    (default ganhelpers/assets/judges/<name>.pt). meta holds the held-out (test split) accuracy of the weights as
    saved; reference holds the train split's feature statistics, so scoring needs no pass over it.
    Deterministic per seed on CPU; the global RNG is left as it was.
    """
    if name not in RECIPES:
        raise ValueError(f"no judge recipe for {name!r}: choose one of {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    train, test = load_dataset(name, "train", seed=seed), load_dataset(name, "test", seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = Judge(train.img_shape[0], train.n_classes)
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(train) // recipe["batch_size"]
    opt = torch.optim.AdamW(judge.parameters(), lr=recipe["lr"], weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe["lr"], pct_start=0.2,
                                                total_steps=recipe["epochs"] * steps_per_epoch)
    start = time.monotonic()
    for epoch in range(recipe["epochs"]):
        judge.train()
        perm = torch.randperm(len(train), generator=g)
        for i in range(steps_per_epoch):
            idx = perm[i * recipe["batch_size"]:(i + 1) * recipe["batch_size"]]
            x = augment(to_float(train.images[idx]), g, recipe["shift"], recipe["degrees"], recipe["scale"])
            loss = F.cross_entropy(judge(x)[1], train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if verbose:
            print(f"{name} epoch {epoch + 1}/{recipe['epochs']}: loss {loss.item():.3f}, test accuracy "
                  f"{accuracy(judge, test.images, test.labels):.4f} ({time.monotonic() - start:.0f} s)", flush=True)
    judge.half().float()  # the weights as shipped (float16 halves the file): measure exactly those
    meta = {"dataset": name, "in_channels": train.img_shape[0], "n_classes": train.n_classes, "widths": list(WIDTHS),
            "convs": list(CONVS), "test_accuracy": accuracy(judge, test.images, test.labels), "n_test": len(test),
            "seed": seed, "recipe": recipe, "seconds": round(time.monotonic() - start)}
    judge.eval()
    with torch.no_grad():
        ref = compute_statistics(judge, train, None, batch_size=500, kid_max=0, is_splits=1)
    record = {"state_dict": {k: v.half() if v.is_floating_point() else v for k, v in judge.state_dict().items()},
              "meta": meta, "reference": {f"{name}/train": {"mu": torch.from_numpy(ref.mean).float(),
                                                            "sigma": torch.from_numpy(ref.cov).float(), "n": ref.n}}}
    path = save_checkpoint(record, Path(out) if out else JUDGES_DIR / f"{name}.pt")
    if verbose:
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB): held-out accuracy {meta['test_accuracy']:.4f} "
              f"on {len(test)} test images after {meta['seconds']} s")
    return record


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganhelpers.eval.train_judges", description="Train the offline judges.")
    p.add_argument("datasets", nargs="*", help=f"judges to train (default: all of {', '.join(RECIPES)})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="only report the shipped judges' held-out accuracy")
    args = p.parse_args(argv)
    for name in args.datasets or list(RECIPES):
        if name not in RECIPES:
            p.error(f"no judge for {name!r}: choose from {', '.join(RECIPES)}")
        if args.check:
            test = load_dataset(name, "test")
            print(f"{name}: held-out accuracy {accuracy(JudgeExtractor(name).net, test.images, test.labels):.4f} "
                  f"on {len(test)} test images")
        else:
            train_judge(name, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
