"""The DCGAN family: its generators and discriminator (shapes, the paper's recipe, critic norms) and its
registry entries dcgan, dcgan-improved and wgan-gp."""
import pytest
import torch

from ganhelpers.core import TrainConfig, Trainer
from ganhelpers.models import get_model
from ganhelpers.models.dcgan import (DCGANDiscriminator, DCGANGenerator, DenseDCGANGenerator, build_dcgan,
                                     build_wgan_gp)
from ganhelpers.models.steps import bce_steps, wgan_gp_steps
from tests.helpers import assert_image_gan_shapes, tiny_data

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 32, 32), (3, 28, 28)]


@pytest.mark.parametrize("img_shape", SHAPES)
@pytest.mark.parametrize("batch", [1, 5])
def test_generator_and_discriminator_shapes(img_shape, batch):
    assert_image_gan_shapes(DCGANGenerator(16, img_shape, base=8), DCGANDiscriminator(img_shape, base=8), 16,
                            img_shape, batch)


def test_options_after_the_shape_are_keyword_only():
    with pytest.raises(TypeError):
        DCGANGenerator(16, (1, 28, 28), 8)  # base=8 must be named
    with pytest.raises(TypeError):
        DCGANDiscriminator((1, 28, 28), 8)


def test_dense_dcgan_generator_of_seed_002():
    G = DenseDCGANGenerator(32, (3, 32, 32)).eval()
    assert G(torch.randn(3, 32)).shape == (3, 3, 32, 32)
    assert G.fc[0].out_features == 2048
    convs = [m.out_channels for m in G.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert convs == [256, 128, 64, 3]
    assert all(m.kernel_size == (5, 5) for m in G.net if isinstance(m, torch.nn.ConvTranspose2d))
    with pytest.raises(ValueError, match="32"):
        DenseDCGANGenerator(32, (1, 28, 28))


@pytest.mark.parametrize("norm", ["batch", "layer", "instance", "none"])
def test_critic_norms(norm):
    D = DCGANDiscriminator((3, 32, 32), base=8, norm=norm)
    assert D(torch.randn(2, 3, 32, 32)).shape == (2,)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    assert has_bn == (norm == "batch")


def test_dcgan_paper_recipe():
    G = DCGANGenerator(100, (3, 32, 32))
    ups = [m for m in G.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.kernel_size, m.stride, m.padding) for m in ups[1:]] == [((4, 4), (2, 2), (1, 1))] * 3
    D = DCGANDiscriminator((3, 32, 32))
    assert not isinstance(D.net[1], torch.nn.BatchNorm2d)  # no batch norm on D's first layer


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    G = DCGANGenerator(100, (3, 32, 32))
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    bn = torch.cat([m.weight for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(bn.mean().item() - 1.0) < 0.01


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="28 or 32"):
        DCGANGenerator(10, (3, 64, 64))
    with pytest.raises(ValueError, match="unknown norm"):
        DCGANDiscriminator((3, 32, 32), norm="group")


def test_dcgan_improved_has_its_tricks():
    spec = get_model("dcgan-improved")
    G, D = spec.build((1, 28, 28), 10, 100)
    assert spec.defaults["betas"][0] == 0.5 and spec.defaults["n_critic"] == 2
    assert spec.steps.keywords == {"smooth": 0.1, "instance_noise": 0.1}
    config = TrainConfig(**{**spec.defaults, "steps": 4, "batch_size": 4, "log_every": 1, "progress": False,
                            "device": "cpu"})
    history = Trainer(G, D, *spec.steps(), tiny_data(16), config).fit()
    assert history["noise_std"][0] > 0  # annealed instance noise is on
    assert history["noise_std"] == sorted(history["noise_std"], reverse=True)


def test_registry_entries_of_the_family():
    for name, build, steps in (("dcgan", build_dcgan, bce_steps), ("wgan-gp", build_wgan_gp, wgan_gp_steps)):
        spec = get_model(name)
        assert spec.build is build and spec.steps is steps and spec.z_dim == 100
        assert spec.check((1, 28, 28), 0) is None and spec.check((3, 32, 32), 10) is None  # no classes needed
    wgan = get_model("wgan-gp")
    assert wgan.critic and not get_model("dcgan").critic and wgan.defaults["n_critic"] == 5
    G, D = wgan.build((1, 28, 28), 10, 100)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())  # a per-sample critic for the penalty
    assert "2-D points" in get_model("dcgan-improved").check((2,), 8)
    assert "64x64" in get_model("dcgan-improved").check((3, 64, 64), 10)
