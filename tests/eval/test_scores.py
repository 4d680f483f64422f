"""Scores of generated samples: the judge's (Fréchet distance, accuracy, coverage), the 2-D mixtures' modes,
FID/KID with cached reference statistics, a conditional generator's per-class report and image-to-image
scores on held-out pairs."""
import pytest
import torch
from torch import nn

from ganhelpers.data import (ImageSet, datasets, load_dataset, make_mixture, make_pairs, make_shapes, mixture_centers,
                             to_float)
from ganhelpers.eval.scores import (class_report, fid_scores, heldout_scores, judge_scores, mean_pairwise_distance,
                                    mixture_scores)
from ganhelpers.models.dcgan import DCGANGenerator
from tests.helpers import tiny_extractor


def test_fid_scores_cache_reference_statistics_and_record_the_protocol(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "DATA_DIR", tmp_path)
    extract = tiny_extractor()
    extract.tag = "tiny"
    G = DCGANGenerator(8, (3, 32, 32), base=4)
    first = fid_scores(G, "shapes", n=200, split="test", with_is=False, extractor=extract,
                       kid_subsets=5, kid_subset_size=100)
    assert (tmp_path / "stats" / "tiny_shapes_test.npz").is_file()
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("the cache was not used"))
    again = fid_scores(G, "shapes", n=200, split="test", with_is=False, extractor=extract,
                       kid_subsets=5, kid_subset_size=100)
    assert again["fid"] == pytest.approx(first["fid"]) and first["fid"] > 0 and first["kid"] > 0
    assert first["is"] is None and "200 generated vs shapes test (2,000 images)" in first["protocol"]
    assert "KID: 5 subsets of 100" in first["protocol"]
    with pytest.raises(ValueError, match="nothing to compute"):
        fid_scores(G, "shapes", with_fid=False, with_kid=False, with_is=False, extractor=extract)


@pytest.mark.parametrize("name", ["mnist-5k", "shapes"])
def test_real_held_out_images_score_near_the_floor_and_noise_far(name):
    test = load_dataset(name, "test", n=1000)
    real = judge_scores(test, name, n=1000)
    noise = judge_scores(torch.rand(1000, *test.img_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1,
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
    scores = judge_scores(sample, "mnist-5k", n=500, batch_size=100)
    assert scores["accuracy"] < 0.05 and scores["fd"] < 5  # the images are real; only the labels are off


def test_collapsed_samples_cover_one_class():
    test = load_dataset("shapes", "test")
    circles = ImageSet(test.images[test.labels == 0], test.labels[test.labels == 0], test.classes, "circles")
    scores = judge_scores(circles, "shapes", n=len(circles))
    assert scores["classes_covered"] == 1 and scores["score"] < 1.2 and scores["fd"] > 10


def test_mixture_scores_known_answers():
    centers, std = mixture_centers("ring8")
    exact = mixture_scores(centers.repeat(10, 1), centers, std)
    assert exact["modes_covered"] == 8 and exact["high_quality"] == 1.0
    one_mode = mixture_scores(centers[:1].repeat(80, 1), centers, std)
    assert one_mode["modes_covered"] == 1 and one_mode["high_quality"] == 1.0
    far = mixture_scores(torch.full((50, 2), 10.0), centers, std)
    assert far["modes_covered"] == 0 and far["high_quality"] == 0.0
    real = make_mixture("ring8", 4000, seed=0)
    scores = mixture_scores(real.points, real.centers, real.std)
    assert scores["modes_covered"] == 8 and scores["high_quality"] == pytest.approx(0.989, abs=0.01)  # 1 - e^-4.5
    grid = make_mixture("grid25", 5000, seed=0)
    assert judge_scores(grid.points, "grid25", n=5000)["modes_covered"] == 25


def test_heldout_scores_measure_l1_and_blur():
    pairs = make_pairs(load_dataset("mnist-5k", "test", n=50))

    class Constant(nn.Module):  # a "generator" that always answers the same image
        def __init__(self, image):
            super().__init__()
            self.image = nn.Parameter(image)

        def forward(self, condition):
            return self.image.expand(condition.size(0), -1, -1, -1)

    targets = to_float(pairs.images)
    blank = heldout_scores(Constant(-torch.ones(1, 1, 28, 28)), pairs, judge=False)
    assert blank["l1"] == pytest.approx((targets + 1).abs().mean().item(), rel=1e-5) and blank["hf_ratio"] == 0
    mean_image = heldout_scores(Constant(targets.mean(0, keepdim=True)), pairs, judge=False)
    assert mean_image["hf_ratio"] < 0.5  # the average digit is a blur
    assert "saturation_ratio" not in blank  # only for colour images
    shapes = make_pairs(make_shapes(20, seed=1))
    grey = heldout_scores(Constant(torch.zeros(1, 3, 32, 32)), shapes, judge=False)
    assert grey["saturation_ratio"] == 0  # a grey answer has no colour at all
    one = make_pairs(ImageSet(shapes.images[:1], shapes.labels[:1], shapes.classes, "one"))
    perfect = heldout_scores(Constant(to_float(one.images)), one, judge=False)
    assert perfect["l1"] == 0 and perfect["hf_ratio"] == perfect["saturation_ratio"] == pytest.approx(1)


def test_mean_pairwise_distance_known_answers():
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert mean_pairwise_distance(torch.ones(5, 3)) == 0.0
    with pytest.raises(ValueError):
        mean_pairwise_distance(torch.ones(1, 3))


class ReplayGenerator(torch.nn.Module):
    """A 'generator' that returns real test digits of the requested class (or always the same one)."""

    def __init__(self, collapse=False):
        super().__init__()
        test = load_dataset("mnist-5k", "test")
        self.z_dim, self.n_classes, self.collapse = 4, 10, collapse
        self.by_class = [to_float(test.images[test.labels == k]) for k in range(10)]
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, labels):
        out = [self.by_class[int(k)][0 if self.collapse else i % len(self.by_class[int(k)])]
               for i, k in enumerate(labels)]
        return torch.stack(out)


def test_class_report_on_real_and_collapsed_digits():
    real = class_report(ReplayGenerator(), n_per_class=40)
    collapsed = class_report(ReplayGenerator(collapse=True), n_per_class=40)
    assert len(real["accuracy"]) == 10 and real["mean_accuracy"] > 0.9  # the judge knows real digits
    assert 0.7 < real["mean_diversity_ratio"] < 1.3  # held-out digits are about as varied as train ones
    assert collapsed["mean_diversity_ratio"] == 0.0  # one image per class: no diversity at all
    assert 0 <= collapsed["mean_confidence"] <= 1
