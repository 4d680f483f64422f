"""Feature statistics: streaming mean and covariance, their files, the streamed Inception Score, the sources
(generators, tensors, datasets, sample functions) with their seeded noise, and agreement with pytorch-fid's
pipeline on PNG files."""
import numpy as np
import pytest
import torch
from pytorch_fid import fid_score

from ganhelpers.data import ImageSet, make_shapes, to_float, to_uint8
from ganhelpers.eval import distances, statistics
from ganhelpers.models.dcgan import DCGANGenerator
from tests.helpers import TinyInception, save_pngs, tiny_extractor


def test_streaming_statistics_equal_batch_statistics():
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(1003, 12, generator=g) @ torch.randn(12, 12, generator=g) + 500).float()  # far from 0
    stats = statistics.FeatureStats(kid_max=100)
    for chunk in x.split(97):  # uneven batches, the last one short
        stats.update(chunk)
    reference = x.double().numpy()
    assert stats.n == 1003
    np.testing.assert_allclose(stats.mean, reference.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(reference, rowvar=False), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(stats.features, x[:100].numpy())  # only kid_max rows are kept


def test_statistics_save_and_load_round_trip(tmp_path):
    stats = statistics.FeatureStats(kid_max=10)
    stats.update(torch.randn(50, 4, generator=torch.Generator().manual_seed(0)))
    stats.save(tmp_path / "s.npz", about="test")
    again = statistics.FeatureStats.load(tmp_path / "s.npz")
    np.testing.assert_allclose(again.mean, stats.mean)
    np.testing.assert_allclose(again.cov, stats.cov)
    assert again.n == 50 and again.features.shape == (10, 4)
    with np.load(tmp_path / "s.npz") as f:  # pytorch-fid reads the same file
        assert {"mu", "sigma"} <= set(f.files)


def test_streamed_inception_score_equals_the_pure_function():
    logits = torch.randn(500, 7, generator=torch.Generator().manual_seed(0)) * 3
    stats = statistics.FeatureStats(kid_max=0, n_expected=500, is_splits=10)
    for chunk in logits.split(64):
        stats.update(torch.zeros(len(chunk), 2), chunk)
    assert stats.inception_score() == pytest.approx(distances.inception_score(logits.numpy(), splits=10), rel=1e-9)


def test_generator_batches_leave_global_rng_and_train_mode_alone():
    G = DCGANGenerator(8, (1, 28, 28), base=4).train()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    out = [x for x, _ in statistics.batches(G, 10, batch_size=4, quantize=True)]
    assert [len(x) for x in out] == [4, 4, 2]
    assert torch.equal(torch.get_rng_state(), before) and G.training
    x = torch.cat(out)
    assert torch.equal(x, to_float(to_uint8(x)))  # quantized to the 256 levels of a PNG
    again = torch.cat([x for x, _ in statistics.batches(G, 10, batch_size=5, quantize=True)])
    assert torch.equal(x, again)  # same seed, same samples, whatever the batch size


def test_evaluation_noise_is_the_same_whatever_the_batch_size():
    whole = statistics._noise_rows(5, 0, 2500, 3)  # crosses two block boundaries
    chunks = torch.cat([statistics._noise_rows(5, i, min(i + 700, 2500), 3) for i in range(0, 2500, 700)])
    assert torch.equal(whole, chunks) and whole.shape == (2500, 3)
    assert not torch.equal(whole, statistics._noise_rows(6, 0, 2500, 3))  # another seed, other noise


def test_sources_images_tensors_and_sample_functions():
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    x = torch.cat([b for b, _ in statistics.batches(images, None, 4)])
    assert torch.equal(x, to_float(images))
    with pytest.raises(ValueError, match="holds 10"):
        list(statistics.batches(images, 11, 4))
    calls = []
    sample = lambda b: (calls.append(b), torch.zeros(b, 1, 4, 4))[1]  # noqa: E731
    assert sum(len(b) for b, _ in statistics.batches(sample, 7, 3)) == 7 and calls == [3, 3, 1]


def test_fid_pipeline_matches_calculate_fid_given_paths(monkeypatch, tmp_path):
    """Same images as PNG folders for pytorch-fid, as tensors for us; one tiny random network on both sides."""
    a, b = make_shapes(120, seed=1).images, make_shapes(100, seed=2).images
    monkeypatch.setattr(fid_score, "InceptionV3", TinyInception)
    theirs = fid_score.calculate_fid_given_paths([save_pngs(a, tmp_path / "a"), save_pngs(b, tmp_path / "b")],
                                                 batch_size=25, device="cpu", dims=24, num_workers=0)
    extract = tiny_extractor()
    sa = statistics.compute_statistics(extract, ImageSet(a, torch.zeros(120).long(), ["x"], "a"), None, batch_size=32)
    sb = statistics.compute_statistics(extract, to_float(b), 100, batch_size=7)
    ours = distances.frechet_distance(sa.mean, sa.cov, sb.mean, sb.cov)
    assert theirs > 0.01 and ours == pytest.approx(theirs, rel=1e-5)
