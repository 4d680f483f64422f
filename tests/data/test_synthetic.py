"""The generated datasets: coloured shapes (a CIFAR-10 stand-in) and the 2-D Gaussian mixtures."""
import pytest
import torch

from ganhelpers.data import load_dataset, make_mixture, make_shapes, mixture_centers
from ganhelpers.data.synthetic import SHAPE_CLASSES, _shape_sdf


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
        inside = _shape_sdf(k, (c * x + s * y)[None], (c * y - s * x)[None], r)[0] < 0.5  # (161, 161)
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


def test_shape_names_and_mixture_centers():
    assert make_shapes(10).classes == SHAPE_CLASSES and len(SHAPE_CLASSES) == 10
    centers, std = mixture_centers("grid25")
    assert centers.shape == (25, 2) and std == 0.05
    assert torch.equal(make_mixture("grid25", 10).centers, centers)
    with pytest.raises(ValueError, match="ring8"):
        mixture_centers("spiral")
