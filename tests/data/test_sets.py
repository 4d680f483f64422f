"""The dataset containers (ImageSet, PointSet) and the uint8 <-> [-1, 1] conversions."""
import torch

from ganhelpers.data import ImageSet, PointSet, make_mixture, to_float, to_uint8


def test_float_uint8_round_trip():
    every = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = to_float(every)
    assert x.dtype == torch.float32 and x.min() == -1 and x.max() == 1
    assert torch.equal(to_uint8(x), every)
    assert to_uint8(torch.tensor([-3.0, 0.0, 3.0])).tolist() == [0, 128, 255]  # clamped and rounded


def test_image_and_point_sets_describe_themselves():
    images = ImageSet(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 2, 0]), ["a", "b", "c"], "toy")
    assert len(images) == 4 and images.img_shape == (3, 8, 8) and images.n_classes == 3
    points = make_mixture("ring8", 50)
    assert isinstance(points, PointSet) and len(points) == 50 and points.img_shape == (2,) and points.n_classes == 8
