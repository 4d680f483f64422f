"""Pictures a run writes during training: the fixed-noise grid (SampleSaver) and input | output | target
triplets of an image-to-image model (triplet_grid, save_triplets, TripletSaver)."""
import numpy as np
import torch
from PIL import Image

from ganhelpers.core import TrainConfig, Trainer, seed_everything
from ganhelpers.data import PairSampler, make_pairs, to_float
from ganhelpers.models.pix2pix import PatchDiscriminator, UNetGenerator, pix2pix_steps
from ganhelpers.nn.conventions import translate
from ganhelpers.viz.plot import image_grid
from ganhelpers.viz.savers import SampleSaver, TripletSaver, save_triplets, triplet_grid
from tests.helpers import make_trainer, tiny_data


def read_png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_sample_saver_writes_the_fixed_noise_grid_every_n_steps_and_at_the_end(tmp_path):
    saver = SampleSaver(tmp_path, every=4, nrow=8)
    trainer = make_trainer(callbacks=[saver], steps=10)
    trainer.fit()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step_000004.png", "step_000008.png", "step_000010.png"]  # every 4 steps, then the end
    np.testing.assert_array_equal(read_png(tmp_path / "samples" / "step_000010.png"),
                                  image_grid(trainer.sample_fixed(), nrow=8))  # what the trainer's G draws now


def test_sample_saver_skips_point_data(tmp_path):
    trainer = type("Points", (), {"step": 5, "sample_fixed": lambda self: torch.randn(32, 2)})()
    SampleSaver(tmp_path, every=5).on_step_end(trainer)
    assert not (tmp_path / "samples").exists()  # 2-D points have no grid


def test_triplet_grid_interleaves_condition_output_target():
    conditions = torch.full((2, 1, 4, 4), -1.0)  # grey conditions are repeated to the targets' channels
    outputs, targets = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    images, nrow = triplet_grid(conditions, outputs, targets, per_row=2)
    assert images.shape == (6, 3, 4, 4) and nrow == 6
    assert [images[i].mean().item() for i in range(6)] == [-1.0, 0.0, 1.0] * 2  # per pair: input, output, target


def test_triplets_of_a_generator_on_pairs(tmp_path):
    seed_everything(0)
    pairs = make_pairs(tiny_data(8))
    G = UNetGenerator(1, (1, 28, 28), base=4)
    path = save_triplets(G, pairs, tmp_path / "t.png", n=100, per_row=4)  # n is capped at the pairs there are
    images, nrow = triplet_grid(to_float(pairs.conditions), translate(G, pairs.conditions), to_float(pairs.images))
    np.testing.assert_array_equal(read_png(path), image_grid(images, nrow=nrow))
    assert G.training  # drawn in eval mode, then restored

    trainer_pairs = make_pairs(tiny_data(32))
    config = TrainConfig(steps=2, batch_size=8, log_every=1, progress=False, device="cpu")
    saver = TripletSaver(tmp_path / "run", pairs, every=1, n=4)
    Trainer(G, PatchDiscriminator(1, (1, 28, 28), base=4), *pix2pix_steps(), PairSampler(trainer_pairs, 8), config,
            callbacks=[saver]).fit()
    written = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert written == ["step_000001.png", "step_000002.png"]  # the end (step 2) rewrites the last one
    assert read_png(tmp_path / "run" / "samples" / "step_000002.png").shape == read_png(
        save_triplets(G, pairs, tmp_path / "four.png", n=4)).shape  # 4 triplets of the fixed pairs
