"""Pix2Pix (Isola et al. 2017): image-to-image translation with a conditional GAN, on pairs made here.

- `make_pairs`: deterministic (condition, target) pairs from our own images: Sobel edges -> digit,
  greyscale -> colour. A `PairSampler` feeds them to the one generic `ganhelpers.train.Trainer`: its
  batches are (target, condition), so `step(G, D, real, labels, trainer)` gets the condition as `labels`.
- `UNetGenerator` (mirrored skips, or none) and `UNet3PlusGenerator` (full-scale skips) map
  `G(condition) -> image` with no noise (`z_dim = 0`): as in the paper, dropout is the only randomness.
- `PatchDiscriminator(image, condition)`: a logit per patch, of side `receptive_field(D)`.
- `pix2pix_steps`: BCE + l1_weight * L1, or L1 alone; `heldout_scores`, `save_triplets`, `TripletSaver`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import BatchSampler, ImageSet, to_float
from .losses import d_loss_bce, g_loss_nonsaturating
from .nets import dcgan_init
from .steps import add_instance_noise, instance_noise_std
from .train import Callback

MODEL_NAMES = ("pix2pix", "pix2pix-l1")  # the registry's paired models (see ganhelpers.models)
EDGE_THRESHOLD = 0.35  # an edge pixel: Sobel magnitude above this share of the image's largest


# ----------------------------------------------------------------------------- paired data

def sobel_edges(images: torch.Tensor, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """Binary edge maps: uint8 (N, C, H, W) -> uint8 (N, 1, H, W), 255 on edges, 0 elsewhere.
    The Sobel gradient magnitude (of the luma for colour), divided by each image's maximum and
    thresholded: an outline drawing, like the edge maps of pix2pix's edges2shoes."""
    x = greyscale(images).float() / 255 if images.size(1) == 3 else images.float() / 255  # (N, 1, H, W)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 4
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2, 1, 3, 3): d/dx and d/dy
    grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)  # (N, 2, H, W)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt()  # (N, 1, H, W)
    peak = magnitude.amax(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return ((magnitude / peak > threshold) * 255).to(torch.uint8)


def greyscale(images: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma: uint8 (N, 3, H, W) -> uint8 (N, 1, H, W)."""
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


TASKS = {"edges": sobel_edges, "grey": greyscale}


@dataclass
class PairSet(ImageSet):
    """An ImageSet of targets (`images`) with one condition image each (`conditions`, same N, H, W)."""
    conditions: torch.Tensor = None  # (N, C_in, H, W) uint8
    task: str = ""

    def __post_init__(self):
        super().__post_init__()
        c = self.conditions
        n, _, h, w = self.images.shape
        same = c is not None and c.dim() == 4 and c.shape[0] == n and c.shape[2:] == (h, w)
        if not same or c.dtype != torch.uint8:
            raise ValueError(f"{self.name}: conditions must be uint8 (N, C, H, W) matching the images "
                             f"{tuple(self.images.shape)}, got {None if c is None else (c.dtype, tuple(c.shape))}")


def make_pairs(data: ImageSet, task: str = "auto") -> PairSet:
    """(condition, target) pairs from an ImageSet; the same data always gives the same pairs.
    task: "edges" (Sobel edge map -> image), "grey" (greyscale -> colour, 3 channels) or "auto" (by channels)."""
    if not isinstance(data, ImageSet):
        raise ValueError(f"make_pairs needs an ImageSet of images, not {type(data).__name__} "
                         "(2-D points have no image to translate)")
    c = data.images.shape[1]
    if task == "auto":
        task = "edges" if c == 1 else "grey"
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: use 'edges', 'grey' or 'auto'")
    if task == "grey" and c != 3:
        raise ValueError(f"task 'grey' colours greyscale images: {data.name} has {c} channel(s), use 'edges'")
    return PairSet(data.images, data.labels, data.classes, data.name, TASKS[task](data.images), task)


class PairSampler(BatchSampler):
    """A BatchSampler over a PairSet whose batches are (target (B, C, H, W), condition (B, C_in, H, W)),
    both float in [-1, 1]: pass it to `Trainer` as its data. Targets and conditions are stored as one
    uint8 tensor (channels concatenated), so one gather fetches both and resume works unchanged."""

    def __init__(self, pairs: PairSet, batch_size: int, device="cpu", seed: int = 0):
        if not isinstance(pairs, PairSet):
            raise ValueError(f"PairSampler needs a PairSet (from make_pairs), not {type(pairs).__name__}")
        super().__init__(pairs, batch_size, device, seed)
        self.channels = pairs.images.shape[1]
        self.x = torch.cat([pairs.images, pairs.conditions], 1).to(self.device)  # (N, C + C_in, H, W) uint8

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        both, _ = super().next()  # (B, C + C_in, H, W) in [-1, 1]; class labels unused
        return both[:, :self.channels], both[:, self.channels:]


# ----------------------------------------------------------------------------- generators

class Encoder(nn.Module):
    """`depth` strided convs (k4 s2 p1) halving the size: e_1 (S/2) ... e_depth (S/2^depth), widths
    base, 2 base, 4 base, 8 base, 8 base...; BatchNorm except on the first, LeakyReLU(0.2) (pix2pix's C-k)."""

    def __init__(self, in_channels: int, base: int, depth: int):
        super().__init__()
        self.widths = [base * 2 ** min(i, 3) for i in range(depth)]
        blocks, cin = [], in_channels
        for i, cout in enumerate(self.widths):
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0),
                                        *([nn.BatchNorm2d(cout)] if i else []), nn.LeakyReLU(0.2)))
            cin = cout
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)  # e_i: (B, widths[i-1], S/2^i, S/2^i)
        return features


class _Translator(nn.Module):
    """Shared plumbing: pad to a multiple of 2^depth, encode, decode, crop; `z_dim = 0`."""

    def __init__(self, in_channels, img_shape, base, depth):
        super().__init__()
        c, h, w = img_shape
        if h != w or h < 2 ** depth or c not in (1, 3) or in_channels < 1:
            raise ValueError(f"image shape {tuple(img_shape)}, in_channels={in_channels}, depth={depth}: "
                             f"needs square 1- or 3-channel images of at least {2 ** depth} pixels")
        self.size, self.padded = h, -(-h // 2 ** depth) * 2 ** depth  # the next multiple of 2^depth: 28 -> 32
        self.in_channels, self.img_shape, self.depth = in_channels, tuple(img_shape), depth
        self.z_dim, self.n_classes = 0, 0  # no noise (dropout is the randomness), no classes
        self.encoder = Encoder(in_channels, base, depth)

    def forward(self, condition: torch.Tensor, labels=None) -> torch.Tensor:
        """condition (B, in_channels, H, W) in [-1, 1] -> image (B, C, H, W) in [-1, 1]."""
        if condition.dim() != 4 or condition.shape[1:] != (self.in_channels, self.size, self.size):
            raise ValueError(f"{type(self).__name__} takes condition images (B, {self.in_channels}, {self.size}, "
                             f"{self.size}), got {tuple(condition.shape)}: train on a PairSampler, whose batches "
                             "are (target, condition)")
        p = (self.padded - self.size) // 2
        x = F.pad(condition, (p, p, p, p), mode="replicate") if p else condition  # (B, C_in, P, P)
        out = self.decode(self.encoder(x))  # (B, C, P, P)
        return out[..., p:p + self.size, p:p + self.size] if p else out


def _up(cin: int, cout: int, dropout: float) -> nn.Sequential:
    """pix2pix's decoder block: ConvTranspose2d k4 s2 p1 (doubles the size), BatchNorm, [Dropout], ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         *([nn.Dropout(dropout)] if dropout else []), nn.ReLU())


class UNetGenerator(_Translator):
    """U-Net generator: encoder e_1..e_D; decoder level i upsamples level i+1 and concatenates e_i.
    skips=False: the plain encoder-decoder (everything squeezed through the S/2^D bottleneck). dropout on
    the `n_dropout` deepest decoder blocks (the paper keeps it at test time; our eval mode turns it off)."""

    def __init__(self, in_channels: int = 1, img_shape=(1, 28, 28), base: int = 32, depth: int = 4,
                 skips: bool = True, dropout: float = 0.5, n_dropout: int = 2):
        super().__init__(in_channels, img_shape, base, depth)
        self.skips = skips
        w, k = self.encoder.widths, 2 if skips else 1  # k: a skip doubles a decoder block's input
        self.ups = nn.ModuleList(_up(w[i + 1] * (k if i + 1 < depth - 1 else 1), w[i], dropout if j < n_dropout else 0)
                                 for j, i in enumerate(range(depth - 2, -1, -1)))
        self.out = nn.Sequential(nn.ConvTranspose2d(w[0] * k, img_shape[0], 4, 2, 1), nn.Tanh())
        self.apply(dcgan_init)

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]  # (B, w_D, P/2^D, P/2^D): the bottleneck
        for up, skip in zip(self.ups, reversed(features[:-1])):
            x = up(x)  # (B, w_i, P/2^i, P/2^i)
            if self.skips:
                x = torch.cat([x, skip], 1)  # (B, 2 w_i, P/2^i, P/2^i): e_i's fine detail comes straight across
        return self.out(x)  # (B, C, P, P)


class UNet3PlusGenerator(_Translator):
    """UNet 3+ (Huang et al. 2020): full-scale skips. Decoder level i (size P/2^i) gets every encoder
    level j <= i (max-pooled down to its size) and every deeper level (the deeper decoder outputs and the
    bottleneck e_D, bilinearly upsampled), each through a 3x3 conv to `cat_channels`; the D pieces are
    concatenated and fused by a 3x3 conv, BatchNorm, ReLU (D * cat_channels channels)."""

    def __init__(self, in_channels: int = 1, img_shape=(1, 28, 28), base: int = 32, depth: int = 4,
                 cat_channels: int | None = None, dropout: float = 0.5):
        super().__init__(in_channels, img_shape, base, depth)
        cat = cat_channels or base
        w, fused = self.encoder.widths, depth * cat

        def conv(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.levels = list(range(depth - 2, -1, -1))  # decoder levels, deepest first (0-based: size P/2^(i+1))
        # pieces[i][j]: the conv bringing source level j (encoder j <= i, decoder or bottleneck j > i) to level i
        self.pieces = nn.ModuleList(nn.ModuleList(conv(w[j] if j <= i or j == depth - 1 else fused, cat)
                                                  for j in range(depth)) for i in self.levels)
        self.fuse = nn.ModuleList(nn.Sequential(conv(fused, fused), *([nn.Dropout(dropout)] if dropout else []))
                                  for _ in self.levels)
        self.out = nn.Sequential(nn.ConvTranspose2d(fused, img_shape[0], 4, 2, 1), nn.Tanh())
        self.apply(dcgan_init)

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        level = dict(enumerate(features))  # 0..D-1 -> tensor; decoder outputs replace the deeper levels
        for i, pieces, fuse in zip(self.levels, self.pieces, self.fuse):
            size = features[i].shape[-1]
            parts = []
            for j, piece in enumerate(pieces):
                x = level[j]
                if j < i:  # a shallower encoder level: max-pool down by 2^(i-j)
                    x = F.max_pool2d(x, 2 ** (i - j))
                elif j > i:  # a deeper decoder level (or the bottleneck): upsample by 2^(j-i)
                    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                parts.append(piece(x))  # (B, cat, size, size)
            level[i] = fuse(torch.cat(parts, 1))  # (B, D * cat, size, size): decoder level i
        return self.out(level[0])  # (B, C, P, P)


# ----------------------------------------------------------------------------- discriminator

class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional D on (condition, image) concatenated, one logit per patch:
    `n_down` strided convs (k4 s2 p1), then one k4 s1 conv with twice the channels and a k4 s1 conv to
    one channel; BatchNorm except on the first layer, LeakyReLU(0.2). n_down=3 with base 64 is the
    paper's 70x70 PatchGAN; n_down=1 (default) sees 16x16 patches, n_down=2 34x34 (a whole 32x32 image).
    forward(image (B, C, H, W), condition (B, C_in, H, W)) -> logits (B, h, w), h = H/2^n_down - 2.
    """

    def __init__(self, in_channels: int = 1, img_shape=(1, 28, 28), base: int = 32, n_down: int = 1,
                 norm: bool = True):
        super().__init__()
        self.in_channels, self.img_shape = in_channels, tuple(img_shape)
        widths = [base * 2 ** min(i, 3) for i in range(n_down + 1)]
        layers, cin = [], in_channels + img_shape[0]
        for i, cout in enumerate(widths):
            layers += [nn.Conv2d(cin, cout, 4, 2 if i < n_down else 1, 1, bias=i == 0 or not norm),
                       *([nn.BatchNorm2d(cout)] if i and norm else []), nn.LeakyReLU(0.2)]
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, 1))  # (B, 1, h, w): a real/fake logit per patch
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(condition) or condition.dim() != 4:
            raise ValueError("PatchDiscriminator(image, condition) needs the condition image (B, C_in, H, W): "
                             "train it on a PairSampler, whose batches are (target, condition)")
        return self.net(torch.cat([condition, image], 1)).squeeze(1)  # (B, h, w)


def receptive_field(net) -> int:
    """Side of the input square one output unit sees, from the conv/pool layers in forward order:
    r = 1 + sum_l (k_l - 1) d_l prod_{m<l} s_m (kernel k, dilation d, stride s). Accepts a module or a
    list of (kernel, stride) pairs. Assumes a plain chain of layers, as in PatchDiscriminator.
    """

    def first(v):
        return v if isinstance(v, int) else v[0]

    layers = ([(first(m.kernel_size), first(m.stride), first(getattr(m, "dilation", 1))) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
              if isinstance(net, nn.Module) else [(k, s, 1) for k, s in net])
    r, jump = 1, 1
    for k, s, d in layers:
        r += (k - 1) * d * jump  # each layer widens the view by (k-1)*d input steps of the current size
        jump *= s
    return r


# ----------------------------------------------------------------------------- training steps

def pix2pix_steps(l1_weight: float = 100.0, adversarial: bool = True, instance_noise: float = 0.0):
    """Pix2Pix's d_step/g_step for batches (target, condition) from a `PairSampler`.
    G minimises -log D(G(x) | x) + l1_weight * |y - G(x)|_1 (non-saturating BCE, mean over patches);
    D minimises BCE with every patch of (y, x) labelled real and of (G(x), x) fake.
    adversarial=False: the L1-only baseline (D is never run; its step returns a constant zero loss).
    instance_noise: std of Gaussian noise on D's image input (not the condition), annealed to 0.
    The extra-D-steps switch is `TrainConfig.n_critic`."""
    if not l1_weight >= 0 or not instance_noise >= 0:
        raise ValueError(f"l1_weight={l1_weight} and instance_noise={instance_noise} must be >= 0")
    if not adversarial and l1_weight == 0:
        raise ValueError("adversarial=False and l1_weight=0 leave G nothing to minimise")

    def d_step(G, D, target, condition, trainer):
        if not adversarial:  # a leaf that needs a gradient: the loop's backward and Adam step are no-ops
            return {"loss_D": torch.zeros((), device=target.device, requires_grad=True)}
        std = instance_noise_std(trainer, instance_noise) if instance_noise else 0.0
        with torch.no_grad():
            fake = G(condition)  # (B, C, H, W)
        real_logits = D(add_instance_noise(target, std), condition)  # (B, h, w): one verdict per patch
        fake_logits = D(add_instance_noise(fake, std), condition)
        out = {"loss_D": d_loss_bce(real_logits, fake_logits),
               "D_real": torch.sigmoid(real_logits).mean(), "D_fake": torch.sigmoid(fake_logits).mean()}
        if instance_noise:
            out["noise_std"] = std
        return out

    def g_step(G, D, target, condition, trainer):
        fake = G(condition)  # (B, C, H, W)
        l1 = (fake - target).abs().mean()
        out = {"l1": l1}
        loss = l1_weight * l1
        if adversarial:
            std = instance_noise_std(trainer, instance_noise) if instance_noise else 0.0
            out["adv_G"] = g_loss_nonsaturating(D(add_instance_noise(fake, std), condition))
            loss = loss + out["adv_G"]
        return {"loss_G": loss, **out}

    return d_step, g_step


# ----------------------------------------------------------------------------- results

@torch.no_grad()
def translate(G, conditions: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """G in eval mode on uint8 or [-1, 1] conditions (N, C_in, H, W) -> outputs (N, C, H, W) on the CPU."""
    device, was_training = next(G.parameters()).device, G.training
    x = to_float(conditions) if conditions.dtype == torch.uint8 else conditions
    out = torch.cat([G.eval()(chunk.to(device)).float().cpu() for chunk in x.split(batch_size)])
    G.train(was_training)
    return out


def high_frequency_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean squared response of a 3x3 Laplacian per image: (N, C, H, W) -> (N,). Blur lowers it."""
    lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).to(images)
    return F.conv2d(images, lap.expand(images.shape[1], 1, 3, 3), groups=images.shape[1]).pow(2).mean(dim=(1, 2, 3))


def _saturation(images: torch.Tensor) -> torch.Tensor:
    return (images.amax(1) - images.amin(1)).mean()


def heldout_scores(G, pairs: PairSet, batch_size: int = 250, judge: bool = True) -> dict:
    """Scores on held-out pairs: "l1" (mean |G(x) - y| on the [-1, 1] scale), "hf_ratio" (high-frequency
    energy of outputs / of targets: 1 is as sharp as the data, below 1 blurrier), for colour images
    "saturation_ratio" (colourfulness of outputs / of targets: below 1 greyer) and, where the course
    has an offline judge for the dataset, "judge_accuracy" (outputs classified as the target's class)."""
    outputs, targets = translate(G, pairs.conditions, batch_size), to_float(pairs.images)  # (N, C, H, W)
    scores = {"l1": (outputs - targets).abs().mean().item(),
              "hf_ratio": (high_frequency_energy(outputs).mean() / high_frequency_energy(targets).mean()).item(),
              "n": len(pairs)}
    if targets.shape[1] == 3:  # colour: mean (max - min) over RGB per pixel, outputs / targets; grey is 0
        scores["saturation_ratio"] = (_saturation(outputs) / _saturation(targets)).item()
    from . import judges
    if judge and pairs.name in judges.JUDGE_FOR:
        try:
            extractor = judges.JudgeExtractor(pairs.name)
        except FileNotFoundError:
            return scores
        logits = torch.cat([extractor(chunk)[1].cpu() for chunk in outputs.split(batch_size)])  # (N, 10)
        scores["judge_accuracy"] = (logits.argmax(1) == pairs.labels).float().mean().item()
    return scores


def triplet_grid(conditions, outputs, targets, per_row: int = 4) -> tuple[torch.Tensor, int]:
    """Interleave (condition, output, target), all (N, ., H, W) in [-1, 1], for `plot.show_grid`:
    returns images (3N, C, H, W) and nrow; grey conditions are repeated to C channels."""
    c = targets.shape[1]
    tiles = torch.stack([conditions.cpu().expand(-1, c, -1, -1), outputs.cpu(), targets.cpu()], 1)  # (N, 3, C, H, W)
    return tiles.flatten(0, 1), 3 * per_row


def save_triplets(G, pairs: PairSet, path, n: int = 32, per_row: int = 4) -> Path:
    """PNG of the first n pairs: rows of input | output | target, per_row triplets per row."""
    from .plot import save_grid
    n = min(n, len(pairs))
    images, nrow = triplet_grid(to_float(pairs.conditions[:n]), translate(G, pairs.conditions[:n]),
                                to_float(pairs.images[:n]), per_row)
    return save_grid(images, path, nrow=nrow)


def use_fixed_pairs(trainer, pairs: PairSet, n: int | None = None) -> None:
    """Make `trainer.sample_fixed()` (dashboards) show G's outputs for the first n conditions (default
    `config.n_fixed`): the Trainer keeps G's fixed input in `fixed_z`, noise for the other models."""
    n = min(n or trainer.config.n_fixed, len(pairs))
    trainer.fixed_z, trainer.fixed_labels = to_float(pairs.conditions[:n]).to(trainer.device), None  # (n, C_in, H, W)


class TripletSaver(Callback):
    """Saves input | output | target triplets of fixed pairs every `every` steps (out_dir/samples)."""

    def __init__(self, out_dir, pairs: PairSet, every: int = 500, n: int = 32):
        self.folder, self.pairs, self.every, self.n = Path(out_dir) / "samples", pairs, every, n

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0:
            self.on_train_end(trainer)

    def on_train_end(self, trainer):
        save_triplets(trainer.G, self.pairs, self.folder / f"step_{trainer.step:06d}.png", n=self.n)


# ----------------------------------------------------------------------------- registry and command line

def build(img_shape, n_classes=0, z_dim=0, base: int = 32):
    """(UNetGenerator, PatchDiscriminator) for the registry: 1-channel conditions (edges or grey) to
    `img_shape` images. n_classes and z_dim are ignored (no classes, no noise)."""
    return UNetGenerator(1, img_shape, base), PatchDiscriminator(1, img_shape, base)


def heldout_pairs(dataset: str, seed: int = 0, n: int | None = None) -> PairSet:
    """Pairs of the first n images (default all) of a dataset's test split (generated sets use `seed`)."""
    from .data import load_dataset
    data = load_dataset(dataset, "test", seed=seed)
    if n is not None and n < len(data):
        data = ImageSet(data.images[:n], data.labels[:n], data.classes, data.name)
    return make_pairs(data)


def cli_sample(G, meta: dict, out: Path, n: int) -> str:
    """`sample` for a paired run: the first n test pairs as input | output | target (PNG grid, 4 triplets
    a row) or arrays inputs/outputs/targets/labels (NPZ, uint8). Returns a line to print."""
    import numpy as np

    from .data import to_uint8
    pairs = heldout_pairs(meta["dataset"], meta.get("train", {}).get("seed", 0), n)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".png":
        save_triplets(G, pairs, out, n=n)
    else:
        np.savez(out, inputs=pairs.conditions.numpy(), outputs=to_uint8(translate(G, pairs.conditions)).numpy(),
                 targets=pairs.images.numpy(), labels=pairs.labels.numpy())
    return f"wrote {len(pairs)} input | output | target triplets of {meta['dataset']} test pairs ({pairs.task}): {out}"


def cli_evaluate(G, meta: dict, n: int | None, batch_size: int) -> list[str]:
    """`evaluate` for a paired run: `heldout_scores` on the first n test pairs (default all), as lines."""
    pairs = heldout_pairs(meta["dataset"], meta.get("train", {}).get("seed", 0), n)
    scores = heldout_scores(G, pairs, batch_size)
    return [f"  {k:<16} {v:.4g}" for k, v in scores.items() if k != "n"] + [
        f"  protocol: {len(pairs):,} held-out {meta['dataset']} test pairs ({pairs.task} -> image), G in eval mode; "
        "l1: mean |G(x) - y| per pixel on the [-1, 1] scale; hf_ratio: 3x3-Laplacian energy of outputs / of targets"
        + ("; saturation_ratio: mean RGB max - min, outputs / targets" if "saturation_ratio" in scores else "")
        + ("; judge_accuracy: the offline judge gives the target's class" if "judge_accuracy" in scores else "")]
