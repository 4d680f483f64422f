"""Training-loop and data-pipeline speed against the usual way, measured in one run.

    python tests/benchmarks/bench_train.py [--steps 30] [--batch-size 64] [--device auto] [--workers 2]
    python tests/benchmarks/bench_train.py --steps 2 --rounds 1 --images 500 --notebook02 on --nb02-steps 3  # a CPU smoke run

1. Steps/s of `ganhelpers.core.Trainer` (tensor-resident uint8 data, the package's steps) against a
   plain pytorch/examples-style loop: a torchvision-style Dataset of PIL images with per-image
   `ToTensor` + `Normalize` transforms in a DataLoader, fp32, `.item()` every step. DCGAN: the loop of
   pytorch/examples `dcgan/main.py`; WGAN-GP: the same style with 5 critic steps and the gradient
   penalty of Gulrajani et al.'s code. Both sides train the same networks (same class, same init seed)
   at the same batch size on the generated `shapes` set (3x32x32, a CIFAR-10 stand-in).
2. Images/s of `BatchSampler` against that DataLoader alone (no training).
3. On CUDA (or with --notebook02 on): the time per 1,000 steps of notebooks/02_dcgan.ipynb's full configuration
   (its SETTINGS["full"]: 3x32x32 images, base 64, batch 128, amp "auto", channels_last, log_every 50, the
   notebook's own d_step/g_step), on the `shapes` stand-in for CIFAR-10 (same shape, no download); no
   checkpoints, dashboard or FID, which the notebook adds on top.
Measurements alternate between the two sides over several rounds and the median ratio is reported,
so a machine that gets busier or quieter during the run biases neither side.
Ratios > 1 mean ganhelpers is faster. --json FILE appends each result as a JSON line (tests/gpu/check.sh's table);
--record FILE writes every number with the command and the machine (`ganhelpers.records`), for a text to cite.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from ganhelpers.core import Callback, TrainConfig, Trainer, get_device, seed_everything
from ganhelpers.data import BatchSampler, load_dataset
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhelpers.models.steps import bce_steps, wgan_gp_steps
from ganhelpers.nn import losses


class PILImages(Dataset):
    """What torchvision's CIFAR10 does: keep HWC uint8 arrays, make a PIL image per item, transform it."""

    def __init__(self, images_uint8):
        self.arrays = images_uint8.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)])

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.arrays[i])), 0


def reference_loop(G, D, loader, steps, device, warmup, n_critic=1):
    """pytorch/examples dcgan/main.py, condensed: one G forward reused for D and G updates.
    n_critic > 1: the WGAN-GP variant (Wasserstein losses, per-sample gradient penalty, weight 10)."""
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999) if n_critic == 1 else (0.0, 0.9))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999) if n_critic == 1 else (0.0, 0.9))
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    start = None
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        if n_critic > 1:
            for _ in range(n_critic):
                real = next(batches)[0].to(device)
                b = real.size(0)
                fake = G(torch.randn(b, G.z_dim, device=device)).detach()
                alpha = torch.rand(b, 1, 1, 1, device=device)
                mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                grad, = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
                gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                loss_D = D(fake).mean() - D(real).mean() + 10 * gp
                D.zero_grad()
                loss_D.backward()
                opt_D.step()
            G.zero_grad()
            loss_G = -D(G(torch.randn(b, G.z_dim, device=device))).mean()
            loss_G.backward()
            opt_G.step()
            _ = loss_D.item(), loss_G.item()
            continue
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


def ganhelpers_loop(G, D, data, steps, device, batch_size, warmup, steps_fn=bce_steps, **config):
    cfg = TrainConfig(steps=warmup + steps, batch_size=batch_size, progress=False, device=str(device), **config)
    timer = {}

    class Clock(Callback):
        def on_train_start(self, t):
            timer["start"] = time.perf_counter()  # no warm-up: time from the first step

        def on_step_end(self, t):
            if t.step == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()  # the warm-up steps' queued kernels are not timed
                timer["start"] = time.perf_counter()

    trainer = Trainer(G, D, *steps_fn(), data, cfg, callbacks=[Clock()])
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


def nets_for(model, device):
    seed_everything(0)
    norm = "layer" if model == "wgan-gp" else "batch"
    return (DCGANGenerator(100, (3, 32, 32)).to(device),
            DCGANDiscriminator((3, 32, 32), norm=norm).to(device))


def median(values):
    return statistics.median(values)


def notebook02_steps():
    """notebooks/02_dcgan.ipynb's own d_step and g_step (section 4): fresh noise in G's step, where the
    package's bce_steps reuses D's fakes."""

    def d_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)
        with torch.no_grad():
            fake = G(z)
        real_logits, fake_logits = D(real), D(fake)
        return {"loss_D": losses.d_loss_bce(real_logits, fake_logits),
                "D_real": torch.sigmoid(real_logits).mean(), "D_fake": torch.sigmoid(fake_logits).mean()}

    def g_step(G, D, real, labels, trainer):
        z = torch.randn(real.size(0), G.z_dim, device=real.device)
        return {"loss_G": losses.g_loss_nonsaturating(D(G(z)))}

    return d_step, g_step


# notebooks/02_dcgan.ipynb, SETTINGS["full"] (cell 6) and its TrainConfig (section 5), less the run's length,
# time budget, checkpoints and metrics
NOTEBOOK02_FULL = dict(base=64, batch_size=128, log_every=50, amp="auto", channels_last=True, steps=40_000)


def notebook02_full(data, device, steps, warmup):
    """Steps/s of notebook 02's full configuration through the Trainer (seeded like the notebook)."""
    seed_everything(0)
    s = NOTEBOOK02_FULL
    G = DCGANGenerator(z_dim=100, img_shape=data.img_shape, base=s["base"])
    D = DCGANDiscriminator(img_shape=data.img_shape, base=s["base"])
    return ganhelpers_loop(G, D, data, steps, device, s["batch_size"], warmup, steps_fn=notebook02_steps,
                           log_every=s["log_every"], amp=s["amp"], channels_last=s["channels_last"], seed=0)


def emit(path, check, numbers, config="", steps="", seconds=None):
    """One result as a JSON line for tests/gpu/check.sh's table (nothing without --json)."""
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"section": "bench", "check": check, "config": config, "steps": steps,
                                "seconds": seconds, "numbers": numbers, "result": "ok", "note": ""}) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10, help="timed steps per round and side")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (median ratio reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--models", default="dcgan,wgan-gp")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers (pytorch/examples default: 2)")
    p.add_argument("--images", type=int, default=20000, help="size of the shapes set")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--notebook02", default="auto", choices=["auto", "on", "off"],
                   help="time notebook 02's full configuration (auto: on CUDA only)")
    p.add_argument("--nb02-steps", type=int, default=1000, help="timed steps of it (default 1000)")
    p.add_argument("--nb02-warmup", type=int, default=20, help="untimed steps first (cuDNN autotuning)")
    p.add_argument("--json", help="append each result to this file as a JSON line")
    p.add_argument("--record", help="write every number to this record (JSON), with the command and the machine")
    args = p.parse_args()
    started, results = time.time(), {}
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    data = load_dataset("shapes", "train", n=args.images)
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else platform.processor() or 'cpu'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch_size}, "
          f"DCGAN nets 3x32x32 base 64, {len(data)} images, {args.rounds} rounds, load average "
          f"{os.getloadavg()[0]:.1f} at start")

    loader = DataLoader(PILImages(data.images), batch_size=args.batch_size, shuffle=True, drop_last=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    n_batches = max(50, 2 * len(data) // args.batch_size // 4)
    sampler = BatchSampler(data, args.batch_size, device=device)
    dl, bs = [], []
    for _ in range(args.rounds):
        dl.append(images_per_second(itertools.chain.from_iterable(itertools.repeat(loader)), n_batches, args.batch_size))
        bs.append(images_per_second(iter(sampler), n_batches, args.batch_size))
    data_ratio = median([b / d for b, d in zip(bs, dl)])
    print(f"data     DataLoader + PIL transforms: {median(dl):10,.0f} images/s")
    print(f"data     ganhelpers BatchSampler:     {median(bs):10,.0f} images/s   ratio {data_ratio:6.1f}x")
    rounds = f"{args.rounds} rounds, median"
    results["data"] = {"dataloader_images_per_s": median(dl), "batchsampler_images_per_s": median(bs),
                       "ratio": data_ratio}
    emit(args.json, "data: DataLoader + PIL transforms", f"{median(dl):,.0f} images/s",
         f"batch {args.batch_size}, {args.workers} workers", f"{n_batches} batches x {rounds}")
    emit(args.json, "data: ganhelpers BatchSampler", f"{median(bs):,.0f} images/s, {data_ratio:.1f}x the DataLoader",
         f"batch {args.batch_size}, on {device.type}", f"{n_batches} batches x {rounds}")

    for model in args.models.split(","):
        steps_fn, n_critic = {"dcgan": (bce_steps, 1), "wgan-gp": (wgan_gp_steps, 5)}[model]
        config = dict(n_critic=n_critic, betas=(0.0, 0.9)) if n_critic > 1 else {}
        variants = {"ganhelpers Trainer": {}}
        if device.type == "cuda":
            variants["ganhelpers + AMP + NHWC"] = dict(amp="auto", channels_last=True)
        ref, ours = [], {name: [] for name in variants}
        for _ in range(args.rounds):
            ref.append(reference_loop(*nets_for(model, device), loader, args.steps, device, args.warmup, n_critic))
            for name, extra in variants.items():
                ours[name].append(ganhelpers_loop(*nets_for(model, device), data, args.steps, device, args.batch_size,
                                                  args.warmup, steps_fn=steps_fn, **config, **extra))
        print(f"{model:<8} pytorch/examples-style loop: {median(ref):8.2f} steps/s")
        results[model] = {"reference_steps_per_s": median(ref)}
        timed = f"{args.steps} x {rounds}"
        emit(args.json, f"{model}: pytorch/examples-style loop", f"{median(ref):.2f} steps/s",
             f"3x32x32, base 64, batch {args.batch_size}, fp32", timed)
        for name, rates in ours.items():
            rate, ratio = median(rates), median([o / r for o, r in zip(rates, ref)])
            results[model]["trainer_amp_nhwc" if "AMP" in name else "trainer"] = {  # keys a citation can name
                "steps_per_s": rate, "ratio": ratio}
            print(f"{model:<8} {name + ':':<28} {rate:8.2f} steps/s   ratio {ratio:5.2f}x")
            emit(args.json, f"{model}: {name}", f"{rate:.2f} steps/s, {ratio:.2f}x the examples loop",
                 f"3x32x32, base 64, batch {args.batch_size}" + (", amp auto, channels_last" if "AMP" in name else ", fp32"),
                 timed)
        if device.type == "cuda":
            print(f"{model:<8} time per 1000 steps (fastest): {1000 / max(max(r) for r in ours.values()):.0f} s")

    if args.notebook02 == "on" or (args.notebook02 == "auto" and device.type == "cuda"):
        rate = notebook02_full(data, device, args.nb02_steps, args.nb02_warmup)
        s = NOTEBOOK02_FULL
        amp = "fp32" if device.type != "cuda" else ("bf16" if torch.cuda.get_device_capability()[0] >= 8 else "fp16")
        config = (f"{data.name} {'x'.join(map(str, data.img_shape))} (CIFAR-10 stand-in), base {s['base']}, "
                  f"batch {s['batch_size']}, amp {s['amp']}={amp}, channels_last"
                  + ("" if device.type == "cuda" else " (CUDA only)"))
        measured = "measured" if args.nb02_steps >= 1000 else f"from {args.nb02_steps} steps"
        print(f"notebook 02 full ({config}): {1000 / rate:.1f} s per 1000 steps ({measured}, {rate:.1f} steps/s); "
              f"its {s['steps']:,} steps: {s['steps'] / rate / 60:.1f} min")
        emit(args.json, "notebook 02 full: time per 1000 steps", f"{1000 / rate:.1f} s per 1000 steps ({rate:.1f} "
             f"steps/s; its {s['steps']:,} steps: {s['steps'] / rate / 60:.1f} min)", config,
             f"{args.nb02_steps} after {args.nb02_warmup} warm-up", args.nb02_steps / rate)
        results["notebook02_full"] = {"config": config, "seconds_per_1000_steps": 1000 / rate, "steps_per_s": rate}
    if args.record:
        from ganhelpers.records import save_record
        save_record(args.record, "python tests/benchmarks/bench_train.py " + shlex.join(sys.argv[1:]), vars(args),
                    results, device=device, started=started, benchmark="bench_train")


if __name__ == "__main__":
    main()
