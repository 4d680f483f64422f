"""SAGAN: its networks (attention levels, spectral norm, conditional batch norm in G, projection D), its steps,
its registry entry and generator_attention."""
import numpy as np
import pytest
import torch
from torch import nn

from ganhelpers.core import TrainConfig, Trainer
from ganhelpers.models import MODELS
from ganhelpers.models.sagan import SAGANDiscriminator, SAGANGenerator, build_sagan, generator_attention, sagan_steps
from tests.helpers import tiny_data

SHAPES = [(1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("n_classes", [10, 0])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes(shape, n_classes):
    torch.manual_seed(0)
    G = SAGANGenerator(16, shape, n_classes, base=8)
    D = SAGANDiscriminator(shape, n_classes, base=8)
    labels = torch.arange(5) % 10 if n_classes else None
    fake = G(torch.randn(5, 16), labels)
    assert fake.shape == (5, *shape) and fake.abs().max() <= 1
    assert D(fake, labels).shape == (5,)
    assert G.attention is not None and D.attention is not None
    assert D.features(fake).shape == (5, 4 * 8 * (7 * 7 if shape[1] == 28 else 4 * 4))


def test_attention_levels_and_bad_input():
    assert SAGANGenerator(img_shape=(1, 28, 28), base=8).attn_res == 14
    assert SAGANGenerator(img_shape=(3, 32, 32), base=8).attn_res == 16
    assert SAGANGenerator(img_shape=(1, 28, 28), base=8, attn_res=None).attention is None
    assert SAGANDiscriminator((1, 28, 28), base=8).attn_res == 7
    assert SAGANDiscriminator((3, 32, 32), base=8).attn_res == 8
    assert SAGANDiscriminator((1, 28, 28), base=8, attn_res=14).attn_res == 14
    with pytest.raises(ValueError, match="choose one of"):
        SAGANGenerator(img_shape=(1, 28, 28), attn_res=28)  # full resolution: too costly, refused
    with pytest.raises(ValueError, match="28- or 32-pixel"):
        SAGANGenerator(img_shape=(1, 64, 64))
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8)
    with pytest.raises(ValueError, match="needs the class of every sample"):  # nn.conventions.check_labels
        G(torch.randn(2, 16))
    with pytest.raises(ValueError, match="shape"):
        G(torch.randn(2, 16), torch.zeros(3, dtype=torch.long))


def test_both_networks_are_spectrally_normalised():
    G, D = build_sagan((1, 28, 28), 10, 16, base=8)
    # the class embedding and CBN's maps to gamma/beta are not weight layers of the signal path (and
    # W = 0 at the start has no top singular value to divide by): everything else is normalised
    conditioning = {id(m) for norm in G.norms for m in norm.modules()} | {id(G.class_embed)}
    for net in (G, D):
        weighted = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding))
                    and id(m) not in conditioning]
        assert len(weighted) >= 6 and all(hasattr(m, "parametrizations") for m in weighted)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_generator_uses_the_label():
    torch.manual_seed(0)
    z = torch.randn(1, 16).repeat(10, 1)  # one z, ten classes
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8).eval()
    images = G(z, torch.arange(10))
    assert torch.allclose(images, images[:1].expand_as(images))  # W = 0: no effect of the label at the start
    G.train()
    G(z, torch.arange(10)).square().mean().backward()  # ... but every class's path learns at once
    assert all(norm.gain.weight.grad.abs().sum() > 0 and norm.bias.weight.grad.abs().sum() > 0 for norm in G.norms)
    assert G.class_embed.weight.grad is not None  # (zero now: it is reached through W, which starts at 0)
    with torch.no_grad():
        for norm in G.norms:
            norm.gain.weight.normal_(0, 0.1)
    images = G.eval()(z, torch.arange(10))
    assert (images[1:] - images[:1]).abs().flatten(1).amax(1).min() > 1e-4  # now every class changes the picture
    labelled = SAGANGenerator(16, (1, 28, 28), 10, base=8, label_input=True).eval()
    assert labelled.fc.parametrizations.weight.original.shape[1] == 16 + 128  # [z, e_y] at the input
    images = labelled(z, torch.arange(10))
    assert (images[1:] - images[:1]).abs().flatten(1).amax(1).min() > 1e-4  # the label acts from the start


def test_projection_discriminator_formula_and_label_effect():
    torch.manual_seed(0)
    D = SAGANDiscriminator((1, 28, 28), 10, base=8).eval()
    x = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3])
    phi = D.features(x)  # (B, F)
    expected = D.psi(phi).squeeze(1) + (D.embed.weight[labels] * phi).sum(1)
    assert torch.allclose(D(x, labels), expected, atol=1e-5)
    assert not torch.allclose(D(x, labels), D(x, labels.flip(0)))  # the label changes the score


@pytest.mark.parametrize("loss", ["hinge", "wasserstein"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_steps_return_finite_losses_and_train(shape, loss):
    torch.manual_seed(0)
    G, D = build_sagan(shape, 10, 16, base=8)
    config = TrainConfig(steps=2, batch_size=4, lr_G=1e-4, lr_D=4e-4, betas=(0.0, 0.9), log_every=1,
                         progress=False, device="cpu")
    before = [p.detach().clone() for p in D.parameters()]
    history = Trainer(G, D, *sagan_steps(loss), tiny_data(16, shape), config).fit()
    for key in ("loss_D", "loss_G", "critic_real", "critic_fake"):  # raw scores of a critic, not probabilities
        assert np.isfinite(history[key]).all(), key
    assert "D_real" not in history and "D_fake" not in history
    assert any(not torch.equal(a, b) for a, b in zip(before, D.parameters()))
    with pytest.raises(ValueError, match="hinge"):
        sagan_steps("bce-ish")


def test_hinge_step_value():
    torch.manual_seed(0)
    G, D = build_sagan((1, 28, 28), 10, 16, base=8)
    G.eval(), D.eval()  # frozen SN estimates and BN statistics: two calls give the same numbers
    d_step, _ = sagan_steps("hinge")
    real, labels = torch.rand(4, 1, 28, 28) * 2 - 1, torch.arange(4)
    torch.manual_seed(1)
    out = d_step(G, D, real, labels, None)  # the step reads nothing of the trainer
    torch.manual_seed(1)
    with torch.no_grad():
        fake = G(torch.randn(4, 16), labels)
    expected = torch.relu(1 - D(real, labels)).mean() + torch.relu(1 + D(fake, labels)).mean()
    assert torch.allclose(out["loss_D"], expected, atol=1e-5)
    assert torch.allclose(out["critic_real"], D(real, labels).mean(), atol=1e-6)
    assert torch.allclose(out["critic_fake"], D(fake, labels).mean(), atol=1e-6)


def test_registry_entry():
    spec = MODELS["sagan"]
    assert spec.conditional and spec.critic
    assert spec.check((1, 28, 28), 10) is None and spec.check((3, 32, 32), 10) is None
    assert spec.check((2,), 8) is not None and "needs a dataset with classes" in spec.check((1, 28, 28), 0)
    assert spec.defaults["lr_D"] == 4e-4 and spec.defaults["lr_G"] == 1e-4 and spec.defaults["betas"] == (0.0, 0.9)
    G, D = spec.build((1, 28, 28), 10, 100)
    assert isinstance(G, SAGANGenerator) and G.n_classes == 10 and isinstance(D, SAGANDiscriminator)
    assert G.attn_res == D.attn_res == 7 and spec.build((3, 32, 32), 10, 100)[0].attn_res == 8


def test_generator_attention_gives_the_map_and_restores_the_block_and_the_mode():
    torch.manual_seed(0)
    G = SAGANGenerator(16, (1, 28, 28), 10, base=8)
    images, beta = generator_attention(G, torch.randn(3, 16), torch.tensor([0, 1, 2]))
    assert images.shape == (3, 1, 28, 28) and beta.shape == (3, 196, 196)  # attention at 14x14: 196 cells
    assert torch.allclose(beta.sum(-1), torch.ones(3, 196), atol=1e-5)
    assert G.attention.attention is None and not G.attention.keep_attention and G.training  # all restored
    with pytest.raises(ValueError, match="no attention block"):
        generator_attention(SAGANGenerator(16, (1, 28, 28), 10, base=8, attn_res=None), torch.randn(1, 16),
                            torch.tensor([0]))
