"""Metrics: the Fréchet distance against pytorch-fid, streaming statistics, KID and IS known answers, the
Inception extractor (random weights offline; the real weights only where cached), agreement with
pytorch-fid's own pipeline on PNG files, MetricCallback and the `evaluate` command."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_fid import fid_score
from pytorch_fid import inception as pf_inception
from pytorch_fid.fid_score import calculate_frechet_distance

from ganhelpers import data, judges, metrics, nets
from ganhelpers.__main__ import main
from ganhelpers.data import ImageSet, load_dataset, to_float, to_uint8
from ganhelpers.steps import bce_steps
from ganhelpers.train import Callback, TrainConfig, Trainer
from ganhelpers.utils import load_checkpoint, save_checkpoint, seed_everything


def gaussian_stats(rng, dim, n):
    """Mean and covariance of n correlated, shifted Gaussian samples in `dim` dimensions."""
    x = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim)) * 0.5 + rng.normal(size=dim) * 3
    return x.mean(0), np.cov(x, rowvar=False)


# ----------------------------------------------------------------------------- Fréchet distance

@pytest.mark.parametrize("dim", [2, 10, 64])  # pytorch-fid itself fails on 1x1 with scipy >= 1.16
def test_frechet_distance_agrees_with_pytorch_fid(dim):
    rng = np.random.default_rng(dim)
    for n in (2 * dim + 20, 3 * dim + 50):
        (m1, s1), (m2, s2) = gaussian_stats(rng, dim, n), gaussian_stats(rng, dim, n + 7)
        expected = calculate_frechet_distance(m1, s1, m2, s2)
        assert metrics.frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, abs=1e-6)
    # fewer samples than dimensions (singular covariances): scipy's sqrtm is itself only ~1e-8 accurate here
    (m1, s1), (m2, s2) = gaussian_stats(rng, dim, dim // 2 + 2), gaussian_stats(rng, dim, dim // 2 + 3)
    expected = calculate_frechet_distance(m1, s1, m2, s2)
    assert metrics.frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    mu, sigma = gaussian_stats(rng, 16, 100)
    shift = rng.normal(size=16)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-6)  # identical
    # equal covariances: the trace terms cancel, leaving the squared mean difference
    assert metrics.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(shift @ shift, rel=1e-6)
    # 1-D: N(0, a^2) vs N(0, b^2) is (a - b)^2
    assert metrics.frechet_distance([0.0], [[4.0]], [0.0], [[9.0]]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes"):
        metrics.frechet_distance(mu, sigma, mu[:3], sigma[:3, :3])


def test_frechet_distance_is_finite_for_near_singular_covariances():
    rng = np.random.default_rng(1)
    # 5 samples in 64 dimensions: covariances of rank 4, their product far from invertible
    a, b = rng.normal(size=(5, 64)), rng.normal(size=(5, 64)) + 0.5
    value = metrics.frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert np.isfinite(value) and value > 0
    # rank-1 covariances along orthogonal axes: the product is 0, so the cross term vanishes exactly
    u, v = np.zeros(8), np.zeros(8)
    u[0], v[1] = 1.0, 2.0
    value = metrics.frechet_distance(np.zeros(8), np.outer(u, u), np.zeros(8), np.outer(v, v))
    assert value == pytest.approx(1.0 + 4.0, abs=1e-9)
    # a covariance that rounding left slightly indefinite still gives a finite, non-negative distance
    sigma = np.cov(a, rowvar=False) - 1e-12 * np.eye(64)
    assert 0 <= metrics.frechet_distance(a.mean(0), sigma, a.mean(0), sigma) < 1e-6


# ----------------------------------------------------------------------------- streaming statistics

def test_streaming_statistics_equal_batch_statistics():
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(1003, 12, generator=g) @ torch.randn(12, 12, generator=g) + 500).float()  # far from 0
    stats = metrics.FeatureStats(kid_max=100)
    for chunk in x.split(97):  # uneven batches, the last one short
        stats.update(chunk)
    reference = x.double().numpy()
    assert stats.n == 1003
    np.testing.assert_allclose(stats.mean, reference.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(reference, rowvar=False), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(stats.features, x[:100].numpy())  # only kid_max rows are kept


def test_statistics_save_and_load_round_trip(tmp_path):
    stats = metrics.FeatureStats(kid_max=10)
    stats.update(torch.randn(50, 4, generator=torch.Generator().manual_seed(0)))
    stats.save(tmp_path / "s.npz", about="test")
    again = metrics.FeatureStats.load(tmp_path / "s.npz")
    np.testing.assert_allclose(again.mean, stats.mean)
    np.testing.assert_allclose(again.cov, stats.cov)
    assert again.n == 50 and again.features.shape == (10, 4)
    with np.load(tmp_path / "s.npz") as f:  # pytorch-fid reads the same file
        assert {"mu", "sigma"} <= set(f.files)


# ----------------------------------------------------------------------------- KID and IS

def test_mmd2_unbiased_matches_the_definition():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g) + 1
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(float(xx + yy - 2 * xy), rel=1e-5)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same, same_std = metrics.kid(a, b, n_subsets=10, subset_size=200)
    shifted, shifted_std = metrics.kid(a, b + 0.5, n_subsets=10, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3  # unbiased: 0 within noise, small samples or not
    assert shifted > 10 * max(shifted_std, same_std) and shifted > 0.01
    assert metrics.kid(a, b, 5, 200, seed=3) == metrics.kid(a, b, 5, 200, seed=3)  # seeded, repeatable


def test_inception_score_known_answers():
    assert metrics.inception_score(np.zeros((100, 10)), splits=5) == pytest.approx((1.0, 0.0))
    confident = np.eye(10)[np.arange(1000) % 10] * 60  # every split holds 10 confident, distinct classes
    mean, std = metrics.inception_score(confident, splits=10)
    assert mean == pytest.approx(10, rel=1e-6) and std == pytest.approx(0, abs=1e-6)
    collapsed = np.eye(10)[np.zeros(100, dtype=int)] * 60  # confident but all one class
    assert metrics.inception_score(collapsed, splits=1)[0] == pytest.approx(1, rel=1e-6)


def test_streamed_inception_score_equals_the_pure_function():
    logits = torch.randn(500, 7, generator=torch.Generator().manual_seed(0)) * 3
    stats = metrics.FeatureStats(kid_max=0, n_expected=500, is_splits=10)
    for chunk in logits.split(64):
        stats.update(torch.zeros(len(chunk), 2), chunk)
    assert stats.inception_score() == pytest.approx(metrics.inception_score(logits.numpy(), splits=10), rel=1e-9)


# ----------------------------------------------------------------------------- sources

def test_generator_batches_leave_global_rng_and_train_mode_alone():
    G = nets.DCGANGenerator(8, (1, 28, 28), base=4).train()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    out = [x for x, _ in metrics.batches(G, 10, batch_size=4, quantize=True)]
    assert [len(x) for x in out] == [4, 4, 2]
    assert torch.equal(torch.get_rng_state(), before) and G.training
    x = torch.cat(out)
    assert torch.equal(x, to_float(to_uint8(x)))  # quantized to the 256 levels of a PNG
    again = torch.cat([x for x, _ in metrics.batches(G, 10, batch_size=5, quantize=True)])
    assert torch.equal(x, again)  # same seed, same samples, whatever the batch size


def test_evaluation_noise_is_the_same_whatever_the_batch_size():
    whole = metrics._noise_rows(5, 0, 2500, 3)  # crosses two block boundaries
    chunks = torch.cat([metrics._noise_rows(5, i, min(i + 700, 2500), 3) for i in range(0, 2500, 700)])
    assert torch.equal(whole, chunks) and whole.shape == (2500, 3)
    assert not torch.equal(whole, metrics._noise_rows(6, 0, 2500, 3))  # another seed, other noise


def test_sources_images_tensors_and_sample_functions():
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    x = torch.cat([b for b, _ in metrics.batches(images, None, 4)])
    assert torch.equal(x, to_float(images))
    with pytest.raises(ValueError, match="holds 10"):
        list(metrics.batches(images, 11, 4))
    calls = []
    sample = lambda b: (calls.append(b), torch.zeros(b, 1, 4, 4))[1]  # noqa: E731
    assert sum(len(b) for b, _ in metrics.batches(sample, 7, 3)) == 7 and calls == [3, 3, 1]


# ----------------------------------------------------------------------------- Inception

def offline(monkeypatch, tmp_path):
    monkeypatch.setattr(judges, "inception_weights_path", lambda: tmp_path / "no-such-weights.pth")
    monkeypatch.setattr(data, "_reachable", lambda *a, **k: False)
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)


def test_offline_inception_fails_fast_with_a_clear_message(monkeypatch, tmp_path):
    offline(monkeypatch, tmp_path)
    with pytest.raises(metrics.WeightsUnavailable) as error:
        judges.InceptionExtractor("cpu")
    message = str(error.value)
    assert "no network" in message and "Colab" in message and "judge" in message


def test_failed_inception_download_is_reported_the_same_way(monkeypatch, tmp_path):
    monkeypatch.setattr(judges, "inception_weights_path", lambda: tmp_path / "no-such-weights.pth")
    monkeypatch.setattr(data, "_reachable", lambda *a, **k: True)

    def fail():
        raise OSError("connection reset")
    monkeypatch.setattr(pf_inception, "fid_inception_v3", fail)
    with pytest.raises(metrics.WeightsUnavailable, match="connection reset"):
        judges.InceptionExtractor("cpu")


def save_pngs(images: torch.Tensor, folder):
    from PIL import Image
    folder.mkdir()
    for i, img in enumerate(images):  # (C, H, W) uint8
        array = img.permute(1, 2, 0).squeeze(2).numpy()
        Image.fromarray(array).save(folder / f"{i:04d}.png")
    return str(folder)


def test_random_weight_inception_matches_pytorch_fid_pipeline_on_grey_pngs(monkeypatch, tmp_path):
    """The real InceptionV3 wrapper with random weights on both sides: pytorch-fid reads grey PNGs
    (PIL makes them RGB, ToTensor scales to [0, 1]); ours takes the same digits in [-1, 1]."""
    digits = load_dataset("mnist-5k", "test", n=3).images  # (3, 1, 28, 28) uint8
    net = judges._fid_inception("random")  # built once (24M parameters), shared by both sides
    monkeypatch.setattr(pf_inception, "fid_inception_v3", lambda: net)
    monkeypatch.setattr(judges, "_fid_inception", lambda weights: net)
    model = pf_inception.InceptionV3([3])  # pytorch-fid's defaults: resize and normalise inside
    save_pngs(digits, tmp_path / "x")
    theirs = fid_score.get_activations(sorted((tmp_path / "x").glob("*.png")), model, batch_size=3, dims=2048,
                                       device="cpu", num_workers=0)
    features, logits = judges.InceptionExtractor("cpu", weights="random")(to_float(digits))
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    np.testing.assert_allclose(features.numpy(), theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())


class TinyInception(torch.nn.Module):
    """A stand-in for pytorch-fid's InceptionV3 (same interface), small enough for a unit test."""
    BLOCK_INDEX_BY_DIM = {24: 0}

    def __init__(self, output_blocks=(0,), **kwargs):
        super().__init__()
        self.weight = torch.randn(24, 3 * 8 * 8, generator=torch.Generator().manual_seed(0))

    def forward(self, x):  # x (B, 3, H, W) in [0, 1], like InceptionV3
        x = F.interpolate(x, size=(8, 8), mode="bilinear", align_corners=False)
        return [torch.tanh(x.flatten(1) @ self.weight.T / 8)[:, :, None, None]]  # (B, 24, 1, 1)


def tiny_extractor():
    net = TinyInception()
    extract = lambda x: (net((x.expand(-1, 3, -1, -1) + 1) / 2)[0].flatten(1), None)  # noqa: E731
    extract.device, extract.about, extract.tag = torch.device("cpu"), "tiny random network", None
    return extract


def test_fid_pipeline_matches_calculate_fid_given_paths(monkeypatch, tmp_path):
    """Same images as PNG folders for pytorch-fid, as tensors for us; one tiny random network on both sides."""
    a, b = data.make_shapes(120, seed=1).images, data.make_shapes(100, seed=2).images
    monkeypatch.setattr(fid_score, "InceptionV3", TinyInception)
    theirs = fid_score.calculate_fid_given_paths([save_pngs(a, tmp_path / "a"), save_pngs(b, tmp_path / "b")],
                                                 batch_size=25, device="cpu", dims=24, num_workers=0)
    extract = tiny_extractor()
    sa = metrics.compute_statistics(extract, ImageSet(a, torch.zeros(120).long(), ["x"], "a"), None, batch_size=32)
    sb = metrics.compute_statistics(extract, to_float(b), 100, batch_size=7)
    ours = metrics.frechet_distance(sa.mean, sa.cov, sb.mean, sb.cov)
    assert theirs > 0.01 and ours == pytest.approx(theirs, rel=1e-5)


def test_fid_scores_cache_reference_statistics_and_record_the_protocol(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    extract = tiny_extractor()
    extract.tag = "tiny"
    G = nets.DCGANGenerator(8, (3, 32, 32), base=4)
    first = metrics.fid_scores(G, "shapes", n=200, split="test", with_is=False, extractor=extract,
                               kid_subsets=5, kid_subset_size=100)
    assert (tmp_path / "stats" / "tiny_shapes_test.npz").is_file()
    monkeypatch.setattr(data, "load_dataset", lambda *a, **k: pytest.fail("the cache was not used"))
    again = metrics.fid_scores(G, "shapes", n=200, split="test", with_is=False, extractor=extract,
                               kid_subsets=5, kid_subset_size=100)
    assert again["fid"] == pytest.approx(first["fid"]) and first["fid"] > 0 and first["kid"] > 0
    assert first["is"] is None and "200 generated vs shapes test (2,000 images)" in first["protocol"]
    assert "KID: 5 subsets of 100" in first["protocol"]
    with pytest.raises(ValueError, match="nothing to compute"):
        metrics.fid_scores(G, "shapes", with_fid=False, with_kid=False, with_is=False, extractor=extract)


@pytest.mark.skipif(not judges.inception_weights_path().is_file(),
                    reason="the FID Inception weights are not in torch's hub cache (no download offline); "
                           "on Colab or any online machine they download and this test runs")
def test_fid_matches_pytorch_fid_with_the_real_weights(tmp_path):
    a, b = data.make_shapes(100, seed=1).images, data.make_shapes(100, seed=2).images
    theirs = fid_score.calculate_fid_given_paths([save_pngs(a, tmp_path / "a"), save_pngs(b, tmp_path / "b")],
                                                 batch_size=50, device="cpu", dims=2048, num_workers=0)
    extract = judges.InceptionExtractor("cpu")
    sa, sb = (metrics.compute_statistics(extract, to_float(x), None, batch_size=50) for x in (a, b))
    ours = metrics.frechet_distance(sa.mean, sa.cov, sb.mean, sb.cov)
    # 100 samples in 2048 dimensions: singular covariances amplify float rounding a little
    assert ours == pytest.approx(theirs, rel=1e-3)


# ----------------------------------------------------------------------------- training integration

def tiny_trainer(tmp_path=None, callbacks=(), steps=12):
    seed_everything(0)
    images = torch.randint(0, 256, (96, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    G, D = nets.DCGANGenerator(8, (1, 28, 28), base=4), nets.DCGANDiscriminator((1, 28, 28), base=4, dropout=0.1)
    config = TrainConfig(steps=steps, batch_size=8, log_every=3, progress=False, device="cpu",
                         out_dir=str(tmp_path) if tmp_path else None)
    return Trainer(G, D, *bce_steps(), ImageSet(images, torch.arange(96) % 10, list("0123456789"), "tiny"),
                   config, callbacks=callbacks)


def scripted(values, name="toy"):
    values = iter(values)
    return metrics.Metric(name, lambda G: {name: next(values), "extra": 1.0})


def test_metric_callback_records_history_and_keeps_best(tmp_path):
    callback = metrics.MetricCallback(scripted([5.0, 3.0, 4.0, 4.0]), every=3, verbose=False)
    trainer = tiny_trainer(tmp_path, [callback])
    trainer.fit()
    assert trainer.history["toy"] == [5.0, 3.0, 4.0, 4.0] and trainer.history["toy_step"] == [3, 6, 9, 12]
    assert callback.best == 3.0 and callback.best_step == 6
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 6  # kept from the best step, not overwritten
    assert callback.results[0] == {"step": 3, "toy": 5.0, "extra": 1.0}
    header, *rows = (tmp_path / "history.csv").read_text().splitlines()
    assert "toy" in header.split(",") and len(rows) == 4


def test_metric_callback_higher_is_better_nan_and_early_stop(tmp_path, capsys):
    class StopAt4(Callback):
        def on_step_end(self, trainer):
            if trainer.step == 4:
                trainer.stop("enough")
    values = iter([float("nan"), 1.0])
    callback = metrics.MetricCallback(lambda G: next(values), every=3, name="modes", higher_is_better=True)
    trainer = tiny_trainer(tmp_path, [callback, StopAt4()])
    trainer.fit()
    assert trainer.history["modes_step"] == [3, 4]  # and once more where the run stopped
    assert callback.best == 1.0 and load_checkpoint(tmp_path / "best.pt")["step"] == 4  # NaN never wins
    out = capsys.readouterr().out
    assert "step 3: modes nan  (no finite value yet)" in out and "step 4: modes 1  (best so far)" in out
    assert "modes" in (tmp_path / "history.csv").read_text().splitlines()[0]  # rewritten after the last value


def test_metric_callback_does_not_change_training(tmp_path):
    plain = tiny_trainer(steps=6)
    plain.fit()
    judged = tiny_trainer(tmp_path, [metrics.MetricCallback(metrics.judge_metric("mnist-5k", n=64), every=3,
                                                            verbose=False)], steps=6)
    judged.fit()
    assert len(judged.history["judge_fd"]) == 2 and all(np.isfinite(judged.history["judge_fd"]))
    for key, value in plain.G.state_dict().items():
        assert torch.equal(value, judged.G.state_dict()[key]), key
    for key, value in plain.D.state_dict().items():
        assert torch.equal(value, judged.D.state_dict()[key]), key


def test_metric_callback_scores_the_ema_generator_of_an_ema_callback():
    # EMA kept its average to itself, so MetricCallback scored the live G: both parts now run together for real
    from ganhelpers.sagan import EMA
    seen = []

    def metric(G):
        seen.append(G)
        return {"x": sum(float(p.sum()) for p in G.parameters())}
    ema = EMA(decay=0.5)
    trainer = tiny_trainer(callbacks=[ema, metrics.MetricCallback(metric, every=3, name="x", verbose=False)], steps=6)
    trainer.fit()
    assert seen == [ema.G_ema, ema.G_ema] and trainer.G_ema is ema.G_ema and ema.G_ema is not trainer.G
    live = sum(float(p.sum()) for p in trainer.G.parameters())
    assert trainer.history["x"][-1] != live  # the average's weights were scored, not the live G's


# ----------------------------------------------------------------------------- the command line

def make_run(folder, dataset="mnist-5k", shape=(1, 28, 28)):
    from ganhelpers.models import get_model
    seed_everything(0)
    G, _ = get_model("dcgan").build(shape, 10, 16)
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": "dcgan", "dataset": dataset, "z_dim": 16,
                                                    "img_shape": list(shape), "n_classes": 10, "train": {}}))
    save_checkpoint({"G": G.state_dict(), "step": 7}, folder / "checkpoint.pt")
    return folder


def test_evaluate_prints_judge_numbers_with_their_protocol(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["evaluate", str(run), "--metric", "judge", "--n", "200", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "fd" in out and "classes_covered" in out and "protocol: 200 samples vs mnist-5k train" in out
    assert "step 7" in out


@pytest.mark.parametrize("args, message", [
    (["--metric", "judge"], "no offline judge for 'cifar10'"),
    (["--metric", "bleu"], "invalid choice"),
])
def test_evaluate_bad_input_exits_2(tmp_path, capsys, args, message):
    run = make_run(tmp_path / "run", "cifar10", (3, 32, 32))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_not_a_run_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2 and "not a run folder" in capsys.readouterr().err


def test_evaluate_fid_offline_exits_1_naming_the_judges(tmp_path, capsys, monkeypatch):
    offline(monkeypatch, tmp_path)
    run = make_run(tmp_path / "run")
    assert main(["evaluate", str(run), "--metric", "fid", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "no network" in err and "--metric judge" in err


def test_frechet_distance_remembers_the_reference_root_by_content():
    rng = np.random.default_rng(0)
    mu_a, sigma_a, mu_ref, sigma_ref = *gaussian_stats(rng, 16, 40), *gaussian_stats(rng, 16, 60)
    metrics._ROOTS.clear()
    first = metrics.frechet_distance(mu_a, sigma_a, mu_ref, sigma_ref)
    assert len(metrics._ROOTS) == 1
    again = metrics.frechet_distance(mu_a, sigma_a, mu_ref, sigma_ref.copy())  # same content, another array
    assert again == first and len(metrics._ROOTS) == 1
    swapped = metrics.frechet_distance(mu_ref, sigma_ref, mu_a, sigma_a)  # the distance is symmetric
    assert swapped == pytest.approx(first, rel=1e-9)
    for k in range(6):  # bounded: never more than a few roots kept
        metrics.frechet_distance(mu_a, sigma_a, mu_ref, sigma_ref + k * np.eye(16))
    assert len(metrics._ROOTS) <= 4
