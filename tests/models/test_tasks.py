"""The tasks, how a kind of model meets data: noise-to-image (NOISE) and image-to-image (PAIRED). Their samplers,
progress pictures, samples, metric checks, evaluation and search metric, on untrained generators (no training)."""
import numpy as np
import pytest

from ganhelpers.core import FixedInputs, seed_everything
from ganhelpers.data import BatchSampler, PairSampler, make_shapes
from ganhelpers.models import get_model
from ganhelpers.models.tasks import NOISE, PAIRED, NoiseTask, PairedTask, Task
from ganhelpers.viz.savers import SampleSaver, TripletSaver
from tests.helpers import tiny_data


def build(model, shape=(1, 28, 28), n_classes=10):
    seed_everything(0)
    spec = get_model(model)
    return spec.build(shape, n_classes, spec.z_dim)[0]


def test_kinds_and_metrics_default_first():
    assert isinstance(NOISE, NoiseTask) and isinstance(PAIRED, PairedTask)
    assert (NOISE.kind, PAIRED.kind) == ("noise-to-image", "image-to-image")
    assert NOISE.metrics == ("judge", "fid", "kid", "is") and PAIRED.metrics == ("l1",)  # --metric's default first
    with pytest.raises(NotImplementedError):
        Task().sample(None, {}, None, 1, None, 0)


@pytest.mark.parametrize("task, metric, dataset, message", [
    (NOISE, "judge", "mnist-5k", None), (NOISE, "judge", "shapes", None), (NOISE, "judge", "ring8", None),
    (NOISE, "fid", "cifar10", None), (NOISE, "kid", "mnist-5k", None),
    (NOISE, "judge", "cifar10", "no offline judge for 'cifar10' (judges: mnist-5k, mnist, shapes, ring8, grid25); "
                                "use --metric fid"),
    (NOISE, "fid", "ring8", "ring8 holds 2-D points: Inception scores need images; use --metric judge"),
    (NOISE, "l1", "mnist-5k", "--metric l1: noise-to-image models are scored with --metric judge or fid or kid or is "
                              "(l1 scores image-to-image runs on held-out pairs)"),
    (PAIRED, "l1", "mnist-5k", None), (PAIRED, "l1", "shapes", None),
    (PAIRED, "judge", "mnist-5k", "--metric judge: image-to-image models are scored with --metric l1"),
    (PAIRED, "fid", "shapes", "--metric fid: image-to-image models are scored with --metric l1"),
])
def test_check_metric_says_what_to_use(task, metric, dataset, message):
    assert task.check_metric(metric, dataset) == message


def test_samplers_and_progress_pictures(tmp_path):
    data = tiny_data(16)
    noise = NOISE.sampler(data, 4, "cpu", 0)
    assert type(noise) is BatchSampler and noise.next()[0].shape == (4, 1, 28, 28)
    paired = PAIRED.sampler(data, 4, "cpu", 0)
    target, condition = paired.next()  # (target, condition): the condition reaches the steps as `labels`
    assert isinstance(paired, PairSampler) and target.shape == condition.shape == (4, 1, 28, 28)
    [saver] = NOISE.callbacks(tmp_path, "mnist-5k", 0, every=5)
    assert type(saver) is SampleSaver and saver.every == 5 and saver.folder == tmp_path / "samples"
    fixed, triplets = PAIRED.callbacks(tmp_path, "mnist-5k", 0, every=5)
    assert isinstance(fixed, FixedInputs) and fixed.inputs.shape == (PAIRED.n_fixed, 1, 28, 28)
    assert fixed.inputs.min() >= -1 and fixed.inputs.max() <= 1  # held-out conditions as G takes them
    assert isinstance(triplets, TripletSaver) and triplets.every == 5 and len(triplets.pairs) == 1000  # test split


def test_noise_samples_by_class_one_row_each_or_of_one_class(tmp_path):
    G, meta = build("cgan"), {"dataset": "mnist-5k"}
    assert "3 per class, one class per row" in NOISE.sample(G, meta, tmp_path / "all.npz", 25, "all", 0)
    arrays = np.load(tmp_path / "all.npz")
    assert arrays["labels"].tolist() == [k for k in range(10) for _ in range(3)]  # ceil(25 / 10) = 3 per class
    assert arrays["images"].shape == (30, 1, 28, 28) and arrays["images"].dtype == np.uint8
    NOISE.sample(G, meta, tmp_path / "none.npz", 20, None, 0)  # no --labels: the same, one class per row
    assert np.load(tmp_path / "none.npz")["labels"].tolist() == [k for k in range(10) for _ in range(2)]
    NOISE.sample(G, meta, tmp_path / "three.npz", 5, "3", 0)
    assert np.load(tmp_path / "three.npz")["labels"].tolist() == [3] * 5
    NOISE.sample(G, meta, tmp_path / "grid.png", 10, "all", 0)
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    again = tmp_path / "again.npz"
    NOISE.sample(G, meta, again, 25, "all", 0)
    assert np.array_equal(np.load(again)["images"], arrays["images"])  # seeded


def test_noise_samples_of_an_unconditional_model(tmp_path):
    G = build("dcgan")
    assert NOISE.sample(G, {}, tmp_path / "s.npz", 10, None, 0) == f"wrote 10 samples to {tmp_path / 's.npz'}"
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (10, 1, 28, 28) and "labels" not in arrays
    assert G.training  # sampled in eval mode, then restored


def test_paired_samples_are_triplets_of_held_out_pairs(tmp_path):
    G, meta = build("pix2pix"), {"dataset": "mnist-5k", "train": {"seed": 0}}
    line = PAIRED.sample(G, meta, tmp_path / "t.npz", 6, None, 0)
    assert line.startswith("wrote 6 input | output | target triplets of mnist-5k test pairs (edges)")
    arrays = np.load(tmp_path / "t.npz")
    assert arrays["inputs"].shape == arrays["outputs"].shape == arrays["targets"].shape == (6, 1, 28, 28)
    assert set(np.unique(arrays["inputs"])) <= {0, 255} and arrays["labels"].shape == (6,)  # edge maps
    PAIRED.sample(G, meta, tmp_path / "t.png", 6, None, 0)
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_paired_evaluation_on_held_out_pairs_of_the_training_seed(monkeypatch):
    G = build("pix2pix", (3, 32, 32))
    scores = PAIRED.evaluate(G, {"dataset": "shapes", "train": {"seed": 3}}, "l1", 40, "train", 100, 0, "cpu")
    assert {"l1", "hf_ratio", "saturation_ratio", "judge_accuracy", "protocol"} <= set(scores)
    assert scores["protocol"].startswith("40 held-out shapes test pairs (grey -> image), G in eval mode")
    assert "saturation_ratio: mean RGB max - min" in scores["protocol"] and "judge_accuracy" in scores["protocol"]
    seen = []  # the generated test split follows the run's seed: its pairs are never the training images
    monkeypatch.setattr("ganhelpers.data.pairs.load_dataset",
                        lambda name, split, seed: seen.append((name, split, seed)) or make_shapes(40, seed=seed))
    PAIRED.evaluate(G, {"dataset": "shapes", "train": {"seed": 3}}, "l1", 40, "train", 100, 0, "cpu")
    assert seen == [("shapes", "test", 3)]


def test_noise_evaluation_with_the_judge():
    scores = NOISE.evaluate(build("dcgan"), {"dataset": "mnist-5k"}, "judge", 200, "train", 100, 0, "cpu")
    assert {"fd", "classes_covered", "protocol"} <= set(scores) and scores["fd"] > 0
    assert "200 samples vs mnist-5k train" in scores["protocol"]


def test_search_metrics():
    judge = NOISE.search_metric("mnist-5k", 64, 0)
    assert judge.name == "judge_fd" and not judge.higher_is_better
    with pytest.raises(ValueError, match="no offline judge for 'cifar10'"):
        NOISE.search_metric("cifar10", 64, 0)
    l1 = PAIRED.search_metric("mnist-5k", 20, 0)
    scores = l1(build("pix2pix"))
    assert l1.name == "l1" and not l1.higher_is_better and set(scores) == {"l1", "hf_ratio"} and scores["l1"] > 0
