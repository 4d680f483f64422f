"""Training-loop and data-pipeline speed against the usual way, measured in one run.

    python benchmarks/bench_train.py [--steps 30] [--batch-size 64] [--device auto] [--workers 2]

1. Steps/s of `ganhelpers.train.Trainer` (tensor-resident uint8 data, the package's BCE steps)
   against a plain pytorch/examples `dcgan/main.py`-style loop: a torchvision-style Dataset of PIL
   images with per-image `ToTensor` + `Normalize` transforms in a DataLoader, fp32, `.item()` every step.
   Both train the same DCGAN networks (same class, same init seed) at the same batch size on the
   generated `shapes` set (3x32x32, a CIFAR-10 stand-in).
2. Images/s of `BatchSampler` against that DataLoader alone (no training).
Ratios > 1 mean ganhelpers is faster.
"""
from __future__ import annotations

import argparse
import itertools
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from ganhelpers import nets
from ganhelpers.data import BatchSampler, load_dataset
from ganhelpers.steps import bce_steps
from ganhelpers.train import Callback, TrainConfig, Trainer
from ganhelpers.utils import get_device, seed_everything


class PILImages(Dataset):
    """What torchvision's CIFAR10 does: keep HWC uint8 arrays, make a PIL image per item, transform it."""

    def __init__(self, images_uint8):
        self.arrays = images_uint8.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.arrays[i])), 0


def reference_loop(G, D, loader, steps, device, warmup):
    """pytorch/examples dcgan/main.py, condensed: one G forward reused for D and G updates."""
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    start = None
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        real = next(batches)[0].to(device)
        b = real.size(0)
        ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
        D.zero_grad()
        loss_real = F.binary_cross_entropy_with_logits(D(real), ones)
        loss_real.backward()
        fake = G(torch.randn(b, G.z_dim, device=device))
        loss_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        loss_fake.backward()
        opt_D.step()
        G.zero_grad()
        loss_G = F.binary_cross_entropy_with_logits(D(fake), ones)
        loss_G.backward()
        opt_G.step()
        _ = (loss_real + loss_fake).item(), loss_G.item()  # the examples print these every step
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def ganhelpers_loop(G, D, data, steps, device, batch_size, warmup, **config):
    cfg = TrainConfig(steps=warmup + steps, batch_size=batch_size, progress=False, device=str(device), **config)
    timer = {}

    class Clock(Callback):
        def on_step_end(self, t):
            if t.step == warmup:
                timer["start"] = time.perf_counter()

    trainer = Trainer(G, D, *bce_steps(), data, cfg, callbacks=[Clock()])
    trainer.fit()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - timer["start"])


def images_per_second(batches, n_batches, batch_size):
    next(batches)  # start-up (DataLoader workers) is not counted
    start = time.perf_counter()
    for _ in range(n_batches):
        x = next(batches)[0]
    if x.is_cuda:
        torch.cuda.synchronize()
    return n_batches * batch_size / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers (pytorch/examples default: 2)")
    p.add_argument("--images", type=int, default=20000, help="size of the shapes set")
    args = p.parse_args()
    device = get_device(args.device)
    data = load_dataset("shapes", "train", n=args.images)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"batch {args.batch_size}, DCGAN 3x32x32, {len(data)} images")

    loader = DataLoader(PILImages(data.images), batch_size=args.batch_size, shuffle=True, drop_last=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    n_batches = max(50, 2 * len(data) // args.batch_size // 4)
    dl_rate = images_per_second(itertools.chain.from_iterable(itertools.repeat(loader)), n_batches, args.batch_size)
    sampler = BatchSampler(data, args.batch_size, device=device)
    bs_rate = images_per_second(iter(sampler), n_batches, args.batch_size)
    print(f"data   DataLoader + PIL transforms: {dl_rate:10,.0f} images/s")
    print(f"data   ganhelpers BatchSampler:     {bs_rate:10,.0f} images/s   ratio {bs_rate / dl_rate:6.1f}x")

    seed_everything(0)
    G, D = nets.DCGANGenerator(100, (3, 32, 32)).to(device), nets.DCGANDiscriminator((3, 32, 32)).to(device)
    ref = reference_loop(G, D, loader, args.steps, device, args.warmup)
    seed_everything(0)
    G, D = nets.DCGANGenerator(100, (3, 32, 32)), nets.DCGANDiscriminator((3, 32, 32))
    ours = ganhelpers_loop(G, D, data, args.steps, device, args.batch_size, args.warmup)
    print(f"train  pytorch/examples-style loop: {ref:8.2f} steps/s")
    print(f"train  ganhelpers Trainer:          {ours:8.2f} steps/s   ratio {ours / ref:5.2f}x")
    if device.type == "cuda":
        seed_everything(0)
        G, D = nets.DCGANGenerator(100, (3, 32, 32)), nets.DCGANDiscriminator((3, 32, 32))
        fast = ganhelpers_loop(G, D, data, args.steps, device, args.batch_size, args.warmup,
                               amp="auto", channels_last=True)
        print(f"train  ganhelpers + AMP + NHWC:     {fast:8.2f} steps/s   ratio {fast / ref:5.2f}x")


if __name__ == "__main__":
    main()
