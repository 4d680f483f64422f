"""Feature extractors: pytorch-fid's Inception (offline failures, random weights against pytorch-fid's own
pipeline, the real weights where cached) and the offline judges (shapes, shipped weights and accuracy, where
their weights are found)."""
import numpy as np
import pytest
import torch
from pytorch_fid import fid_score
from pytorch_fid import inception as pf_inception

from ganhelpers.data import datasets, load_dataset, make_shapes, to_float
from ganhelpers.eval import distances, extractors, train_judges
from ganhelpers.eval.statistics import compute_statistics
from tests.helpers import offline, save_pngs


def test_offline_inception_fails_fast_with_a_clear_message(monkeypatch, tmp_path):
    offline(monkeypatch, tmp_path)
    with pytest.raises(extractors.WeightsUnavailable) as error:
        extractors.InceptionExtractor("cpu")
    message = str(error.value)
    assert "no network" in message and "Colab" in message and "judge" in message


def test_failed_inception_download_is_reported_the_same_way(monkeypatch, tmp_path):
    monkeypatch.setattr(extractors, "inception_weights_path", lambda: tmp_path / "no-such-weights.pth")
    monkeypatch.setattr(datasets, "reachable", lambda *a, **k: True)

    def fail():
        raise OSError("connection reset")
    monkeypatch.setattr(pf_inception, "fid_inception_v3", fail)
    with pytest.raises(extractors.WeightsUnavailable, match="connection reset"):
        extractors.InceptionExtractor("cpu")


def test_random_weight_inception_matches_pytorch_fid_pipeline_on_grey_pngs(monkeypatch, tmp_path):
    """The real InceptionV3 wrapper with random weights on both sides: pytorch-fid reads grey PNGs
    (PIL makes them RGB, ToTensor scales to [0, 1]); ours takes the same digits in [-1, 1]."""
    digits = load_dataset("mnist-5k", "test", n=3).images  # (3, 1, 28, 28) uint8
    net = extractors._fid_inception("random")  # built once (24M parameters), shared by both sides
    monkeypatch.setattr(pf_inception, "fid_inception_v3", lambda: net)
    monkeypatch.setattr(extractors, "_fid_inception", lambda weights: net)
    model = pf_inception.InceptionV3([3])  # pytorch-fid's defaults: resize and normalise inside
    save_pngs(digits, tmp_path / "x")
    theirs = fid_score.get_activations(sorted((tmp_path / "x").glob("*.png")), model, batch_size=3, dims=2048,
                                       device="cpu", num_workers=0)
    features, logits = extractors.InceptionExtractor("cpu", weights="random")(to_float(digits))
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    np.testing.assert_allclose(features.numpy(), theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())


def test_pool3_path_is_pytorch_fid_s_block_for_block(monkeypatch):
    """InceptionPool3 takes its network as an argument where pytorch-fid's InceptionV3 calls a module function:
    on the same network and input, the two give the same pool3 features to the bit."""
    net = extractors._fid_inception("random").eval()
    monkeypatch.setattr(pf_inception, "fid_inception_v3", lambda: net)
    theirs = pf_inception.InceptionV3([pf_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))  # [0, 1], any size: resized to 299
    with torch.no_grad():
        expected = theirs(x)[0].flatten(1)  # (2, 2048)
        got = extractors.InceptionPool3(net).eval()(x)
    assert got.shape == (2, 2048) and got.abs().sum() > 0
    assert torch.equal(got, expected)


@pytest.mark.skipif(not extractors.inception_weights_path().is_file(),
                    reason="the FID Inception weights are not in torch's hub cache (no download offline); "
                           "on Colab or any online machine they download and this test runs")
def test_fid_matches_pytorch_fid_with_the_real_weights(tmp_path):
    a, b = make_shapes(100, seed=1).images, make_shapes(100, seed=2).images
    theirs = fid_score.calculate_fid_given_paths([save_pngs(a, tmp_path / "a"), save_pngs(b, tmp_path / "b")],
                                                 batch_size=50, device="cpu", dims=2048, num_workers=0)
    extract = extractors.InceptionExtractor("cpu")
    sa, sb = (compute_statistics(extract, to_float(x), None, batch_size=50) for x in (a, b))
    ours = distances.frechet_distance(sa.mean, sa.cov, sb.mean, sb.cov)
    # 100 samples in 2048 dimensions: singular covariances amplify float rounding a little
    assert ours == pytest.approx(theirs, rel=1e-3)


@pytest.mark.parametrize("in_channels, size", [(1, 28), (3, 32)])
def test_judge_shapes(in_channels, size):
    features, logits = extractors.Judge(in_channels, 10)(torch.rand(4, in_channels, size, size) * 2 - 1)
    assert features.shape == (4, extractors.FEATURE_DIM) and logits.shape == (4, 10) and (features >= 0).all()


@pytest.mark.parametrize("name, threshold", [("mnist-5k", 0.98), ("shapes", 0.99)])
def test_shipped_judge_reaches_its_held_out_accuracy(name, threshold):
    path = extractors.JUDGES_DIR / f"{name}.pt"
    assert path.stat().st_size < 400_000  # small enough to ship in the repository
    test = load_dataset(name, "test")
    extractor = extractors.JudgeExtractor(name)
    accuracy = train_judges.accuracy(extractor.net, test.images, test.labels)
    assert accuracy >= threshold
    assert accuracy == pytest.approx(extractor.meta["test_accuracy"], abs=1e-9)  # the recorded number is true
    ref = extractor.reference(name, "train")
    assert ref.n == {"mnist-5k": 4000, "shapes": 20000}[name] and ref.mean.shape == (extractors.FEATURE_DIM,)


def test_scoring_leaves_the_global_rng_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    extractors.JudgeExtractor("mnist-5k")
    assert torch.equal(torch.get_rng_state(), before)


def test_unknown_datasets_say_what_to_use():
    with pytest.raises(ValueError, match="Inception FID"):
        extractors.judge_path("cifar10")
    with pytest.raises(ValueError, match="mixture_scores"):
        extractors.judge_path("ring8")
    assert extractors.judge_path("mnist").name == "mnist-5k.pt"  # full MNIST: the same digits


def test_a_missing_judge_offline_names_the_training_command(monkeypatch, tmp_path):
    monkeypatch.setattr(extractors, "JUDGES_DIR", tmp_path / "none")
    monkeypatch.setattr(datasets, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m ganhelpers.eval.train_judges mnist-5k"):
        extractors.judge_path("mnist-5k")
