"""Pix2Pix: deterministic pairs, generator and PatchGAN shapes, receptive field, steps, training, CLI."""
import numpy as np
import pytest
import torch
from torch import nn

from ganhelpers import pix2pix
from ganhelpers.__main__ import main
from ganhelpers.data import ImageSet, load_dataset, make_mixture, make_shapes, to_float
from ganhelpers.models import MODELS
from ganhelpers.pix2pix import (PairSampler, PatchDiscriminator, UNet3PlusGenerator, UNetGenerator, greyscale,
                                heldout_scores, make_pairs, pix2pix_steps, receptive_field, sobel_edges)
from ganhelpers.train import TrainConfig, Trainer
from ganhelpers.utils import seed_everything

SHAPES = [(1, 28, 28), (3, 32, 32)]
GENERATORS = {"unet": lambda c, s: UNetGenerator(c, s, base=8),
              "encoder-decoder": lambda c, s: UNetGenerator(c, s, base=8, skips=False),
              "unet3+": lambda c, s: UNet3PlusGenerator(c, s, base=8)}


def tiny_pairs(shape, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = ImageSet(torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g), torch.arange(n) % 10,
                    [str(k) for k in range(10)], "tiny")
    return make_pairs(data)


# ---- pairs ----------------------------------------------------------------------------------------

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
    pairs = tiny_pairs((3, 32, 32), n=20)
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


# ---- networks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", list(GENERATORS))
def test_generator_shapes(kind, shape):
    seed_everything(0)
    G = GENERATORS[kind](1, shape)
    assert G.z_dim == 0 and G.n_classes == 0 and G.img_shape == shape
    out = G(torch.randn(5, 1, *shape[1:]))
    assert out.shape == (5, *shape) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="PairSampler"):
        G(torch.randn(5, 3, *shape[1:]))  # wrong number of condition channels


def test_unet3plus_decoder_levels_see_every_level():
    G = UNet3PlusGenerator(1, (1, 32, 32), base=8, depth=4)
    assert len(G.levels) == 3 and all(len(pieces) == 4 for pieces in G.pieces)  # 4 sources per decoder level
    # a gradient reaches the output from the shallowest encoder level at every decoder level's own scale
    features = G.encoder(torch.randn(2, 1, 32, 32))
    features = [f.detach().requires_grad_() for f in features]
    G.decode(features).sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in features)


def test_unet_skip_carries_the_shallow_features():
    G = UNetGenerator(1, (1, 32, 32), base=8).eval()
    plain = UNetGenerator(1, (1, 32, 32), base=8, skips=False).eval()
    assert G.out[0].in_channels == 2 * plain.out[0].in_channels  # the skip doubles the last block's input
    features = [f.detach().requires_grad_() for f in G.encoder(torch.randn(2, 1, 32, 32))]
    G.decode(features).sum().backward()
    assert features[0].grad.abs().sum() > 0
    features = [f.detach().requires_grad_() for f in plain.encoder(torch.randn(2, 1, 32, 32))]
    plain.decode(features).sum().backward()
    assert features[0].grad is None  # without skips only the bottleneck reaches the decoder


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("n_down", [1, 2])
def test_patch_discriminator_shape(shape, n_down):
    D = PatchDiscriminator(1, shape, base=8, n_down=n_down)
    logits = D(torch.randn(3, *shape), torch.randn(3, 1, *shape[1:]))
    side = shape[1] // 2 ** n_down - 2
    assert logits.shape == (3, side, side)
    with pytest.raises(ValueError, match="condition"):
        D(torch.randn(3, *shape), torch.arange(3))  # class labels are not a condition image


def test_receptive_field_formula():
    # r = 1 + sum (k - 1) * prod(strides before): the paper's 70x70 PatchGAN (C64-C128-C256-C512)
    assert receptive_field([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]) == 1 + 3 * (1 + 2 + 4 + 8 + 8) == 70
    assert receptive_field(PatchDiscriminator(1, (3, 32, 32), base=64, n_down=3)) == 70
    assert receptive_field(PatchDiscriminator(1, (1, 28, 28))) == 16
    assert receptive_field(PatchDiscriminator(1, (1, 28, 28), n_down=2)) == 34
    assert receptive_field([(3, 1)] * 5) == 11 and receptive_field(nn.Conv2d(1, 1, 3, dilation=2)) == 5


@pytest.mark.parametrize("n_down", [1, 2])
def test_receptive_field_is_what_one_logit_sees(n_down):
    """The input pixels with a nonzero gradient on one central logit span exactly the receptive field."""
    seed_everything(0)
    D = PatchDiscriminator(1, (1, 64, 64), base=8, n_down=n_down).eval()  # eval: batch norm couples no pixels
    image = torch.randn(1, 1, 64, 64, requires_grad=True)
    logits = D(image, torch.randn(1, 1, 64, 64))
    logits[0, logits.shape[1] // 2, logits.shape[2] // 2].backward()
    rows, cols = (image.grad[0, 0].abs() > 0).nonzero().unbind(1)
    assert rows.max() - rows.min() + 1 == receptive_field(D) == cols.max() - cols.min() + 1


# ---- steps and training ---------------------------------------------------------------------------

def test_steps_return_finite_losses_with_the_weighted_l1():
    seed_everything(0)
    pairs = tiny_pairs((1, 28, 28))
    target, condition = PairSampler(pairs, 8).next()
    G, D = UNetGenerator(1, (1, 28, 28), base=8), PatchDiscriminator(1, (1, 28, 28), base=8)
    d_step, g_step = pix2pix_steps(l1_weight=100.0)
    out_D = d_step(G, D, target, condition, None)
    assert torch.isfinite(out_D["loss_D"]) and 0 < out_D["D_real"] < 1
    torch.manual_seed(1)
    out_G = g_step(G, D, target, condition, None)
    assert torch.isfinite(out_G["loss_G"])
    assert torch.allclose(out_G["loss_G"], out_G["adv_G"] + 100.0 * out_G["l1"])
    G.eval()  # no dropout: the L1 below is exactly G's
    expected = (G(condition) - target).abs().mean()
    assert torch.allclose(pix2pix_steps()[1](G, D, target, condition, None)["l1"], expected)


def test_l1_only_baseline_never_runs_D():
    class NoD(nn.Module):
        def forward(self, image, condition):
            raise AssertionError("the L1-only baseline must not call D")

    pairs = tiny_pairs((3, 32, 32))
    target, condition = PairSampler(pairs, 4).next()
    G = UNetGenerator(1, (3, 32, 32), base=8)
    d_step, g_step = pix2pix_steps(l1_weight=100.0, adversarial=False)
    assert d_step(G, NoD(), target, condition, None)["loss_D"].item() == 0
    out = g_step(G, NoD(), target, condition, None)
    assert set(out) == {"loss_G", "l1"} and torch.allclose(out["loss_G"], 100.0 * out["l1"])
    with pytest.raises(ValueError, match="nothing to minimise"):
        pix2pix_steps(l1_weight=0, adversarial=False)


@pytest.mark.parametrize("adversarial", [True, False])
def test_trains_through_the_generic_trainer(adversarial):
    seed_everything(0)
    pairs = tiny_pairs((1, 28, 28), n=32)
    G, D = UNetGenerator(1, (1, 28, 28), base=8), PatchDiscriminator(1, (1, 28, 28), base=8)
    config = TrainConfig(steps=3, batch_size=8, log_every=1, progress=False, device="cpu", n_critic=2)
    trainer = Trainer(G, D, *pix2pix_steps(adversarial=adversarial, instance_noise=0.1), PairSampler(pairs, 8),
                      config)
    pix2pix.use_fixed_pairs(trainer, pairs, n=6)
    G_before, D_before = [p.detach().clone() for p in G.parameters()], [p.detach().clone() for p in D.parameters()]
    history = trainer.fit()
    assert history["step"] == [1, 2, 3] and all(np.isfinite(history["l1"]))
    assert any(not torch.equal(a, b) for a, b in zip(G_before, G.parameters()))
    D_moved = any(not torch.equal(a, b) for a, b in zip(D_before, D.parameters()))
    assert D_moved == adversarial
    if adversarial:
        assert history["noise_std"][0] > history["noise_std"][-1] > 0  # annealed noise on D's input
    assert trainer.sample_fixed().shape == (6, 1, 28, 28)


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


# ---- registry and command line --------------------------------------------------------------------

def test_registry_and_command_line_round_trip(tmp_path, capsys):
    assert {"pix2pix", "pix2pix-l1"} <= set(MODELS) and set(pix2pix.MODEL_NAMES) <= set(MODELS)
    run = tmp_path / "run"
    assert main(["train", "pix2pix", "--dataset", "mnist-5k", "--steps", "2", "--batch-size", "8",
                 "--out", str(run), "--device", "cpu", "--sample-every", "1"]) == 0
    assert (run / "samples" / "step_000002.png").is_file() and (run / "checkpoint.pt").is_file()
    assert main(["train", "pix2pix", "--dataset", "mnist-5k", "--steps", "3", "--batch-size", "8",
                 "--out", str(run), "--device", "cpu", "--resume"]) == 0  # the PairSampler's state resumes
    assert (run / "samples" / "step_000003.png").is_file()
    assert main(["sample", str(run), "--n", "6", "--out", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["sample", str(run), "--n", "6", "--out", str(tmp_path / "t.npz")]) == 0
    arrays = np.load(tmp_path / "t.npz")
    assert arrays["inputs"].shape == arrays["outputs"].shape == arrays["targets"].shape == (6, 1, 28, 28)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--metric", "l1", "--n", "40"]) == 0
    out = capsys.readouterr().out
    assert "l1" in out and "40 held-out mnist-5k test pairs" in out
    with pytest.raises(SystemExit):
        main(["evaluate", str(run), "--metric", "fid"])
