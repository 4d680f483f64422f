"""The offline judges: shipped weights reach their held-out accuracy, real held-out images score near the
floor and noise far from it, mixtures' known answers, the training script on a tiny set."""
import pytest
import torch

from ganhelpers import data, judges, metrics
from ganhelpers.data import ImageSet, load_dataset, make_mixture, mixture_centers, to_float
from ganhelpers.utils import load_checkpoint


@pytest.mark.parametrize("in_channels, size", [(1, 28), (3, 32)])
def test_judge_shapes(in_channels, size):
    features, logits = judges.Judge(in_channels, 10)(torch.rand(4, in_channels, size, size) * 2 - 1)
    assert features.shape == (4, judges.FEATURE_DIM) and logits.shape == (4, 10) and (features >= 0).all()


@pytest.mark.parametrize("name, threshold", [("mnist-5k", 0.98), ("shapes", 0.99)])
def test_shipped_judge_reaches_its_held_out_accuracy(name, threshold):
    path = judges.JUDGES_DIR / f"{name}.pt"
    assert path.stat().st_size < 400_000  # small enough to ship in the repository
    test = load_dataset(name, "test")
    extractor = judges.JudgeExtractor(name)
    accuracy = judges.accuracy(extractor.net, test.images, test.labels)
    assert accuracy >= threshold
    assert accuracy == pytest.approx(extractor.meta["test_accuracy"], abs=1e-9)  # the recorded number is true
    ref = extractor.reference(name, "train")
    assert ref.n == {"mnist-5k": 4000, "shapes": 20000}[name] and ref.mean.shape == (judges.FEATURE_DIM,)


@pytest.mark.parametrize("name", ["mnist-5k", "shapes"])
def test_real_held_out_images_score_near_the_floor_and_noise_far(name):
    test = load_dataset(name, "test", n=1000)
    real = judges.judge_scores(test, name, n=1000)
    noise = judges.judge_scores(torch.rand(1000, *test.img_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1,
                                name, n=1000)
    assert real["fd"] < 2.0 and noise["fd"] > 100 * real["fd"]
    assert real["accuracy"] >= 0.98 and noise["accuracy"] is None  # real images carry their labels
    assert real["classes_covered"] == 10 and real["confident"] > 0.9 and real["score"] > 8
    assert f"1,000 samples vs {name} train" in real["protocol"]


def test_conditional_samples_are_checked_against_their_intended_labels():
    test = load_dataset("mnist-5k", "test", n=500)
    wrong = (test.labels + 1) % 10

    def sample(b, state={"i": 0}):  # a "conditional generator" that draws the wrong digit every time
        i = state["i"]
        state["i"] += b
        return to_float(test.images[i:i + b]), wrong[i:i + b]
    scores = judges.judge_scores(sample, "mnist-5k", n=500, batch_size=100)
    assert scores["accuracy"] < 0.05 and scores["fd"] < 5  # the images are real; only the labels are off


def test_collapsed_samples_cover_one_class():
    test = load_dataset("shapes", "test")
    circles = ImageSet(test.images[test.labels == 0], test.labels[test.labels == 0], test.classes, "circles")
    scores = judges.judge_scores(circles, "shapes", n=len(circles))
    assert scores["classes_covered"] == 1 and scores["score"] < 1.2 and scores["fd"] > 10


def test_scoring_leaves_the_global_rng_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    judges.JudgeExtractor("mnist-5k")
    assert torch.equal(torch.get_rng_state(), before)


def test_unknown_datasets_say_what_to_use():
    with pytest.raises(ValueError, match="Inception FID"):
        judges.judge_path("cifar10")
    with pytest.raises(ValueError, match="mixture_scores"):
        judges.judge_path("ring8")
    assert judges.judge_path("mnist").name == "mnist-5k.pt"  # full MNIST: the same digits


def test_a_missing_judge_offline_names_the_training_command(monkeypatch, tmp_path):
    monkeypatch.setattr(judges, "JUDGES_DIR", tmp_path / "none")
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m ganhelpers.judges mnist-5k"):
        judges.judge_path("mnist-5k")


def test_mixture_scores_known_answers():
    centers, std = mixture_centers("ring8")
    exact = judges.mixture_scores(centers.repeat(10, 1), centers, std)
    assert exact["modes_covered"] == 8 and exact["high_quality"] == 1.0
    one_mode = judges.mixture_scores(centers[:1].repeat(80, 1), centers, std)
    assert one_mode["modes_covered"] == 1 and one_mode["high_quality"] == 1.0
    far = judges.mixture_scores(torch.full((50, 2), 10.0), centers, std)
    assert far["modes_covered"] == 0 and far["high_quality"] == 0.0
    real = make_mixture("ring8", 4000, seed=0)
    scores = judges.mixture_scores(real.points, real.centers, real.std)
    assert scores["modes_covered"] == 8 and scores["high_quality"] == pytest.approx(0.989, abs=0.01)  # 1 - e^-4.5
    grid = make_mixture("grid25", 5000, seed=0)
    assert judges.judge_scores(grid.points, "grid25", n=5000)["modes_covered"] == 25


def test_mixture_metric_tracks_modes_of_a_point_generator():
    class OneMode(torch.nn.Module):  # a collapsed 2-D generator
        z_dim, n_classes = 2, 0

        def __init__(self):
            super().__init__()
            self.center = torch.nn.Parameter(mixture_centers("ring8")[0][3].clone())

        def forward(self, z, labels=None):
            return self.center + 0.001 * z
    scores = metrics.mixture_metric("ring8", n=400)(OneMode())
    assert scores == {"modes_covered": 1, "high_quality": 1.0}


def test_augment_keeps_shape_range_and_is_identity_without_jitter():
    x = to_float(load_dataset("mnist-5k", "test", n=8).images)
    g = torch.Generator().manual_seed(0)
    assert torch.allclose(judges.augment(x, g, 0, 0, 0), x, atol=1e-5)
    y = judges.augment(x, g, 2.5, 12, 0.12)
    assert y.shape == x.shape and y.min() >= -1 - 1e-5 and y.max() <= 1 + 1e-5 and not torch.allclose(x, y)


def test_train_judge_script_runs_and_records_what_it_made(monkeypatch, tmp_path):
    small = {split: load_dataset("mnist-5k", split, n=n) for split, n in (("train", 256), ("test", 100))}
    monkeypatch.setattr(judges, "load_dataset", lambda name, split, seed=0: small[split])
    monkeypatch.setitem(judges.RECIPES, "mnist-5k",
                        dict(epochs=1, batch_size=64, shift=1, degrees=5, scale=0.05, lr=3e-3))
    torch.manual_seed(3)
    before = torch.get_rng_state()
    record = judges.train_judge("mnist-5k", out=tmp_path / "j.pt", verbose=False)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is untouched
    saved = load_checkpoint(tmp_path / "j.pt")
    assert saved["meta"]["n_test"] == 100 and 0 <= saved["meta"]["test_accuracy"] <= 1
    assert saved["state_dict"]["head.weight"].dtype == torch.float16  # halves the shipped file
    ref = saved["reference"]["mnist-5k/train"]
    assert ref["n"] == 256 and ref["sigma"].shape == (judges.FEATURE_DIM, judges.FEATURE_DIM)
    assert record["meta"] == saved["meta"]
