"""Tests for ganhelpers.data: every offline dataset, the conversions and the batch sampler."""
import io
import time

import pytest
import torch

from ganhelpers import data
from ganhelpers.data import (DATASETS, BatchSampler, DatasetUnavailable, ImageSet, PointSet, load_dataset,
                             make_mixture, make_shapes, to_float, to_uint8)


@pytest.fixture(scope="module")
def mnist_train():
    return load_dataset("mnist-5k", "train")


@pytest.fixture(scope="module")
def mnist_test():
    return load_dataset("mnist-5k", "test")


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(2000, seed=0)


# ----------------------------------------------------------------------------- datasets

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


def test_shapes_deterministic_per_seed(shapes):
    again = make_shapes(2000, seed=0)
    assert torch.equal(again.images, shapes.images) and torch.equal(again.labels, shapes.labels)
    other = make_shapes(2000, seed=1)
    assert not torch.equal(other.images, shapes.images)
    train, test = load_dataset("shapes", "train", n=100), load_dataset("shapes", "test", n=100)
    assert not torch.equal(train.images, test.images)
    assert torch.equal(train.images, make_shapes(100, seed=0).images)  # train split uses the seed itself


def test_shapes_classes_and_variety(shapes):
    assert shapes.img_shape == (3, 32, 32)
    assert shapes.labels.bincount().tolist() == [200] * 10  # balanced
    assert len(set(shapes.classes)) == 10
    x = shapes.images.float() / 255  # (N, 3, H, W)
    # the class decides the shape: per-class mean masks differ clearly from each other
    means = torch.stack([x[shapes.labels == k].mean(0) for k in range(10)])  # (10, 3, H, W)
    gaps = torch.cdist(means.flatten(1), means.flatten(1))
    assert gaps[~torch.eye(10, dtype=torch.bool)].min() > 0.5
    # colours vary a lot across images, at the centre (mostly foreground) and the corner (background)
    assert x[:, :, 16, 16].std(0).min() > 0.2
    assert x[:, :, 0, 0].std(0).min() > 0.2


@pytest.mark.parametrize("k", range(10))
def test_every_shape_fits_its_disc(k):
    # make_shapes keeps the disc of radius r inside the image, so each shape must stay in that disc
    r = torch.tensor(10.0).view(1, 1, 1)
    coords = torch.linspace(-20, 20, 161)
    y, x = coords[:, None].expand(161, 161), coords[None, :].expand(161, 161)
    for angle in torch.linspace(-0.2, 0.2, 5):
        c, s = angle.cos(), angle.sin()
        inside = data._shape_sdf(k, (c * x + s * y)[None], (c * y - s * x)[None], r)[0] < 0.5  # (161, 161)
        rho = (x * x + y * y).sqrt()
        assert rho[inside].max() < 10.6
        assert inside.float().mean() > 0.02  # and it is not vanishingly thin


def test_shapes_foreground_contrasts_with_background():
    d = make_shapes(300, seed=3)
    x = d.images.float() / 255
    # a bar or cross covers few pixels, but in each image some pixels stand out from the median colour
    median = x.flatten(2).median(2).values[:, :, None, None]  # (N, 3, 1, 1) roughly the background
    far = ((x - median).norm(dim=1) > 0.3).flatten(1).float().sum(1)  # (N,)
    assert far.min() >= 10


def test_shapes_leave_global_rng_alone():
    state = torch.get_rng_state()
    make_shapes(20, seed=5)
    make_mixture("ring8", 20, seed=5)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("name,k,std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mixtures(name, k, std):
    d = make_mixture(name, 5000, seed=0)
    assert d.n_classes == k and d.std == std and d.img_shape == (2,)
    assert d.labels.bincount(minlength=k).min() > 0  # every mode present
    dist = (d.points - d.centers[d.labels]).norm(dim=1)
    assert dist.max() < 5 * std
    if name == "ring8":
        assert torch.allclose(d.centers.norm(dim=1), torch.full((8,), 2.0))
    else:
        assert sorted(set(d.centers.flatten().tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert torch.equal(make_mixture(name, 5000, seed=0).points, d.points)
    assert not torch.equal(load_dataset(name, "test", n=100).points, load_dataset(name, "train", n=100).points)
    assert make_mixture(name, 100, std=0.5).std == 0.5


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
    repo = data.Path(data.__file__).resolve().parents[1]
    if "GANHELPERS_DATA" not in data.os.environ and (repo / "pyproject.toml").is_file():
        assert data.DATA_DIR == repo / "data"


@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_download_fails_fast_offline(name, tmp_path):
    from torchvision import datasets
    url = datasets.MNIST.mirrors[0] if name == "mnist" else datasets.CIFAR10.url
    if data._reachable(url):
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
    from torchvision import datasets
    monkeypatch.setattr(datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.setattr(data, "_reachable", lambda url, timeout=3.0: True)
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


# ----------------------------------------------------------------------------- conversions

def test_float_uint8_round_trip():
    every = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = to_float(every)
    assert x.dtype == torch.float32 and x.min() == -1 and x.max() == 1
    assert torch.equal(to_uint8(x), every)
    assert to_uint8(torch.tensor([-3.0, 0.0, 3.0])).tolist() == [0, 128, 255]  # clamped and rounded


# ----------------------------------------------------------------------------- sampler

def test_sampler_batches(shapes):
    sampler = BatchSampler(shapes, 64, seed=0)
    x, labels = sampler.next()
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert -1 <= x.min() and x.max() <= 1
    assert labels.shape == (64,) and labels.dtype == torch.int64
    points, mode = next(iter(BatchSampler(make_mixture("ring8", 100), 10)))
    assert points.shape == (10, 2) and points.dtype == torch.float32 and mode.shape == (10,)


def test_sampler_covers_each_index_once_per_epoch():
    # tag each item by its label, so a batch's labels tell which items were drawn
    n = 50
    d = ImageSet(torch.zeros(n, 1, 2, 2, dtype=torch.uint8), torch.arange(n), [str(k) for k in range(n)], "tags")
    sampler = BatchSampler(d, 8, seed=3)
    assert sampler.batches_per_epoch == 6
    for _ in range(3):  # three epochs of 6 batches; 2 items are dropped each time
        seen = torch.cat([sampler.next()[1] for _ in range(6)])
        assert len(seen.unique()) == 48
    assert sampler.epoch == 2


def test_sampler_state_round_trip(shapes):
    sampler = BatchSampler(shapes, 48, seed=7)
    for _ in range(50):  # past an epoch boundary (2000 // 48 = 41 batches)
        sampler.next()
    buffer = io.BytesIO()
    torch.save(sampler.state_dict(), buffer)
    expected = [sampler.next() for _ in range(45)]  # crosses the next boundary too
    buffer.seek(0)
    restored = BatchSampler(shapes, 48, seed=999)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    for (x, labels), (x2, labels2) in zip(expected, [restored.next() for _ in range(45)]):
        assert torch.equal(x, x2) and torch.equal(labels, labels2)
    with pytest.raises(ValueError, match="another dataset"):
        BatchSampler(make_shapes(100), 8).load_state_dict(sampler.state_dict())


def test_sampler_leaves_global_rng_alone(shapes):
    state = torch.get_rng_state()
    sampler = BatchSampler(shapes, 500, seed=0)
    for _ in range(10):
        sampler.next()
    assert torch.equal(torch.get_rng_state(), state)


def test_sampler_seed_changes_order(shapes):
    a, b = BatchSampler(shapes, 32, seed=0).next()[1], BatchSampler(shapes, 32, seed=1).next()[1]
    assert not torch.equal(a, b)


def test_sampler_rejects_too_large_batch():
    with pytest.raises(ValueError, match="batch_size=200 but ring8 has 100"):
        BatchSampler(make_mixture("ring8", 100), 200)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_sampler_on_cuda(shapes):
    x, labels = BatchSampler(shapes, 16, device="cuda").next()
    assert x.is_cuda and labels.is_cuda and x.dtype == torch.float32


def test_sampler_keeps_its_permutation_on_the_device(shapes):
    # the permutation lived on the CPU and every batch copied a slice of it to the GPU: a host-device sync per
    # batch. "meta" stands in for a device that is not the CPU.
    sampler = BatchSampler(shapes, 16, device="meta")
    sampler.next()
    assert sampler.perm.device.type == "meta"
