"""The batch sampler: a whole dataset as one uint8 tensor on the training device, random batches by index."""
from __future__ import annotations

import torch

from .sets import ImageSet, PointSet, to_float



class BatchSampler:
    """Keeps a whole dataset as ONE tensor on the training device (uint8 for images, so CIFAR-10 is
    150 MB) and returns random batches by indexing: no DataLoader, no per-image transforms.

    Each epoch is a fresh random permutation from the sampler's own CPU generator (the global RNG is
    untouched); a batch is the next `batch_size` indices, and a remainder smaller than a batch is
    dropped. `state_dict`/`load_state_dict` resume the exact same sequence of batches.
    """

    def __init__(self, data: ImageSet | PointSet, batch_size: int, device="cpu", seed: int = 0):
        if not 1 <= batch_size <= len(data):
            raise ValueError(f"batch_size={batch_size} but {data.name} has {len(data)} items: "
                             f"use a batch size between 1 and {len(data)}")
        self.data, self.batch_size, self.device = data, batch_size, torch.device(device)
        self.is_image = isinstance(data, ImageSet)
        x = data.images if self.is_image else data.points.to(torch.float32)
        self.x = x.to(self.device)  # (N, C, H, W) uint8 or (N, 2) float32, resident on the device
        self.labels = data.labels.to(self.device)  # (N,)
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = -1  # counts permutations drawn; the first one makes it 0
        self._new_epoch()

    def _new_epoch(self) -> None:
        # drawn on the CPU generator (the same order on every device), copied to the device once per epoch:
        # slicing it there costs no host-device copy per batch, which would make the CPU wait for the GPU
        self.perm = torch.randperm(len(self.data), generator=self.generator).to(self.device)  # (N,) int64
        self.pos = 0
        self.epoch += 1

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, labels) on the device: images float32 (B, C, H, W) in [-1, 1], or points (B, 2)."""
        if self.pos + self.batch_size > len(self.perm):
            self._new_epoch()
        idx = self.perm[self.pos:self.pos + self.batch_size]  # (B,) on the device already
        self.pos += self.batch_size
        x = self.x.index_select(0, idx)  # gathered on the device (only B indices cross the bus); index_select
        labels = self.labels.index_select(0, idx)  # a fast gather for uint8 on a CPU (ganhelpers/TUNING.md)
        return (to_float(x) if self.is_image else x), labels

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.next()

    @property
    def batches_per_epoch(self) -> int:
        return len(self.data) // self.batch_size

    def state_dict(self) -> dict:
        """Generator state, permutation and position: tensors and ints only (weights_only-safe)."""
        return {"generator": self.generator.get_state(), "perm": self.perm.cpu().clone(),
                "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        if len(state["perm"]) != len(self.data):
            raise ValueError(f"sampler state is for {len(state['perm'])} items but {self.data.name} "
                             f"has {len(self.data)}: was it saved for another dataset?")
        self.generator.set_state(state["generator"].cpu())
        self.perm = state["perm"].long().to(self.device)
        self.pos, self.epoch = int(state["pos"]), int(state.get("epoch", 0))
