"""Paired data for image-to-image models: deterministic pairs made from images, Sobel edges, greyscale, the pair
sampler and the held-out pairs."""
import pytest
import torch

from ganhelpers.data import (PairSampler, PairSet, greyscale, heldout_pairs, load_dataset, make_mixture, make_pairs,
                             make_shapes, sobel_edges, to_float)
from tests.helpers import tiny_data


def test_pairs_are_deterministic_and_match_their_task():
    digits = load_dataset("mnist-5k", "test", n=64)
    a, b = make_pairs(digits), make_pairs(load_dataset("mnist-5k", "test", n=64))
    assert a.task == "edges" and torch.equal(a.conditions, b.conditions) and torch.equal(a.images, b.images)
    assert a.conditions.shape == (64, 1, 28, 28) and set(a.conditions.unique().tolist()) == {0, 255}
    # edges trace the digit: on, or next to, its ink, never far out in the black background
    ink = torch.nn.functional.max_pool2d(digits.images.float(), 3, 1, 1) > 0
    assert (a.conditions > 0).logical_and(~ink).sum() == 0 and (a.conditions > 0).float().mean() > 0.05
    colour = make_pairs(make_shapes(32, seed=3))
    again = make_pairs(make_shapes(32, seed=3))
    assert colour.task == "grey" and colour.conditions.shape == (32, 1, 32, 32)
    assert torch.equal(colour.conditions, again.conditions)
    pixel = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1)
    assert greyscale(pixel).item() == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)


def test_sobel_edges_of_a_square_are_its_outline():
    square = torch.zeros(1, 1, 12, 12, dtype=torch.uint8)
    square[..., 3:9, 3:9] = 255
    edges = sobel_edges(square)[0, 0] > 0
    assert edges[3, 5] and edges[2, 5] and not edges[5, 5] and not edges[0, 0]  # border yes, centre and far no


def test_bad_pair_requests_fail_clearly():
    with pytest.raises(ValueError, match="2-D points"):
        make_pairs(make_mixture("ring8", n=10))
    with pytest.raises(ValueError, match="use 'edges'"):
        make_pairs(load_dataset("mnist-5k", "test", n=4), task="grey")
    with pytest.raises(ValueError, match="unknown task"):
        make_pairs(load_dataset("mnist-5k", "test", n=4), task="depth")
    with pytest.raises(ValueError, match="PairSet"):
        PairSampler(load_dataset("mnist-5k", "test", n=4), 2)


def test_pair_sampler_gives_target_and_its_condition_and_resumes():
    pairs = make_pairs(tiny_data(20, (3, 32, 32)))
    sampler = PairSampler(pairs, 4, seed=1)
    target, condition = sampler.next()
    assert target.shape == (4, 3, 32, 32) and condition.shape == (4, 1, 32, 32)
    assert target.min() >= -1 and target.max() <= 1
    back = ((target + 1) * 127.5).round().to(torch.uint8)
    assert torch.equal(to_float(greyscale(back)), condition)  # each condition belongs to its own target
    state = sampler.state_dict()
    expected = sampler.next()
    other = PairSampler(pairs, 4, seed=99)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(other.next(), expected))


def test_heldout_pairs_are_the_first_test_images_and_follow_the_seed_of_generated_sets():
    digits = heldout_pairs("mnist-5k", n=30)
    assert isinstance(digits, PairSet) and len(digits) == 30 and digits.task == "edges"
    assert torch.equal(digits.images, load_dataset("mnist-5k", "test", n=30).images)
    assert torch.equal(heldout_pairs("mnist-5k", seed=5, n=30).images, digits.images)  # a fixed split: no seed
    colour = heldout_pairs("shapes", seed=2, n=8)
    assert colour.task == "grey" and torch.equal(colour.images, load_dataset("shapes", "test", seed=2).images[:8])
    assert not torch.equal(colour.images, heldout_pairs("shapes", seed=3, n=8).images)
    assert len(heldout_pairs("mnist-5k")) == 1000  # all of the test split by default
    with pytest.raises(ValueError, match="conditions must be uint8"):
        PairSet(digits.images, digits.labels, digits.classes, "bad", digits.conditions.float(), "edges")
