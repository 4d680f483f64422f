"""Conditional GANs: shapes, labels that matter, finite steps and the registry entries cgan and acgan."""
import pytest
import torch
import torch.nn.functional as F

from ganhelpers.models import MODELS, conditional
from ganhelpers.models.conditional import ACGANDiscriminator, ConditionalCritic, ConditionalGenerator, acgan_steps
from ganhelpers.models.steps import wgan_gp_steps
from ganhelpers.nn import losses

SHAPES = [(1, 28, 28), (3, 32, 32)]
ids = lambda s: "x".join(map(str, s))  # noqa: E731


def batch(shape, n=6, n_classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=g) * 2 - 1, torch.arange(n) % n_classes  # (n, C, H, W), (n,)


@pytest.mark.parametrize("n_classes", [2, 10])
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_every_net_has_the_documented_shapes(shape, n_classes):
    torch.manual_seed(0)
    x, labels = batch(shape, n_classes=n_classes)
    G = ConditionalGenerator(16, shape, n_classes, base=8)
    fake = G(torch.randn(6, 16), labels)
    assert G.z_dim == 16 and G.n_classes == n_classes and G.img_shape == shape
    assert fake.shape == (6, *shape) and fake.abs().max() <= 1  # tanh output
    assert ConditionalCritic(shape, n_classes, base=8)(x, labels).shape == (6,)
    source, classes = ACGANDiscriminator(shape, n_classes, base=8)(x)
    assert source.shape == (6,) and classes.shape == (6, n_classes)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_the_label_changes_the_output(shape):
    torch.manual_seed(0)
    G, D = ConditionalGenerator(16, shape, 10, base=8).eval(), ConditionalCritic(shape, 10, base=8)
    z = torch.randn(1, 16).repeat(10, 1)  # the same noise for every class
    with torch.no_grad():
        images = G(z, torch.arange(10))  # (10, C, H, W)
        x = images[:1].repeat(10, 1, 1, 1)  # the same image, judged as each class
        scores = D(x, torch.arange(10))  # (10,)
    assert torch.pdist(images.flatten(1)).min() > 1e-3  # ten classes, ten different images
    assert scores.unique().numel() == 10  # the critic's score depends on the class it is told
    assert torch.equal(G(z[:2], torch.tensor([3, 3]))[0], G(z[:2], torch.tensor([3, 3]))[1])


def test_the_label_plane_is_one_learned_plane_per_class():
    D = ConditionalCritic((1, 28, 28), 10, base=8)
    planes = D.label_plane(torch.tensor([0, 0, 7]))
    assert planes.shape == (3, 1, 28, 28)
    assert torch.equal(planes[0], planes[1]) and not torch.equal(planes[0], planes[2])
    assert 0.5 < planes.std() < 2  # N(0, 1) rows: the scale of images in [-1, 1], not of a class index


def test_the_critic_scores_each_sample_alone():
    """Layer norm, not batch norm: a sample's score (and so its gradient penalty) ignores its batch mates."""
    torch.manual_seed(0)
    x, labels = batch((1, 28, 28), n=8)
    D = ConditionalCritic((1, 28, 28), 10, base=8)
    assert torch.allclose(D(x, labels)[:2], D(x[:2], labels[:2]), atol=1e-5)
    bn = ConditionalCritic((1, 28, 28), 10, base=8, norm="batch")
    assert not torch.allclose(bn(x, labels)[:2], bn(x[:2], labels[:2]), atol=1e-3)


@pytest.mark.parametrize("bad, message", [(None, "needs the class"), (torch.tensor([0, 1.5, 2]), "whole numbers"),
                                          (torch.tensor([0, 1]), "shape"), (torch.tensor([0, 1, 10]), r"\[0, 10\)"),
                                          (torch.tensor([-1, 1, 2]), r"\[0, 10\)")])
def test_bad_labels_are_refused_with_a_message(bad, message):
    G, D = ConditionalGenerator(8, (1, 28, 28), 10, base=4), ConditionalCritic((1, 28, 28), 10, base=4)
    with pytest.raises(ValueError, match=message):
        G(torch.randn(3, 8), bad)
    with pytest.raises(ValueError, match=message):
        D(torch.zeros(3, 1, 28, 28), bad)


def test_a_conditional_generator_needs_two_classes():
    with pytest.raises(ValueError, match="at least 2"):
        ConditionalGenerator(8, (1, 28, 28), 0)


class FakeTrainer:
    scaler, step = None, 0

    class config:
        steps = 1


def one_step(build, steps, shape, step_seed: int = 0):
    """(G, D, real, labels, the merged logs of one D step and one G step) of a registry builder's nets on a
    batch of 4; the steps draw their noise after torch.manual_seed(step_seed)."""
    torch.manual_seed(0)
    G, D = build(shape, 10, 16)
    real, labels = batch(shape, n=4)
    d_step, g_step = steps
    torch.manual_seed(step_seed)
    return G, D, real, labels, {**d_step(G, D, real, labels, FakeTrainer()), **g_step(G, D, real, labels, FakeTrainer())}


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_cgan_steps_return_finite_losses_and_train(shape):
    G, _, _, _, out = one_step(conditional.build_cgan, wgan_gp_steps(), shape)
    for key in ("loss_D", "loss_G", "gp", "W_estimate"):
        assert torch.isfinite(out[key]), key
    out["loss_G"].backward()
    assert G.embed.weight.grad.abs().sum() > 0  # the loss reaches the label embedding


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_acgan_steps_are_the_two_loss_terms(shape):
    G, D, real, labels, out = one_step(conditional.build_acgan, acgan_steps(), shape, step_seed=1)
    for key in ("loss_D", "loss_G", "class_loss_G", "D_real", "D_fake"):
        assert torch.isfinite(out[key]), key
    assert 0 <= out["acc_real"] <= 1 and 0 <= out["acc_fake"] <= 1
    # by hand: -(L_S + L_C) for D with the same z
    torch.manual_seed(1)
    z = torch.randn(4, 16)
    with torch.no_grad():
        fake = G(z, labels)
    (rs, rc), (fs, fc) = D(real), D(fake)
    expected = losses.d_loss_bce(rs, fs) + F.cross_entropy(rc, labels) + F.cross_entropy(fc, labels)
    assert torch.allclose(out["loss_D"], expected, atol=1e-5)
    torch.manual_seed(1)  # without the fake term, D's classifier learns from real images only
    real_only = acgan_steps(fake_class_loss=False)[0](G, D, real, labels, FakeTrainer())
    assert torch.allclose(real_only["loss_D"], expected - F.cross_entropy(fc, labels), atol=1e-5)
    with pytest.raises(ValueError, match="class_weight"):
        acgan_steps(class_weight=-1)


def test_registry_entries_are_conditional_and_pass_check():
    for name in ("cgan", "acgan"):
        spec = MODELS[name]
        assert spec.conditional and spec.name == name and spec.about
        assert spec.check((1, 28, 28), 10) is None and spec.check((3, 32, 32), 10) is None
        assert "2-D points" in spec.check((2,), 8)
        assert "needs a dataset with classes" in spec.check((1, 28, 28), 0)  # refused before any build
        G, D = spec.build((1, 28, 28), 10, 100)
        assert G.n_classes == 10 and G.z_dim == 100
        with pytest.raises(ValueError, match="labelled"):
            spec.build((1, 28, 28), 0, 100)
    assert MODELS["cgan"].defaults["n_critic"] >= 1
    assert MODELS["acgan"].steps.keywords == {"fake_class_loss": False}  # the CLI's variant (see models/conditional.py)
