"""Pictures written to the run folder during training: the fixed-noise grid (`SampleSaver`) and, for
image-to-image models, input | output | target triplets (`TripletSaver`)."""
from __future__ import annotations

from pathlib import Path

import torch

from ..core.callbacks import Callback
from ..data.pairs import PairSet
from ..data.sets import to_float
from ..nn.conventions import translate
from .plot import save_grid


class SampleSaver(Callback):
    """Saves the fixed-noise grid every `every` steps as out_dir/samples/step_000100.png."""

    def __init__(self, out_dir, every: int = 500, nrow: int = 8):
        self.folder, self.every, self.nrow = Path(out_dir) / "samples", every, nrow

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0:
            self.save(trainer)

    def on_train_end(self, trainer):
        self.save(trainer)

    def save(self, trainer):
        images = trainer.sample_fixed()
        if images.dim() == 4:  # point data has no grid
            save_grid(images, self.folder / f"step_{trainer.step:06d}.png", nrow=self.nrow)


def triplet_grid(conditions, outputs, targets, per_row: int = 4) -> tuple[torch.Tensor, int]:
    """Interleave (condition, output, target), all (N, ., H, W) in [-1, 1], for `plot.show_grid`:
    returns images (3N, C, H, W) and nrow; grey conditions are repeated to C channels."""
    c = targets.shape[1]
    tiles = torch.stack([conditions.cpu().expand(-1, c, -1, -1), outputs.cpu(), targets.cpu()], 1)  # (N, 3, C, H, W)
    return tiles.flatten(0, 1), 3 * per_row


def save_triplets(G, pairs: PairSet, path, n: int = 32, per_row: int = 4) -> Path:
    """PNG of the first n pairs: rows of input | output | target, per_row triplets per row."""
    n = min(n, len(pairs))
    images, nrow = triplet_grid(to_float(pairs.conditions[:n]), translate(G, pairs.conditions[:n]),
                                to_float(pairs.images[:n]), per_row)
    return save_grid(images, path, nrow=nrow)


class TripletSaver(SampleSaver):
    """Saves input | output | target triplets of fixed pairs every `every` steps (out_dir/samples)."""

    def __init__(self, out_dir, pairs: PairSet, every: int = 500, n: int = 32):
        super().__init__(out_dir, every)
        self.pairs, self.n = pairs, n

    def save(self, trainer):
        save_triplets(trainer.G, self.pairs, self.folder / f"step_{trainer.step:06d}.png", n=self.n)
