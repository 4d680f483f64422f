"""The batch sampler: batches on the device, each item once per epoch, its state for a resume, its own RNG."""
import io

import pytest
import torch

from ganhelpers.data import BatchSampler, ImageSet, make_mixture, make_shapes


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
