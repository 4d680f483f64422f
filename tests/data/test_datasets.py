"""The datasets by name: the registry, the embedded and generated sets, mnist-5k's split, the data folder and
the torchvision downloads (offline failures, conversion)."""
import os
import time
from pathlib import Path

import pytest
import torch

from ganhelpers.data import DATASETS, DatasetUnavailable, ImageSet, PointSet, datasets, load_dataset, make_mixture


@pytest.fixture(scope="module")
def mnist_train():
    return load_dataset("mnist-5k", "train")


@pytest.fixture(scope="module")
def mnist_test():
    return load_dataset("mnist-5k", "test")


def test_registry_lists_every_dataset():
    assert set(DATASETS) == {"mnist-5k", "shapes", "ring8", "grid25", "mnist", "cifar10"}
    for name, info in DATASETS.items():
        assert set(info) == {"shape", "n_classes", "offline", "about"}
    assert [n for n, i in DATASETS.items() if i["offline"]] == ["mnist-5k", "shapes", "ring8", "grid25"]


@pytest.mark.parametrize("name", ["mnist-5k", "shapes", "ring8", "grid25"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_offline_datasets_match_registry(name, split):
    d = load_dataset(name, split, n=200)
    info = DATASETS[name]
    assert len(d) == 200 and d.n_classes == info["n_classes"] and d.img_shape == info["shape"]
    assert d.labels.dtype == torch.int64 and d.labels.shape == (200,)
    assert 0 <= d.labels.min() and d.labels.max() < d.n_classes
    if isinstance(d, ImageSet):
        assert d.images.dtype == torch.uint8 and d.images.shape == (200, *info["shape"])
        assert d.images.max() > 200 and d.images.min() < 50  # uses the full 0..255 range
        assert len(d.classes) == 10
    else:
        assert isinstance(d, PointSet)
        assert d.points.dtype == torch.float32 and d.points.shape == (200, 2)
        assert d.centers.shape == (info["n_classes"], 2)


def test_mnist_5k_split(mnist_train, mnist_test):
    assert (len(mnist_train), len(mnist_test)) == (4000, 1000)
    assert mnist_train.labels.bincount().tolist() == [400] * 10
    assert mnist_test.labels.bincount().tolist() == [100] * 10
    assert mnist_train.classes == [str(k) for k in range(10)]
    # no image appears in both splits (compare the flattened digits as bytes)
    train_set = {bytes(img.flatten().tolist()) for img in mnist_train.images}
    assert not any(bytes(img.flatten().tolist()) in train_set for img in mnist_test.images)
    # the split does not depend on the seed; the first n are a prefix and show many classes
    again = load_dataset("mnist-5k", "test", seed=123, n=50)
    assert torch.equal(again.images, mnist_test.images[:50])
    assert len(again.labels.unique()) >= 8


def test_bad_names_raise_value_error():
    with pytest.raises(ValueError, match="cifar10.*shapes|shapes.*cifar10"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="train.*test"):
        load_dataset("shapes", split="val")
    with pytest.raises(ValueError, match="ring8"):
        make_mixture("spiral")
    with pytest.raises(ValueError, match="only 1000"):
        load_dataset("mnist-5k", "test", n=5000)


def test_data_dir_is_in_the_checkout():
    repo = Path(datasets.__file__).resolve().parents[2]  # ganhelpers/data/datasets.py -> the checkout
    if "GANHELPERS_DATA" not in os.environ and (repo / "pyproject.toml").is_file():
        assert datasets.DATA_DIR == repo / "data"


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_download_fails_fast_offline(name, tmp_path):
    from torchvision import datasets as tv
    url = tv.MNIST.mirrors[0] if name == "mnist" else tv.CIFAR10.url
    if datasets.reachable(url):
        pytest.skip("the network is reachable here, so the offline path cannot be tested")
    start = time.time()
    with pytest.raises(DatasetUnavailable, match="mnist-5k, shapes"):
        load_dataset(name, root=tmp_path)
    assert time.time() - start < 15


class FakeCIFAR10:
    """Stands in for torchvision's CIFAR10: 'downloaded' only once download=True was asked for."""
    url, classes, fetched, fail = "https://example.invalid/cifar.tar.gz", [f"c{k}" for k in range(10)], False, False

    def __init__(self, root, train, download):
        if download:
            if FakeCIFAR10.fail:
                raise OSError("connection reset")
            FakeCIFAR10.fetched = True
        if not FakeCIFAR10.fetched:
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")
        self.data = torch.arange(6 * 32 * 32 * 3).remainder(256).to(torch.uint8).view(6, 32, 32, 3).numpy()
        self.targets = [0, 1, 2, 3, 4, 5]


def test_torchvision_conversion_and_download_errors(monkeypatch, tmp_path):
    from torchvision import datasets as tv
    monkeypatch.setattr(tv, "CIFAR10", FakeCIFAR10)
    monkeypatch.setattr(datasets, "reachable", lambda url, timeout=3.0: True)
    monkeypatch.setattr(FakeCIFAR10, "fetched", False)
    FakeCIFAR10.fail = True
    with pytest.raises(DatasetUnavailable, match="connection reset"):  # any download error is wrapped
        load_dataset("cifar10", root=tmp_path)
    FakeCIFAR10.fail = False
    d = load_dataset("cifar10", root=tmp_path, n=4)
    assert d.images.shape == (4, 3, 32, 32) and d.images.dtype == torch.uint8  # NHWC -> NCHW
    expected = [(((1 * 32 + 5) * 32 + 7) * 3 + c) % 256 for c in range(3)]  # image 1, row 5, column 7
    assert d.images[1, :, 5, 7].tolist() == expected
    assert d.labels.tolist() == [0, 1, 2, 3] and d.labels.dtype == torch.int64 and d.classes[0] == "c0"
