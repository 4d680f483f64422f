"""Pix2Pix: generator and PatchGAN shapes, receptive field, steps, training through the generic trainer and
the registry entries (paired models)."""
import numpy as np
import pytest
import torch
from torch import nn

from ganhelpers.core import FixedInputs, TrainConfig, Trainer, seed_everything
from ganhelpers.data import PairSampler, make_pairs, to_float
from ganhelpers.models import MODELS
from ganhelpers.models.pix2pix import (PatchDiscriminator, UNet3PlusGenerator, UNetGenerator, build, pix2pix_steps,
                                       receptive_field)
from ganhelpers.models.tasks import PAIRED
from tests.helpers import tiny_data

SHAPES = [(1, 28, 28), (3, 32, 32)]
GENERATORS = {"unet": lambda c, s: UNetGenerator(c, s, base=8),
              "encoder-decoder": lambda c, s: UNetGenerator(c, s, base=8, skips=False),
              "unet3+": lambda c, s: UNet3PlusGenerator(c, s, base=8)}


def tiny_pairs(shape, n=16):
    return make_pairs(tiny_data(n, shape))


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
                      config, callbacks=[FixedInputs(to_float(pairs.conditions[:6]))])
    G_before, D_before = [p.detach().clone() for p in G.parameters()], [p.detach().clone() for p in D.parameters()]
    history = trainer.fit()
    assert history["step"] == [1, 2, 3] and all(np.isfinite(history["l1"]))
    assert any(not torch.equal(a, b) for a, b in zip(G_before, G.parameters()))
    D_moved = any(not torch.equal(a, b) for a, b in zip(D_before, D.parameters()))
    assert D_moved == adversarial
    if adversarial:
        assert history["noise_std"][0] > history["noise_std"][-1] > 0  # annealed noise on D's input
    assert trainer.sample_fixed().shape == (6, 1, 28, 28)


# ---- registry ------------------------------------------------------------------------------------

def test_registry_entries_are_paired_models():
    for name in ("pix2pix", "pix2pix-l1"):
        spec = MODELS[name]
        assert spec.task is PAIRED and spec.z_dim == 0 and spec.build is build and not spec.conditional
        assert spec.check((1, 28, 28), 0) is None and spec.check((3, 32, 32), 10) is None  # classes unused
        G, D = spec.build((3, 32, 32), 10, 100)  # n_classes and z_dim are ignored: no classes, no noise
        assert isinstance(G, UNetGenerator) and isinstance(D, PatchDiscriminator)
        assert G.in_channels == 1 and G.z_dim == 0 and G.n_classes == 0
    assert MODELS["pix2pix-l1"].steps.keywords == {"adversarial": False}
    assert build((1, 28, 28), base=8)[0].encoder.widths[0] == 8  # the searchable width
